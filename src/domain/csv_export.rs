//! The CSV export of `counting.md`: fixed header, RFC 4180 quoting, sorted rows, formula guard.

use std::cmp::Ordering;
use std::io::Write;

use serde::{Deserialize, Serialize};

use super::columns::{COUNT_COLUMNS, Cell};
use super::counting::CompanyCounts;

/// The header, exactly as users' scripts expect it (with the chosen delimiter): the columns'
/// keys.
pub const CSV_HEADER: [&str; COUNT_COLUMNS.len()] = {
    let mut header = [""; COUNT_COLUMNS.len()];
    let mut i = 0;
    while i < COUNT_COLUMNS.len() {
        header[i] = COUNT_COLUMNS[i].key;
        i += 1;
    }
    header
};

/// The field separator: a comma, or a semicolon for spreadsheets in locales with a decimal comma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvDelimiter {
    #[default]
    Comma,
    Semicolon,
}

impl CsvDelimiter {
    pub fn byte(self) -> u8 {
        match self {
            CsvDelimiter::Comma => b',',
            CsvDelimiter::Semicolon => b';',
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CsvExportError {
    #[error("could not write the CSV: {0}")]
    Write(#[from] csv::Error),
    #[error("could not write the CSV: {0}")]
    Io(#[from] std::io::Error),
}

/// Orders rows by company name (case-insensitive), then company id.
pub fn csv_order(a: &CompanyCounts, b: &CompanyCounts) -> Ordering {
    let by_name = a
        .company_name
        .chars()
        .flat_map(char::to_lowercase)
        .cmp(b.company_name.chars().flat_map(char::to_lowercase));
    by_name.then(a.company_id.cmp(&b.company_id))
}

/// Prefixes a cell a spreadsheet would run as a formula with `'`.
pub fn guard_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes the table as CSV: header, then one row per company in CSV order.
pub fn write_csv<W: Write>(
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    out: W,
) -> Result<(), CsvExportError> {
    let mut rows: Vec<&CompanyCounts> = companies.iter().collect();
    rows.sort_by(|a, b| csv_order(a, b));
    write_rows(&rows, delimiter, out)
}

/// Writes the table as CSV with the rows in the order given (the window's export keeps the
/// table's sort); the header and every cell as [`write_csv`] writes them.
pub fn write_csv_in_order<W: Write>(
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    out: W,
) -> Result<(), CsvExportError> {
    let rows: Vec<&CompanyCounts> = companies.iter().collect();
    write_rows(&rows, delimiter, out)
}

fn write_rows<W: Write>(
    rows: &[&CompanyCounts],
    delimiter: CsvDelimiter,
    out: W,
) -> Result<(), CsvExportError> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter.byte())
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for &row in rows {
        let cells = COUNT_COLUMNS.map(|column| match (column.value)(row) {
            // Text a spreadsheet could run is guarded; numbers cannot start a formula, except
            // a negative id, which is guarded like text.
            Cell::Id(id) => guard_formula(&id.to_string()).into_owned(),
            Cell::Text(text) => guard_formula(text).into_owned(),
            Cell::Count(n) => n.to_string(),
        });
        writer.write_record(&cells)?;
    }
    writer.flush()?;
    Ok(())
}

/// The UTF-8 byte-order mark Excel needs to read a CSV as UTF-8 instead of the locale's code
/// page (without it, non-Latin names turn into mojibake).
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The whole export as bytes: with `excel`, the byte-order mark first; the header and rows are
/// the same either way.
pub fn csv_bytes(
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    excel: bool,
) -> Result<Vec<u8>, CsvExportError> {
    let mut buf = Vec::new();
    if excel {
        buf.extend_from_slice(UTF8_BOM);
    }
    write_csv(companies, delimiter, &mut buf)?;
    Ok(buf)
}

/// The CSV as a string (for tests and small exports).
pub fn csv_string(
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
) -> Result<String, CsvExportError> {
    let mut buf = Vec::new();
    write_csv(companies, delimiter, &mut buf)?;
    // The csv crate writes only what it is given, and every input is a Rust string.
    String::from_utf8(buf)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e).into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(id: i64, name: &str, shared: u64, not_shared: u64) -> CompanyCounts {
        CompanyCounts {
            company_id: id,
            company_name: name.to_owned(),
            shared_devices: shared,
            not_shared_devices: not_shared,
            total_devices: shared + not_shared,
        }
    }

    fn tricky_rows() -> Vec<CompanyCounts> {
        vec![
            row(7, "Smith, Jones & Co", 1, 2),
            row(3, "The \"Quoted\" Ltd", 0, 4),
            row(12, "Line one\nLine two", 5, 0),
            row(4, "Semi;colon GmbH", 2, 2),
            row(9, "=HYPERLINK(\"http://x\")", 1, 0),
            row(10, "+1 Telecom", 0, 1),
            row(11, "-Minus Corp", 0, 1),
            row(13, "@Mention Inc", 3, 3),
            row(14, "株式会社テスト", 1, 1),
            row(15, "Ωmega Σ", 0, 2),
            row(16, "acme", 1, 0),
            row(2, "ACME", 0, 1),
            row(20, "  padded  ", 1, 1),
        ]
    }

    const GOLDEN: &str = "company_id,company_name,shared_devices,not_shared_devices,total_devices\r\n\
        20,  padded  ,1,1,2\r\n\
        10,'+1 Telecom,0,1,1\r\n\
        11,'-Minus Corp,0,1,1\r\n\
        9,\"'=HYPERLINK(\"\"http://x\"\")\",1,0,1\r\n\
        13,'@Mention Inc,3,3,6\r\n\
        2,ACME,0,1,1\r\n\
        16,acme,1,0,1\r\n\
        12,\"Line one\nLine two\",5,0,5\r\n\
        4,Semi;colon GmbH,2,2,4\r\n\
        7,\"Smith, Jones & Co\",1,2,3\r\n\
        3,\"The \"\"Quoted\"\" Ltd\",0,4,4\r\n\
        15,Ωmega Σ,0,2,2\r\n\
        14,株式会社テスト,1,1,2\r\n";

    #[test]
    fn golden_csv_with_tricky_names() {
        assert_eq!(
            csv_string(&tricky_rows(), CsvDelimiter::Comma).unwrap(),
            GOLDEN
        );
    }

    #[test]
    fn golden_csv_reads_back_with_a_csv_parser() {
        for delimiter in [CsvDelimiter::Comma, CsvDelimiter::Semicolon] {
            let text = csv_string(&tricky_rows(), delimiter).unwrap();
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter.byte())
                .from_reader(text.as_bytes());
            let header: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(header, CSV_HEADER);
            let mut expected = tricky_rows();
            expected.sort_by(csv_order);
            let mut n = 0;
            for (record, want) in reader.records().zip(&expected) {
                let record = record.unwrap();
                assert_eq!(record[0].parse::<i64>().unwrap(), want.company_id);
                let name = &record[1];
                let unguarded = if guard_formula(&want.company_name) != want.company_name {
                    name.strip_prefix('\'').unwrap()
                } else {
                    name
                };
                assert_eq!(unguarded, want.company_name);
                assert_eq!(record[2].parse::<u64>().unwrap(), want.shared_devices);
                assert_eq!(record[3].parse::<u64>().unwrap(), want.not_shared_devices);
                assert_eq!(record[4].parse::<u64>().unwrap(), want.total_devices);
                n += 1;
            }
            assert_eq!(n, expected.len());
        }
    }

    #[test]
    fn semicolon_delimiter_quotes_semicolons_not_commas() {
        let text = csv_string(
            &[row(1, "Semi;colon", 1, 1), row(2, "Comma, Inc", 0, 1)],
            CsvDelimiter::Semicolon,
        )
        .unwrap();
        assert_eq!(
            text,
            "company_id;company_name;shared_devices;not_shared_devices;total_devices\r\n\
             2;Comma, Inc;0;1;1\r\n1;\"Semi;colon\";1;1;2\r\n"
        );
    }

    #[test]
    fn formula_guard_covers_tab_and_carriage_return() {
        assert_eq!(guard_formula("\tx"), "'\tx");
        assert_eq!(guard_formula("\rx"), "'\rx");
        assert_eq!(guard_formula("a=b"), "a=b");
        assert_eq!(guard_formula(""), "");
    }

    #[test]
    fn excel_adds_the_byte_order_mark_and_changes_nothing_else() {
        for delimiter in [CsvDelimiter::Comma, CsvDelimiter::Semicolon] {
            let plain = csv_bytes(&tricky_rows(), delimiter, false).unwrap();
            let excel = csv_bytes(&tricky_rows(), delimiter, true).unwrap();
            assert_eq!(&excel[..3], UTF8_BOM);
            assert_eq!(&excel[3..], &plain[..]);
            assert_eq!(
                plain,
                csv_string(&tricky_rows(), delimiter).unwrap().into_bytes()
            );
        }
    }

    #[test]
    fn empty_table_is_just_the_header() {
        assert_eq!(
            csv_string(&[], CsvDelimiter::Comma).unwrap(),
            "company_id,company_name,shared_devices,not_shared_devices,total_devices\r\n"
        );
    }
}
