//! `schedule install|show|remove`: the system's own scheduler runs this same program headless
//! (`--profile NAME sync`, or `sync --all-profiles`) daily or monthly.
//!
//! The entry is written first; then the scheduler's tool (systemctl, schtasks, launchctl) is
//! called to load it, unless it is missing or `CW_SHARED_DEVICES_NO_SCHEDULER` is set (tests,
//! or a machine where the user loads it themselves): then the commands to run are printed.

use super::args::{GlobalArgs, ScheduleCommand, ScheduleInstallArgs};
use super::settings::app_dirs;
use super::{CliError, Outcome};
use crate::domain::schedule::{ScheduleTarget, ScheduledRun};
use crate::engine::schedule::{
    self as engine_schedule, Applied, ScheduleFailure, ShownSchedule, run_command_line,
    scheduler_usable,
};
use crate::storage::schedule::{InstalledSchedule, ScheduleStore, ScheduleStoreError, Scheduler};

impl From<ScheduleFailure> for CliError {
    fn from(e: ScheduleFailure) -> Self {
        match e {
            ScheduleFailure::Config(text) => CliError::Config(text),
            ScheduleFailure::Failed(text) => CliError::Failed(text),
        }
    }
}

fn failed(e: &ScheduleStoreError) -> CliError {
    CliError::Failed(format!("schedule: {e}"))
}

pub fn run(command: ScheduleCommand, global: &GlobalArgs) -> Result<Outcome, CliError> {
    let dirs = app_dirs()?;
    let store = engine_schedule::platform_store(&dirs)?;
    match command {
        ScheduleCommand::Install(args) => {
            let target = target(global)?.ok_or_else(|| {
                CliError::Config(
                    "schedule install: name the tenants with --profile NAME or --all-profiles"
                        .into(),
                )
            })?;
            engine_schedule::check_target(&dirs, &target)?;
            install(&store, &scheduled_run(target, &args)?)
        }
        ScheduleCommand::Show => show(&store),
        ScheduleCommand::Remove => remove(&store, target(global)?.as_ref()),
    }
}

/// The tenants `--profile` or `--all-profiles` name, if either (not both; not `--profiles`).
fn target(global: &GlobalArgs) -> Result<Option<ScheduleTarget>, CliError> {
    if !global.tenants.profiles.is_empty() {
        return Err(CliError::Config(
            "--profiles: a schedule runs one profile (--profile NAME) or every profile (--all-profiles); install one schedule per profile instead".into(),
        ));
    }
    match (&global.profile, global.tenants.all_profiles) {
        (Some(_), true) => Err(CliError::Config(
            "--profile and --all-profiles: give one or the other".into(),
        )),
        (Some(name), false) => Ok(Some(ScheduleTarget::Profile(name.clone()))),
        (None, true) => Ok(Some(ScheduleTarget::AllProfiles)),
        (None, false) => Ok(None),
    }
}

fn scheduled_run(
    target: ScheduleTarget,
    args: &ScheduleInstallArgs,
) -> Result<ScheduledRun, CliError> {
    let config = |e: crate::domain::schedule::ScheduleError| CliError::Config(e.to_string());
    let time = match (&args.daily, args.monthly.as_slice()) {
        (Some(at), []) => engine_schedule::run_time("--daily", None, at).map_err(config)?,
        (None, [day, at]) => {
            engine_schedule::run_time("--monthly", Some(day), at).map_err(config)?
        }
        _ => {
            return Err(CliError::Config(
                "schedule install: give --daily HH:MM or --monthly DAY HH:MM".into(),
            ));
        }
    };
    Ok(engine_schedule::scheduled_run(target, time)?)
}

/// Prints the commands that were not run (the tool could not be called), with why.
/// `Ok(false)`: they were printed, not run.
fn print_applied(applied: Result<Applied, String>, not_run: &str) -> Result<bool, String> {
    match applied? {
        Applied::Ran => Ok(true),
        Applied::NotRun { why, commands } => {
            println!("{not_run} ({why}); run:");
            for command in commands {
                println!("  {command}");
            }
            Ok(false)
        }
    }
}

fn install(store: &ScheduleStore, run: &ScheduledRun) -> Result<Outcome, CliError> {
    let scheduler = store.scheduler();
    let installed = engine_schedule::install(store, run, scheduler_usable(scheduler))
        .map_err(|e| failed(&e))?;
    println!("Scheduled: {} ({}).", run.describe(), scheduler.name());
    println!("Runs: {}", run_command_line(run));
    for file in &installed.files {
        println!("Wrote {}", file.display());
    }
    if let Some(warning) = run.time.short_month_warning() {
        eprintln!("warning: {warning}");
    }
    let loaded = print_applied(installed.loaded, "Not loaded into the scheduler");
    if let Scheduler::Systemd { .. } = scheduler {
        println!(
            "To run while you are logged out (and after a reboot before you log in): loginctl enable-linger $USER"
        );
    }
    match loaded {
        Ok(true) => {
            println!("Loaded into the {}.", scheduler.name());
            Ok(Outcome::Done)
        }
        Ok(false) => Ok(Outcome::Done),
        Err(e) => Err(CliError::Failed(format!(
            "the {} was written but could not be loaded: {e}; fix that and run `cw-shared-devices schedule install` again",
            scheduler.name()
        ))),
    }
}

fn show(store: &ScheduleStore) -> Result<Outcome, CliError> {
    let scheduler = store.scheduler();
    let (list, problems) =
        engine_schedule::show(store, &scheduler_usable(scheduler)).map_err(|e| failed(&e))?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    if list.is_empty() {
        println!(
            "No scheduled syncs. Add one with `cw-shared-devices schedule install --profile NAME --daily 02:00`."
        );
        return Ok(Outcome::Done);
    }
    for shown in &list {
        print_schedule(scheduler, shown);
    }
    Ok(Outcome::Done)
}

fn print_schedule(scheduler: &Scheduler, shown: &ShownSchedule) {
    let run = &shown.schedule.run;
    println!("{}: {}", run.entry_name(), run.describe());
    println!("  runs: {}", shown.command_line);
    for (file, exists) in &shown.schedule.files {
        let missing = if *exists { "" } else { " (missing)" };
        println!("  file: {}{missing}", file.display());
    }
    match &shown.status {
        None => {}
        Some(Ok(lines)) => {
            for line in lines {
                println!("  {line}");
            }
        }
        Some(Err(e)) => println!("  status: not known to the {} ({e})", scheduler.name()),
    }
}

fn remove(store: &ScheduleStore, target: Option<&ScheduleTarget>) -> Result<Outcome, CliError> {
    let (list, problems) = store.list().map_err(|e| failed(&e))?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    let chosen: Vec<&InstalledSchedule> = list
        .iter()
        .filter(|s| target.is_none_or(|t| &s.run.target == t))
        .collect();
    if chosen.is_empty() {
        let what = target.map_or("any tenant".to_owned(), ScheduleTarget::describe);
        println!("No scheduled sync of {what} to remove.");
        return Ok(Outcome::Done);
    }
    let (removed, after) =
        engine_schedule::remove(store, &chosen, &scheduler_usable(store.scheduler()));
    let mut outcome = Outcome::Done;
    for schedule in removed {
        if let Err(e) = print_applied(schedule.unloaded, "Not unloaded from the scheduler") {
            eprintln!("warning: {e}");
        }
        match schedule.deleted {
            Ok(deleted) => {
                println!("Removed: {}", schedule.description);
                for file in deleted {
                    println!("Deleted {}", file.display());
                }
            }
            Err(e) => {
                eprintln!("error: schedule: {e}");
                outcome = Outcome::Failed;
            }
        }
    }
    if let Err(e) = print_applied(after, "The scheduler was not told") {
        eprintln!("warning: {e}");
    }
    Ok(outcome)
}
