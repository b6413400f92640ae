//! The headless command (not built yet): for now it says what is coming.

use std::process::ExitCode;

/// Runs the binary.
pub fn main() -> ExitCode {
    println!(
        "cw-shared-devices {}: the window and the headless command are being built; \
         the counting engine and CSV export are in place (cargo test runs them).",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::SUCCESS
}
