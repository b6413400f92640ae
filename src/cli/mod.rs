//! The headless command for Task Scheduler, cron and systemd timers: same engine, no window.
//! Progress goes to stderr, results to stdout; the exit status says what happened.

mod args;
mod notify_cmd;
mod output;
mod profile_cmd;
mod progress;
mod report_cmd;
mod schedule_cmd;
#[cfg(feature = "sandbox")]
mod serve_sandbox;
mod settings;
mod sync_cmd;
mod tenants_cmd;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use tokio_util::sync::CancellationToken;

pub use args::{Cli, Command, GlobalArgs};

use crate::domain::csv_export::CsvDelimiter;
use crate::domain::printable::printable;
use crate::engine::export::{self, ExportError};
use crate::engine::settings::RunSettings;
use crate::engine::settings::SettingsError;
use crate::engine::sync::SyncSteps;
use crate::engine::{self, EngineError};
use crate::logging;
use crate::storage::export_file::ExportFileError;
use sync_cmd::SyncFlags;

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
    /// The drop guard or the completeness check stopped a sync before anything was sent: exit 1.
    #[error("{0}")]
    SafetyStop(String),
    /// Another run for the same tenant holds its lock: exit 2.
    #[error("{0}")]
    Busy(String),
}

impl CliError {
    fn outcome(&self) -> Outcome {
        match self {
            CliError::Config(_) | CliError::Busy(_) => Outcome::Usage,
            CliError::Failed(_) | CliError::Cancelled | CliError::SafetyStop(_) => Outcome::Failed,
        }
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => CliError::Cancelled,
            EngineError::Busy(text) => CliError::Busy(text),
            e if e.is_configuration() => CliError::Config(e.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

impl From<SettingsError> for CliError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Config(text) => CliError::Config(text),
            SettingsError::Journal(text) => CliError::Failed(text),
        }
    }
}

/// Parses the command line. Help and version are printed here and end the program with 0;
/// usage errors are printed and end it with 2.
pub fn parse_args() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })
}

/// Starts logging for a run: the log file in the data dir, stderr by `-v`. Keep the guard
/// until the run ends.
pub fn start_logging(global: &GlobalArgs) -> logging::LogGuard {
    let log_dir = crate::storage::AppDirs::platform()
        .ok()
        .map(|d| d.log_dir());
    logging::init(log_dir.as_deref(), global.verbose)
}

/// Runs a headless subcommand and returns how it ended. The window's two (none, and `demo`)
/// are not this front end's: they answer [`Outcome::Usage`].
pub fn run(command: Command, global: &GlobalArgs) -> Outcome {
    let command = match command {
        Command::Profile(command) => {
            return profile_cmd::run(command, global).unwrap_or_else(|e| {
                print_error(&e);
                e.outcome()
            });
        }
        Command::Report(args) => {
            return report_cmd::run(&args, global).unwrap_or_else(|e| {
                print_error(&e);
                e.outcome()
            });
        }
        Command::Schedule(command) => {
            return schedule_cmd::run(command, global).unwrap_or_else(|e| {
                print_error(&e);
                e.outcome()
            });
        }
        #[cfg(feature = "sandbox")]
        Command::ServeSandbox(args) => return serve_sandbox::run(&args),
        Command::Demo => return Outcome::Usage,
        command => command,
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
    let result = runtime.block_on(dispatch(command, global, &cancel));
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
        Command::Report(_) => "report",
        Command::Schedule(_) => "schedule",
        #[cfg(feature = "sandbox")]
        Command::ServeSandbox(_) => "serve-sandbox",
    }
}

async fn dispatch(
    command: Command,
    global: &GlobalArgs,
    cancel: &CancellationToken,
) -> Result<Outcome, CliError> {
    let several = global.tenants.all_profiles || !global.tenants.profiles.is_empty();
    // Each tenant's settings are resolved in turn there.
    match &command {
        Command::Preview(args) => return tenants_cmd::preview(global, args, cancel).await,
        Command::SyncUsage(a) => {
            let flags = a.flags();
            return tenants_cmd::sync(global, "sync-usage", SyncSteps::USAGE, flags, cancel).await;
        }
        Command::Sync(a) => {
            return tenants_cmd::sync(global, "sync", SyncSteps::ALL, a.flags(), cancel).await;
        }
        _ if several => {
            return Err(CliError::Config(format!(
                "--all-profiles and --profiles: only preview, sync and sync-usage take them, not {}",
                command_name(&command)
            )));
        }
        Command::SyncServices => {
            let flags = SyncFlags::default();
            return tenants_cmd::sync(global, "sync-services", SyncSteps::SERVICES, flags, cancel)
                .await;
        }
        Command::SyncAccounts => {
            let flags = SyncFlags::default();
            return tenants_cmd::sync(global, "sync-accounts", SyncSteps::ACCOUNTS, flags, cancel)
                .await;
        }
        _ => {}
    }
    let resolved = engine::settings::resolve(&settings::sources(global))?;
    match command {
        Command::Authenticate => sync_cmd::authenticate(&resolved, cancel).await,
        Command::UpdateStatus { status } => {
            sync_cmd::update_status(&resolved, &status, cancel).await
        }
        Command::Preview(_)
        | Command::SyncServices
        | Command::SyncAccounts
        | Command::SyncUsage(_)
        | Command::Sync(_) => Ok(Outcome::Usage),
        Command::Demo | Command::Profile(_) | Command::Report(_) | Command::Schedule(_) => {
            Ok(Outcome::Usage)
        }
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
        if path.as_os_str() == "-" || export::is_stdout(path) {
            CsvTarget::Stdout
        } else {
            CsvTarget::Path(path)
        }
    }
}

fn csv_error(e: &ExportError) -> CliError {
    match e {
        ExportError::File(ExportFileError::Refused { .. }) => {
            CliError::Config(format!("--csv: {e}"))
        }
        ExportError::File(ExportFileError::Io { .. }) | ExportError::Encode(_) => {
            CliError::Failed(format!("--csv: {e}"))
        }
    }
}

/// The companies the table leaves out or shows overridden, each with its reason, on stderr.
fn print_adjusted(shown: &crate::domain::adjustments::ShownCounts) {
    for e in &shown.excluded {
        eprintln!(
            "excluded: company {} {}: {} (not in the table or the CSV; never posted nor zeroed)",
            e.company_id,
            printable(&e.company_name),
            printable(&e.reason)
        );
    }
    for a in &shown.adjusted {
        eprintln!(
            "override: company {} {} — {}: {}",
            a.company_id,
            printable(&a.company_name),
            a.service.service_name(),
            printable(&a.describe())
        );
    }
}

async fn preview(
    resolved: &RunSettings,
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
            export::check_destination(path).map_err(|e| csv_error(&e))?;
        }
        _ => {}
    }
    let request = resolved.preview_request()?;
    let bar = progress::FetchBar::new();
    let report = |p| bar.update(p);
    let outcome = engine::run_preview(&request, &report, cancel).await;
    bar.finish(outcome.is_ok());
    let outcome = outcome?;
    // The final counts are what is shown and exported: overrides applied, excluded companies out.
    let adjustments = outcome.adjustments_with_statuses(&resolved.adjustments);
    for warning in &adjustments.company_status_warnings {
        eprintln!("warning: {}", printable(warning));
    }
    let shown = crate::domain::adjustments::shown_counts(
        &outcome.counts.companies,
        &adjustments,
        chrono::Local::now().date_naive(),
    );
    print_adjusted(&shown);
    let final_counts = crate::domain::counting::CountingResult {
        companies: shown.counts,
        ..outcome.counts.clone()
    };
    let counts = &final_counts;
    let mut stdout = std::io::stdout().lock();
    if let Some(target) = &csv_target {
        let delimiter = if args.semicolon {
            CsvDelimiter::Semicolon
        } else {
            resolved.csv_delimiter
        };
        let rows = counts.companies.len();
        match target {
            CsvTarget::Stdout => {
                let bytes = export::csv_of(&counts.companies, delimiter, args.excel)
                    .map_err(|e| csv_error(&e))?;
                stdout
                    .write_all(&bytes)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| {
                        CliError::Failed(format!("--csv: could not write standard output: {e}"))
                    })?;
                eprintln!("Wrote {rows} rows to standard output");
            }
            CsvTarget::Path(path) => {
                export::export_csv(path, &counts.companies, delimiter, args.excel)
                    .map_err(|e| csv_error(&e))?;
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
