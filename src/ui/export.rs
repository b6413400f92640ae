//! Where the window's CSV export goes: the save dialog behind a trait (rfd in the window, a
//! fixed path in tests) and the file name it offers; the write itself is the engine's.

use std::path::PathBuf;

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
    fn suggested_name_is_safe_for_every_file_system() {
        let name = suggested_file_name("a/b:c");
        assert!(name.starts_with("shared-devices-a_b_c-"));
        assert!(name.ends_with(".csv"));
    }
}
