//! The window's Tenants tab over three sandbox tenants, one of them pointing at a ConnectWise
//! that is not there: Preview all previews the other two and says the third failed; Send all
//! plans every tenant, shows one confirmation listing each, and sends only after it is
//! confirmed (Cancel sends nothing), the failing tenant never stopping the others; the
//! profile's webhook, stored in the window's keychain, receives "Test notification".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::domain::settings::ConnectWiseSite;
use cw_shared_devices::engine::tenants::TenantOutcome;
use cw_shared_devices::sandbox::{
    SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, Sandbox, SandboxConfig,
};
use cw_shared_devices::storage::secrets::{MemoryStore, SecretSlot};
use cw_shared_devices::storage::{AppDirs, Profile, ProfileStore, Secret, SecretName, SecretStore};
use cw_shared_devices::ui::{App, Tab};
use cw_shared_devices::worker::{Job, TenantsOverviewJob};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use common::hostile_server::{HostileServer, json};
use common::tenant::held_counts;
use common::window::{assert_not_logged, build_with, replace_text, step_until};

struct Rig {
    h: Harness<'static, App>,
    env: common::window::Env,
    acme: Sandbox,
    globex: Sandbox,
}

/// A webhook that takes every notice, and its URL (with a token part no log may show).
fn webhook_server() -> (HostileServer, String) {
    let webhook = HostileServer::start(|_, _| json(200, "{}"));
    let url = format!("{}/hooks/T000/B000/{WEBHOOK_TOKEN}", webhook.url());
    (webhook, url)
}

const WEBHOOK_TOKEN: &str = "secret-token-part";

/// The one notice `webhook` received: its path and its JSON body.
fn the_one_notice(webhook: &HostileServer) -> (String, serde_json::Value) {
    let requests = webhook.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let body = serde_json::from_slice(&requests[0].body).unwrap();
    (requests[0].path().to_owned(), body)
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v4_6_release/apis/3.0")
}

fn add_profile(dir: &std::path::Path, store: &MemoryStore, name: &str, cw: &str, synthesize: &str) {
    let mut profile = Profile::new(name);
    profile.connectwise.site = ConnectWiseSite::DirectApi { url: cw.to_owned() };
    profile.connectwise.company_id = SANDBOX_COMPANY_ID.to_owned();
    profile.connectwise.client_id = SANDBOX_CLIENT_ID.to_owned();
    profile.synthesize_url = synthesize.trim_end_matches('/').to_owned();
    ProfileStore::new(&AppDirs::at(dir))
        .create(&profile)
        .unwrap();
    for (slot, key) in [
        (SecretName::CwPublicKey, SANDBOX_PUBLIC_KEY),
        (SecretName::CwPrivateKey, SANDBOX_PRIVATE_KEY),
        (SecretName::SynthesizeVendorKey, SANDBOX_VENDOR_API_KEY),
        (SecretName::SynthesizePartnerKey, SANDBOX_PARTNER_API_KEY),
    ] {
        store.set(name, slot, &Secret::new(key)).unwrap();
    }
}

impl Rig {
    fn new() -> Self {
        Self::with_webhook(None)
    }

    /// Three tenants; with `webhook`, each profile's notification webhook set to it.
    fn with_webhook(webhook: Option<&str>) -> Self {
        let acme = Sandbox::start_in_background(SandboxConfig {
            seed: 1,
            ..SandboxConfig::default()
        })
        .unwrap();
        let globex = Sandbox::start_in_background(SandboxConfig {
            seed: 2,
            companies: 12,
            configurations: 150,
            ..SandboxConfig::default()
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let acme_synthesize = acme.synthesize_url().to_string();
        add_profile(
            dir.path(),
            &store,
            "Acme",
            acme.cw_api_url().as_str(),
            &acme_synthesize,
        );
        add_profile(
            dir.path(),
            &store,
            "Down Tenant",
            &closed_port_url(),
            &acme_synthesize,
        );
        add_profile(
            dir.path(),
            &store,
            "Globex",
            globex.cw_api_url().as_str(),
            globex.synthesize_url().as_str(),
        );
        if let Some(url) = webhook {
            for name in ["Acme", "Down Tenant", "Globex"] {
                store
                    .set_slot(name, SecretSlot::NotifyWebhook, &Secret::new(url))
                    .unwrap();
            }
        }
        let (mut h, env) = build_with(egui::vec2(1280.0, 900.0), true, store, Some(dir));
        h.run_steps(3);
        common::window::settle_profiles(&mut h);
        h.get_by_label("Tenants").click();
        step_until(&mut h, Duration::from_secs(10), "the tenants", |h| {
            h.state().tab == Tab::Tenants
                && matches!(&h.state().tenants.rows, Some(Ok(rows)) if rows.len() == 3)
        });
        h.run_steps(2);
        Self {
            h,
            env,
            acme,
            globex,
        }
    }

    fn wait_idle(&mut self, what: &str) {
        step_until(&mut self.h, Duration::from_secs(90), what, |h| {
            !h.state().tenants_busy() && h.state().tenants.working.is_none()
        });
        self.h.run_steps(3);
    }

    fn plan_all(&mut self) {
        self.h.get_by_label("Send all…").click();
        step_until(&mut self.h, Duration::from_secs(90), "the plans", |h| {
            h.state().tenants.plans.is_some()
        });
        // The dialog fades in over a few frames.
        self.h.run_steps(10);
    }

    fn message(&self) -> String {
        match &self.h.state().tenants.message {
            Some(Ok(t) | Err(t)) => t.clone(),
            None => String::new(),
        }
    }
}

#[test]
fn the_tab_lists_every_profile_and_preview_all_goes_past_the_failing_one() {
    let mut rig = Rig::new();
    for name in ["Acme", "Down Tenant", "Globex"] {
        assert!(rig.h.query_by_label(name).is_some(), "no row for {name}");
    }
    assert_eq!(rig.h.query_all_by_label("never").count(), 3);

    rig.h.get_by_label("Preview all").click();
    rig.h.run_steps(2);
    rig.wait_idle("Preview all");

    let previews = &rig.h.state().tenants.previews;
    assert!(previews["Acme"].is_ok(), "{previews:?}");
    assert!(previews["Globex"].as_ref().unwrap().companies > 0);
    assert!(previews["Down Tenant"].is_err(), "{previews:?}");
    let text = rig.message();
    assert!(
        text.contains("2 of 3 tenant(s) previewed, 1 failed"),
        "{text}"
    );
    assert!(
        rig.h.query_by_label_contains("preview failed:").is_some(),
        "the failure is not on screen"
    );
}

#[test]
fn send_all_asks_once_for_every_tenant_and_sends_only_after_confirming() {
    let mut rig = Rig::new();
    rig.plan_all();
    // One dialog lists every tenant's plan; nothing has been sent yet.
    assert!(rig.h.query_by_label("Send all tenants?").is_some());
    assert!(rig.h.query_by_label_contains("Acme: ").is_some());
    assert!(rig.h.query_by_label_contains("Globex: ").is_some());
    assert!(
        rig.h
            .query_by_label_contains("Down Tenant: no plan, not sent")
            .is_some()
    );
    assert!(held_counts(&rig.acme).is_empty());
    assert!(held_counts(&rig.globex).is_empty());

    rig.h.get_by_label("Send 2 tenants").click();
    rig.h.run_steps(2);
    rig.wait_idle("Send all");

    let results = &rig.h.state().tenants.results;
    assert_eq!(results["Acme"].outcome, TenantOutcome::Done, "{results:?}");
    assert_eq!(
        results["Globex"].outcome,
        TenantOutcome::Done,
        "{results:?}"
    );
    assert_eq!(results["Down Tenant"].outcome, TenantOutcome::Failed);
    assert!(!held_counts(&rig.acme).is_empty());
    assert!(!held_counts(&rig.globex).is_empty());
    let text = rig.message();
    assert!(text.contains("2 of 3 tenant(s) done, 1 not done"), "{text}");

    // The tab reads the last runs again: the two sent have theirs.
    step_until(&mut rig.h, Duration::from_secs(10), "the tenants", |h| {
        matches!(&h.state().tenants.rows, Some(Ok(rows))
            if rows.iter().filter(|r| matches!(r.last_run, Ok(Some(_)))).count() == 2)
    });
}

#[test]
fn cancelling_send_all_sends_nothing() {
    let mut rig = Rig::new();
    rig.plan_all();
    rig.h.get_by_label("Cancel").click();
    rig.h.run_steps(5);
    assert!(rig.h.state().tenants.plans.is_none());
    assert!(
        rig.message().contains("nothing was sent"),
        "{}",
        rig.message()
    );
    std::thread::sleep(Duration::from_millis(300));
    rig.h.run_steps(3);
    assert!(held_counts(&rig.acme).is_empty());
    assert!(held_counts(&rig.globex).is_empty());
    assert!(rig.acme.handle().accounts().is_empty());
}

#[test]
fn test_notification_reaches_the_profiles_webhook() {
    let mut rig = Rig::new();
    let (webhook, url) = webhook_server();
    rig.h.get_by_label("Webhook URL").focus();
    rig.h.run_steps(1);
    rig.h.get_by_label("Webhook URL").type_text(&url);
    rig.h.run_steps(1);
    rig.h.get_by_label("Save webhook").click();
    step_until(
        &mut rig.h,
        Duration::from_secs(10),
        "the webhook saved",
        |h| h.state().tenants.notify_message.is_some(),
    );
    assert_eq!(
        rig.h.state().tenants.notify_message,
        Some(Ok("Webhook stored in the keychain.".into()))
    );
    // Stored for the open profile, and the field is emptied (never shown back).
    assert!(rig.h.state().tenants.webhook_text.is_empty());
    rig.h.get_by_label("Test notification").click();
    step_until(
        &mut rig.h,
        Duration::from_secs(20),
        "the test notification",
        |h| {
            matches!(&h.state().tenants.notify_message, Some(Ok(t)) if t == "Test notification sent.")
                || matches!(&h.state().tenants.notify_message, Some(Err(_)))
        },
    );
    assert_eq!(
        rig.h.state().tenants.notify_message,
        Some(Ok("Test notification sent.".into()))
    );
    let (path, body) = the_one_notice(&webhook);
    assert_eq!(path, "/hooks/T000/B000/secret-token-part");
    assert_eq!(body["outcome"], "test", "{body}");
    assert_eq!(body["tenant"]["profile"], "Acme", "{body}");
    // The URL is in no log line.
    assert_not_logged(&rig.h, WEBHOOK_TOKEN);
}

/// Replaces a field's text and lets the frames after it run.
fn type_into(h: &mut Harness<'_, App>, label: &str, text: &str) {
    replace_text(h, label, text);
    h.run_steps(2);
}

fn wait_schedule(h: &mut Harness<'_, App>, what: &str) {
    step_until(h, Duration::from_secs(20), what, |h| {
        h.state()
            .tenants
            .schedule
            .as_ref()
            .is_some_and(|d| !d.running && d.answer.is_some())
    });
    h.run_steps(5);
}

#[cfg(unix)]
#[test]
fn the_schedule_dialog_writes_the_entry_and_shows_it_without_calling_the_scheduler() {
    use cw_shared_devices::storage::schedule::Scheduler;
    use cw_shared_devices::worker::SchedulePlace;

    let mut rig = Rig::new();
    // The scheduler's place in the test's folder, its tool never called (as under
    // CW_SHARED_DEVICES_NO_SCHEDULER): the real scheduler is never touched.
    let units = tempfile::tempdir().unwrap();
    rig.h.state_mut().tenants.schedule_place = Some(SchedulePlace {
        scheduler: Scheduler::Systemd {
            unit_dir: units.path().to_owned(),
        },
        call_tool: false,
    });
    rig.h.get_by_label("Schedule…").click();
    rig.h.run_steps(2);
    wait_schedule(&mut rig.h, "the schedules");
    assert!(rig.h.query_by_label("No scheduled syncs.").is_some());

    type_into(&mut rig.h, "Time (HH:MM)", "25:00");
    rig.h.get_by_label("Install").click();
    rig.h.run_steps(3);
    let dialog = rig.h.state().tenants.schedule.as_ref().unwrap();
    assert!(dialog.field_error.is_some(), "a bad time was taken");
    assert!(std::fs::read_dir(units.path()).unwrap().next().is_none());

    type_into(&mut rig.h, "Time (HH:MM)", "03:30");
    rig.h.get_by_label("Install").click();
    rig.h.run_steps(2);
    wait_schedule(&mut rig.h, "the install");

    let answer = rig
        .h
        .state()
        .tenants
        .schedule
        .as_ref()
        .unwrap()
        .answer
        .clone();
    let answer = answer.unwrap().unwrap();
    let done = answer.done.clone().unwrap().unwrap();
    assert!(
        done.contains("sync of profile \"Acme\", daily at 03:30") && done.contains("Not loaded"),
        "{done}"
    );
    // What it would have run is shown, not run.
    let (_, commands) = answer.not_run.clone().unwrap();
    assert!(
        commands.iter().any(|c| c.contains("systemctl")),
        "{commands:?}"
    );
    assert!(
        rig.h
            .query_by_label_contains("--profile Acme sync")
            .is_some()
    );
    assert_eq!(answer.schedules.len(), 1);
    let timer = units.path().join(format!(
        "{}.timer",
        answer.schedules[0].schedule.run.entry_name()
    ));
    let text = std::fs::read_to_string(&timer).unwrap();
    assert!(text.contains("OnCalendar=*-*-* 03:30:00"), "{text}");
    assert!(
        rig.h
            .query_by_label_contains(&format!("file: {}", timer.display()))
            .is_some()
    );

    rig.h.get_by_label("Remove").click();
    rig.h.run_steps(2);
    wait_schedule(&mut rig.h, "the removal");
    assert!(!timer.exists());
    assert!(rig.h.query_by_label("No scheduled syncs.").is_some());
}

#[test]
fn send_all_notifies_the_failed_tenant_as_the_command_does_and_not_the_others() {
    let (webhook, url) = webhook_server();
    let mut rig = Rig::with_webhook(Some(&url));
    rig.plan_all();
    rig.h.get_by_label("Send 2 tenants").click();
    rig.h.run_steps(2);
    rig.wait_idle("Send all");
    let results = &rig.h.state().tenants.results;
    assert_eq!(results["Down Tenant"].notified, Some(Ok(())), "{results:?}");
    assert_eq!(results["Acme"].notified, None, "a success notified unasked");
    let (_, body) = the_one_notice(&webhook);
    assert_eq!(body["outcome"], "failed", "{body}");
    assert_eq!(body["tenant"]["profile"], "Down Tenant", "{body}");
    assert_not_logged(&rig.h, WEBHOOK_TOKEN);
}

#[test]
fn with_no_profile_the_tab_s_runs_wait_and_say_why() {
    use egui_kittest::kittest::NodeT as _;
    // The demo opens on no saved profile: the Tenants tab has no tenant to run.
    let (mut h, _env) = common::window::demo_harness();
    h.get_by_label("Tenants").click();
    step_until(&mut h, Duration::from_secs(30), "the tenants", |h| {
        h.state().tenants.rows.is_some()
    });
    h.run_steps(2);
    for button in ["Preview all", "Send all…", "Schedule…"] {
        assert!(
            h.get_by_label(button).accesskit_node().is_disabled(),
            "{button} is offered with no tenant"
        );
    }
    assert!(!h.get_by_label("Refresh").accesskit_node().is_disabled());
}

#[test]
fn a_profile_file_that_cannot_be_read_is_told_in_the_tab_not_lost() {
    let mut rig = Rig::new();
    // Globex's file is damaged after the window started: the tab's next reading moves it
    // aside, and that reading is the only one that knows.
    let profiles = AppDirs::at(rig.env.dir.path()).profiles_dir();
    let globex_file = std::fs::read_dir(&profiles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("Globex"))
        .expect("Globex's profile file");
    std::fs::write(&globex_file, "{ not a profile").unwrap();
    rig.h.get_by_label("Refresh").click();
    step_until(
        &mut rig.h,
        Duration::from_secs(10),
        "the tenants",
        |h| matches!(&h.state().tenants.rows, Some(Ok(rows)) if rows.len() == 2),
    );
    rig.h.run_steps(2);
    let problems = rig.h.state().tenants.profile_problems.clone();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("Profile \"Globex\" could not be read"),
        "{problems:?}"
    );
    assert!(
        rig.h
            .query_by_label_contains("Profile \"Globex\" could not be read")
            .is_some(),
        "the problem is not shown"
    );
    // A later reading finds nothing wrong (the file is aside), and the tab still says it.
    rig.h.get_by_label("Refresh").click();
    rig.h.run_steps(1);
    step_until(
        &mut rig.h,
        Duration::from_secs(10),
        "the second reading",
        |h| !h.state().is_running(TenantsOverviewJob::KIND),
    );
    assert!(matches!(&rig.h.state().tenants.rows, Some(Ok(rows)) if rows.len() == 2));
    assert_eq!(rig.h.state().tenants.profile_problems, problems);
}
