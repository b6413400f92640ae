//! The window as a guided, honest workflow, on the demo's sandbox: the step bar and one
//! primary action, messages in a status bar that never moves the buttons, a table whose state
//! stays true after every action, the table's polish, History in words with a detail view,
//! export of what the table shows, a status change that asks first, and keyboard use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::too_many_lines)]

mod common;

use std::time::Duration;

use cw_shared_devices::sandbox::{FaultKind, ScheduledFault};
use cw_shared_devices::ui::App;
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::ui::table::{AccountState, RowStatus};
use cw_shared_devices::ui::{FixedPathSaveDialog, Tab};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use common::window::{click_send, demo_harness, enabled_by, preview, step_until};

fn wait_for_plan(h: &mut Harness<'_, App>) {
    step_until(h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    // The dialog fades in over a few frames.
    h.run_steps(10);
}

/// Send all ticked companies, confirmed, and wait for the run to end.
fn send(h: &mut Harness<'_, App>) {
    click_send(h);
    wait_for_plan(h);
    h.get_by_label("Confirm and send").click();
    step_until(h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && h.state().sync.report().is_some()
    });
    h.run_steps(2);
}

fn dry_run(h: &mut Harness<'_, App>) {
    h.get_by_label("Dry run").click();
    wait_for_plan(h);
    h.get_by_label("Close").click();
    h.run_steps(3);
}

/// The export's message as the status bar shows it.
fn status_message(h: &Harness<'_, App>) -> String {
    match &h.state().export.message {
        Some(Ok(text) | Err(text)) => text.clone(),
        None => panic!("no export message"),
    }
}

fn disabled(h: &Harness<'_, App>, label: &str) -> bool {
    h.get_by_label(enabled_by(label))
        .accesskit_node()
        .is_disabled()
}

#[test]
fn the_step_bar_shows_the_path_and_sending_waits_for_a_current_preview() {
    let (mut h, _env) = demo_harness();
    h.run_steps(2);
    assert!(
        h.query_by_label("1 Connect: test both connections")
            .is_some()
    );
    assert!(h.query_by_label("2 Preview").is_some());
    // Before any preview every sync action is off, the partial steps included.
    let send = h.get_by_label_contains("companies…");
    assert!(send.accesskit_node().is_disabled());
    for label in ["Dry run", "Sync services", "Sync accounts", "Sync usage"] {
        assert!(disabled(&h, label), "{label} is on before a preview");
    }

    preview(&mut h);
    let companies = common::window::preview_table(&h).rows().len();
    let step = h.get_by_label_contains("2 Preview done: ");
    assert!(
        format!("{step:?}").contains(&format!("{companies} companies")),
        "{step:?}"
    );
    let review = h.get_by_label_contains("3 Review: ");
    assert!(
        format!("{review:?}").contains(&format!("{companies} changes, 0 held")),
        "{review:?}"
    );
    let label = format!("Send all {companies} companies…");
    assert!(!disabled(&h, &label));
    assert!(h.query_by_label(&format!("{companies} selected")).is_some());

    // Unticking a row: the count and the primary action say so.
    let first = common::window::preview_table(&h)
        .visible()
        .next()
        .unwrap()
        .counts
        .company_id;
    h.get_by_label(&first.to_string()).click();
    h.run_steps(2);
    let selected = companies - 1;
    assert!(h.query_by_label(&format!("{selected} selected")).is_some());
    assert!(
        h.query_by_label(&format!("Send {selected} selected companies…"))
            .is_some()
    );
    assert!(
        h.query_by_label(&format!("4 Send: {selected} selected"))
            .is_some()
    );
}

#[test]
fn messages_go_to_the_status_bar_and_never_move_the_buttons() {
    let (mut h, env) = demo_harness();
    preview(&mut h);
    let before = (
        h.get_by_label("Other steps").rect(),
        h.get_by_label("Preview").rect(),
        h.get_by_label("Filter").rect(),
    );
    h.get_by_label("Export CSV...").click();
    common::window::wait_for_export(&mut h);
    assert!(env.csv_path.exists());
    let message = status_message(&h);
    assert!(message.starts_with("Exported "), "{message}");
    assert!(
        h.get_by_label(&message).rect().min.y > before.2.max.y,
        "the message is not below the table"
    );
    dry_run(&mut h);
    let Some(Ok(message)) = h.state().sync.message.clone() else {
        panic!("no dry run message")
    };
    assert!(
        message.starts_with("Dry run: nothing was sent"),
        "{message}"
    );
    assert!(h.query_by_label(&message).is_some());
    let after = (
        h.get_by_label("Other steps").rect(),
        h.get_by_label("Preview").rect(),
        h.get_by_label("Filter").rect(),
    );
    assert_eq!(before, after, "a message moved the toolbar");
    // The saved file's folder can be opened from the message.
    assert!(h.query_by_label("Open folder").is_some());
}

#[test]
fn the_table_stays_true_after_sending_a_dry_run_and_preview_again() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    // A sort and an unticked row, to survive Preview again.
    h.get_by_label("Total").click();
    h.run_steps(2);
    let (sort_before, order_before) = {
        let t = common::window::preview_table(&h);
        (
            t.sort(),
            t.visible().map(|r| r.counts.company_id).collect::<Vec<_>>(),
        )
    };
    let unticked = order_before[0];
    h.get_by_label(&unticked.to_string()).click();
    h.run_steps(2);

    send(&mut h);
    let app = h.state();
    let table = app.preview.table.as_ref().unwrap();
    // Accounts the run created show as existing, not "to create".
    assert!(
        table
            .rows()
            .iter()
            .filter(|r| r.selected)
            .all(|r| r.account == AccountState::Exists),
        "an Account cell still says to create"
    );
    // A zero the zero policy did not send is not shown as a zero sent.
    let zero = table
        .rows()
        .iter()
        .find(|r| r.counts.shared_devices == 0 && r.counts.not_shared_devices > 0 && r.selected)
        .expect("the demo has a company with no shared devices");
    assert_eq!(zero.last_sent.unwrap().shared_devices, None);
    let shown = format!("— / {}", zero.counts.not_shared_devices);
    let id = zero.counts.company_id.to_string();
    // Only the rows in view are drawn: filter to that company.
    h.get_by_label("Filter").focus();
    h.run_steps(1);
    h.get_by_label("Filter").type_text(&id);
    h.run_steps(3);
    assert!(h.query_all_by_label(&shown).next().is_some(), "no {shown}");
    h.get_by_label("Filter").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.key_press(egui::Key::Backspace);
    h.run_steps(3);

    // A dry run after the send: the sent rows still say sent, the dry run beside it.
    dry_run(&mut h);
    let table = common::window::preview_table(&h);
    let sent: Vec<_> = table
        .rows()
        .iter()
        .filter(|r| r.status == RowStatus::Sent)
        .collect();
    assert!(!sent.is_empty(), "the dry run overwrote what was sent");
    h.run_steps(1);
    assert!(
        h.query_all_by_label_contains("sent · dry run: would send ")
            .next()
            .is_some()
    );

    // Preview again keeps the unticked row and the sort.
    preview(&mut h);
    let t = common::window::preview_table(&h);
    assert_eq!(t.sort(), sort_before);
    assert!(!t.selected_ids().contains(&unticked));
    assert_eq!(
        t.visible().map(|r| r.counts.company_id).collect::<Vec<_>>(),
        order_before
    );
}

#[test]
fn after_a_revert_the_rows_say_what_was_sent() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    send(&mut h);
    // The tenant changes: one company loses a configuration, and is sent again.
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let mut configurations = sandbox.configurations();
    let gone = configurations
        .iter()
        .position(|c| c.company.is_some())
        .unwrap();
    let company = configurations[gone].company.as_ref().unwrap().id;
    configurations.remove(gone);
    sandbox.replace_configurations(configurations);
    preview(&mut h);
    send(&mut h);

    common::window::open_history(&mut h);
    // Only the older run can be reverted to: the newer one's counts are what Synthesize holds.
    let reverts: Vec<_> = h.get_all_by_label("Revert to these counts").collect();
    assert_eq!(reverts.len(), 1);
    reverts[0].click();
    wait_for_plan(&mut h);
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the revert", |h| {
        h.state().sync.phase() == SyncPhase::Idle && h.state().sync.report().is_some()
    });
    h.run_steps(2);
    let table = common::window::preview_table(&h);
    let row = table
        .rows()
        .iter()
        .find(|r| r.counts.company_id == company)
        .unwrap();
    let text = row.status_text();
    assert!(text.ends_with("(revert)"), "{text}");
    let sent = row.sent_now.unwrap();
    assert_ne!(
        (
            sent.shared_devices.unwrap_or(0),
            sent.not_shared_devices.unwrap_or(0)
        ),
        (row.counts.shared_devices, row.counts.not_shared_devices),
        "the revert sent the table's counts"
    );
}

#[test]
fn every_failure_of_a_row_is_shown_and_history_says_so_in_words() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    // One post at a time, so the faults meet the posts in the plan's order.
    h.state_mut()
        .profile
        .as_mut()
        .unwrap()
        .sync
        .count_concurrency = 1;
    click_send(&mut h);
    wait_for_plan(&mut h);
    // Both counts of the first company with two counts fail (and any single one before it).
    let counts = &h.state().sync.planned().unwrap().plan.counts;
    let second = counts
        .windows(2)
        .position(|w| w[0].company_id == w[1].company_id)
        .unwrap()
        + 1;
    let company = counts[second].company_id;
    sandbox.synthesize_knobs().push_faults(
        (0..=second).map(|_| {
            ScheduledFault::path_prefix(FaultKind::Status(400), "/api/vendor-api/service/")
        }),
    );
    let faults = second + 1;
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && h.state().sync.report().is_some()
    });
    h.run_steps(2);
    let table = common::window::preview_table(&h);
    let failed: Vec<_> = table
        .rows()
        .iter()
        .filter(|r| matches!(r.status, RowStatus::Failed(_)))
        .collect();
    let failed_rows = failed.len();
    let row = failed
        .iter()
        .find(|r| r.counts.company_id == company)
        .unwrap();
    let text = row.status_text();
    assert!(
        text.contains("Shared Devices: ") && text.contains("Not Shared Devices: "),
        "{text}"
    );
    // "Failed only" keeps just the failed rows.
    h.get_by_label("Failed only").click();
    h.run_steps(2);
    assert_eq!(common::window::preview_table(&h).visible_len(), failed_rows);
    h.get_by_label("Failed only").click();
    h.run_steps(2);

    h.get_by_label("Retry failed").click();
    step_until(&mut h, Duration::from_secs(60), "the retry", |h| {
        h.state().sync.phase() == SyncPhase::Idle
            && h.state()
                .sync
                .report()
                .is_some_and(|r| r.progress.counts_total == faults)
    });
    dry_run(&mut h);

    common::window::open_history(&mut h);
    let outcome = format!("finished with {faults} failed");
    let first = h.get_by_label(&outcome);
    let retry = h.get_by_label("Send (services, accounts, counts) — retry of failed counts");
    let dry = h.get_by_label("Send (services, accounts, counts) — dry run (this session)");
    // Newest first: the dry run, then the retry, then the run that failed.
    assert!(dry.rect().min.y < retry.rect().min.y);
    assert!(retry.rect().min.y < first.rect().min.y);
    for internal in ["sync", "sync-usage", "sync-accounts", "sync-services"] {
        assert!(h.query_by_label(internal).is_none(), "{internal} shown");
    }
    // The retry holds the current counts of only two posts; the first run can be reverted to.
    assert_eq!(h.get_all_by_label("Revert to these counts").count(), 1);

    // A run's detail: its companies and each result.
    // The oldest run's detail.
    h.get_all_by_label("Details").last().unwrap().click();
    h.run_steps(3);
    assert!(
        h.state().history_open_run.is_some(),
        "Details did not open a run"
    );
    assert!(h.query_by_label_contains("Run of ").is_some());
    assert!(h.query_all_by_label("sent").next().is_some());
    assert!(h.query_all_by_label_contains("failed: ").next().is_some());
    h.get_by_label("Close details").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Run of ").is_none());
}

#[test]
fn numbers_are_right_aligned_and_sort_biggest_first_with_a_marker() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    h.get_by_label("Total").click();
    h.run_steps(2);
    let header = h.get_by_label("Total ▼");
    let column = header.rect();
    let t = common::window::preview_table(&h);
    let totals: Vec<u64> = t.visible().map(|r| r.counts.total_devices).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    // Every number drawn under the header ends at the same x.
    let rights: Vec<f32> = h
        .get_all_by_role(egui::accesskit::Role::Label)
        .filter(|n| {
            let r = n.rect();
            r.center().x > column.min.x
                && r.center().x < column.max.x
                && r.min.y > column.max.y
                && n.value()
                    .is_some_and(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|n| n.rect().max.x)
        .collect();
    assert!(rights.len() >= 3, "{rights:?}");
    assert!(
        rights.iter().all(|x| (x - rights[0]).abs() < 1.0),
        "numbers are not right-aligned: {rights:?}"
    );
    h.get_by_label("Total ▼").click();
    h.run_steps(2);
    assert!(h.query_by_label("Total ▲").is_some());
}

#[test]
fn export_writes_the_ticked_rows_in_the_table_s_order_to_an_absolute_path() {
    let (mut h, env) = demo_harness();
    preview(&mut h);
    h.get_by_label("Total").click();
    h.run_steps(2);
    let order: Vec<i64> = common::window::preview_table(&h)
        .visible()
        .map(|r| r.counts.company_id)
        .collect();
    h.get_by_label(&order[1].to_string()).click();
    h.run_steps(2);
    h.get_by_label("Selected rows only").click();
    h.run_steps(2);
    h.get_by_label("Export CSV...").click();
    common::window::wait_for_export(&mut h);
    let text = std::fs::read_to_string(&env.csv_path).unwrap();
    let ids: Vec<i64> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].trim_start_matches('\'').parse().unwrap())
        .collect();
    let expected: Vec<i64> = order.iter().copied().filter(|&id| id != order[1]).collect();
    assert_eq!(ids, expected);
    let message = status_message(&h);
    assert!(h.query_by_label(&message).is_some());
    assert!(
        message.contains(env.csv_path.to_str().unwrap()),
        "{message}"
    );

    // With no dialog, a typed bare name lands in the offered folder, shown in full.
    h.state_mut()
        .set_save_dialog(Box::new(FixedPathSaveDialog(None)));
    h.get_by_label("Export CSV...").click();
    h.run_steps(3);
    let offered = h.get_by_label("Save CSV to").value().unwrap();
    assert!(std::path::Path::new(&offered).is_absolute(), "{offered}");
}

#[test]
fn a_status_change_shows_what_synthesize_says_and_asks_first() {
    let (mut h, _env) = demo_harness();
    h.get_by_label("Test Synthesize connection").click();
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the Synthesize test",
        |h| h.state().sync.integration.is_some(),
    );
    h.get_by_label("Synthesize integration status").click();
    h.run_steps(3);
    let read = h
        .state()
        .sync
        .integration
        .as_ref()
        .unwrap()
        .status
        .clone()
        .unwrap();
    assert_eq!(
        h.state().sync.status_choice.map(|s| s.as_str().to_owned()),
        Some(read.clone())
    );
    // The status already read cannot be "set" again.
    assert!(disabled(&h, "Set status…"));
    let other = if read == "pending" {
        "inactive"
    } else {
        "pending"
    };
    h.get_by_label("Integration status").click();
    h.run_steps(2);
    h.get_by_label(other).click();
    h.run_steps(2);
    h.get_by_label("Set status…").click();
    h.run_steps(5);
    assert_eq!(
        h.state().sync.status_to_confirm.map(|s| s.as_str()),
        Some(other),
        "{:?}",
        h.state().sync.status_choice
    );
    assert!(
        h.query_by_label(&format!("Set the integration status to {other}?"))
            .is_some()
    );
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    assert_eq!(
        sandbox.integration_status(),
        read,
        "changed before the confirmation"
    );
    h.get_by_label(&format!("Set to {other}")).click();
    step_until(&mut h, Duration::from_secs(30), "the status", |h| {
        h.state().sync.status_message.is_some()
    });
    assert_eq!(sandbox.integration_status(), other);
}

#[test]
fn f5_previews_and_the_connection_folds_away_once_both_tests_pass() {
    let (mut h, _env) = demo_harness();
    h.key_press(egui::Key::F5);
    step_until(&mut h, Duration::from_secs(30), "the preview", |h| {
        h.state().preview.table.is_some()
    });
    assert_eq!(h.state().tab, Tab::Preview);
    assert!(h.query_by_label("Company ID").is_some());
    h.get_by_label("Test ConnectWise connection").click();
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the ConnectWise test",
        |h| {
            matches!(
                h.state().connectwise_test,
                cw_shared_devices::ui::connection::TestState::Passed(_)
            )
        },
    );
    h.run_steps(3);
    h.get_by_label("Test Synthesize connection").click();
    step_until(&mut h, Duration::from_secs(30), "both tests", |h| {
        h.state().sync.integration.is_some()
            && matches!(
                h.state().connectwise_test,
                cw_shared_devices::ui::connection::TestState::Passed(_)
            )
    });
    h.run_steps(10);
    assert!(
        h.query_by_label("Company ID").is_none(),
        "the connection did not fold"
    );
    assert!(h.query_by_label("1 Connect done").is_some());
}

/// A preview at `size`, then every control and column is within reach: visible in the window,
/// or scrolled into it.
fn check_layout(size: egui::Vec2) -> usize {
    let (mut h, _env) = common::window::build(size, true);
    h.run_steps(2);
    h.get_by_label("Try the demo").click();
    h.run_steps(3);
    preview(&mut h);
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size);
    for label in [
        "Preview",
        "Dry run",
        "Other steps",
        "Export CSV...",
        "Delete",
        "Hide log",
        "Filter",
    ] {
        let rect = h.get_by_label(label).rect();
        assert!(
            window.contains_rect(rect),
            "{label} at {rect:?} is outside {size:?}"
        );
    }
    let send = h.get_by_label_contains("companies…").rect();
    assert!(
        window.contains_rect(send),
        "the send button is outside {size:?}"
    );
    // The step bar's last step is in sight as drawn, without scrolling the bar sideways.
    let last_step = h.get_by_label_contains("4 Send").rect();
    assert!(
        window.contains_rect(last_step),
        "the step bar's last step at {last_step:?} is cut at {size:?}"
    );
    // Rows in view: the company checkboxes drawn inside the window.
    let ids: Vec<String> = common::window::preview_table(&h)
        .rows()
        .iter()
        .map(|r| r.counts.company_id.to_string())
        .collect();
    let in_view = ids
        .iter()
        .filter(|id| {
            h.query_by_label(id.as_str())
                .is_some_and(|n| window.contains_rect(n.rect()))
        })
        .count();
    // The last columns scroll into view.
    for column in ["Account", "Status"] {
        h.get_by_label(column).scroll_to_me();
        h.run_steps(20);
        let rect = h.get_by_label(column).rect();
        assert!(
            window.contains_rect(rect),
            "{column} unreachable at {size:?}: {rect:?}"
        );
    }
    in_view
}

#[test]
fn every_control_and_column_is_reachable_at_1280_1024_and_800_wide() {
    let rows_1280 = check_layout(egui::vec2(1280.0, 800.0));
    let rows_1024 = check_layout(egui::vec2(1024.0, 640.0));
    let rows_800 = check_layout(egui::vec2(800.0, 560.0));
    eprintln!(
        "rows in view: {rows_1280} at 1280×800, {rows_1024} at 1024×640, {rows_800} at 800×560"
    );
    assert!(rows_1280 >= 15, "{rows_1280} rows in view at 1280×800");
    assert!(rows_1024 >= 9, "{rows_1024} rows in view at 1024×640");
    assert!(rows_800 >= 6, "{rows_800} rows in view at 800×560");
}

#[test]
fn the_demo_keeps_a_way_back_after_switching_to_a_profile() {
    let (mut h, env) = demo_harness();
    common::window::create_profile(&mut h, "New profile", "Acme");
    assert!(!h.state().is_demo());
    // A profile made from the demo is a real one: it is where the window keeps its profiles.
    let stored = cw_shared_devices::storage::profiles::ProfileStore::new(
        &cw_shared_devices::storage::AppDirs::at(env.dir.path()),
    )
    .list()
    .unwrap();
    assert!(
        stored.profiles.iter().any(|p| p.name == "Acme"),
        "{stored:?}"
    );
    h.get_by_label("Profile").click();
    h.run_steps(2);
    h.get_by_label("Demo (sandbox)").click();
    h.run_steps(3);
    assert!(h.state().is_demo(), "the demo could not be reopened");
    // What is temporary is said in words.
    assert!(
        h.query_by_label_contains("Its history and keys are temporary")
            .is_some()
    );
}

#[test]
fn without_a_keychain_the_words_are_plain_and_the_log_says_where_keys_went_once() {
    let (mut h, _env) = common::window::build_with(
        egui::vec2(1280.0, 800.0),
        false,
        cw_shared_devices::storage::secrets::MemoryStore::unavailable(),
        None,
    );
    h.run_steps(2);
    common::window::create_profile(&mut h, "Create a profile", "No keychain");
    for key in ["one", "two"] {
        h.get_by_label("Private key").focus();
        h.run_steps(1);
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.get_by_label("Private key").type_text(key);
        h.run_steps(1);
        h.key_press(egui::Key::Tab);
        common::window::settle_profiles(&mut h);
    }
    // One plain line, the system's own message only on hover.
    let banner = h.get_by_label(
        "The system keychain is not available: keys typed now are kept for this session only.",
    );
    assert!(banner.rect().height() < 24.0, "{:?}", banner.rect());
    let lines: Vec<String> = h.state().log.lines().map(|l| l.text.clone()).collect();
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("saved in the system keychain")),
        "{lines:?}"
    );
    let kept: Vec<_> = h
        .state()
        .log
        .lines()
        .filter(|l| l.text.contains("kept for this session only (no keychain)"))
        .collect();
    // The same line twice is one line counted twice.
    assert_eq!(kept.len(), 1, "{lines:?}");
    assert_eq!(kept[0].repeated, 2, "{lines:?}");
}

/// Replaces a text field's content: focus, select all, type, Tab away.
fn set_field(h: &mut Harness<'_, App>, label: &str, text: &str) {
    common::window::replace_text(h, label, text);
    h.run_steps(1);
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
}

#[test]
fn a_connection_test_can_be_cancelled_and_an_edit_clears_its_old_result() {
    use cw_shared_devices::ui::connection::TestState;
    let (mut h, _env) = demo_harness();
    // A server that takes the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    set_field(&mut h, "Site URL", &url);
    h.get_by_label("Test ConnectWise connection").click();
    step_until(&mut h, Duration::from_secs(10), "the test to start", |h| {
        h.query_by_label("Cancel test").is_some()
    });
    h.get_by_label("Cancel test").click();
    step_until(&mut h, Duration::from_secs(5), "the cancel", |h| {
        !matches!(h.state().connectwise_test, TestState::Running)
    });
    assert!(h.query_by_label("Cancel test").is_none());

    // An old failure does not stay beside an edited field.
    set_field(&mut h, "Site URL", "http://127.0.0.1:9");
    h.get_by_label("Test ConnectWise connection").click();
    step_until(&mut h, Duration::from_secs(30), "the failed test", |h| {
        matches!(h.state().connectwise_test, TestState::Failed(_))
    });
    set_field(&mut h, "Company ID", "other");
    assert_eq!(h.state().connectwise_test, TestState::NotRun);

    // A client id that is not a GUID is pointed out.
    set_field(&mut h, "Client ID", "my-client");
    assert!(h.query_by_label_contains("Client ID: not a GUID").is_some());
}

#[test]
fn the_window_follows_the_system_theme_until_the_user_picks_one() {
    let (mut h, _env) = demo_harness();
    // kittest pins a theme for its pictures; a user's window starts as egui's default does.
    h.ctx.set_theme(egui::ThemePreference::System);
    for (system, dark) in [(egui::Theme::Light, false), (egui::Theme::Dark, true)] {
        h.input_mut().system_theme = Some(system);
        h.run_steps(3);
        assert_eq!(
            h.ctx.theme() == egui::Theme::Dark,
            dark,
            "system {system:?}"
        );
    }
    h.get_by_label("Theme").click();
    h.run_steps(2);
    h.get_by_label("Light").click();
    h.run_steps(2);
    h.input_mut().system_theme = Some(egui::Theme::Dark);
    h.run_steps(3);
    assert!(
        h.ctx.theme() == egui::Theme::Light,
        "the user's Light gave way to the system's Dark"
    );
}

#[test]
fn tab_walks_the_form_in_drawn_order_and_enter_tests_that_connection() {
    let (mut h, _env) = demo_harness();
    h.get_by_label("Company ID").focus();
    h.run_steps(2);
    let order = [
        "Company ID",
        "Client ID",
        "Public key",
        "Private key",
        "API version",
        "Extra CA certificates",
    ];
    for next in &order[1..] {
        h.key_press(egui::Key::Tab);
        h.run_steps(2);
        assert!(
            h.get_by_label(next).is_focused(),
            "Tab did not go to {next}"
        );
    }
    // Enter in a field is the Connect step's action: it tests that side (a test only reads).
    h.get_by_label("Company ID").focus();
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the ConnectWise test after Enter",
        |h| h.query_by_label("1 Connect: test Synthesize").is_some(),
    );
    h.get_by_label("Vendor API key").focus();
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    step_until(
        &mut h,
        Duration::from_secs(30),
        "the Synthesize test after Enter",
        |h| h.query_by_label("1 Connect done").is_some(),
    );
}
