//! Completeness, tenant keys, the stale check and the drop guard, by example and by property.

use proptest::prelude::*;

use super::*;
use crate::domain::sync_plan::{LastSentCount, PlannedCount};
use ServiceKind::{NotShared, Shared};

fn unreadable(record_id: Option<i64>, company_id: Option<i64>) -> UnreadableRecord {
    UnreadableRecord {
        record_id,
        company_id,
        of_counted_type: None,
    }
}

fn agreeing(records_read: u64, unreadable: Vec<UnreadableRecord>) -> PreviewCompleteness {
    let total = records_read + unreadable.len() as u64;
    PreviewCompleteness {
        count_before: total,
        count_after: total,
        records_read,
        duplicates: 0,
        unreadable,
        next_page_offered: false,
    }
}

// --- completeness -----------------------------------------------------------------------------

#[test]
fn counts_that_agree_are_complete() {
    let preview = agreeing(120, vec![]);
    assert!(preview.is_complete());
    assert!(preview.held_companies().is_empty());
    assert_eq!(preview.incomplete_message(), None);
}

#[test]
fn built_from_a_fetch_it_takes_the_counting_figures() {
    let counted = CountingResult {
        configurations_read: 8,
        skipped: crate::domain::counting::SkipReport {
            duplicate_ids: 2,
            ..Default::default()
        },
        ..CountingResult::default()
    };
    let preview =
        PreviewCompleteness::from_fetch(9, 9, &counted, vec![unreadable(Some(1), Some(4))], false);
    assert_eq!((preview.records_read, preview.duplicates), (8, 2));
    assert!(preview.is_complete());
    assert_eq!(preview.held_companies()[0].company_id, 4);
}

#[test]
fn duplicates_alone_do_not_make_a_preview_incomplete() {
    let mut preview = agreeing(50, vec![]);
    preview.duplicates = 3;
    assert!(preview.is_complete());
}

#[test]
fn an_unreadable_record_of_a_known_company_holds_it_and_stays_complete() {
    let preview = agreeing(
        10,
        vec![
            unreadable(Some(9), Some(12)),
            unreadable(Some(4), Some(12)),
            unreadable(None, Some(30)),
        ],
    );
    assert!(preview.is_complete(), "{:?}", preview.incomplete_reasons());
    let held = preview.held_companies();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].company_id, 12);
    assert_eq!(held[0].unreadable_records, 2);
    assert_eq!(held[0].record_ids, vec![4, 9]);
    assert_eq!(
        held[0].reason(),
        "2 configuration records could not be read (ids 4, 9); held so it is not billed low"
    );
    assert_eq!(held[1].company_id, 30);
    assert_eq!(
        held[1].reason(),
        "1 configuration record could not be read; held so it is not billed low"
    );
}

#[test]
fn an_unreadable_record_without_a_company_makes_the_preview_incomplete() {
    let preview = agreeing(10, vec![unreadable(Some(77), None)]);
    assert_eq!(
        preview.incomplete_reasons(),
        vec![IncompleteReason::UnreadableWithoutCompany {
            records: 1,
            record_ids: vec![77],
        }]
    );
    let message = preview.incomplete_message().unwrap();
    assert!(
        message.contains(
            "1 configuration record could not be read and neither could its company (ids 77)"
        ),
        "{message}"
    );
    assert!(message.contains("--accept-incomplete"), "{message}");
}

#[test]
fn an_unreadable_record_of_a_type_that_does_not_count_holds_nothing() {
    let mut other_type = unreadable(Some(5), None);
    other_type.of_counted_type = Some(false);
    let mut other_company = unreadable(Some(6), Some(3));
    other_company.of_counted_type = Some(false);
    let preview = agreeing(10, vec![other_type, other_company]);
    assert!(preview.is_complete());
    assert!(preview.held_companies().is_empty());
}

#[test]
fn the_type_of_an_unreadable_record_is_judged_by_the_counting_options() {
    let bad = |type_name: Option<&str>| UnparseableRecord {
        id: Some(1),
        company_id: Some(2),
        type_name: type_name.map(str::to_owned),
        reason: "invalid type".to_owned(),
    };
    let options = CountingOptions::default();
    let judged = |t| UnreadableRecord::from_unparseable(&bad(t), &options).of_counted_type;
    assert_eq!(judged(Some("LICENSE")), Some(true));
    assert_eq!(judged(Some("License ")), Some(false));
    assert_eq!(judged(Some("Printer")), Some(false));
    assert_eq!(judged(None), None);
    let record = UnreadableRecord::from_unparseable(&bad(None), &options);
    assert_eq!((record.record_id, record.company_id), (Some(1), Some(2)));
}

#[test]
fn a_count_that_changes_during_the_fetch_is_incomplete() {
    let mut preview = agreeing(100, vec![]);
    preview.count_after = 101;
    let reasons = preview.incomplete_reasons();
    assert!(reasons.contains(&IncompleteReason::CountChanged {
        before: 100,
        after: 101
    }));
    assert!(
        preview
            .incomplete_message()
            .unwrap()
            .contains("(100 before, 101 after)")
    );
}

#[test]
fn fewer_records_than_the_server_counts_is_incomplete() {
    let mut preview = agreeing(1000, vec![]);
    preview.count_before = 1200;
    preview.count_after = 1200;
    assert_eq!(
        preview.incomplete_reasons(),
        vec![IncompleteReason::CountMismatch {
            server_count: 1200,
            records_seen: 1000
        }]
    );
    assert!(
        preview
            .incomplete_message()
            .unwrap()
            .contains("ConnectWise reports 1200 configurations but 1000 were read")
    );
}

#[test]
fn a_next_page_not_read_is_incomplete() {
    let mut preview = agreeing(25, vec![]);
    preview.next_page_offered = true;
    assert_eq!(
        preview.incomplete_reasons(),
        vec![IncompleteReason::NextPageNotRead]
    );
}

#[test]
fn a_tenant_whose_records_all_fail_is_incomplete_not_a_plan_of_zeros() {
    let records: Vec<UnreadableRecord> = (1..=40).map(|id| unreadable(Some(id), None)).collect();
    let preview = agreeing(0, records);
    assert!(!preview.is_complete());
}

#[test]
fn an_unreadable_record_seen_on_two_pages_is_one_record() {
    let preview = PreviewCompleteness {
        count_before: 11,
        count_after: 11,
        records_read: 10,
        duplicates: 1,
        unreadable: vec![unreadable(Some(3), Some(1)), unreadable(Some(3), Some(1))],
        next_page_offered: false,
    };
    assert_eq!(preview.records_seen(), 11);
    assert!(preview.is_complete());
}

proptest! {
    /// Figures that agree, with every unreadable record's company known, are complete; any
    /// unreadable record without a company makes it incomplete.
    #[test]
    fn completeness_follows_the_unreadable_companies(
        read in 0u64..5000,
        companies in proptest::collection::vec(proptest::option::of(1i64..50), 0..20),
    ) {
        let records: Vec<UnreadableRecord> = companies
            .iter()
            .enumerate()
            .map(|(i, c)| unreadable(Some(i as i64 + 1_000_000), *c))
            .collect();
        let preview = agreeing(read, records);
        prop_assert_eq!(preview.is_complete(), companies.iter().all(Option::is_some));
        let held: BTreeSet<i64> = preview.held_companies().iter().map(|h| h.company_id).collect();
        let expected: BTreeSet<i64> = companies.iter().flatten().copied().collect();
        prop_assert_eq!(held, expected);
    }

    /// Any disagreement between what was read and `/count` makes a preview incomplete.
    #[test]
    fn disagreeing_counts_are_never_complete(
        read in 0u64..5000,
        before in 0u64..5000,
        after in 0u64..5000,
    ) {
        let preview = PreviewCompleteness {
            count_before: before,
            count_after: after,
            records_read: read,
            ..PreviewCompleteness::default()
        };
        prop_assert_eq!(preview.is_complete(), read == before && read == after);
    }
}

// --- tenant identity --------------------------------------------------------------------------

fn tenant(company: &str, org: &str) -> TenantIdentity {
    TenantIdentity::new(
        "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/",
        company,
        "https://app.usegradient.com/",
        org,
    )
}

#[test]
fn the_same_tenant_typed_differently_is_one_identity() {
    let a = tenant("AcmeMSP", "org-1");
    let b = TenantIdentity::new(
        " API-NA.myconnectwise.net ",
        " acmemsp",
        "HTTPS://App.UseGradient.com",
        "org-1 ",
    );
    assert_eq!(a, b);
    assert_eq!(a.connectwise_host, "api-na.myconnectwise.net");
    assert_eq!(a.synthesize_url, "https://app.usegradient.com");
    assert_eq!(a.journal_key(), b.journal_key());
}

#[test]
fn the_checksum_is_fnv_1a() {
    // The published test vectors.
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn the_journal_key_is_stable_and_file_system_safe() {
    let key = tenant("acme/../msp", "org 1").journal_key();
    // Fixed by FNV-1a's definition: a change here would lose every tenant's history.
    assert_eq!(
        key,
        "acme-..-msp_api-na.myconnectwise.net_app.usegradient.com_org-1_61888f9b696065db"
    );
    assert!(
        key.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    );
}

#[test]
fn a_different_site_company_or_organization_is_another_history() {
    let base = tenant("acme", "org-1");
    let keys: BTreeSet<String> = [
        base.clone(),
        tenant("other", "org-1"),
        tenant("acme", "org-2"),
        TenantIdentity::new(
            "api-eu.myconnectwise.net",
            "acme",
            "https://app.usegradient.com",
            "org-1",
        ),
        TenantIdentity::new(
            "api-na.myconnectwise.net",
            "acme",
            "http://127.0.0.1:9000",
            "org-1",
        ),
    ]
    .iter()
    .map(TenantIdentity::journal_key)
    .collect();
    assert_eq!(keys.len(), 5);
    // Parts that read alike after cleaning still differ by the checksum.
    assert_ne!(
        tenant("a b", "o").journal_key(),
        tenant("a_b", "o").journal_key()
    );
}

#[test]
fn the_tenant_is_shown_in_words() {
    assert_eq!(
        tenant("acme", "org-1").to_string(),
        "ConnectWise company acme at api-na.myconnectwise.net, Synthesize organization org-1 at https://app.usegradient.com"
    );
}

proptest! {
    #[test]
    fn every_journal_key_is_a_safe_file_name(
        site in "\\PC{0,60}",
        company in "\\PC{0,60}",
        url in "\\PC{0,60}",
        org in "\\PC{0,60}",
    ) {
        let key = TenantIdentity::new(&site, &company, &url, &org).journal_key();
        prop_assert!(key.len() < 200);
        prop_assert!(!key.starts_with('.'));
        prop_assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{}", key);
    }
}

// --- plan binding -----------------------------------------------------------------------------

fn context() -> PlanContext {
    PlanContext {
        counting: CountingOptions::default(),
        zero_policy: ZeroPolicy::ChangedToZero,
        tenant: tenant("acme", "org-1"),
        selection: None,
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000 + seconds, 0).unwrap()
}

#[test]
fn an_unchanged_context_is_current() {
    let binding = PlanBinding::new(context(), at(0));
    assert!(binding.is_current(&context(), at(3600), None));
    assert_eq!(binding.stale_message(&context(), at(3600), None), None);
}

#[test]
fn each_change_is_named() {
    let binding = PlanBinding::new(context(), at(0));
    let mut changed = context();
    changed.counting.shared_pattern = "*shared".to_owned();
    assert_eq!(
        binding.changes(&changed, at(1), None),
        vec![PlanChange::SharedPattern]
    );
    assert_eq!(
        binding.stale_message(&changed, at(1), None).unwrap(),
        "The table is out of date: the shared pattern changed since the preview. Preview again to send."
    );

    let mut changed = context();
    changed.counting.type_names.push("Printer".to_owned());
    changed.counting.shared_whole_word = true;
    changed.counting.active_only = true;
    changed.counting.assignment_field = Some(Default::default());
    changed.zero_policy = ZeroPolicy::EveryZero;
    changed.tenant = tenant("acme", "org-2");
    changed.selection = Some([1, 2].into());
    assert_eq!(
        binding.changes(&changed, at(1), None),
        vec![
            PlanChange::TypeNames,
            PlanChange::WholeWord,
            PlanChange::AssignmentField,
            PlanChange::ActiveOnly,
            PlanChange::ZeroPolicy,
            PlanChange::Tenant,
            PlanChange::Selection,
        ]
    );
}

#[test]
fn type_names_differing_only_in_case_or_order_are_the_same_rule() {
    let mut then = context();
    then.counting.type_names = vec!["License".into(), "Printer".into()];
    let mut now = context();
    now.counting.type_names = vec!["printer".into(), "LICENSE".into()];
    assert!(PlanBinding::new(then, at(0)).is_current(&now, at(0), None));
}

#[test]
fn a_preview_older_than_the_age_allowed_is_stale() {
    let binding = PlanBinding::new(context(), at(0));
    let max = Some(chrono::Duration::minutes(30));
    assert!(binding.is_current(&context(), at(30 * 60), max));
    assert_eq!(
        binding.changes(&context(), at(30 * 60 + 1), max),
        vec![PlanChange::TooOld]
    );
}

// --- drop guard -------------------------------------------------------------------------------

fn last(entries: &[(i64, ServiceKind, u64)]) -> LastSent {
    entries
        .iter()
        .map(|&(id, kind, unit_count)| {
            (
                (id, kind),
                LastSentCount {
                    unit_count,
                    company_name: format!("Company {id}"),
                },
            )
        })
        .collect()
}

fn plan_of(counts: &[(i64, ServiceKind, u64)]) -> SyncPlan {
    SyncPlan {
        counts: counts
            .iter()
            .map(|&(company_id, service, unit_count)| PlannedCount {
                company_id,
                company_name: format!("Company {company_id}"),
                service,
                unit_count,
                previous: None,
            })
            .collect(),
        ..SyncPlan::default()
    }
}

/// Ten companies with 10 shared devices each.
fn ten_companies() -> LastSent {
    last(&(1..=10).map(|id| (id, Shared, 10)).collect::<Vec<_>>())
}

#[test]
fn a_first_sync_is_never_guarded() {
    let check = check_large_drop(
        &LastSent::new(),
        &plan_of(&[(1, Shared, 0), (2, Shared, 0), (3, Shared, 0)]),
        &DropGuardThresholds::default(),
    );
    assert!(!check.is_large_drop());
    assert_eq!(check.message(), None);
}

#[test]
fn three_of_ten_companies_going_to_zero_is_a_large_drop() {
    let check = check_large_drop(
        &ten_companies(),
        &plan_of(&[(1, Shared, 0), (2, Shared, 0), (3, Shared, 0)]),
        &DropGuardThresholds::default(),
    );
    assert!(check.too_many_zeroed);
    assert!(!check.total_drop_too_large, "100 -> 70 is exactly 30 %");
    assert_eq!(check.companies_nonzero_before, 10);
    let ids: Vec<i64> = check.going_to_zero.iter().map(|c| c.company_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(
        (check.total_devices_before, check.total_devices_after),
        (100, 70)
    );
    let message = check.message().unwrap();
    assert!(
        message.contains("3 of the 10 companies with devices would go to zero (Company 1 (1), Company 2 (2), Company 3 (3))"),
        "{message}"
    );
    assert!(message.contains("--allow-large-drop"), "{message}");
}

#[test]
fn two_of_ten_companies_going_to_zero_is_not() {
    let check = check_large_drop(
        &ten_companies(),
        &plan_of(&[(1, Shared, 0), (2, Shared, 0)]),
        &DropGuardThresholds::default(),
    );
    assert!(!check.is_large_drop());
    assert_eq!(check.going_to_zero.len(), 2);
}

#[test]
fn fewer_than_three_companies_going_to_zero_is_never_too_many() {
    // Two of two companies is 100 %, but below the minimum of three.
    let check = check_large_drop(
        &last(&[(1, Shared, 1), (2, Shared, 1), (3, Shared, 100)]),
        &plan_of(&[(1, Shared, 0), (2, Shared, 0)]),
        &DropGuardThresholds::default(),
    );
    assert!(!check.too_many_zeroed);
    assert!(!check.is_large_drop());
}

#[test]
fn a_total_that_falls_by_more_than_thirty_percent_is_a_large_drop() {
    let check = check_large_drop(
        &ten_companies(),
        &plan_of(&(1..=10).map(|id| (id, Shared, 6)).collect::<Vec<_>>()),
        &DropGuardThresholds::default(),
    );
    assert!(check.total_drop_too_large);
    assert!(check.going_to_zero.is_empty());
    assert!(
        check
            .message()
            .unwrap()
            .contains("the tenant's total devices would fall from 100 to 60")
    );
}

#[test]
fn a_company_is_zero_only_when_both_services_are() {
    let check = check_large_drop(
        &last(&[(1, Shared, 5), (1, NotShared, 5)]),
        &plan_of(&[(1, Shared, 0)]),
        &DropGuardThresholds::default(),
    );
    assert!(check.going_to_zero.is_empty());
    assert_eq!(check.total_devices_after, 5);
}

#[test]
fn counts_not_in_the_plan_keep_their_last_value() {
    // A selection of one company: the others are not touched by this run.
    let check = check_large_drop(
        &ten_companies(),
        &plan_of(&[(4, Shared, 12)]),
        &DropGuardThresholds::default(),
    );
    assert_eq!(check.total_devices_after, 102);
    assert!(!check.is_large_drop());
}

#[test]
fn thresholds_out_of_range_are_refused() {
    assert!(DropGuardThresholds::default().validate().is_ok());
    let t = DropGuardThresholds {
        total_drop_percent: 101,
        ..DropGuardThresholds::default()
    };
    assert_eq!(t.validate(), Err(DropGuardError::TotalDropPercent(101)));
}

fn arb_last_sent() -> impl Strategy<Value = LastSent> {
    proptest::collection::btree_map(
        (1i64..40, prop_oneof![Just(Shared), Just(NotShared)]),
        0u64..50,
        0..60,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(key, unit_count)| {
                (
                    key,
                    LastSentCount {
                        unit_count,
                        company_name: format!("Company {}", key.0),
                    },
                )
            })
            .collect()
    })
}

fn arb_plan() -> impl Strategy<Value = SyncPlan> {
    proptest::collection::vec(
        (
            1i64..40,
            prop_oneof![Just(Shared), Just(NotShared)],
            0u64..50,
        ),
        0..60,
    )
    .prop_map(|counts| plan_of(&counts))
}

fn arb_thresholds() -> impl Strategy<Value = DropGuardThresholds> {
    (0u32..=100, 0usize..6, 0u32..=100).prop_map(|(z, m, t)| DropGuardThresholds {
        zeroed_companies_percent: z,
        min_zeroed_companies: m,
        total_drop_percent: t,
    })
}

proptest! {
    #[test]
    fn never_guards_a_first_sync(plan in arb_plan(), thresholds in arb_thresholds()) {
        prop_assert!(!check_large_drop(&LastSent::new(), &plan, &thresholds).is_large_drop());
    }

    /// Raising any threshold never turns an allowed run into a guarded one.
    #[test]
    fn the_guard_is_monotone_in_its_thresholds(
        last_sent in arb_last_sent(),
        plan in arb_plan(),
        low in arb_thresholds(),
        raise in (0u32..=100, 0usize..6, 0u32..=100),
    ) {
        let high = DropGuardThresholds {
            zeroed_companies_percent: (low.zeroed_companies_percent + raise.0).min(100),
            min_zeroed_companies: low.min_zeroed_companies + raise.1,
            total_drop_percent: (low.total_drop_percent + raise.2).min(100),
        };
        let at_high = check_large_drop(&last_sent, &plan, &high).is_large_drop();
        let at_low = check_large_drop(&last_sent, &plan, &low).is_large_drop();
        prop_assert!(!at_high || at_low);
    }

    /// A plan that lowers no count is never a large drop, whatever the thresholds.
    #[test]
    fn never_guards_a_plan_with_no_decreases(
        last_sent in arb_last_sent(),
        plan in arb_plan(),
        thresholds in arb_thresholds(),
    ) {
        let mut plan = plan;
        for count in &mut plan.counts {
            let previous = last_sent.get(&(count.company_id, count.service)).map_or(0, |l| l.unit_count);
            count.unit_count = count.unit_count.max(previous);
        }
        let check = check_large_drop(&last_sent, &plan, &thresholds);
        prop_assert!(!check.is_large_drop());
        prop_assert!(check.going_to_zero.is_empty());
        prop_assert!(check.total_devices_after >= check.total_devices_before);
    }
}
