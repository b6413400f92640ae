//! What the product keeps between runs: profiles (config dir), secrets (OS keychain), the
//! append-only sync journal and the run reports (data dir), all readable by the user alone;
//! the lock that keeps one run at a time per tenant (data dir); and the exports it writes where
//! the user names them.

pub mod export_file;
pub mod journal;
pub mod names;
pub mod paths;
pub mod private;
pub mod profiles;
pub mod reports;
pub mod run_lock;
pub mod schedule;
pub mod secrets;

pub use journal::{Journal, JournalError};
pub use names::NameError;
pub use paths::{AppDirs, PathsError};
pub use profiles::{ChangeAuthor, Profile, ProfileError, ProfileStore};
pub use reports::ReportError;
pub use run_lock::{RunLock, RunLockError};
pub use secrets::{Secret, SecretError, SecretName, SecretStore};

/// Any storage failure, for callers that handle them alike.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    RunLock(#[from] RunLockError),
    #[error(transparent)]
    Report(#[from] ReportError),
}
