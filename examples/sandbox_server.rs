//! Runs the loopback sandbox on its own, so a benchmark can measure a client process apart from
//! the servers: prints the URLs and credentials as `NAME=value` lines, then serves until killed.
//!
//! `cargo run --example sandbox_server -- --configurations 100000 --latency-ms 20`
//! (every flag also reads an environment variable, such as `SANDBOX_CONFIGURATIONS`).

use std::io::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use cw_shared_devices::sandbox::{
    RateLimit, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, Sandbox, SandboxConfig,
};

#[derive(Debug, Parser)]
#[command(about = "Serve the ConnectWise and Synthesize sandbox on 127.0.0.1 until killed")]
struct Args {
    /// Seed of the generated tenant (the same seed gives the same tenant).
    #[arg(long, env = "SANDBOX_SEED", default_value_t = 1)]
    seed: u64,
    #[arg(long, env = "SANDBOX_COMPANIES", default_value_t = 40)]
    companies: usize,
    #[arg(long, env = "SANDBOX_CONFIGURATIONS", default_value_t = 600)]
    configurations: usize,
    /// Delay added to every answer of both services, in milliseconds.
    #[arg(long, env = "SANDBOX_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// ConnectWise rate limit in requests per second (0: none).
    #[arg(long, env = "SANDBOX_CW_RATE_PER_SECOND", default_value_t = 0.0)]
    cw_rate_per_second: f64,
    /// Synthesize rate limit in requests per second (0: none).
    #[arg(
        long,
        env = "SANDBOX_SYNTHESIZE_RATE_PER_SECOND",
        default_value_t = 0.0
    )]
    synthesize_rate_per_second: f64,
    /// Requests allowed at once before the rate limit applies.
    #[arg(long, env = "SANDBOX_RATE_BURST", default_value_t = 10)]
    rate_burst: u32,
    /// Answer bad ConnectWise credentials with 404, as cloud sites do.
    #[arg(long, env = "SANDBOX_CLOUD_MODE")]
    cloud_mode: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    let sandbox = Sandbox::start_in_background(SandboxConfig {
        seed: args.seed,
        companies: args.companies,
        configurations: args.configurations,
        cloud_mode: args.cloud_mode,
    })?;
    let handle = sandbox.handle();
    let latency = Duration::from_millis(args.latency_ms);
    handle.connectwise_knobs().set_latency(latency);
    handle.synthesize_knobs().set_latency(latency);
    let limit = |per_second: f64| {
        (per_second > 0.0).then_some(RateLimit {
            per_second,
            burst: args.rate_burst,
        })
    };
    handle
        .connectwise_knobs()
        .set_rate_limit(limit(args.cw_rate_per_second));
    handle
        .synthesize_knobs()
        .set_rate_limit(limit(args.synthesize_rate_per_second));

    let mut out = std::io::stdout().lock();
    writeln!(out, "CW_SITE_URL={}", sandbox.cw_site_url())?;
    writeln!(out, "CW_API_URL={}", sandbox.cw_api_url())?;
    writeln!(out, "SYNTHESIZE_URL={}", sandbox.synthesize_url())?;
    writeln!(out, "CW_COMPANY_ID={SANDBOX_COMPANY_ID}")?;
    writeln!(out, "CW_PUBLIC_KEY={SANDBOX_PUBLIC_KEY}")?;
    writeln!(out, "CW_PRIVATE_KEY={SANDBOX_PRIVATE_KEY}")?;
    writeln!(out, "CW_CLIENT_ID={SANDBOX_CLIENT_ID}")?;
    writeln!(out, "SYNTHESIZE_VENDOR_API_KEY={SANDBOX_VENDOR_API_KEY}")?;
    writeln!(out, "SYNTHESIZE_PARTNER_API_KEY={SANDBOX_PARTNER_API_KEY}")?;
    writeln!(
        out,
        "SANDBOX_READY_MS={} SANDBOX_CONFIGURATIONS={}",
        started.elapsed().as_millis(),
        handle.configuration_count()
    )?;
    out.flush()?;
    drop(out);

    // The servers run on the sandbox's own thread; this one only keeps the process alive.
    loop {
        std::thread::park();
    }
}
