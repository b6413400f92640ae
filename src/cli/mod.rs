//! The headless command for Task Scheduler, cron and systemd timers: same engine, no window.
//! Progress goes to stderr, results to stdout; the exit status says what happened.

mod args;
mod logging;
mod output;
mod profile_cmd;
mod progress;
#[cfg(feature = "sandbox")]
mod serve_sandbox;
mod settings;
mod sync_cmd;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use tokio_util::sync::CancellationToken;

pub use args::{Cli, Command, GlobalArgs};

use crate::domain::csv_export::{CsvDelimiter, csv_bytes};
use crate::domain::printable::printable;
use crate::storage::export_file::{self, ExportFileError};
use crate::worker::jobs::{self, JobError, PreviewRequest};
use crate::worker::sync::SyncSteps;

/// How a run ended, as the exit status tells schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: all done.
    Done,
    /// 1: failed.
    Failed,
    /// 2: usage or configuration error.
    Usage,
    /// 3: partly done: some rows failed, the rest were sent.
    Partial,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 1,
            Outcome::Usage => 2,
            Outcome::Partial => 3,
        }
    }
}

/// A run that could not go on, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, a missing profile or setting: exit 2.
    #[error("{0}")]
    Config(String),
    /// The work itself failed: exit 1.
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

impl CliError {
    fn outcome(&self) -> Outcome {
        match self {
            CliError::Config(_) => Outcome::Usage,
            CliError::Failed(_) | CliError::Cancelled => Outcome::Failed,
        }
    }
}

impl From<JobError> for CliError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Cancelled => CliError::Cancelled,
            JobError::Rule(r) => CliError::Config(r.to_string()),
            JobError::ConnectWise(crate::api::connectwise::ConnectWiseError::Url(u)) => {
                CliError::Config(u.to_string())
            }
            JobError::ConnectWise(crate::api::connectwise::ConnectWiseError::Setup(s)) => {
                CliError::Config(s)
            }
            JobError::Synthesize(crate::api::synthesize::SynthesizeError::Url(u)) => {
                CliError::Config(u.to_string())
            }
            JobError::Synthesize(crate::api::synthesize::SynthesizeError::Setup(s)) => {
                CliError::Config(s)
            }
            // A request that cannot be built, or a URL the rules refuse: the fix is in the
            // command line or the profile.
            JobError::ConnectWise(crate::api::connectwise::ConnectWiseError::Refused(r))
                if r.is_configuration() =>
            {
                CliError::Config(crate::api::connectwise::ConnectWiseError::Refused(r).to_string())
            }
            JobError::Synthesize(crate::api::synthesize::SynthesizeError::Refused(r))
                if r.is_configuration() =>
            {
                CliError::Config(crate::api::synthesize::SynthesizeError::Refused(r).to_string())
            }
            other => CliError::Failed(other.to_string()),
        }
    }
}

/// Runs the binary: the window with no subcommand, the headless command otherwise.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    ExitCode::from(run(cli).code())
}

/// Runs a parsed command line and returns how it ended.
pub fn run(cli: Cli) -> Outcome {
    let log_dir = settings::app_dirs().ok().map(|d| d.log_dir());
    let _log_guard = logging::init(log_dir.as_deref(), cli.global.verbose);
    let command = match cli.command {
        None => return window(false),
        Some(Command::Demo) => return window(true),
        Some(Command::Profile(command)) => {
            return profile_cmd::run(command, &cli.global).unwrap_or_else(|e| {
                print_error(&e);
                e.outcome()
            });
        }
        #[cfg(feature = "sandbox")]
        Some(Command::ServeSandbox(args)) => return serve_sandbox::run(&args),
        Some(command) => command,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return Outcome::Failed;
        }
    };
    let cancel = CancellationToken::new();
    cancel_on_stop_signals(&runtime, cancel.clone());
    tracing::info!(command = ?command_name(&command), "run started");
    let result = runtime.block_on(dispatch(command, &cli.global, &cancel));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            print_error(&e);
            e.outcome()
        }
    };
    tracing::info!(exit_status = outcome.code(), "run ended");
    outcome
}

/// Prints a run's error once on stderr (cleaned: it can quote what a server sent) and keeps it
/// in the log file, without a second copy on stderr.
fn print_error(e: &CliError) {
    let text = e.to_string();
    eprintln!("error: {}", printable(&text));
    tracing::error!(target: logging::FILE_ONLY, error = %text, "run failed");
}

/// Ctrl+C and SIGTERM (what systemd, `kill` and container runtimes send to stop a program)
/// both cancel the run: requests in flight end, the journal records the run as cancelled and
/// the summary is printed. A second signal ends the program at once.
fn cancel_on_stop_signals(runtime: &tokio::runtime::Runtime, cancel: CancellationToken) {
    // Registered now, before any work starts: until a handler exists, SIGTERM kills outright.
    let _entered = runtime.enter();
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(interrupt), Ok(terminate)) => Some((interrupt, terminate)),
            _ => None,
        }
    };
    runtime.spawn(async move {
        #[cfg(unix)]
        {
            let Some((mut interrupt, mut terminate)) = signals else {
                return;
            };
            let name = tokio::select! {
                _ = interrupt.recv() => "Ctrl+C",
                _ = terminate.recv() => "SIGTERM",
            };
            eprintln!("{name}: stopping after the requests in flight (again to stop at once)");
            tracing::warn!(target: logging::FILE_ONLY, signal = name, "stop requested");
            cancel.cancel();
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            std::process::exit(i32::from(Outcome::Failed.code()));
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Ctrl+C: stopping after the requests in flight (again to stop at once)");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(Outcome::Failed.code()));
                }
            }
        }
    });
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Preview(_) => "preview",
        Command::Authenticate => "authenticate",
        Command::SyncServices => "sync-services",
        Command::SyncAccounts => "sync-accounts",
        Command::SyncUsage(_) => "sync-usage",
        Command::Sync(_) => "sync",
        Command::UpdateStatus { .. } => "update-status",
        Command::Demo => "demo",
        Command::Profile(_) => "profile",
        #[cfg(feature = "sandbox")]
        Command::ServeSandbox(_) => "serve-sandbox",
    }
}

/// Opens the window (or the demo window).
fn window(demo: bool) -> Outcome {
    let result = if demo {
        crate::ui::run_demo()
    } else {
        crate::ui::run_window()
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(e) => {
            eprintln!("error: {e}");
            Outcome::Failed
        }
    }
}

async fn dispatch(
    command: Command,
    global: &GlobalArgs,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let resolved = settings::resolve(global)?;
    match command {
        Command::Preview(args) => preview(&resolved, &args, cancel).await,
        Command::Authenticate => sync_cmd::authenticate(&resolved, cancel).await,
        Command::SyncServices => {
            sync_cmd::sync(&resolved, SyncSteps::SERVICES, false, false, cancel).await
        }
        Command::SyncAccounts => {
            sync_cmd::sync(&resolved, SyncSteps::ACCOUNTS, false, false, cancel).await
        }
        Command::SyncUsage(a) => {
            sync_cmd::sync(&resolved, SyncSteps::USAGE, a.dry_run, a.json, cancel).await
        }
        Command::Sync(a) => {
            sync_cmd::sync(&resolved, SyncSteps::ALL, a.dry_run, a.json, cancel).await
        }
        Command::UpdateStatus { status } => {
            sync_cmd::update_status(&resolved, &status, cancel).await
        }
        Command::Demo | Command::Profile(_) => Ok(Outcome::Usage),
        #[cfg(feature = "sandbox")]
        Command::ServeSandbox(_) => Ok(Outcome::Usage),
    }
}

/// Where `preview --csv` sends the CSV.
enum CsvTarget<'a> {
    /// `-`, or a path that is our own stdout (`/dev/stdout`): the table then stays off stdout.
    Stdout,
    Path(&'a std::path::Path),
}

impl<'a> CsvTarget<'a> {
    fn of(path: &'a std::path::Path) -> Self {
        if path.as_os_str() == "-" || export_file::is_stdout(path) {
            CsvTarget::Stdout
        } else {
            CsvTarget::Path(path)
        }
    }
}

fn csv_error(e: ExportFileError) -> CliError {
    match e {
        ExportFileError::Refused { .. } => CliError::Config(format!("--csv: {e}")),
        ExportFileError::Io { .. } => CliError::Failed(format!("--csv: {e}")),
    }
}

async fn preview(
    resolved: &settings::Resolved,
    args: &args::PreviewArgs,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let csv_target = args.csv.as_deref().map(CsvTarget::of);
    // A destination that can never take the CSV is refused before the fetch, not after it.
    match &csv_target {
        Some(CsvTarget::Stdout) if args.json => {
            return Err(CliError::Config(
                "--csv -: the CSV and --json would both go to standard output; name a file for the CSV".into(),
            ));
        }
        Some(CsvTarget::Path(path)) => {
            export_file::check_destination(path).map_err(csv_error)?;
        }
        _ => {}
    }
    let request = PreviewRequest {
        connectwise: resolved.connectwise_settings()?,
        counting: resolved.counting.clone(),
    };
    let bar = progress::FetchBar::new();
    let report = |p| bar.update(p);
    let outcome = jobs::run_preview(&request, &report, cancel).await;
    bar.finish(outcome.is_ok());
    let outcome = outcome?;
    let counts = &outcome.counts;
    let mut stdout = std::io::stdout().lock();
    if let Some(target) = &csv_target {
        let delimiter = if args.semicolon {
            CsvDelimiter::Semicolon
        } else {
            resolved.csv_delimiter
        };
        let bytes = csv_bytes(&counts.companies, delimiter, args.excel)
            .map_err(|e| CliError::Failed(format!("--csv: {e}")))?;
        let rows = counts.companies.len();
        match target {
            CsvTarget::Stdout => {
                stdout
                    .write_all(&bytes)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| {
                        CliError::Failed(format!("--csv: could not write standard output: {e}"))
                    })?;
                eprintln!("Wrote {rows} rows to standard output");
            }
            CsvTarget::Path(path) => {
                export_file::write_export(path, &bytes).map_err(csv_error)?;
                eprintln!("Wrote {rows} rows to {}", path.display());
            }
        }
    }
    let csv_on_stdout = matches!(csv_target, Some(CsvTarget::Stdout));
    let written = if args.json {
        let json = output::preview_json(counts, &outcome.rule_text);
        serde_json::to_writer_pretty(&mut stdout, &json)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else {
        eprintln!("{}", printable(&outcome.rule_text));
        for warning in counts.skipped.warnings() {
            eprintln!("warning: {}", printable(&warning));
        }
        if csv_on_stdout {
            Ok(())
        } else {
            write!(stdout, "{}", output::preview_table(counts))
        }
    };
    written.map_err(|e| CliError::Failed(format!("could not write the result: {e}")))?;
    Ok(Outcome::Done)
}
