//! Billing safety, the command run as a process against the sandbox: nothing is sent that a
//! complete preview of the same tenant did not show. Held companies, incomplete previews, the
//! journal as a precondition, tenants that never share history, the drop guard, counts waiting
//! for an account, and one run at a time per tenant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cw_shared_devices::domain::counting::DEFAULT_TYPE_NAME;
use cw_shared_devices::domain::safety::TenantIdentity;
use cw_shared_devices::domain::sync_plan::NO_ACCOUNT_YET;
use cw_shared_devices::sandbox::{
    ConnectWiseBehaviour, Sandbox, SandboxConfig, SandboxConfiguration, UnreadableRecord,
};
use cw_shared_devices::storage::run_lock::RunLock;

use common::command::{Home, SandboxHome, run, run_within, url_args};
use common::tenant::{direct_default_count, held_counts};

type Env = SandboxHome;

impl Env {
    fn small() -> Self {
        Self::new(SandboxConfig {
            companies: 12,
            configurations: 120,
            ..SandboxConfig::default()
        })
    }

    fn tenants_dir(&self) -> PathBuf {
        self.home.data_dir().join("journal").join("tenants")
    }

    /// The tenants whose journals the runs left, read from the files beside them.
    fn journaled_tenants(&self) -> Vec<TenantIdentity> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.tenants_dir()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tenant.json") {
                out.push(serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap());
            }
        }
        out
    }

    /// Nothing at all reached Synthesize beyond reading: no service, account or count.
    fn assert_nothing_sent(&self) {
        let h = self.sandbox.handle();
        assert!(h.accounts().is_empty(), "accounts were created");
        assert!(held_counts(&self.sandbox).is_empty(), "counts were posted");
        let writes: Vec<String> = h
            .synthesize_requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(writes.is_empty(), "sent: {writes:?}");
    }
}

/// Configurations of a counted type that have a company, from distinct companies, neither the
/// lowest nor the highest id (paging by id ranges reads those two ids first, and a server whose
/// edge id cannot be read fails the fetch as a whole).
fn counted_records_of_distinct_companies(sb: &Sandbox, n: usize) -> Vec<SandboxConfiguration> {
    let mut seen = BTreeSet::new();
    let all = sb.handle().configurations();
    let (low, high) = (
        all.iter().map(|c| c.id).min().unwrap(),
        all.iter().map(|c| c.id).max().unwrap(),
    );
    all.into_iter()
        .filter(|c| c.id != low && c.id != high)
        .filter(|c| {
            c.config_type.as_ref().and_then(|t| t.name.as_deref()) == Some(DEFAULT_TYPE_NAME)
        })
        .filter(|c| c.company.as_ref().is_some_and(|co| seen.insert(co.id)))
        .take(n)
        .collect()
}

fn company_of(record: &SandboxConfiguration) -> i64 {
    record.company.as_ref().unwrap().id
}

fn unreadable(sb: &Sandbox, records: BTreeMap<i64, UnreadableRecord>) {
    sb.handle().set_connectwise_behaviour(ConnectWiseBehaviour {
        unreadable_records: records,
        ..ConnectWiseBehaviour::default()
    });
}

// ------------------------------------------------------------------------ 1. completeness

#[test]
fn a_company_with_an_unreadable_record_is_held_and_never_posted() {
    let env = Env::small();
    let record = counted_records_of_distinct_companies(&env.sandbox, 1).remove(0);
    let held = company_of(&record);
    unreadable(
        &env.sandbox,
        BTreeMap::from([(record.id, UnreadableRecord::IdNotANumber)]),
    );

    let dry = env.run(&["sync", "--dry-run", "--json"]);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(plan["held"][0]["company_id"], held, "{plan}");
    assert!(
        plan["counts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["company_id"] != held)
    );

    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "held: company {held}: 1 configuration record could not be read"
        )),
        "{}",
        out.stderr
    );
    let posted = held_counts(&env.sandbox);
    assert!(
        !posted.keys().any(|(company, _)| *company == held),
        "the held company was posted: {posted:?}"
    );
    // Every other company got its counts.
    let others: BTreeSet<i64> = direct_default_count(&env.sandbox)
        .companies
        .iter()
        .map(|c| c.company_id)
        .filter(|id| *id != held)
        .collect();
    let posted_companies: BTreeSet<i64> = posted.keys().map(|(c, _)| *c).collect();
    assert_eq!(posted_companies, others);
    assert!(
        !env.sandbox
            .handle()
            .accounts()
            .iter()
            .any(|a| a.id == held.to_string()),
        "an account was created for the held company"
    );
}

#[test]
fn an_unreadable_record_without_its_company_sends_nothing_until_accepted() {
    let env = Env::small();
    let record = counted_records_of_distinct_companies(&env.sandbox, 1).remove(0);
    unreadable(
        &env.sandbox,
        BTreeMap::from([(record.id, UnreadableRecord::CompanyIdNotANumber)]),
    );

    for command in ["sync", "sync-usage"] {
        let out = env.run(&[command]);
        assert_eq!(out.code, Some(1), "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains("The preview is incomplete, so nothing was sent")
                && out.stderr.contains(&format!(
                    "1 configuration record could not be read and neither could its company (ids {})",
                    record.id
                ))
                && out.stderr.contains("--accept-incomplete"),
            "{command}: {}",
            out.stderr
        );
        env.assert_nothing_sent();
    }

    let out = env.run(&["sync", "--accept-incomplete"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!held_counts(&env.sandbox).is_empty());
}

#[test]
fn a_count_that_changes_during_the_fetch_sends_nothing() {
    let env = Env::small();
    env.sandbox
        .handle()
        .set_connectwise_behaviour(ConnectWiseBehaviour {
            configurations_added_after_first_page: 5,
            ..ConnectWiseBehaviour::default()
        });
    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ConnectWise's configuration count changed during the fetch (")
            && out.stderr.contains(" before, ")
            && !out.stderr.contains("configurations but")
            && out.stderr.contains("--accept-incomplete"),
        "{}",
        out.stderr
    );
    env.assert_nothing_sent();
}

#[test]
fn a_complete_preview_still_syncs_and_a_dry_run_says_what_would_stop_it() {
    let env = Env::small();
    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("incomplete"), "{}", out.stderr);

    let record = counted_records_of_distinct_companies(&env.sandbox, 1).remove(0);
    unreadable(
        &env.sandbox,
        BTreeMap::from([(record.id, UnreadableRecord::CompanyNotAnObject)]),
    );
    let out = env.run(&["sync-usage", "--dry-run"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: The preview is incomplete"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------------------ 2. journal precondition

#[test]
fn an_unwritable_journal_sends_nothing_and_names_the_path() {
    let env = Env::small();
    // The tenant's files exist from a first run; then the one beside the journal cannot be
    // written: a folder is in its place.
    let out = env.run(&["sync-services"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let tenant_file = std::fs::read_dir(env.tenants_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tenant.json"))
        .unwrap();
    std::fs::remove_file(&tenant_file).unwrap();
    std::fs::create_dir(&tenant_file).unwrap();
    env.sandbox.handle().clear_synthesize_requests();

    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("History file: could not write")
            && out.stderr.contains(&tenant_file.display().to_string())
            && out.stderr.contains("nothing was sent"),
        "{}",
        out.stderr
    );
    env.assert_nothing_sent();
}

#[test]
fn a_journal_write_failing_mid_run_stops_the_sending() {
    let env = Env::small();
    // Files may grow to 2 KiB at most and going past that is an error, not a signal: the
    // journal's first lines fit, the rest of the run's do not.
    let bin = assert_cmd::cargo::cargo_bin("cw-shared-devices");
    let mut cmd = env.home.cmd_no_color();
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 4; exec \"$0\" \"$@\"")
        .arg(&bin)
        .arg("sync")
        .args(url_args(&env.sandbox));
    let mut sh = Command::new("sh");
    sh.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    let out = run(sh);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: journal: History file: could not append to")
            && out.stderr.contains("sending stopped"),
        "{}",
        out.stderr
    );
    let expected_posts: usize = direct_default_count(&env.sandbox)
        .companies
        .iter()
        .map(|c| usize::from(c.shared_devices > 0) + usize::from(c.not_shared_devices > 0))
        .sum();
    assert!(
        held_counts(&env.sandbox).len() < expected_posts,
        "every count was sent although the journal could not record them"
    );
}

#[test]
fn unreadable_journal_lines_are_reported_with_their_companies() {
    let env = Env::small();
    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let journal = std::fs::read_dir(env.tenants_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let company = direct_default_count(&env.sandbox).companies[0].company_id;
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(&format!(
        "{{\"event\":\"count_result\",\"company_id\":{company},\"unit_co\n"
    ));
    std::fs::write(&journal, text).unwrap();

    let out = env.run(&["sync-usage", "--dry-run"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "1 history line could not be read; the last counts of company {company} are unknown"
        )) && out.stderr.contains(&format!(
            "last counts unknown (history lines could not be read) for companies {company}"
        )),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------- 3. tenant identity

#[test]
fn two_tenants_from_the_environment_alone_never_share_history() {
    let a = Env::small();
    let b = Env {
        sandbox: Sandbox::start_in_background(SandboxConfig {
            seed: 2,
            companies: 5,
            configurations: 60,
            ..SandboxConfig::default()
        })
        .unwrap(),
        home: Home::new(),
    };
    // One home for both runs, as with one cron user and one `.env` per tenant.
    let mut cmd = a.home.cmd_no_color();
    cmd.arg("sync").args(url_args(&a.sandbox));
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut cmd = a.home.cmd_no_color();
    cmd.arg("sync").args(url_args(&b.sandbox));
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // B holds exactly its own companies: none of A's became an account, none got a zero.
    let b_companies: BTreeSet<String> = direct_default_count(&b.sandbox)
        .companies
        .iter()
        .map(|c| c.company_id.to_string())
        .collect();
    let b_accounts: BTreeSet<String> = b
        .sandbox
        .handle()
        .accounts()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(b_accounts, b_companies);
    assert!(
        held_counts(&b.sandbox)
            .keys()
            .all(|(company, _)| b_companies.contains(&company.to_string())),
        "tenant B got counts for tenant A's companies"
    );
    let tenants = a.journaled_tenants();
    assert_eq!(tenants.len(), 2, "{tenants:?}");
    let urls: BTreeSet<&str> = tenants.iter().map(|t| t.synthesize_url.as_str()).collect();
    assert!(urls.contains(a.sandbox.synthesize_url().as_str().trim_end_matches('/')));
    assert!(urls.contains(b.sandbox.synthesize_url().as_str().trim_end_matches('/')));
}

// ---------------------------------------------------------------------------- 4. drop guard

#[test]
fn a_large_drop_sends_nothing_until_allowed_and_a_first_sync_is_not_guarded() {
    let env = Env::small();
    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(0), "first sync: {}", out.stderr);
    let before = held_counts(&env.sandbox);

    // Most companies lose their license configurations (a type renamed in ConnectWise).
    let keep: BTreeSet<i64> = counted_records_of_distinct_companies(&env.sandbox, 3)
        .iter()
        .map(company_of)
        .collect();
    let h = env.sandbox.handle();
    let changed: Vec<SandboxConfiguration> = h
        .configurations()
        .into_iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| keep.contains(&co.id)))
        .collect();
    h.replace_configurations(changed);
    h.clear_synthesize_requests();

    for command in ["sync", "sync-usage"] {
        let out = env.run(&[command]);
        assert_eq!(out.code, Some(1), "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains("Large drop, so nothing was sent")
                && out
                    .stderr
                    .contains("companies with devices would go to zero")
                && out.stderr.contains("--allow-large-drop"),
            "{command}: {}",
            out.stderr
        );
        assert_eq!(held_counts(&env.sandbox), before, "{command} sent counts");
    }

    let out = env.run(&["sync-usage", "--allow-large-drop"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let after = held_counts(&env.sandbox);
    assert!(
        after
            .iter()
            .filter(|((company, _), _)| !keep.contains(company))
            .all(|(_, n)| *n == 0),
        "{after:?}"
    );
}

// ----------------------------------------------------------------------- 5. missing accounts

#[test]
fn sync_usage_reports_counts_for_companies_without_an_account_in_those_words() {
    let env = Env::small();
    let out = env.run(&["sync-services"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    env.sandbox.handle().clear_synthesize_requests();

    let out = env.run(&["sync-usage"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let companies = direct_default_count(&env.sandbox).companies;
    assert!(
        out.stderr.contains(&format!("not sent, {NO_ACCOUNT_YET}"))
            && out.stderr.contains(&format!(
                "not sent: {} {}",
                companies[0].company_id, companies[0].company_name
            ))
            && out.stderr.contains(NO_ACCOUNT_YET),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("unmapped ("), "{}", out.stdout);
    assert!(
        held_counts(&env.sandbox).is_empty(),
        "counts went out blind"
    );
}

// ------------------------------------------------------------------------- 6. one run a time

#[test]
fn a_second_run_for_the_same_tenant_waits_then_exits_2_and_a_stale_lock_is_taken_over() {
    let env = Env::small();
    let out = env.run(&["sync-services"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let tenant = env.journaled_tenants().remove(0);

    let lock = RunLock::acquire(&env.dirs(), &tenant.journal_key(), Duration::ZERO).unwrap();
    let started = Instant::now();
    let out = run_within(
        env.cmd(&["sync-usage"]),
        Duration::from_secs(60),
        "the second run never gave up",
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "another run for this tenant is in progress (pid {})",
            std::process::id()
        )),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "it did not wait"
    );
    drop(lock);

    // A lock left by a process that is gone: its pid file stays, the OS lock does not.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let lock_dir = env.home.data_dir().join("locks");
    std::fs::write(
        lock_dir.join(format!("{}.pid", tenant.journal_key())),
        format!("{gone_pid}\n"),
    )
    .unwrap();
    let out = env.run(&["sync"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}
