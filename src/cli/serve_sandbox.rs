//! `serve-sandbox` (hidden): the embedded sandbox as a process of its own, so the command, the
//! installed package and benchmarks can be tried against it from another process.

use std::io::Write as _;
use std::time::Duration;

use super::Outcome;
use super::args::ServeSandboxArgs;
use crate::sandbox::{
    RateLimit, SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, Sandbox, SandboxConfig,
};

pub fn run(args: &ServeSandboxArgs) -> Outcome {
    let sandbox = match Sandbox::start_in_background(SandboxConfig {
        seed: args.seed,
        companies: args.companies,
        configurations: args.configurations,
        cloud_mode: args.cloud,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    let handle = sandbox.handle();
    let latency = Duration::from_millis(args.latency_ms);
    handle.connectwise_knobs().set_latency(latency);
    handle.synthesize_knobs().set_latency(latency);
    if args.synthesize_rate_limit > 0.0 {
        handle.synthesize_knobs().set_rate_limit(Some(RateLimit {
            per_second: args.synthesize_rate_limit,
            burst: args.synthesize_rate_limit.ceil() as u32,
        }));
    }
    let lines = [
        format!("CW_SITE_URL={}", sandbox.cw_site_url()),
        format!("CW_API_URL={}", sandbox.cw_api_url()),
        format!("SYNTHESIZE_URL={}", sandbox.synthesize_url()),
        format!("CW_COMPANY_ID={SANDBOX_COMPANY_ID}"),
        format!("CW_PUBLIC_KEY={SANDBOX_PUBLIC_KEY}"),
        format!("CW_PRIVATE_KEY={SANDBOX_PRIVATE_KEY}"),
        format!("CW_CLIENT_ID={SANDBOX_CLIENT_ID}"),
        format!("SYNTHESIZE_VENDOR_API_KEY={SANDBOX_VENDOR_API_KEY}"),
        format!("SYNTHESIZE_PARTNER_API_KEY={SANDBOX_PARTNER_API_KEY}"),
    ];
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return Outcome::Failed;
        }
    }
    let _ = out.flush();
    drop(out);
    eprintln!("Sandbox serving on loopback; stop it with Ctrl+C.");
    // The servers run on the sandbox's own thread; this one only waits to be stopped.
    loop {
        std::thread::park();
    }
}
