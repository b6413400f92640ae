//! Logging for the command: a log file in the data dir (info and up) and stderr for warnings,
//! more with `-v`. Secrets never reach a log line: no code logs a key, token or header.

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the file writer flushing until the command ends.
pub type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

pub const LOG_FILE_NAME: &str = "cw-shared-devices.log";

/// Sets up logging. A log directory that cannot be created only loses the file log.
pub fn init(log_dir: Option<&Path>, verbose: u8) -> LogGuard {
    let stderr_level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let stderr_filter = EnvFilter::new(format!(
        "{stderr_level},hyper=warn,reqwest=warn,h2=warn,rustls=warn"
    ));
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr.with_max_level(tracing::Level::TRACE))
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter);
    let (file_layer, guard) =
        match log_dir.and_then(|dir| std::fs::create_dir_all(dir).ok().map(|()| dir)) {
            Some(dir) => {
                let appender = tracing_appender::rolling::never(dir, LOG_FILE_NAME);
                let (writer, guard) = tracing_appender::non_blocking(appender);
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
