//! Response shapes from the public record, through the product's own clients: each fixture in
//! `fixtures/` is a body (and status, and headers where they matter) transcribed from public
//! material, its `source` naming where it comes from. A small server on 127.0.0.1 answers with
//! the fixtures; the ConnectWise and Synthesize clients read them over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use cw_shared_devices::api::connectwise::{
    ConnectWiseClient, ConnectWiseCredentials, ConnectWiseSettings, ConnectWiseTarget,
    PagingStrategy,
};
use cw_shared_devices::api::error::{Service, TransportError};
use cw_shared_devices::api::http::HttpSettings;
use cw_shared_devices::api::synthesize::{
    AccountRequest, CountPostOutcome, IntegrationStatus, ServiceRequest, SynthesizeClient,
    SynthesizeCredentials, SynthesizeSettings,
};
use cw_shared_devices::domain::counting::{CountingOptions, CountingRule};
use cw_shared_devices::engine::preview::fetch_counts;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/fixtures")
}

/// One fixture: where it comes from and what the server answers.
#[derive(Debug, Clone)]
struct Fixture {
    source: String,
    method: String,
    path: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

fn fixture(name: &str) -> Fixture {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text_of = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    Fixture {
        source: text_of("source"),
        method: text_of("method"),
        path: text_of("path"),
        status: u16::try_from(value["status"].as_u64().unwrap_or(0)).unwrap_or(0),
        headers: value["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        body: value["body"].clone(),
    }
}

/// What the server answers: the first route whose method, path and query text match.
#[derive(Clone)]
struct Route {
    method: String,
    path: String,
    query_contains: Option<String>,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl From<Fixture> for Route {
    fn from(f: Fixture) -> Self {
        Route {
            method: f.method,
            path: f.path,
            query_contains: None,
            status: f.status,
            headers: f.headers,
            body: f.body,
        }
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    accept: String,
}

struct ServerState {
    routes: Vec<Route>,
    base: String,
    seen: Mutex<Vec<Seen>>,
}

/// The fixture server on 127.0.0.1; `{base}` in a header is replaced by its own URL.
struct FixtureServer {
    base: String,
    state: Arc<ServerState>,
    stop: CancellationToken,
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl FixtureServer {
    async fn start(routes: Vec<Route>) -> FixtureServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            routes,
            base: format!("{base}/v4_6_release/apis/3.0"),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .ok();
        });
        FixtureServer { base, state, stop }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn answer(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let accept = request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        query: query.clone(),
        accept,
    });
    let route = state.routes.iter().find(|r| {
        r.method.eq_ignore_ascii_case(request.method().as_str())
            && r.path == path
            && r.query_contains.as_ref().is_none_or(|q| query.contains(q))
    });
    let Some(route) = route else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from(
                r#"{"code":"NotFound","message":"no fixture here"}"#,
            ))
            .unwrap();
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(route.status).unwrap())
        .header("content-type", "application/json; charset=utf-8");
    for (name, value) in &route.headers {
        response = response.header(
            name.as_str(),
            HeaderValue::from_str(&value.replace("{base}", &state.base)).unwrap(),
        );
    }
    response.body(Body::from(route.body.to_string())).unwrap()
}

fn quick_http() -> HttpSettings {
    HttpSettings {
        max_retries: 1,
        min_backoff_ms: 5,
        max_backoff_ms: 10,
        retry_after_cap_secs: 1,
        ..HttpSettings::default()
    }
}

fn synthesize(server: &FixtureServer) -> SynthesizeClient {
    let mut settings = SynthesizeSettings::new(
        &server.base,
        SynthesizeCredentials {
            vendor_api_key: "vendor".into(),
            partner_api_key: "partner".into(),
        },
    )
    .unwrap();
    settings.http = quick_http();
    SynthesizeClient::new(settings).unwrap()
}

fn connectwise_settings(server: &FixtureServer) -> ConnectWiseSettings {
    let mut settings = ConnectWiseSettings::new(
        ConnectWiseTarget::site(&server.base).unwrap(),
        ConnectWiseCredentials {
            company_id: "contoso".into(),
            public_key: "public".into(),
            private_key: "private".into(),
            client_id: "5ad1b0c4-0000-4000-8000-5a4db0c5a4db".into(),
        },
    );
    settings.http = quick_http();
    settings
}

fn connectwise(server: &FixtureServer) -> ConnectWiseClient {
    ConnectWiseClient::new(connectwise_settings(server)).unwrap()
}

async fn serve(names: &[&str]) -> FixtureServer {
    FixtureServer::start(names.iter().map(|n| Route::from(fixture(n))).collect()).await
}

/// Every fixture this file reads; the first test checks each names its source and is used.
const FIXTURES: &[&str] = &[
    "synthesize_vendor_both_ids",
    "synthesize_vendor_underscore_id_only",
    "synthesize_vendor_numeric_ids_and_unreadable_items",
    "synthesize_organization_bare",
    "synthesize_organization_wrapped",
    "synthesize_accounts",
    "synthesize_accounts_is_mapped",
    "synthesize_accounts_wrapped",
    "synthesize_create_accounts_201",
    "synthesize_create_service_201",
    "synthesize_count_201",
    "synthesize_status_patch",
    "synthesize_error_unmapped_404",
    "synthesize_error_unit_count_400",
    "synthesize_error_invalid_id_400",
    "synthesize_error_bad_token_401",
    "synthesize_error_anomaly_403",
    "synthesize_error_vendor_profile_404",
    "synthesize_error_exists_409",
    "connectwise_companyinfo",
    "connectwise_count",
    "connectwise_configurations_full_records",
    "connectwise_link_numbered_pages",
    "connectwise_error_api_version",
    "connectwise_error_client_id",
    "connectwise_error_page_size",
    "connectwise_error_not_authenticated",
];

#[test]
fn every_fixture_names_its_source_and_is_read_by_a_test() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(on_disk, listed);
    for name in FIXTURES {
        let f = fixture(name);
        assert!(f.source.len() > 20, "{name} names no source");
        assert!(!f.method.is_empty() && f.path.starts_with('/'), "{name}");
        assert!((200..600).contains(&f.status), "{name}");
    }
}

// ---- Synthesize ----

#[tokio::test]
async fn skus_with_both_ids_decode_and_id_is_used() {
    let server = serve(&["synthesize_vendor_both_ids"]).await;
    let listing = synthesize(&server)
        .list_services(&CancellationToken::new())
        .await
        .unwrap();
    assert!(listing.skipped.is_empty());
    let names: Vec<(&str, &str)> = listing
        .items
        .iter()
        .map(|s| (s.name.as_str(), s.id.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Shared Devices", "65f0a1b2c3d4e5f601234567"),
            ("Not Shared Devices", "65f0a1b2c3d4e5f601234568")
        ]
    );
}

#[tokio::test]
async fn skus_with_only_the_deprecated_id_decode() {
    let server = serve(&["synthesize_vendor_underscore_id_only"]).await;
    let skus = synthesize(&server)
        .services(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(skus[0].id, "65f0a1b2c3d4e5f601234567");
    assert_eq!(skus[1].name, "Not Shared Devices");
}

#[tokio::test]
async fn numeric_ids_decode_and_unreadable_skus_are_skipped_and_reported() {
    let server = serve(&["synthesize_vendor_numeric_ids_and_unreadable_items"]).await;
    let listing = synthesize(&server)
        .list_services(&CancellationToken::new())
        .await
        .unwrap();
    let ids: Vec<&str> = listing.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["101", "102"]);
    assert_eq!(listing.skipped.len(), 2, "{:?}", listing.skipped);
    assert!(listing.skipped[0].reason.contains("no usable id"));
    assert_eq!(listing.skipped[1].index, 3);
}

#[tokio::test]
async fn one_of_our_services_without_an_id_is_fatal_not_skipped() {
    let mut route = Route::from(fixture("synthesize_vendor_both_ids"));
    let sku = &mut route.body["data"]["skus"][0];
    sku.as_object_mut().unwrap().remove("id");
    sku.as_object_mut().unwrap().remove("_id");
    let server = FixtureServer::start(vec![route]).await;
    let err = synthesize(&server)
        .list_services(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Malformed { service: Service::Synthesize, detail } if detail.contains("\"Shared Devices\"")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_integration_is_read_back_bare_or_wrapped() {
    let server = serve(&["synthesize_organization_bare"]).await;
    let data = synthesize(&server)
        .authenticate(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        data.organization_id.as_deref(),
        Some("65f0a1b2c3d4e5f6000000bb")
    );
    assert_eq!(
        data.integration_id.as_deref(),
        Some("65f0a1b2c3d4e5f6000000cc")
    );
    assert_eq!(data.known_status(), Some(IntegrationStatus::Pending));
    assert_eq!(
        data.describe(),
        "status pending, last synced 2025-02-01 02:30 UTC"
    );

    let server = serve(&["synthesize_organization_wrapped"]).await;
    let data = synthesize(&server)
        .authenticate(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(data.known_status(), Some(IntegrationStatus::Inactive));
    assert_eq!(data.describe(), "status inactive, never synced");
}

#[tokio::test]
async fn accounts_decode_bare_wrapped_and_with_is_mapped() {
    for name in ["synthesize_accounts", "synthesize_accounts_wrapped"] {
        let server = serve(&[name]).await;
        let listing = synthesize(&server)
            .list_accounts(&CancellationToken::new())
            .await
            .unwrap();
        let ids: Vec<&str> = listing.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["250", "280"], "{name}");
        assert!(listing.items.iter().all(|a| a.is_mapped.is_none()));
    }
    let server = serve(&["synthesize_accounts_is_mapped"]).await;
    let listing = synthesize(&server)
        .list_accounts(&CancellationToken::new())
        .await
        .unwrap();
    let mapped: Vec<(&str, Option<bool>)> = listing
        .items
        .iter()
        .map(|a| (a.id.as_str(), a.is_mapped))
        .collect();
    assert_eq!(mapped, [("250", Some(true)), ("280", Some(false))]);
    assert_eq!(listing.skipped.len(), 1);
}

#[tokio::test]
async fn creates_answering_201_and_the_other_writes_succeed() {
    let server = serve(&[
        "synthesize_create_accounts_201",
        "synthesize_create_service_201",
        "synthesize_count_201",
        "synthesize_status_patch",
    ])
    .await;
    let client = synthesize(&server);
    let cancel = CancellationToken::new();
    client
        .create_accounts(
            &[AccountRequest {
                name: "Acme, Inc.".into(),
                description: "ConnectWise company 250".into(),
                id: "250".into(),
            }],
            &cancel,
        )
        .await
        .unwrap();
    client
        .create_service(
            &ServiceRequest {
                name: "Shared Devices".into(),
                description: "Total Shared Devices".into(),
                category: "other".into(),
                subcategory: "other".into(),
            },
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .post_count("65f0a1b2c3d4e5f601234567", "250", 3, &cancel)
            .await
            .unwrap(),
        CountPostOutcome::Sent
    );
    client
        .update_status(IntegrationStatus::Active, &cancel)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_documented_errors_are_told_apart() {
    let cancel = CancellationToken::new();
    let server = serve(&["synthesize_error_unmapped_404"]).await;
    let outcome = synthesize(&server)
        .post_count("65f0a1b2c3d4e5f601234567", "1", 3, &cancel)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CountPostOutcome::Unmapped {
            message: "No account map found with id: 1".into()
        }
    );

    let server = serve(&["synthesize_error_unit_count_400"]).await;
    let err = synthesize(&server)
        .post_count("65f0a1b2c3d4e5f601234567", "250", 3, &cancel)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Http {
            service: Service::Synthesize,
            status: 400,
            message: "unitCount must be a number".into()
        }
    );

    let server = serve(&["synthesize_error_invalid_id_400"]).await;
    let err = synthesize(&server)
        .post_count("not-an-id", "250", 3, &cancel)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid Id type"), "{err}");

    let server = serve(&["synthesize_error_bad_token_401"]).await;
    let err = synthesize(&server).authenticate(&cancel).await.unwrap_err();
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

    let server = serve(&["synthesize_error_anomaly_403"]).await;
    let err = synthesize(&server).accounts(&cancel).await.unwrap_err();
    assert!(matches!(err, TransportError::Forbidden { .. }), "{err:?}");

    let server = serve(&["synthesize_error_vendor_profile_404"]).await;
    let err = synthesize(&server).services(&cancel).await.unwrap_err();
    assert!(
        err.to_string().contains("Vendor Profile Not Found"),
        "{err}"
    );

    let server = serve(&["synthesize_error_exists_409"]).await;
    let err = synthesize(&server)
        .create_service(
            &ServiceRequest {
                name: "Shared Devices".into(),
                description: "Total Shared Devices".into(),
                category: "other".into(),
                subcategory: "other".into(),
            },
            &cancel,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
}

// ---- ConnectWise ----

#[tokio::test]
async fn full_configuration_records_decode_and_count_with_the_bad_one_skipped() {
    let server = serve(&[
        "connectwise_companyinfo",
        "connectwise_count",
        "connectwise_configurations_full_records",
    ])
    .await;
    let mut settings = connectwise_settings(&server);
    settings.paging = PagingStrategy::ForwardOnly;
    let client = ConnectWiseClient::new(settings).unwrap();
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let outcome = fetch_counts(&client, &rule, &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    let counts = &outcome.counts;
    assert_eq!(counts.companies.len(), 1);
    let acme = &counts.companies[0];
    assert_eq!(
        (acme.company_id, acme.company_name.as_str()),
        (250, "Acme, Inc.")
    );
    assert_eq!((acme.shared_devices, acme.not_shared_devices), (1, 2));
    assert_eq!(counts.skipped.unparseable, 1);
    assert_eq!(counts.skipped.unparseable_ids, [41884]);
    // The API version is pinned on every authenticated call.
    let seen = server.seen();
    let pages: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.ends_with("/company/configurations"))
        .collect();
    assert_eq!(pages.len(), 1, "no Link header and a short page: one page");
    assert!(pages[0].query.contains("fields="));
    for s in seen.iter().filter(|s| s.path.contains("/apis/3.0/")) {
        assert_eq!(
            s.accept, "application/vnd.connectwise.com+json; version=2022.1",
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn link_headers_are_followed_to_the_next_page() {
    let link = fixture("connectwise_link_numbered_pages");
    let types = "/v4_6_release/apis/3.0/company/configurations/types";
    let routes = vec![
        Route::from(fixture("connectwise_companyinfo")),
        // The fixture's `next` names a configurations page: wherever it points is followed.
        Route {
            method: "GET".into(),
            path: "/v4_6_release/apis/3.0/company/configurations".into(),
            query_contains: Some("page=3".into()),
            status: 200,
            headers: Vec::new(),
            body: serde_json::json!([{"id": 13, "name": "Seat"}]),
        },
        Route {
            method: "GET".into(),
            path: types.into(),
            query_contains: None,
            status: 200,
            headers: link.headers.clone(),
            body: serde_json::json!([{"id": 12, "name": "License"}]),
        },
    ];
    let server = FixtureServer::start(routes).await;
    let names = connectwise(&server)
        .configuration_types(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(names, ["License", "Seat"]);
}

#[tokio::test]
async fn a_rejected_api_version_and_a_missing_client_id_are_told_in_those_words() {
    let cancel = CancellationToken::new();
    let server = serve(&["connectwise_companyinfo", "connectwise_error_api_version"]).await;
    let err = connectwise(&server).system_info(&cancel).await.unwrap_err();
    assert!(
        matches!(&err, TransportError::ApiVersionRejected { version, status: 400, .. } if version == "2022.1"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("does not accept the API version 2022.1")
            && text.contains("ConnectWise API version in the profile"),
        "{text}"
    );

    let server = serve(&["connectwise_companyinfo", "connectwise_error_client_id"]).await;
    let err = connectwise(&server).system_info(&cancel).await.unwrap_err();
    assert!(
        matches!(err, TransportError::BadClientId { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("refused the clientId"), "{err}");

    let server = serve(&["connectwise_companyinfo", "connectwise_error_page_size"]).await;
    let err = connectwise(&server).system_info(&cancel).await.unwrap_err();
    assert_eq!(
        err,
        TransportError::Http {
            service: Service::ConnectWise,
            status: 400,
            message: "pageSize object is invalid".into()
        }
    );

    let server = serve(&[
        "connectwise_companyinfo",
        "connectwise_error_not_authenticated",
    ])
    .await;
    let err = connectwise(&server).system_info(&cancel).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::BadCredentials {
                service: Service::ConnectWise,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
}
