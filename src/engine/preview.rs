//! Preview: fetch the tenant's configurations and count them by the rule. Nothing is sent.

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::connectwise::{ConnectWiseClient, ConnectWiseSettings, FetchProgress, FetchStats};
use crate::domain::counting::{CountingOptions, CountingResult, CountingRule};

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
) -> Result<PreviewOutcome, EngineError> {
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
