//! One test per edge case of `counting.md`, plus property tests for the invariants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::domain::configuration::{CompanyRef, ConfigurationQuestion, CustomField, NamedRef};

fn rec(
    id: i64,
    type_name: Option<&str>,
    company: Option<(i64, &str)>,
    contact: Option<&str>,
) -> ConfigurationRecord {
    let mut r = ConfigurationRecord::with_id(id);
    r.config_type = type_name.map(|n| NamedRef {
        id: Some(1),
        name: Some(n.to_owned()),
    });
    r.company = company.map(|(cid, name)| CompanyRef {
        id: Some(cid),
        identifier: None,
        name: Some(name.to_owned()),
    });
    r.contact = contact.map(|n| NamedRef {
        id: Some(9),
        name: Some(n.to_owned()),
    });
    r
}

fn lic(id: i64, company: i64, contact: Option<&str>) -> ConfigurationRecord {
    rec(id, Some("License"), Some((company, "Acme")), contact)
}

fn default_rule() -> CountingRule {
    CountingRule::new(&CountingOptions::default()).unwrap()
}

fn count(rule: &CountingRule, records: &[ConfigurationRecord]) -> CountingResult {
    count_records(rule, records)
}

fn only(result: &CountingResult) -> &CompanyCounts {
    assert_eq!(result.companies.len(), 1, "{result:?}");
    &result.companies[0]
}

#[test]
fn type_name_matches_any_case() {
    let records = [
        rec(1, Some("License"), Some((1, "A")), None),
        rec(2, Some("license"), Some((1, "A")), None),
        rec(3, Some("LICENSE"), Some((1, "A")), None),
        rec(4, Some("LiCeNsE"), Some((1, "A")), None),
    ];
    assert_eq!(only(&count(&default_rule(), &records)).total_devices, 4);
}

#[test]
fn type_name_is_not_trimmed_and_near_misses_do_not_count() {
    let records = [
        rec(1, Some("License "), Some((1, "A")), None),
        rec(2, Some(" License"), Some((1, "A")), None),
        rec(3, Some("Licence"), Some((1, "A")), None),
        rec(4, Some("Licenses"), Some((1, "A")), None),
        rec(5, Some(""), Some((1, "A")), None),
    ];
    let result = count(&default_rule(), &records);
    assert!(result.companies.is_empty(), "{result:?}");
    assert_eq!(result.configurations_read, 5);
    assert_eq!(result.configurations_counted, 0);
}

#[test]
fn configuration_without_type_does_not_count() {
    let mut no_name = rec(2, Some("x"), Some((1, "A")), None);
    no_name.config_type = Some(NamedRef {
        id: Some(3),
        name: None,
    });
    let records = [rec(1, None, Some((1, "A")), None), no_name];
    assert!(count(&default_rule(), &records).companies.is_empty());
}

#[test]
fn configuration_without_company_is_skipped_and_reported() {
    let mut company_without_id = lic(3, 1, None);
    company_without_id.company.as_mut().unwrap().id = None;
    let records = [
        lic(1, 10, None),
        rec(2, Some("License"), None, Some("Shared")),
        company_without_id,
        rec(4, Some("Laptop"), None, None), // not a counted type: not reported
    ];
    let result = count(&default_rule(), &records);
    let row = only(&result);
    assert_eq!((row.company_id, row.total_devices), (10, 1));
    assert_eq!(result.skipped.no_company, 2);
    assert!(
        result.skipped.warnings()[0]
            .starts_with("2 configurations of a counted type have no company")
    );
}

#[test]
fn shared_when_contact_name_contains_shared_any_case() {
    for name in [
        "Shared",
        "SHARED Printer",
        "Front Desk (shared)",
        "Not Shared",
        "unshared",
        "xSHAREDx",
    ] {
        let result = count(&default_rule(), &[lic(1, 1, Some(name))]);
        assert_eq!(only(&result).shared_devices, 1, "{name:?} should be shared");
    }
}

#[test]
fn contains_pattern_reads_non_ascii_names_too() {
    let rule = CountingRule::new(&CountingOptions {
        shared_pattern: "gemeinsam".into(),
        ..CountingOptions::default()
    })
    .unwrap();
    for (name, shared) in [
        ("Empfang GEMEINSAM (Büro)", true),
        ("Büro", false),
        ("Gemeinsam", true),
        ("GEMEİNSAM", false),
    ] {
        let result = count(&rule, &[lic(1, 1, Some(name))]);
        assert_eq!(only(&result).shared_devices, u64::from(shared), "{name:?}");
    }
}

#[test]
fn not_shared_without_contact_or_contact_name() {
    let mut nameless = lic(3, 1, None);
    nameless.contact = Some(NamedRef {
        id: Some(5),
        name: None,
    });
    let records = [
        lic(1, 1, None),
        lic(2, 1, Some("Jane Doe")),
        nameless,
        lic(4, 1, Some("Shar ed")),
    ];
    let row = count(&default_rule(), &records).companies[0].clone();
    assert_eq!(
        (
            row.shared_devices,
            row.not_shared_devices,
            row.total_devices
        ),
        (0, 4, 4)
    );
}

#[test]
fn not_shared_is_counted_minus_shared() {
    let records = [
        lic(1, 1, Some("Shared")),
        lic(2, 1, Some("Bob")),
        lic(3, 1, None),
        lic(4, 2, Some("shared desk")),
    ];
    let result = count(&default_rule(), &records);
    let rows: Vec<(i64, u64, u64, u64)> = result
        .companies
        .iter()
        .map(|c| {
            (
                c.company_id,
                c.shared_devices,
                c.not_shared_devices,
                c.total_devices,
            )
        })
        .collect();
    assert_eq!(rows, vec![(1, 1, 2, 3), (2, 1, 0, 1)]);
    assert_eq!(result.totals(), (2, 2, 4));
}

#[test]
fn renamed_company_takes_the_name_on_the_lowest_configuration_id() {
    let records = [
        rec(30, Some("License"), Some((7, "Globex Corp")), None),
        rec(12, Some("License"), Some((7, "Globex")), None),
        rec(5, Some("Laptop"), Some((7, "Old Name")), None), // not counted: its name is not used
        rec(20, Some("License"), Some((7, "Globex Inc")), None),
    ];
    let forward = count(&default_rule(), &records);
    let mut reversed = records.to_vec();
    reversed.reverse();
    assert_eq!(only(&forward).company_name, "Globex");
    assert_eq!(forward, count(&default_rule(), &reversed));
}

#[test]
fn company_with_no_counted_configuration_does_not_appear() {
    let records = [
        rec(1, Some("Laptop"), Some((1, "A")), None),
        rec(2, Some("License"), Some((2, "B")), None),
    ];
    let result = count(&default_rule(), &records);
    assert_eq!(only(&result).company_id, 2);
}

#[test]
fn inactive_configurations_count_by_default_and_not_with_active_only() {
    let mut inactive = lic(1, 1, None);
    inactive.active_flag = Some(false);
    let mut active = lic(2, 1, None);
    active.active_flag = Some(true);
    let unknown = lic(3, 1, None);
    let records = [inactive, active, unknown];
    assert_eq!(only(&count(&default_rule(), &records)).total_devices, 3);
    let rule = CountingRule::new(&CountingOptions {
        active_only: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(only(&count(&rule, &records)).total_devices, 1);
    assert!(rule.server_filter().active_only);
}

#[test]
fn type_names_option_counts_each_name_exactly() {
    let rule = CountingRule::new(&CountingOptions {
        type_names: vec!["Seat".into(), "Managed \"Device\"".into()],
        ..Default::default()
    })
    .unwrap();
    let records = [
        rec(1, Some("seat"), Some((1, "A")), None),
        rec(2, Some("MANAGED \"device\""), Some((1, "A")), None),
        rec(3, Some("License"), Some((1, "A")), None),
        rec(4, Some("Seat "), Some((1, "A")), None),
    ];
    assert_eq!(only(&count(&rule, &records)).total_devices, 2);
    assert_eq!(
        rule.server_filter().type_names,
        vec!["Seat".to_owned(), "Managed \"Device\"".to_owned()]
    );
}

#[test]
fn whole_word_stops_not_shared_and_unshared() {
    let rule = CountingRule::new(&CountingOptions {
        shared_whole_word: true,
        ..Default::default()
    })
    .unwrap();
    let cases = [
        ("Shared", true),
        ("SHARED Printer", true),
        ("Front Desk (shared)", true),
        ("shared-desk", true),
        ("Not Shared", false),
        ("non-shared", false),
        ("No shared", false),
        ("unshared", false),
        ("Sharedrive", false),
        ("Jane", false),
    ];
    for (name, shared) in cases {
        assert_eq!(rule.is_shared(&lic(1, 1, Some(name))), shared, "{name:?}");
    }
}

#[test]
fn shared_pattern_plain_text_and_wildcards() {
    let contains = CountingRule::new(&CountingOptions {
        shared_pattern: "kiosk".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(contains.is_shared(&lic(1, 1, Some("Lobby KIOSK 2"))));
    assert!(!contains.is_shared(&lic(1, 1, Some("Shared"))));
    let prefix = CountingRule::new(&CountingOptions {
        shared_pattern: "shared*".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(prefix.is_shared(&lic(1, 1, Some("Shared PC"))));
    assert!(!prefix.is_shared(&lic(1, 1, Some("Not Shared"))));
    let single = CountingRule::new(&CountingOptions {
        shared_pattern: "pc-??".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(single.is_shared(&lic(1, 1, Some("PC-12"))));
    assert!(!single.is_shared(&lic(1, 1, Some("PC-123"))));
}

#[test]
fn assignment_type_from_custom_field_decides_when_present() {
    let rule = CountingRule::new(&CountingOptions {
        assignment_field: Some(AssignmentField {
            source: AssignmentSource::CustomField,
            name: "Assignment Type".into(),
        }),
        ..Default::default()
    })
    .unwrap();
    let with_field = |id, contact: Option<&str>, value: serde_json::Value| {
        let mut r = lic(id, 1, contact);
        r.custom_fields = vec![
            CustomField {
                id: Some(1),
                caption: Some("Other".into()),
                value: "Shared".into(),
            },
            CustomField {
                id: Some(2),
                caption: Some("assignment type ".into()),
                value,
            },
        ];
        r
    };
    assert!(!rule.is_shared(&with_field(1, Some("Shared"), "Not Shared".into())));
    assert!(rule.is_shared(&with_field(2, Some("Jane"), "shared".into())));
    assert!(!rule.is_shared(&with_field(3, Some("Shared"), "not-shared".into())));
    // No value, or a value that says neither: the contact rule decides.
    assert!(rule.is_shared(&with_field(4, Some("Shared"), serde_json::Value::Null)));
    assert!(!rule.is_shared(&with_field(5, Some("Jane"), "Maybe".into())));
    assert_eq!(
        rule.server_filter().assignment_source,
        Some(AssignmentSource::CustomField)
    );
}

#[test]
fn assignment_type_from_question_decides_when_present() {
    let rule = CountingRule::new(&CountingOptions {
        assignment_field: Some(AssignmentField {
            source: AssignmentSource::Question,
            name: "Is it shared?".into(),
        }),
        ..Default::default()
    })
    .unwrap();
    let mut r = lic(1, 1, Some("Jane"));
    r.questions = vec![ConfigurationQuestion {
        question_id: Some(4),
        question: Some("IS IT SHARED?".into()),
        answer: "Shared".into(),
    }];
    assert!(rule.is_shared(&r));
    // A custom field of that name is not a question.
    let mut f = lic(2, 1, Some("Jane"));
    f.custom_fields = vec![CustomField {
        id: Some(1),
        caption: Some("Is it shared?".into()),
        value: "Shared".into(),
    }];
    assert!(!rule.is_shared(&f));
}

#[test]
fn bad_options_name_the_field() {
    let err = |o: CountingOptions| CountingRule::new(&o).unwrap_err().to_string();
    assert!(
        err(CountingOptions {
            type_names: vec![],
            ..Default::default()
        })
        .starts_with("Type names:")
    );
    assert!(
        err(CountingOptions {
            type_names: vec!["".into()],
            ..Default::default()
        })
        .starts_with("Type names:")
    );
    assert!(
        err(CountingOptions {
            shared_pattern: "".into(),
            ..Default::default()
        })
        .starts_with("Shared pattern:")
    );
    assert!(
        err(CountingOptions {
            shared_pattern: "**".into(),
            shared_whole_word: true,
            ..Default::default()
        })
        .starts_with("Shared pattern:")
    );
    assert!(
        err(CountingOptions {
            assignment_field: Some(AssignmentField {
                source: AssignmentSource::Question,
                name: " ".into()
            }),
            ..Default::default()
        })
        .starts_with("Assignment type:")
    );
}

#[test]
fn more_than_one_page_gives_the_same_counts_as_one_page() {
    let records: Vec<ConfigurationRecord> = (1..=2_600)
        .map(|i| {
            rec(
                i,
                Some(if i % 3 == 0 { "Laptop" } else { "License" }),
                Some((i % 17, "Co")),
                if i % 5 == 0 { Some("Shared") } else { None },
            )
        })
        .collect();
    let rule = default_rule();
    let single = count(&rule, &records);
    for page_size in [25, 1000] {
        let mut engine = CountingEngine::new(rule.clone());
        for chunk in records.chunks(page_size) {
            engine.add_page(&ConfigurationPage {
                records: chunk.to_vec(),
                unparseable: vec![],
            });
        }
        assert_eq!(engine.finish(), single, "page size {page_size}");
    }
    assert_eq!(single.configurations_counted, 2_600 - 866);
}

#[test]
fn names_are_kept_exactly_as_written() {
    let names = [
        "Smith, Jones & \"Co\"",
        "Line1\nLine2",
        "Semi;colon",
        "株式会社テスト",
        "  padded  ",
        "=SUM(A1)",
    ];
    for (i, name) in names.iter().enumerate() {
        let result = count(
            &default_rule(),
            &[rec(i as i64, Some("License"), Some((1, name)), None)],
        );
        assert_eq!(only(&result).company_name, *name);
    }
}

#[test]
fn duplicate_ids_across_pages_are_counted_once() {
    let a = lic(1, 1, Some("Shared"));
    let b = lic(2, 1, None);
    let mut engine = CountingEngine::new(default_rule());
    engine.add_page(&ConfigurationPage {
        records: vec![a.clone(), b.clone()],
        unparseable: vec![],
    });
    engine.add_page(&ConfigurationPage {
        records: vec![b, a],
        unparseable: vec![],
    });
    let result = engine.finish();
    assert_eq!(only(&result).total_devices, 2);
    assert_eq!(result.skipped.duplicate_ids, 2);
    assert_eq!(result.configurations_read, 2);
}

#[test]
fn unparseable_record_is_skipped_and_reported_and_the_rest_counted() {
    let page = ConfigurationPage::parse(
        br#"[{"id":1,"type":{"name":"License"},"company":{"id":3,"name":"C"}},
            {"id":2,"type":{"name":"License"},"company":{"id":"three"}},
            {"id":4,"type":{"name":"License"},"company":{"id":3,"name":"C"},"contact":{"name":"Shared"}}]"#,
    )
    .unwrap();
    let mut engine = CountingEngine::new(default_rule());
    engine.add_page(&page);
    let result = engine.finish();
    let row = only(&result);
    assert_eq!((row.shared_devices, row.not_shared_devices), (1, 1));
    assert_eq!(result.skipped.unparseable, 1);
    assert_eq!(result.skipped.unparseable_ids, vec![2]);
    assert!(
        result
            .skipped
            .warnings()
            .iter()
            .any(|w| w.contains("(ids 2)"))
    );
}

#[test]
fn rule_in_words_names_the_options() {
    let text = default_rule().describe();
    assert!(
        text.contains("\"License\"") && text.contains("*shared*"),
        "{text}"
    );
}

// ---- property tests ----

fn arb_record() -> impl Strategy<Value = ConfigurationRecord> {
    let types = prop::sample::select(vec![
        Some("License"),
        Some("license"),
        Some("LICENSE"),
        Some("License "),
        Some("Licence"),
        Some("Licenses"),
        Some("Laptop"),
        None,
    ]);
    let contacts = prop::sample::select(vec![
        None,
        Some("Shared"),
        Some("SHARED Printer"),
        Some("Not Shared"),
        Some("Jane"),
        Some(""),
        Some("Front Desk (shared)"),
    ]);
    let companies = prop::option::weighted(
        0.9,
        (1i64..8, prop::sample::select(vec!["A", "B, Inc", "Ç"])),
    );
    (0i64..60, types, companies, contacts, any::<Option<bool>>()).prop_map(
        |(id, t, c, contact, active)| {
            let mut r = rec(id, t, c, contact);
            r.active_flag = active;
            r
        },
    )
}

fn arb_options() -> impl Strategy<Value = CountingOptions> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec!["*shared*", "shared", "shared*", "*desk*"]),
    )
        .prop_map(|(whole_word, active_only, pattern)| CountingOptions {
            shared_whole_word: whole_word,
            active_only,
            shared_pattern: pattern.into(),
            ..Default::default()
        })
}

proptest! {
    #[test]
    fn ascii_contains_agrees_with_lowercasing(
        name in "[ -~]{0,24}",
        needle in "[a-zA-Z ()-]{1,6}",
    ) {
        let needle = needle.to_lowercase();
        prop_assert_eq!(
            contains_ignore_ascii_case(&name, &needle),
            name.to_lowercase().contains(&needle)
        );
    }

    #[test]
    fn shared_plus_not_shared_is_total_and_total_is_what_counts(
        records in prop::collection::vec(arb_record(), 0..120),
        options in arb_options(),
    ) {
        let rule = CountingRule::new(&options).unwrap();
        // Make ids distinct so the brute-force count below is simply per record.
        let records: Vec<ConfigurationRecord> = records.into_iter().enumerate()
            .map(|(i, mut r)| { r.id = i as i64; r }).collect();
        let result = count(&rule, &records);
        for c in &result.companies {
            prop_assert_eq!(c.shared_devices + c.not_shared_devices, c.total_devices);
            prop_assert!(c.total_devices > 0);
            let expected = records.iter()
                .filter(|r| rule.counts(r) && r.company_id() == Some(c.company_id)).count() as u64;
            prop_assert_eq!(c.total_devices, expected);
            let expected_shared = records.iter()
                .filter(|r| rule.counts(r) && r.company_id() == Some(c.company_id) && rule.is_shared(r)).count() as u64;
            prop_assert_eq!(c.shared_devices, expected_shared);
        }
        let (_, _, total) = result.totals();
        prop_assert_eq!(total, result.configurations_counted);
    }

    #[test]
    fn any_order_and_any_page_split_gives_the_same_result(
        records in prop::collection::vec(arb_record(), 0..120),
        options in arb_options(),
        seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..120, 0..8),
    ) {
        let rule = CountingRule::new(&options).unwrap();
        let expected = count(&rule, &records);
        let mut shuffled = records.clone();
        // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (state >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= shuffled.len()).collect();
        cuts.push(0);
        cuts.push(shuffled.len());
        cuts.sort_unstable();
        let mut engine = CountingEngine::new(rule);
        for w in cuts.windows(2) {
            engine.add_page(&ConfigurationPage { records: shuffled[w[0]..w[1]].to_vec(), unparseable: vec![] });
        }
        prop_assert_eq!(engine.finish(), expected);
    }

    #[test]
    fn duplicated_records_are_counted_once(
        records in prop::collection::vec(arb_record(), 0..80),
        repeats in prop::collection::vec(0usize..80, 0..40),
    ) {
        let rule = default_rule();
        let mut unique: Vec<ConfigurationRecord> = Vec::new();
        for r in records {
            if !unique.iter().any(|u| u.id == r.id) { unique.push(r); }
        }
        let expected = count(&rule, &unique);
        let mut with_copies = unique.clone();
        let mut copies = 0;
        for i in repeats {
            if let Some(r) = unique.get(i) { with_copies.push(r.clone()); copies += 1; }
        }
        let result = count(&rule, &with_copies);
        prop_assert_eq!(&result.companies, &expected.companies);
        prop_assert_eq!(result.configurations_read, unique.len() as u64);
        prop_assert_eq!(result.skipped.duplicate_ids, copies);
    }
}
