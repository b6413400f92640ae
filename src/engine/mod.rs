//! The product's use cases, the one place both front ends (the window and the command) call:
//! preview (fetch and count), connection tests, sync (plan, then services, accounts and counts),
//! setting the integration status, the CSV export, the run reports written after every sync and
//! dry run, and turning a profile, its keychain entries and the environment into the settings of
//! a run.
//!
//! The engine drives the transport in `api` and the pure rules in `domain`, and writes through
//! `storage`. Front ends import the engine, never `api`: the transport types they show (a
//! connection report, fetch progress, an integration status) are named here.

pub mod connection;
pub mod export;
pub mod notify;
pub mod preview;
pub mod profile_work;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod status;
pub mod sync;
pub mod tenant;
pub mod tenants;

pub use crate::api::connectwise::{
    ConnectWiseSettings, ConnectionReport, ConnectionStep, DEFAULT_API_VERSION, FetchProgress,
    FetchStats,
};
pub use crate::api::synthesize::{IntegrationData, IntegrationStatus, SynthesizeSettings};
pub use preview::{PreviewOutcome, PreviewRequest, run_preview};

pub use crate::api::error::{Service, TransportError};
use crate::domain::counting::RuleError;

/// Why a use case did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// A call to ConnectWise or Synthesize failed (the error names which).
    #[error("{0}")]
    Transport(TransportError),
    /// Another run holds the tenant's run lock.
    #[error("{0}")]
    Busy(String),
    /// The profile excludes companies whose ConnectWise status is marked inactive, and their
    /// statuses could not be read: nothing is counted as final, nothing is sent.
    #[error("{}", company_statuses_message(.0))]
    CompanyStatuses(TransportError),
    #[error("{0}")]
    Other(String),
}

/// Why the companies' statuses could not be read, and the two ways on.
fn company_statuses_message(e: &TransportError) -> String {
    let cause = match e {
        TransportError::NoRights => {
            "ConnectWise says the API member has no rights to read companies or their status list (HTTP 403)".to_owned()
        }
        e => e.to_string(),
    };
    format!(
        "reading the companies' ConnectWise statuses (GET company/companies and company/companies/statuses) failed: {cause}. The profile excludes companies whose status is marked inactive, so nothing was sent: give the API member's security role Companies › Company Maintenance at Inquire level (and Inquire on the Company Status setup table), or turn the option off (`profile exclude-inactive PROFILE off`, or untick it in the window)"
    )
}

impl EngineError {
    /// Whether the fix is in the settings (a URL, a counting rule, a request that cannot be
    /// built or a URL the rules refuse) rather than in the services or the network.
    pub fn is_configuration(&self) -> bool {
        match self {
            EngineError::Rule(_) => true,
            EngineError::Transport(e) => e.is_configuration(),
            EngineError::Cancelled
            | EngineError::Busy(_)
            | EngineError::CompanyStatuses(_)
            | EngineError::Other(_) => false,
        }
    }
}

impl From<TransportError> for EngineError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Cancelled => EngineError::Cancelled,
            e => EngineError::Transport(e),
        }
    }
}
