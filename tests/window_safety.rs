//! Billing safety in the window, on the demo's sandbox: the table marked stale where the user
//! looks when the counting options change after a preview (sending off until a new preview), an
//! incomplete preview that turns sending off and says why, the drop guard's list of companies
//! going to zero with its explicit confirmation, and "Create the missing accounts, then send".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cw_shared_devices::sandbox::{ConnectWiseBehaviour, UnreadableRecord};
use cw_shared_devices::ui::App;
use cw_shared_devices::ui::sync_view::SyncPhase;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use common::window::{SEND, demo_harness, enabled_by, plan, preview, set_field, step_until};

/// Finds a button by its label; [`SEND`] stands for the send button whatever its count.
fn button<'h>(h: &'h Harness<'_, App>, label: &'h str) -> egui_kittest::Node<'h> {
    if label == SEND {
        h.get_by_label_contains("companies…")
    } else {
        h.get_by_label(enabled_by(label))
    }
}

fn disabled(h: &Harness<'_, App>, label: &str) -> bool {
    button(h, label).accesskit_node().is_disabled()
}

fn confirm_and_wait(h: &mut Harness<'_, App>) {
    h.get_by_label("Confirm and send").click();
    step_until(h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && h.state().sync.report().is_some()
    });
    h.run_steps(2);
}

#[test]
fn a_changed_shared_pattern_marks_the_table_stale_and_turns_sending_off_until_a_new_preview() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    assert!(
        h.query_by_label_contains("The table is out of date")
            .is_none()
    );
    assert!(!disabled(&h, "Sync usage"));

    h.get_by_label("Counting and sync options").click();
    h.run_steps(3);
    set_field(&mut h, "Shared pattern", "*spare*");
    let stale = h.get_by_label_contains("The table is out of date");
    assert!(
        format!("{stale:?}").contains("the shared pattern changed since the preview"),
        "{stale:?}"
    );
    for button in ["Sync usage", "Sync accounts", "Sync services", "Dry run"] {
        assert!(
            disabled(&h, button),
            "{button} stayed on with a stale table"
        );
    }
    assert!(
        disabled(&h, SEND),
        "the send button stayed on with a stale table"
    );

    preview(&mut h);
    assert!(
        h.query_by_label_contains("The table is out of date")
            .is_none()
    );
    assert!(!disabled(&h, "Sync usage"));
}

#[test]
fn an_incomplete_preview_turns_sending_off_and_says_why() {
    let (mut h, _env) = demo_harness();
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let configurations = sandbox.configurations();
    let record = configurations
        .iter()
        .filter(|c| c.company.is_some())
        .nth(configurations.len() / 2)
        .unwrap();
    sandbox.set_connectwise_behaviour(ConnectWiseBehaviour {
        unreadable_records: BTreeMap::from([(record.id, UnreadableRecord::CompanyNotAnObject)]),
        ..ConnectWiseBehaviour::default()
    });
    preview(&mut h);
    let why = h.get_by_label_contains("The preview is incomplete, so sending is off");
    assert!(
        format!("{why:?}").contains("could not be read and neither could its company"),
        "{why:?}"
    );
    assert!(disabled(&h, "Sync usage"));
    assert!(disabled(&h, SEND));
}

#[test]
fn a_large_drop_lists_the_companies_going_to_zero_and_needs_an_explicit_confirmation() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    plan(&mut h, SEND);
    confirm_and_wait(&mut h);
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let before = sandbox.last_counts();
    assert!(!before.is_empty());

    // All but two companies lose their configurations.
    let keep: BTreeSet<i64> = sandbox
        .configurations()
        .iter()
        .filter_map(|c| c.company.as_ref().map(|co| co.id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(2)
        .collect();
    let kept = sandbox
        .configurations()
        .into_iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| keep.contains(&co.id)))
        .collect();
    sandbox.replace_configurations(kept);
    preview(&mut h);
    plan(&mut h, "Sync usage");
    assert!(h.query_by_label_contains("Large drop: ").is_some());
    let zeroed = &h.state().sync.planned().unwrap().drop_check.going_to_zero;
    assert!(zeroed.len() >= 3, "{zeroed:?}");
    let first = &zeroed[0];
    assert!(
        h.query_by_label_contains(&format!("({}): ", first.company_id))
            .is_some(),
        "the companies going to zero are not listed"
    );
    assert!(disabled(&h, "Confirm and send"));
    h.get_by_label("I checked these companies: the drop is real, send it")
        .click();
    h.run_steps(3);
    assert!(h.state().sync.drop_confirmed(), "the tick did not take");
    assert!(!disabled(&h, "Confirm and send"));
    confirm_and_wait(&mut h);
    let report = h.state().sync.report().unwrap();
    assert!(
        report.step_failures.is_empty(),
        "{:?}",
        report.step_failures
    );
    assert!(report.progress.sent > 0);
}

#[test]
fn sync_usage_offers_to_create_the_missing_accounts_then_send() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    plan(&mut h, "Sync services");
    confirm_and_wait(&mut h);
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    assert!(sandbox.accounts().is_empty());

    plan(&mut h, "Sync usage");
    assert!(
        h.query_by_label_contains("not sent: no account yet — create accounts first")
            .is_some()
    );
    assert!(h.state().sync.planned().unwrap().plan.counts.is_empty());
    h.get_by_label("Create the missing accounts, then send")
        .click();
    step_until(&mut h, Duration::from_secs(30), "the new plan", |h| {
        h.state().sync.phase() == SyncPhase::Confirm
            && h.state()
                .sync
                .planned()
                .is_some_and(|p| !p.plan.accounts_to_create.is_empty())
    });
    h.run_steps(10);
    confirm_and_wait(&mut h);
    assert!(!sandbox.accounts().is_empty());
    assert!(!sandbox.last_counts().is_empty());
}

#[test]
fn history_names_the_tenant() {
    let (mut h, _env) = demo_harness();
    common::window::open_history(&mut h);
    let sandbox_url = h.state().demo_sandbox().unwrap().synthesize_url();
    let tenant = h.get_by_label_contains("Tenant: ConnectWise company ");
    assert!(
        format!("{tenant:?}").contains(sandbox_url.as_str().trim_end_matches('/')),
        "{tenant:?}"
    );
}
