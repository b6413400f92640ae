//! The jobs themselves, as async functions both front ends call (the window through the worker
//! thread, the command directly on its own runtime).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::api::connectwise::{
    ConnectWiseClient, ConnectWiseError, ConnectWiseSettings, ConnectionReport, FetchProgress,
    FetchStats,
};
use crate::api::synthesize::{
    IntegrationData, SynthesizeClient, SynthesizeError, SynthesizeSettings,
};
use crate::domain::counting::{CountingOptions, CountingResult, CountingRule, RuleError};

/// Why a job did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
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

impl From<ConnectWiseError> for JobError {
    fn from(e: ConnectWiseError) -> Self {
        match e {
            ConnectWiseError::Cancelled => JobError::Cancelled,
            e => JobError::ConnectWise(e),
        }
    }
}

impl From<SynthesizeError> for JobError {
    fn from(e: SynthesizeError) -> Self {
        match e {
            SynthesizeError::Cancelled => JobError::Cancelled,
            e => JobError::Synthesize(e),
        }
    }
}

/// What a preview needs.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    pub connectwise: ConnectWiseSettings,
    pub counting: CountingOptions,
}

/// A finished preview: the counts, the rule in words, and what the fetch took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewOutcome {
    pub counts: CountingResult,
    pub rule_text: String,
    pub stats: FetchStats,
    pub elapsed_ms: u64,
}

/// Fetches the tenant's configurations and counts them. Nothing is sent anywhere.
pub async fn run_preview(
    request: &PreviewRequest,
    progress: &(dyn Fn(FetchProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<PreviewOutcome, JobError> {
    let started = Instant::now();
    let rule = CountingRule::new(&request.counting)?;
    let client = ConnectWiseClient::new(request.connectwise.clone())?;
    let outcome = client.fetch_counts(&rule, progress, cancel).await?;
    Ok(PreviewOutcome {
        counts: outcome.counts,
        rule_text: rule.describe(),
        stats: outcome.stats,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// "Test connection" for ConnectWise: companyinfo, then one authenticated call.
pub async fn test_connectwise(
    settings: &ConnectWiseSettings,
    cancel: &CancellationToken,
) -> Result<ConnectionReport, JobError> {
    let client = ConnectWiseClient::new(settings.clone())?;
    Ok(client.test_connection(cancel).await)
}

/// "Test connection" for Synthesize: the documented `GET /organization`, which also tells the
/// integration's status and last sync.
pub async fn test_synthesize(
    settings: &SynthesizeSettings,
    cancel: &CancellationToken,
) -> Result<IntegrationData, JobError> {
    let client = SynthesizeClient::new(settings.clone())?;
    Ok(client.authenticate(cancel).await?)
}
