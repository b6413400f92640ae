//! The window, through egui_kittest, showing what the real services report: the integration's
//! status and last sync as Synthesize reads them back (never a default), and accounts that
//! Synthesize says are not mapped yet, before anything is sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::api::synthesize::IntegrationStatus;
use cw_shared_devices::sandbox::{SandboxAccount, SynthesizeShape};
use cw_shared_devices::ui::connection::TestState;
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::ui::table::AccountState;
use egui_kittest::kittest::Queryable;

use common::window::{demo_harness, step_until};

#[test]
fn the_integration_status_shown_is_the_one_synthesize_reports() {
    let (mut h, _env) = demo_harness();
    // Nothing read yet: no status is claimed.
    assert_eq!(h.state().sync.status_choice, None);
    let handle = h.state().demo_sandbox().unwrap().handle();
    handle.set_integration_status("inactive");

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
    h.run_steps(2);
    let TestState::Passed(text) = &h.state().synthesize_test else {
        panic!("{:?}", h.state().synthesize_test)
    };
    assert!(
        text.ends_with("Integration status inactive, never synced."),
        "{text}"
    );
    assert!(
        h.query_all_by_label_contains("Integration status inactive, never synced")
            .next()
            .is_some()
    );
    assert_eq!(
        h.state().sync.status_choice,
        Some(IntegrationStatus::Inactive)
    );
    assert_eq!(
        h.state()
            .sync
            .integration
            .as_ref()
            .and_then(|i| i.status.as_deref()),
        Some("inactive")
    );
}

#[test]
fn accounts_not_mapped_yet_show_as_unmapped_before_anything_is_sent() {
    let (mut h, _env) = demo_harness();
    h.get_by_label("Preview").click();
    step_until(&mut h, Duration::from_secs(30), "the preview", |h| {
        !h.state().preview.running && h.state().preview.table.is_some()
    });
    let ids: Vec<i64> = common::window::preview_table(&h)
        .rows()
        .iter()
        .map(|r| r.counts.company_id)
        .take(2)
        .collect();
    let handle = h.state().demo_sandbox().unwrap().handle();
    handle.set_synthesize_shape(SynthesizeShape {
        accounts_carry_is_mapped: true,
        ..SynthesizeShape::default()
    });
    for id in &ids {
        handle.add_account(SandboxAccount {
            id: id.to_string(),
            name: format!("Company {id}"),
            description: String::new(),
        });
    }
    handle.set_account_unmapped(&ids[0].to_string(), true);

    h.get_by_label("Dry run").click();
    step_until(&mut h, Duration::from_secs(30), "the plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
    });
    h.run_steps(2);
    let table = common::window::preview_table(&h);
    let state_of = |id: i64| {
        table
            .rows()
            .iter()
            .find(|r| r.counts.company_id == id)
            .unwrap()
            .account
    };
    assert_eq!(state_of(ids[0]), AccountState::Unmapped);
    assert_eq!(state_of(ids[1]), AccountState::Exists);
    assert!(handle.last_counts().is_empty(), "the dry run sent counts");
    assert!(
        h.state().log.lines().any(|e| e
            .text
            .contains("1 account(s) are not mapped in Synthesize yet")),
        "the warning is in the log"
    );
}
