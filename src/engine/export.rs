//! The CSV export of a preview, for the window's Export and the command's `--csv` alike: the
//! rows become CSV bytes once, and go to the destination the user named (written whole and
//! renamed into place for a regular file, streamed for a pipe or a terminal).

use std::path::Path;

use crate::domain::counting::CompanyCounts;
use crate::domain::csv_export::{CsvDelimiter, UTF8_BOM, csv_bytes, write_csv_in_order};
use crate::storage::export_file::{self, ExportFileError, Written};

/// Why an export was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The rows could not be turned into CSV.
    #[error("{0}")]
    Encode(String),
    /// The destination refused them or the write failed (the error names the path).
    #[error(transparent)]
    File(#[from] ExportFileError),
}

/// The CSV bytes of the rows: the header, then one line per company; `excel` starts them with
/// the UTF-8 byte-order mark.
pub fn csv_of(
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    excel: bool,
) -> Result<Vec<u8>, ExportError> {
    csv_bytes(companies, delimiter, excel).map_err(|e| ExportError::Encode(e.to_string()))
}

/// Checks, before the preview that produces the rows, that `path` can take an export.
pub fn check_destination(path: &Path) -> Result<(), ExportError> {
    Ok(export_file::check_destination(path)?)
}

/// Whether `path` is this process's own standard output (`/dev/stdout` and the like).
pub fn is_stdout(path: &Path) -> bool {
    export_file::is_stdout(path)
}

/// Writes the rows as CSV to what `path` names.
pub fn export_csv(
    path: &Path,
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    excel: bool,
) -> Result<Written, ExportError> {
    let bytes = csv_of(companies, delimiter, excel)?;
    Ok(export_file::write_export(path, &bytes)?)
}

/// Writes the rows as CSV in the order given (the window's table, as sorted on screen) to what
/// `path` names, the way [`export_csv`] writes.
pub fn export_csv_in_order(
    path: &Path,
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    excel: bool,
) -> Result<Written, ExportError> {
    let mut bytes = Vec::new();
    if excel {
        bytes.extend_from_slice(UTF8_BOM);
    }
    write_csv_in_order(companies, delimiter, &mut bytes)
        .map_err(|e| ExportError::Encode(format!("could not write {}: {e}", path.display())))?;
    Ok(export_file::write_export(path, &bytes)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn export_writes_the_header_and_rows_and_reports_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let rows = [CompanyCounts {
            company_id: 7,
            company_name: "Acme; Inc".to_owned(),
            shared_devices: 1,
            not_shared_devices: 2,
            total_devices: 3,
        }];
        export_csv_in_order(&path, &rows, CsvDelimiter::Semicolon, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("company_id;company_name;"));
        assert!(text.contains("7;\"Acme; Inc\";1;2;3"));
        // The rows keep the order given.
        let two = [
            rows[0].clone(),
            CompanyCounts {
                company_id: 1,
                ..rows[0].clone()
            },
        ];
        export_csv_in_order(&path, &two, CsvDelimiter::Comma, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<&str> = text.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(ids, ["7", "1"]);
        export_csv_in_order(&path, &rows, CsvDelimiter::Comma, true).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFcompany_id,company_name,"));
        let err = export_csv_in_order(
            &dir.path().join("nope/out.csv"),
            &rows,
            CsvDelimiter::Comma,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope/out.csv"), "{err}");
        assert!(!err.to_string().contains(".out.csv."), "{err}");
    }
}
