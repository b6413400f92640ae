//! The headless command run as a process against the sandbox: each subcommand's results and
//! exit status, environment overrides, the http refusal, profiles through a real keychain, a
//! sync killed mid-run and resumed, and no secret in any output, log or written file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::sandbox::{
    FaultKind, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, SandboxConfig, ScheduledFault,
};
use cw_shared_devices::storage::Journal;
use cw_shared_devices::storage::journal::{CountOutcome, JournalEvent};

use common::command::{SandboxHome, assert_no_secret, run, url_args};
use common::keychain;
use common::tenant::{direct_default_count, held_counts};

type Env = SandboxHome;

/// This file's views of the rig: the command without the sandbox's URLs, which these tests
/// place themselves (before or after the subcommand, or not at all).
impl SandboxHome {
    /// The command with private config/data folders and no credentials in its environment.
    fn bare(&self) -> Command {
        self.home.bare_no_color()
    }

    /// The command with the six variables set to the sandbox's credentials.
    fn with_credentials(&self) -> Command {
        self.home.cmd_no_color()
    }

    fn urls(&self) -> [String; 4] {
        url_args(&self.sandbox)
    }

    fn data_dir(&self) -> PathBuf {
        self.home.data_dir()
    }

    fn expected_counts(&self) -> cw_shared_devices::domain::counting::CountingResult {
        direct_default_count(&self.sandbox)
    }
}

fn assert_no_secret_in_files(env: &Env) {
    for file in env.home.written_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert_no_secret(&text, &file.display().to_string());
    }
}

#[test]
fn preview_prints_the_table_json_and_csv_exactly_as_counted() {
    let env = Env::new(SandboxConfig::default());
    let expected = env.expected_counts();

    let mut cmd = env.with_credentials();
    cmd.arg("preview").args(env.urls());
    let table = run(cmd);
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        table.stdout.starts_with("Company ID  Company"),
        "{}",
        table.stdout
    );
    let (s, n, t) = expected.totals();
    let totals = table.stdout.lines().last().unwrap().to_owned();
    let numbers: Vec<u64> = totals
        .split_whitespace()
        .rev()
        .take(3)
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(numbers, vec![t, n, s], "{totals}");
    assert!(
        table
            .stderr
            .contains("Counts configurations whose type is \"License\"")
    );

    // --json, with the flags after the subcommand or before it.
    let mut cmd = env.with_credentials();
    cmd.args(env.urls()).args(["preview", "--json"]);
    let json = run(cmd);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let companies = value["companies"].as_array().unwrap();
    assert_eq!(companies.len(), expected.companies.len());
    for row in companies {
        let id = row["company_id"].as_i64().unwrap();
        let want = expected
            .companies
            .iter()
            .find(|c| c.company_id == id)
            .unwrap();
        assert_eq!(row["shared_devices"].as_u64().unwrap(), want.shared_devices);
        assert_eq!(
            row["not_shared_devices"].as_u64().unwrap(),
            want.not_shared_devices
        );
        assert_eq!(row["company_name"].as_str().unwrap(), want.company_name);
    }
    assert_eq!(value["totals"]["total_devices"].as_u64().unwrap(), t);

    let csv_path = env.home.path().join("out").join("counts.csv");
    std::fs::create_dir_all(csv_path.parent().unwrap()).unwrap();
    let mut cmd = env.with_credentials();
    cmd.arg("preview")
        .arg("--csv")
        .arg(&csv_path)
        .arg("--semicolon")
        .args(env.urls());
    let csv = run(cmd);
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.starts_with(
        "company_id;company_name;shared_devices;not_shared_devices;total_devices\r\n"
    ));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    assert_eq!(reader.records().count(), expected.companies.len());

    for r in [&table, &json, &csv] {
        assert_no_secret(&r.stdout, "stdout");
        assert_no_secret(&r.stderr, "stderr");
    }
    assert_no_secret_in_files(&env);
    let log =
        std::fs::read_to_string(env.data_dir().join("logs").join("cw-shared-devices.log")).unwrap();
    assert!(log.contains("run ended"), "{log}");
}

#[test]
fn usage_and_configuration_errors_exit_2_with_the_field_named() {
    let env = Env::new(SandboxConfig::default());
    // Not every variable and no profile.
    let mut cmd = env.bare();
    cmd.arg("preview")
        .args(env.urls())
        .env("CW_PUBLIC_KEY", "x");
    let r = run(cmd);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("--profile NAME") && r.stderr.contains("CW_PRIVATE_KEY"),
        "{}",
        r.stderr
    );

    // Plain http to a remote host is refused before anything is sent.
    let mut cmd = env.with_credentials();
    cmd.args(["preview", "--cw-url", "http://cw.example.com"]);
    let r = run(cmd);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("--cw-url") && r.stderr.contains("unencrypted"),
        "{}",
        r.stderr
    );

    let mut cmd = env.with_credentials();
    cmd.args(["preview", "--bogus-flag"]);
    assert_eq!(run(cmd).code, Some(2));

    let mut cmd = env.with_credentials();
    cmd.args(["update-status", "paused"]).args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("STATUS"), "{}", r.stderr);

    let mut cmd = env.with_credentials();
    cmd.args(["preview", "--profile", "nope"]).args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--profile"), "{}", r.stderr);
}

#[test]
fn wrong_keys_fail_with_exit_1_and_the_credentials_message() {
    let env = Env::new(SandboxConfig::default());
    let mut cmd = env.with_credentials();
    cmd.env("CW_PRIVATE_KEY", "not-the-key")
        .arg("authenticate")
        .args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("ConnectWise: FAILED") && r.stdout.contains("public and private keys")
    );
    assert!(r.stdout.contains("Synthesize: OK"));
    assert!(!r.stdout.contains("not-the-key") && !r.stderr.contains("not-the-key"));

    let mut cmd = env.with_credentials();
    cmd.arg("authenticate").args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ConnectWise: OK") && r.stdout.contains("Synthesize: OK"));
}

/// Each of the two services exists exactly once (the sandbox may hold other vendors' services).
fn assert_our_services_once(env: &Env) {
    let services = env.sandbox.handle().services();
    for kind in ServiceKind::ALL {
        let n = services
            .iter()
            .filter(|s| s.name == kind.service_name())
            .count();
        assert_eq!(n, 1, "{} exists {n} times", kind.service_name());
    }
}

fn sent_counts(env: &Env) -> Vec<(i64, ServiceKind, u64)> {
    held_counts(&env.sandbox)
        .into_iter()
        .map(|((company, kind), count)| (company, kind, count))
        .collect()
}

fn expected_posts(env: &Env) -> Vec<(i64, ServiceKind, u64)> {
    let mut out = Vec::new();
    for c in env.expected_counts().companies {
        for kind in ServiceKind::ALL {
            let n = kind.count_in(&c);
            if n > 0 {
                out.push((c.company_id, kind, n));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sync_lands_every_count_and_a_second_run_creates_nothing() {
    let env = Env::new(SandboxConfig::default());
    let mut cmd = env.with_credentials();
    cmd.args(["sync", "--dry-run"]).args(env.urls());
    let dry = run(cmd);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert!(
        dry.stdout.starts_with("Dry run: nothing was sent."),
        "{}",
        dry.stdout
    );
    assert!(
        env.sandbox.handle().accounts().is_empty(),
        "a dry run sent something"
    );
    assert!(sent_counts(&env).is_empty());

    let mut cmd = env.with_credentials();
    cmd.args(["sync", "--json"]).args(env.urls());
    let first = run(cmd);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let report: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(report["services_created"], 2);
    assert_eq!(report["failed"], 0);
    assert_eq!(sent_counts(&env), expected_posts(&env));
    let accounts = env.sandbox.handle().accounts().len();
    assert_eq!(accounts, env.expected_counts().companies.len());

    let mut cmd = env.with_credentials();
    cmd.args(["sync", "--json"]).args(env.urls());
    let second = run(cmd);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let report: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(report["services_created"], 0);
    assert_eq!(report["accounts_created"], 0);
    assert_eq!(report["sent"], expected_posts(&env).len());
    assert_our_services_once(&env);
    assert_eq!(env.sandbox.handle().accounts().len(), accounts);
    assert_no_secret(&first.stdout, "stdout");
    assert_no_secret(&first.stderr, "stderr");
    assert_no_secret_in_files(&env);
}

#[test]
fn some_rows_failing_exits_3_and_the_rest_are_sent() {
    let env = Env::new(SandboxConfig::default());
    let mut cmd = env.with_credentials();
    cmd.arg("sync-services").args(env.urls());
    assert_eq!(run(cmd).code, Some(0));
    let mut cmd = env.with_credentials();
    cmd.arg("sync-accounts").args(env.urls());
    assert_eq!(run(cmd).code, Some(0));
    // Two count posts answer 400: not retried, reported as failed.
    let knobs = env.sandbox.handle().synthesize_knobs().clone();
    for _ in 0..2 {
        knobs.push_fault(ScheduledFault::path_prefix(
            FaultKind::Status(400),
            "/api/vendor-api/service/",
        ));
    }
    let mut cmd = env.with_credentials();
    cmd.arg("sync-usage").args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(3), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("failed: 2"), "{}", r.stdout);
    assert_eq!(
        r.stdout
            .matches("FAILED: Synthesize answered HTTP 400")
            .count(),
        2,
        "{}",
        r.stdout
    );
    assert_eq!(sent_counts(&env).len(), expected_posts(&env).len() - 2);

    // Unmapped accounts are reported as unmapped, not failed: exit 0.
    let some = env.expected_counts().companies[0].company_id.to_string();
    env.sandbox.handle().set_account_unmapped(&some, true);
    let mut cmd = env.with_credentials();
    cmd.arg("sync-usage").args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("unmapped (No account map found"),
        "{}",
        r.stdout
    );
}

#[test]
fn environment_variables_override_the_profile() {
    let env = Env::new(SandboxConfig::default());
    // A profile with a wrong company id, pointing at the sandbox.
    let mut cmd = env.bare();
    cmd.args([
        "profile",
        "create",
        "Tenant A",
        "--company-id",
        "wrong",
        "--client-id",
        "x",
    ])
    .args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let mut cmd = env.bare();
    cmd.args(["profile", "list"]);
    assert_eq!(run(cmd).stdout.trim(), "Tenant A");

    // All four keys and both ids from the environment: the profile's wrong id is overridden,
    // and the keychain is never needed.
    let mut cmd = env.with_credentials();
    cmd.args(["preview", "--json", "--profile", "Tenant A"]);
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    // Without the override, the profile's wrong company id is what is used.
    let mut cmd = env.with_credentials();
    cmd.env_remove("CW_COMPANY_ID")
        .args(["preview", "--profile", "Tenant A"]);
    let r = run(cmd);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("\"wrong\""), "{}", r.stderr);
    assert_no_secret_in_files(&env);
    let profile = std::fs::read_to_string(
        env.home
            .path()
            .join("config/cw-shared-devices/profiles/Tenant A.json"),
    )
    .unwrap_or_default();
    assert_no_secret(&profile, "the profile file");
}

/// A sync killed with SIGKILL mid-run leaves a journal that reads back; the next run completes
/// the rest and the final state is exact.
#[cfg(unix)]
#[test]
fn a_sync_killed_mid_run_resumes_to_the_exact_state() {
    let env = Env::new(SandboxConfig {
        companies: 120,
        configurations: 2_000,
        ..SandboxConfig::default()
    });
    env.sandbox
        .handle()
        .synthesize_knobs()
        .set_latency(Duration::from_millis(30));
    let mut cmd = env.with_credentials();
    cmd.arg("sync")
        .args(env.urls())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let journal_path = loop {
        let path = env.home.tenant_journal();
        let lines = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.matches("count_result").count())
            .unwrap_or(0);
        if lines >= 20
            && let Some(path) = path
        {
            break path;
        }
        assert!(Instant::now() < deadline, "the sync never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();

    let journal = Journal::at_path(&journal_path);
    let readout = journal.read().unwrap();
    let results: Vec<_> = readout
        .events
        .iter()
        .filter_map(|e| match &e.event {
            JournalEvent::CountResult {
                company_id,
                service,
                unit_count,
                outcome,
                ..
            } => Some((*company_id, *service, *unit_count, outcome.clone())),
            _ => None,
        })
        .collect();
    assert!(results.len() >= 20);
    assert!(
        !readout
            .events
            .iter()
            .any(|e| matches!(e.event, JournalEvent::RunFinished { .. }))
    );
    // Every journaled post is in the sandbox.
    let sent = sent_counts(&env);
    for (company, service, count, outcome) in &results {
        assert_eq!(*outcome, CountOutcome::Sent);
        assert!(sent.contains(&(*company, *service, *count)));
    }
    assert!(
        sent.len() < expected_posts(&env).len(),
        "the kill came too late to test anything"
    );
    let runs = journal.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status(), "cut off");

    let mut cmd = env.with_credentials();
    cmd.arg("sync").args(env.urls());
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(sent_counts(&env), expected_posts(&env));
    assert_our_services_once(&env);
    let runs = journal.runs().unwrap();
    assert_eq!(runs.len(), 2);
    let finished: Vec<_> = runs.iter().filter(|r| r.status() != "cut off").collect();
    assert_eq!(finished.len(), 1, "{runs:?}");
    assert_eq!(finished[0].sent as usize, expected_posts(&env).len());
}

/// The profile commands round trip with a real Secret Service (GNOME Keyring in a private D-Bus
/// session); skipped with a notice only where `dbus-run-session` is not installed.
#[cfg(unix)]
#[test]
fn profile_commands_round_trip_through_a_real_keychain() {
    if !keychain::session_available() {
        eprintln!("SKIPPED: dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let env = Env::new(SandboxConfig::default());
    let bin = assert_cmd::cargo::cargo_bin("cw-shared-devices");
    let runtime = keychain::private_runtime_dir(env.home.path());
    let site = env.sandbox.cw_site_url().to_string();
    let synth = env.sandbox.synthesize_url().to_string();
    let script = format!(
        r#"set -e
echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
B="{bin}"
"$B" profile create "Tenant B" --company-id {company} --client-id {client} --cw-url "{site}" --synthesize-url "{synth}"
printf '%s\n' "{public}" | "$B" profile set-secret "Tenant B" cw-public-key
printf '%s' "{private}" | "$B" profile set-secret "Tenant B" cw-private-key
printf '%s\n' "{vendor}" | "$B" profile set-secret "Tenant B" synthesize-vendor-key
echo "--- show"
"$B" profile show "Tenant B"
printf '%s\n' "{partner}" | "$B" profile set-secret "Tenant B" synthesize-partner-key
echo "--- preview"
"$B" --profile "Tenant B" preview --json > "{home}/preview.json"
echo "preview exit $?"
"$B" --profile "Tenant B" authenticate
"$B" profile delete "Tenant B"
echo "--- list"
"$B" profile list
"#,
        bin = bin.display(),
        company = SANDBOX_COMPANY_ID,
        client = SANDBOX_CLIENT_ID,
        public = SANDBOX_PUBLIC_KEY,
        private = SANDBOX_PRIVATE_KEY,
        vendor = SANDBOX_VENDOR_API_KEY,
        partner = SANDBOX_PARTNER_API_KEY,
        home = env.home.path().display(),
    );
    let mut cmd = env.bare();
    cmd.env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .args(["--"])
        .arg("sh")
        .arg("-c")
        .arg(&script);
    // `bare()` set the program to the command; run the script under dbus-run-session instead.
    let mut session = Command::new("dbus-run-session");
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => session.env(k, v),
            None => session.env_remove(k),
        };
    }
    session.args(cmd.get_args()).stdin(Stdio::null());
    let r = run(session);
    assert_eq!(
        r.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    let show = r.stdout.split("--- show").nth(1).unwrap();
    assert!(
        show.contains("Company ID:                  sandbox"),
        "{show}"
    );
    assert!(
        show.contains("ConnectWise public key:      set") || show.contains("public key:"),
        "{show}"
    );
    assert!(
        show.matches(" set\n").count() == 3 && show.contains(" unset\n"),
        "{show}"
    );
    assert!(r.stdout.contains("preview exit 0"));
    assert!(
        r.stdout.contains("ConnectWise: OK") && r.stdout.contains("Synthesize: OK"),
        "{}",
        r.stdout
    );
    let list = r.stdout.split("--- list").nth(1).unwrap();
    assert!(!list.contains("Tenant B"));
    let preview: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.path().join("preview.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        preview["companies"].as_array().unwrap().len(),
        env.expected_counts().companies.len()
    );
    assert_no_secret(&r.stdout, "stdout");
    assert_no_secret(&r.stderr, "stderr");
    // The keyring files hold the secrets (encrypted); every other file must not.
    for file in env.home.written_files() {
        if file.components().any(|c| c.as_os_str() == "keyrings") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert_no_secret(&text, &file.display().to_string());
    }
}
