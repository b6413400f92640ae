//! The command as a process against hostile or merely unusual servers on 127.0.0.1: redirects to
//! other origins and in loops, `::ffff:` loopback, credentials in URLs, endless and oversized
//! bodies, requests that cannot be built, silence, closed ports, 429s without `Retry-After`,
//! `Retry-After` dates and HTML error pages. Each case is what one HTTP layer
//! (`api::http`) must hold for both clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::command::{Home, Run, run};
use common::hostile_server::{HostileServer, Reply, json, redirect, reply};
use cw_shared_devices::sandbox::{FaultKind, Sandbox, SandboxConfig, ScheduledFault};

const STATUS_PATH: &str = "/api/vendor-api/organization/status/active";

/// `update-status active` against `synthesize_url`: one Synthesize request, nothing else.
fn update_status(home: &Home, synthesize_url: &str) -> Run {
    let mut cmd = home.cmd();
    cmd.args([
        "--synthesize-url",
        synthesize_url,
        "update-status",
        "active",
    ]);
    run(cmd)
}

fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

#[test]
fn a_redirect_to_another_origin_is_refused_and_no_key_or_id_crosses() {
    let elsewhere = HostileServer::start(|_, _| reply(204, &[], ""));
    let target = elsewhere.url();
    let home = Home::new();

    // Synthesize: GRADIENT-TOKEN must not reach the other origin.
    let to = format!("{target}{STATUS_PATH}");
    let synthesize = HostileServer::start(move |_, _| redirect(307, &to));
    let out = update_status(&home, &synthesize.url());
    assert_eq!(out.code, Some(1), "{out:?}");
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(
        errors[0].contains("another address") && errors[0].contains(&elsewhere.addr.to_string()),
        "{out:?}"
    );

    // ConnectWise: neither Authorization nor clientId, for a 302 to plain http elsewhere.
    let to = format!("{target}/v4_6_release/apis/3.0/company/configurations");
    let connectwise = HostileServer::start(move |_, _| redirect(302, &to));
    let mut cmd = home.cmd();
    cmd.args([
        "--cw-api-url",
        &format!("{}/v4_6_release/apis/3.0", connectwise.url()),
    ])
    .arg("preview");
    let out = run(cmd);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("another address"), "{out:?}");

    assert!(
        elsewhere.requests().is_empty(),
        "the other origin was reached: {:?}",
        elsewhere.requests()
    );
    // Refusals are not retried: one request per call the command made.
    assert_eq!(synthesize.requests().len(), 1);
}

#[test]
fn a_same_origin_redirect_is_followed_with_its_headers() {
    let server = HostileServer::start(|request, _| {
        if request.path() == "/moved" {
            reply(204, &[], "")
        } else {
            redirect(307, "/moved")
        }
    });
    let home = Home::new();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(0), "{out:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path(), "/moved");
    assert_eq!(requests[1].method, "PATCH");
    assert!(requests[1].header("gradient-token").is_some());
}

#[test]
fn ipv4_mapped_loopback_is_loopback_for_the_url_and_for_redirects() {
    let home = Home::new();
    // The URL check: `::ffff:127.0.0.1` is this machine, so plain http is fine.
    let server = HostileServer::start(|request, _| {
        if request.path() == "/moved" {
            reply(204, &[], "")
        } else {
            redirect(307, "/moved")
        }
    });
    let mapped = format!("http://[::ffff:127.0.0.1]:{}", server.addr.port());
    let out = update_status(&home, &mapped);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        server.requests().len(),
        2,
        "the same-origin redirect is followed"
    );

    // A redirect there on another port is another origin, whatever the spelling.
    let elsewhere = HostileServer::start(|_, _| reply(204, &[], ""));
    let to = format!(
        "http://[::ffff:127.0.0.1]:{}{STATUS_PATH}",
        elsewhere.addr.port()
    );
    let server = HostileServer::start(move |_, _| redirect(308, &to));
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(elsewhere.requests().is_empty());

    // The same port under its mapped spelling is the same origin: followed.
    let server = HostileServer::start(|request, _| {
        if request.path() == "/moved" {
            reply(204, &[], "")
        } else {
            let host = request.header("host").unwrap_or_default().to_owned();
            let port = host.rsplit(':').next().unwrap_or_default().to_owned();
            redirect(307, &format!("http://[::ffff:127.0.0.1]:{port}/moved"))
        }
    });
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_redirect_loop_ends_at_once_and_is_named() {
    let server = HostileServer::start(|request, _| {
        if request.path() == "/a" {
            redirect(302, "/b")
        } else {
            redirect(302, "/a")
        }
    });
    let home = Home::new();
    let started = Instant::now();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("redirect loop"), "{out:?}");
    assert!(!out.stderr.contains("cannot reach"), "{out:?}");
    assert!(
        server.requests().len() <= 7,
        "{} requests: the loop was retried",
        server.requests().len()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn credentials_in_urls_are_refused_with_exit_2_and_never_printed_logged_or_stored() {
    const PASSWORD: &str = "pa55word-in-url";
    let server = HostileServer::start(|_, _| reply(204, &[], ""));
    let home = Home::new();
    let with_password = format!("http://user:{PASSWORD}@{}", server.addr);

    let out = update_status(&home, &with_password);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("user name or password"), "{out:?}");

    let mut cmd = home.cmd();
    cmd.args(["--cw-url", &with_password, "preview"]);
    let preview = run(cmd);
    assert_eq!(preview.code, Some(2), "{preview:?}");

    for flag in ["--cw-url", "--cw-api-url", "--synthesize-url"] {
        let mut cmd = home.bare();
        cmd.args([
            flag,
            &format!("https://user:{PASSWORD}@cw.example.com"),
            "profile",
            "create",
            "Stored",
            "--company-id",
            "acme",
        ]);
        let create = run(cmd);
        assert_eq!(create.code, Some(2), "{flag}: {create:?}");
        assert!(!create.stderr.contains(PASSWORD), "{create:?}");
    }

    assert!(server.requests().is_empty(), "{:?}", server.requests());
    for text in [&out.stdout, &out.stderr, &preview.stdout, &preview.stderr] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
    // Nothing written anywhere under the home holds it (profiles, log, journal).
    let mut stack = vec![home.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                assert!(!text.contains(PASSWORD), "{} holds it", path.display());
            }
        }
    }
    assert!(
        !home
            .config_dir()
            .join("profiles")
            .join("Stored.json")
            .exists()
    );
}

/// A run whose memory is watched: the peak resident size (VmHWM) read from /proc while it runs.
struct Measured {
    run: Run,
    peak_rss_mb: u64,
    elapsed: Duration,
}

fn run_measured(mut cmd: std::process::Command, deadline: Duration) -> Measured {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).ok();
        s
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            child.kill().ok();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Measured {
        run: Run {
            code: status.code(),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
        peak_rss_mb: peak_kb / 1024,
        elapsed: started.elapsed(),
    }
}

fn preview_against(home: &Home, server: &HostileServer) -> std::process::Command {
    let mut cmd = home.cmd();
    cmd.args([
        "--cw-api-url",
        &format!("{}/v4_6_release/apis/3.0", server.url()),
        "preview",
    ]);
    cmd
}

#[test]
fn endless_and_oversized_bodies_stop_at_the_cap_with_memory_bounded() {
    let home = Home::new();
    // No length, never ending: read up to the cap, then refused (not retried).
    let endless = HostileServer::start(|_, _| Reply::Endless {
        head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close".into(),
    });
    let m = run_measured(preview_against(&home, &endless), Duration::from_secs(60));
    assert_eq!(m.run.code, Some(1), "{:?}", m.run);
    assert!(m.run.stderr.contains("more than 32 MB"), "{:?}", m.run);
    assert!(m.peak_rss_mb < 200, "peak {} MB", m.peak_rss_mb);
    assert!(m.elapsed < Duration::from_secs(30), "{:?}", m.elapsed);
    // Three calls start together (count, lowest id, highest id); none is retried.
    assert!(
        endless.requests().len() <= 3,
        "{}",
        endless.requests().len()
    );

    // A declared 200 MB answer is refused without reading it.
    let declared = HostileServer::start(|_, _| Reply::Endless {
        head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 209715200"
            .into(),
    });
    let m = run_measured(preview_against(&home, &declared), Duration::from_secs(60));
    assert_eq!(m.run.code, Some(1), "{:?}", m.run);
    assert!(m.run.stderr.contains("more than 32 MB"), "{:?}", m.run);
    assert!(m.peak_rss_mb < 100, "peak {} MB", m.peak_rss_mb);

    // An error answer with an endless body: its message is read from the start, the rest never.
    let error = HostileServer::start(|_, _| Reply::Endless {
        head: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close".into(),
    });
    let m = run_measured(preview_against(&home, &error), Duration::from_secs(60));
    assert_eq!(m.run.code, Some(1), "{:?}", m.run);
    let errors = error_lines(&m.run);
    assert_eq!(errors.len(), 1, "{:?}", m.run);
    assert!(errors[0].contains("HTTP 400: xxxx"), "{:?}", m.run);
    assert!(errors[0].len() < 500, "{}", errors[0]);
    assert!(m.peak_rss_mb < 100, "peak {} MB", m.peak_rss_mb);
    assert!(m.elapsed < Duration::from_secs(30), "{:?}", m.elapsed);
}

#[test]
fn a_request_that_cannot_be_built_is_not_retried_and_says_so() {
    let server = HostileServer::start(|_, _| json(200, "{}"));
    let home = Home::new();
    let mut cmd = home.cmd();
    cmd.env("CW_COMPANY_ID", "c".repeat(120 * 1024))
        .args(["--cw-url", &server.url(), "preview"]);
    let started = Instant::now();
    let out = run(cmd);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("could not be built"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(!out.stderr.contains("cannot reach"));
    assert!(!out.stderr.contains("retrying"));
    assert!(server.requests().is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_server_that_never_answers_costs_two_deadlines_not_seven() {
    let server = HostileServer::start(|_, _| Reply::Silence);
    let home = Home::new();
    let started = Instant::now();
    let out = update_status(&home, &server.url());
    let elapsed = started.elapsed();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("did not answer in time after 2 attempts"),
        "{out:?}"
    );
    assert_eq!(server.requests().len(), 2);
    // Two 30 s deadlines and one short backoff: about a minute, not 7 × 30 s.
    assert!(elapsed < Duration::from_secs(75), "{elapsed:?}");
}

#[test]
fn a_closed_port_fails_within_seconds_naming_host_and_port() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let home = Home::new();
    let started = Instant::now();
    let out = update_status(&home, &format!("http://127.0.0.1:{port}"));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot reach Synthesize at 127.0.0.1:{port}")),
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn retry_warnings_keep_the_port() {
    // Synthesize: one 503, then fine.
    let server = HostileServer::start(|_, i| {
        if i == 0 {
            json(503, r#"{"message":"busy"}"#)
        } else {
            reply(204, &[], "")
        }
    });
    let home = Home::new();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(0), "{out:?}");
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("retrying Synthesize request"))
        .unwrap_or_else(|| panic!("no retry warning: {out:?}"));
    assert!(warning.contains(&server.addr.to_string()), "{warning}");

    // ConnectWise, against the sandbox: one 503 on the first request.
    let sandbox = Sandbox::start_in_background(SandboxConfig::default()).unwrap();
    sandbox
        .handle()
        .connectwise_knobs()
        .push_fault(ScheduledFault::next_request(FaultKind::Status(503)));
    let mut cmd = home.cmd();
    cmd.args(["--cw-url", sandbox.cw_site_url().as_str(), "preview"]);
    let out = run(cmd);
    assert_eq!(out.code, Some(0), "{out:?}");
    let port = sandbox.cw_site_url().port().unwrap();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("retrying ConnectWise request"))
        .unwrap_or_else(|| panic!("no retry warning: {out:?}"));
    assert!(warning.contains(&format!("127.0.0.1:{port}")), "{warning}");
}

#[test]
fn a_429_without_retry_after_backs_off_on_its_own() {
    let server = HostileServer::start(|_, i| {
        if i < 2 {
            json(429, r#"{"message":"Too Many Requests"}"#)
        } else {
            reply(204, &[], "")
        }
    });
    let home = Home::new();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(0), "{out:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
    }
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let server = HostileServer::start(|_, i| {
        if i == 0 {
            let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
            reply(503, &[("Retry-After", &when)], "")
        } else {
            reply(204, &[], "")
        }
    });
    let home = Home::new();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(0), "{out:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    // The date has whole seconds: 3 s from now is at least 2 s away.
    assert!(gap >= Duration::from_millis(1_900), "waited only {gap:?}");
}

const CLOUDFLARE_502: &str = r#"<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>app.usegradient.com | 502: Bad gateway</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<style>body{margin:0;padding:0}</style>
</head>
<body>
<div id="cf-wrapper"><div id="cf-error-details" class="p-0">
<h1>Bad gateway</h1><span class="code-label">Error code 502</span>
<p>The web server reported a bad gateway error.</p>
</div></div>
</body>
</html>
"#;

#[test]
fn an_html_error_page_is_one_short_line_with_the_status() {
    let server = HostileServer::start(|_, _| {
        reply(
            502,
            &[
                ("Content-Type", "text/html; charset=UTF-8"),
                ("Server", "cloudflare"),
            ],
            CLOUDFLARE_502,
        )
    });
    let home = Home::new();
    let out = update_status(&home, &server.url());
    assert_eq!(out.code, Some(1), "{out:?}");
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(
        errors[0].contains("HTTP 502") && errors[0].contains("502: Bad gateway"),
        "{}",
        errors[0]
    );
    assert!(!out.stderr.contains('<'), "{}", out.stderr);
    assert!(errors[0].len() < 200, "{}", errors[0]);
}
