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
    self as engine_schedule, Applied, ScheduleFailure, run_command_line, scheduler_usable,
};
use crate::storage::schedule::{
    InstalledSchedule, ScheduleStore, ScheduleStoreError, Scheduler, SchedulerCommand,
};

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
    let scheduler = Scheduler::platform(&dirs).map_err(|e| CliError::Config(e.to_string()))?;
    let store = ScheduleStore::new(&dirs, scheduler);
    match command {
        ScheduleCommand::Install(args) => {
            let target = target(global)?.ok_or_else(|| {
                CliError::Config(
                    "schedule install: name the tenants with --profile NAME or --all-profiles"
                        .into(),
                )
            })?;
            check_target(&dirs, &target)?;
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

fn check_target(dirs: &crate::storage::AppDirs, target: &ScheduleTarget) -> Result<(), CliError> {
    Ok(engine_schedule::check_target(dirs, target)?)
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

/// Runs the commands in turn (stopping at the first that fails and may not), or prints them
/// when the tool cannot be called. `Ok(false)`: they were printed, not run.
fn run_or_print(
    scheduler: &Scheduler,
    commands: &[SchedulerCommand],
    not_run: &str,
) -> Result<bool, String> {
    print_applied(
        engine_schedule::apply(commands, scheduler_usable(scheduler)),
        not_run,
    )
}

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
    let today = chrono::Local::now().date_naive();
    let files = store.write(run, today).map_err(|e| failed(&e))?;
    println!("Scheduled: {} ({}).", run.describe(), scheduler.name());
    println!("Runs: {}", run_command_line(run));
    for file in &files {
        println!("Wrote {}", file.display());
    }
    if let Some(warning) = run.time.short_month_warning() {
        eprintln!("warning: {warning}");
    }
    let loaded = run_or_print(
        scheduler,
        &scheduler.activate_commands(run, &files),
        "Not loaded into the scheduler",
    );
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
    let (list, problems) = store.list().map_err(|e| failed(&e))?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    if list.is_empty() {
        println!(
            "No scheduled syncs. Add one with `cw-shared-devices schedule install --profile NAME --daily 02:00`."
        );
        return Ok(Outcome::Done);
    }
    let scheduler = store.scheduler();
    let status_usable = scheduler_usable(scheduler).is_ok();
    for schedule in &list {
        print_schedule(scheduler, schedule, status_usable);
    }
    Ok(Outcome::Done)
}

fn print_schedule(scheduler: &Scheduler, schedule: &InstalledSchedule, status_usable: bool) {
    let run = &schedule.run;
    println!("{}: {}", run.entry_name(), run.describe());
    println!("  runs: {}", run_command_line(run));
    for (file, exists) in &schedule.files {
        let missing = if *exists { "" } else { " (missing)" };
        println!("  file: {}{missing}", file.display());
    }
    if !status_usable {
        return;
    }
    match engine_schedule::status_lines(scheduler, run) {
        Ok(lines) => {
            for line in lines {
                println!("  {line}");
            }
        }
        Err(e) => println!("  status: not known to the {} ({e})", scheduler.name()),
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
    let scheduler = store.scheduler();
    let mut outcome = Outcome::Done;
    for schedule in chosen {
        let files: Vec<_> = schedule.files.iter().map(|(p, _)| p.clone()).collect();
        if let Err(e) = run_or_print(
            scheduler,
            &scheduler.deactivate_commands(&schedule.run, &files),
            "Not unloaded from the scheduler",
        ) {
            eprintln!("warning: {e}");
        }
        match store.delete(schedule) {
            Ok(removed) => {
                println!("Removed: {}", schedule.run.describe());
                for file in removed {
                    println!("Deleted {}", file.display());
                }
            }
            Err(e) => {
                eprintln!("error: {}", failed(&e));
                outcome = Outcome::Failed;
            }
        }
    }
    if let Err(e) = run_or_print(
        scheduler,
        &scheduler.after_remove_commands(),
        "The scheduler was not told",
    ) {
        eprintln!("warning: {e}");
    }
    Ok(outcome)
}
