//! Preview: fetch the tenant's configurations and count them by the rule as the pages arrive.
//! Nothing is sent.

use std::sync::Mutex;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::connectwise::{
    ConnectWiseClient, ConnectWiseSettings, FetchProgress, FetchStats, PageSink, TransportError,
};
use crate::domain::configuration::ConfigurationPage;
use crate::domain::counting::{CountingEngine, CountingOptions, CountingResult, CountingRule};

/// The counted result and what the fetch took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    pub counts: CountingResult,
    pub stats: FetchStats,
}

/// Counts each page the client hands over.
struct Counter(Mutex<CountingEngine>);

impl Counter {
    fn engine(&self) -> std::sync::MutexGuard<'_, CountingEngine> {
        // Plain counts behind the lock: a poisoned lock still holds consistent enough data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PageSink for Counter {
    fn page(&self, page: &ConfigurationPage) {
        self.engine().add_page(page);
    }

    fn restart(&self) {
        let mut engine = self.engine();
        *engine = CountingEngine::new(engine.rule().clone());
    }

    fn distinct_records(&self) -> u64 {
        let engine = self.engine();
        engine.configurations_read() + engine.unparseable_read()
    }
}

/// Fetches every configuration the rule needs through `client` and counts them.
pub async fn fetch_counts(
    client: &ConnectWiseClient,
    rule: &CountingRule,
    progress: &(dyn Fn(FetchProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<FetchOutcome, TransportError> {
    let counter = Counter(Mutex::new(CountingEngine::new(rule.clone())));
    let stats = client
        .fetch_configurations(&rule.server_filter(), &counter, progress, cancel)
        .await?;
    let engine = counter
        .0
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(FetchOutcome {
        counts: engine.finish(),
        stats,
    })
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
) -> Result<PreviewOutcome, EngineError> {
    let started = Instant::now();
    let rule = CountingRule::new(&request.counting)?;
    let client = ConnectWiseClient::new(request.connectwise.clone())?;
    let outcome = fetch_counts(&client, &rule, progress, cancel).await?;
    Ok(PreviewOutcome {
        counts: outcome.counts,
        rule_text: rule.describe(),
        stats: outcome.stats,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
