//! The embedded sandbox over real loopback HTTP: ConnectWise paging, filters, projection and
//! auth; every Synthesize validation; each fault kind; the rate limit; start and shutdown.

#![cfg(feature = "sandbox")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cw_shared_devices::domain::configuration::{ConfigurationPage, ConfigurationRecord};
use cw_shared_devices::domain::counting::{
    CountingEngine, CountingOptions, CountingRule, count_records,
};
use cw_shared_devices::engine::preview::fetch_counts;
use cw_shared_devices::sandbox::*;
use serde_json::{Value, json};
use url::Url;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn basic(company: &str, public: &str, private: &str) -> String {
    let raw = format!("{company}+{public}:{private}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn api(sb: &Sandbox, path_and_query: &str) -> Url {
    Url::parse(&format!("{}/{path_and_query}", sb.cw_api_url())).unwrap()
}

fn cw(client: &reqwest::Client, url: Url) -> reqwest::RequestBuilder {
    client
        .get(url)
        .header(
            "Authorization",
            basic(SANDBOX_COMPANY_ID, SANDBOX_PUBLIC_KEY, SANDBOX_PRIVATE_KEY),
        )
        .header("clientId", SANDBOX_CLIENT_ID)
        .header("Accept", "application/json")
}

async fn start(configurations: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        configurations,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// The `Link` header by rel.
fn links(response: &reqwest::Response) -> BTreeMap<String, Url> {
    let Some(value) = response.headers().get("link") else {
        return BTreeMap::new();
    };
    value
        .to_str()
        .unwrap()
        .split(',')
        .map(|part| {
            let (target, rel) = part.split_once(';').unwrap();
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            let rel = rel.trim().trim_start_matches("rel=").trim_matches('"');
            (rel.to_owned(), Url::parse(target).unwrap())
        })
        .collect()
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn get_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

// ---------------------------------------------------------------- start, bind, shutdown

#[tokio::test]
async fn servers_bind_loopback_on_ephemeral_ports_and_stop_when_dropped() {
    let sb = start(10).await;
    for url in [sb.cw_site_url(), sb.cw_api_url(), sb.synthesize_url()] {
        assert_eq!(url.scheme(), "http");
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert!(url.port().unwrap() > 0);
    }
    assert_eq!(sb.cw_api_url().path(), "/v4_6_release/apis/3.0");
    assert_ne!(sb.cw_site_url().port(), sb.synthesize_url().port());
    let addr = format!("127.0.0.1:{}", sb.cw_site_url().port().unwrap());
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
    drop(sb);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still listening after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_background_sandbox_serves_without_a_runtime_and_stops_when_dropped() {
    let sb = Sandbox::start_in_background(SandboxConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = sb.cw_site_url().join("login/companyinfo/sandbox").unwrap();
    let status =
        runtime.block_on(async { client().get(url.clone()).send().await.unwrap().status() });
    assert_eq!(status.as_u16(), 200);
    assert_eq!(sb.handle().configuration_count(), 600);
    drop(sb);
    // The background thread is joined on drop: the port is closed now.
    let refused = runtime.block_on(async { client().get(url).send().await.is_err() });
    assert!(refused);
}

#[tokio::test]
async fn the_default_tenant_is_the_same_every_run() {
    let a = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let b = Sandbox::start(SandboxConfig::default()).await.unwrap();
    assert_eq!(a.handle().configurations(), b.handle().configurations());
    let c = Sandbox::start(SandboxConfig {
        seed: 2,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    assert_ne!(a.handle().configurations(), c.handle().configurations());
}

// ---------------------------------------------------------------- discovery and auth

#[tokio::test]
async fn companyinfo_names_the_codebase_and_refuses_unknown_companies() {
    let sb = start(5).await;
    let c = client();
    let url = sb.cw_site_url().join("login/companyinfo/SandBox").unwrap();
    let (status, body) = get_json(c.get(url)).await;
    assert_eq!(status, 200);
    assert_eq!(body["Codebase"], "v4_6_release/");
    assert_eq!(body["CompanyID"], SANDBOX_COMPANY_ID);
    assert_eq!(body["IsCloud"], false);
    for key in ["CompanyName", "VersionCode", "VersionNumber", "SiteUrl"] {
        assert!(body[key].is_string(), "{key}");
    }
    let url = sb.cw_site_url().join("login/companyinfo/nobody").unwrap();
    assert_eq!(c.get(url).send().await.unwrap().status().as_u16(), 404);
    sb.handle().set_cloud_mode(true);
    let url = sb.cw_site_url().join("login/companyinfo/sandbox").unwrap();
    assert_eq!(get_json(c.get(url)).await.1["IsCloud"], true);
}

#[tokio::test]
async fn bad_credentials_are_401_on_premise_and_404_in_cloud_mode() {
    let sb = start(5).await;
    let c = client();
    let url = api(&sb, "system/info");
    let (status, body) = get_json(cw(&c, url.clone())).await;
    assert_eq!(status, 200);
    assert!(body["version"].as_str().unwrap().starts_with("v2025.1"));
    assert_eq!(body["isCloud"], false);
    assert!(body["serverTimeZone"].is_string());

    let wrong = [
        basic(SANDBOX_COMPANY_ID, SANDBOX_PUBLIC_KEY, "wrong"),
        basic("other", SANDBOX_PUBLIC_KEY, SANDBOX_PRIVATE_KEY),
        basic(SANDBOX_CLIENT_ID, SANDBOX_PUBLIC_KEY, SANDBOX_PRIVATE_KEY),
        "Bearer abc".to_owned(),
    ];
    for auth in &wrong {
        let (status, body) = get_json(
            c.get(url.clone())
                .header("Authorization", auth)
                .header("clientId", SANDBOX_CLIENT_ID),
        )
        .await;
        assert_eq!(status, 401, "{auth}");
        assert_eq!(body["code"], "Unauthorized");
    }
    let (status, _) = get_json(c.get(url.clone()).header("clientId", SANDBOX_CLIENT_ID)).await;
    assert_eq!(status, 401);

    let (status, body) = get_json(c.get(url.clone()).header(
        "Authorization",
        basic(SANDBOX_COMPANY_ID, SANDBOX_PUBLIC_KEY, SANDBOX_PRIVATE_KEY),
    ))
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("clientId"));

    let (status, _) = get_json(
        c.get(url.clone())
            .header(
                "Authorization",
                basic(SANDBOX_COMPANY_ID, SANDBOX_PUBLIC_KEY, SANDBOX_PRIVATE_KEY),
            )
            .header("clientId", "not-the-client-id"),
    )
    .await;
    assert_eq!(status, 401);

    sb.handle().set_cloud_mode(true);
    for auth in &wrong {
        let response = c
            .get(url.clone())
            .header("Authorization", auth)
            .header("clientId", SANDBOX_CLIENT_ID)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);
    }
    assert_eq!(get_json(cw(&c, url)).await.1["isCloud"], true);
}

#[tokio::test]
async fn cloud_mode_can_be_set_at_start() {
    let sb = Sandbox::start(SandboxConfig {
        cloud_mode: true,
        configurations: 3,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    assert!(sb.handle().cloud_mode());
    let response = client()
        .get(api(&sb, "company/configurations"))
        .header("clientId", SANDBOX_CLIENT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

// ---------------------------------------------------------------- paging

#[tokio::test]
async fn numbered_pages_default_to_25_with_link_headers_to_the_last_page() {
    let sb = start(600).await;
    let c = client();
    let response = cw(&c, api(&sb, "company/configurations"))
        .send()
        .await
        .unwrap();
    let l = links(&response);
    let body: Value = response.json().await.unwrap();
    let all_ids: Vec<i64> = sb.handle().configurations().iter().map(|c| c.id).collect();
    assert_eq!(ids(&body), all_ids[..25]);
    assert_eq!(l.keys().cloned().collect::<Vec<_>>(), vec!["last", "next"]);
    assert_eq!(query_param(&l["next"], "page").as_deref(), Some("2"));
    assert_eq!(query_param(&l["last"], "page").as_deref(), Some("24"));
    assert_eq!(l["next"].host_str(), Some("127.0.0.1"));
    assert_eq!(
        l["next"].path(),
        "/v4_6_release/apis/3.0/company/configurations"
    );

    let response = cw(&c, api(&sb, "company/configurations?page=2"))
        .send()
        .await
        .unwrap();
    let l = links(&response);
    assert_eq!(
        l.keys().cloned().collect::<Vec<_>>(),
        vec!["first", "last", "next", "prev"]
    );
    assert_eq!(query_param(&l["prev"], "page").as_deref(), Some("1"));
    assert_eq!(query_param(&l["first"], "page").as_deref(), Some("1"));

    let response = cw(&c, api(&sb, "company/configurations?page=24"))
        .send()
        .await
        .unwrap();
    let l = links(&response);
    assert_eq!(l.keys().cloned().collect::<Vec<_>>(), vec!["first", "prev"]);
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&body), all_ids[575..]);

    let (status, body) = get_json(cw(&c, api(&sb, "company/configurations?page=25"))).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn following_next_links_keeps_every_parameter_and_reads_each_record_once() {
    let sb = start(600).await;
    let c = client();
    let conditions = r#"type/name in ("License","Seat")"#;
    let mut url = api(&sb, "company/configurations");
    url.query_pairs_mut()
        .append_pair("conditions", conditions)
        .append_pair("fields", "id,type/name")
        .append_pair("pageSize", "7");
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut last_len;
    loop {
        let response = cw(&c, url.clone()).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let l = links(&response);
        let body: Value = response.json().await.unwrap();
        last_len = body.as_array().unwrap().len();
        seen.extend(ids(&body));
        pages += 1;
        match l.get("next") {
            Some(next) => {
                assert_eq!(query_param(next, "conditions").as_deref(), Some(conditions));
                assert_eq!(query_param(next, "fields").as_deref(), Some("id,type/name"));
                assert_eq!(query_param(next, "pageSize").as_deref(), Some("7"));
                url = next.clone();
            }
            None => break,
        }
    }
    let expected: Vec<i64> = sb
        .handle()
        .configurations()
        .iter()
        .filter(|c| {
            let t = c.config_type.as_ref().unwrap().name.as_deref().unwrap();
            let t = t.trim_end().to_lowercase();
            t == "license" || t == "seat"
        })
        .map(|c| c.id)
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, expected.len().div_ceil(7));
    assert_eq!(last_len, expected.len() - (pages - 1) * 7);
    let (_, count) = get_json(cw(
        &c,
        Url::parse_with_params(
            api(&sb, "company/configurations/count").as_str(),
            [("conditions", conditions)],
        )
        .unwrap(),
    ))
    .await;
    assert_eq!(count, json!({ "count": expected.len() }));
}

#[tokio::test]
async fn page_size_is_capped_at_1000_and_bad_paging_is_400() {
    let sb = start(2500).await;
    let c = client();
    let response = cw(
        &c,
        api(&sb, "company/configurations?pageSize=5000&fields=id"),
    )
    .send()
    .await
    .unwrap();
    let l = links(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1000);
    assert_eq!(query_param(&l["last"], "page").as_deref(), Some("3"));
    assert_eq!(query_param(&l["next"], "pageSize").as_deref(), Some("5000"));
    let (_, body) = get_json(cw(
        &c,
        api(&sb, "company/configurations?pageSize=1000&page=3&fields=id"),
    ))
    .await;
    assert_eq!(body.as_array().unwrap().len(), 500);
    for bad in [
        "pageSize=0",
        "pageSize=-5",
        "pageSize=abc",
        "page=0",
        "page=x",
    ] {
        let (status, body) =
            get_json(cw(&c, api(&sb, &format!("company/configurations?{bad}")))).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["code"], "InvalidObject");
    }
    let (_, count) = get_json(cw(&c, api(&sb, "company/configurations/count"))).await;
    assert_eq!(count["count"], 2500);
}

#[tokio::test]
async fn forward_only_pages_follow_page_id_and_refuse_order_by() {
    let sb = start(130).await;
    let c = client();
    let mut url = api(
        &sb,
        "company/configurations?pageSize=50&fields=id,company/name",
    );
    let mut seen = Vec::new();
    loop {
        let response = cw(&c, url.clone())
            .header("pagination-type", "forward-only")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let l = links(&response);
        let body: Value = response.json().await.unwrap();
        seen.extend(ids(&body));
        assert!(l.keys().all(|k| k == "next"), "{l:?}");
        match l.get("next") {
            Some(next) => {
                assert_eq!(
                    query_param(next, "pageId"),
                    Some(seen.last().unwrap().to_string())
                );
                assert_eq!(query_param(next, "pageSize").as_deref(), Some("50"));
                url = next.clone();
            }
            None => break,
        }
    }
    let all: Vec<i64> = sb.handle().configurations().iter().map(|c| c.id).collect();
    assert_eq!(seen, all);

    let (status, body) = get_json(
        cw(&c, api(&sb, "company/configurations?orderBy=id%20desc"))
            .header("pagination-type", "forward-only"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("orderBy"));
    let (status, _) = get_json(
        cw(&c, api(&sb, "company/configurations?pageId=abc"))
            .header("pagination-type", "forward-only"),
    )
    .await;
    assert_eq!(status, 400);
}

// ---------------------------------------------------------------- conditions, projection, order

fn config(
    id: i64,
    type_name: &str,
    company: Option<(i64, &str)>,
    contact: Option<&str>,
) -> SandboxConfiguration {
    let mut c = SandboxConfiguration::new(id, format!("Device {id}"));
    c.config_type = Some(SandboxRef::new(1, type_name));
    c.company = company.map(|(id, name)| SandboxCompany {
        id,
        identifier: format!("C{id}"),
        name: name.to_owned(),
    });
    c.contact = contact.map(|n| SandboxRef::new(id + 100, n));
    c
}

async fn crafted() -> Sandbox {
    let sb = start(0).await;
    let h = sb.handle();
    h.replace_configurations(vec![
        config(1, "License", Some((10, "Acme, Inc.")), Some("Shared")),
        config(2, "License ", Some((10, "Acme, Inc.")), Some("Not Shared")),
        config(3, " License", Some((11, "Say \"Hi\" Ltd")), None),
        config(
            4,
            "LICENSE",
            Some((11, "Say \"Hi\" Ltd")),
            Some("Front Desk (shared)"),
        ),
        config(5, "Licence", None, Some("SHARED Printer")),
        config(6, "Licenses", Some((12, "Back\\slash")), Some("Alice")),
        config(7, "Laptop", Some((12, "Back\\slash")), Some("Bob")),
        config(8, "license", Some((13, "株式会社サンプル")), Some("Shared")),
    ]);
    h.modify_configuration(7, |c| c.active_flag = false);
    h.modify_configuration(6, |c| c.contact.as_mut().unwrap().name = None);
    sb
}

async fn filter(sb: &Sandbox, conditions: &str) -> Result<Vec<i64>, (u16, Value)> {
    let url = Url::parse_with_params(
        api(sb, "company/configurations").as_str(),
        [("conditions", conditions), ("fields", "id")],
    )
    .unwrap();
    let (status, body) = get_json(cw(&client(), url)).await;
    if status == 200 {
        Ok(ids(&body))
    } else {
        Err((status, body))
    }
}

#[tokio::test]
async fn conditions_compare_like_sql_server() {
    let sb = crafted().await;
    let cases: &[(&str, &[i64])] = &[
        (r#"type/name="License""#, &[1, 2, 4, 8]),
        (r#"type/name = "license ""#, &[1, 2, 4, 8]),
        (r#"type/name=" License""#, &[3]),
        (r#"type/name in ("License","Licence")"#, &[1, 2, 4, 5, 8]),
        (r#"type/name not in ("License")"#, &[3, 5, 6, 7]),
        (r#"type/name like "lic%""#, &[1, 2, 4, 5, 6, 8]),
        (r#"type/name LIKE "%ence""#, &[5]),
        (r#"contact/name contains "SHARED""#, &[1, 2, 4, 5, 8]),
        (r#"contact/name like "%shared%""#, &[1, 2, 4, 5, 8]),
        (r#"contact/name != "Shared""#, &[2, 4, 5, 7]),
        ("contact/name = null", &[3, 6]),
        ("company/id = null", &[5]),
        ("company/id >= 11 and company/id < 13", &[3, 4, 6, 7]),
        (
            r#"(type/name = "Laptop" or contact/name = "Alice") AND activeFlag = false"#,
            &[7],
        ),
        (
            r#"type/name = "License" and (company/id = 10 or company/name = "say \"hi\" LTD")"#,
            &[1, 2, 4],
        ),
        (r#"company/name = "back\\slash""#, &[6, 7]),
        (r#"company/name = "株式会社サンプル""#, &[8]),
        (
            r#"not (type/name = "License") and company/id != null"#,
            &[3, 6, 7],
        ),
        ("activeFlag = TRUE and id <= 2", &[1, 2]),
        (
            "lastUpdated >= [2024-01-01T00:00:00Z]",
            &[1, 2, 3, 4, 5, 6, 7, 8],
        ),
        ("", &[1, 2, 3, 4, 5, 6, 7, 8]),
    ];
    for (conditions, expected) in cases {
        assert_eq!(
            filter(&sb, conditions).await.unwrap(),
            expected.to_vec(),
            "{conditions}"
        );
    }
}

#[tokio::test]
async fn unparseable_conditions_are_400_invalid_object_with_a_reason() {
    let sb = crafted().await;
    for bad in [
        "type/name =",
        r#"type/name = "unterminated"#,
        r#"type/name = 'single'"#,
        "nosuch = 1",
        r#"(type/name = "x""#,
        r#"type/name = "x" type/name = "y""#,
        "company/id = \"ten\"",
        "type/name ~ \"x\"",
    ] {
        let (status, body) = filter(&sb, bad).await.unwrap_err();
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["code"], "InvalidObject");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("conditions: "),
            "{bad}: {body}"
        );
    }
    let url = Url::parse_with_params(
        api(&sb, "company/configurations/count").as_str(),
        [("conditions", "type/name ==")],
    )
    .unwrap();
    assert_eq!(get_json(cw(&client(), url)).await.0, 400);
}

#[tokio::test]
async fn fields_keep_only_the_asked_paths_with_nested_objects() {
    let sb = crafted().await;
    let url = Url::parse_with_params(
        api(&sb, "company/configurations").as_str(),
        [("fields", "id,type/name,company/id,contact/name")],
    )
    .unwrap();
    let (_, body) = get_json(cw(&client(), url)).await;
    let records = body.as_array().unwrap();
    assert_eq!(
        records[0],
        json!({"id":1,"type":{"name":"License"},"company":{"id":10},"contact":{"name":"Shared"}})
    );
    assert_eq!(
        records[2],
        json!({"id":3,"type":{"name":" License"},"company":{"id":11}})
    );
    assert_eq!(
        records[4],
        json!({"id":5,"type":{"name":"Licence"},"contact":{"name":"SHARED Printer"}})
    );
    // A contact without a name keeps an empty object, as the server projects it.
    assert_eq!(records[5]["contact"], json!({}));
    let page = ConfigurationPage::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(page.records.len(), 8);
    assert!(page.unparseable.is_empty());
}

#[tokio::test]
async fn order_by_sorts_on_nested_paths_and_ids_break_ties() {
    let sb = crafted().await;
    let url = Url::parse_with_params(
        api(&sb, "company/configurations").as_str(),
        [("orderBy", "company/name desc, id desc"), ("fields", "id")],
    )
    .unwrap();
    let (_, body) = get_json(cw(&client(), url)).await;
    // 株式会社サンプル > Say "Hi" > Back\slash > Acme > (no company last in desc)
    assert_eq!(ids(&body), vec![8, 4, 3, 7, 6, 2, 1, 5]);
    let url = Url::parse_with_params(
        api(&sb, "company/configurations").as_str(),
        [("orderBy", "bogus asc")],
    )
    .unwrap();
    assert_eq!(get_json(cw(&client(), url)).await.0, 400);
}

#[tokio::test]
async fn full_records_match_the_handle_json_and_parse_as_configurations() {
    let sb = start(60).await;
    let url = api(&sb, "company/configurations?pageSize=1000");
    let response = cw(&client(), url).send().await.unwrap();
    let bytes = response.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let from_handle = sb.handle().configurations_json();
    assert_eq!(body.as_array().unwrap(), &from_handle);
    let average = bytes.len() / 60;
    assert!((1800..=3500).contains(&average), "{average}");
    let page = ConfigurationPage::parse(&bytes).unwrap();
    let direct: Vec<ConfigurationRecord> = from_handle
        .iter()
        .map(|v| serde_json::from_value(v.clone()).unwrap())
        .collect();
    assert_eq!(page.records, direct);
}

#[tokio::test]
async fn configuration_changes_show_in_the_next_request() {
    let sb = start(30).await;
    let h = sb.handle();
    let c = client();
    let count = |sb: &Sandbox| {
        let url = api(
            sb,
            "company/configurations/count?conditions=type%2Fname%3D%22Server%22",
        );
        let c = c.clone();
        async move { get_json(cw(&c, url)).await.1["count"].as_u64().unwrap() }
    };
    let before = count(&sb).await;
    let id = h
        .add_configuration(config(0, "Server", Some((1, "New Co")), None))
        .unwrap();
    assert_eq!(count(&sb).await, before + 1);
    h.modify_configuration(id, |c| c.config_type = Some(SandboxRef::new(11, "Laptop")));
    assert_eq!(count(&sb).await, before);
    assert!(h.remove_configuration(id).is_some());
    assert_eq!(h.configuration_count(), 30);
    assert!(matches!(
        h.add_configuration(config(h.configurations()[0].id, "X", None, None)),
        Err(SandboxError::DuplicateConfigurationId(_))
    ));
}

#[tokio::test]
async fn configuration_types_are_listed_and_paged() {
    let sb = start(1).await;
    let c = client();
    let (status, body) = get_json(cw(
        &c,
        api(
            &sb,
            "company/configurations/types?fields=id,name&pageSize=1000",
        ),
    ))
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"License") && names.contains(&"License "));
    assert_eq!(body[0], json!({"id":1,"name":"License"}));
    let response = cw(&c, api(&sb, "company/configurations/types?pageSize=5"))
        .send()
        .await
        .unwrap();
    assert!(links(&response).contains_key("next"));
    let (_, body) = get_json(cw(
        &c,
        api(
            &sb,
            "company/configurations/types?conditions=name%20like%20%22lic%25%22&fields=id",
        ),
    ))
    .await;
    // " License" has a leading space, so `like "lic%"` leaves it out.
    assert_eq!(body.as_array().unwrap().len(), 6);
}

// ---------------------------------------------------------------- faults and rate limit

#[tokio::test]
async fn each_status_fault_answers_once_then_the_service_recovers() {
    let sb = start(10).await;
    let knobs = sb.handle().connectwise_knobs().clone();
    let c = client();
    let url = api(&sb, "company/configurations");
    knobs.push_faults([
        ScheduledFault::next_request(FaultKind::TooManyRequests {
            retry_after_secs: 7,
        }),
        ScheduledFault::next_request(FaultKind::Status(500)),
        ScheduledFault::next_request(FaultKind::Status(502)),
        ScheduledFault::next_request(FaultKind::Status(503)),
        ScheduledFault::next_request(FaultKind::Status(504)),
    ]);
    let response = cw(&c, url.clone()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    for code in [500, 502, 503, 504] {
        assert_eq!(
            cw(&c, url.clone()).send().await.unwrap().status().as_u16(),
            code
        );
    }
    assert_eq!(cw(&c, url).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(knobs.pending_faults(), 0);
    let faults: Vec<Option<FaultKind>> = sb
        .handle()
        .connectwise_requests()
        .iter()
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        faults[0],
        Some(FaultKind::TooManyRequests {
            retry_after_secs: 7
        })
    );
    assert_eq!(faults[5], None);
}

#[tokio::test]
async fn a_fault_for_a_path_prefix_waits_for_that_path() {
    let sb = start(10).await;
    let knobs = sb.handle().connectwise_knobs().clone();
    let c = client();
    knobs.push_fault(ScheduledFault::path_prefix(
        FaultKind::Status(503),
        "/v4_6_release/apis/3.0/company/configurations/count",
    ));
    assert_eq!(
        cw(&c, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        cw(&c, api(&sb, "company/configurations"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(knobs.pending_faults(), 1);
    assert_eq!(
        cw(&c, api(&sb, "company/configurations/count"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
}

#[tokio::test]
async fn a_cut_body_is_a_body_error_for_the_client() {
    let sb = start(50).await;
    sb.handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::next_request(FaultKind::CutBody));
    let response = cw(&client(), api(&sb, "company/configurations"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.bytes().await.is_err());
    let log = sb.handle().connectwise_requests();
    assert_eq!(log[0].fault, Some(FaultKind::CutBody));
    assert!(log[0].response_bytes > 0);
}

#[tokio::test]
async fn a_malformed_record_is_set_aside_by_the_page_parser() {
    let sb = start(50).await;
    sb.handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::next_request(FaultKind::MalformedRecord));
    let bytes = cw(&client(), api(&sb, "company/configurations?pageSize=10"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let page = ConfigurationPage::parse(&bytes).unwrap();
    assert_eq!(page.records.len(), 9);
    assert_eq!(page.unparseable.len(), 1);
    let expected = sb.handle().configurations()[5].id;
    assert_eq!(page.unparseable[0].id, Some(expected));
}

#[tokio::test]
async fn a_slow_answer_outlasts_the_client_timeout() {
    let sb = start(5).await;
    sb.handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::next_request(FaultKind::Slow(
            Duration::from_secs(5),
        )));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = cw(&impatient, api(&sb, "system/info"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The next request is served normally.
    assert_eq!(
        cw(&impatient, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_moved_record_is_served_again_on_the_next_page_and_nothing_is_lost() {
    let sb = start(40).await;
    let c = client();
    let knobs = sb.handle().connectwise_knobs().clone();
    knobs.push_fault(ScheduledFault::next_request(FaultKind::MoveRecord));
    // Page 1 does not take it (there is no previous page).
    let (_, first) = get_json(cw(
        &c,
        api(&sb, "company/configurations?pageSize=10&fields=id"),
    ))
    .await;
    assert_eq!(knobs.pending_faults(), 1);
    let (_, second) = get_json(cw(
        &c,
        api(&sb, "company/configurations?pageSize=10&page=2&fields=id"),
    ))
    .await;
    let first = ids(&first);
    let second = ids(&second);
    assert_eq!(second.len(), 11);
    assert_eq!(second[0], *first.last().unwrap());
    let all: Vec<i64> = sb.handle().configurations().iter().map(|c| c.id).collect();
    assert_eq!(second[1..], all[10..20]);

    // Forward-only: the record with id pageId comes again.
    knobs.push_fault(ScheduledFault::next_request(FaultKind::MoveRecord));
    let url = api(
        &sb,
        &format!(
            "company/configurations?pageSize=10&fields=id&pageId={}",
            all[9]
        ),
    );
    let (_, page) = get_json(cw(&c, url).header("pagination-type", "forward-only")).await;
    assert_eq!(ids(&page)[..2], [all[9], all[10]]);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_in_whole_seconds() {
    let sb = start(5).await;
    let h = sb.handle();
    h.connectwise_knobs().set_rate_limit(Some(RateLimit {
        per_second: 0.2,
        burst: 2,
    }));
    let c = client();
    let statuses: Vec<reqwest::Response> = {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(cw(&c, api(&sb, "system/info")).send().await.unwrap());
        }
        out
    };
    assert_eq!(statuses[0].status().as_u16(), 200);
    assert_eq!(statuses[1].status().as_u16(), 200);
    assert_eq!(statuses[2].status().as_u16(), 429);
    let retry: u64 = statuses[2].headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(h.connectwise_requests()[2].status, 429);
    h.connectwise_knobs().set_rate_limit(None);
    assert_eq!(
        cw(&c, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // The Synthesize side has its own bucket.
    h.synthesize_knobs().set_rate_limit(Some(RateLimit {
        per_second: 0.2,
        burst: 1,
    }));
    let syn = |c: &reqwest::Client| {
        c.get(
            sb.synthesize_url()
                .join("api/vendor-api/organization")
                .unwrap(),
        )
        .header(
            "GRADIENT-TOKEN",
            token(SANDBOX_VENDOR_API_KEY, SANDBOX_PARTNER_API_KEY),
        )
    };
    assert_eq!(syn(&c).send().await.unwrap().status().as_u16(), 200);
    let limited = syn(&c).send().await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        cw(&c, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn requests_are_recorded_with_their_paging_and_can_be_cleared() {
    let sb = start(30).await;
    let c = client();
    cw(&c, api(&sb, "company/configurations?page=2&pageSize=10"))
        .send()
        .await
        .unwrap();
    let log = sb.handle().connectwise_requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/v4_6_release/apis/3.0/company/configurations");
    assert_eq!(log[0].query.as_deref(), Some("page=2&pageSize=10"));
    assert_eq!((log[0].page, log[0].page_size), (Some(2), Some(10)));
    assert_eq!(log[0].status, 200);
    assert!(log[0].response_bytes > 10 * 1000);
    sb.handle().clear_connectwise_requests();
    assert!(sb.handle().connectwise_requests().is_empty());
    sb.handle()
        .connectwise_knobs()
        .set_latency(Duration::from_millis(30));
    assert_eq!(
        sb.handle().connectwise_knobs().latency(),
        Duration::from_millis(30)
    );
    assert_eq!(
        cw(&c, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

/// A small paging client for the fault test: retries anything that fails, as the product must.
async fn fetch_everything(sb: &Sandbox, page_size: usize) -> (CountingEngine, usize) {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let total = sb.handle().configuration_count();
    let mut engine = CountingEngine::new(CountingRule::new(&CountingOptions::default()).unwrap());
    let mut retries = 0;
    for page in 1..=total.div_ceil(page_size) {
        let url = api(
            sb,
            &format!("company/configurations?page={page}&pageSize={page_size}"),
        );
        loop {
            let attempt = async {
                let response = cw(&c, url.clone()).send().await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                let bytes = response.bytes().await.ok()?;
                ConfigurationPage::parse(&bytes).ok()
            };
            match attempt.await {
                Some(page) => {
                    engine.add_page(&page);
                    break;
                }
                None => {
                    retries += 1;
                    assert!(retries < 100, "too many retries");
                }
            }
        }
    }
    (engine, retries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_on_over_a_5000_configuration_fetch_still_counts_right() {
    let sb = start(5000).await;
    let h = sb.handle();
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let direct: Vec<ConfigurationRecord> = h
        .configurations_json()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let expected = count_records(&rule, &direct);
    h.connectwise_knobs()
        .set_recurring_faults(Some(RecurringFaults {
            kinds: vec![
                FaultKind::TooManyRequests {
                    retry_after_secs: 1,
                },
                FaultKind::Status(500),
                FaultKind::MoveRecord,
                FaultKind::Status(502),
                FaultKind::CutBody,
                FaultKind::Status(503),
                FaultKind::MalformedRecord,
                FaultKind::Status(504),
                FaultKind::Slow(Duration::from_secs(3)),
            ],
            cadence: FaultCadence::EveryNth(2),
            target: FaultTarget::AnyRequest,
        }));
    let (engine, retries) = fetch_everything(&sb, 250).await;
    let result = engine.finish();
    assert!(retries >= 5, "{retries}");
    // A request the client gave up on is recorded when the server lets go of it: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen: Vec<FaultKind> = Vec::new();
        for r in h.connectwise_requests() {
            if let Some(f) = r.fault
                && !seen.contains(&f)
            {
                seen.push(f);
            }
        }
        if seen.len() == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "faults seen: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Moved records were read twice and counted once.
    assert!(result.skipped.duplicate_ids >= 1);
    // A malformed record is valid JSON, so its page is kept and that one record is skipped and
    // reported; everything else counts exactly as a direct count of the tenant.
    let malformed = &result.skipped.unparseable_ids;
    assert!(!malformed.is_empty());
    assert_eq!(result.skipped.unparseable, malformed.len() as u64);
    let without: Vec<ConfigurationRecord> = direct
        .into_iter()
        .filter(|r| !malformed.contains(&r.id))
        .collect();
    let expected_without = count_records(&rule, &without);
    assert_eq!(result.companies, expected_without.companies);
    assert!(expected.configurations_read > expected_without.configurations_read);
    assert_eq!(
        result.configurations_read,
        expected_without.configurations_read
    );
}

// ---------------------------------------------------------------- Synthesize

fn token(vendor: &str, partner: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{vendor}:{partner}"))
}

fn syn(
    client: &reqwest::Client,
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    client
        .request(method, sb.synthesize_url().join(path).unwrap())
        .header(
            "GRADIENT-TOKEN",
            token(SANDBOX_VENDOR_API_KEY, SANDBOX_PARTNER_API_KEY),
        )
}

#[tokio::test]
async fn synthesize_needs_the_gradient_token() {
    let sb = start(1).await;
    let c = client();
    let url = sb
        .synthesize_url()
        .join("api/vendor-api/organization")
        .unwrap();
    let (status, body) = get_json(c.get(url.clone())).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("GRADIENT-TOKEN"));
    for bad in [
        token(SANDBOX_VENDOR_API_KEY, "wrong"),
        token("wrong", SANDBOX_PARTNER_API_KEY),
        "not base64 !!".to_owned(),
    ] {
        let (status, body) = get_json(c.get(url.clone()).header("GRADIENT-TOKEN", bad)).await;
        assert_eq!(status, 401);
        assert!(body["message"].is_string());
    }
    let (status, body) = get_json(syn(
        &c,
        &sb,
        reqwest::Method::GET,
        "api/vendor-api/organization",
    ))
    .await;
    assert_eq!(status, 200);
    // The SDK's IntegrationData, wrapped as its responses are.
    assert_eq!(body["data"]["status"], "pending");
    assert!(body["data"]["lastSyncedAt"].is_null());
    for key in [
        "organizationId",
        "name",
        "vendorId",
        "vendorName",
        "integrationId",
    ] {
        assert!(body["data"][key].is_string(), "{key}");
    }
    let (status, body) = get_json(syn(&c, &sb, reqwest::Method::GET, "api/vendor-api")).await;
    assert_eq!(status, 200);
    // The SDK's VendorSkuData: the deprecated `_id` beside `id`.
    let sku = &body["data"]["skus"][0];
    for key in [
        "_id",
        "id",
        "name",
        "description",
        "category",
        "subcategory",
    ] {
        assert!(sku[key].is_string(), "{key}");
    }
    assert_eq!(sku["_id"], sku["id"]);
    assert_eq!(body["data"]["_id"], body["data"]["id"]);
    assert!(body["message"].is_string() && body["status"] == 200);
}

#[tokio::test]
async fn services_are_validated_and_created_once() {
    let sb = start(1).await;
    let c = client();
    let post =
        |body: Value| syn(&c, &sb, reqwest::Method::POST, "api/vendor-api/service").json(&body);
    let good = json!({"name":"Shared Devices","description":"Total Shared Devices","category":"other","subcategory":"other"});
    let bad = [
        json!({"name":"","description":"d","category":"other","subcategory":"other"}),
        json!({"description":"d","category":"other","subcategory":"other"}),
        json!({"name":"X","description":"d","category":"Other","subcategory":"other"}),
        json!({"name":"X","description":"d","category":"toys","subcategory":"other"}),
        json!({"name":"X","description":"d","category":"other","subcategory":"nope"}),
        json!({"name":"X","description":"d","category":"other"}),
        json!({"name":5,"description":"d","category":"other","subcategory":"other"}),
        json!(["not an object"]),
    ];
    for body in bad {
        let (status, reply) = get_json(post(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert!(reply["message"].is_string());
    }
    let raw = syn(&c, &sb, reqwest::Method::POST, "api/vendor-api/service")
        .header("content-type", "application/json")
        .body("{not json");
    assert_eq!(raw.send().await.unwrap().status().as_u16(), 400);
    let (status, reply) = get_json(post(good.clone())).await;
    assert_eq!(status, 201);
    let id = reply["data"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(sb.handle().service_id("Shared Devices"), Some(id.clone()));
    assert_eq!(get_json(post(good)).await.0, 409);
    let (_, vendor) = get_json(syn(&c, &sb, reqwest::Method::GET, "api/vendor-api")).await;
    let names: Vec<&str> = vendor["data"]["skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Managed Backup", "Shared Devices"]);
    for category in SERVICE_CATEGORIES {
        let body = json!({"name": format!("S {category}"), "description":"d","category":category,"subcategory":"other"});
        assert_eq!(get_json(post(body)).await.0, 201, "{category}");
    }
}

#[tokio::test]
async fn accounts_take_an_array_and_leave_existing_ids_alone() {
    let sb = start(1).await;
    let c = client();
    let post = |body: Value| {
        syn(
            &c,
            &sb,
            reqwest::Method::POST,
            "api/vendor-api/organization/accounts",
        )
        .json(&body)
    };
    for bad in [
        json!({"name":"A","description":"d","id":"1"}),
        json!([{"name":"A","description":"d","id":1}]),
        json!([{"name":"A","description":"d"}]),
        json!([{"description":"d","id":"1"}]),
        json!([{"name":"A","id":"1"}, {"name":"B","id":2}]),
    ] {
        let (status, reply) = get_json(post(bad.clone())).await;
        assert_eq!(status, 400, "{bad}");
        assert!(reply["message"].is_string());
    }
    assert!(
        sb.handle().accounts().is_empty(),
        "a bad batch creates nothing"
    );
    let (status, reply) = get_json(post(json!([
        {"name":"Acme, Inc.","description":"ConnectWise company 250","id":"250"},
        {"name":"株式会社サンプル","description":"","id":"280"},
    ])))
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        reply,
        json!([
            {"name":"Acme, Inc.","description":"ConnectWise company 250","id":"250"},
            {"name":"株式会社サンプル","description":"","id":"280"}
        ])
    );
    let (status, reply) = get_json(post(
        json!([{"name":"Renamed","description":"x","id":"250"}]),
    ))
    .await;
    assert_eq!(status, 201);
    // An id that exists is left as it was, and answered as it is.
    assert_eq!(reply[0]["name"], "Acme, Inc.");
    let (status, list) = get_json(syn(
        &c,
        &sb,
        reqwest::Method::GET,
        "api/vendor-api/organization/accounts",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([
            {"id":"250","name":"Acme, Inc.","description":"ConnectWise company 250"},
            {"id":"280","name":"株式会社サンプル","description":""}
        ])
    );
}

#[tokio::test]
async fn counts_are_validated_and_unmapped_accounts_answer_no_account_map() {
    let sb = start(1).await;
    let h = sb.handle();
    let c = client();
    let service = h.add_service("Shared Devices", "Total Shared Devices", "other", "other");
    h.add_account(SandboxAccount {
        id: "250".into(),
        name: "Acme".into(),
        description: String::new(),
    });
    h.add_account(SandboxAccount {
        id: "253".into(),
        name: "Contoso".into(),
        description: String::new(),
    });
    h.set_account_unmapped("253", true);
    let path = format!("api/vendor-api/service/{service}/count");
    let post = |path: &str, body: Value| syn(&c, &sb, reqwest::Method::POST, path).json(&body);

    for bad in [
        json!({"clientOId":"250","unitCount":3}),
        json!({"accountId":"250","unitCount":-1}),
        json!({"accountId":"250","unitCount":"3"}),
        json!({"accountId":"250","unitCount":1.5}),
        json!({"accountId":"250"}),
        json!({"accountId":250,"unitCount":3}),
        json!({"unitCount":3}),
    ] {
        let (status, reply) = get_json(post(&path, bad.clone())).await;
        assert_eq!(status, 400, "{bad}");
        assert!(reply["message"].is_string());
    }
    let (status, reply) = get_json(post(&path, json!({"clientOId":"x"}))).await;
    assert_eq!(status, 400);
    assert!(reply["message"].as_str().unwrap().contains("clientOId"));

    let (status, reply) = get_json(post(
        "api/vendor-api/service/000000000000000000000000/count",
        json!({"accountId":"250","unitCount":3}),
    ))
    .await;
    assert_eq!(status, 404);
    assert!(!reply["message"].as_str().unwrap().contains("account map"));

    for account in ["253", "999"] {
        let (status, reply) =
            get_json(post(&path, json!({"accountId": account, "unitCount": 3}))).await;
        assert_eq!(status, 404);
        assert_eq!(
            reply,
            json!({
                "statusCode": 404,
                "message": format!("No account map found with id: {account}"),
                "error": "Not Found",
            })
        );
    }
    assert_eq!(h.last_synced_at(), None);
    let (status, reply) = get_json(post(&path, json!({"accountId":"250","unitCount":4}))).await;
    assert_eq!(status, 201);
    assert_eq!(reply, json!({"status": 201, "message": "Unit count set"}));
    assert_eq!(h.last_count(&service, "250"), Some(4));
    assert!(h.last_synced_at().is_some());
    let (status, _) = get_json(post(
        &path,
        json!({"accountId":"250","unitCount":0,"clientOId":"old"}),
    ))
    .await;
    assert_eq!(status, 201);
    assert_eq!(h.last_count(&service, "250"), Some(0));
    h.set_account_unmapped("253", false);
    assert_eq!(
        get_json(post(&path, json!({"accountId":"253","unitCount":2})))
            .await
            .0,
        201
    );
    assert_eq!(h.last_counts().len(), 2);
    assert!(h.unmapped_account_ids().is_empty());

    let log = h.synthesize_requests();
    let last = log.last().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, format!("/{path}"));
    assert_eq!(last.status, 201);
    assert_eq!(
        serde_json::from_str::<Value>(&last.body).unwrap(),
        json!({"accountId":"253","unitCount":2})
    );
    h.clear_synthesize_requests();
    assert!(h.synthesize_requests().is_empty());
}

#[tokio::test]
async fn integration_status_takes_the_five_lower_case_values() {
    let sb = start(1).await;
    let c = client();
    for status in INTEGRATION_STATUSES {
        let (code, reply) = get_json(syn(
            &c,
            &sb,
            reqwest::Method::PATCH,
            &format!("api/vendor-api/organization/status/{status}"),
        ))
        .await;
        assert_eq!(code, 200, "{status}");
        assert_eq!(reply["data"]["status"], *status);
        assert_eq!(sb.handle().integration_status(), *status);
    }
    for bad in ["Active", "ACTIVE", "paused"] {
        let (code, reply) = get_json(syn(
            &c,
            &sb,
            reqwest::Method::PATCH,
            &format!("api/vendor-api/organization/status/{bad}"),
        ))
        .await;
        assert_eq!(code, 400, "{bad}");
        assert!(reply["message"].as_str().unwrap().contains("active"));
    }
}

#[tokio::test]
async fn synthesize_faults_are_separate_from_connectwise_faults() {
    let sb = start(1).await;
    let h = sb.handle();
    let c = client();
    h.synthesize_knobs().push_faults([
        ScheduledFault::next_request(FaultKind::Status(503)),
        ScheduledFault::next_request(FaultKind::CutBody),
    ]);
    assert_eq!(
        cw(&c, api(&sb, "system/info"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let first = syn(&c, &sb, reqwest::Method::GET, "api/vendor-api")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 503);
    let second = syn(&c, &sb, reqwest::Method::GET, "api/vendor-api")
        .send()
        .await
        .unwrap();
    assert!(second.bytes().await.is_err());
    assert_eq!(
        h.synthesize_requests()[0].fault,
        Some(FaultKind::Status(503))
    );
    assert_eq!(
        get_json(syn(&c, &sb, reqwest::Method::GET, "api/vendor-api"))
            .await
            .0,
        200
    );
}

// ---------------------------------------------------------------- the product's clients

#[test]
fn the_handle_and_the_sandbox_can_move_between_threads() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    fn assert_send<T: Send>() {}
    assert_shareable::<SandboxHandle>();
    assert_send::<Sandbox>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_clients_agree_with_a_direct_count_of_the_tenant() {
    use cw_shared_devices::api::connectwise::{
        ConnectWiseClient, ConnectWiseSettings, ConnectWiseTarget, PagingStrategy,
    };
    use cw_shared_devices::api::synthesize::{
        AccountRequest, CountPostOutcome, SynthesizeClient, SynthesizeSettings,
    };
    use tokio_util::sync::CancellationToken;

    let sb = start(3000).await;
    let h = sb.handle();
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let expected = common::tenant::direct_count(&sb, &rule);
    let cancel = CancellationToken::new();
    for paging in [PagingStrategy::ParallelPages, PagingStrategy::ForwardOnly] {
        let mut settings = ConnectWiseSettings::new(
            ConnectWiseTarget::site(sb.cw_site_url().as_str()).unwrap(),
            common::tenant::connectwise_credentials(),
        );
        settings.paging = paging;
        let client = ConnectWiseClient::new(settings).unwrap();
        let outcome = fetch_counts(&client, &rule, &|_| {}, &cancel)
            .await
            .unwrap();
        assert_eq!(outcome.counts.companies, expected.companies, "{paging:?}");
        assert_eq!(outcome.counts.skipped, expected.skipped, "{paging:?}");
    }

    let synthesize = SynthesizeClient::new(
        SynthesizeSettings::new(
            sb.synthesize_url().as_str(),
            common::tenant::synthesize_credentials(),
        )
        .unwrap(),
    )
    .unwrap();
    synthesize.authenticate(&cancel).await.unwrap();
    assert_eq!(synthesize.services(&cancel).await.unwrap().len(), 1);
    synthesize
        .create_accounts(
            &[AccountRequest {
                name: "Acme, Inc.".into(),
                description: String::new(),
                id: "250".into(),
            }],
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(synthesize.accounts(&cancel).await.unwrap().len(), 1);
    let service = h.add_service("Shared Devices", "Total Shared Devices", "other", "other");
    let sent = synthesize
        .post_count(&service, "250", 3, &cancel)
        .await
        .unwrap();
    assert_eq!(sent, CountPostOutcome::Sent);
    let unmapped = synthesize
        .post_count(&service, "999", 3, &cancel)
        .await
        .unwrap();
    assert!(matches!(unmapped, CountPostOutcome::Unmapped { .. }));
    assert_eq!(h.last_count(&service, "250"), Some(3));
}

// ---------------------------------------------------------------- knobs for billing safety

/// The first `n` configurations that have a company.
fn with_company(sb: &Sandbox, n: usize) -> Vec<SandboxConfiguration> {
    sb.handle()
        .configurations()
        .into_iter()
        .filter(|c| c.company.is_some())
        .take(n)
        .collect()
}

async fn count_of(sb: &Sandbox, c: &reqwest::Client) -> i64 {
    let (status, body) = get_json(cw(c, api(sb, "company/configurations/count"))).await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_i64().unwrap()
}

#[tokio::test]
async fn chosen_records_are_served_unreadable_and_still_counted() {
    let sb = start(40).await;
    let h = sb.handle();
    let chosen = with_company(&sb, 3);
    let (bad_id, bad_company_id, company_text) = (&chosen[0], &chosen[1], &chosen[2]);
    h.set_connectwise_behaviour(ConnectWiseBehaviour {
        unreadable_records: BTreeMap::from([
            (bad_id.id, UnreadableRecord::IdNotANumber),
            (bad_company_id.id, UnreadableRecord::CompanyIdNotANumber),
            (company_text.id, UnreadableRecord::CompanyNotAnObject),
        ]),
        ..ConnectWiseBehaviour::default()
    });
    let c = client();
    let bytes = cw(&c, api(&sb, "company/configurations?pageSize=1000"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // The product's page parser sets exactly those three aside.
    let page = ConfigurationPage::parse(&bytes).unwrap();
    assert_eq!(page.records.len(), 37);
    let set_aside: BTreeSet<Option<i64>> = page.unparseable.iter().map(|u| u.id).collect();
    assert_eq!(
        set_aside,
        BTreeSet::from([None, Some(bad_company_id.id), Some(company_text.id)])
    );

    // Each is the full record with one field broken: the id's record keeps a readable company,
    // the other two do not.
    let raw: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let full = |id: i64| {
        h.configurations_json()
            .into_iter()
            .find(|r| r["id"] == json!(id))
            .unwrap()
    };
    let served = |id: &Value| raw.iter().find(|r| &r["id"] == id).unwrap().clone();
    let mut want = full(bad_id.id);
    want["id"] = json!(format!("cfg-{}", bad_id.id));
    assert_eq!(served(&want["id"]), want);
    assert_eq!(
        want["company"]["id"].as_i64(),
        Some(bad_id.company.as_ref().unwrap().id)
    );
    let mut want = full(bad_company_id.id);
    let company_id = bad_company_id.company.as_ref().unwrap().id;
    want["company"]["id"] = json!(format!("company-{company_id}"));
    assert_eq!(served(&json!(bad_company_id.id)), want);
    let mut want = full(company_text.id);
    want["company"] = json!(company_text.company.as_ref().unwrap().name);
    assert_eq!(served(&json!(company_text.id)), want);

    // With `fields=` the broken field is broken too; `/count` still counts all 40.
    let (_, body) = get_json(cw(
        &c,
        api(
            &sb,
            "company/configurations?pageSize=1000&fields=id,company/id",
        ),
    ))
    .await;
    let projected = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(format!("cfg-{}", bad_id.id)))
        .unwrap();
    assert_eq!(
        projected,
        &json!({"id": format!("cfg-{}", bad_id.id), "company": {"id": bad_id.company.as_ref().unwrap().id}})
    );
    assert_eq!(count_of(&sb, &c).await, 40);

    // Types are never broken; without the knob every record reads again.
    let (status, _) = get_json(cw(&c, api(&sb, "company/configurations/types"))).await;
    assert_eq!(status, 200);
    h.set_connectwise_behaviour(ConnectWiseBehaviour::default());
    let bytes = cw(&c, api(&sb, "company/configurations?pageSize=1000"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        ConfigurationPage::parse(&bytes)
            .unwrap()
            .unparseable
            .is_empty()
    );
}

#[tokio::test]
async fn the_count_grows_by_the_records_added_after_the_first_page() {
    let sb = start(60).await;
    let h = sb.handle();
    let c = client();
    let before: Vec<i64> = h.configurations().iter().map(|c| c.id).collect();
    h.set_connectwise_behaviour(ConnectWiseBehaviour {
        configurations_added_after_first_page: 5,
        ..ConnectWiseBehaviour::default()
    });
    assert_eq!(count_of(&sb, &c).await, 60);
    // A page that is refused does not spend the change.
    let (status, _) = get_json(cw(&c, api(&sb, "company/configurations?pageSize=0"))).await;
    assert_eq!(status, 400);
    assert_eq!(count_of(&sb, &c).await, 60);

    // The first page is served as the tenant was; then the count says 5 more.
    let (_, first) = get_json(cw(&c, api(&sb, "company/configurations?pageSize=25"))).await;
    assert_eq!(ids(&first), before[..25]);
    assert_eq!(count_of(&sb, &c).await, 65);
    assert_eq!(
        h.connectwise_behaviour()
            .configurations_added_after_first_page,
        0
    );
    // The new records are above the highest id, so the last page has them.
    let (_, last) = get_json(cw(
        &c,
        api(&sb, "company/configurations?pageSize=25&page=3"),
    ))
    .await;
    let last = ids(&last);
    assert_eq!(last.len(), 15);
    assert_eq!(last[..10], before[50..]);
    let highest = *before.last().unwrap();
    assert!(last[10..].iter().all(|id| *id > highest), "{last:?}");
    // Spent: more pages add nothing.
    let (_, _) = get_json(cw(&c, api(&sb, "company/configurations?pageSize=25"))).await;
    assert_eq!(count_of(&sb, &c).await, 65);
}

#[tokio::test]
async fn a_capped_page_size_serves_fewer_records_while_link_still_says_next() {
    let sb = start(100).await;
    let h = sb.handle();
    let all_ids: Vec<i64> = h.configurations().iter().map(|c| c.id).collect();
    h.set_connectwise_behaviour(ConnectWiseBehaviour {
        max_records_per_page: Some(10),
        ..ConnectWiseBehaviour::default()
    });
    let c = client();

    // Numbered: 10 records for pageSize=50, and `next` keeps asking for 50.
    let mut url = api(&sb, "company/configurations?pageSize=50");
    let mut read = Vec::new();
    let mut pages = 0;
    loop {
        let response = cw(&c, url.clone()).send().await.unwrap();
        let l = links(&response);
        let body: Value = response.json().await.unwrap();
        let page = ids(&body);
        pages += 1;
        if pages == 1 {
            assert_eq!(page, all_ids[..10]);
            assert_eq!(query_param(&l["next"], "pageSize").as_deref(), Some("50"));
        }
        assert!(page.len() <= 10);
        read.extend(page);
        match l.get("next") {
            Some(next) => url = next.clone(),
            None => break,
        }
    }
    assert_eq!(pages, 10);
    assert_eq!(read, all_ids);

    // Forward-only: the same cap, `next` carrying the last id served.
    let response = cw(&c, api(&sb, "company/configurations?pageSize=50"))
        .header("pagination-type", "forward-only")
        .send()
        .await
        .unwrap();
    let l = links(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&body), all_ids[..10]);
    assert_eq!(
        query_param(&l["next"], "pageId"),
        Some(all_ids[9].to_string())
    );
    assert_eq!(query_param(&l["next"], "pageSize").as_deref(), Some("50"));

    // What the requests recorded is what was asked, not what was served.
    assert!(
        h.connectwise_requests()
            .iter()
            .filter(|r| r.path.ends_with("/company/configurations"))
            .all(|r| r.page_size == Some(50))
    );
}

// ---------------------------------------------------------------- companies

#[tokio::test]
async fn companies_are_listed_in_connectwise_shape_projected_and_paged_by_link() {
    let sb = start(1).await;
    let c = client();
    let (status, body) = get_json(cw(&c, api(&sb, "company/companies?pageSize=1000"))).await;
    assert_eq!(status, 200);
    let all = body.as_array().unwrap();
    assert_eq!(all.len(), 40);
    let first = &all[0];
    for field in ["id", "identifier", "name", "status", "types", "_info"] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    assert_eq!(first["status"]["name"], "Active");
    assert!(first["status"]["_info"]["status_href"].is_string());
    let status_of = |id: i64| {
        all.iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"]["name"].clone())
            .unwrap()
    };
    assert_eq!(status_of(256), "Inactive");
    assert_eq!(status_of(262), "Not Approved");

    // `fields=id,status/name` keeps just those.
    let (_, body) = get_json(cw(
        &c,
        api(&sb, "company/companies?fields=id,status/name&pageSize=1000"),
    ))
    .await;
    assert_eq!(body[0], json!({"id": 250, "status": {"name": "Active"}}));

    // Five a page: every company once, following `next`.
    let mut url = Some(api(
        &sb,
        "company/companies?fields=id,status/name&pageSize=5",
    ));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(u) = url.take() {
        let response = cw(&c, u).send().await.unwrap();
        url = links(&response).get("next").cloned();
        let body: Value = response.json().await.unwrap();
        seen.extend(ids(&body));
        pages += 1;
    }
    assert_eq!(pages, 8);
    assert_eq!(seen.len(), 40);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    // The handle sets a status, or takes it away.
    let h = sb.handle();
    h.set_company_status(250, Some("Inactive"));
    h.set_company_status(253, None);
    let (_, body) = get_json(cw(
        &c,
        api(
            &sb,
            "company/companies?conditions=status/name%3D%22Inactive%22&fields=id",
        ),
    ))
    .await;
    assert_eq!(ids(&body), vec![250, 256]);
    let (_, body) = get_json(cw(
        &c,
        api(&sb, "company/companies?fields=id,status&pageSize=3"),
    ))
    .await;
    assert_eq!(body[1], json!({"id": 253}));
}

#[tokio::test]
async fn the_company_status_list_says_which_statuses_are_inactive() {
    let sb = start(1).await;
    let c = client();
    let (status, body) = get_json(cw(&c, api(&sb, "company/companies/statuses"))).await;
    assert_eq!(status, 200);
    let all = body.as_array().unwrap();
    assert_eq!(all.len(), 5);
    for field in ["id", "name", "defaultFlag", "inactiveFlag", "_info"] {
        assert!(all[0].get(field).is_some(), "{field}: {}", all[0]);
    }
    let (_, body) = get_json(cw(
        &c,
        api(
            &sb,
            "company/companies/statuses?conditions=inactiveFlag%3Dtrue&fields=id,name",
        ),
    ))
    .await;
    assert_eq!(
        body,
        json!([{"id": 2, "name": "Inactive"}, {"id": 3, "name": "Not Approved"}])
    );
    // The demo's renamed active status and an added one are listed, not inactive.
    let (_, body) = get_json(cw(
        &c,
        api(&sb, "company/companies?fields=id,status/id&pageSize=1000"),
    ))
    .await;
    let status_of = |id: i64| {
        body.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"]["id"].clone())
            .unwrap()
    };
    assert_eq!(status_of(253), 4);
    assert_eq!(status_of(268), 5);
    // A name the tenant does not have yet is added to the list (not inactive).
    sb.handle().set_company_status(250, Some("On Boarding"));
    let list = sb.handle().company_status_list();
    assert_eq!(list.len(), 6);
    assert!(!list[5].inactive_flag);
    assert_eq!(list[5].name, "On Boarding");
}
