//! Scheduled runs, shared by `schedule install|show|remove` and the window's "Schedule…": the
//! run a schedule starts (this same program, headless), checking that its tenants exist,
//! writing and removing the scheduler's entry, calling the scheduler's tool to load or unload
//! it (never when `CW_SHARED_DEVICES_NO_SCHEDULER` is set or the tool is missing: then the
//! commands are handed back to show), and the scheduler's report of the next and last run.

use std::path::PathBuf;

use crate::domain::schedule::{
    RunTime, ScheduleError, ScheduleTarget, ScheduledRun, TimeOfDay, parse_day_of_month,
};
use crate::storage::schedule::{
    InstalledSchedule, ScheduleStore, ScheduleStoreError, Scheduler, SchedulerCommand,
};
use crate::storage::{AppDirs, ProfileStore};

/// Set (to anything) to write scheduler entries without calling the scheduler's tool.
pub const NO_SCHEDULER_ENV: &str = "CW_SHARED_DEVICES_NO_SCHEDULER";

/// Why a schedule could not be made, shown or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleFailure {
    /// The fix is in what was asked (a time, a profile).
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Failed(String),
}

/// The store of this machine's scheduler for these folders.
pub fn platform_store(dirs: &AppDirs) -> Result<ScheduleStore, ScheduleFailure> {
    let scheduler =
        Scheduler::platform(dirs).map_err(|e| ScheduleFailure::Config(e.to_string()))?;
    Ok(ScheduleStore::new(dirs, scheduler))
}

/// "daily HH:MM" or "monthly DAY HH:MM", each part checked and named by `field`.
pub fn run_time(
    field: &'static str,
    day: Option<&str>,
    at: &str,
) -> Result<RunTime, ScheduleError> {
    Ok(match day {
        None => RunTime::Daily {
            at: TimeOfDay::parse(field, at)?,
        },
        Some(day) => RunTime::Monthly {
            day: parse_day_of_month(field, day)?,
            at: TimeOfDay::parse(field, at)?,
        },
    })
}

/// The profile must exist (a schedule of a missing profile would fail every night); for every
/// profile, at least one must.
pub fn check_target(dirs: &AppDirs, target: &ScheduleTarget) -> Result<(), ScheduleFailure> {
    match target {
        ScheduleTarget::Profile(name) => super::settings::load_profile(dirs, name)
            .map(|_| ())
            .map_err(|e| ScheduleFailure::Config(e.to_string())),
        ScheduleTarget::AllProfiles => {
            let list = ProfileStore::new(dirs)
                .list()
                .map_err(|e| ScheduleFailure::Config(e.to_string()))?;
            if list.names().is_empty() {
                Err(ScheduleFailure::Config(
                    "--all-profiles: there are no profiles yet; create one with `cw-shared-devices profile create NAME`".into(),
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// The run a schedule starts: this program (its absolute path) for `target` at `time`.
pub fn scheduled_run(
    target: ScheduleTarget,
    time: RunTime,
) -> Result<ScheduledRun, ScheduleFailure> {
    // Absolute already (Linux resolves /proc/self/exe; Windows' module path is absolute). Not
    // canonicalised: on Windows that gives a `\\?\` path Task Scheduler may not start.
    let program = std::env::current_exe().map_err(|e| {
        ScheduleFailure::Failed(format!(
            "schedule install: could not find this program's own path ({e})"
        ))
    })?;
    Ok(ScheduledRun {
        target,
        time,
        program: program.to_string_lossy().into_owned(),
    })
}

/// The scheduled command line, for the user to read (and try by hand).
pub fn run_command_line(run: &ScheduledRun) -> String {
    SchedulerCommand {
        program: run.program.clone(),
        args: run.target.arguments(),
        may_fail: false,
    }
    .display()
}

/// Whether to call the scheduler's tool: not when `CW_SHARED_DEVICES_NO_SCHEDULER` says so,
/// nor when it is not installed. `Err`: why not.
pub fn scheduler_usable(scheduler: &Scheduler) -> Result<(), String> {
    if std::env::var_os(NO_SCHEDULER_ENV).is_some() {
        return Err(format!("{NO_SCHEDULER_ENV} is set"));
    }
    let tool = scheduler.tool();
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| dir.join(tool).is_file() || dir.join(format!("{tool}.exe")).is_file())
    });
    if on_path {
        Ok(())
    } else {
        Err(format!("{tool} was not found"))
    }
}

/// What became of the scheduler's commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// They ran (or there were none).
    Ran,
    /// They were not run, for this reason; these are the commands to run by hand.
    NotRun { why: String, commands: Vec<String> },
}

/// Runs the commands in turn (stopping at the first that fails and may not), unless the tool
/// cannot be called (`usable`, from [`scheduler_usable`] or a caller that must not call it).
pub fn apply(commands: &[SchedulerCommand], usable: Result<(), String>) -> Result<Applied, String> {
    if commands.is_empty() {
        return Ok(Applied::Ran);
    }
    if let Err(why) = usable {
        return Ok(Applied::NotRun {
            why,
            commands: commands.iter().map(SchedulerCommand::display).collect(),
        });
    }
    for command in commands {
        match command.run() {
            Ok(_) => {}
            Err(e) if command.may_fail => {
                tracing::debug!(error = %e, "scheduler command failed as it may");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Applied::Ran)
}

/// What installing a schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub files: Vec<PathBuf>,
    /// `Err`: written but the scheduler's tool failed to load it.
    pub loaded: Result<Applied, String>,
}

/// Writes the run's entry (replacing one of the same name) and loads it into the scheduler.
pub fn install(
    store: &ScheduleStore,
    run: &ScheduledRun,
    usable: Result<(), String>,
) -> Result<Installed, ScheduleStoreError> {
    let scheduler = store.scheduler();
    let today = chrono::Local::now().date_naive();
    let files = store.write(run, today)?;
    let loaded = apply(&scheduler.activate_commands(run, &files), usable);
    Ok(Installed { files, loaded })
}

/// The lines of the scheduler's report worth repeating: next and last run, last result.
fn status_line(scheduler: &Scheduler, line: &str) -> bool {
    let line = line.trim();
    match scheduler {
        Scheduler::Systemd { .. } => !line.is_empty(),
        Scheduler::TaskScheduler { .. } => {
            ["Next Run Time", "Last Run Time", "Last Result", "Status"]
                .iter()
                .any(|key| line.starts_with(key))
        }
        Scheduler::Launchd { .. } => line.contains("LastExitStatus") || line.contains("\"PID\""),
    }
}

/// The scheduler's report of a schedule's next and last run and last exit status, one line
/// each (`Err`: the scheduler does not know it).
pub fn status_lines(scheduler: &Scheduler, run: &ScheduledRun) -> Result<Vec<String>, String> {
    scheduler.status_command(run).run().map(|text| {
        text.lines()
            .filter(|l| status_line(scheduler, l))
            .map(|l| l.trim().to_owned())
            .collect()
    })
}

/// A schedule and what the scheduler says of it, for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSchedule {
    pub schedule: InstalledSchedule,
    pub command_line: String,
    /// `None`: the scheduler was not asked (see [`scheduler_usable`]).
    pub status: Option<Result<Vec<String>, String>>,
}

/// Every schedule this product installed, with the scheduler's report when it may be asked,
/// and the records that could not be read.
pub fn show(
    store: &ScheduleStore,
    usable: &Result<(), String>,
) -> Result<(Vec<ShownSchedule>, Vec<String>), ScheduleStoreError> {
    let (list, problems) = store.list()?;
    let shown = list
        .into_iter()
        .map(|schedule| ShownSchedule {
            command_line: run_command_line(&schedule.run),
            status: usable
                .is_ok()
                .then(|| status_lines(store.scheduler(), &schedule.run)),
            schedule,
        })
        .collect();
    Ok((shown, problems))
}

/// What removing one schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub description: String,
    /// The files deleted, or why the entry could not be deleted.
    pub deleted: Result<Vec<PathBuf>, String>,
    /// Why the scheduler was not told (or failed to unload it), if so.
    pub unloaded: Result<Applied, String>,
}

/// Removes the `chosen` schedules, unloading each from the scheduler, then tells the
/// scheduler once.
pub fn remove(
    store: &ScheduleStore,
    chosen: &[&InstalledSchedule],
    usable: &Result<(), String>,
) -> (Vec<Removed>, Result<Applied, String>) {
    let scheduler = store.scheduler();
    let removed = chosen
        .iter()
        .map(|schedule| {
            let files: Vec<_> = schedule.files.iter().map(|(p, _)| p.clone()).collect();
            let unloaded = apply(
                &scheduler.deactivate_commands(&schedule.run, &files),
                usable.clone(),
            );
            Removed {
                description: schedule.run.describe(),
                deleted: store.delete(schedule).map_err(|e| e.to_string()),
                unloaded,
            }
        })
        .collect();
    let after = apply(&scheduler.after_remove_commands(), usable.clone());
    (removed, after)
}
