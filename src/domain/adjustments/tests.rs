use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone as _, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::settings::SyncOptions;
use crate::domain::sync_plan::{LastSent, LastSentCount, PlanInput, plan_sync};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn row(id: i64, shared: u64, not_shared: u64) -> CompanyCounts {
    CompanyCounts {
        company_id: id,
        company_name: format!("Company {id}"),
        shared_devices: shared,
        not_shared_devices: not_shared,
        total_devices: shared + not_shared,
    }
}

fn ov(id: i64, service: ServiceKind, kind: OverrideKind, until: Option<NaiveDate>) -> Override {
    Override {
        company_id: id,
        service,
        kind,
        reason: "kiosks billed by contract".into(),
        until,
    }
}

#[test]
fn a_fixed_override_replaces_the_computed_count_and_keeps_it_beside() {
    let out = apply_overrides(
        &[row(1, 5, 2), row(2, 1, 1)],
        &[ov(1, ServiceKind::Shared, OverrideKind::Fixed(3), None)],
        day(2026, 2, 1),
    );
    assert_eq!(
        out.counts[0],
        CompanyCounts {
            shared_devices: 3,
            total_devices: 5,
            ..row(1, 5, 2)
        }
    );
    assert_eq!(out.counts[1], row(2, 1, 1));
    let a = out.adjustment(1, ServiceKind::Shared).unwrap();
    assert_eq!((a.computed, a.final_count, a.clamped), (5, 3, false));
    assert!(out.adjustment(1, ServiceKind::NotShared).is_none());
}

#[test]
fn an_adjustment_below_zero_is_clamped_and_says_so() {
    let out = apply_overrides(
        &[row(1, 2, 4)],
        &[ov(
            1,
            ServiceKind::NotShared,
            OverrideKind::Adjust(-6),
            None,
        )],
        day(2026, 2, 1),
    );
    assert_eq!(out.counts[0].not_shared_devices, 0);
    assert_eq!(out.counts[0].total_devices, 2);
    let a = out.clamped().next().unwrap();
    assert!(a.clamped);
    assert!(a.describe().contains("clamped to 0"), "{}", a.describe());
    let plus = apply_overrides(
        &[row(1, 2, 4)],
        &[ov(1, ServiceKind::NotShared, OverrideKind::Adjust(3), None)],
        day(2026, 2, 1),
    );
    assert_eq!(plus.counts[0].not_shared_devices, 7);
}

#[test]
fn an_override_applies_through_its_last_day_and_not_after() {
    let o = ov(
        1,
        ServiceKind::Shared,
        OverrideKind::Fixed(0),
        Some(day(2026, 3, 31)),
    );
    let on_last_day = apply_overrides(&[row(1, 5, 0)], std::slice::from_ref(&o), day(2026, 3, 31));
    assert_eq!(on_last_day.counts[0].shared_devices, 0);
    let after = apply_overrides(&[row(1, 5, 0)], &[o], day(2026, 4, 1));
    assert_eq!(after.counts[0], row(1, 5, 0));
    assert!(after.adjusted.is_empty());
}

#[test]
fn an_override_of_a_company_not_counted_is_reported_not_applied() {
    let out = apply_overrides(
        &[row(1, 1, 1)],
        &[ov(9, ServiceKind::Shared, OverrideKind::Fixed(3), None)],
        day(2026, 2, 1),
    );
    assert_eq!(out.counts, vec![row(1, 1, 1)]);
    assert_eq!(out.not_applied.len(), 1);
}

#[test]
fn set_and_clear_override_keep_one_per_company_and_service() {
    let mut list = Vec::new();
    assert!(
        set_override(
            &mut list,
            ov(1, ServiceKind::Shared, OverrideKind::Fixed(1), None)
        )
        .is_none()
    );
    let old = set_override(
        &mut list,
        ov(1, ServiceKind::Shared, OverrideKind::Fixed(2), None),
    );
    assert_eq!(old.unwrap().kind, OverrideKind::Fixed(1));
    set_override(
        &mut list,
        ov(1, ServiceKind::NotShared, OverrideKind::Adjust(1), None),
    );
    assert_eq!(list.len(), 2);
    assert!(clear_override(&mut list, 1, ServiceKind::Shared).is_some());
    assert!(clear_override(&mut list, 1, ServiceKind::Shared).is_none());
    assert_eq!(list.len(), 1);
}

#[test]
fn exclusions_by_id_and_by_inactive_status() {
    let since = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let mut settings = ExclusionSettings::default();
    settings.insert(Exclusion {
        company_id: 7,
        reason: "our own company".into(),
        since,
    });
    assert!(
        settings
            .insert(Exclusion {
                company_id: 7,
                reason: "MSP itself".into(),
                since
            })
            .is_some()
    );
    assert_eq!(settings.companies.len(), 1);
    // The companies whose status is marked inactive, as the status list judged them.
    let statuses = BTreeMap::from([(7, "Inactive".to_owned()), (8, "Not-Approved".to_owned())]);
    let off = settings.effective(&statuses);
    assert_eq!(off.iter().map(|e| e.company_id).collect::<Vec<_>>(), [7]);
    settings.exclude_inactive_companies = true;
    let on = settings.effective(&statuses);
    assert_eq!(on.iter().map(|e| e.company_id).collect::<Vec<_>>(), [7, 8]);
    // The reason typed wins over the status.
    assert_eq!(on[0].reason, "MSP itself");
    assert_eq!(
        on[1].reason,
        "ConnectWise status \"Not-Approved\" is marked inactive"
    );
    assert!(settings.remove(7).is_some());
    assert!(settings.get(7).is_none());
}

#[test]
fn a_run_leaves_out_those_excluded_by_id_and_only_the_inactive_it_would_bill() {
    let since = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let mut adjustments = RunAdjustments::default();
    adjustments.exclusions.insert(Exclusion {
        company_id: 7,
        reason: "our own company".into(),
        since,
    });
    adjustments.exclusions.exclude_inactive_companies = true;
    adjustments.inactive_companies =
        BTreeMap::from([(2, "Inactive".to_owned()), (99, "Gone".to_owned())]);
    let known: BTreeSet<i64> = [1, 2, 3].into();
    let ids: Vec<i64> = adjustments
        .excluded_companies(&known)
        .iter()
        .map(|e| e.company_id)
        .collect();
    // 7 is excluded by id though nothing counts it; 99 is inactive but never billed here.
    assert_eq!(ids, vec![2, 7]);
    assert!(!adjustments.is_empty());
    assert!(RunAdjustments::default().is_empty());
}

#[test]
fn the_preview_shows_final_counts_and_leaves_the_excluded_out_with_their_names() {
    let mut adjustments = RunAdjustments {
        overrides: vec![
            ov(1, ServiceKind::Shared, OverrideKind::Fixed(9), None),
            // An override of an excluded company is not shown as applied.
            ov(2, ServiceKind::NotShared, OverrideKind::Adjust(1), None),
        ],
        ..RunAdjustments::default()
    };
    adjustments.exclusions.insert(Exclusion {
        company_id: 2,
        reason: "internal".into(),
        since: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap(),
    });
    let shown = shown_counts(
        &[row(1, 5, 2), row(2, 1, 1), row(3, 4, 0)],
        &adjustments,
        day(2026, 2, 1),
    );
    assert_eq!(shown.counts, vec![row(1, 9, 2), row(3, 4, 0)]);
    assert_eq!(shown.adjusted.len(), 1);
    assert_eq!(shown.adjusted[0].computed, 5);
    assert_eq!(shown.excluded.len(), 1);
    assert_eq!(shown.excluded[0].company_name, "Company 2");
    assert_eq!(shown.excluded[0].reason, "internal");
}

#[test]
fn the_command_spellings_parse_and_bad_ones_name_the_field_and_fix() {
    assert_eq!(parse_override_kind("=3"), Ok(OverrideKind::Fixed(3)));
    assert_eq!(parse_override_kind(" +2 "), Ok(OverrideKind::Adjust(2)));
    assert_eq!(parse_override_kind("-1"), Ok(OverrideKind::Adjust(-1)));
    assert_eq!(parse_override_kind("=0"), Ok(OverrideKind::Fixed(0)));
    for bad in ["3", "", "=", "+-1", "=1.5", "= 3", "x3", "=３"] {
        let e = parse_override_kind(bad).unwrap_err().to_string();
        assert!(
            e.starts_with("Override count") && e.contains("=N"),
            "{bad}: {e}"
        );
    }
    assert!(
        parse_override_kind("+99999999999999999999")
            .unwrap_err()
            .to_string()
            .contains("too large")
    );
    for kind in [
        OverrideKind::Fixed(4),
        OverrideKind::Adjust(2),
        OverrideKind::Adjust(-5),
    ] {
        assert_eq!(parse_override_kind(&kind.to_string()), Ok(kind));
    }

    let today = day(2026, 2, 1);
    assert_eq!(parse_until("2026-03-31", today), Ok(day(2026, 3, 31)));
    assert_eq!(parse_until("2026-02-01", today), Ok(today));
    for bad in ["2026-3-31", "31/03/2026", "2026-02-30", "tomorrow", ""] {
        let e = parse_until(bad, today).unwrap_err().to_string();
        assert!(
            e.starts_with("Until") && e.contains("YYYY-MM-DD"),
            "{bad}: {e}"
        );
    }
    assert!(matches!(
        parse_until("2026-01-31", today),
        Err(AdjustmentParseError::DateInPast { .. })
    ));

    assert_eq!(parse_service("Not-Shared"), Ok(ServiceKind::NotShared));
    assert_eq!(parse_service("shared"), Ok(ServiceKind::Shared));
    assert!(
        parse_service("both")
            .unwrap_err()
            .to_string()
            .contains("shared or not-shared")
    );
    assert_eq!(parse_company_id(" 19300 "), Ok(19300));
    assert!(parse_company_id("acme").is_err());
    assert!(parse_company_id("0").is_err());
    assert_eq!(parse_reason("  contract "), Ok("contract".to_owned()));
    assert_eq!(parse_reason(" "), Err(AdjustmentParseError::EmptyReason));
}

#[test]
fn overrides_serialize_in_a_readable_shape_and_round_trip() {
    let o = ov(
        1,
        ServiceKind::NotShared,
        OverrideKind::Adjust(-2),
        Some(day(2026, 3, 31)),
    );
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["kind"], "adjust");
    assert_eq!(json["value"], -2);
    assert_eq!(json["until"], "2026-03-31");
    assert_eq!(serde_json::from_value::<Override>(json).unwrap(), o);
}

fn counts_strategy() -> impl Strategy<Value = Vec<CompanyCounts>> {
    proptest::collection::btree_map(1i64..40, (0u64..50, 0u64..50), 0..15)
        .prop_map(|m| m.into_iter().map(|(id, (s, n))| row(id, s, n)).collect())
}

fn override_strategy() -> impl Strategy<Value = Override> {
    (
        1i64..40,
        prop_oneof![Just(ServiceKind::Shared), Just(ServiceKind::NotShared)],
        prop_oneof![
            (0u64..60).prop_map(OverrideKind::Fixed),
            (-80i64..80).prop_map(OverrideKind::Adjust)
        ],
        proptest::option::of(0u32..60),
    )
        .prop_map(|(id, service, kind, until)| Override {
            company_id: id,
            service,
            kind,
            reason: "r".into(),
            until: until.map(|d| day(2026, 1, 1) + chrono::Days::new(u64::from(d))),
        })
}

proptest! {
    #[test]
    fn final_counts_are_never_below_zero_and_add_up(
        counts in counts_strategy(),
        overrides in proptest::collection::vec(override_strategy(), 0..20),
        offset in 0u64..90,
    ) {
        let today = day(2026, 1, 1) + chrono::Days::new(offset);
        let out = apply_overrides(&counts, &overrides, today);
        prop_assert_eq!(out.counts.len(), counts.len());
        for (before, after) in counts.iter().zip(&out.counts) {
            prop_assert_eq!(before.company_id, after.company_id);
            prop_assert_eq!(after.shared_devices + after.not_shared_devices, after.total_devices);
        }
        for a in &out.adjusted {
            let (expected, clamped) = a.applied.kind.apply(a.computed);
            prop_assert_eq!(a.final_count, expected);
            prop_assert_eq!(a.clamped, clamped);
            if let OverrideKind::Adjust(d) = a.applied.kind {
                prop_assert_eq!(clamped, i128::from(a.computed) + i128::from(d) < 0);
            }
        }
    }

    #[test]
    fn an_expired_override_changes_nothing(
        counts in counts_strategy(),
        overrides in proptest::collection::vec(override_strategy(), 0..20),
    ) {
        // Every override ends before the day judged.
        let expired: Vec<Override> = overrides
            .into_iter()
            .map(|o| Override { until: Some(day(2025, 12, 31)), ..o })
            .collect();
        let out = apply_overrides(&counts, &expired, day(2026, 1, 1));
        prop_assert_eq!(&out.counts, &counts);
        prop_assert!(out.adjusted.is_empty());
        prop_assert!(out.not_applied.is_empty());
    }

    #[test]
    fn an_excluded_company_never_appears_in_what_is_sent(
        counts in counts_strategy(),
        last in proptest::collection::btree_map((1i64..40, prop_oneof![Just(ServiceKind::Shared), Just(ServiceKind::NotShared)]), 0u64..20, 0..20),
        excluded_ids in proptest::collection::btree_set(1i64..40, 0..10),
        overrides in proptest::collection::vec(override_strategy(), 0..10),
        every_zero in any::<bool>(),
    ) {
        let last_sent: LastSent = last
            .into_iter()
            .map(|(k, n)| (k, LastSentCount { unit_count: n, company_name: format!("Company {}", k.0) }))
            .collect();
        let adjusted = apply_overrides(&counts, &overrides, day(2026, 1, 1));
        let mut options = SyncOptions::default();
        if every_zero {
            options.zero_policy = crate::domain::settings::ZeroPolicy::EveryZero;
        }
        let mut plan = plan_sync(&PlanInput {
            counts: &adjusted.counts,
            services: &[],
            accounts: &[],
            last_sent: &last_sent,
            options: &options,
            selection: None,
        });
        plan.record_adjustments(&adjusted.adjusted);
        let exclusions: Vec<ExcludedCompany> = excluded_ids
            .iter()
            .map(|&company_id| ExcludedCompany { company_id, company_name: String::new(), reason: "test".into() })
            .collect();
        plan.exclude(&exclusions);
        let sent: BTreeSet<i64> = plan.counts.iter().map(|c| c.company_id).collect();
        prop_assert!(sent.is_disjoint(&excluded_ids));
        let accounts: BTreeSet<i64> = plan.accounts_to_create.iter().map(|a| a.id.parse().unwrap()).collect();
        prop_assert!(accounts.is_disjoint(&excluded_ids));
        prop_assert!(plan.adjusted.iter().all(|a| !excluded_ids.contains(&a.company_id)));
        prop_assert_eq!(plan.excluded.iter().map(|e| e.company_id).collect::<BTreeSet<_>>(), excluded_ids);
        // What is sent for an overridden count is its final count.
        for a in &plan.adjusted {
            let planned = plan.counts.iter().find(|c| c.company_id == a.company_id && c.service == a.service);
            if let Some(planned) = planned {
                prop_assert_eq!(planned.unit_count, a.final_count);
            }
        }
    }
}

#[test]
fn a_run_excludes_the_companies_the_status_list_marks_inactive() {
    let mut list = CompanyStatusList::default();
    list.add_definitions_page(
        br#"[{"id": 1, "name": "Active", "inactiveFlag": false},
             {"id": 2, "name": "Inactive", "inactiveFlag": true},
             {"id": 9, "name": "Active (managed)", "inactiveFlag": false}]"#,
    )
    .unwrap();
    list.add_page(
        br#"[{"id": 1, "status": {"id": 1, "name": "Active"}},
             {"id": 2, "status": {"id": 2, "name": "Inactive"}},
             {"id": 3, "status": {"id": 9, "name": "Active (managed)"}},
             {"id": 4}]"#,
    )
    .unwrap();
    let mut run = RunAdjustments::default();
    run.exclusions.exclude_inactive_companies = true;
    assert!(run.statuses_missing());
    run.set_company_statuses(&list);
    assert!(!run.statuses_missing());
    let known = BTreeSet::from([1, 2, 3, 4]);
    let ids: Vec<i64> = run
        .excluded_companies(&known)
        .iter()
        .map(|e| e.company_id)
        .collect();
    assert_eq!(
        ids,
        vec![2],
        "a renamed active status and an unknown one are not excluded"
    );
}
