//! What the command prints, run as a process: company names with escape sequences and bidi
//! controls cleaned in `sync`, the dry run and the plan; no colours on a stderr that is not a
//! terminal (nor on one with `TERM=dumb`); each error once; SIGTERM handled like Ctrl+C; the
//! last progress line saying where the fetch ended.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::command::{Home, run, url_args};
use common::hostile_server::{HostileServer, json, reply, wait_until};
use cw_shared_devices::sandbox::{Sandbox, SandboxConfig};
use cw_shared_devices::storage::Journal;
use cw_shared_devices::storage::journal::JournalEvent;

const EVIL_NAME: &str = "Evil\u{1b}[2J\u{1b}]0;pwned\u{7} Corp\u{202E}gpj.exe\u{9b}31m";

/// Gives one counted company the hostile name on all its configurations; returns its id.
fn rename_a_company(sandbox: &Sandbox) -> i64 {
    let handle = sandbox.handle();
    let configurations = handle.configurations();
    let company = configurations
        .iter()
        .find(|c| {
            c.config_type
                .as_ref()
                .is_some_and(|t| t.name.as_deref() == Some("License"))
        })
        .and_then(|c| c.company.as_ref())
        .map(|c| c.id)
        .unwrap();
    for c in configurations
        .iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| co.id == company))
    {
        handle.modify_configuration(c.id, |c| {
            if let Some(co) = c.company.as_mut() {
                co.name = EVIL_NAME.to_owned();
            }
        });
    }
    company
}

fn assert_nothing_a_terminal_acts_on(text: &str) {
    for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202E}'] {
        assert!(!text.contains(c), "{c:?} printed raw in: {text:?}");
    }
}

#[test]
fn company_names_are_printed_clean_by_sync_the_dry_run_and_the_plan() {
    let sandbox = Sandbox::start_in_background(SandboxConfig::default()).unwrap();
    let company = rename_a_company(&sandbox);
    let home = Home::new();
    let cleaned = "Evil\u{FFFD}[2J\u{FFFD}]0;pwned\u{FFFD} Corp\u{FFFD}gpj.exe\u{FFFD}31m";

    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox)).args(["sync", "--dry-run"]);
    let dry = run(cmd);
    assert_eq!(dry.code, Some(0), "{dry:?}");
    assert!(
        dry.stdout
            .contains(&format!("create account {company} {cleaned}")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&format!("post {company} {cleaned}")));
    assert_nothing_a_terminal_acts_on(&dry.stdout);
    assert_nothing_a_terminal_acts_on(&dry.stderr);

    // A real sync, then the company unmapped and dropped to zero: sync prints its row (the
    // unmapped line) and the plan lists it among the zeros.
    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox)).arg("sync");
    let first = run(cmd);
    assert_eq!(first.code, Some(0), "{first:?}");
    let handle = sandbox.handle();
    handle.set_account_unmapped(&company.to_string(), true);
    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox)).arg("sync");
    let second = run(cmd);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert!(second.stdout.contains(cleaned), "{}", second.stdout);
    assert_nothing_a_terminal_acts_on(&second.stdout);
    assert_nothing_a_terminal_acts_on(&second.stderr);

    for id in handle
        .configurations()
        .iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| co.id == company))
        .map(|c| c.id)
    {
        handle.remove_configuration(id);
    }
    handle.set_account_unmapped(&company.to_string(), false);
    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox))
        .args(["sync-usage", "--dry-run"]);
    let zeros = run(cmd);
    assert_eq!(zeros.code, Some(0), "{zeros:?}");
    let plan = zeros
        .stderr
        .lines()
        .find(|l| l.starts_with("Plan:"))
        .unwrap();
    assert!(plan.contains(cleaned), "{plan}");
    assert_nothing_a_terminal_acts_on(&zeros.stderr);
}

#[test]
fn no_colours_on_a_stderr_that_is_not_a_terminal() {
    // One 503 makes a retry warning: a log line on stderr, coloured when colours are on.
    let server = HostileServer::start(|_, i| {
        if i == 0 {
            json(503, r#"{"message":"busy"}"#)
        } else {
            reply(204, &[], "")
        }
    });
    let home = Home::new();
    let mut cmd = home.cmd();
    cmd.args(["--synthesize-url", &server.url(), "update-status", "active"]);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("retrying"), "{out:?}");
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
}

/// Runs the command on a pseudo-terminal through `script` (util-linux) and returns what the
/// terminal got; `None` where `script` is not installed.
fn on_a_terminal(home: &Home, server_url: &str, term: &str, no_color: bool) -> Option<String> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        return None;
    }
    let exe = assert_cmd::cargo::cargo_bin("cw-shared-devices");
    let line = format!(
        "{} --synthesize-url {server_url} update-status active",
        exe.display()
    );
    let cmd = home.cmd();
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    script.env("TERM", term).stdin(Stdio::null());
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script.output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn on_a_terminal_colours_follow_term_and_no_color() {
    // Every other request is refused once, so each run logs one retry warning.
    let server = HostileServer::start(|_, i| {
        if i % 2 == 0 {
            json(503, r#"{"message":"busy"}"#)
        } else {
            reply(204, &[], "")
        }
    });
    let home = Home::new();
    let Some(coloured) = on_a_terminal(&home, &server.url(), "xterm-256color", false) else {
        eprintln!("script(1) is not installed: skipped");
        return;
    };
    assert!(coloured.contains("retrying"), "{coloured:?}");
    assert!(
        coloured.contains('\u{1b}'),
        "colours are wanted here: {coloured:?}"
    );
    let dumb = on_a_terminal(&home, &server.url(), "dumb", false).unwrap();
    assert!(dumb.contains("retrying"), "{dumb:?}");
    assert!(!dumb.contains('\u{1b}'), "{dumb:?}");
    let no_color = on_a_terminal(&home, &server.url(), "xterm-256color", true).unwrap();
    assert!(no_color.contains("retrying"), "{no_color:?}");
    assert!(!no_color.contains('\u{1b}'), "{no_color:?}");
}

#[test]
fn each_error_is_printed_once_and_kept_in_the_log() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = Home::new();
    let mut cmd = home.cmd();
    cmd.args([
        "--synthesize-url",
        &format!("http://127.0.0.1:{port}"),
        "update-status",
        "active",
    ]);
    let out = run(cmd);
    assert_eq!(out.code, Some(1), "{out:?}");
    let mentions = out.stderr.matches("cannot reach Synthesize").count();
    assert_eq!(mentions, 1, "{}", out.stderr);
    assert!(!out.stderr.contains("run failed"), "{}", out.stderr);
    let log = std::fs::read_to_string(home.log_file()).unwrap();
    assert!(
        log.contains("run failed") && log.contains("cannot reach Synthesize"),
        "{log}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_sync_like_ctrl_c_with_the_journal_and_the_summary() {
    let sandbox = Sandbox::start_in_background(SandboxConfig {
        companies: 120,
        configurations: 2_000,
        ..SandboxConfig::default()
    })
    .unwrap();
    sandbox
        .handle()
        .synthesize_knobs()
        .set_latency(Duration::from_millis(30));
    let home = Home::new();
    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox))
        .arg("sync")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = wait_until(Duration::from_secs(60), || {
        home.tenant_journal()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .is_some_and(|t| t.matches("count_result").count() >= 10)
    });
    assert!(started, "the sync never got going");
    let journal_path = home.tenant_journal().unwrap();
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped_at = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("(cancelled)"), "{stdout}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let readout = Journal::at_path(&journal_path).read().unwrap();
    assert!(
        readout.events.iter().any(|e| matches!(
            e.event,
            JournalEvent::RunFinished {
                cancelled: true,
                ..
            }
        )),
        "no cancelled run in the journal"
    );
    let runs = Journal::at_path(&journal_path).runs().unwrap();
    assert_eq!(runs[0].status(), "cancelled");
}

#[test]
fn the_last_progress_line_says_where_the_fetch_ended() {
    let sandbox = Sandbox::start_in_background(SandboxConfig {
        companies: 50,
        configurations: 6_000,
        ..SandboxConfig::default()
    })
    .unwrap();
    let home = Home::new();
    let mut cmd = home.cmd();
    cmd.args(url_args(&sandbox)).args(["preview", "--json"]);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let read = json["configurations_read"].as_u64().unwrap();
    let last = out
        .stderr
        .lines()
        .rfind(|l| l.starts_with("Fetch"))
        .unwrap();
    assert!(
        last.starts_with("Fetched all configurations: ")
            && last.ends_with(&format!(", {read} configurations read")),
        "{last}"
    );
}
