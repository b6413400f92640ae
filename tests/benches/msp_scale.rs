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
use cw_shared_devices::bench_support::usage_sync;
use cw_shared_devices::domain::configuration::{
    CompanyRef, ConfigurationPage, ConfigurationRecord, NamedRef,
};
use cw_shared_devices::domain::counting::{CountingEngine, CountingOptions, CountingRule};
use cw_shared_devices::engine::preview::fetch_counts;
use cw_shared_devices::sandbox::{
    RateLimit, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PRIVATE_KEY, SANDBOX_PUBLIC_KEY,
    Sandbox, SandboxConfig,
};
use tokio_util::sync::CancellationToken;

const LATENCY: Duration = Duration::from_millis(20);
const IN_FLIGHT: usize = 4;

/// One figure against the target, for the summary printed at the end.
struct Verdict {
    figure: String,
    target: &'static str,
    met: bool,
}

impl Verdict {
    fn new(figure: String, target: &'static str, met: bool) -> Self {
        Self {
            figure,
            target,
            met,
        }
    }
}

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
    let mut verdicts = Vec::new();
    // The preview's bound needs the measured parse speed, so `preview` runs the engine part too.
    if wanted("engine") || wanted("preview") {
        let parse_bytes_per_sec = engine_figures();
        if wanted("preview") {
            verdicts.extend(runtime.block_on(preview_figures(parse_bytes_per_sec)));
        }
    }
    if wanted("sync") {
        verdicts.extend(runtime.block_on(sync_figures()));
    }
    if wanted("memory") {
        verdicts.push(memory_figure());
    }
    if wanted("window") {
        verdicts.push(window_figure());
    }
    if !verdicts.is_empty() {
        println!("\n== against the targets");
        for v in &verdicts {
            let mark = if v.met { "met" } else { "MISSED" };
            println!("{mark:>6}  {} (target {})", v.figure, v.target);
        }
    }
    println!("\nload average at the end: {}", load_average());
}

/// The window: the real `App` drawn headless with a 5,000-row preview while scrolling.
fn window_figure() -> Verdict {
    println!("\n== window: the app's preview tab, headless egui context, 1280x800");
    match cw_shared_devices::bench_support::window_frames::measure_scroll_frames(5_000, 300) {
        Ok(times) => {
            println!("5,000-row preview table, scrolling 60 px a frame: {times}");
            // The target is CPU time; wall time also counts waiting for a core on a busy machine.
            let (figure, met) = match times.cpu_mean_us {
                Some(cpu) => (
                    format!(
                        "window: CPU time per frame while scrolling 5,000 rows: mean {:.2} ms (wall median {:.2}, p95 {:.2}, max {:.2})",
                        cpu / 1e3,
                        times.median_us / 1e3,
                        times.p95_us / 1e3,
                        times.max_us / 1e3
                    ),
                    cpu <= 4_000.0,
                ),
                None => (
                    format!(
                        "window: wall time per frame while scrolling 5,000 rows: p95 {:.2} ms (median {:.2}, max {:.2})",
                        times.p95_us / 1e3,
                        times.median_us / 1e3,
                        times.max_us / 1e3
                    ),
                    times.p95_us <= 4_000.0,
                ),
            };
            Verdict::new(figure, "<= 4 ms", met)
        }
        Err(e) => {
            println!("not measured: {e}");
            Verdict::new(format!("window: not measured ({e})"), "<= 4 ms", false)
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
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
    let memory_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GB RAM", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}{memory_gb}; load average {}", load_average())
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
fn engine_figures() -> f64 {
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

/// One preview fetch as measured.
struct PreviewRun {
    wall_secs: f64,
    bound_secs: f64,
    requests: u64,
    bytes_received: u64,
}

/// Preview per paging strategy, each against its lower bound, plus the same fetch without the
/// server-side filter and the field projection.
async fn preview_figures(parse_bytes_per_sec: f64) -> Vec<Verdict> {
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
    let mut measured = Vec::new();
    for (label, paging, filter) in runs {
        let client = ConnectWiseClient::new(cw_settings(&sandbox, paging, filter)).unwrap();
        // Discovery is a one-off per client; keep it out of the fetch figure.
        client.discover(&CancellationToken::new()).await.unwrap();
        let started = Instant::now();
        let outcome = fetch_counts(&client, &rule, &|_| {}, &CancellationToken::new())
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
        measured.push(PreviewRun {
            wall_secs: wall,
            bound_secs: bound,
            requests: outcome.stats.requests,
            bytes_received: outcome.stats.bytes_received,
        });
    }
    let (default, unfiltered) = (&measured[0], &measured[3]);
    println!(
        "the server-side filter and the projection save {} requests ({} instead of {}), {:.1} MB ({:.1} instead of {:.1}) and {:.2} s ({:.2} instead of {:.2})",
        unfiltered.requests.saturating_sub(default.requests),
        default.requests,
        unfiltered.requests,
        unfiltered
            .bytes_received
            .saturating_sub(default.bytes_received) as f64
            / 1e6,
        default.bytes_received as f64 / 1e6,
        unfiltered.bytes_received as f64 / 1e6,
        unfiltered.wall_secs - default.wall_secs,
        default.wall_secs,
        unfiltered.wall_secs,
    );
    let ratio = default.wall_secs / default.bound_secs;
    vec![Verdict::new(
        format!(
            "preview (id ranges, filtered + projected): {:.2} s, {:.2}x its {:.2} s bound",
            default.wall_secs, ratio, default.bound_secs
        ),
        "<= 1.5x the bound",
        ratio <= 1.5,
    )]
}

/// Sync usage at the documented limit (the target), then against a server enforcing 40/s, below
/// the client's starting pace, so 429s come back and the posts adapt their pace to it. Both through `bench_support::usage_sync`, which
/// runs the engine's `sync::execute` with the product's client settings.
async fn sync_figures() -> Vec<Verdict> {
    println!(
        "\n== sync usage: 4,000 counts, {} ms latency, sandbox limit 100 requests/s",
        LATENCY.as_millis()
    );
    let at_limit = sync_run(
        4_000,
        RateLimit {
            per_second: 100.0,
            burst: 10,
        },
    )
    .await;
    println!(
        "\n== sync usage against a server enforcing less than documented: 800 counts, sandbox limit 40 requests/s (the posts adapt their pace)"
    );
    let tight = sync_run(
        800,
        RateLimit {
            per_second: 40.0,
            burst: 10,
        },
    )
    .await;
    vec![
        match &at_limit {
            Ok(f) => Verdict::new(
                format!(
                    "sync usage: {} counts in {:.1} s, {:.2}x the {:.0} s bound; {} 429s, {}",
                    f.counts,
                    f.wall_secs,
                    f.ratio(),
                    f.lower_bound_secs(),
                    f.rate_limited,
                    retried(f)
                ),
                "<= 1.2x the bound, every 429 retried",
                f.ratio() <= 1.2 && all_retried(f),
            ),
            Err(e) => Verdict::new(format!("sync usage: not measured ({e})"), "<= 1.2x", false),
        },
        match &tight {
            Ok(f) => Verdict::new(
                format!(
                    "sync usage under a {}/s limit: {} counts in {:.1} s, {:.2}x the {:.0} s bound; {} 429s, {}",
                    f.limit_per_second,
                    f.counts,
                    f.wall_secs,
                    f.ratio(),
                    f.lower_bound_secs(),
                    f.rate_limited,
                    retried(f)
                ),
                "<= 1.3x the bound, every 429 retried",
                f.ratio() <= 1.3 && all_retried(f),
            ),
            Err(e) => Verdict::new(
                format!("sync usage under a tighter limit: not measured ({e})"),
                "<= 1.3x the bound",
                false,
            ),
        },
    ]
}

async fn sync_run(counts: usize, limit: RateLimit) -> Result<usage_sync::UsageSyncFigures, String> {
    let figures = usage_sync::measure_usage_sync(counts, LATENCY, limit)
        .await
        .map_err(|e| e.to_string());
    match &figures {
        Ok(f) => println!("{f}"),
        Err(e) => println!("not measured: {e}"),
    }
    figures
}

/// Every 429 retried: nothing failed and every count was sent, however many 429s came back.
fn all_retried(f: &usage_sync::UsageSyncFigures) -> bool {
    f.failed == 0 && f.sent == f.counts && f.retries >= f.rate_limited
}

fn retried(f: &usage_sync::UsageSyncFigures) -> String {
    if all_retried(f) {
        format!("every one retried (all {} sent)", f.counts)
    } else {
        format!("NOT all retried ({} sent, {} failed)", f.sent, f.failed)
    }
}

/// The `serve-sandbox` process, stopped however the measurement ends (it serves until killed).
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `serve-sandbox` process of 100,000 configurations, and the variables it prints.
fn serve_sandbox_process(bin: &str) -> (ServerProcess, Vec<(String, String)>) {
    let mut server = ServerProcess(
        Command::new(bin)
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
            .unwrap(),
    );
    let stdout = server.0.stdout.take().unwrap();
    let vars: Vec<(String, String)> = std::io::BufReader::new(stdout)
        .lines()
        .take(9)
        .map(|l| {
            let l = l.unwrap();
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (server, vars)
}

/// Peak memory of a headless preview process of 100,000 configurations, with the sandbox in a
/// process of its own so only the command is measured.
fn memory_figure() -> Verdict {
    println!("\n== peak memory of `cw-shared-devices preview` (100,000 configurations)");
    let bin = env!("CARGO_BIN_EXE_cw-shared-devices");
    let home = tempfile::tempdir().unwrap();
    let (server, vars) = serve_sandbox_process(bin);
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
    drop(server);
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
    let peak_mb = max_rss_kb as f64 / 1024.0;
    println!(
        "peak resident memory {peak_mb:.1} MB ({}), wall {wall:.2} s including process start and discovery",
        if time.exists() {
            "/usr/bin/time -v"
        } else {
            "sampled VmHWM"
        }
    );
    Verdict::new(
        format!("peak memory of a headless preview of 100,000 configurations: {peak_mb:.1} MB"),
        "<= 150 MB",
        peak_mb <= 150.0,
    )
}
