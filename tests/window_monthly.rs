//! The profile's exclusions and overrides in the window: the table shows what a sync would
//! send (the final counts, the excluded companies out and named), and what lands in Synthesize
//! is exactly that.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::domain::adjustments::{Exclusion, Override, OverrideKind};
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
        let rows = h.state().preview.table.as_ref().unwrap().rows();
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
        let table = h.state().preview.table.as_ref().unwrap();
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
            row.status_text().contains("overridden"),
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
        h.state().sync.phase == SyncPhase::Idle && !h.state().worker().is_running(SYNC)
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
