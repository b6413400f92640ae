//! The CSV export of a preview, for the window's Export and the command's `--csv` alike: the
//! rows become CSV bytes once, and go to the destination the user named (written whole and
//! renamed into place for a regular file, streamed for a pipe or a terminal).

use std::path::Path;

use crate::domain::counting::CompanyCounts;
use crate::domain::csv_export::{CsvDelimiter, csv_bytes};
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
