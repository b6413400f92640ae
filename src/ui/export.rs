//! CSV export of the previewed table: the save dialog behind a trait (rfd in the window, a fixed
//! path in tests) and the write to what the user chose.

use std::path::{Path, PathBuf};

use crate::domain::counting::CompanyCounts;
use crate::domain::csv_export::{CsvDelimiter, UTF8_BOM, write_csv_in_order};
use crate::storage::export_file::{ExportFileError, write_export};

/// Asks the user where to save a file.
pub trait SaveDialog: Send {
    /// The chosen path; `Ok(None)` when the user cancelled; `Err` when no dialog can open here,
    /// so the window offers a typed path instead.
    fn save_file(&mut self, suggested_name: &str) -> Result<Option<PathBuf>, NoDialog>;
}

/// No native save dialog is available on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no save dialog could open on this machine; type the path of the CSV file instead")]
pub struct NoDialog;

/// The native dialog through `rfd` (desktop portal, or zenity).
#[derive(Debug, Default)]
pub struct RfdSaveDialog;

impl SaveDialog for RfdSaveDialog {
    fn save_file(&mut self, suggested_name: &str) -> Result<Option<PathBuf>, NoDialog> {
        // rfd answers None both when the user cancels and when neither a desktop portal nor
        // zenity exists; the window then offers the typed path field either way.
        Ok(rfd::FileDialog::new()
            .set_file_name(suggested_name)
            .add_filter("CSV", &["csv"])
            .save_file())
    }
}

/// Always answers the same path (tests, scripted runs).
#[derive(Debug, Clone)]
pub struct FixedPathSaveDialog(pub Option<PathBuf>);

impl SaveDialog for FixedPathSaveDialog {
    fn save_file(&mut self, _suggested_name: &str) -> Result<Option<PathBuf>, NoDialog> {
        self.0.clone().map(Some).ok_or(NoDialog)
    }
}

/// Why an export failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExportError(String);

/// Writes the CSV to what the user chose, the rows in the order given (the table's), as the
/// command's `--csv` writes its file: a regular file atomically and keeping its permissions, a
/// symlink's target, a pipe streamed; `excel` starts it with the UTF-8 byte-order mark.
pub fn export_csv(
    path: &Path,
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
    excel: bool,
) -> Result<(), ExportError> {
    let mut bytes = Vec::new();
    if excel {
        bytes.extend_from_slice(UTF8_BOM);
    }
    write_csv_in_order(companies, delimiter, &mut bytes)
        .map_err(|e| ExportError(format!("could not write {}: {e}", path.display())))?;
    write_export(path, &bytes).map(drop).map_err(|e| match e {
        e @ ExportFileError::Refused { .. } => ExportError(format!("could not write {e}")),
        e @ ExportFileError::Io { .. } => ExportError(e.to_string()),
    })
}

/// The file name offered in the dialog.
pub fn suggested_file_name(profile: &str) -> String {
    let date = chrono::Local::now().format("%Y-%m-%d");
    let safe: String = profile
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        format!("shared-devices-{date}.csv")
    } else {
        format!("shared-devices-{safe}-{date}.csv")
    }
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
        export_csv(&path, &rows, CsvDelimiter::Semicolon, false).unwrap();
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
        export_csv(&path, &two, CsvDelimiter::Comma, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<&str> = text.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(ids, ["7", "1"]);
        export_csv(&path, &rows, CsvDelimiter::Comma, true).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFcompany_id,company_name,"));
        let err = export_csv(
            &dir.path().join("nope/out.csv"),
            &rows,
            CsvDelimiter::Comma,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope/out.csv"), "{err}");
        assert!(!err.to_string().contains(".out.csv."), "{err}");
    }

    #[test]
    fn suggested_name_is_safe_for_every_file_system() {
        let name = suggested_file_name("a/b:c");
        assert!(name.starts_with("shared-devices-a_b_c-"));
        assert!(name.ends_with(".csv"));
    }
}
