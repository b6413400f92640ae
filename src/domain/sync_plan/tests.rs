//! Table-driven tests of sync planning: every zero policy, selection, existing services and
//! accounts, empty input, order and the summary.

use super::*;
use crate::domain::safety::HeldCompany;
use ServiceKind::{NotShared, Shared};

fn row(company_id: i64, name: &str, shared: u64, not_shared: u64) -> CompanyCounts {
    CompanyCounts {
        company_id,
        company_name: name.to_owned(),
        shared_devices: shared,
        not_shared_devices: not_shared,
        total_devices: shared + not_shared,
    }
}

fn last(entries: &[(i64, ServiceKind, u64, &str)]) -> LastSent {
    entries
        .iter()
        .map(|&(id, kind, unit_count, name)| {
            (
                (id, kind),
                LastSentCount {
                    unit_count,
                    company_name: name.to_owned(),
                },
            )
        })
        .collect()
}

fn svc(id: &str, name: &str) -> SynthesizeService {
    SynthesizeService {
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

fn acct(id: &str) -> SynthesizeAccount {
    SynthesizeAccount {
        id: id.to_owned(),
        name: format!("account {id}"),
    }
}

fn options(zero_policy: ZeroPolicy) -> SyncOptions {
    SyncOptions {
        zero_policy,
        ..SyncOptions::default()
    }
}

fn posted(plan: &SyncPlan) -> Vec<(i64, ServiceKind, u64)> {
    plan.counts
        .iter()
        .map(|c| (c.company_id, c.service, c.unit_count))
        .collect()
}

fn account_ids(plan: &SyncPlan) -> Vec<&str> {
    plan.accounts_to_create
        .iter()
        .map(|a| a.id.as_str())
        .collect()
}

/// Acme (1) dropped to zero not-shared; Beta (2) was sent a zero before; Gamma (3) disappeared
/// from the counts after a non-zero count; Delta (4) is new; Echo (5) was sent only a zero.
/// Rows are given out of order on purpose.
fn scenario() -> (Vec<CompanyCounts>, LastSent, Vec<SynthesizeAccount>) {
    let counts = vec![
        row(4, "Delta", 5, 5),
        row(1, "Acme", 3, 0),
        row(2, "Beta", 0, 2),
    ];
    let last_sent = last(&[
        (1, NotShared, 4, "Acme"),
        (2, Shared, 0, "Beta"),
        (3, Shared, 7, "Gamma"),
        (3, NotShared, 0, "Gamma"),
        (5, Shared, 0, "Echo"),
    ]);
    // " 4 " checks that account ids are compared trimmed.
    let accounts = vec![acct("1"), acct(" 4 ")];
    (counts, last_sent, accounts)
}

#[test]
fn zero_policies() {
    struct Case {
        policy: ZeroPolicy,
        posted: Vec<(i64, ServiceKind, u64)>,
        zeros_skipped: usize,
        accounts: Vec<&'static str>,
    }
    let cases = [
        Case {
            policy: ZeroPolicy::ChangedToZero,
            posted: vec![
                (1, Shared, 3),
                (1, NotShared, 0),
                (2, NotShared, 2),
                (3, Shared, 0),
                (4, Shared, 5),
                (4, NotShared, 5),
            ],
            zeros_skipped: 4,
            accounts: vec!["2", "3"],
        },
        Case {
            policy: ZeroPolicy::EveryZero,
            posted: vec![
                (1, Shared, 3),
                (1, NotShared, 0),
                (2, Shared, 0),
                (2, NotShared, 2),
                (3, Shared, 0),
                (3, NotShared, 0),
                (4, Shared, 5),
                (4, NotShared, 5),
                (5, Shared, 0),
                (5, NotShared, 0),
            ],
            zeros_skipped: 0,
            accounts: vec!["2", "3", "5"],
        },
        Case {
            policy: ZeroPolicy::SkipZeros,
            posted: vec![
                (1, Shared, 3),
                (2, NotShared, 2),
                (4, Shared, 5),
                (4, NotShared, 5),
            ],
            zeros_skipped: 6,
            accounts: vec!["2"],
        },
    ];
    let (counts, last_sent, accounts) = scenario();
    for case in cases {
        let opts = options(case.policy);
        let plan = plan_sync(&PlanInput {
            counts: &counts,
            services: &[],
            accounts: &accounts,
            last_sent: &last_sent,
            options: &opts,
            selection: None,
        });
        assert_eq!(posted(&plan), case.posted, "{:?}", case.policy);
        assert_eq!(plan.zeros_skipped, case.zeros_skipped, "{:?}", case.policy);
        assert_eq!(account_ids(&plan), case.accounts, "{:?}", case.policy);
        assert_eq!(plan.companies_not_selected, 0);
        assert_eq!(plan.services_to_create.len(), 2, "services still planned");
    }
}

#[test]
fn previous_and_names_come_from_last_sent() {
    let (counts, last_sent, accounts) = scenario();
    let opts = options(ZeroPolicy::ChangedToZero);
    let plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &accounts,
        last_sent: &last_sent,
        options: &opts,
        selection: None,
    });
    let gamma = plan.counts.iter().find(|c| c.company_id == 3).unwrap();
    assert_eq!(gamma.company_name, "Gamma");
    assert_eq!(gamma.previous, Some(7));
    assert!(gamma.is_change());
    let acme_shared = &plan.counts[0];
    assert_eq!(acme_shared.previous, None);
    assert!(acme_shared.is_change());
    let gamma_account = plan
        .accounts_to_create
        .iter()
        .find(|a| a.id == "3")
        .unwrap();
    assert_eq!(gamma_account.name, "Gamma");
    assert_eq!(gamma_account.description, "");
    // The current name wins over the name last sent.
    let renamed = [row(1, "Acme Renamed", 3, 0)];
    let plan = plan_sync(&PlanInput {
        counts: &renamed,
        services: &[],
        accounts: &[],
        last_sent: &last_sent,
        options: &opts,
        selection: None,
    });
    assert_eq!(plan.counts[0].company_name, "Acme Renamed");
    assert_eq!(plan.accounts_to_create[0].name, "Acme Renamed");
}

#[test]
fn unchanged_count_is_still_posted_but_not_a_change() {
    let counts = [row(1, "Acme", 3, 1)];
    let sent = last(&[(1, Shared, 3, "Acme"), (1, NotShared, 1, "Acme")]);
    let opts = SyncOptions::default();
    let plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &[acct("1")],
        last_sent: &sent,
        options: &opts,
        selection: None,
    });
    assert_eq!(posted(&plan), vec![(1, Shared, 3), (1, NotShared, 1)]);
    assert!(plan.counts.iter().all(|c| !c.is_change()));
    assert!(plan.accounts_to_create.is_empty());
}

#[test]
fn selection() {
    struct Case {
        selected: Vec<i64>,
        posted: Vec<(i64, ServiceKind, u64)>,
        not_selected: usize,
        accounts: Vec<&'static str>,
    }
    let cases = [
        Case {
            selected: vec![1, 3],
            posted: vec![(1, Shared, 3), (1, NotShared, 0), (3, Shared, 0)],
            not_selected: 3,
            accounts: vec!["3"],
        },
        Case {
            selected: vec![],
            posted: vec![],
            not_selected: 5,
            accounts: vec![],
        },
        Case {
            // An id neither counted nor sent to before plans nothing.
            selected: vec![4, 99],
            posted: vec![(4, Shared, 5), (4, NotShared, 5)],
            not_selected: 4,
            accounts: vec![],
        },
    ];
    let (counts, last_sent, accounts) = scenario();
    let opts = options(ZeroPolicy::ChangedToZero);
    for case in cases {
        let selection: BTreeSet<i64> = case.selected.iter().copied().collect();
        let plan = plan_sync(&PlanInput {
            counts: &counts,
            services: &[svc("a", "Shared Devices")],
            accounts: &accounts,
            last_sent: &last_sent,
            options: &opts,
            selection: Some(&selection),
        });
        assert_eq!(posted(&plan), case.posted, "{:?}", case.selected);
        assert_eq!(plan.companies_not_selected, case.not_selected);
        assert_eq!(account_ids(&plan), case.accounts);
        // Services are planned whatever the selection.
        assert_eq!(
            plan.services_to_create
                .iter()
                .map(|s| s.kind)
                .collect::<Vec<_>>(),
            vec![NotShared]
        );
    }
}

#[test]
fn existing_services() {
    struct Case {
        services: Vec<SynthesizeService>,
        to_create: Vec<ServiceKind>,
        existing: Vec<(ServiceKind, &'static str)>,
        warnings: usize,
    }
    let cases = [
        Case {
            services: vec![],
            to_create: vec![Shared, NotShared],
            existing: vec![],
            warnings: 0,
        },
        Case {
            services: vec![svc("s1", "Shared Devices"), svc("x", "Backup")],
            to_create: vec![NotShared],
            existing: vec![(Shared, "s1")],
            warnings: 0,
        },
        Case {
            // Case and surrounding spaces are tolerated.
            services: vec![
                svc("s1", " shared devices  "),
                svc("n1", "NOT SHARED DEVICES"),
            ],
            to_create: vec![],
            existing: vec![(Shared, "s1"), (NotShared, "n1")],
            warnings: 0,
        },
        Case {
            // Anything else must match exactly.
            services: vec![
                svc("s1", "Shared Device"),
                svc("n1", "Not Shared Devices 2"),
                svc("n2", "Not-Shared Devices"),
            ],
            to_create: vec![Shared, NotShared],
            existing: vec![],
            warnings: 0,
        },
        Case {
            // Duplicates: the exact name wins, then the lowest id; the user is warned.
            services: vec![
                svc("b", "shared devices"),
                svc("z", "Shared Devices"),
                svc("a", "SHARED DEVICES"),
                svc("n9", "Not Shared Devices"),
                svc("n3", "Not Shared Devices"),
            ],
            to_create: vec![],
            existing: vec![(Shared, "z"), (NotShared, "n3")],
            warnings: 2,
        },
    ];
    let opts = SyncOptions::default();
    for case in cases {
        let plan = plan_sync(&PlanInput {
            counts: &[],
            services: &case.services,
            accounts: &[],
            last_sent: &LastSent::new(),
            options: &opts,
            selection: None,
        });
        let kinds: Vec<ServiceKind> = plan.services_to_create.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, case.to_create, "{:?}", case.services);
        let existing: Vec<(ServiceKind, &str)> = plan
            .existing_services
            .iter()
            .map(|(k, id)| (*k, id.as_str()))
            .collect();
        assert_eq!(existing, case.existing, "{:?}", case.services);
        assert_eq!(plan.warnings.len(), case.warnings, "{:?}", plan.warnings);
    }
}

#[test]
fn new_services_carry_the_documented_fields() {
    let shared = Shared.new_service();
    assert_eq!(shared.name, "Shared Devices");
    assert_eq!(shared.description, "Total Shared Devices");
    assert_eq!(shared.category, "other");
    assert_eq!(shared.subcategory, "other");
    let not_shared = NotShared.new_service();
    assert_eq!(not_shared.name, "Not Shared Devices");
    assert_eq!(not_shared.description, "Total Not Shared Devices");
}

#[test]
fn empty_input() {
    let opts = SyncOptions::default();
    for policy in ZeroPolicy::ALL {
        let opts = SyncOptions {
            zero_policy: policy,
            ..opts.clone()
        };
        let plan = plan_sync(&PlanInput {
            counts: &[],
            services: &[svc("1", "Shared Devices"), svc("2", "Not Shared Devices")],
            accounts: &[],
            last_sent: &LastSent::new(),
            options: &opts,
            selection: None,
        });
        assert!(plan.is_empty(), "{policy:?}");
        assert_eq!(plan.zeros_skipped, 0);
        assert_eq!(
            plan.summary(),
            "0 services to create, 0 accounts to create, 0 counts to post"
        );
    }
}

#[test]
fn same_plan_whatever_the_input_order() {
    let (mut counts, last_sent, mut accounts) = scenario();
    let opts = options(ZeroPolicy::EveryZero);
    let first = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &accounts,
        last_sent: &last_sent,
        options: &opts,
        selection: None,
    });
    counts.reverse();
    accounts.reverse();
    let second = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &accounts,
        last_sent: &last_sent,
        options: &opts,
        selection: None,
    });
    assert_eq!(first, second);
    let keys: Vec<(i64, ServiceKind)> = first
        .counts
        .iter()
        .map(|c| (c.company_id, c.service))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn summary_in_words() {
    let (counts, last_sent, accounts) = scenario();
    let opts = options(ZeroPolicy::ChangedToZero);
    let selection: BTreeSet<i64> = [1, 2, 3, 4].into_iter().collect();
    let plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[svc("n", "Not Shared Devices")],
        accounts: &accounts,
        last_sent: &last_sent,
        options: &opts,
        selection: Some(&selection),
    });
    assert_eq!(
        plan.summary(),
        "1 service to create, 2 accounts to create, 6 counts to post \
         (2 zeros: Acme (1) Not Shared Devices, Gamma (3) Shared Devices); \
         2 zeros skipped by the zero policy; 1 company not selected"
    );

    let many: Vec<CompanyCounts> = (1..=8).map(|i| row(i, &format!("C{i}"), 1, 0)).collect();
    let plan = plan_sync(&PlanInput {
        counts: &many,
        services: &[],
        accounts: &[],
        last_sent: &LastSent::new(),
        options: &options(ZeroPolicy::EveryZero),
        selection: None,
    });
    let summary = plan.summary();
    assert!(
        summary.starts_with("2 services to create, 8 accounts to create, 16 counts to post (8 zeros: C1 (1) Not Shared Devices, "),
        "{summary}"
    );
    assert!(summary.ends_with(", and 3 more)"), "{summary}");
}

fn held(company_id: i64) -> HeldCompany {
    HeldCompany {
        company_id,
        unreadable_records: 1,
        record_ids: vec![900 + company_id],
    }
}

#[test]
fn a_held_company_gets_no_count_no_zero_and_no_account() {
    let (counts, last_sent, _) = scenario();
    let mut plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &[],
        last_sent: &last_sent,
        options: &options(ZeroPolicy::EveryZero),
        selection: None,
    });
    // Acme (1) has counts now, Gamma (3) only a count sent before, Delta (4) needs an account.
    let held_ids: BTreeSet<i64> = [1, 3, 4].into();
    plan.hold(&[held(4), held(3), held(1)]);
    assert!(
        plan.counts
            .iter()
            .all(|c| !held_ids.contains(&c.company_id))
    );
    assert!(!plan.counts.is_empty());
    assert!(
        plan.accounts_to_create
            .iter()
            .all(|a| !held_ids.contains(&a.id.parse().unwrap()))
    );
    let listed: Vec<i64> = plan.held.iter().map(|h| h.company_id).collect();
    assert_eq!(listed, held_ids.into_iter().collect::<Vec<_>>());
    assert!(
        plan.summary()
            .contains("; 3 companies held (records that could not be read)")
    );
    // Holding twice lists each company once.
    plan.hold(&[held(4)]);
    assert_eq!(plan.held.len(), 3);
}

#[test]
fn counts_of_companies_without_an_account_wait_for_one() {
    let counts = vec![row(1, "Acme", 2, 1), row(2, "Beta", 0, 3)];
    let mut plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[svc("s", "Shared Devices"), svc("n", "Not Shared Devices")],
        accounts: &[acct("1")],
        last_sent: &LastSent::new(),
        options: &options(ZeroPolicy::ChangedToZero),
        selection: None,
    });
    assert_eq!(account_ids(&plan), vec!["2"]);
    plan.without_account_creation();
    assert!(plan.accounts_to_create.is_empty());
    assert_eq!(posted(&plan), vec![(1, Shared, 2), (1, NotShared, 1)]);
    let awaiting: Vec<(i64, ServiceKind, u64)> = plan
        .awaiting_accounts
        .iter()
        .map(|c| (c.company_id, c.service, c.unit_count))
        .collect();
    assert_eq!(awaiting, vec![(2, NotShared, 3)]);
    assert_eq!(plan.companies_awaiting_accounts(), [2].into());
    assert_eq!(
        plan.summary(),
        "0 services to create, 0 accounts to create, 2 counts to post; \
         1 zero skipped by the zero policy; 1 count not sent, no account yet — create accounts first (1 company)"
    );
}

#[test]
fn companies_with_unknown_last_counts_are_listed() {
    let plan = SyncPlan {
        last_count_unknown: vec![7, 8],
        ..SyncPlan::default()
    };
    assert!(
        plan.summary()
            .ends_with("; last counts unknown for 2 companies (history lines could not be read)")
    );
}

#[test]
fn excluded_companies_leave_the_plan_with_their_name_and_reason_and_are_never_zeroed() {
    use crate::domain::adjustments::ExcludedCompany;
    let counts = [row(1, "Acme", 2, 1), row(2, "Own MSP", 4, 0)];
    // Company 3 dropped to zero since the last run, and is excluded: no zero is planned.
    let last_sent = last(&[(3, Shared, 5, "Test Co")]);
    let options = SyncOptions {
        zero_policy: ZeroPolicy::EveryZero,
        ..SyncOptions::default()
    };
    let mut plan = plan_sync(&PlanInput {
        counts: &counts,
        services: &[],
        accounts: &[],
        last_sent: &last_sent,
        options: &options,
        selection: None,
    });
    let exclude = |id: i64| ExcludedCompany {
        company_id: id,
        company_name: String::new(),
        reason: "internal".into(),
    };
    plan.exclude(&[exclude(3), exclude(2)]);
    assert!(plan.counts.iter().all(|c| c.company_id == 1));
    assert_eq!(plan.accounts_to_create.len(), 1);
    let names: Vec<(i64, &str)> = plan
        .excluded
        .iter()
        .map(|e| (e.company_id, e.company_name.as_str()))
        .collect();
    assert_eq!(names, [(2, "Own MSP"), (3, "Test Co")]);
    assert!(
        plan.summary()
            .ends_with("; 2 companies excluded (never posted nor zeroed)")
    );
}
