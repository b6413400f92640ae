//! Notifications after a headless sync, the command run as a process against the sandbox with a
//! loopback webhook in the test: a partly done run posts the documented payload (tenant,
//! outcome, figures, the report's path), a failed one too; a successful run posts nothing
//! unless the profile asks; a webhook that answers 500 or never answers leaves the exit status
//! as it was. The URL comes through `CW_SHARED_DEVICES_NOTIFY_WEBHOOK` (the override of the
//! profile's keychain entry), so no keychain is needed; `set-secret` refuses a plain-http URL
//! without printing it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use cw_shared_devices::sandbox::{
    FaultKind, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, Sandbox, SandboxConfig, ScheduledFault,
};

use common::command::{Home, Run, assert_no_secret, run, run_within};
use common::hostile_server::{HostileServer, Reply, Request, json, wait_until};

const PROFILE: &str = "Acme EU";
const WEBHOOK_ENV: &str = "CW_SHARED_DEVICES_NOTIFY_WEBHOOK";

struct Rig {
    sandbox: Sandbox,
    home: Home,
    webhook: HostileServer,
}

impl Rig {
    fn new(reply: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Self {
        let rig = Self {
            sandbox: Sandbox::start_in_background(SandboxConfig::default()).unwrap(),
            home: Home::new(),
            webhook: HostileServer::start(reply),
        };
        let mut create = rig.home.bare_no_color();
        create
            .args([
                "profile",
                "create",
                PROFILE,
                "--company-id",
                SANDBOX_COMPANY_ID,
            ])
            .args(["--client-id", SANDBOX_CLIENT_ID])
            .args(["--cw-api-url", rig.sandbox.cw_api_url().as_str()])
            .args(["--synthesize-url", rig.sandbox.synthesize_url().as_str()]);
        let created = run(create);
        assert_eq!(created.code, Some(0), "{created:?}");
        rig
    }

    fn webhook_url(&self) -> String {
        format!("{}/hooks/T000/B000/secret-token-part", self.webhook.url())
    }

    /// The command for the profile, the sandbox's keys in its environment, the webhook set.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.cmd_no_color();
        cmd.env(WEBHOOK_ENV, self.webhook_url())
            .args(["--profile", PROFILE])
            .args(args);
        cmd
    }

    fn notify_settings(&self, args: &[&str]) {
        let mut cmd = self.home.bare_no_color();
        cmd.args(["profile", "notify", PROFILE]).args(args);
        let set = run(cmd);
        assert_eq!(set.code, Some(0), "{set:?}");
    }

    fn posts(&self) -> Vec<serde_json::Value> {
        self.webhook
            .requests()
            .iter()
            .map(|r| {
                assert_eq!(r.method, "POST");
                assert_eq!(r.path(), "/hooks/T000/B000/secret-token-part");
                assert_eq!(r.header("content-type"), Some("application/json"));
                serde_json::from_slice(&r.body).unwrap()
            })
            .collect()
    }

    fn fail_two_count_posts(&self) {
        let knobs = self.sandbox.handle().synthesize_knobs().clone();
        for _ in 0..2 {
            knobs.push_fault(ScheduledFault::path_prefix(
                FaultKind::Status(400),
                "/api/vendor-api/service/",
            ));
        }
    }
}

fn ok(_: &Request, _: usize) -> Reply {
    json(200, "{}")
}

fn assert_url_never_printed(r: &Run) {
    for text in [&r.stdout, &r.stderr] {
        assert!(
            !text.contains("secret-token-part"),
            "the webhook URL was printed: {text}"
        );
        assert_no_secret(text, "the output");
    }
}

#[test]
fn a_partly_done_run_posts_the_documented_payload() {
    let rig = Rig::new(ok);
    rig.fail_two_count_posts();
    let r = run(rig.cmd(&["sync"]));
    assert_eq!(r.code, Some(3), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("Notified the JSON webhook."),
        "{}",
        r.stderr
    );
    assert_url_never_printed(&r);
    let posts = rig.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let p = &posts[0];
    assert_eq!(p["product"], "cw-shared-devices");
    assert_eq!(p["command"], "sync");
    assert_eq!(p["outcome"], "partial");
    assert_eq!(p["exit_status"], 3);
    assert_eq!(p["tenant"]["profile"], PROFILE);
    assert_eq!(
        p["tenant"]["connectwise_company_id"],
        SANDBOX_COMPANY_ID.to_lowercase()
    );
    assert_eq!(
        p["tenant"]["synthesize_url"],
        rig.sandbox.synthesize_url().as_str().trim_end_matches('/')
    );
    assert_eq!(p["figures"]["failed"], 2, "{p}");
    assert!(p["figures"]["sent"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(p["figures"]["held"], 0, "{p}");
    assert!(p["run_id"].is_string(), "{p}");
    let report = std::path::PathBuf::from(p["report"].as_str().unwrap());
    assert!(
        report.starts_with(rig.home.data_dir().join("reports")),
        "{report:?}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html"), "{report:?}");
    chrono::DateTime::parse_from_rfc3339(p["finished_at"].as_str().unwrap()).unwrap();
}

#[test]
fn a_failed_run_is_notified_and_a_success_only_when_asked() {
    let rig = Rig::new(ok);
    // Success: nothing posted by default.
    let r = run(rig.cmd(&["sync"]));
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(rig.posts().is_empty(), "{:?}", rig.posts());
    // A dry run is never notified.
    let mut cmd = rig.cmd(&["sync", "--dry-run"]);
    cmd.env("CW_PRIVATE_KEY", "wrong-private-key");
    assert_eq!(run(cmd).code, Some(1));
    assert!(rig.posts().is_empty(), "{:?}", rig.posts());
    // Failed: wrong ConnectWise keys.
    let mut cmd = rig.cmd(&["sync-usage"]);
    cmd.env("CW_PRIVATE_KEY", "wrong-private-key");
    let r = run(cmd);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert_url_never_printed(&r);
    let posts = rig.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["outcome"], "failed");
    assert_eq!(posts[0]["command"], "sync-usage");
    assert_eq!(posts[0]["exit_status"], 1);
    assert!(
        posts[0]["message"].as_str().unwrap().len() > 10,
        "{}",
        posts[0]
    );
    assert!(posts[0]["figures"].is_null(), "{}", posts[0]);
    // Asked for: a success is posted, as Slack text.
    rig.notify_settings(&["--kind", "slack", "--on-success"]);
    let r = run(rig.cmd(&["sync"]));
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let posts = rig.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let text = posts[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "*cw-shared-devices: sync of \"{PROFILE}\" done (exit 0)*"
        )),
        "{text}"
    );
    assert!(text.contains("Report: "), "{text}");
    // And back to failures only.
    rig.notify_settings(&["--failures-only"]);
    assert_eq!(run(rig.cmd(&["sync"])).code, Some(0));
    assert_eq!(rig.posts().len(), 2);
}

#[test]
fn a_webhook_that_fails_or_hangs_leaves_the_exit_status_as_it_was() {
    for (what, reply) in [
        ("answers 500", json(500, r#"{"error":"down"}"#)),
        ("never answers", Reply::Silence),
    ] {
        let rig = Rig::new(move |_, _| reply.clone());
        rig.fail_two_count_posts();
        let r = run_within(
            rig.cmd(&["sync"]),
            Duration::from_secs(120),
            &format!("a webhook that {what} held up the run"),
        );
        assert_eq!(r.code, Some(3), "{what}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("warning: notification not sent: the webhook at 127.0.0.1:"),
            "{what}: {}",
            r.stderr
        );
        assert_url_never_printed(&r);
        assert!(
            wait_until(Duration::from_secs(5), || rig.webhook.requests().len() == 1),
            "{what}"
        );
        // Success asked for, webhook failing: still 0.
        rig.notify_settings(&["--on-success"]);
        let r = run_within(rig.cmd(&["sync"]), Duration::from_secs(120), what);
        assert_eq!(r.code, Some(0), "{what}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("warning: notification not sent"),
            "{what}: {}",
            r.stderr
        );
        let log = std::fs::read_to_string(rig.home.log_file()).unwrap();
        assert!(log.contains("notification not sent"), "{what}: not logged");
        assert!(
            !log.contains("secret-token-part"),
            "{what}: the URL is in the log"
        );
    }
}

#[test]
fn a_plain_http_webhook_is_refused_without_printing_it() {
    let home = Home::new();
    let mut create = home.bare_no_color();
    create.args(["profile", "create", PROFILE]);
    assert_eq!(run(create).code, Some(0));
    let mut set = home.bare_no_color();
    set.args(["profile", "set-secret", PROFILE, "notify-webhook"])
        .stdin(std::process::Stdio::piped());
    let mut child = set
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"http://hooks.example.com/services/secret-token-part\n")
            .unwrap();
    }
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr
            .contains("Notification webhook URL: hooks.example.com uses plain http://"),
        "{}",
        r.stderr
    );
    assert_url_never_printed(&r);
    // And a bad kind names the flag.
    let mut kind = home.bare_no_color();
    kind.args(["profile", "notify", PROFILE, "--kind", "email"]);
    let r = run(kind);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr
            .contains("--kind: \"email\" is not one of json, teams, slack"),
        "{}",
        r.stderr
    );
}
