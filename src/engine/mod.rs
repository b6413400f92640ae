//! The product's use cases, the one place both front ends (the window and the command) call:
//! preview (fetch and count), connection tests, sync (plan, then services, accounts and counts),
//! setting the integration status, the CSV export, and turning a profile, its keychain entries
//! and the environment into the settings of a run.
//!
//! The engine drives the transport in `api` and the pure rules in `domain`, and writes through
//! `storage`. Front ends import the engine, never `api`: the transport types they show (a
//! connection report, fetch progress, an integration status) are named here.

pub mod connection;
pub mod export;
pub mod preview;
pub mod settings;
pub mod status;
pub mod sync;

pub use crate::api::connectwise::{
    ConnectWiseError, ConnectWiseSettings, ConnectionReport, ConnectionStep, DEFAULT_API_VERSION,
    FetchProgress, FetchStats,
};
pub use crate::api::synthesize::{IntegrationData, IntegrationStatus, SynthesizeSettings};
pub use preview::{PreviewOutcome, PreviewRequest, run_preview};

use crate::api::synthesize::SynthesizeError;
use crate::domain::counting::RuleError;

/// Why a use case did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Rule(#[from] RuleError),
    #[error("{0}")]
    ConnectWise(ConnectWiseError),
    #[error("{0}")]
    Synthesize(SynthesizeError),
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// Whether the fix is in the settings (a URL, a counting rule, a request that cannot be
    /// built or a URL the rules refuse) rather than in the services or the network.
    pub fn is_configuration(&self) -> bool {
        match self {
            EngineError::Rule(_) => true,
            EngineError::ConnectWise(e) => match e {
                ConnectWiseError::Url(_) | ConnectWiseError::Setup(_) => true,
                ConnectWiseError::Refused(r) => r.is_configuration(),
                _ => false,
            },
            EngineError::Synthesize(e) => match e {
                SynthesizeError::Url(_) | SynthesizeError::Setup(_) => true,
                SynthesizeError::Refused(r) => r.is_configuration(),
                _ => false,
            },
            EngineError::Cancelled | EngineError::Other(_) => false,
        }
    }
}

impl From<ConnectWiseError> for EngineError {
    fn from(e: ConnectWiseError) -> Self {
        match e {
            ConnectWiseError::Cancelled => EngineError::Cancelled,
            e => EngineError::ConnectWise(e),
        }
    }
}

impl From<SynthesizeError> for EngineError {
    fn from(e: SynthesizeError) -> Self {
        match e {
            SynthesizeError::Cancelled => EngineError::Cancelled,
            e => EngineError::Synthesize(e),
        }
    }
}
