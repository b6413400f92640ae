//! What the command prints: the aligned preview table, and JSON for machines.

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::domain::columns::{COUNT_COLUMNS, ColumnKind, RowJson, column_totals};
use crate::domain::counting::{CompanyCounts, CountingResult};
use crate::domain::csv_export::csv_order;
use crate::domain::printable::printable;

/// A name fit for one terminal cell: on one line, nothing a terminal would act on.
fn one_line(text: &str) -> String {
    printable(text).into_owned()
}

fn pad_right(text: &str, width: usize) -> String {
    let w = text.width();
    format!("{text}{}", " ".repeat(width.saturating_sub(w)))
}

fn pad_left(text: &str, width: usize) -> String {
    let w = text.width();
    format!("{}{text}", " ".repeat(width.saturating_sub(w)))
}

/// The totals row's cell of a column.
fn total_cell(kind: ColumnKind, total: Option<u64>, companies: usize) -> String {
    match kind {
        ColumnKind::CompanyId => "Total".to_owned(),
        ColumnKind::CompanyName => format!(
            "{companies} compan{}",
            if companies == 1 { "y" } else { "ies" }
        ),
        ColumnKind::Count => total.unwrap_or_default().to_string(),
    }
}

/// The longest a name may be before it is cut: very long names would push the numbers off
/// screen.
const NAME_WIDTH_CAP: usize = 48;

/// `text` cut to `width` with an ellipsis.
fn cut_to(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut cut = String::new();
    for c in text.chars() {
        if cut.width() + 2 > width {
            break;
        }
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// The preview as an aligned table with a totals line, in CSV order.
pub fn preview_table(result: &CountingResult) -> String {
    let mut rows: Vec<&CompanyCounts> = result.companies.iter().collect();
    rows.sort_by(|a, b| csv_order(a, b));
    let sums = column_totals(rows.iter().copied());
    let header = COUNT_COLUMNS.map(|c| c.short_heading.to_owned());
    let mut cells: Vec<[String; COUNT_COLUMNS.len()]> = rows
        .iter()
        .map(|row| COUNT_COLUMNS.map(|c| one_line(&(c.value)(row).text())))
        .collect();
    let mut totals = header.clone();
    for ((cell, column), sum) in totals.iter_mut().zip(&COUNT_COLUMNS).zip(sums) {
        *cell = total_cell(column.kind, sum, rows.len());
    }
    let mut widths = header.clone().map(|h| h.width());
    for row in cells.iter().chain(std::iter::once(&totals)) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    for (w, column) in widths.iter_mut().zip(&COUNT_COLUMNS) {
        if column.kind == ColumnKind::CompanyName {
            *w = (*w).min(NAME_WIDTH_CAP);
        }
    }
    for row in &mut cells {
        for ((cell, column), w) in row.iter_mut().zip(&COUNT_COLUMNS).zip(widths) {
            if column.kind == ColumnKind::CompanyName {
                *cell = cut_to(cell, w);
            }
        }
    }
    let line = |row: &[String; COUNT_COLUMNS.len()]| {
        let padded: Vec<String> = row
            .iter()
            .zip(&COUNT_COLUMNS)
            .zip(widths)
            .map(|((cell, column), w)| match column.kind {
                ColumnKind::CompanyName => pad_right(cell, w),
                ColumnKind::CompanyId | ColumnKind::Count => pad_left(cell, w),
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = String::new();
    out.push_str(&line(&header));
    out.push('\n');
    let rule_width: usize = widths.iter().sum::<usize>() + 2 * (COUNT_COLUMNS.len() - 1);
    out.push_str(&"-".repeat(rule_width));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&"-".repeat(rule_width));
    out.push('\n');
    out.push_str(&line(&totals));
    out.push('\n');
    out
}

/// The preview as JSON for machines.
#[derive(Debug, Serialize)]
pub struct PreviewJson<'a> {
    pub rule: &'a str,
    pub companies: Vec<RowJson<'a>>,
    pub totals: TotalsJson,
    pub skipped: &'a crate::domain::counting::SkipReport,
    pub warnings: Vec<String>,
    pub configurations_read: u64,
    pub configurations_counted: u64,
}

/// The totals: how many companies, then each count column's sum under its key.
#[derive(Debug)]
pub struct TotalsJson {
    pub companies: usize,
    pub sums: [Option<u64>; COUNT_COLUMNS.len()],
}

impl Serialize for TotalsJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("companies", &self.companies)?;
        for (column, sum) in COUNT_COLUMNS.iter().zip(self.sums) {
            if let Some(sum) = sum {
                map.serialize_entry(column.key, &sum)?;
            }
        }
        map.end()
    }
}

pub fn preview_json<'a>(result: &'a CountingResult, rule: &'a str) -> PreviewJson<'a> {
    let mut companies: Vec<&CompanyCounts> = result.companies.iter().collect();
    companies.sort_by(|a, b| csv_order(a, b));
    PreviewJson {
        rule,
        totals: TotalsJson {
            companies: result.companies.len(),
            sums: column_totals(companies.iter().copied()),
        },
        companies: companies.into_iter().map(RowJson).collect(),
        skipped: &result.skipped,
        warnings: result.skipped.warnings(),
        configurations_read: result.configurations_read,
        configurations_counted: result.configurations_counted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_names_stay_on_one_line() {
        let result = CountingResult {
            companies: vec![
                CompanyCounts {
                    company_id: 7,
                    company_name: "Line\nBreak".into(),
                    shared_devices: 1,
                    not_shared_devices: 22,
                    total_devices: 23,
                },
                CompanyCounts {
                    company_id: 1234,
                    company_name: "株式会社".into(),
                    shared_devices: 0,
                    not_shared_devices: 1,
                    total_devices: 1,
                },
            ],
            ..CountingResult::default()
        };
        let table = preview_table(&result);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(lines[2].contains("Line Break"));
        assert!(lines[5].starts_with("     Total  2 companies"), "{table}");
        // The numbers line up whatever the script of the name.
        let col = |l: &str| l.width();
        assert_eq!(col(lines[2]), col(lines[3]));
    }
}
