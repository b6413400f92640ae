//! The command, run as a process, against a sandbox answering the way the real services do
//! (the public record): skus with both `_id` and `id`, pages shorter than asked with `next`
//! links, no `Link` header at all, the integration read back, a pinned API version the server
//! may refuse, accounts that say whether they are mapped, unreadable list items, and a server
//! that keeps issuing new ids.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::sandbox::{
    ConnectWiseBehaviour, IdFields, SandboxAccount, SandboxConfig, SynthesizeShape,
};

use common::command::{Run, SandboxHome, run, run_within};
use common::tenant::direct_default_count;

type Env = SandboxHome;

impl Env {
    /// The counts a direct count of every record gives, by company id.
    fn expected(&self) -> BTreeMap<i64, (u64, u64)> {
        direct_default_count(&self.sandbox)
            .companies
            .into_iter()
            .map(|c| (c.company_id, (c.shared_devices, c.not_shared_devices)))
            .collect()
    }

    /// The counts the sandbox's Synthesize holds, by company id (services by name).
    fn posted(&self) -> BTreeMap<i64, (u64, u64)> {
        let handle = self.sandbox.handle();
        let id_of = |kind: ServiceKind| handle.service_id(kind.service_name()).unwrap();
        let (shared, not_shared) = (id_of(ServiceKind::Shared), id_of(ServiceKind::NotShared));
        let mut out: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for ((service, account), count) in handle.last_counts() {
            let entry = out.entry(account.parse().unwrap()).or_default();
            if service == shared {
                entry.0 = count;
            } else if service == not_shared {
                entry.1 = count;
            }
        }
        out
    }
}

/// The preview's counts, by company id.
fn preview_counts(r: &Run) -> BTreeMap<i64, (u64, u64)> {
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let value: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    value["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["company_id"].as_i64().unwrap(),
                (
                    c["shared_devices"].as_u64().unwrap(),
                    c["not_shared_devices"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn sync_completes_whichever_id_fields_synthesize_sends() {
    for ids in [IdFields::Both, IdFields::IdOnly, IdFields::UnderscoreOnly] {
        let env = Env::new(SandboxConfig::default());
        env.sandbox.handle().set_synthesize_shape(SynthesizeShape {
            ids,
            ..SynthesizeShape::default()
        });
        let r = run(env.cmd(&["sync"]));
        assert_eq!(r.code, Some(0), "{ids:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(env.posted(), env.expected(), "{ids:?}");
        // A second run finds both services by their ids and creates nothing.
        let again = run(env.cmd(&["sync"]));
        assert_eq!(again.code, Some(0), "{ids:?}: {}", again.stderr);
        assert!(
            again
                .stdout
                .contains("Services created: 0, accounts created: 0"),
            "{ids:?}: {}",
            again.stdout
        );
        let ours = env
            .sandbox
            .handle()
            .services()
            .iter()
            .filter(|s| s.name.ends_with("Shared Devices"))
            .count();
        assert_eq!(ours, 2, "{ids:?}");
    }
}

#[test]
fn short_pages_with_next_links_are_followed_to_the_end() {
    let env = Env::new(SandboxConfig {
        configurations: 2_500,
        ..SandboxConfig::default()
    });
    // The client asks for 1,000 a page; the server serves 25 and says `next`.
    env.sandbox
        .handle()
        .set_connectwise_behaviour(ConnectWiseBehaviour {
            max_records_per_page: Some(25),
            ..ConnectWiseBehaviour::default()
        });
    let expected = env.expected();
    assert_eq!(
        preview_counts(&run(env.cmd(&["preview", "--json"]))),
        expected
    );
    let pages = env
        .sandbox
        .handle()
        .connectwise_requests()
        .iter()
        .filter(|r| r.path.ends_with("/company/configurations") && r.page_size == Some(1000))
        .count();
    assert!(pages >= 2_500 / 25 / 2, "{pages} pages");

    let sync = run(env.cmd(&["sync"]));
    assert_eq!(sync.code, Some(0), "{}", sync.stderr);
    assert_eq!(env.posted(), expected);
}

#[test]
fn pages_without_any_link_header_are_read_to_the_end() {
    // Big enough that each of the four id slices spans more than one full page.
    let env = Env::new(SandboxConfig {
        configurations: 10_000,
        ..SandboxConfig::default()
    });
    env.sandbox
        .handle()
        .set_connectwise_behaviour(ConnectWiseBehaviour {
            omit_link_header: true,
            ..ConnectWiseBehaviour::default()
        });
    assert_eq!(
        preview_counts(&run(env.cmd(&["preview", "--json"]))),
        env.expected()
    );
}

#[test]
fn authenticate_prints_the_integration_status_and_last_sync() {
    let env = Env::new(SandboxConfig::default());
    let before = run(env.cmd(&["authenticate"]));
    assert_eq!(before.code, Some(0), "{}", before.stderr);
    assert!(
        before
            .stdout
            .contains("Synthesize: OK (integration status pending, never synced)"),
        "{}",
        before.stdout
    );
    assert_eq!(run(env.cmd(&["sync"])).code, Some(0));
    let after = run(env.cmd(&["authenticate"]));
    let synced = env.sandbox.handle().last_synced_at().unwrap();
    let when = synced.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(
        after
            .stdout
            .contains(&format!("integration status active, last synced {when}")),
        "{}",
        after.stdout
    );
}

#[test]
fn the_api_version_is_pinned_by_default_and_a_profile_can_override_it() {
    let env = Env::new(SandboxConfig::default());
    let r = run(env.cmd(&["preview"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let accepts: Vec<Option<String>> = env
        .sandbox
        .handle()
        .connectwise_requests()
        .into_iter()
        .filter(|r| r.path.contains("/apis/3.0/"))
        .map(|r| r.accept)
        .collect();
    assert!(!accepts.is_empty());
    for accept in accepts {
        assert_eq!(
            accept.as_deref(),
            Some("application/vnd.connectwise.com+json; version=2022.1")
        );
    }

    // A server older than the default refuses it: in those words, with the fix.
    env.sandbox
        .handle()
        .set_connectwise_behaviour(ConnectWiseBehaviour {
            newest_api_version: (2021, 2),
            ..ConnectWiseBehaviour::default()
        });
    let refused = run(env.cmd(&["preview"]));
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("ConnectWise does not accept the API version 2022.1")
            && refused
                .stderr
                .contains("does not support the API version '2022.1'")
            && refused
                .stderr
                .contains("ConnectWise API version in the profile"),
        "{}",
        refused.stderr
    );

    // The profile pins the server's own version.
    let created = run(env.cmd(&[
        "profile",
        "create",
        "Pinned",
        "--company-id",
        "x",
        "--client-id",
        "y",
    ]));
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let file = env
        .home
        .path()
        .join("config/cw-shared-devices/profiles/Pinned.json");
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    profile["connectwise"]["api_version"] = "2021.2".into();
    std::fs::write(&file, profile.to_string()).unwrap();
    env.sandbox.handle().clear_connectwise_requests();
    let pinned = run(env.cmd(&["preview", "--profile", "Pinned"]));
    assert_eq!(pinned.code, Some(0), "{}", pinned.stderr);
    let last = env.sandbox.handle().connectwise_requests().pop().unwrap();
    assert_eq!(
        last.accept.as_deref(),
        Some("application/vnd.connectwise.com+json; version=2021.2")
    );

    profile["connectwise"]["api_version"] = "latest".into();
    std::fs::write(&file, profile.to_string()).unwrap();
    let bad = run(env.cmd(&["preview", "--profile", "Pinned"]));
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("ConnectWise API version \"latest\""),
        "{}",
        bad.stderr
    );
}

#[test]
fn accounts_not_mapped_yet_are_reported_before_anything_is_sent() {
    let env = Env::new(SandboxConfig::default());
    let handle = env.sandbox.handle();
    handle.set_synthesize_shape(SynthesizeShape {
        accounts_carry_is_mapped: true,
        ..SynthesizeShape::default()
    });
    for id in env.expected().keys().take(3) {
        handle.add_account(SandboxAccount {
            id: id.to_string(),
            name: format!("Company {id}"),
            description: String::new(),
        });
    }
    let ids: Vec<String> = handle.accounts().iter().map(|a| a.id.clone()).collect();
    handle.set_account_unmapped(&ids[0], true);
    handle.set_account_unmapped(&ids[1], true);
    let r = run(env.cmd(&["sync", "--dry-run"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("2 account(s) are not mapped in Synthesize yet"),
        "{}",
        r.stderr
    );
    assert!(handle.last_counts().is_empty(), "a dry run sent counts");

    // Without isMapped in the list, nothing is claimed.
    handle.set_synthesize_shape(SynthesizeShape::default());
    let r = run(env.cmd(&["sync", "--dry-run"]));
    assert!(
        !r.stderr.contains("not mapped in Synthesize yet"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unreadable_sku_is_skipped_and_reported_but_one_of_ours_stops_the_run() {
    let env = Env::new(SandboxConfig::default());
    let handle = env.sandbox.handle();
    handle.push_raw_sku(serde_json::json!({"name": "Legacy Backup", "category": "backup"}));
    handle.push_raw_account(serde_json::json!("not an account"));
    let r = run(env.cmd(&["sync"]));
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "skipped an unreadable item of Synthesize's lists: service item 2: it has no usable id"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("account item"), "{}", r.stderr);
    assert_eq!(env.posted(), env.expected());

    // A second "Shared Devices" without an id: its counts could go nowhere, so the run stops.
    handle.push_raw_sku(serde_json::json!({"name": "Shared Devices", "category": "other"}));
    let r = run(env.cmd(&["sync"]));
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("the service \"Shared Devices\" cannot be read"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_server_that_keeps_issuing_new_ids_is_stopped_by_the_paging_cap() {
    let env = Env::new(SandboxConfig::default());
    env.sandbox
        .handle()
        .set_connectwise_behaviour(ConnectWiseBehaviour {
            new_configurations_per_page: 1_000,
            ..ConnectWiseBehaviour::default()
        });
    // Without a cap this preview never ends: wait for it with a deadline.
    let started = std::time::Instant::now();
    let r = run_within(
        env.cmd(&["preview"]),
        std::time::Duration::from_secs(60),
        "the preview was still reading after 60 s",
    );
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("ConnectWise kept sending configurations past the"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let pages = env
        .sandbox
        .handle()
        .connectwise_requests()
        .iter()
        .filter(|r| r.path.ends_with("/company/configurations") && r.page_size == Some(1000))
        .count();
    assert!(pages <= 10, "{pages} pages");
}
