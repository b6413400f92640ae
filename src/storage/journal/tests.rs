//! The journal: line format, torn and garbled lines, concurrent appends, a writer killed
//! outright, last counts sent across runs, history and a run cut off.

use std::fs::OpenOptions;
use std::sync::Arc;

use chrono::TimeZone as _;

use super::*;
use crate::domain::safety::TenantIdentity;
use crate::domain::sync_plan::ServiceKind::{NotShared, Shared};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

fn journal() -> (tempfile::TempDir, Journal) {
    let root = tempfile::tempdir().unwrap();
    let journal = Journal::for_profile(&AppDirs::at(root.path()), "Acme EU").unwrap();
    (root, journal)
}

fn entry(minute: u32, run_id: &str, event: JournalEvent) -> JournalEntry {
    JournalEntry {
        at: at(minute),
        run_id: run_id.to_owned(),
        event,
    }
}

fn started(kind: RunKind, dry_run: bool) -> JournalEvent {
    JournalEvent::RunStarted {
        profile: "Acme EU".into(),
        kind,
        dry_run,
        options: RunOptions {
            sync: SyncOptions::default(),
            counting_rule: "type License; shared when contact matches *shared*".into(),
        },
    }
}

fn count(
    company_id: i64,
    service: ServiceKind,
    unit_count: u64,
    outcome: CountOutcome,
) -> JournalEvent {
    JournalEvent::CountResult {
        company_id,
        company_name: format!("Company {company_id}"),
        service,
        unit_count,
        outcome,
    }
}

fn sent(company_id: i64, service: ServiceKind, unit_count: u64) -> JournalEvent {
    count(company_id, service, unit_count, CountOutcome::Sent)
}

fn finished(sent: u64, cancelled: bool) -> JournalEvent {
    JournalEvent::RunFinished {
        sent,
        unmapped: 0,
        failed: 0,
        cancelled,
    }
}

fn write_all(journal: &Journal, entries: &[JournalEntry]) {
    for e in entries {
        journal.append_entry(e).unwrap();
    }
}

#[test]
fn every_event_round_trips_one_per_line() {
    let (_root, journal) = journal();
    assert_eq!(journal.read().unwrap(), JournalReadout::default());
    assert!(!journal.path().exists(), "reading creates nothing");
    let entries = vec![
        entry(0, "r1", started(RunKind::Sync, false)),
        entry(
            1,
            "r1",
            JournalEvent::ServiceCreated {
                service: NotShared,
                service_id: "sku-9".into(),
            },
        ),
        entry(
            2,
            "r1",
            JournalEvent::AccountsCreated {
                ids: vec!["12".into(), "13".into()],
            },
        ),
        entry(3, "r1", sent(12, Shared, 4)),
        entry(
            3,
            "r1",
            count(
                13,
                NotShared,
                0,
                CountOutcome::Unmapped {
                    message: "No account map found with id 13".into(),
                },
            ),
        ),
        entry(
            3,
            "r1",
            count(
                14,
                Shared,
                2,
                CountOutcome::Failed {
                    reason: "HTTP 500: busy".into(),
                },
            ),
        ),
        entry(4, "r1", finished(1, false)),
    ];
    write_all(&journal, &entries);
    let readout = journal.read().unwrap();
    assert_eq!(readout.events, entries);
    assert_eq!(readout.torn_lines, 0);

    let text = std::fs::read_to_string(journal.path()).unwrap();
    assert_eq!(text.lines().count(), entries.len());
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "run_started");
    assert_eq!(first["kind"], "sync");
    assert_eq!(first["run_id"], "r1");
    assert_eq!(first["at"], "2025-03-01T10:00:00Z");
    let unmapped: serde_json::Value = serde_json::from_str(text.lines().nth(4).unwrap()).unwrap();
    assert_eq!(unmapped["event"], "count_result");
    assert_eq!(unmapped["service"], "not_shared");
    assert_eq!(unmapped["outcome"]["status"], "unmapped");
}

#[test]
fn journal_file_is_named_after_the_profile() {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    let journal = Journal::for_profile(&dirs, "../Acme/EU").unwrap();
    assert_eq!(
        journal.path(),
        dirs.journal_dir().join("%2E.%2FAcme%2FEU.jsonl")
    );
    let err = Journal::for_profile(&dirs, "").unwrap_err().to_string();
    assert!(err.starts_with("Profile name:"), "{err}");
    for kind in [
        RunKind::SyncUsage,
        RunKind::Sync,
        RunKind::SyncAccounts,
        RunKind::SyncServices,
        RunKind::Revert,
    ] {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
    }
}

#[test]
fn torn_last_line_is_skipped_and_the_next_append_stays_whole() {
    let (_root, journal) = journal();
    write_all(
        &journal,
        &[
            entry(0, "r1", started(RunKind::SyncUsage, false)),
            entry(1, "r1", sent(1, Shared, 3)),
        ],
    );
    // A process killed in the middle of a write.
    let mut file = OpenOptions::new()
        .append(true)
        .open(journal.path())
        .unwrap();
    file.write_all(br#"{"at":"2025-03-01T10:02:00Z","run_id":"r1","event":"count_re"#)
        .unwrap();
    drop(file);
    let readout = journal.read().unwrap();
    assert_eq!(readout.events.len(), 2);
    assert_eq!(readout.torn_lines, 1);

    // The next run's journal handle appends after the torn line, not onto it.
    let reopened = Journal::at_path(journal.path());
    reopened
        .append_entry(&entry(3, "r2", started(RunKind::SyncUsage, false)))
        .unwrap();
    let readout = reopened.read().unwrap();
    assert_eq!(readout.events.len(), 3);
    assert_eq!(readout.events[2].run_id, "r2");
    assert_eq!(readout.torn_lines, 1);
}

#[test]
fn any_garbled_line_is_counted_and_the_rest_read() {
    let bytes = [
        serde_json::to_string(&entry(0, "r1", sent(1, Shared, 3))).unwrap(),
        "not json".to_owned(),
        r#"{"at":"2025-03-01T10:00:00Z","run_id":"r1","event":"from_the_future"}"#.to_owned(),
        String::new(),
        serde_json::to_string(&entry(1, "r1", sent(2, Shared, 5))).unwrap(),
    ]
    .join("\n");
    let mut bytes = bytes.into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    let readout = JournalReadout::parse(&bytes);
    assert_eq!(readout.events.len(), 2);
    assert_eq!(readout.torn_lines, 3);
}

#[test]
fn concurrent_appends_from_many_threads_never_interleave() {
    const THREADS: i64 = 8;
    const PER_THREAD: i64 = 250;
    let (_root, journal) = journal();
    let journal = Arc::new(journal);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    journal
                        .append(&format!("run-{t}"), sent(t * 1000 + i, Shared, i as u64))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let readout = journal.read().unwrap();
    assert_eq!(readout.torn_lines, 0);
    assert_eq!(readout.events.len(), (THREADS * PER_THREAD) as usize);
    let last = readout.last_sent();
    assert_eq!(last.len(), (THREADS * PER_THREAD) as usize);
    // Each thread's events stay in its own order.
    for t in 0..THREADS {
        let ids: Vec<i64> = readout
            .events
            .iter()
            .filter(|e| e.run_id == format!("run-{t}"))
            .filter_map(|e| match e.event {
                JournalEvent::CountResult { company_id, .. } => Some(company_id),
                _ => None,
            })
            .collect();
        let want: Vec<i64> = (0..PER_THREAD).map(|i| t * 1000 + i).collect();
        assert_eq!(ids, want);
    }
}

/// A child process (this test binary again) appends lines and is then killed outright; every
/// line it appended must be readable.
#[cfg(unix)]
#[test]
fn lines_survive_the_writer_being_killed() {
    const CHILD: &str = "CWSD_TEST_JOURNAL_CHILD";
    const LINES: usize = 200;
    if let Some(path) = std::env::var_os(CHILD) {
        let journal = Journal::at_path(PathBuf::from(path));
        for i in 0..LINES {
            journal.append("killed", sent(i as i64, Shared, 1)).unwrap();
        }
        // Wait to be killed (the parent polls the file, then kills this process).
        loop {
            std::thread::park();
        }
    }
    let (_root, journal) = journal();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "storage::journal::tests::lines_survive_the_writer_being_killed",
            "--test-threads=1",
        ])
        .env(CHILD, journal.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while journal.read().unwrap().events.len() < LINES {
        assert!(
            std::time::Instant::now() < deadline,
            "child wrote too slowly"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no flushing at exit
    child.wait().unwrap();
    let readout = journal.read().unwrap();
    assert_eq!(readout.events.len(), LINES);
    assert_eq!(readout.torn_lines, 0);
}

/// r1 real; r2 a dry run; r3 real with a zero and an unmapped post; r4 cut off.
fn history() -> Vec<JournalEntry> {
    vec![
        entry(0, "r1", started(RunKind::Sync, false)),
        entry(1, "r1", sent(1, Shared, 3)),
        entry(1, "r1", sent(1, NotShared, 2)),
        entry(1, "r1", sent(2, Shared, 7)),
        entry(2, "r1", finished(3, false)),
        entry(10, "r2", started(RunKind::SyncUsage, true)),
        entry(11, "r2", sent(1, Shared, 100)),
        entry(12, "r2", finished(1, false)),
        entry(20, "r3", started(RunKind::SyncUsage, false)),
        entry(21, "r3", sent(2, Shared, 0)),
        entry(
            21,
            "r3",
            count(
                1,
                NotShared,
                9,
                CountOutcome::Unmapped {
                    message: "No account map found".into(),
                },
            ),
        ),
        entry(
            21,
            "r3",
            count(
                3,
                Shared,
                4,
                CountOutcome::Failed {
                    reason: "HTTP 500".into(),
                },
            ),
        ),
        // Retried within the run: the latest result counts.
        entry(22, "r3", sent(3, Shared, 4)),
        entry(23, "r3", finished(2, true)),
        entry(30, "r4", started(RunKind::Revert, false)),
        entry(31, "r4", sent(1, Shared, 5)),
    ]
}

#[test]
fn last_sent_across_runs_excludes_dry_runs_and_unsent_posts() {
    let (_root, journal) = journal();
    write_all(&journal, &history());
    let last = journal.last_sent().unwrap();
    let got: Vec<((i64, ServiceKind), u64)> =
        last.iter().map(|(k, v)| (*k, v.unit_count)).collect();
    assert_eq!(
        got,
        vec![
            ((1, Shared), 5),    // r4, cut off, still sent
            ((1, NotShared), 2), // r3's 9 was unmapped
            ((2, Shared), 0),    // dropped to zero in r3
            ((3, Shared), 4),    // failed, then sent on retry
        ]
    );
    assert_eq!(last[&(2, Shared)].company_name, "Company 2");
    assert_eq!(last_sent(&journal.read().unwrap()), last);
}

#[test]
fn runs_newest_first_with_a_run_cut_off() {
    let (_root, journal) = journal();
    write_all(&journal, &history());
    let runs = journal.runs().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["r4", "r3", "r2", "r1"]);

    let r4 = &runs[0];
    assert_eq!(r4.kind, Some(RunKind::Revert));
    assert_eq!(r4.end, RunEnd::CutOff);
    assert_eq!(r4.status(), "cut off");
    assert_eq!((r4.sent, r4.unmapped, r4.failed), (1, 0, 0));
    assert_eq!(r4.started, at(30));

    let r3 = &runs[1];
    assert_eq!(r3.status(), "cancelled");
    assert_eq!((r3.sent, r3.unmapped, r3.failed), (2, 1, 0));

    let r2 = &runs[2];
    assert!(r2.dry_run);
    assert_eq!(r2.status(), "finished");

    let r1 = &runs[3];
    assert_eq!(
        r1.end,
        RunEnd::Finished {
            at: at(2),
            cancelled: false
        }
    );
    assert_eq!(r1.sent, 3);
}

#[test]
fn a_run_whose_first_line_was_lost_is_still_listed() {
    let readout = JournalReadout {
        events: vec![entry(5, "orphan", sent(1, Shared, 1))],
        torn_lines: 1,
        ..JournalReadout::default()
    };
    let runs = readout.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].kind, None);
    assert_eq!(runs[0].started, at(5));
    assert_eq!(runs[0].status(), "cut off");
}

#[test]
fn run_counts_are_what_a_run_sent_with_what_was_sent_since() {
    let (_root, journal) = journal();
    write_all(&journal, &history());
    let r1 = journal.run_counts("r1").unwrap();
    let got: Vec<(i64, ServiceKind, u64, Option<u64>)> = r1
        .iter()
        .map(|c| (c.company_id, c.service, c.unit_count, c.previous))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Shared, 3, Some(5)),
            (1, NotShared, 2, Some(2)),
            (2, Shared, 7, Some(0)),
        ]
    );
    assert!(r1[0].is_change() && !r1[1].is_change());
    // Only what was sent: r3's unmapped post is not in it.
    let r3: Vec<(i64, ServiceKind)> = journal
        .run_counts("r3")
        .unwrap()
        .iter()
        .map(|c| (c.company_id, c.service))
        .collect();
    assert_eq!(r3, vec![(2, Shared), (3, Shared)]);
    assert!(journal.run_counts("nope").unwrap().is_empty());
}

#[test]
fn run_ids_are_unique_and_sortable() {
    let a = new_run_id();
    let b = new_run_id();
    assert_ne!(a, b);
    assert_eq!(a.len(), "20250301T101500Z-3f9a1c".len());
}

// --- tenants' journals, the precondition and unreadable lines ---------------------------------

fn tenant(company: &str, org: &str) -> TenantIdentity {
    TenantIdentity::new(
        "api-na.myconnectwise.net",
        company,
        "https://app.usegradient.com",
        org,
    )
}

#[test]
fn each_tenant_has_its_own_history_and_an_old_one_is_kept() {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    let a = Journal::for_tenant(&dirs, &tenant("acme", "org-1"));
    a.open_for_run().unwrap();
    a.append("r1", sent(1, Shared, 3)).unwrap();

    // The same tenant from anywhere (another profile, the environment) reads A's history.
    let again = Journal::for_tenant(&dirs, &tenant("ACME ", "org-1"));
    assert_eq!(again.path(), a.path());
    assert_eq!(again.last_sent().unwrap().len(), 1);

    // Another company id, or another organization, starts empty; A's file stays.
    for other in [tenant("beta", "org-1"), tenant("acme", "org-2")] {
        let b = Journal::for_tenant(&dirs, &other);
        assert_ne!(b.path(), a.path());
        assert!(b.last_sent().unwrap().is_empty());
        b.open_for_run().unwrap();
        b.append("r2", sent(9, Shared, 1)).unwrap();
    }
    assert_eq!(a.last_sent().unwrap().len(), 1);
    assert!(a.path().starts_with(tenant_journal_dir(&dirs)));

    // History can name every tenant.
    let listed: Vec<TenantIdentity> = tenant_journals(&dirs)
        .unwrap()
        .into_iter()
        .map(|t| t.tenant)
        .collect();
    assert_eq!(
        listed,
        vec![
            tenant("acme", "org-1"),
            tenant("acme", "org-2"),
            tenant("beta", "org-1")
        ]
    );
    assert_eq!(a.tenant(), Some(&tenant("acme", "org-1")));
}

#[test]
fn no_tenant_journals_yet_lists_none() {
    let root = tempfile::tempdir().unwrap();
    assert!(
        tenant_journals(&AppDirs::at(root.path()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_journal_that_cannot_be_written_fails_before_the_run_names_path_and_reason() {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    let journal = Journal::for_tenant(&dirs, &tenant("acme", "org-1"));
    // A folder where the file should be: no user (not even root) can append to it.
    std::fs::create_dir_all(journal.path()).unwrap();
    let err = journal.open_for_run().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "History file: could not open {}",
            journal.path().display()
        )),
        "{err}"
    );
    assert!(err.contains("check the data folder's permissions"), "{err}");

    // A data folder that is a file fails the same way, naming the folder.
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("data"), "not a folder").unwrap();
    let journal = Journal::for_tenant(&AppDirs::at(root.path()), &tenant("acme", "org-1"));
    let err = journal.open_for_run().unwrap_err().to_string();
    assert!(
        err.starts_with("History file: could not create the folder of "),
        "{err}"
    );
}

#[test]
fn opening_for_a_run_creates_an_empty_history_and_is_idempotent() {
    let root = tempfile::tempdir().unwrap();
    let journal = Journal::for_tenant(&AppDirs::at(root.path()), &tenant("acme", "org-1"));
    assert!(!journal.path().exists());
    journal.open_for_run().unwrap();
    journal.open_for_run().unwrap();
    assert!(journal.path().exists());
    assert_eq!(journal.read().unwrap(), JournalReadout::default());
    journal.append("r1", sent(1, Shared, 3)).unwrap();
    assert_eq!(journal.read().unwrap().events.len(), 1);
}

#[test]
fn unreadable_lines_name_the_companies_whose_last_counts_are_unknown() {
    let whole = serde_json::to_string(&entry(0, "r1", sent(12, Shared, 3))).unwrap();
    let bytes = [
        whole.clone(),
        // Torn after the company id: company 40 is known.
        r#"{"at":"2025-03-01T10:02:00Z","run_id":"r1","event":"count_result","company_id":40,"company_na"#.to_owned(),
        // Torn inside the company id: 12 may be the start of 123, so it is not trusted.
        r#"{"at":"2025-03-01T10:02:00Z","run_id":"r1","event":"count_result","company_id":12"#.to_owned(),
        // Whole JSON with a bad field: its company id is read.
        r#"{"at":"2025-03-01T10:03:00Z","run_id":"r1","event":"count_result","company_id":7,"company_name":"G","service":"shared","unit_count":-1,"outcome":{"status":"sent"}}"#.to_owned(),
        "garbage".to_owned(),
    ]
    .join("\n");
    let readout = JournalReadout::parse(bytes.as_bytes());
    assert_eq!(readout.events.len(), 1);
    assert_eq!(readout.torn_lines, 4);
    assert_eq!(readout.last_counts_unknown(), vec![7, 40]);
    assert_eq!(
        readout.unreadable_report().unwrap(),
        "4 history lines could not be read; the last counts of companies 7, 40 are unknown"
    );

    let one = JournalReadout::parse(format!("{whole}\nnot json\n").as_bytes());
    assert_eq!(
        one.unreadable_report().unwrap(),
        "1 history line could not be read; which companies they were about cannot be told"
    );
    assert_eq!(
        JournalReadout::parse(whole.as_bytes()).unreadable_report(),
        None
    );
}

#[test]
fn company_ids_are_read_only_when_whole() {
    assert_eq!(company_id_in(br#"{"company_id": -5, "x"#), Some(-5));
    assert_eq!(company_id_in(br#"{"company_id":5}"#), Some(5));
    assert_eq!(company_id_in(br#"{"company_id":5"#), None);
    assert_eq!(company_id_in(br#"{"company_id":"5","#), None);
    assert_eq!(company_id_in(br#"{"run_id":"r1","#), None);
}

// --- exclusions, overrides and what a run's plan left out ---------------------------------------

#[test]
fn a_change_made_offline_finds_its_tenant_by_site_company_and_url() {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    for t in [tenant("acme", "org-1"), tenant("beta", "org-1")] {
        Journal::for_tenant(&dirs, &t).open_for_run().unwrap();
    }
    let found = tenant_journals_matching(
        &dirs,
        "https://API-NA.myconnectwise.net/",
        " Acme",
        "https://app.usegradient.com/",
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tenant, tenant("acme", "org-1"));
    assert!(
        tenant_journals_matching(
            &dirs,
            "api-eu.myconnectwise.net",
            "acme",
            "https://app.usegradient.com"
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn a_tenant_s_journals_are_found_by_its_identity_as_it_is() {
    let root = tempfile::tempdir().unwrap();
    let dirs = AppDirs::at(root.path());
    // http on 443 keeps its port in the identity ("psa.example:443"); read again as a site
    // it would be https's default port and lose it, so the identity is matched as it is.
    let t = TenantIdentity::new(
        "http://psa.example:443",
        "acme",
        "https://app.usegradient.com",
        "o",
    );
    assert_eq!(t.connectwise_host, "psa.example:443");
    Journal::for_tenant(&dirs, &t).open_for_run().unwrap();
    let found = tenant_journals_of(&dirs, &t).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tenant, t);
}

#[test]
fn adjustment_changes_are_kept_newest_first_and_are_not_runs() {
    use crate::domain::adjustments::{AdjustmentChange, AdjustmentChangeKind};
    let (_root, journal) = journal();
    journal
        .append_entry(&entry(0, "r1", started(RunKind::Sync, false)))
        .unwrap();
    journal
        .append_entry(&entry(1, "r1", sent(1, Shared, 3)))
        .unwrap();
    for (minute, company_id) in [(2, 19300), (3, 19301)] {
        journal
            .append_adjustment_change(&AdjustmentChange {
                at: at(minute),
                by: "anna".into(),
                profile: "Acme EU".into(),
                change: AdjustmentChangeKind::Excluded {
                    company_id,
                    replaced_reason: None,
                },
                reason: "internal".into(),
            })
            .unwrap();
    }
    let changes = journal.adjustment_changes().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[0].describe(),
        "anna excluded company 19301: internal"
    );
    let runs = journal.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, "r1");
    // A change is not a count: the last counts sent are untouched.
    assert_eq!(journal.last_sent().unwrap().len(), 1);
    assert_eq!(journal.read().unwrap().torn_lines, 0);
}

#[test]
fn plan_events_record_what_the_plan_left_out_and_a_dry_run_records_its_counts() {
    use crate::domain::adjustments::ExcludedCompany;
    use crate::domain::safety::HeldCompany;
    use crate::domain::sync_plan::SyncPlan;
    let planned = |company_id: i64, unit_count: u64| PlannedCount {
        company_id,
        company_name: format!("Company {company_id}"),
        service: Shared,
        unit_count,
        previous: None,
    };
    let plan = SyncPlan {
        counts: vec![planned(1, 3)],
        awaiting_accounts: vec![planned(2, 1)],
        held: vec![HeldCompany {
            company_id: 4,
            unreadable_records: 1,
            record_ids: vec![77],
        }],
        excluded: vec![ExcludedCompany {
            company_id: 3,
            company_name: "Own".into(),
            reason: "ours".into(),
        }],
        ..SyncPlan::default()
    };
    let sync = plan_events(&plan, false);
    assert_eq!(sync.len(), 3);
    assert!(
        matches!(&sync[0], JournalEvent::CompanyExcluded { company_id: 3, reason, .. } if reason == "ours")
    );
    assert!(
        matches!(&sync[1], JournalEvent::CompanyHeld { company_id: 4, reason } if reason.contains("ids 77"))
    );
    assert!(matches!(
        &sync[2],
        JournalEvent::CountNotSent {
            company_id: 2,
            reason: NotSentReason::NoAccount,
            ..
        }
    ));
    let dry = plan_events(&plan, true);
    assert!(matches!(
        &dry[3],
        JournalEvent::CountNotSent {
            company_id: 1,
            unit_count: 3,
            reason: NotSentReason::DryRun,
            ..
        }
    ));

    // They round-trip through the file, and older programs' lines still read.
    let (_root, journal) = journal();
    for event in dry {
        journal.append("r1", event).unwrap();
    }
    let readout = journal.read().unwrap();
    assert_eq!(readout.torn_lines, 0);
    assert_eq!(readout.events.len(), 4);
    assert!(
        readout.last_sent().is_empty(),
        "a count not sent is not a count last sent"
    );
}
