//! The window's sync keeps to its tenant the way the command does: one history per tenant
//! (named from both services) shared by the window and the command, the tenant's run lock
//! around every send, and no send from a plan whose tenant history changed after it was made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::storage::journal::{self, JournalEvent, new_run_id};
use cw_shared_devices::storage::run_lock::RunLock;
use cw_shared_devices::ui::App;
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::worker::SYNC;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use common::command::{Home, run, url_args};
use common::window::{SEND, demo_harness, plan, preview, step_until};

/// Confirms the plan on screen and waits until the sync is over, whichever way it ended.
fn confirm_and_wait_idle(h: &mut Harness<'_, App>) {
    h.get_by_label("Confirm and send").click();
    step_until(h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && !h.state().worker().is_running(SYNC)
    });
    h.run_steps(2);
}

fn message(h: &Harness<'_, App>) -> String {
    match &h.state().sync.message {
        Some(Ok(text) | Err(text)) => text.clone(),
        None => String::new(),
    }
}

#[test]
fn a_send_while_another_run_holds_the_tenant_sends_nothing_and_says_so() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    plan(&mut h, SEND);
    let tenant = h.state().sync.history().unwrap().tenant.clone();
    let dirs = h.state().history_dirs().unwrap();
    // Another run (a scheduled one, a second window) holds this tenant's lock.
    let _held = RunLock::acquire(&dirs, &tenant.journal_key(), Duration::ZERO).unwrap();

    confirm_and_wait_idle(&mut h);

    let text = message(&h);
    assert!(
        text.contains("another run for this tenant is in progress")
            && text.contains("nothing was sent"),
        "{text}"
    );
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    assert!(sandbox.accounts().is_empty(), "accounts were created");
    assert!(sandbox.last_counts().is_empty(), "counts were posted");
    assert!(h.state().sync.report().is_none());
}

#[test]
fn a_plan_whose_tenant_history_changed_before_it_was_confirmed_sends_nothing() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    plan(&mut h, SEND);
    // Between the plan and the click, another run writes to this tenant's history.
    let journal = h.state().sync.history().unwrap().journal.clone();
    journal.open_for_run().unwrap();
    journal
        .append(
            &new_run_id(),
            JournalEvent::RunFinished {
                sent: 0,
                unmapped: 0,
                failed: 0,
                cancelled: false,
            },
        )
        .unwrap();

    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let services_before = sandbox.services();

    confirm_and_wait_idle(&mut h);

    let text = message(&h);
    assert!(
        text.contains("changed since the plan was made") && text.contains("nothing was sent"),
        "{text}"
    );
    assert_eq!(sandbox.services(), services_before, "services were created");
    assert!(sandbox.last_counts().is_empty(), "counts were posted");

    // Planning again reads the history as it is now, and that plan is sent.
    plan(&mut h, SEND);
    confirm_and_wait_idle(&mut h);
    assert!(h.state().sync.report().is_some(), "{}", message(&h));
    assert!(!sandbox.last_counts().is_empty());
}

#[cfg(unix)]
#[test]
fn the_window_and_the_command_keep_one_history_for_the_tenant() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    plan(&mut h, SEND);
    confirm_and_wait_idle(&mut h);
    assert!(h.state().sync.report().is_some(), "{}", message(&h));
    let dirs = h.state().history_dirs().unwrap();
    // The window's run has its report, like the command's, beside the tenant's other reports.
    let run_id = h.state().sync.report().unwrap().run_id.clone();
    let tenant = h.state().sync.history().unwrap().tenant.clone();
    let html = dirs
        .data_dir
        .join("reports")
        .join(tenant.journal_key())
        .join(format!("{run_id}.html"));
    assert!(html.is_file(), "no report at {}", html.display());
    assert!(
        h.state()
            .log
            .lines()
            .any(|line| line.text.contains("Run report:")),
        "the log does not name the report"
    );

    // The command, run from the environment alone against the same tenant, in a home whose
    // data folder is the window's.
    let home = Home::new();
    std::fs::create_dir_all(home.path().join("data")).unwrap();
    std::os::unix::fs::symlink(&dirs.data_dir, home.data_dir()).unwrap();
    let sandbox = h.state().demo_sandbox().unwrap();
    let mut cmd = home.cmd();
    cmd.arg("sync-usage").args(url_args(sandbox));
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // One tenant journal, holding both runs; History shows both.
    let journals = journal::tenant_journals(&dirs).unwrap();
    assert_eq!(journals.len(), 1, "{journals:?}");
    common::window::open_history(&mut h);
    let runs = match &h.state().history {
        Some(Ok(view)) => view.runs.clone(),
        other => panic!("history: {other:?}"),
    };
    assert_eq!(runs.len(), 2, "{runs:?}");
}
