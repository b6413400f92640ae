//! Logging for the command: a log file in the data dir (info and up, readable by the user
//! alone) and stderr for warnings, more with `-v`. Secrets never reach a log line: no code logs
//! a key, token or header. Colours only on a terminal that wants them.

use std::io::IsTerminal as _;
use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the file writer flushing until the command ends.
pub type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

pub const LOG_FILE_NAME: &str = "cw-shared-devices.log";

/// Events under this target go to the log file only: the command has already told the user
/// on stderr in its own words (each error is printed once).
pub const FILE_ONLY: &str = "cw_shared_devices::file_only";

/// Whether stderr may carry ANSI colours: only on a terminal, and not when `NO_COLOR` is set
/// (to anything but empty, as no-color.org says) or `TERM` is `dumb`. Never on Windows: its
/// console shows the escape codes as text unless the program turns VT processing on.
pub fn stderr_wants_colour() -> bool {
    !cfg!(windows)
        && colour_allowed(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
}

fn colour_allowed(
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// Sets up logging. A log directory or file that cannot be created only loses the file log.
pub fn init(log_dir: Option<&Path>, verbose: u8) -> LogGuard {
    let stderr_level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let stderr_filter = EnvFilter::new(format!(
        "{stderr_level},hyper=warn,reqwest=warn,h2=warn,rustls=warn,{FILE_ONLY}=off"
    ));
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr.with_max_level(tracing::Level::TRACE))
        .with_ansi(stderr_wants_colour())
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter);
    let file = log_dir.and_then(|dir| {
        crate::storage::private::ensure_private_dir(dir).ok()?;
        crate::storage::private::open_private_append(&dir.join(LOG_FILE_NAME)).ok()
    });
    let (file_layer, guard) = match file {
        Some(file) => {
            let (writer, guard) = tracing_appender::non_blocking(file);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(EnvFilter::new(
                    "info,hyper=warn,reqwest=warn,h2=warn,rustls=warn",
                ));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    // A second init (tests running the command in-process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    guard
}

use tracing_subscriber::Layer as _;

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn colour_only_on_a_terminal_that_wants_it() {
        let xterm = Some(OsStr::new("xterm-256color"));
        assert!(colour_allowed(true, None, xterm));
        assert!(colour_allowed(true, Some(OsStr::new("")), xterm));
        assert!(colour_allowed(true, None, None));
        assert!(!colour_allowed(false, None, xterm));
        assert!(!colour_allowed(true, Some(OsStr::new("1")), xterm));
        assert!(!colour_allowed(true, None, Some(OsStr::new("dumb"))));
    }
}
