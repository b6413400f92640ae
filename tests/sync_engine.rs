//! The sync engine in-process against the sandbox: zero policies across runs, selection,
//! faults and the rate limit, "Retry failed", and the journal it leaves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cw_shared_devices::api::http::HttpSettings;
use cw_shared_devices::api::synthesize::{
    SynthesizeClient, SynthesizeCredentials, SynthesizeSettings,
};
use cw_shared_devices::domain::counting::CompanyCounts;
use cw_shared_devices::domain::settings::{SyncOptions, ZeroPolicy};
use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::engine::sync::{
    self, PlannedSync, SyncReport, SyncRequest, SyncSteps, SyncUpdate, plan_of_counts,
};
use cw_shared_devices::sandbox::{
    FaultCadence, FaultKind, FaultTarget, RateLimit, RecurringFaults, SANDBOX_PARTNER_API_KEY,
    SANDBOX_VENDOR_API_KEY, Sandbox, SandboxConfig, ScheduledFault,
};
use cw_shared_devices::storage::Journal;
use cw_shared_devices::storage::journal::{CountOutcome, JournalEvent};
use tokio_util::sync::CancellationToken;

fn company(id: i64, shared: u64, not_shared: u64) -> CompanyCounts {
    CompanyCounts {
        company_id: id,
        company_name: format!("Company {id}"),
        shared_devices: shared,
        not_shared_devices: not_shared,
        total_devices: shared + not_shared,
    }
}

struct Rig {
    sandbox: Sandbox,
    journal: Journal,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            sandbox: Sandbox::start(SandboxConfig::default()).await.unwrap(),
            journal: Journal::at_path(dir.path().join("journal.jsonl")),
            _dir: dir,
        }
    }

    fn request(&self, counts: Vec<CompanyCounts>, zero_policy: ZeroPolicy) -> SyncRequest {
        let mut settings = SynthesizeSettings::new(
            self.sandbox.synthesize_url().as_str(),
            SynthesizeCredentials {
                vendor_api_key: SANDBOX_VENDOR_API_KEY.into(),
                partner_api_key: SANDBOX_PARTNER_API_KEY.into(),
            },
        )
        .unwrap();
        settings.http = HttpSettings {
            timeout_secs: 1.0,
            connect_timeout_secs: 1.0,
            max_retries: 10,
            min_backoff_ms: 5,
            max_backoff_ms: 50,
            retry_after_cap_secs: 2,
            ..HttpSettings::default()
        };
        SyncRequest {
            synthesize: settings,
            counts,
            selection: None,
            options: SyncOptions {
                zero_policy,
                ..SyncOptions::default()
            },
            steps: SyncSteps::ALL,
            profile_name: "test".into(),
            rule_text: "the default rule".into(),
            revert: false,
        }
    }

    async fn run(&self, request: &SyncRequest) -> (PlannedSync, SyncReport) {
        let last_sent = self.journal.last_sent().unwrap();
        sync::plan_and_execute(
            request,
            Some(&self.journal),
            &last_sent,
            &|_: SyncUpdate| {},
            &CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    /// (company id, service) → the count Synthesize holds now.
    fn state(&self) -> BTreeMap<(i64, ServiceKind), u64> {
        let handle = self.sandbox.handle();
        let mut out = BTreeMap::new();
        for kind in ServiceKind::ALL {
            if let Some(service) = handle.service_id(kind.service_name()) {
                for ((s, account), count) in handle.last_counts() {
                    if s == service {
                        out.insert((account.parse().unwrap(), kind), count);
                    }
                }
            }
        }
        out
    }
}

fn state_of(rows: &[(i64, u64, u64)]) -> BTreeMap<(i64, ServiceKind), u64> {
    let mut out = BTreeMap::new();
    for &(id, shared, not_shared) in rows {
        out.insert((id, ServiceKind::Shared), shared);
        out.insert((id, ServiceKind::NotShared), not_shared);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_to_zero_posts_zero_only_where_a_non_zero_was_sent_even_for_a_vanished_company() {
    let rig = Rig::new().await;
    let first = vec![company(1, 2, 3), company(2, 0, 4), company(3, 5, 0)];
    let (plan, report) = rig
        .run(&rig.request(first, ZeroPolicy::ChangedToZero))
        .await;
    // Zeros never sent before are skipped: company 2's shared and company 3's not-shared.
    assert_eq!(plan.plan.counts.len(), 4);
    assert_eq!(report.progress.sent, 4);
    assert_eq!(report.progress.accounts_created, 3);

    // Company 1 dropped to zero shared; company 3 vanished from the counts entirely.
    let second = vec![company(1, 0, 3), company(2, 0, 4)];
    let (plan, report) = rig
        .run(&rig.request(second, ZeroPolicy::ChangedToZero))
        .await;
    let zeros: BTreeSet<(i64, ServiceKind)> = plan
        .plan
        .counts
        .iter()
        .filter(|c| c.unit_count == 0)
        .map(|c| (c.company_id, c.service))
        .collect();
    assert_eq!(
        zeros,
        BTreeSet::from([(1, ServiceKind::Shared), (3, ServiceKind::Shared)])
    );
    assert_eq!(report.progress.failed, 0);
    let mut want = state_of(&[(1, 0, 3), (3, 0, 0)]);
    want.insert((2, ServiceKind::NotShared), 4);
    want.remove(&(3, ServiceKind::NotShared));
    assert_eq!(rig.state(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_zero_and_skip_zeros() {
    let rig = Rig::new().await;
    let counts = vec![company(1, 0, 3), company(2, 4, 0)];
    let (_, report) = rig
        .run(&rig.request(counts.clone(), ZeroPolicy::EveryZero))
        .await;
    assert_eq!(report.progress.sent, 4);
    assert_eq!(rig.state(), state_of(&[(1, 0, 3), (2, 4, 0)]));

    let rig = Rig::new().await;
    let (plan, _) = rig
        .run(&rig.request(counts.clone(), ZeroPolicy::SkipZeros))
        .await;
    assert_eq!(plan.plan.counts.len(), 2);
    // Even after a non-zero was sent, SkipZeros never posts the zero.
    let later = vec![company(1, 0, 0), company(2, 0, 1)];
    let (plan, _) = rig.run(&rig.request(later, ZeroPolicy::SkipZeros)).await;
    assert!(
        plan.plan.counts.iter().all(|c| c.unit_count > 0),
        "{:?}",
        plan.plan.counts
    );
    assert_eq!(rig.state().get(&(2, ServiceKind::Shared)), Some(&4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_selected_companies_get_accounts_and_counts() {
    let rig = Rig::new().await;
    let mut request = rig.request(
        vec![company(1, 1, 1), company(2, 2, 2), company(3, 3, 3)],
        ZeroPolicy::ChangedToZero,
    );
    request.selection = Some(BTreeSet::from([2]));
    let (_, report) = rig.run(&request).await;
    assert_eq!(report.progress.accounts_created, 1);
    assert_eq!(rig.state(), state_of(&[(2, 2, 2)]));
    let accounts: Vec<String> = rig
        .sandbox
        .handle()
        .accounts()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(accounts, vec!["2".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_the_rate_limit_reach_the_same_final_state_without_double_creating() {
    let counts: Vec<CompanyCounts> = (1..=60).map(|i| company(i, i as u64 % 4, 3)).collect();
    let want: BTreeMap<(i64, ServiceKind), u64> = counts
        .iter()
        .flat_map(|c| {
            ServiceKind::ALL
                .into_iter()
                .map(move |k| ((c.company_id, k), k.count_in(c)))
        })
        .filter(|(_, n)| *n > 0)
        .collect();

    let rig = Rig::new().await;
    let knobs = rig.sandbox.handle().synthesize_knobs().clone();
    knobs.set_rate_limit(Some(RateLimit {
        per_second: 50.0,
        burst: 5,
    }));
    knobs.set_recurring_faults(Some(RecurringFaults {
        kinds: vec![
            FaultKind::TooManyRequests {
                retry_after_secs: 1,
            },
            FaultKind::Status(500),
            FaultKind::Status(502),
            FaultKind::Status(503),
            FaultKind::Status(504),
            FaultKind::CutBody,
            FaultKind::Slow(Duration::from_millis(1_500)),
        ],
        cadence: FaultCadence::EveryNth(3),
        target: FaultTarget::PathPrefix("/api/vendor-api/service/".into()),
    }));
    // The accounts POST itself fails once after the accounts were stored? It answers 503: the
    // engine re-reads the list and sends only what is missing.
    knobs.push_fault(ScheduledFault::path_prefix(
        FaultKind::Status(503),
        "/api/vendor-api/organization/accounts",
    ));
    let (_, report) = rig
        .run(&rig.request(counts, ZeroPolicy::ChangedToZero))
        .await;
    knobs.set_recurring_faults(None);
    knobs.set_rate_limit(None);
    assert_eq!(report.progress.failed, 0, "{:?}", report.step_failures);
    assert!(
        report.step_failures.is_empty(),
        "{:?}",
        report.step_failures
    );
    assert_eq!(rig.state(), want);
    let accounts = rig.sandbox.handle().accounts();
    let ids: BTreeSet<String> = accounts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids.len(), accounts.len(), "an account was created twice");
    assert_eq!(accounts.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_failed_re_runs_exactly_the_failed_items() {
    let rig = Rig::new().await;
    let counts = vec![company(1, 1, 2), company(2, 3, 4), company(3, 5, 6)];
    let knobs = rig.sandbox.handle().synthesize_knobs().clone();
    // Two count posts answer 400 (not retried): they fail, the rest are sent.
    for _ in 0..2 {
        knobs.push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(400),
            "/api/vendor-api/service/",
        ));
    }
    let (planned, report) = rig
        .run(&rig.request(counts.clone(), ZeroPolicy::ChangedToZero))
        .await;
    assert_eq!(report.progress.failed, 2);
    assert_eq!(report.progress.sent, 4);
    let failed = report.failed_counts();
    assert_eq!(failed.len(), 2);

    let before = rig.sandbox.handle().synthesize_requests().len();
    let retry = plan_of_counts(failed.clone(), &planned);
    let client =
        SynthesizeClient::new(rig.request(vec![], ZeroPolicy::ChangedToZero).synthesize).unwrap();
    let request = rig.request(counts, ZeroPolicy::ChangedToZero);
    let again = sync::execute(
        &client,
        &retry,
        &request,
        Some(&rig.journal),
        &|_| {},
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(again.progress.sent, 2);
    assert_eq!(again.progress.failed, 0);
    // Exactly the two failed items were posted again (plus reading the services).
    let posts = rig.sandbox.handle().synthesize_requests()[before..]
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2);
    assert_eq!(rig.state(), state_of(&[(1, 1, 2), (2, 3, 4), (3, 5, 6)]));

    // The journal has both runs, each with a start, its results and an end whose totals match.
    let readout = rig.journal.read().unwrap();
    let finished: Vec<(u64, u64)> = readout
        .events
        .iter()
        .filter_map(|e| match e.event {
            JournalEvent::RunFinished { sent, failed, .. } => Some((sent, failed)),
            _ => None,
        })
        .collect();
    assert_eq!(finished, vec![(4, 2), (2, 0)]);
    let failures = readout
        .events
        .iter()
        .filter(|e| {
            matches!(
                &e.event,
                JournalEvent::CountResult {
                    outcome: CountOutcome::Failed { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(failures, 2);
    let last_sent = rig.journal.last_sent().unwrap();
    assert_eq!(last_sent.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_sync_promptly_and_the_rerun_completes_it() {
    let rig = Rig::new().await;
    rig.sandbox
        .handle()
        .synthesize_knobs()
        .set_latency(Duration::from_millis(100));
    let counts: Vec<CompanyCounts> = (1..=40).map(|i| company(i, 1, 1)).collect();
    let request = rig.request(counts, ZeroPolicy::ChangedToZero);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let on_update = move |u: SyncUpdate| {
        if let SyncUpdate::Progress(p) = u
            && p.counts_done >= 5
        {
            trigger.cancel();
        }
    };
    let started = std::time::Instant::now();
    let last_sent = rig.journal.last_sent().unwrap();
    let (_, report) = sync::plan_and_execute(
        &request,
        Some(&rig.journal),
        &last_sent,
        &on_update,
        &cancel,
    )
    .await
    .unwrap();
    assert!(report.cancelled);
    assert!(report.progress.counts_done < 80);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Every post the journal says was sent is in Synthesize.
    let state = rig.state();
    for ((company, kind), sent) in rig.journal.last_sent().unwrap() {
        assert_eq!(state.get(&(company, kind)), Some(&sent.unit_count));
    }
    rig.sandbox
        .handle()
        .synthesize_knobs()
        .set_latency(Duration::ZERO);
    let (_, report) = rig.run(&request).await;
    assert!(!report.cancelled && report.progress.failed == 0);
    assert_eq!(rig.state().len(), 80);
}
