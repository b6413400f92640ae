//! CSV export of the previewed table: the save dialog behind a trait (rfd in the window, a fixed
//! path in tests) and the atomic file write.

use std::path::{Path, PathBuf};

use crate::domain::counting::CompanyCounts;
use crate::domain::csv_export::{CsvDelimiter, write_csv};

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
#[error("could not write {path}: {reason}")]
pub struct ExportError {
    pub path: String,
    pub reason: String,
}

/// Writes the CSV beside the target and renames it, so a failed export never leaves half a file.
pub fn export_csv(
    path: &Path,
    companies: &[CompanyCounts],
    delimiter: CsvDelimiter,
) -> Result<(), ExportError> {
    let fail = |reason: &dyn std::fmt::Display| ExportError {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    write_csv(companies, delimiter, &mut file).map_err(|e| fail(&e))?;
    file.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
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
        export_csv(&path, &rows, CsvDelimiter::Semicolon).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("company_id;company_name;"));
        assert!(text.contains("7;\"Acme; Inc\";1;2;3"));
        let err =
            export_csv(&dir.path().join("nope/out.csv"), &rows, CsvDelimiter::Comma).unwrap_err();
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn suggested_name_is_safe_for_every_file_system() {
        let name = suggested_file_name("a/b:c");
        assert!(name.starts_with("shared-devices-a_b_c-"));
        assert!(name.ends_with(".csv"));
    }
}
