//! The benchmark's "sync usage" figure: counts posted against the sandbox under its rate limit,
//! with the product's own client settings and pacing.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::api::synthesize::{SynthesizeClient, SynthesizeCredentials, SynthesizeSettings};
use crate::domain::counting::CompanyCounts;
use crate::domain::settings::{SyncOptions, ZeroPolicy};
use crate::domain::sync_plan::{LastSent, ServiceKind};
use crate::engine::EngineError;
use crate::engine::sync::{SyncRequest, SyncSteps, execute, plan};
use crate::sandbox::{
    RateLimit, SANDBOX_PARTNER_API_KEY, SANDBOX_VENDOR_API_KEY, Sandbox, SandboxAccount,
    SandboxConfig,
};

/// What posting the counts took.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSyncFigures {
    pub counts: usize,
    pub latency_ms: u64,
    pub limit_per_second: f64,
    /// From the first post to the last answer (planning left out).
    pub wall_secs: f64,
    pub sent: usize,
    pub failed: usize,
    /// Requests the client sent while posting, retries included.
    pub requests: u64,
    /// Answers that were 429.
    pub rate_limited: u64,
    pub retries: u64,
}

impl UsageSyncFigures {
    /// No client can post the counts faster than the rate limit lets it.
    pub fn lower_bound_secs(&self) -> f64 {
        self.counts as f64 / self.limit_per_second.max(f64::MIN_POSITIVE)
    }

    pub fn ratio(&self) -> f64 {
        self.wall_secs / self.lower_bound_secs()
    }
}

impl std::fmt::Display for UsageSyncFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} counts at {} ms latency under {}/s: {:.1} s (lower bound {:.1} s, ratio {:.2}); sent {}, failed {}; {} requests, {} answered 429, {} retries",
            self.counts,
            self.latency_ms,
            self.limit_per_second,
            self.wall_secs,
            self.lower_bound_secs(),
            self.ratio(),
            self.sent,
            self.failed,
            self.requests,
            self.rate_limited,
            self.retries,
        )
    }
}

/// Starts a sandbox whose services and accounts exist, sets its latency and rate limit, and
/// times a usage sync of `counts` counts (two per company) with the default sync options.
pub async fn measure_usage_sync(
    counts: usize,
    latency: Duration,
    limit: RateLimit,
) -> Result<UsageSyncFigures, EngineError> {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .map_err(|e| EngineError::Other(e.to_string()))?;
    let handle = sandbox.handle();
    let companies: Vec<CompanyCounts> = (1..=counts.div_ceil(2))
        .map(|i| {
            let id = i64::try_from(i).unwrap_or(i64::MAX);
            // An odd count: the last company has no "not shared" devices, so one post.
            let not_shared = if 2 * i > counts { 0 } else { 1 + i as u64 % 7 };
            CompanyCounts {
                company_id: id,
                company_name: format!("Company {id}"),
                shared_devices: 1 + i as u64 % 5,
                not_shared_devices: not_shared,
                total_devices: 1 + i as u64 % 5 + not_shared,
            }
        })
        .collect();
    for kind in ServiceKind::ALL {
        let new = kind.new_service();
        handle.add_service(&new.name, &new.description, &new.category, &new.subcategory);
    }
    for c in &companies {
        handle.add_account(SandboxAccount {
            id: c.company_id.to_string(),
            name: c.company_name.clone(),
            description: String::new(),
        });
    }
    let settings = SynthesizeSettings::new(
        sandbox.synthesize_url().as_str(),
        SynthesizeCredentials {
            vendor_api_key: SANDBOX_VENDOR_API_KEY.into(),
            partner_api_key: SANDBOX_PARTNER_API_KEY.into(),
        },
    )?;
    let request = SyncRequest {
        synthesize: settings.clone(),
        counts: companies,
        selection: None,
        options: SyncOptions {
            zero_policy: ZeroPolicy::ChangedToZero,
            ..SyncOptions::default()
        },
        steps: SyncSteps::USAGE,
        profile_name: "measure".into(),
        rule_text: String::new(),
        revert: false,
        guard: Default::default(),
        adjustments: Default::default(),
    };
    let client = SynthesizeClient::new(settings)?;
    let cancel = CancellationToken::new();
    let planned = plan(&client, &request, &LastSent::new(), &cancel).await?;
    // The knobs go on after planning so only the posts meet them.
    handle.synthesize_knobs().set_latency(latency);
    handle.synthesize_knobs().set_rate_limit(Some(limit));
    let before = client.stats();
    let started = Instant::now();
    let report = execute(&client, &planned, &request, None, &|_| {}, &cancel).await;
    let wall_secs = started.elapsed().as_secs_f64();
    let after = client.stats();
    Ok(UsageSyncFigures {
        counts: planned.plan.counts.len(),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        limit_per_second: limit.per_second,
        wall_secs,
        sent: report.progress.sent,
        failed: report.progress.failed,
        requests: after.requests - before.requests,
        rate_limited: after.rate_limited - before.rate_limited,
        retries: after.retries - before.retries,
    })
}
