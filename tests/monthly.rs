//! What billing admins need every month, the command run as a process against the sandbox:
//! exclusions (never posted, never zeroed), overrides (the final count lands, and expires), the
//! run report written after every sync and dry run (its numbers are what was posted), the
//! comparison of two runs (exactly the companies that changed), and hostile input refused with
//! exit 2 naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Each test tells one month-end story from start to finish.
#![allow(clippy::too_many_lines)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cw_shared_devices::domain::counting::{CompanyCounts, DEFAULT_TYPE_NAME};
use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::sandbox::{
    SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, Sandbox, SandboxConfig, SandboxConfiguration,
};

use common::command::{Run, SandboxHome, assert_no_secret};
use common::tenant::{direct_default_count, held_counts};

const PROFILE: &str = "Monthly";

type Env = SandboxHome;

impl Env {
    /// A small sandbox and a profile pointed at it (the keys come from the environment).
    fn monthly() -> Self {
        let env = Self::new(SandboxConfig {
            companies: 12,
            configurations: 160,
            ..SandboxConfig::default()
        });
        let out = env.run(&[
            "profile",
            "create",
            PROFILE,
            "--company-id",
            SANDBOX_COMPANY_ID,
            "--client-id",
            SANDBOX_CLIENT_ID,
        ]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        env
    }

    fn ok(&self, args: &[&str]) -> Run {
        let mut all = vec!["--profile", PROFILE];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        out
    }

    /// `sync --json` of the profile; answers the run id and what it printed.
    fn sync(&self) -> (String, Run) {
        let out = self.ok(&["sync", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        (json["run_id"].as_str().unwrap().to_owned(), out)
    }

    /// The counts posted to Synthesize since the last clear, by account id: (service id, count).
    fn posted_to(&self) -> BTreeMap<String, Vec<u64>> {
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for r in self.sandbox.handle().synthesize_requests() {
            if r.method == "POST" && r.path.ends_with("/count") {
                let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                out.entry(body["accountId"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(body["unitCount"].as_u64().unwrap());
            }
        }
        out
    }

    fn profile_file(&self) -> PathBuf {
        let dir = self.home.config_dir().join("profiles");
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .unwrap()
    }

    /// The journal's lines, parsed.
    fn journal(&self) -> Vec<serde_json::Value> {
        let path = self.home.tenant_journal().unwrap();
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The companies counted now with devices of both kinds first, by id.
fn counted(sb: &Sandbox) -> Vec<CompanyCounts> {
    let mut companies = direct_default_count(sb).companies;
    companies.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.shared_devices.min(1) + c.not_shared_devices.min(1)),
            c.company_id,
        )
    });
    companies
}

/// The counted configurations of a company.
fn counted_records_of(sb: &Sandbox, company_id: i64) -> Vec<SandboxConfiguration> {
    sb.handle()
        .configurations()
        .into_iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| co.id == company_id))
        .filter(|c| {
            c.config_type.as_ref().and_then(|t| t.name.as_deref()) == Some(DEFAULT_TYPE_NAME)
        })
        .collect()
}

/// The run report's files named on stderr ("Run report: X.html (CSV: X.csv)").
fn report_files(stderr: &str) -> (PathBuf, PathBuf) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Run report: "))
        .unwrap_or_else(|| panic!("no run report named: {stderr}"));
    let (html, csv) = line.split_once(" (CSV: ").unwrap();
    (
        PathBuf::from(html),
        PathBuf::from(csv.trim_end_matches(')')),
    )
}

/// A report CSV's company rows: id → (shared_new, not_shared_new, status), the totals row left out.
fn report_rows(path: &Path) -> BTreeMap<i64, (Option<u64>, Option<u64>, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, shared, not_shared, status) = (
        col("company_id"),
        col("shared_new"),
        col("not_shared_new"),
        col("status"),
    );
    let mut out = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        if record[id].is_empty() {
            continue;
        }
        out.insert(
            record[id].parse().unwrap(),
            (
                record[shared].parse().ok(),
                record[not_shared].parse().ok(),
                record[status].to_owned(),
            ),
        );
    }
    out
}

// ---------------------------------------------------------------------------------- exclusions

#[test]
fn an_excluded_company_is_never_posted_nor_zeroed_nor_given_an_account() {
    let env = Env::monthly();
    let companies = counted(&env.sandbox);
    let (from_start, later) = (&companies[0], &companies[1]);

    env.ok(&[
        "profile",
        "exclude",
        PROFILE,
        &from_start.company_id.to_string(),
        "--reason",
        "our own company",
    ]);
    let (_, out) = env.sync();
    assert!(
        out.stderr.contains(&format!(
            "excluded: company {} {}: our own company (never posted nor zeroed)",
            from_start.company_id, from_start.company_name
        )),
        "{}",
        out.stderr
    );
    let posted = env.posted_to();
    assert!(
        !posted.contains_key(&from_start.company_id.to_string()),
        "the excluded company was posted: {posted:?}"
    );
    assert!(
        !env.sandbox
            .handle()
            .accounts()
            .iter()
            .any(|a| a.id == from_start.company_id.to_string()),
        "an account was created for the excluded company"
    );
    // Everyone else got their counts.
    let others: BTreeSet<String> = companies[1..]
        .iter()
        .map(|c| c.company_id.to_string())
        .collect();
    assert_eq!(posted.keys().cloned().collect::<BTreeSet<_>>(), others);
    let held = held_counts(&env.sandbox);
    let later_shared = held[&(later.company_id, ServiceKind::Shared)];
    assert_eq!(later_shared, later.shared_devices);

    // Excluded after it was billed, and then its devices all go: a zero would be due, and none
    // is sent; what Synthesize holds stays as it was.
    env.ok(&[
        "profile",
        "exclude",
        PROFILE,
        &later.company_id.to_string(),
        "--reason",
        "billed by contract",
    ]);
    for record in counted_records_of(&env.sandbox, later.company_id) {
        env.sandbox.handle().remove_configuration(record.id);
    }
    env.sandbox.handle().clear_synthesize_requests();
    let (run_id, out) = env.sync();
    let posted = env.posted_to();
    assert!(
        !posted.contains_key(&later.company_id.to_string()),
        "the excluded company was zeroed: {posted:?}\n{}",
        out.stderr
    );
    let held = held_counts(&env.sandbox);
    assert_eq!(held[&(later.company_id, ServiceKind::Shared)], later_shared);
    // The journal says why, and who changed what.
    let journal = env.journal();
    assert!(journal.iter().any(|e| e["run_id"] == run_id.as_str()
        && e["event"] == "company_excluded"
        && e["company_id"] == later.company_id
        && e["reason"] == "billed by contract"));
    let changes: Vec<&serde_json::Value> = journal
        .iter()
        .filter(|e| e["event"] == "adjustment_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["change"]["reason"], "billed by contract");
    assert_eq!(
        changes[0]["change"]["change"]["company_id"],
        later.company_id
    );
    assert!(!changes[0]["change"]["by"].as_str().unwrap().is_empty());
    // The change made before the tenant's first run is in the profile's own history.
    let own = std::fs::read_to_string(
        env.home
            .data_dir()
            .join("journal")
            .join(format!("{PROFILE}.jsonl")),
    )
    .unwrap();
    assert!(own.contains("\"reason\":\"our own company\""), "{own}");

    // `profile show` lists them; including one again bills it from the next run.
    let show = env.ok(&["profile", "show", PROFILE]);
    assert!(
        show.stdout
            .contains(&format!("  {} — our own company", from_start.company_id)),
        "{}",
        show.stdout
    );
    env.ok(&[
        "profile",
        "include",
        PROFILE,
        &from_start.company_id.to_string(),
    ]);
    env.sandbox.handle().clear_synthesize_requests();
    env.sync();
    assert!(
        env.posted_to()
            .contains_key(&from_start.company_id.to_string())
    );
}

// ----------------------------------------------------------------------------------- overrides

#[test]
fn an_overrides_final_count_is_what_lands_and_after_its_last_day_the_computed_one_does() {
    let env = Env::monthly();
    let companies = counted(&env.sandbox);
    let (fixed, adjusted) = (&companies[0], &companies[1]);
    env.ok(&[
        "profile",
        "override",
        PROFILE,
        &fixed.company_id.to_string(),
        "shared",
        "=7",
        "--reason",
        "three kiosks billed by contract",
        "--until",
        "2999-03-31",
    ]);
    // `-N` is a value, not a flag.
    env.ok(&[
        "profile",
        "override",
        PROFILE,
        &adjusted.company_id.to_string(),
        "not-shared",
        "-1",
        "--reason",
        "one device is a spare",
    ]);
    let (run_id, out) = env.sync();
    let held = held_counts(&env.sandbox);
    assert_eq!(
        held[&(fixed.company_id, ServiceKind::Shared)],
        7,
        "{}",
        out.stderr
    );
    assert_eq!(
        held[&(adjusted.company_id, ServiceKind::NotShared)],
        adjusted.not_shared_devices.saturating_sub(1)
    );
    // The other service of each is the computed count.
    assert_eq!(
        held[&(fixed.company_id, ServiceKind::NotShared)],
        fixed.not_shared_devices
    );
    // The journal keeps the final count posted and the override beside it.
    let journal = env.journal();
    let adjustment = journal
        .iter()
        .find(|e| {
            e["run_id"] == run_id.as_str()
                && e["event"] == "count_adjusted"
                && e["adjusted"]["company_id"] == fixed.company_id
        })
        .unwrap();
    assert_eq!(adjustment["adjusted"]["computed"], fixed.shared_devices);
    assert_eq!(adjustment["adjusted"]["final_count"], 7);
    assert!(journal.iter().any(|e| e["run_id"] == run_id.as_str()
        && e["event"] == "count_result"
        && e["company_id"] == fixed.company_id
        && e["service"] == "shared"
        && e["unit_count"] == 7));

    // Its last day passes (the profile's date set in the past): the computed count lands again.
    let path = env.profile_file();
    let mut profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for o in profile["overrides"].as_array_mut().unwrap() {
        if o["company_id"] == fixed.company_id {
            o["until"] = "2020-01-31".into();
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&profile).unwrap()).unwrap();
    let show = env.ok(&["profile", "show", PROFILE]);
    assert!(
        show.stdout.contains("expired, the computed count applies"),
        "{}",
        show.stdout
    );
    let (run_id, _) = env.sync();
    let held = held_counts(&env.sandbox);
    assert_eq!(
        held[&(fixed.company_id, ServiceKind::Shared)],
        fixed.shared_devices
    );
    assert!(!env.journal().iter().any(|e| e["run_id"] == run_id.as_str()
        && e["event"] == "count_adjusted"
        && e["adjusted"]["company_id"] == fixed.company_id));
    // The one still active still applies.
    assert_eq!(
        held[&(adjusted.company_id, ServiceKind::NotShared)],
        adjusted.not_shared_devices.saturating_sub(1)
    );

    // Cleared, the computed count applies.
    env.ok(&[
        "profile",
        "clear-override",
        PROFILE,
        &adjusted.company_id.to_string(),
        "not-shared",
    ]);
    env.sync();
    assert_eq!(
        held_counts(&env.sandbox)[&(adjusted.company_id, ServiceKind::NotShared)],
        adjusted.not_shared_devices
    );
}

// ------------------------------------------------------------------------------------- reports

#[test]
fn a_runs_report_says_what_was_posted_and_a_dry_run_has_one_and_changes_nothing() {
    let env = Env::monthly();
    let companies = counted(&env.sandbox);
    env.ok(&[
        "profile",
        "exclude",
        PROFILE,
        &companies[0].company_id.to_string(),
        "--reason",
        "internal",
    ]);
    env.ok(&[
        "profile",
        "override",
        PROFILE,
        &companies[1].company_id.to_string(),
        "shared",
        "+2",
        "--reason",
        "two kiosks",
    ]);

    // A dry run: journaled as one, with its report; it changes no last-sent count.
    let dry = env.ok(&["sync", "--dry-run"]);
    let (dry_html, dry_csv) = report_files(&dry.stderr);
    assert!(dry_html.exists() && dry_csv.exists());
    let dry_rows = report_rows(&dry_csv);
    assert!(
        dry_rows
            .values()
            .all(|(_, _, s)| s.contains("not sent") || s.contains("excluded"))
    );
    assert!(held_counts(&env.sandbox).is_empty());
    let again = env.ok(&["sync", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert!(
        plan["counts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["previous"].is_null()),
        "a dry run changed what counts as last sent: {plan}"
    );
    assert_eq!(plan["excluded"][0]["company_id"], companies[0].company_id);
    assert_eq!(
        plan["overridden"][0]["final"],
        companies[1].shared_devices + 2
    );

    let (run_id, out) = env.sync();
    let (html, csv) = report_files(&out.stderr);
    assert!(csv.to_string_lossy().contains(&run_id));
    let rows = report_rows(&csv);
    let held = held_counts(&env.sandbox);
    // Every count the report says was sent is what Synthesize holds, and the other way round.
    let mut reported: BTreeMap<(i64, ServiceKind), u64> = BTreeMap::new();
    for (id, (shared, not_shared, status)) in &rows {
        if status.contains("sent") && !status.contains("not sent") {
            if let Some(n) = shared {
                reported.insert((*id, ServiceKind::Shared), *n);
            }
            if let Some(n) = not_shared {
                reported.insert((*id, ServiceKind::NotShared), *n);
            }
        }
    }
    assert_eq!(reported, held);
    assert!(rows[&companies[0].company_id].2.contains("excluded"));
    assert!(rows[&companies[1].company_id].2.contains("overridden"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("internal") && page.contains("two kiosks"));
    assert!(!page.contains("<script"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // `report` prints the newest run, and writes the same CSV where asked.
    let table = env.ok(&["report"]);
    assert!(table.stdout.contains(&run_id), "{}", table.stdout);
    assert!(
        table.stdout.contains("1 excluded; 1 overridden"),
        "{}",
        table.stdout
    );
    let out_csv = env.home.path().join("out.csv");
    let out_html = env.home.path().join("out.html");
    env.ok(&[
        "report",
        "--run",
        &run_id,
        "--csv",
        out_csv.to_str().unwrap(),
        "--html",
        out_html.to_str().unwrap(),
    ]);
    assert_eq!(report_rows(&out_csv), rows);
    assert!(
        std::fs::read_to_string(&out_html)
            .unwrap()
            .contains(&run_id)
    );
    for file in env.home.written_files() {
        if let Ok(text) = std::fs::read_to_string(&file) {
            assert_no_secret(&text, &file.display().to_string());
        }
    }
}

#[test]
fn a_comparison_of_two_runs_lists_exactly_the_companies_that_changed() {
    let env = Env::monthly();
    let companies = counted(&env.sandbox);
    let (first, _) = env.sync();
    // One company loses a device in ConnectWise, one gets an override, one is excluded.
    let fewer = &companies[2];
    let record = counted_records_of(&env.sandbox, fewer.company_id).remove(0);
    env.sandbox.handle().remove_configuration(record.id);
    env.ok(&[
        "profile",
        "override",
        PROFILE,
        &companies[3].company_id.to_string(),
        "not-shared",
        "=40",
        "--reason",
        "contract minimum",
    ]);
    env.ok(&[
        "profile",
        "exclude",
        PROFILE,
        &companies[4].company_id.to_string(),
        "--reason",
        "left us",
    ]);
    let (second, _) = env.sync();

    let expected: BTreeSet<i64> = [
        fewer.company_id,
        companies[3].company_id,
        companies[4].company_id,
    ]
    .into();
    let cmp_csv = env.home.path().join("cmp.csv");
    // Named in either order, the earlier run is "before".
    for (run, other) in [(&second, &first), (&first, &second)] {
        env.ok(&[
            "report",
            "--run",
            run,
            "--compare",
            other,
            "--csv",
            cmp_csv.to_str().unwrap(),
        ]);
        let mut reader = csv::Reader::from_path(&cmp_csv).unwrap();
        let mut listed = BTreeSet::new();
        for record in reader.records() {
            let record = record.unwrap();
            let id: i64 = record[0].parse().unwrap();
            listed.insert(id);
            if id == companies[3].company_id {
                assert_eq!(&record[5], "40", "not_shared_after: {record:?}");
                assert!(record[6].contains("contract minimum"));
            }
        }
        assert_eq!(listed, expected);
    }
    let table = env.ok(&["report", "--last", "--compare", &first]);
    assert!(
        table.stdout.contains("3 companies changed"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!("Before: Run {first}")),
        "{}",
        table.stdout
    );
}

// ------------------------------------------------------------------------------ hostile input

#[test]
fn hostile_input_is_refused_with_exit_2_naming_the_field_and_changes_nothing() {
    let env = Env::monthly();
    let before = std::fs::read(env.profile_file()).unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "override", PROFILE, "19300", "shared", "+x", "--reason", "r",
            ],
            "Override count \"+x\"",
        ),
        (
            &["override", PROFILE, "19300", "shared", "3", "--reason", "r"],
            "Override count \"3\"",
        ),
        (
            &[
                "override",
                PROFILE,
                "19300",
                "shared",
                "=3",
                "--reason",
                "r",
                "--until",
                "2026-13-01",
            ],
            "Until \"2026-13-01\": write the last day as YYYY-MM-DD",
        ),
        (
            &[
                "override",
                PROFILE,
                "19300",
                "shared",
                "=3",
                "--reason",
                "r",
                "--until",
                "2001-01-01",
            ],
            "Until 2001-01-01: that day is already past",
        ),
        (
            &["override", PROFILE, "19300", "both", "=3", "--reason", "r"],
            "Service \"both\": write shared or not-shared",
        ),
        (
            &["exclude", PROFILE, "19300", "--reason", ""],
            "Reason: it is empty",
        ),
        (
            &["exclude", PROFILE, "19300", "--reason", "  \t "],
            "Reason: it is empty",
        ),
        (
            &["exclude", PROFILE, "acme", "--reason", "r"],
            "Company id \"acme\"",
        ),
        (
            &["include", PROFILE, "19300"],
            "company 19300 is not excluded",
        ),
    ];
    for (args, wanted) in cases {
        let mut all = vec!["profile"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(wanted), "{args:?}: {}", out.stderr);
    }
    // A missing reason is clap's usage error.
    let out = env.run(&["profile", "exclude", PROFILE, "19300"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--reason"), "{}", out.stderr);
    assert_eq!(std::fs::read(env.profile_file()).unwrap(), before);

    // A report of a run that is not there names the run and how to find one.
    env.sync();
    let out = env.run(&["--profile", PROFILE, "report", "--run", "no-such-run"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("there is no run no-such-run"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_preview_shows_and_exports_the_final_counts_without_the_excluded_companies() {
    let env = Env::monthly();
    let companies = counted(&env.sandbox);
    env.ok(&[
        "profile",
        "exclude",
        PROFILE,
        &companies[0].company_id.to_string(),
        "--reason",
        "internal",
    ]);
    env.ok(&[
        "profile",
        "override",
        PROFILE,
        &companies[1].company_id.to_string(),
        "shared",
        "=9",
        "--reason",
        "contract",
    ]);
    let csv_path = env.home.path().join("preview.csv");
    let out = env.ok(&["preview", "--csv", csv_path.to_str().unwrap()]);
    assert!(
        out.stderr
            .contains(&format!("excluded: company {} ", companies[0].company_id)),
        "{}",
        out.stderr
    );
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.len(),
        5,
        "the CSV keeps its five columns: {headers:?}"
    );
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, shared, total) = (
        col("company_id"),
        col("shared_devices"),
        col("total_devices"),
    );
    let rows: BTreeMap<i64, (u64, u64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[id].parse().unwrap(),
                (r[shared].parse().unwrap(), r[total].parse().unwrap()),
            )
        })
        .collect();
    assert!(!rows.contains_key(&companies[0].company_id));
    assert_eq!(
        rows[&companies[1].company_id],
        (9, 9 + companies[1].not_shared_devices)
    );
    assert_eq!(rows.len(), companies.len() - 1);
}

/// The demo's companies whose ConnectWise status is marked inactive (the sandbox's third and
/// fifth companies): id and status.
const NOT_ACTIVE: [(i64, &str); 2] = [(256, "Inactive"), (262, "Not Approved")];

/// The demo's companies whose status is neither "Active" nor inactive ("Active - Managed",
/// "Credit Hold"): billed with the option on.
const STILL_BILLED: [i64; 2] = [253, 268];

#[test]
fn with_exclude_inactive_on_a_company_marked_inactive_is_never_posted_nor_zeroed_and_listed_with_its_status()
 {
    let env = Env::monthly();
    // Billed once while the option is off, so a later zero would be due.
    env.sync();
    let posted = env.posted_to();
    for (id, _) in NOT_ACTIVE {
        assert!(
            posted.contains_key(&id.to_string()),
            "{id} billed: {posted:?}"
        );
    }
    let out = env.ok(&[
        "profile",
        "exclude-inactive",
        PROFILE,
        "on",
        "--reason",
        "left us at month end",
    ]);
    assert!(
        out.stdout.contains("now excludes companies"),
        "{}",
        out.stdout
    );
    let again = env.ok(&["profile", "exclude-inactive", PROFILE, "on"]);
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    let show = env.ok(&["profile", "show", PROFILE]);
    let line = show
        .stdout
        .lines()
        .find(|l| l.starts_with("Exclude inactive companies:"))
        .unwrap_or_default();
    assert!(line.contains("yes"), "{}", show.stdout);

    // Preview: left out of the table and the CSV, listed with the status as the reason.
    // A company listed without a status is billed, and said once.
    env.sandbox.handle().set_company_status(277, None);
    let csv_path = env.home.path().join("inactive.csv");
    let preview = env.ok(&["preview", "--csv", csv_path.to_str().unwrap()]);
    assert_eq!(
        preview.stderr.matches("without a status (277)").count(),
        1,
        "{}",
        preview.stderr
    );
    for (id, status) in NOT_ACTIVE {
        assert!(
            preview.stderr.contains(&format!("excluded: company {id} "))
                && preview.stderr.contains(&format!(
                    "ConnectWise status \"{status}\" is marked inactive"
                )),
            "{}",
            preview.stderr
        );
        assert!(
            !preview
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{id} "))),
            "{}",
            preview.stdout
        );
    }
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    for (id, _) in NOT_ACTIVE {
        assert!(
            !csv.lines().any(|l| l.starts_with(&format!("{id},"))),
            "{csv}"
        );
    }
    let asked: Vec<_> = env
        .sandbox
        .handle()
        .connectwise_requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/company/companies"))
        .collect();
    assert!(!asked.is_empty());
    let query = asked[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("fields=id%2Cstatus%2Fid%2Cstatus%2Fname")
            && query.contains("pageSize=1000"),
        "{query}"
    );
    // Judged by ConnectWise's inactive flag, not the name: the demo's "Active - Managed" and
    // "Credit Hold" companies are still in the table.
    for id in STILL_BILLED {
        assert!(
            preview
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{id} "))),
            "{id}: {}",
            preview.stdout
        );
    }

    // Sync: never posted, never zeroed, listed as excluded; the Active ones still go out.
    env.sandbox.handle().clear_synthesize_requests();
    let (_, out) = env.sync();
    let posted = env.posted_to();
    for (id, status) in NOT_ACTIVE {
        assert!(!posted.contains_key(&id.to_string()), "{id}: {posted:?}");
        assert!(
            out.stderr.contains(&format!("excluded: company {id} "))
                && out.stderr.contains(&format!(
                    "ConnectWise status \"{status}\" is marked inactive"
                )),
            "{}",
            out.stderr
        );
    }
    assert!(!posted.is_empty(), "the Active companies are still billed");
    for id in STILL_BILLED {
        assert!(posted.contains_key(&id.to_string()), "{id}: {posted:?}");
    }

    // Back off: the company is billed again from the next run.
    env.ok(&["profile", "exclude-inactive", PROFILE, "off"]);
    env.sandbox.handle().clear_synthesize_requests();
    env.sync();
    assert!(env.posted_to().contains_key("256"));
}

#[test]
fn when_the_statuses_cannot_be_read_nothing_is_sent_and_the_run_names_the_fetch_and_the_fix() {
    use cw_shared_devices::sandbox::{FaultKind, ScheduledFault};
    let env = Env::monthly();
    env.ok(&["profile", "exclude-inactive", PROFILE, "on"]);
    env.sandbox
        .handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(403),
            "/v4_6_release/apis/3.0/company/companies",
        ));
    let out = env.run(&["--profile", PROFILE, "sync"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("GET company/companies")
            && out.stderr.contains("no rights to read companies")
            && out.stderr.contains("profile exclude-inactive PROFILE off"),
        "{}",
        out.stderr
    );
    let sent: Vec<_> = env
        .sandbox
        .handle()
        .synthesize_requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(sent.is_empty(), "nothing is sent: {sent:?}");

    // A server error that outlasts the retries stops the preview the same way.
    env.sandbox
        .handle()
        .connectwise_knobs()
        .push_faults((0..10).map(|_| {
            ScheduledFault::path_prefix(
                FaultKind::Status(500),
                "/v4_6_release/apis/3.0/company/companies",
            )
        }));
    let out = env.run(&["--profile", PROFILE, "preview"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("GET company/companies"),
        "{}",
        out.stderr
    );
}

#[test]
fn exclude_inactive_refuses_anything_but_on_or_off() {
    let env = Env::monthly();
    let out = env.run(&["profile", "exclude-inactive", PROFILE, "yes"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("on|off"), "{}", out.stderr);
}

#[test]
fn reverting_to_an_earlier_run_or_retrying_never_posts_a_company_excluded_since() {
    use cw_shared_devices::domain::adjustments::ExcludedCompany;
    use cw_shared_devices::domain::safety::DropCheck;
    use cw_shared_devices::domain::sync_plan::{PlannedCount, SyncPlan};
    use cw_shared_devices::engine::sync::{PlannedSync, plan_of_counts};

    let count = |company_id: i64| PlannedCount {
        company_id,
        company_name: format!("Company {company_id}"),
        service: ServiceKind::Shared,
        unit_count: 4,
        previous: Some(4),
    };
    let planned = PlannedSync {
        plan: SyncPlan {
            excluded: vec![ExcludedCompany {
                company_id: 2,
                company_name: "Company 2".into(),
                reason: "left us".into(),
            }],
            ..SyncPlan::default()
        },
        services: Vec::new(),
        accounts: Vec::new(),
        skipped: Vec::new(),
        mapping_known: false,
        unmapped_accounts: BTreeSet::new(),
        incomplete: None,
        drop_check: DropCheck::default(),
    };
    let again = plan_of_counts(vec![count(1), count(2), count(3)], &planned);
    let ids: Vec<i64> = again.plan.counts.iter().map(|c| c.company_id).collect();
    assert_eq!(ids, vec![1, 3]);
    assert_eq!(again.plan.excluded, planned.plan.excluded);
}
