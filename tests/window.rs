//! The window driven the way a user drives it, through egui_kittest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A test of a whole flow reads top to bottom as one story; the 100-line limit is for src/.
#![allow(clippy::too_many_lines)]

mod common;

use std::time::{Duration, Instant};

use cw_shared_devices::sandbox::{FaultKind, ScheduledFault};
use cw_shared_devices::storage::secrets::MemoryStore;
use cw_shared_devices::storage::{SecretName, SecretStore};
use cw_shared_devices::ui::connection::TestState;
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::ui::table::RowStatus;
use cw_shared_devices::ui::{App, FixedPathSaveDialog};
use cw_shared_devices::worker::{Job, PreviewJob};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use common::window::{
    build_with, click_in_view, click_send, create_profile, demo_harness, harness, set_field,
    settle_profiles, step_until, wait_for_dialog,
};

/// Creates a profile the way a user does from the welcome screen or the bar.

#[test]
fn frames_render_at_full_and_small_sizes() {
    for size in [egui::vec2(1280.0, 800.0), egui::vec2(480.0, 320.0)] {
        let (mut h, _env) = harness(size);
        h.run_steps(3);
        create_profile(&mut h, "Create a profile", "Small");
        assert!(
            h.query_by_label("Preview").is_some(),
            "no Preview button at {size:?}: {:#?}",
            h.root()
        );
        h.get_by_label("Preview").click();
        h.run_steps(3);
        // No keys yet: the preview names the missing field instead of starting.
        let error = h.state().preview.error.clone().unwrap();
        assert!(error.contains("ConnectWise company id"), "{error}");
        common::window::open_history(&mut h);
        assert!(
            h.query_by_label("No sync has run for this profile yet.")
                .is_some()
        );
    }
}

#[test]
fn first_run_shows_the_welcome_with_both_choices() {
    let (mut h, _env) = harness(egui::vec2(1280.0, 800.0));
    h.run_steps(2);
    assert!(h.query_by_label("Try the demo").is_some());
    // Esc closes the dialog and leaves the welcome in place.
    h.get_by_label("Create a profile").click();
    wait_for_dialog(&mut h);
    assert!(h.state().dialog.is_some());
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().dialog.is_none());
    assert!(h.query_by_label("Try the demo").is_some());
    create_profile(&mut h, "Create a profile", "Acme");
    assert!(h.query_by_label("Try the demo").is_none());
    assert!(h.query_by_label("Company ID").is_some());
}

#[test]
fn a_profile_keeps_its_keys_in_the_secret_store_never_in_its_file() {
    let sandbox = cw_shared_devices::sandbox::Sandbox::start_in_background(
        cw_shared_devices::sandbox::SandboxConfig::default(),
    )
    .unwrap();
    let (mut h, env) = harness(egui::vec2(1280.0, 800.0));
    h.run_steps(2);
    create_profile(&mut h, "Create a profile", "Acme MSP");

    // Site picker: the on-premise choice shows a URL field.
    h.get_by_label("Site").click();
    h.run_steps(2);
    h.get_by_label("On-premise / custom URL").click();
    h.run_steps(2);
    set_field(&mut h, "Site URL", sandbox.cw_site_url().as_str());
    set_field(
        &mut h,
        "Company ID",
        cw_shared_devices::sandbox::SANDBOX_COMPANY_ID,
    );
    set_field(
        &mut h,
        "Client ID",
        cw_shared_devices::sandbox::SANDBOX_CLIENT_ID,
    );
    set_field(
        &mut h,
        "Public key",
        cw_shared_devices::sandbox::SANDBOX_PUBLIC_KEY,
    );
    set_field(
        &mut h,
        "Private key",
        cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY,
    );
    set_field(&mut h, "Synthesize URL", sandbox.synthesize_url().as_str());
    set_field(
        &mut h,
        "Vendor API key",
        cw_shared_devices::sandbox::SANDBOX_VENDOR_API_KEY,
    );
    set_field(
        &mut h,
        "Partner API key",
        cw_shared_devices::sandbox::SANDBOX_PARTNER_API_KEY,
    );

    // Masked until "Show keys".
    let shown = h.get_by_label("Private key").value().unwrap_or_default();
    assert!(
        !shown.contains(cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY),
        "{shown}"
    );
    h.get_by_label("Show keys").click();
    h.run_steps(2);
    let shown = h.get_by_label("Private key").value().unwrap_or_default();
    assert!(
        shown.contains(cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY),
        "{shown}"
    );

    let stored = env
        .secrets
        .get("Acme MSP", SecretName::CwPrivateKey)
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.expose(),
        cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY
    );
    let stored = env
        .secrets
        .get("Acme MSP", SecretName::SynthesizePartnerKey)
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.expose(),
        cw_shared_devices::sandbox::SANDBOX_PARTNER_API_KEY
    );
    let files = all_files(env.dir.path());
    assert!(!files.is_empty());
    for (path, text) in &files {
        for secret in [
            cw_shared_devices::sandbox::SANDBOX_PUBLIC_KEY,
            cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY,
            cw_shared_devices::sandbox::SANDBOX_VENDOR_API_KEY,
            cw_shared_devices::sandbox::SANDBOX_PARTNER_API_KEY,
        ] {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
    assert!(
        files
            .iter()
            .any(|(_, t)| t.contains(cw_shared_devices::sandbox::SANDBOX_CLIENT_ID))
    );

    let text = test_connectwise(&mut h);
    assert!(text.starts_with("OK: Connected to ConnectWise"), "{text}");

    // Rename, duplicate and delete carry the keys along.
    h.get_by_label("Rename").click();
    wait_for_dialog(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Profile name").type_text("Globex");
    h.key_press(egui::Key::Enter);
    settle_profiles(&mut h);
    assert_eq!(h.state().profile_name(), "Globex");
    assert!(
        env.secrets
            .get("Acme MSP", SecretName::CwPrivateKey)
            .unwrap()
            .is_none()
    );
    assert!(
        env.secrets
            .get("Globex", SecretName::CwPrivateKey)
            .unwrap()
            .is_some()
    );
    create_profile(&mut h, "Duplicate", "Globex copy");
    assert!(
        env.secrets
            .get("Globex copy", SecretName::CwPrivateKey)
            .unwrap()
            .is_some()
    );
    assert_eq!(h.state().profile_names, ["Globex", "Globex copy"]);
    assert_eq!(
        h.state().form.company_id,
        cw_shared_devices::sandbox::SANDBOX_COMPANY_ID
    );
    h.get_by_label("Delete").click();
    wait_for_dialog(&mut h);
    h.get_by_label("Yes, delete").click();
    settle_profiles(&mut h);
    assert_eq!(h.state().profile_names, ["Globex"]);
    assert_eq!(h.state().profile_name(), "Globex");
    assert!(
        env.secrets
            .get("Globex copy", SecretName::CwPrivateKey)
            .unwrap()
            .is_none()
    );
}

fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                out.push((path, text));
            }
        }
    }
    out
}

fn preview_done(h: &Harness<'_, App>) -> bool {
    !h.state().preview.running
        && (h.state().preview.table.is_some() || h.state().preview.error.is_some())
}

fn direct_preview(app: &App) -> Vec<cw_shared_devices::domain::counting::CompanyCounts> {
    let request = cw_shared_devices::engine::PreviewRequest {
        connectwise: app.form.connectwise_settings().unwrap(),
        counting: cw_shared_devices::domain::counting::CountingOptions::default(),
        company_statuses: false,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let outcome = runtime
        .block_on(cw_shared_devices::engine::run_preview(
            &request,
            &|_| {},
            &cancel,
        ))
        .unwrap();
    outcome.counts.companies
}

#[test]
fn demo_preview_shows_exactly_the_rows_of_a_direct_preview_and_exports_them() {
    let (mut h, env) = demo_harness();
    h.get_by_label("Preview").click();
    step_until(&mut h, Duration::from_secs(30), "the preview", preview_done);
    let app = h.state();
    assert_eq!(app.preview.error, None);
    let table = app.preview.table.as_ref().unwrap();
    let expected = direct_preview(app);
    assert!(!expected.is_empty());
    assert_eq!(table.companies(), expected);
    // The rule in words and a totals row are on screen.
    assert!(h.query_all_by_label_contains("License").next().is_some());
    assert!(h.query_by_label("Total").is_some());

    // Filter with Ctrl+F: the field takes focus and the table narrows.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.run_steps(2);
    let name = expected[0].company_name.clone();
    h.get_by_label("Filter").type_text(&name);
    h.run_steps(2);
    let visible = common::window::preview_table(&h).visible_len();
    assert!(
        visible >= 1 && visible < expected.len(),
        "{visible} rows after filtering"
    );

    // Semicolon export through the (fixed-path) save dialog writes every row, not just the filtered ones.
    h.get_by_label("Delimiter").click();
    h.run_steps(2);
    h.get_by_label("Semicolon (;)").click();
    h.run_steps(2);
    h.get_by_label("Export CSV...").click();
    common::window::wait_for_export(&mut h);
    let text = std::fs::read_to_string(&env.csv_path).unwrap();
    let expected_csv = cw_shared_devices::domain::csv_export::csv_string(
        &expected,
        cw_shared_devices::domain::csv_export::CsvDelimiter::Semicolon,
    )
    .unwrap();
    // The same rows, in the table's order (the CSV records are compared as a set).
    let records = |text: &str| {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let mut rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(text.lines().next(), expected_csv.lines().next());
    assert_eq!(records(&text), records(&expected_csv));
    let table_order: Vec<i64> = common::window::preview_table(&h)
        .companies_in_table_order(false)
        .iter()
        .map(|c| c.company_id)
        .collect();
    let written: Vec<i64> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(written, table_order);
    assert!(h.query_all_by_label_contains("Exported").next().is_some());
}

#[test]
fn cancel_mid_preview_stops_within_a_second_and_says_so() {
    let (mut h, _env) = demo_harness();
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    sandbox
        .connectwise_knobs()
        .set_latency(Duration::from_millis(400));
    h.get_by_label("Preview").click();
    step_until(
        &mut h,
        Duration::from_secs(10),
        "the preview to start",
        |h| h.state().is_running(PreviewJob::KIND),
    );
    h.run_steps(1);
    assert!(
        h.query_by_role(egui::accesskit::Role::ProgressIndicator)
            .is_some()
    );
    let cancelled_at = Instant::now();
    h.get_by_label("Cancel preview").click();
    step_until(&mut h, Duration::from_secs(5), "the cancel", preview_done);
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "cancel took {:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(
        h.state().preview.error.as_deref(),
        Some("Preview cancelled.")
    );
    assert!(h.state().preview.table.is_none());
}

fn test_connectwise(h: &mut Harness<'_, App>) -> String {
    h.get_by_label("Test ConnectWise connection").click();
    step_until(h, Duration::from_secs(30), "the ConnectWise test", |h| {
        !matches!(
            h.state().connectwise_test,
            TestState::Running | TestState::NotRun
        )
    });
    h.run_steps(1);
    match &h.state().connectwise_test {
        TestState::Passed(t) => format!("OK: {t}"),
        TestState::Failed(t) => t.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connection_tests_pass_and_name_each_failure() {
    let (mut h, _env) = demo_harness();
    let text = test_connectwise(&mut h);
    assert!(text.starts_with("OK: Connected to ConnectWise"), "{text}");
    // What discovery found is on screen.
    assert!(
        h.query_all_by_label_contains("Codebase v4_6_release/")
            .next()
            .is_some()
    );

    set_field(&mut h, "Private key", "wrong-key");
    let text = test_connectwise(&mut h);
    assert!(text.contains("refused the API keys"), "{text}");
    assert!(
        h.query_all_by_label_contains("refused the API keys")
            .next()
            .is_some()
    );
    assert!(!text.contains("wrong-key"));

    set_field(
        &mut h,
        "Private key",
        cw_shared_devices::sandbox::SANDBOX_PRIVATE_KEY,
    );
    set_field(&mut h, "Company ID", "nobody");
    let text = test_connectwise(&mut h);
    assert!(text.contains("does not know the company id"), "{text}");

    set_field(
        &mut h,
        "Company ID",
        cw_shared_devices::sandbox::SANDBOX_COMPANY_ID,
    );
    set_field(&mut h, "Client ID", "");
    let text = test_connectwise(&mut h);
    assert!(
        text.contains("client id") || text.contains("Client ID"),
        "{text}"
    );

    set_field(
        &mut h,
        "Client ID",
        cw_shared_devices::sandbox::SANDBOX_CLIENT_ID,
    );
    set_field(&mut h, "Site URL", "http://127.0.0.1:9");
    let text = test_connectwise(&mut h);
    assert!(text.contains("cannot reach"), "{text}");

    set_field(&mut h, "Site URL", "http://cw.example.com");
    let text = test_connectwise(&mut h);
    assert!(text.contains("plain http://"), "{text}");

    // TLS failure: https to the sandbox's plain-http port.
    let sandbox = h.state().demo_sandbox().unwrap();
    let site = sandbox.cw_site_url();
    let handle = sandbox.handle();
    let https = format!("https://{}", site.as_str().trim_start_matches("http://"));
    set_field(&mut h, "Site URL", &https);
    let text = test_connectwise(&mut h);
    assert!(text.contains("secure connection"), "{text}");

    // No rights: the API member's role lacks access (403 on the signed-in call).
    set_field(&mut h, "Site URL", site.as_str());
    handle
        .connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(403),
            "/v4_6_release/apis/3.0/",
        ));
    let text = test_connectwise(&mut h);
    assert!(text.contains("no rights"), "{text}");
    let text = test_connectwise(&mut h);
    assert!(text.starts_with("OK: "), "{text}");

    h.get_by_label("Test Synthesize connection").click();
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the Synthesize test",
        |h| {
            matches!(
                h.state().synthesize_test,
                TestState::Passed(_) | TestState::Failed(_)
            )
        },
    );
    assert!(
        matches!(h.state().synthesize_test, TestState::Passed(_)),
        "{:?}",
        h.state().synthesize_test
    );
    set_field(&mut h, "Vendor API key", "nope");
    h.get_by_label("Test Synthesize connection").click();
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the Synthesize test",
        |h| matches!(h.state().synthesize_test, TestState::Failed(_)),
    );
    let TestState::Failed(text) = &h.state().synthesize_test else {
        unreachable!()
    };
    assert!(text.contains("refused the API keys"), "{text}");
}

fn run_demo_preview(h: &mut Harness<'_, App>) {
    h.get_by_label("Preview").click();
    step_until(h, Duration::from_secs(30), "the preview", preview_done);
    assert_eq!(h.state().preview.error, None);
}

fn sync_idle(h: &Harness<'_, App>) -> bool {
    h.state().sync.phase() == SyncPhase::Idle
}

#[test]
fn sync_all_asks_first_then_reports_a_status_per_row_and_history_lists_the_run() {
    let (mut h, _env) = demo_harness();
    run_demo_preview(&mut h);

    // A dry run shows the plan and sends nothing.
    h.get_by_label("Dry run").click();
    step_until(&mut h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    h.run_steps(3);
    assert!(h.query_by_label("Dry run: nothing is sent").is_some());
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    assert!(sandbox.accounts().is_empty());
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(sync_idle(&h));
    let table = common::window::preview_table(&h);
    assert!(
        table
            .rows()
            .iter()
            .all(|r| r.would_send.is_some() && r.status == RowStatus::None)
    );
    assert!(sandbox.accounts().is_empty(), "a dry run created accounts");

    // The real thing: plan, confirm, progress to 100 %, a status on every row.
    click_send(&mut h);
    step_until(&mut h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    step_until(&mut h, Duration::from_secs(5), "the confirmation", |h| {
        h.query_by_label("Confirm and send").is_some()
    });
    let summary = h.state().sync.planned().unwrap().plan.summary();
    assert!(summary.contains("2 services to create"), "{summary}");
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the sync", |h| {
        sync_idle(h) && h.state().sync.report().is_some()
    });
    let app = h.state();
    let report = app.sync.report().unwrap();
    let p = report.progress;
    assert_eq!(p.counts_done, p.counts_total, "{p:?}");
    assert!(p.sent > 0, "{p:?}");
    let table = app.preview.table.as_ref().unwrap();
    for row in table.rows() {
        assert!(
            matches!(
                row.status,
                RowStatus::Sent | RowStatus::Unmapped(_) | RowStatus::Failed(_)
            ),
            "{} has status {:?}",
            row.counts.company_id,
            row.status
        );
    }
    assert!(!sandbox.accounts().is_empty());
    // The table now shows the counts just sent as "last sent".
    assert!(
        table
            .rows()
            .iter()
            .any(|r| r.last_sent.is_some() && !r.changed())
    );

    // Send again, so the first run is not the one whose counts Synthesize holds now.
    click_send(&mut h);
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the second confirmation",
        |h| h.query_by_label("Confirm and send").is_some(),
    );
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the second sync", |h| {
        sync_idle(h) && h.state().sync.report().is_some()
    });

    // History lists the runs in the product's words.
    common::window::open_history(&mut h);
    assert!(
        h.query_all_by_label("Send (services, accounts, counts)")
            .next()
            .is_some()
    );
    assert!(h.query_all_by_label_contains("finished").next().is_some());
    assert!(
        h.query_all_by_label("Revert to these counts")
            .next()
            .is_some()
    );

    // Revert to these counts plans exactly that run's counts and asks to confirm.
    let sent = report_sent(&h);
    h.get_all_by_label("Revert to these counts")
        .next()
        .unwrap()
        .click();
    step_until(&mut h, Duration::from_secs(30), "the revert plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    let planned = h.state().sync.planned().unwrap();
    assert_eq!(planned.plan.counts.len() as u64, sent);
    step_until(&mut h, Duration::from_secs(5), "the confirmation", |h| {
        h.query_by_label("Revert to these counts?").is_some()
    });
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    assert!(sync_idle(&h));
}

fn report_sent(h: &Harness<'_, App>) -> u64 {
    h.state().sync.report().unwrap().progress.sent as u64
}

#[test]
fn failed_and_unmapped_rows_are_shown_and_retry_failed_sends_only_those() {
    let (mut h, _env) = demo_harness();
    run_demo_preview(&mut h);
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let companies = common::window::preview_table(&h).companies();
    // The faults hit the first posts (lowest ids); the unmapped company is the last one.
    let unmapped_id = companies.last().unwrap().company_id;
    sandbox.set_account_unmapped(&unmapped_id.to_string(), true);
    sandbox.synthesize_knobs().push_faults(
        (0..3).map(|_| {
            ScheduledFault::path_prefix(FaultKind::Status(400), "/api/vendor-api/service/")
        }),
    );

    click_send(&mut h);
    step_until(&mut h, Duration::from_secs(30), "the confirmation", |h| {
        h.query_by_label("Confirm and send").is_some()
    });
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the sync", |h| {
        sync_idle(h) && h.state().sync.report().is_some()
    });
    let report = h.state().sync.report().cloned().unwrap();
    assert_eq!(report.progress.failed, 3, "{:?}", report.progress);
    assert!(report.progress.unmapped >= 1, "{:?}", report.progress);
    let table = common::window::preview_table(&h);
    let unmapped_row = table
        .rows()
        .iter()
        .find(|r| r.counts.company_id == unmapped_id)
        .unwrap();
    assert!(
        matches!(unmapped_row.status, RowStatus::Unmapped(_)),
        "{:?}",
        unmapped_row.status
    );
    let failed: Vec<i64> = table
        .rows()
        .iter()
        .filter(|r| matches!(r.status, RowStatus::Failed(_)))
        .map(|r| r.counts.company_id)
        .collect();
    assert!(!failed.is_empty() && failed.len() <= 3, "{failed:?}");
    h.run_steps(2);
    assert!(h.query_all_by_label_contains("failed: ").next().is_some());

    let count_posts = || {
        sandbox
            .synthesize_requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/count"))
            .count()
    };
    let posts_before = count_posts();
    h.get_by_label("Retry failed").click();
    step_until(&mut h, Duration::from_secs(60), "the retry", |h| {
        sync_idle(h)
            && h.state()
                .sync
                .report()
                .is_some_and(|r| r.progress.counts_total == 3)
    });
    let retry = h.state().sync.report().cloned().unwrap();
    assert_eq!(
        (retry.progress.sent, retry.progress.failed),
        (3, 0),
        "{:?}",
        retry.progress
    );
    assert_eq!(count_posts() - posts_before, 3);
    let table = common::window::preview_table(&h);
    for id in failed {
        let row = table
            .rows()
            .iter()
            .find(|r| r.counts.company_id == id)
            .unwrap();
        assert_eq!(row.status, RowStatus::Sent);
    }
    let unmapped_row = table
        .rows()
        .iter()
        .find(|r| r.counts.company_id == unmapped_id)
        .unwrap();
    assert!(matches!(unmapped_row.status, RowStatus::Unmapped(_)));
    assert!(h.query_by_label("Retry failed").is_none());
}

#[test]
fn without_a_keychain_the_window_says_so_and_keeps_keys_for_the_session() {
    let (mut h, env) = build_with(
        egui::vec2(1280.0, 800.0),
        false,
        MemoryStore::unavailable(),
        None,
    );
    h.run_steps(2);
    create_profile(&mut h, "Create a profile", "No keychain");
    set_field(&mut h, "Private key", "typed-private-key");
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("keychain is not available")
            .next()
            .is_some()
    );
    assert!(
        h.query_all_by_label_contains("kept for this session only")
            .next()
            .is_some()
    );
    assert_eq!(h.state().form.private_key, "typed-private-key");
    // Nothing reached a file.
    for (path, text) in all_files(env.dir.path()) {
        assert!(!text.contains("typed-private-key"), "{}", path.display());
    }
    // The next key goes straight to the session store without another error.
    set_field(&mut h, "Public key", "typed-public-key");
    assert!(
        h.state().dialog_error.is_none(),
        "{:?}",
        h.state().dialog_error
    );
}

#[test]
fn the_last_profile_is_reopened_and_old_saved_state_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let (mut h, env) = build_with(
        egui::vec2(1280.0, 800.0),
        false,
        MemoryStore::new(),
        Some(dir),
    );
    h.run_steps(2);
    create_profile(&mut h, "Create a profile", "Alpha");
    create_profile(&mut h, "New profile", "Beta");
    set_field(&mut h, "Company ID", "beta-co");
    let saved = h.state().persisted.clone();
    assert_eq!(saved.last_profile.as_deref(), Some("Beta"));
    drop(h);

    // A new window on the same folders, restored from what eframe saved, opens Beta again.
    let (mut h, _env2) = build_with(
        egui::vec2(1280.0, 800.0),
        false,
        MemoryStore::new(),
        Some(env.dir),
    );
    h.state_mut().restore(saved);
    h.run_steps(2);
    assert_eq!(h.state().profile_name(), "Beta");
    assert_eq!(h.state().form.company_id, "beta-co");
    assert!(root.exists());

    // Saved state from an older version (missing fields, unknown fields) still loads.
    let old: cw_shared_devices::ui::Persisted =
        serde_json::from_str(r#"{"last_profile":"Alpha","removed_field":1}"#).unwrap();
    assert_eq!(old.last_profile.as_deref(), Some("Alpha"));
    assert!(old.log_open);
}

#[test]
fn an_unticked_row_is_left_out_of_the_plan() {
    let (mut h, _env) = demo_harness();
    run_demo_preview(&mut h);
    let left_out = common::window::preview_table(&h)
        .visible()
        .next()
        .unwrap()
        .counts
        .company_id;
    h.get_by_label(&left_out.to_string()).click();
    h.run_steps(1);
    // A dry run of everything: the demo has no accounts yet, and Sync usage holds counts back
    // until they exist.
    h.get_by_label("Dry run").click();
    step_until(&mut h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    let plan = &h.state().sync.planned().unwrap().plan;
    assert!(!plan.counts.is_empty());
    assert!(plan.counts.iter().all(|c| c.company_id != left_out));
    assert_eq!(plan.companies_not_selected, 1);
    assert!(
        plan.summary().contains("1 company not selected"),
        "{}",
        plan.summary()
    );
}

#[test]
fn a_late_preview_of_the_previous_profile_never_lands_in_the_new_one() {
    let (mut h, _env) = demo_harness();
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    sandbox
        .connectwise_knobs()
        .set_latency(Duration::from_millis(300));
    h.get_by_label("Preview").click();
    step_until(
        &mut h,
        Duration::from_secs(10),
        "the preview to start",
        |h| h.state().is_running(PreviewJob::KIND),
    );
    create_profile(&mut h, "New profile", "Fresh");
    step_until(
        &mut h,
        Duration::from_secs(10),
        "the old preview to stop",
        |h| !h.state().is_running(PreviewJob::KIND),
    );
    h.run_steps(3);
    assert_eq!(h.state().profile_name(), "Fresh");
    assert!(h.state().preview.table.is_none());
    assert!(!h.state().preview.running);
    assert_eq!(h.state().preview.error, None);
}

#[test]
fn without_a_save_dialog_the_csv_goes_to_a_typed_path() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("typed.csv");
    let (mut h, _env) = demo_harness();
    run_demo_preview(&mut h);
    // This harness's dialog answers a fixed path; make it one that cannot open.
    h.state_mut()
        .set_save_dialog(Box::new(FixedPathSaveDialog(None)));
    h.get_by_label("Export CSV...").click();
    // The path window fades in over a few frames.
    h.run_steps(5);
    assert!(
        h.query_all_by_label_contains("no save dialog could open")
            .next()
            .is_some()
    );
    // The field offers an absolute default path; the user replaces it.
    let offered = h.get_by_label("Save CSV to").value().unwrap_or_default();
    assert!(
        std::path::Path::new(&offered).is_absolute() && offered.ends_with(".csv"),
        "{offered}"
    );
    h.get_by_label("Save CSV to").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_label("Save CSV to")
        .type_text(target.to_str().unwrap());
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    common::window::wait_for_export(&mut h);
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.starts_with("company_id,company_name,shared_devices,not_shared_devices,total_devices")
    );
    assert!(h.query_by_label("Save CSV to").is_none());
}

/// Clicks a widget after scrolling it into view (the options sit low in the side panel).
fn ticked(h: &Harness<'_, App>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
}

#[test]
fn load_types_lists_the_tenant_s_type_names_and_ticking_one_changes_the_rule() {
    let (mut h, _env) = demo_harness();
    h.get_by_label("Counting and sync options").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("Laptop").is_none(),
        "listed before loading"
    );
    click_in_view(&mut h, "Load types");
    step_until(&mut h, Duration::from_secs(30), "the type names", |h| {
        !h.state().type_list.loading && h.query_by_label("Laptop").is_some()
    });
    let mut expected: Vec<String> = h
        .state()
        .demo_sandbox()
        .unwrap()
        .handle()
        .configuration_types()
        .into_iter()
        .map(|t| t.name)
        .collect();
    expected.sort_by_key(|n| n.to_lowercase());
    assert_eq!(h.state().type_list.names, expected);
    assert_eq!(h.state().type_list.error, None);
    // The typed rule counts "License": its box is ticked, the near misses' are not.
    assert!(ticked(&h, "License"));
    assert!(!ticked(&h, "Laptop"));
    assert!(!ticked(&h, "license"));

    click_in_view(&mut h, "Laptop");
    assert!(ticked(&h, "Laptop"));
    let counting = &h.state().profile.as_ref().unwrap().counting;
    assert_eq!(counting.type_names, ["License", "Laptop"]);
    // The text field shows the same lines.
    assert_eq!(h.state().counting_form.type_names, "License\nLaptop");

    click_in_view(&mut h, "License");
    assert!(!ticked(&h, "License"));
    let counting = &h.state().profile.as_ref().unwrap().counting;
    assert_eq!(counting.type_names, ["Laptop"]);

    // A tenant that cannot be reached says so next to the button, and the list stays.
    set_field(&mut h, "Site URL", "http://127.0.0.1:9");
    click_in_view(&mut h, "Reload types");
    step_until(&mut h, Duration::from_secs(30), "the failed load", |h| {
        h.state().type_list.error.is_some()
    });
    let error = h.state().type_list.error.clone().unwrap();
    assert!(
        error.starts_with("The configuration types could not be loaded: ")
            && error.contains("cannot reach"),
        "{error}"
    );
    h.run_steps(2);
    assert!(h.query_by_label(&error).is_some());
    assert!(h.query_by_label("Laptop").is_some());
}
