//! The Synthesize client against the sandbox over real HTTP: the token check, the integration
//! status, services, accounts and count posts, retries that are safe and writes that are not
//! repeated, errors in the user's words with no key in them, cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use cw_shared_devices::api::error::{Service, TransportError};
use cw_shared_devices::api::synthesize::{
    AccountRequest, CountPostOutcome, IntegrationStatus, ServiceRequest, SynthesizeClient,
    SynthesizeCredentials, SynthesizeSettings,
};
use cw_shared_devices::sandbox::{
    FaultKind, SANDBOX_PARTNER_API_KEY, SANDBOX_VENDOR_API_KEY, Sandbox, SandboxAccount,
    SandboxConfig, ScheduledFault,
};
use tokio_util::sync::CancellationToken;

use common::http::quick_http;

const ACCOUNTS_PATH: &str = "/api/vendor-api/organization/accounts";

fn client_with(sandbox: &Sandbox, vendor: &str, partner: &str) -> SynthesizeClient {
    let mut settings = SynthesizeSettings::new(
        sandbox.synthesize_url().as_str(),
        SynthesizeCredentials {
            vendor_api_key: vendor.into(),
            partner_api_key: partner.into(),
        },
    )
    .unwrap();
    settings.http = quick_http();
    SynthesizeClient::new(settings).unwrap()
}

fn client(sandbox: &Sandbox) -> SynthesizeClient {
    client_with(sandbox, SANDBOX_VENDOR_API_KEY, SANDBOX_PARTNER_API_KEY)
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

fn account(id: &str) -> AccountRequest {
    AccountRequest {
        name: format!("Company {id}"),
        description: String::new(),
        id: id.into(),
    }
}

/// POSTs to the accounts route that reached the route itself (a fault answered before the
/// route, or a client that went away first, leaves nothing created).
fn account_posts_reaching_the_route(sandbox: &Sandbox) -> usize {
    sandbox
        .handle()
        .synthesize_requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == ACCOUNTS_PATH && r.status == 201)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_reads_the_integration_and_update_status_changes_it() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let cancel = CancellationToken::new();
    let data = client.authenticate(&cancel).await.unwrap();
    assert_eq!(data.name.as_deref(), Some("Sandbox MSP"), "{data:?}");
    assert_eq!(data.known_status(), Some(IntegrationStatus::Pending));
    assert_eq!(data.last_synced_at, None);
    assert_eq!(sandbox.handle().integration_status(), "pending");

    for status in IntegrationStatus::ALL {
        client.update_status(status, &cancel).await.unwrap();
        assert_eq!(sandbox.handle().integration_status(), status.as_str());
        // What is read back is what was set.
        let read = client.authenticate(&cancel).await.unwrap();
        assert_eq!(read.known_status(), Some(status));
    }
    let patches: Vec<String> = sandbox
        .handle()
        .synthesize_requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        patches.last().map(String::as_str),
        Some("/api/vendor-api/organization/status/error")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_the_credentials_message_without_any_key_in_it() {
    let sandbox = sandbox().await;
    let partner = "partner-SECRET-1234";
    let client = client_with(&sandbox, SANDBOX_VENDOR_API_KEY, partner);
    let err = client
        .authenticate(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::BadCredentials {
                service: Service::Synthesize,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("check the vendor and partner API keys"),
        "{text}"
    );
    let token = base64_token(SANDBOX_VENDOR_API_KEY, partner);
    for shown in [text, format!("{err:?}"), format!("{client:?}")] {
        for secret in [partner, SANDBOX_VENDOR_API_KEY, token.as_str()] {
            assert!(!shown.contains(secret), "{shown} shows {secret}");
        }
    }
    // A 401 is not retried: one request.
    assert_eq!(client.stats().requests, 1);
    assert_eq!(sandbox.handle().integration_status(), "pending");
}

fn base64_token(vendor: &str, partner: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{vendor}:{partner}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_listed_by_name_and_a_duplicate_name_is_refused() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let cancel = CancellationToken::new();
    let before = client.services(&cancel).await.unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    let request = ServiceRequest {
        name: "Shared Devices".into(),
        description: "Total Shared Devices".into(),
        category: "other".into(),
        subcategory: "other".into(),
    };
    client.create_service(&request, &cancel).await.unwrap();
    let after = client.services(&cancel).await.unwrap();
    let ours: Vec<_> = after
        .iter()
        .filter(|s| s.name == "Shared Devices")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(
        Some(ours[0].id.clone()),
        sandbox.handle().service_id("Shared Devices")
    );
    let err = client.create_service(&request, &cancel).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_posts_are_sent_unmapped_or_failed_with_the_body_message() {
    let sandbox = sandbox().await;
    let handle = sandbox.handle();
    let service = handle.add_service("Shared Devices", "Total Shared Devices", "other", "other");
    for id in ["1", "2"] {
        handle.add_account(SandboxAccount {
            id: id.into(),
            name: format!("Company {id}"),
            description: String::new(),
        });
    }
    handle.set_account_unmapped("2", true);
    let client = client(&sandbox);
    let cancel = CancellationToken::new();

    assert_eq!(
        client.post_count(&service, "1", 7, &cancel).await.unwrap(),
        CountPostOutcome::Sent
    );
    assert_eq!(handle.last_count(&service, "1"), Some(7));
    // Zero is a count like any other.
    client.post_count(&service, "1", 0, &cancel).await.unwrap();
    assert_eq!(handle.last_count(&service, "1"), Some(0));

    for unmapped in ["2", "3"] {
        match client.post_count(&service, unmapped, 4, &cancel).await {
            Ok(CountPostOutcome::Unmapped { message }) => {
                assert!(message.contains("No account map found"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(handle.last_count(&service, unmapped), None);
    }
    let err = client
        .post_count("no-such-service", "1", 4, &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("No service found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_post_outlasts_every_transient_fault_and_counts_them() {
    let sandbox = sandbox().await;
    let handle = sandbox.handle();
    let service = handle.add_service("Shared Devices", "Total Shared Devices", "other", "other");
    handle.add_account(SandboxAccount {
        id: "1".into(),
        name: "Company 1".into(),
        description: String::new(),
    });
    let faults = [
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
        FaultKind::Status(500),
        FaultKind::Status(502),
        FaultKind::Status(503),
        FaultKind::Status(504),
        FaultKind::CutBody,
        FaultKind::Slow(Duration::from_millis(1_500)),
    ];
    handle
        .synthesize_knobs()
        .push_faults(faults.map(ScheduledFault::next_request));
    let client = client(&sandbox);
    let outcome = client
        .post_count(&service, "1", 12, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome, CountPostOutcome::Sent);
    assert_eq!(handle.last_count(&service, "1"), Some(12));
    let stats = client.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.retries, 7);
    assert_eq!(stats.rate_limited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_creation_is_never_sent_twice_unless_the_server_refused_it_unread() {
    let sandbox = sandbox().await;
    let knobs = sandbox.handle().synthesize_knobs().clone();
    let client = client(&sandbox);
    let cancel = CancellationToken::new();

    // The accounts were stored but the answer was lost: the client does not send them again.
    knobs.push_fault(ScheduledFault::path_prefix(
        FaultKind::CutBody,
        ACCOUNTS_PATH,
    ));
    let err = client
        .create_accounts(&[account("1"), account("2")], &cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Unreachable {
                service: Service::Synthesize,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(account_posts_reaching_the_route(&sandbox), 1);
    assert_eq!(sandbox.handle().accounts().len(), 2);

    // A 500 is not repeated either: the server may have stored them.
    knobs.push_fault(ScheduledFault::path_prefix(
        FaultKind::Status(500),
        ACCOUNTS_PATH,
    ));
    let err = client
        .create_accounts(&[account("3")], &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(sandbox.handle().accounts().len(), 2);

    // A 429 means the request was refused before it was read: safe to send again.
    knobs.push_fault(ScheduledFault::path_prefix(
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
        ACCOUNTS_PATH,
    ));
    client
        .create_accounts(&[account("3")], &cancel)
        .await
        .unwrap();
    let ids: Vec<String> = sandbox
        .handle()
        .accounts()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(account_posts_reaching_the_route(&sandbox), 2);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_slow_request_at_once() {
    let sandbox = sandbox().await;
    sandbox
        .handle()
        .synthesize_knobs()
        .set_latency(Duration::from_secs(20));
    let client = client(&sandbox);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let err = client.services(&cancel).await.unwrap_err();
    assert_eq!(err, TransportError::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}
