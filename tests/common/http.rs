//! HTTP settings for tests: fast retries so fault tests take seconds, and a short timeout so
//! `Slow` faults time out.

use cw_shared_devices::api::http::HttpSettings;

/// One-second timeouts, 8 retries backing off 5–50 ms, `Retry-After` capped at 1 s.
pub fn quick_http() -> HttpSettings {
    HttpSettings {
        timeout_secs: 1.0,
        connect_timeout_secs: 1.0,
        max_retries: 8,
        min_backoff_ms: 5,
        max_backoff_ms: 50,
        retry_after_cap_secs: 1,
        ..HttpSettings::default()
    }
}
