//! The profile's exclusions and overrides in the window: the table shows what a sync would
//! send (the final counts, the excluded companies out and named), and what lands in Synthesize
//! is exactly that.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::domain::adjustments::{
    AdjustmentChange, AdjustmentChangeKind, Exclusion, Override, OverrideKind,
};
use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::ui::sync_view::SyncPhase;
use cw_shared_devices::worker::SYNC;
use egui_kittest::kittest::Queryable as _;

use common::tenant::held_counts;
use common::window::{SEND, demo_harness, plan, preview, step_until};

#[test]
fn the_table_shows_final_counts_without_the_excluded_and_that_is_what_lands() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    let (overridden, excluded) = {
        let rows = common::window::preview_table(&h).rows();
        let overridden = rows
            .iter()
            .find(|r| r.counts.shared_devices > 0)
            .unwrap()
            .counts
            .clone();
        let excluded = rows
            .iter()
            .find(|r| {
                r.counts.company_id != overridden.company_id && r.counts.not_shared_devices > 0
            })
            .unwrap()
            .counts
            .clone();
        (overridden, excluded)
    };
    {
        let profile = h.state_mut().profile.as_mut().unwrap();
        profile.exclusions.companies.push(Exclusion {
            company_id: excluded.company_id,
            reason: "Our own company".into(),
            since: chrono::Utc::now(),
        });
        profile.overrides.push(Override {
            company_id: overridden.company_id,
            service: ServiceKind::Shared,
            kind: OverrideKind::Adjust(40),
            reason: "Kiosks billed by contract".into(),
            until: None,
        });
    }
    preview(&mut h);

    let wanted = overridden.shared_devices + 40;
    {
        let table = common::window::preview_table(&h);
        assert!(
            table
                .rows()
                .iter()
                .all(|r| r.counts.company_id != excluded.company_id),
            "the excluded company is still a row"
        );
        let row = table
            .rows()
            .iter()
            .find(|r| r.counts.company_id == overridden.company_id)
            .unwrap();
        assert_eq!(row.counts.shared_devices, wanted);
        assert_eq!(row.computed.shared_devices, overridden.shared_devices);
        assert!(
            row.status_text().contains(&format!(
                "overridden (computed {} / {})",
                overridden.shared_devices, overridden.not_shared_devices
            )),
            "{}",
            row.status_text()
        );
    }
    assert!(
        h.query_by_label_contains("Excluded, never posted nor zeroed")
            .is_some()
    );

    plan(&mut h, SEND);
    h.get_by_label("Confirm and send").click();
    step_until(&mut h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && !h.state().worker().is_running(SYNC)
    });
    let landed = held_counts(h.state().demo_sandbox().unwrap());
    assert_eq!(
        landed.get(&(overridden.company_id, ServiceKind::Shared)),
        Some(&wanted),
        "the override's final count (computed + 40) is what lands, once"
    );
    assert!(
        !landed.keys().any(|(id, _)| *id == excluded.company_id),
        "the excluded company was posted"
    );
}

fn send_and_wait(h: &mut egui_kittest::Harness<'_, cw_shared_devices::ui::App>) {
    plan(h, SEND);
    h.get_by_label("Confirm and send").click();
    step_until(h, Duration::from_secs(60), "the sync", |h| {
        h.state().sync.phase() == SyncPhase::Idle && !h.state().worker().is_running(SYNC)
    });
    h.run_steps(2);
}

#[test]
fn history_compares_two_runs_and_lists_exactly_the_companies_that_changed() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    send_and_wait(&mut h);
    let changed = common::window::preview_table(&h).rows()[0]
        .counts
        .company_id;
    h.state_mut()
        .profile
        .as_mut()
        .unwrap()
        .overrides
        .push(Override {
            company_id: changed,
            service: ServiceKind::NotShared,
            kind: OverrideKind::Fixed(77),
            reason: "Spares billed separately".into(),
            until: None,
        });
    preview(&mut h);
    send_and_wait(&mut h);

    common::window::open_history(&mut h);
    // Newest first: the second run's detail, compared with the first run.
    h.get_all_by_label("Details").next().unwrap().click();
    h.run_steps(3);
    h.get_by_label("Compare this run with").click();
    h.run_steps(3);
    let older = match &h.state().history {
        Some(Ok(view)) => view.runs[1].started,
        other => panic!("history: {other:?}"),
    };
    let item = format!(
        "{} Send (services, accounts, counts)",
        older.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M")
    );
    h.get_by_label(&item).click();
    h.run_steps(3);

    let comparison = match &h.state().history {
        Some(Ok(view)) => view.comparison.clone().expect("no comparison shown"),
        other => panic!("history: {other:?}"),
    };
    let ids: Vec<i64> = comparison.rows.iter().map(|r| r.company_id).collect();
    assert_eq!(ids, vec![changed], "{comparison:?}");
    assert_eq!(comparison.rows[0].not_shared_after, Some(77));
    assert!(comparison.before.started < comparison.after.started);
    assert!(
        h.query_by_label_contains("1 companies changed").is_some(),
        "the comparison is not on screen"
    );
}

#[test]
fn history_lists_who_excluded_what_when_and_why() {
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    send_and_wait(&mut h);
    // What `profile exclude` records in the tenant's history.
    let journal = h.state().sync.history().unwrap().journal.clone();
    journal
        .append_adjustment_change(&AdjustmentChange {
            at: chrono::Utc::now(),
            by: "anna".into(),
            profile: "Demo (sandbox)".into(),
            change: AdjustmentChangeKind::Excluded {
                company_id: 4242,
                replaced_reason: None,
            },
            reason: "our own company".into(),
        })
        .unwrap();
    common::window::open_history(&mut h);
    h.get_by_label("Exclusion and override changes (1)").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("anna excluded company 4242: our own company")
            .is_some()
    );
}

#[test]
fn ticking_exclude_inactive_leaves_the_companies_marked_inactive_out_with_their_status() {
    use cw_shared_devices::ui::counting_form::EXCLUDE_INACTIVE_LABEL;
    let (mut h, _env) = demo_harness();
    preview(&mut h);
    // The demo's third company is Inactive in ConnectWise, and counted.
    let inactive = 256;
    assert!(
        common::window::preview_table(&h)
            .rows()
            .iter()
            .any(|r| r.counts.company_id == inactive)
    );
    h.get_by_label("Counting and sync options").click();
    h.run_steps(2);
    common::window::click_in_view(&mut h, EXCLUDE_INACTIVE_LABEL);
    assert!(
        h.state()
            .profile
            .as_ref()
            .unwrap()
            .exclusions
            .exclude_inactive_companies
    );
    preview(&mut h);
    {
        let table = common::window::preview_table(&h);
        assert!(
            table.rows().iter().all(|r| r.counts.company_id != inactive),
            "the Inactive company is still a row"
        );
        // "Active - Managed" (253) and "Credit Hold" (268) are not marked inactive.
        for id in [253, 268] {
            assert!(
                table.rows().iter().any(|r| r.counts.company_id == id),
                "{id} was left out"
            );
        }
        let excluded = table
            .excluded
            .iter()
            .find(|e| e.company_id == inactive)
            .expect("not listed as excluded");
        assert_eq!(
            excluded.reason,
            "ConnectWise status \"Inactive\" is marked inactive"
        );
    }
    // Both inactive companies (the demo has an Inactive and a Not Approved one) are listed; its
    // "Active - Managed" and "Credit Hold" companies are still rows.
    assert_eq!(
        h.query_all_by_label_contains("Excluded, never posted nor zeroed")
            .count(),
        2
    );
    send_and_wait(&mut h);
    let landed = held_counts(h.state().demo_sandbox().unwrap());
    assert!(!landed.is_empty());
    assert!(
        !landed.keys().any(|(id, _)| *id == inactive),
        "the Inactive company was posted"
    );
}

#[test]
fn ticking_exclude_inactive_is_recorded_in_the_history_with_who_and_what() {
    use cw_shared_devices::storage::{AppDirs, Journal, ProfileStore};
    use cw_shared_devices::ui::counting_form::EXCLUDE_INACTIVE_LABEL;
    let (mut h, env) = common::window::harness(egui::vec2(1280.0, 800.0));
    h.run_steps(2);
    common::window::create_profile(&mut h, "Create a profile", "Acme");
    h.get_by_label("Counting and sync options").click();
    h.run_steps(2);
    // The reason is typed first, as the command's --reason gives it.
    common::window::click_in_view(&mut h, "Reason");
    h.get_by_label("Reason")
        .type_text("closed accounts leave at month end");
    h.run_steps(1);
    common::window::click_in_view(&mut h, EXCLUDE_INACTIVE_LABEL);
    common::window::settle_profiles(&mut h);
    assert!(
        h.state().counting_form.exclude_inactive_reason.is_empty(),
        "the reason stays in the field after it was recorded"
    );
    let dirs = AppDirs::at(env.dir.path());
    assert!(
        ProfileStore::new(&dirs)
            .load("Acme")
            .unwrap()
            .exclusions
            .exclude_inactive_companies,
        "the profile was not saved with the option on"
    );
    // A profile with no tenant yet keeps the change in its own history, as the command does.
    let changes = Journal::for_profile(&dirs, "Acme")
        .unwrap()
        .adjustment_changes()
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        changes[0].change,
        AdjustmentChangeKind::InactiveCompaniesExcluded { on: true }
    );
    assert!(!changes[0].by.is_empty());
    assert_eq!(changes[0].profile, "Acme");
    assert_eq!(changes[0].reason, "closed accounts leave at month end");
}
