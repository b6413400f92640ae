//! What the command prints: the aligned preview table, and JSON for machines.

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

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

/// The preview as an aligned table with a totals line, in CSV order.
pub fn preview_table(result: &CountingResult) -> String {
    let mut rows: Vec<&CompanyCounts> = result.companies.iter().collect();
    rows.sort_by(|a, b| csv_order(a, b));
    let (shared, not_shared, total) = result.totals();
    let header = ["Company ID", "Company", "Shared", "Not shared", "Total"];
    let mut cells: Vec<[String; 5]> = rows
        .iter()
        .map(|c| {
            [
                c.company_id.to_string(),
                one_line(&c.company_name),
                c.shared_devices.to_string(),
                c.not_shared_devices.to_string(),
                c.total_devices.to_string(),
            ]
        })
        .collect();
    let totals = [
        "Total".to_owned(),
        format!(
            "{} compan{}",
            rows.len(),
            if rows.len() == 1 { "y" } else { "ies" }
        ),
        shared.to_string(),
        not_shared.to_string(),
        total.to_string(),
    ];
    let mut widths = header.map(UnicodeWidthStr::width);
    for row in cells.iter().chain(std::iter::once(&totals)) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    // Very long names would push the numbers off screen; cap the name column.
    widths[1] = widths[1].min(48);
    for row in &mut cells {
        if row[1].width() > widths[1] {
            let mut cut = String::new();
            for c in row[1].chars() {
                if cut.width() + 2 > widths[1] {
                    break;
                }
                cut.push(c);
            }
            cut.push('…');
            row[1] = cut;
        }
    }
    let line = |row: &[String; 5]| {
        format!(
            "{}  {}  {}  {}  {}",
            pad_left(&row[0], widths[0]),
            pad_right(&row[1], widths[1]),
            pad_left(&row[2], widths[2]),
            pad_left(&row[3], widths[3]),
            pad_left(&row[4], widths[4]),
        )
        .trim_end()
        .to_owned()
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(str::to_owned)));
    out.push('\n');
    let rule_width: usize = widths.iter().sum::<usize>() + 8;
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
    pub companies: Vec<&'a CompanyCounts>,
    pub totals: TotalsJson,
    pub skipped: &'a crate::domain::counting::SkipReport,
    pub warnings: Vec<String>,
    pub configurations_read: u64,
    pub configurations_counted: u64,
}

#[derive(Debug, Serialize)]
pub struct TotalsJson {
    pub companies: usize,
    pub shared_devices: u64,
    pub not_shared_devices: u64,
    pub total_devices: u64,
}

pub fn preview_json<'a>(result: &'a CountingResult, rule: &'a str) -> PreviewJson<'a> {
    let mut companies: Vec<&CompanyCounts> = result.companies.iter().collect();
    companies.sort_by(|a, b| csv_order(a, b));
    let (shared, not_shared, total) = result.totals();
    PreviewJson {
        rule,
        companies,
        totals: TotalsJson {
            companies: result.companies.len(),
            shared_devices: shared,
            not_shared_devices: not_shared,
            total_devices: total,
        },
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
