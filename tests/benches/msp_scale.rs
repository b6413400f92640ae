//! MSP-scale figures against the physical limits: preview, sync usage, the counting engine,
//! peak memory of a headless preview, and the window's frame time.
//!
//! `cargo bench --bench msp_scale` runs every part; `MSP_SCALE_ONLY=preview` (or `sync`,
//! `engine`, `memory`, `window`) runs one. Everything runs on loopback against the sandbox and
//! stops by itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cw_shared_devices::api::connectwise::{
    ConnectWiseClient, ConnectWiseCredentials, ConnectWiseSettings, ConnectWiseTarget,
    PagingStrategy,
};
use cw_shared_devices::domain::configuration::{
    CompanyRef, ConfigurationPage, ConfigurationRecord, NamedRef,
};
use cw_shared_devices::domain::counting::{CountingEngine, CountingOptions, CountingRule};
use cw_shared_devices::sandbox::{
    RateLimit, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PRIVATE_KEY, SANDBOX_PUBLIC_KEY,
    Sandbox, SandboxConfig,
};
use cw_shared_devices::worker::sync;
use tokio_util::sync::CancellationToken;

const LATENCY: Duration = Duration::from_millis(20);
const IN_FLIGHT: usize = 4;

fn wanted(part: &str) -> bool {
    std::env::var("MSP_SCALE_ONLY").map_or(true, |only| only.split(',').any(|p| p == part))
}

fn main() {
    println!(
        "msp_scale on {} logical CPUs ({})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        machine()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let parse_bytes_per_sec = engine_figures(wanted("engine") || wanted("preview"));
    if wanted("preview") {
        runtime.block_on(preview_figures(parse_bytes_per_sec));
    }
    if wanted("sync") {
        runtime.block_on(sync_figures());
    }
    if wanted("memory") {
        memory_figure();
    }
    if wanted("window") {
        match cw_shared_devices::ui::bench::measure_scroll_frames(5_000, 300) {
            Ok(times) => {
                println!("\n== window\n5,000-row preview table at 1280x800, scrolling: {times}")
            }
            Err(e) => println!("\n== window\nnot measured: {e}"),
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cpu}; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn record(id: i64) -> ConfigurationRecord {
    let mut r = ConfigurationRecord::with_id(id);
    r.config_type = Some(NamedRef {
        id: Some(1),
        name: Some(if id % 5 < 3 { "License" } else { "Laptop" }.into()),
    });
    let company = id % 2_000;
    r.company = Some(CompanyRef {
        id: Some(company),
        identifier: None,
        name: Some(format!("Company {company}")),
    });
    r.contact = Some(NamedRef {
        id: Some(2),
        name: Some(
            if id % 7 == 0 {
                "Front Desk (shared)"
            } else {
                "Jane Doe"
            }
            .into(),
        ),
    });
    r
}

/// The counting engine alone, and parse-and-count of projected pages (the client's CPU work per
/// byte, used for the preview's lower bound). Returns bytes per second.
fn engine_figures(print: bool) -> f64 {
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let records: Vec<ConfigurationRecord> = (1..=1_000_000).map(record).collect();
    let started = Instant::now();
    let mut engine = CountingEngine::new(rule.clone());
    for r in &records {
        engine.add(r);
    }
    let result = engine.finish();
    let engine_secs = started.elapsed().as_secs_f64();
    assert_eq!(result.configurations_read, 1_000_000);

    // Pages of 1,000 as the projected fetch returns them.
    let pages: Vec<Vec<u8>> = records
        .chunks(1_000)
        .take(100)
        .map(|chunk| {
            let json: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "type": {"name": r.type_name()},
                        "company": {"id": r.company_id(), "name": r.company_name()},
                        "contact": {"name": r.contact_name()},
                    })
                })
                .collect();
            serde_json::to_vec(&json).unwrap()
        })
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let started = Instant::now();
    let mut engine = CountingEngine::new(rule);
    for page in &pages {
        engine.add_page(&ConfigurationPage::parse(page).unwrap());
    }
    let parse_secs = started.elapsed().as_secs_f64();
    assert_eq!(engine.finish().configurations_read, 100_000);
    let bytes_per_sec = bytes as f64 / parse_secs;
    if print {
        println!("\n== counting engine");
        println!(
            "1,000,000 records counted in {:.3} s: {:.1} million configurations/s",
            engine_secs,
            1.0 / engine_secs
        );
        println!(
            "parse + count of projected pages: 100,000 records, {:.1} MB in {:.3} s ({:.0} MB/s, {:.2} million configurations/s)",
            bytes as f64 / 1e6,
            parse_secs,
            bytes_per_sec / 1e6,
            0.1 / parse_secs
        );
    }
    bytes_per_sec
}

fn cw_settings(
    sandbox: &Sandbox,
    paging: PagingStrategy,
    server_filter: bool,
) -> ConnectWiseSettings {
    let mut s = ConnectWiseSettings::new(
        ConnectWiseTarget::Site(sandbox.cw_site_url()),
        ConnectWiseCredentials {
            company_id: SANDBOX_COMPANY_ID.into(),
            public_key: SANDBOX_PUBLIC_KEY.into(),
            private_key: SANDBOX_PRIVATE_KEY.into(),
            client_id: SANDBOX_CLIENT_ID.into(),
        },
    );
    s.paging = paging;
    s.server_filter = server_filter;
    s.max_in_flight = IN_FLIGHT;
    s
}

async fn preview_figures(parse_bytes_per_sec: f64) {
    println!(
        "\n== preview: 2,000 companies, 100,000 configurations, {} ms latency, {IN_FLIGHT} in flight",
        LATENCY.as_millis()
    );
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 8,
        companies: 2_000,
        configurations: 100_000,
        cloud_mode: false,
    })
    .await
    .unwrap();
    sandbox.handle().connectwise_knobs().set_latency(LATENCY);
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let runs = [
        (
            "id ranges (default), filtered + projected",
            PagingStrategy::IdRanges,
            true,
        ),
        (
            "numbered pages after /count, filtered + projected",
            PagingStrategy::ParallelPages,
            true,
        ),
        (
            "forward-only, one page at a time, filtered + projected",
            PagingStrategy::ForwardOnly,
            true,
        ),
        (
            "id ranges, no server filter, no projection",
            PagingStrategy::IdRanges,
            false,
        ),
    ];
    let mut reference = None;
    for (label, paging, filter) in runs {
        let client = ConnectWiseClient::new(cw_settings(&sandbox, paging, filter)).unwrap();
        // Discovery is a one-off per client; keep it out of the fetch figure.
        client.discover(&CancellationToken::new()).await.unwrap();
        let started = Instant::now();
        let outcome = client
            .fetch_counts(&rule, &|_| {}, &CancellationToken::new())
            .await
            .unwrap();
        let wall = started.elapsed().as_secs_f64();
        let counted = outcome.counts.configurations_counted;
        let fetched = outcome.counts.configurations_read + outcome.counts.skipped.unparseable;
        let min_requests = fetched.div_ceil(1_000);
        let bound = min_requests as f64 * LATENCY.as_secs_f64() / IN_FLIGHT as f64
            + outcome.stats.bytes_received as f64 / parse_bytes_per_sec;
        println!(
            "{label}: {wall:.2} s, {} requests, {:.1} MB received, {fetched} configurations read, {counted} counted; lower bound {bound:.2} s ({min_requests} pages x {} ms / {IN_FLIGHT} + parsing at {:.0} MB/s); ratio {:.2}",
            outcome.stats.requests,
            outcome.stats.bytes_received as f64 / 1e6,
            LATENCY.as_millis(),
            parse_bytes_per_sec / 1e6,
            wall / bound
        );
        match &reference {
            None => reference = Some(outcome.counts.companies),
            Some(companies) => assert_eq!(
                *companies, outcome.counts.companies,
                "{label} counted differently"
            ),
        }
    }
}

async fn sync_figures() {
    println!(
        "\n== sync usage: 4,000 counts, {} ms latency, sandbox limit 100 requests/s",
        LATENCY.as_millis()
    );
    let limit = RateLimit {
        per_second: 100.0,
        burst: 10,
    };
    match sync::measure::measure_usage_sync(4_000, LATENCY, limit).await {
        Ok(figures) => println!("{figures}"),
        Err(e) => println!("not measured: {e}"),
    }
}

/// Peak memory of a headless preview process of 100,000 configurations, with the sandbox in a
/// process of its own so only the command is measured.
fn memory_figure() {
    println!("\n== peak memory of `cw-shared-devices preview` (100,000 configurations)");
    let bin = env!("CARGO_BIN_EXE_cw-shared-devices");
    let home = tempfile::tempdir().unwrap();
    let mut server = Command::new(bin)
        .args([
            "serve-sandbox",
            "--seed",
            "8",
            "--companies",
            "2000",
            "--configurations",
            "100000",
            "--latency-ms",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let vars: Vec<(String, String)> = std::io::BufReader::new(stdout)
        .lines()
        .take(9)
        .map(|l| {
            let l = l.unwrap();
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let site = vars
        .iter()
        .find(|(k, _)| k == "CW_SITE_URL")
        .unwrap()
        .1
        .clone();
    let time = std::path::Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(["preview", "--json", "--cw-url", &site])
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Without /usr/bin/time, sample the kernel's high-water mark while it runs.
    let mut sampled_kb = 0u64;
    let out = {
        let handle = std::thread::spawn(move || child.wait_with_output().unwrap());
        while !handle.is_finished() {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
            {
                sampled_kb = sampled_kb.max(
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.join().unwrap()
    };
    let wall = started.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let max_rss_kb = stderr
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(sampled_kb);
    println!(
        "peak resident memory {:.1} MB ({}), wall {wall:.2} s including process start and discovery",
        max_rss_kb as f64 / 1024.0,
        if time.exists() {
            "/usr/bin/time -v"
        } else {
            "sampled VmHWM"
        }
    );
}
