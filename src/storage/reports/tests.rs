//! Reports built from real journal files: two months of runs with every kind of row, the
//! numbers against what was posted, the comparison, and the files written.

// The journals of two months are written out inline, line by line, so the fixtures read as
// the history they stand for; splitting them would hide that.
#![allow(clippy::too_many_lines)]

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};

use super::*;
use crate::domain::adjustments::{AdjustedCount, Override, OverrideKind};
use crate::domain::report::NotSentReason;
use crate::domain::settings::SyncOptions;
use crate::storage::journal::{Journal, JournalEntry, RunKind, RunOptions};
use ServiceKind::{NotShared, Shared};

fn at(day: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 10, minute, 0).unwrap()
}

fn put(journal: &Journal, day: u32, minute: u32, run: &str, event: JournalEvent) {
    journal
        .append_entry(&JournalEntry {
            at: at(day, minute),
            run_id: run.to_owned(),
            event,
        })
        .unwrap();
}

fn started(dry_run: bool) -> JournalEvent {
    JournalEvent::RunStarted {
        profile: "Acme".into(),
        kind: RunKind::Sync,
        dry_run,
        options: RunOptions {
            sync: SyncOptions::default(),
            counting_rule: String::new(),
        },
    }
}

fn result(
    id: i64,
    name: &str,
    service: ServiceKind,
    n: u64,
    outcome: CountOutcome,
) -> JournalEvent {
    JournalEvent::CountResult {
        company_id: id,
        company_name: name.to_owned(),
        service,
        unit_count: n,
        outcome,
    }
}

fn finished() -> JournalEvent {
    JournalEvent::RunFinished {
        sent: 0,
        unmapped: 0,
        failed: 0,
        cancelled: false,
    }
}

pub(crate) const HOSTILE: &str =
    "<script>alert(1)</script> \"Evil\" & 'Co' =HYPERLINK(\"http://x\")";

/// January: four companies sent. February: 1 unchanged, 2 changed by an override, 3 excluded,
/// 4 held, 5 new and unmapped, 6 failed, 7 no account; a dry run after it.
pub(crate) fn two_months(journal: &Journal) {
    let sent = || CountOutcome::Sent;
    put(journal, 5, 0, "jan", started(false));
    for (id, name, s, n) in [
        (1, "Alpha", 2, 3),
        (2, "Bravo", 5, 1),
        (3, "Own MSP", 1, 1),
        (4, HOSTILE, 4, 0),
        (6, "Foxtrot", 2, 2),
    ] {
        put(journal, 5, 1, "jan", result(id, name, Shared, s, sent()));
        put(journal, 5, 1, "jan", result(id, name, NotShared, n, sent()));
    }
    put(journal, 5, 2, "jan", finished());

    put(
        journal,
        5,
        30,
        "change-1",
        JournalEvent::AdjustmentChanged {
            change: crate::domain::adjustments::AdjustmentChange {
                at: at(5, 30),
                by: "anna".into(),
                profile: "Acme".into(),
                change: crate::domain::adjustments::AdjustmentChangeKind::Excluded {
                    company_id: 3,
                    replaced_reason: None,
                },
                reason: "our own company".into(),
            },
        },
    );

    put(journal, 28, 0, "feb", started(false));
    put(
        journal,
        28,
        0,
        "feb",
        JournalEvent::CompanyExcluded {
            company_id: 3,
            company_name: "Own MSP".into(),
            reason: "our own company".into(),
        },
    );
    put(
        journal,
        28,
        0,
        "feb",
        JournalEvent::CompanyHeld {
            company_id: 4,
            reason: "1 configuration record could not be read".into(),
        },
    );
    put(
        journal,
        28,
        0,
        "feb",
        JournalEvent::CountAdjusted {
            adjusted: AdjustedCount {
                company_id: 2,
                company_name: "Bravo".into(),
                service: Shared,
                computed: 5,
                applied: Override {
                    company_id: 2,
                    service: Shared,
                    kind: OverrideKind::Adjust(-3),
                    reason: "three kiosks billed separately".into(),
                    until: NaiveDate::from_ymd_opt(2026, 3, 31),
                },
                final_count: 2,
                clamped: false,
            },
        },
    );
    put(
        journal,
        28,
        0,
        "feb",
        JournalEvent::CountNotSent {
            company_id: 7,
            company_name: "Golf".into(),
            service: Shared,
            unit_count: 1,
            reason: NotSentReason::NoAccount,
        },
    );
    put(journal, 28, 1, "feb", result(1, "Alpha", Shared, 2, sent()));
    put(
        journal,
        28,
        1,
        "feb",
        result(1, "Alpha", NotShared, 3, sent()),
    );
    put(journal, 28, 1, "feb", result(2, "Bravo", Shared, 2, sent()));
    put(
        journal,
        28,
        1,
        "feb",
        result(2, "Bravo", NotShared, 1, sent()),
    );
    put(
        journal,
        28,
        1,
        "feb",
        result(
            5,
            "Echo",
            Shared,
            6,
            CountOutcome::Unmapped {
                message: "No account map found".into(),
            },
        ),
    );
    put(
        journal,
        28,
        1,
        "feb",
        result(
            6,
            "Foxtrot",
            Shared,
            9,
            CountOutcome::Failed {
                reason: "HTTP 500".into(),
            },
        ),
    );
    put(
        journal,
        28,
        1,
        "feb",
        result(6, "Foxtrot", NotShared, 2, sent()),
    );
    put(journal, 28, 2, "feb", finished());

    put(journal, 29, 0, "dry", started(true));
    put(
        journal,
        29,
        0,
        "dry",
        JournalEvent::CountNotSent {
            company_id: 1,
            company_name: "Alpha".into(),
            service: Shared,
            unit_count: 7,
            reason: NotSentReason::DryRun,
        },
    );
}

fn readout() -> (tempfile::TempDir, JournalReadout) {
    let root = tempfile::tempdir().unwrap();
    let journal = Journal::at_path(root.path().join("j.jsonl"));
    two_months(&journal);
    let readout = journal.read().unwrap();
    assert_eq!(readout.torn_lines, 0);
    (root, readout)
}

#[test]
fn a_report_shows_last_sent_new_change_and_every_reason() {
    let (_root, readout) = readout();
    let r = run_report(&readout, "feb").unwrap();
    assert_eq!(r.header.kind, "sync");
    assert_eq!(r.header.profile, "Acme");
    let ids: Vec<i64> = r.rows.iter().map(|r| r.company_id).collect();
    // By name: <script…> (4), Alpha, Bravo, Echo, Foxtrot, Golf, Own MSP.
    assert_eq!(ids, [4, 1, 2, 5, 6, 7, 3]);

    let alpha = r.row(1).unwrap();
    assert_eq!(
        (
            alpha.shared.last_sent,
            alpha.shared.new,
            alpha.shared.change()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert!(alpha.reasons().is_empty());
    assert_eq!(alpha.statuses(), ["sent"]);

    let bravo = r.row(2).unwrap();
    assert_eq!(bravo.shared.change(), Some(-3));
    assert_eq!(bravo.statuses(), ["sent", "overridden"]);
    assert!(
        bravo.reasons()[0].contains(
            "computed 5, override -3 until 2026-03-31 (three kiosks billed separately), final 2"
        ),
        "{:?}",
        bravo.reasons()
    );

    let own = r.row(3).unwrap();
    assert_eq!((own.shared.last_sent, own.shared.new), (Some(1), None));
    assert_eq!(own.statuses(), ["excluded"]);
    assert!(own.reasons()[0].contains("our own company"));

    let held = r.row(4).unwrap();
    assert_eq!(
        held.company_name, HOSTILE,
        "the name comes from the history"
    );
    assert_eq!(held.statuses(), ["held"]);

    assert_eq!(r.row(5).unwrap().statuses(), ["unmapped"]);
    assert_eq!(r.row(5).unwrap().shared.last_sent, None);
    assert_eq!(r.row(6).unwrap().statuses(), ["failed", "sent"]);
    assert_eq!(r.row(7).unwrap().statuses(), ["no account"]);

    let t = &r.totals;
    assert_eq!(
        (
            t.companies,
            t.excluded,
            t.held,
            t.overridden,
            t.failed,
            t.unmapped,
            t.no_account
        ),
        (7, 1, 1, 1, 1, 1, 1)
    );
    // Bravo -3, Echo +6, Foxtrot +7 (failed, but planned), Golf +1.
    assert_eq!(t.companies_changed, 4);
    assert_eq!(t.shared_last_sent, 2 + 5 + 1 + 4 + 2);
}

#[test]
fn what_the_report_says_landed_is_what_the_journal_says_was_sent() {
    let (_root, readout) = readout();
    let r = run_report(&readout, "feb").unwrap();
    let posted: u64 = readout
        .run_counts("feb")
        .iter()
        .filter(|c| c.service == Shared)
        .map(|c| c.unit_count)
        .sum();
    assert_eq!(r.totals.shared_sent, posted);
    let posted_not_shared: u64 = readout
        .run_counts("feb")
        .iter()
        .filter(|c| c.service == NotShared)
        .map(|c| c.unit_count)
        .sum();
    assert_eq!(r.totals.not_shared_sent, posted_not_shared);
    // And the last sent of the next run is what February left behind.
    let dry = run_report(&readout, "dry").unwrap();
    assert!(dry.header.dry_run);
    let alpha = dry.row(1).unwrap();
    assert_eq!(
        (alpha.shared.last_sent, alpha.shared.new),
        (Some(2), Some(7))
    );
    assert_eq!(alpha.statuses(), ["not sent"]);
    assert_eq!(
        readout.last_sent()[&(6, Shared)].unit_count,
        2,
        "a failed post did not change what was sent"
    );
}

#[test]
fn a_comparison_lists_exactly_the_companies_that_changed() {
    let (_root, readout) = readout();
    let c = compare_runs(&readout, "jan", "feb").unwrap();
    let ids: Vec<i64> = c.rows.iter().map(|r| r.company_id).collect();
    // Alpha is unchanged; Bravo overridden; Echo, Golf new; Foxtrot 2 -> 9; Own MSP excluded,
    // the held company not counted: both have no count now.
    assert_eq!(ids, [4, 2, 5, 6, 7, 3]);
    let bravo = &c.rows[1];
    assert_eq!(
        (bravo.shared_before, bravo.shared_after),
        (Some(5), Some(2))
    );
    assert!(bravo.reasons.iter().any(|r| r.contains("overridden")));
    assert!(
        compare_runs(&readout, "jan", "jan")
            .unwrap()
            .rows
            .is_empty()
    );
    assert!(
        matches!(compare_runs(&readout, "jan", "nope"), Err(ReportError::NoSuchRun(id)) if id == "nope")
    );
}

#[test]
fn runs_are_found_by_id_or_as_the_last_and_changes_are_not_runs() {
    let (_root, readout) = readout();
    assert_eq!(last_run_id(&readout).as_deref(), Some("dry"));
    assert_eq!(previous_run_id(&readout, "feb").as_deref(), Some("jan"));
    assert_eq!(previous_run_id(&readout, "jan"), None);
    assert!(
        readout
            .runs()
            .iter()
            .all(|r| !r.run_id.starts_with("change"))
    );
    assert_eq!(find_report(&readout, None).unwrap().header.run_id, "dry");
    assert!(matches!(
        find_report(&readout, Some("x")),
        Err(ReportError::NoSuchRun(_))
    ));
    assert!(matches!(
        find_report(&JournalReadout::default(), None),
        Err(ReportError::NoRuns)
    ));
    let changes = readout.adjustment_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].describe(),
        "anna excluded company 3: our own company"
    );
}

#[test]
fn the_csv_has_the_documented_columns_totals_and_cells_safe_for_spreadsheets() {
    let (_root, readout) = readout();
    let r = run_report(&readout, "feb").unwrap();
    let bytes = crate::domain::report::report_csv(&r).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        crate::domain::report::REPORT_CSV_HEADER
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8);
    assert_eq!(
        &rows[0][1], HOSTILE,
        "a name not starting with a formula sign is kept"
    );
    let bravo = rows.iter().find(|r| &r[0] == "2").unwrap();
    assert_eq!(&bravo[4], "'-3", "a change cell is text, not a formula");
    assert_eq!(&bravo[8], "sent; overridden");
    let total = rows.last().unwrap();
    assert_eq!((&total[0], &total[1]), ("", "Total"));
    assert!(
        total[9].starts_with("7 companies, 4 changed; 1 excluded"),
        "{}",
        &total[9]
    );
}

#[test]
fn reports_are_written_private_per_run_and_the_page_is_self_contained() {
    let (root, readout) = readout();
    let dirs = AppDirs::at(root.path());
    let dir = reports_dir(&dirs, "tenant-key");
    let r = run_report(&readout, "feb").unwrap();
    let c = compare_runs(&readout, "jan", "feb").unwrap();
    let files = write_run_report(&dir, &r, Some(&c)).unwrap();
    assert_eq!(files.html, dir.join("feb.html"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in [&files.csv, &files.html] {
            assert_eq!(
                std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
    let html = std::fs::read_to_string(&files.html).unwrap();
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script"),
        "no script, and the hostile name is escaped"
    );
    assert!(!lower.contains("src="), "nothing loaded from elsewhere");
    assert!(!lower.contains("href="), "no links to load");
    assert!(!lower.contains("url("), "no CSS resource");
    assert!(!lower.contains("@import"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;Evil&quot; &amp; &#39;Co&#39;")
    );
    assert!(
        html.contains("@media print") && html.contains("thead { display: table-header-group; }")
    );
    assert!(html.contains("Changed since run jan"));
    // For a look in a browser: CW_REPORT_SAMPLE_OUT=/tmp/report.html cargo test --lib reports
    if let Ok(out) = std::env::var("CW_REPORT_SAMPLE_OUT") {
        std::fs::write(out, &html).unwrap();
    }
}

/// Names like the demo's: ones that break naive CSV, spreadsheets and trimming, other scripts,
/// and ordinary ones.
const DEMO_NAMES: &[&str] = &[
    "Acme, Inc.",
    "Contoso Ltd",
    "\"Quoted\" Widgets",
    "Line\nBreak Services",
    "Semi;Colon Partners",
    "=SUM(A1:A2) Holdings",
    "+Plus Networks",
    "-Minus Consulting",
    "@At Systems",
    "  Padded Name  ",
    "株式会社サンプル",
    "Ελληνική Εταιρεία",
    "شركة المثال",
    "\tTabbed, \"Everything\"; Co",
];

#[test]
fn a_demo_sized_report_adds_up_and_renders() {
    let root = tempfile::tempdir().unwrap();
    let journal = Journal::at_path(root.path().join("j.jsonl"));
    let words_a = ["Blue", "Northern", "Summit", "Harbor", "Granite", "Silver"];
    let words_b = [
        "Dental",
        "Logistics",
        "Legal",
        "Bakery",
        "Clinic",
        "Foundry",
    ];
    let mut names: Vec<String> = DEMO_NAMES.iter().map(|s| (*s).to_owned()).collect();
    for a in words_a {
        for b in words_b {
            names.push(format!("{a} {b} LLC"));
        }
    }
    let company = |i: usize| (19300 + i as i64, names[i].clone());
    put(&journal, 5, 0, "20260105T100000Z-jan001", started(false));
    for i in 0..names.len() {
        let (id, name) = company(i);
        put(
            &journal,
            5,
            1,
            "20260105T100000Z-jan001",
            result(id, &name, Shared, (i % 4) as u64, CountOutcome::Sent),
        );
        put(
            &journal,
            5,
            1,
            "20260105T100000Z-jan001",
            result(id, &name, NotShared, (i % 7) as u64 + 1, CountOutcome::Sent),
        );
    }
    put(&journal, 5, 2, "20260105T100000Z-jan001", finished());
    let feb = "20260128T100000Z-feb001";
    put(&journal, 28, 0, feb, started(false));
    put(
        &journal,
        28,
        0,
        feb,
        JournalEvent::CompanyExcluded {
            company_id: 19300,
            company_name: names[0].clone(),
            reason: "the MSP's own company".into(),
        },
    );
    put(
        &journal,
        28,
        0,
        feb,
        JournalEvent::CompanyHeld {
            company_id: 19303,
            reason:
                "1 configuration record could not be read (ids 9001); held so it is not billed low"
                    .into(),
        },
    );
    put(
        &journal,
        28,
        0,
        feb,
        JournalEvent::CountAdjusted {
            adjusted: AdjustedCount {
                company_id: 19301,
                company_name: names[1].clone(),
                service: Shared,
                computed: 1,
                applied: Override {
                    company_id: 19301,
                    service: Shared,
                    kind: OverrideKind::Adjust(-3),
                    reason: "three kiosks billed separately".into(),
                    until: NaiveDate::from_ymd_opt(2026, 3, 31),
                },
                final_count: 0,
                clamped: true,
            },
        },
    );
    for i in 1..names.len() {
        let (id, name) = company(i);
        if id == 19303 {
            continue;
        }
        let shared = if id == 19301 {
            0
        } else {
            (i % 4) as u64 + u64::from(i % 5 == 0)
        };
        let outcome = match i {
            7 => CountOutcome::Unmapped {
                message: "No account map found".into(),
            },
            11 => CountOutcome::Failed {
                reason: "Synthesize answered 503 Service Unavailable".into(),
            },
            _ => CountOutcome::Sent,
        };
        put(
            &journal,
            28,
            1,
            feb,
            result(id, &name, Shared, shared, outcome),
        );
        put(
            &journal,
            28,
            1,
            feb,
            result(id, &name, NotShared, (i % 7) as u64 + 1, CountOutcome::Sent),
        );
    }
    put(&journal, 28, 2, feb, finished());

    let readout = journal.read().unwrap();
    let report = run_report(&readout, feb).unwrap();
    let comparison = compare_runs(&readout, "20260105T100000Z-jan001", feb).unwrap();
    assert_eq!(report.rows.len(), names.len());
    let posted: u64 = readout.run_counts(feb).iter().map(|c| c.unit_count).sum();
    assert_eq!(
        report.totals.shared_sent + report.totals.not_shared_sent,
        posted
    );
    // Changed: every fifth company's shared count (index 5, 10, …) plus the override, the
    // exclusion and the hold (no count now).
    let expected: usize = (1..names.len()).filter(|i| i % 5 == 0 && *i != 3).count() + 3;
    assert_eq!(comparison.rows.len(), expected);
    let files = write_run_report(
        &reports_dir(&AppDirs::at(root.path()), "t"),
        &report,
        Some(&comparison),
    )
    .unwrap();
    let html = std::fs::read_to_string(files.html).unwrap();
    assert!(!html.to_lowercase().contains("<script"));
    // For a look in a browser: CW_REPORT_DEMO_OUT=/tmp/demo-report.html cargo test --lib reports
    if let Ok(out) = std::env::var("CW_REPORT_DEMO_OUT") {
        std::fs::write(out, &html).unwrap();
    }
}
