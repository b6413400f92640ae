//! Preview: fetch the tenant's configurations and count them by the rule as the pages arrive,
//! and, when the profile excludes companies whose status is marked inactive, read the companies'
//! statuses. Nothing is sent.

use std::sync::Mutex;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::connectwise::{
    ConnectWiseClient, ConnectWiseSettings, FetchProgress, FetchStats, PageSink, TransportError,
};
use crate::domain::adjustments::{CompanyStatusList, RunAdjustments};
use crate::domain::configuration::{ConfigurationPage, UnparseableRecord};
use crate::domain::counting::{CountingEngine, CountingOptions, CountingResult, CountingRule};
use crate::domain::safety::{PreviewCompleteness, UnreadableRecord};

/// The counted result and what the fetch took.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchOutcome {
    pub counts: CountingResult,
    pub stats: FetchStats,
    /// The records the page parser set aside, with what could still be read from them.
    pub unparseable: Vec<UnparseableRecord>,
}

/// Counts each page the client hands over, and keeps the records that could not be read.
struct Counter(Mutex<(CountingEngine, Vec<UnparseableRecord>)>);

impl Counter {
    fn engine(&self) -> std::sync::MutexGuard<'_, (CountingEngine, Vec<UnparseableRecord>)> {
        // Plain counts behind the lock: a poisoned lock still holds consistent enough data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PageSink for Counter {
    fn page(&self, page: &ConfigurationPage) {
        let mut guard = self.engine();
        guard.0.add_page(page);
        guard.1.extend(page.unparseable.iter().cloned());
    }

    fn restart(&self) {
        let mut guard = self.engine();
        guard.0 = CountingEngine::new(guard.0.rule().clone());
        guard.1.clear();
    }

    fn distinct_records(&self) -> u64 {
        let guard = self.engine();
        guard.0.configurations_read() + guard.0.unparseable_read()
    }
}

/// Fetches every configuration the rule needs through `client` and counts them.
pub async fn fetch_counts(
    client: &ConnectWiseClient,
    rule: &CountingRule,
    progress: &(dyn Fn(FetchProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<FetchOutcome, TransportError> {
    let counter = Counter(Mutex::new((CountingEngine::new(rule.clone()), Vec::new())));
    let stats = client
        .fetch_configurations(&rule.server_filter(), &counter, progress, cancel)
        .await?;
    let (engine, unparseable) = counter
        .0
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(FetchOutcome {
        counts: engine.finish(),
        stats,
        unparseable,
    })
}

/// What a preview needs.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    pub connectwise: ConnectWiseSettings,
    pub counting: CountingOptions,
    /// Also read every company's ConnectWise status (the profile excludes companies whose
    /// status is marked inactive); a failure to read them fails the preview.
    pub company_statuses: bool,
}

/// A finished preview: the counts, the rule in words, what the fetch took, and whether what
/// was read agrees with what ConnectWise said it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewOutcome {
    pub counts: CountingResult,
    pub rule_text: String,
    pub stats: FetchStats,
    pub elapsed_ms: u64,
    pub completeness: PreviewCompleteness,
    /// The companies' statuses, when the request asked for them.
    pub company_statuses: Option<CompanyStatusList>,
}

impl PreviewOutcome {
    /// The profile's adjustments with this preview's company statuses (when it read them).
    pub fn adjustments_with_statuses(&self, adjustments: &RunAdjustments) -> RunAdjustments {
        adjustments
            .clone()
            .with_company_statuses(self.company_statuses.as_ref())
    }
}

/// Fetches the tenant's configurations and counts them. Nothing is sent anywhere.
///
/// ConnectWise's own count (`/company/configurations/count` for the rule's filter) is asked just
/// before and just after the fetch, so the outcome can prove its completeness: what was read,
/// set aside and counted once must add up to what the server said, before and after.
pub async fn run_preview(
    request: &PreviewRequest,
    progress: &(dyn Fn(FetchProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<PreviewOutcome, EngineError> {
    let started = Instant::now();
    let rule = CountingRule::new(&request.counting)?;
    let client = ConnectWiseClient::new(request.connectwise.clone())?;
    let filter = rule.server_filter();
    let count_before = client.count_configurations(&filter, cancel).await?;
    let outcome = fetch_counts(&client, &rule, progress, cancel).await?;
    let count_after = client.count_configurations(&filter, cancel).await?;
    let company_statuses = if request.company_statuses {
        let list = client.company_statuses(cancel).await.map_err(|e| match e {
            TransportError::Cancelled => EngineError::Cancelled,
            e => EngineError::CompanyStatuses(e),
        })?;
        // Its warnings travel with it (RunAdjustments::company_status_warnings) and each front
        // end shows them once: the command on stderr, the window in its log, a sync in its plan.
        Some(list)
    } else {
        None
    };
    let unreadable = outcome
        .unparseable
        .iter()
        .map(|bad| UnreadableRecord::from_unparseable(bad, &request.counting))
        .collect();
    // The fetch itself follows every `next` the server names (within the paging cap), so a
    // fetch that returned has no next page left unread.
    let completeness = PreviewCompleteness::from_fetch(
        count_before,
        count_after,
        &outcome.counts,
        unreadable,
        false,
    );
    Ok(PreviewOutcome {
        counts: outcome.counts,
        rule_text: rule.describe(),
        stats: outcome.stats,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        completeness,
        company_statuses,
    })
}
