//! The ConnectWise client against the sandbox over real HTTP: discovery, paging, the counts,
//! faults and rate limits, errors in the user's words, cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cw_shared_devices::api::connectwise::{
    ConnectWiseClient, ConnectWiseSettings, ConnectWiseTarget, ConnectionStep, FetchProgress,
    PagingStrategy,
};
use cw_shared_devices::api::error::{Service, TransportError};
use cw_shared_devices::api::http::HttpSettings;
use cw_shared_devices::domain::configuration::ConfigurationRecord;
use cw_shared_devices::domain::counting::{CountingOptions, CountingRule, count_records};
use cw_shared_devices::engine::preview::fetch_counts;
use cw_shared_devices::sandbox::{
    FaultCadence, FaultKind, FaultTarget, RateLimit, RecurringFaults, Sandbox, SandboxConfig,
    ScheduledFault,
};
use tokio_util::sync::CancellationToken;

use common::http::quick_http;
use common::tenant::{connectwise_credentials, direct_count};

fn settings(sandbox: &Sandbox, paging: PagingStrategy) -> ConnectWiseSettings {
    let mut s = ConnectWiseSettings::new(
        ConnectWiseTarget::Site(sandbox.cw_site_url()),
        connectwise_credentials(),
    );
    s.paging = paging;
    // A `Retry-After` up to 2 s is honoured here.
    s.http = HttpSettings {
        retry_after_cap_secs: 2,
        ..quick_http()
    };
    s
}

fn no_progress() -> impl Fn(FetchProgress) + Send + Sync {
    |_| {}
}

async fn big_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        seed: 7,
        companies: 120,
        configurations: 5_200,
        cloud_mode: false,
    })
    .await
    .unwrap()
}

fn config_path(sandbox: &Sandbox) -> String {
    format!("{}/company/configurations", sandbox.cw_api_url().path())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_tenant_counts_exactly_as_the_records_say_with_either_paging() {
    let sandbox = big_sandbox().await;
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let expected = direct_count(&sandbox, &rule);
    assert!(
        expected.configurations_counted > 2_000,
        "{}",
        expected.configurations_counted
    );
    assert!(expected.companies.len() > 50);

    for paging in [
        PagingStrategy::IdRanges,
        PagingStrategy::ParallelPages,
        PagingStrategy::ForwardOnly,
    ] {
        sandbox.handle().clear_connectwise_requests();
        let client = ConnectWiseClient::new(settings(&sandbox, paging)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let progress = move |p: FetchProgress| sink.lock().unwrap().push(p);
        let outcome = fetch_counts(&client, &rule, &progress, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(outcome.counts.companies, expected.companies, "{paging:?}");
        assert_eq!(
            outcome.counts.skipped.no_company,
            expected.skipped.no_company
        );

        // No more requests than paging needs, all at pageSize 1000, with the filter and projection.
        let requests = sandbox.handle().connectwise_requests();
        let pages: Vec<_> = requests
            .iter()
            .filter(|r| r.path == config_path(&sandbox))
            .collect();
        let matching = sandbox
            .handle()
            .configurations()
            .iter()
            .filter(|c| {
                c.config_type
                    .as_ref()
                    .and_then(|t| t.name.as_deref())
                    .is_some_and(|n| n.trim_end_matches(' ').eq_ignore_ascii_case("license"))
            })
            .count();
        let needed = matching.div_ceil(1000);
        // The two one-record lookups of the id range are not pages.
        let (edges, pages): (Vec<_>, Vec<_>) =
            pages.into_iter().partition(|r| r.page_size == Some(1));
        match paging {
            PagingStrategy::ParallelPages => assert_eq!(pages.len(), needed, "{paging:?}"),
            // A forward-only chain stops where the `Link` header names no next page.
            PagingStrategy::ForwardOnly => assert!(pages.len() <= needed + 1, "{}", pages.len()),
            // Each of the 4 id slices ends with its own partial page.
            PagingStrategy::IdRanges => {
                assert!(
                    pages.len() >= needed && pages.len() <= needed + 4,
                    "{}",
                    pages.len()
                )
            }
        }
        for page in &pages {
            assert_eq!(page.page_size, Some(1000));
            let query = page.query.as_deref().unwrap_or_default();
            assert!(
                query.contains("conditions=") && query.contains("fields="),
                "{query}"
            );
        }
        let count_calls = requests
            .iter()
            .filter(|r| r.path.ends_with("/count"))
            .count();
        let (want_counts, want_edges) = match paging {
            // The second count checks nothing changed while paging.
            PagingStrategy::ParallelPages => (2, 0),
            PagingStrategy::IdRanges => (1, 2),
            // The count sets the paging cap.
            PagingStrategy::ForwardOnly => (1, 0),
        };
        assert_eq!(
            (count_calls, edges.len()),
            (want_counts, want_edges),
            "{paging:?}"
        );
        // Plus the one companyinfo call of discovery.
        assert_eq!(
            outcome.stats.requests as usize,
            pages.len() + count_calls + edges.len() + 1
        );
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(last.pages_fetched as usize, pages.len());
        assert_eq!(last.configurations_read as usize, matching);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_and_the_rate_limit_leave_the_counts_unchanged() {
    let sandbox = big_sandbox().await;
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let expected = direct_count(&sandbox, &rule);
    for paging in [
        PagingStrategy::IdRanges,
        PagingStrategy::ParallelPages,
        PagingStrategy::ForwardOnly,
    ] {
        let knobs = sandbox.handle().connectwise_knobs().clone();
        knobs.set_rate_limit(Some(RateLimit {
            per_second: 20.0,
            burst: 3,
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
                FaultKind::MoveRecord,
            ],
            cadence: FaultCadence::EveryNth(2),
            target: FaultTarget::PathPrefix(config_path(&sandbox)),
        }));
        // A slow answer once, not among the recurring kinds: with four slices interleaving,
        // a recurring one could meet the same request twice, and a request gives up after its
        // second timeout by design (`TIMEOUT_RETRIES`), which made this test fail now and then.
        knobs.push_fault(ScheduledFault::path_prefix(
            FaultKind::Slow(Duration::from_millis(6_000)),
            config_path(&sandbox),
        ));
        // Small pages, so every kind of fault hits several times.
        let mut s = settings(&sandbox, paging);
        s.page_size = 200;
        // Four slices share a 20/s bucket while every other request faults: allow many retries.
        s.http.max_retries = 30;
        // The slow answer (6 s) must time out, plain ones must not even on a loaded machine: a
        // 1 s deadline made this test fail when a busy CI box delayed a plain page past it.
        s.http.timeout_secs = 3.0;
        let client = ConnectWiseClient::new(s).unwrap();
        let before = knobs.injected_faults();
        let outcome = fetch_counts(&client, &rule, &no_progress(), &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{paging:?}: {e}"));
        knobs.set_recurring_faults(None);
        knobs.set_rate_limit(None);
        assert_eq!(
            knobs.pending_faults(),
            0,
            "{paging:?}: the slow answer was not met"
        );
        assert!(
            knobs.injected_faults() - before >= 8,
            "{}",
            knobs.injected_faults() - before
        );
        assert!(outcome.stats.retries > 0);
        assert!(
            outcome.counts.companies == expected.companies,
            "{paging:?}: counts differ"
        );
        assert_eq!(outcome.counts.skipped.unparseable, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_record_is_skipped_and_reported_and_the_rest_counted() {
    let sandbox = big_sandbox().await;
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    sandbox
        .handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::MalformedRecord,
            config_path(&sandbox),
        ));
    let client = ConnectWiseClient::new(settings(&sandbox, PagingStrategy::ForwardOnly)).unwrap();
    let outcome = fetch_counts(&client, &rule, &no_progress(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.counts.skipped.unparseable, 1);
    let bad = outcome.counts.skipped.unparseable_ids.clone();
    assert_eq!(bad.len(), 1);
    let records: Vec<ConfigurationRecord> = sandbox
        .handle()
        .configurations_json()
        .into_iter()
        .map(|v| serde_json::from_value::<ConfigurationRecord>(v).unwrap())
        .filter(|r| !bad.contains(&r.id))
        .collect();
    assert_eq!(
        outcome.counts.companies,
        count_records(&rule, &records).companies
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_give_the_credentials_message_on_premise_and_cloud() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    for cloud in [false, true] {
        sandbox.handle().set_cloud_mode(cloud);
        let mut s = settings(&sandbox, PagingStrategy::default());
        s.credentials.private_key = "wrong-private-key".into();
        let client = ConnectWiseClient::new(s).unwrap();
        let report = client.test_connection(&CancellationToken::new()).await;
        let (step, err) = report.failed.expect("should fail");
        assert_eq!(step, ConnectionStep::Authenticate);
        let status = if cloud { 404 } else { 401 };
        assert!(
            matches!(
                err,
                TransportError::BadCredentials { service: Service::ConnectWise, status: s, .. } if s == status
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("public and private keys"), "{text}");
        assert!(!text.contains("wrong-private-key"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_connection_reports_discovery_and_version() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = ConnectWiseClient::new(settings(&sandbox, PagingStrategy::default())).unwrap();
    let report = client.test_connection(&CancellationToken::new()).await;
    assert!(report.failed.is_none(), "{report:?}");
    let discovery = report.discovery.unwrap();
    assert_eq!(discovery.codebase, "v4_6_release/");
    assert_eq!(discovery.api_base, sandbox.cw_api_url());
    assert!(!report.version.unwrap().is_empty());
    let types = client
        .configuration_types(&CancellationToken::new())
        .await
        .unwrap();
    assert!(types.iter().any(|t| t == "License"), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rights_unknown_company_and_transport_failures_in_words() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let cancel = CancellationToken::new();

    // 403 on the configurations call.
    sandbox
        .handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(403),
            config_path(&sandbox),
        ));
    let client = ConnectWiseClient::new(settings(&sandbox, PagingStrategy::ForwardOnly)).unwrap();
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let err = fetch_counts(&client, &rule, &no_progress(), &cancel)
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::NoRights);
    assert!(
        err.to_string()
            .contains("Company › Configurations at Inquire level")
    );

    // Unknown company id at companyinfo.
    let mut s = settings(&sandbox, PagingStrategy::default());
    s.credentials.company_id = "nosuchco".into();
    let report = ConnectWiseClient::new(s)
        .unwrap()
        .test_connection(&cancel)
        .await;
    let (step, err) = report.failed.unwrap();
    assert_eq!(step, ConnectionStep::CompanyInfo);
    assert!(
        matches!(err, TransportError::UnknownCompany { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("nosuchco"));

    // DNS: a name that cannot resolve.
    let mut s = settings(&sandbox, PagingStrategy::default());
    s.target = ConnectWiseTarget::site("https://cw.does-not-exist.invalid").unwrap();
    let report = ConnectWiseClient::new(s)
        .unwrap()
        .test_connection(&cancel)
        .await;
    let (_, err) = report.failed.unwrap();
    assert!(
        matches!(
            err,
            TransportError::Dns {
                service: Service::ConnectWise,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("DNS"));

    // TLS: https to a server that speaks plain http.
    let mut s = settings(&sandbox, PagingStrategy::default());
    let mut https = sandbox.cw_site_url();
    https.set_scheme("https").unwrap();
    s.target = ConnectWiseTarget::Site(https);
    let report = ConnectWiseClient::new(s)
        .unwrap()
        .test_connection(&cancel)
        .await;
    let (_, err) = report.failed.unwrap();
    assert!(
        matches!(
            err,
            TransportError::Tls {
                service: Service::ConnectWise,
                ..
            }
        ),
        "{err:?}"
    );

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut s = settings(&sandbox, PagingStrategy::default());
    s.http.max_retries = 1;
    s.target = ConnectWiseTarget::site(&format!("http://127.0.0.1:{port}")).unwrap();
    let report = ConnectWiseClient::new(s)
        .unwrap()
        .test_connection(&cancel)
        .await;
    let (_, err) = report.failed.unwrap();
    assert!(
        matches!(
            err,
            TransportError::Unreachable {
                service: Service::ConnectWise,
                ..
            }
        ),
        "{err:?}"
    );

    // Plain http to a remote host is refused before anything is sent.
    assert!(matches!(
        ConnectWiseTarget::site("http://cw.example.com"),
        Err(cw_shared_devices::api::http::UrlProblem::InsecureHttp { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_fetch_returns_promptly() {
    let sandbox = big_sandbox().await;
    sandbox
        .handle()
        .connectwise_knobs()
        .set_latency(Duration::from_millis(400));
    let mut s = settings(&sandbox, PagingStrategy::ForwardOnly);
    s.http.timeout_secs = 30.0;
    let client = ConnectWiseClient::new(s).unwrap();
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let cancel = CancellationToken::new();
    let pages = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&pages);
    let trigger = cancel.clone();
    let progress = move |p: FetchProgress| {
        seen.store(p.pages_fetched, Ordering::SeqCst);
        trigger.cancel();
    };
    let started = Instant::now();
    let result = fetch_counts(&client, &rule, &progress, &cancel).await;
    assert_eq!(result.unwrap_err(), TransportError::Cancelled);
    assert_eq!(pages.load(Ordering::SeqCst), 1);
    // One page at 400 ms latency, then the cancel: well under the remaining pages' time.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_deleted_and_added_mid_fetch_never_make_another_one_be_skipped() {
    let sandbox = big_sandbox().await;
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let handle = sandbox.handle();
    let before: Vec<ConfigurationRecord> = handle
        .configurations_json()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .filter(|r: &ConfigurationRecord| rule.counts(r) && r.company_id().is_some())
        .collect();
    // After the first page arrives, delete the lowest counted record and add one at the end.
    let victim = before.first().unwrap().id;
    let trigger = handle.clone();
    let fired = Arc::new(AtomicU64::new(0));
    let once = Arc::clone(&fired);
    let progress = move |p: FetchProgress| {
        if p.pages_fetched == 1 && once.fetch_add(1, Ordering::SeqCst) == 0 {
            let mut moved = trigger.remove_configuration(victim).unwrap();
            moved.id = 0;
            trigger.add_configuration(moved).unwrap();
        }
    };
    let mut s = settings(&sandbox, PagingStrategy::IdRanges);
    s.max_in_flight = 1; // pages strictly one after another, so the change lands mid-fetch
    let client = ConnectWiseClient::new(s).unwrap();
    let outcome = fetch_counts(&client, &rule, &progress, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    // Every record that existed all along was read: the result is the tenant before the
    // change, or before plus the moved copy (read again under its new id).
    let after: Vec<ConfigurationRecord> = handle
        .configurations_json()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let mut with_copy = before.clone();
    with_copy.push(after.iter().max_by_key(|r| r.id).unwrap().clone());
    let got = &outcome.counts.companies;
    assert!(
        *got == count_records(&rule, &before).companies
            || *got == count_records(&rule, &with_copy).companies,
        "a record that existed all along was skipped"
    );
}

#[tokio::test]
async fn company_statuses_read_every_page_and_an_odd_item_does_not_sink_the_read() {
    let sandbox = Sandbox::start(SandboxConfig {
        companies: 30,
        configurations: 10,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let h = sandbox.handle();
    // Pages shorter than asked, as servers serve them: `next` is followed to the end.
    h.set_connectwise_behaviour(cw_shared_devices::sandbox::ConnectWiseBehaviour {
        max_records_per_page: Some(7),
        ..Default::default()
    });
    h.set_company_status(253, None);
    let companies_path = format!("{}/company/companies", sandbox.cw_api_url().path());
    // One page has an item that is not a company (`{"id":N,"company":"x"}`: no status).
    h.connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::MalformedRecord,
            companies_path.clone(),
        ));
    let client = ConnectWiseClient::new(settings(&sandbox, PagingStrategy::ForwardOnly)).unwrap();
    let list = client
        .company_statuses(&CancellationToken::new())
        .await
        .unwrap();
    let odd = 250 + 3 * 3; // the middle item of the first page of seven
    assert_eq!(list.companies.len() + list.without_status.len(), 30);
    // Judged by the status list's inactive flag: the renamed active status and one the tenant
    // added are billed, whatever their names say.
    assert_eq!(list.definitions.len(), 5);
    assert_eq!(
        list.inactive_companies(),
        BTreeMap::from([
            (256, "Inactive".to_owned()),
            (262, "Not Approved".to_owned())
        ])
    );
    assert_eq!(list.status_name(268).as_deref(), Some("Credit Hold"));
    assert_eq!(
        list.without_status.iter().copied().collect::<Vec<_>>(),
        vec![253, odd]
    );
    assert_eq!(list.unreadable, 0);
    assert_eq!(list.warnings().len(), 1, "{:?}", list.warnings());
    let asked: Vec<_> = h
        .connectwise_requests()
        .into_iter()
        .filter(|r| r.path == companies_path)
        .collect();
    assert_eq!(asked.len(), 5, "30 companies, 7 a page");
    let query = asked[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("fields=id%2Cstatus%2Fid%2Cstatus%2Fname"),
        "{query}"
    );
    let statuses_path = format!("{companies_path}/statuses");
    let asked: Vec<_> = h
        .connectwise_requests()
        .into_iter()
        .filter(|r| r.path == statuses_path)
        .collect();
    assert_eq!(asked.len(), 1, "five statuses, 7 a page");
    let query = asked[0].query.clone().unwrap_or_default();
    assert!(query.contains("fields=id%2Cname%2CinactiveFlag"), "{query}");

    // An admin who marks "Credit Hold" inactive in ConnectWise changes the judgement with it.
    assert!(h.set_status_inactive("Credit Hold", true));
    let list = client
        .company_statuses(&CancellationToken::new())
        .await
        .unwrap();
    assert!(list.inactive_companies().contains_key(&268));

    // A 403 is the API member's rights, said for companies.
    h.connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(403),
            companies_path.clone(),
        ));
    let e = client
        .company_statuses(&CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e, TransportError::NoRights);

    // An odd item in the status list skips that one status, not the read.
    h.connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::MalformedRecord,
            statuses_path,
        ));
    let list = client
        .company_statuses(&CancellationToken::new())
        .await
        .unwrap();
    // The middle one of five ("Not Approved") is `{"id":3,"company":"x"}`: no flag, so its
    // companies are not excluded for their status, and the run says so.
    assert_eq!(list.definitions.len(), 5, "{:?}", list.definitions);
    assert_eq!(list.definitions[&3].inactive, None);
    assert!(!list.inactive_companies().contains_key(&262));
    assert!(
        list.warnings()
            .iter()
            .any(|w| w.contains("no inactive flag for the company status(es) status 3")),
        "{:?}",
        list.warnings()
    );
}
