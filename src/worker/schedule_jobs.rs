//! The window's "Schedule…" work on the worker: show, install or remove a scheduled run
//! through `engine::schedule`, the code `schedule install|show|remove` runs.

use std::convert::Infallible;

use super::{Job, JobContext, JobError, JobKind};
use crate::domain::schedule::{RunTime, ScheduleTarget};
use crate::engine::schedule::{self, Applied, ShownSchedule};
use crate::storage::AppDirs;
use crate::storage::schedule::{ScheduleStore, Scheduler};

/// Where the window writes scheduler entries instead of the platform's place (tests), and
/// whether it may call the scheduler's tool there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulePlace {
    pub scheduler: Scheduler,
    pub call_tool: bool,
}

/// What "Schedule…" asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleWork {
    Show,
    Install {
        target: ScheduleTarget,
        time: RunTime,
    },
    Remove {
        target: ScheduleTarget,
    },
}

/// Shows, installs or removes a schedule, then reads the schedules again.
#[derive(Debug)]
pub struct ScheduleJob {
    pub dirs: AppDirs,
    /// `None`: this machine's scheduler.
    pub place: Option<SchedulePlace>,
    pub work: ScheduleWork,
}

/// What the dialog shows after a schedule job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleAnswer {
    /// What was done, in words (`Err`: it failed).
    pub done: Option<Result<String, String>>,
    /// The scheduler's commands that were not run, with why: to run by hand.
    pub not_run: Option<(String, Vec<String>)>,
    pub schedules: Vec<ShownSchedule>,
    /// Records that could not be read.
    pub problems: Vec<String>,
}

impl Job for ScheduleJob {
    const KIND: JobKind = JobKind::new("Schedule");
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = Infallible;
    type Outcome = Result<ScheduleAnswer, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        tokio::task::spawn_blocking(move || self.run_blocking())
            .await
            .map_err(|e| JobError::Other(format!("the schedule work stopped: {e}")))?
    }
}

fn not_run(applied: &Result<Applied, String>, answer: &mut ScheduleAnswer) {
    if let Ok(Applied::NotRun { why, commands }) = applied {
        answer.not_run = Some((why.clone(), commands.clone()));
    }
}

impl ScheduleJob {
    fn run_blocking(self) -> Result<ScheduleAnswer, JobError> {
        let (store, usable) = store_of(&self.dirs, self.place)?;
        let mut answer = ScheduleAnswer::default();
        answer.done = match self.work {
            ScheduleWork::Show => None,
            ScheduleWork::Install { target, time } => Some(install(
                &self.dirs,
                &store,
                target,
                time,
                &usable,
                &mut answer,
            )),
            ScheduleWork::Remove { target } => Some(remove(&store, &target, &usable, &mut answer)?),
        };
        let (schedules, problems) =
            schedule::show(&store, &usable).map_err(|e| JobError::Other(e.to_string()))?;
        answer.schedules = schedules;
        answer.problems = problems;
        Ok(answer)
    }
}

/// The store the job writes to, and whether the scheduler's tool may be called (`Err`: why not).
fn store_of(
    dirs: &AppDirs,
    place: Option<SchedulePlace>,
) -> Result<(ScheduleStore, Result<(), String>), JobError> {
    Ok(match place {
        Some(place) => {
            let usable = if place.call_tool {
                schedule::scheduler_usable(&place.scheduler)
            } else {
                Err("the scheduler's place was given for a test".into())
            };
            (ScheduleStore::new(dirs, place.scheduler), usable)
        }
        None => {
            let store =
                schedule::platform_store(dirs).map_err(|e| JobError::Other(e.to_string()))?;
            let usable = schedule::scheduler_usable(store.scheduler());
            (store, usable)
        }
    })
}

/// Installs the schedule of `target` at `time`; what was done in words (`Err`: it failed).
fn install(
    dirs: &AppDirs,
    store: &ScheduleStore,
    target: ScheduleTarget,
    time: RunTime,
    usable: &Result<(), String>,
    answer: &mut ScheduleAnswer,
) -> Result<String, String> {
    schedule::check_target(dirs, &target).map_err(|e| e.to_string())?;
    let run = schedule::scheduled_run(target, time).map_err(|e| e.to_string())?;
    let installed =
        schedule::install(store, &run, usable.clone()).map_err(|e| format!("schedule: {e}"))?;
    not_run(&installed.loaded, answer);
    let scheduler = store.scheduler().name();
    let mut text = format!("Scheduled: {} ({scheduler}).", run.describe());
    if let Some(warning) = run.time.short_month_warning() {
        text.push_str(&format!(" Warning: {warning}."));
    }
    match installed.loaded {
        Ok(Applied::Ran) => Ok(format!("{text} Loaded into the {scheduler}.")),
        Ok(Applied::NotRun { .. }) => Ok(format!("{text} Not loaded into the scheduler.")),
        Err(e) => Err(format!(
            "{text} Written, but it could not be loaded: {e}; fix that and install it again."
        )),
    }
}

/// Removes the schedules of `target`; what was done in words (`Err`: one was not removed).
fn remove(
    store: &ScheduleStore,
    target: &ScheduleTarget,
    usable: &Result<(), String>,
    answer: &mut ScheduleAnswer,
) -> Result<Result<String, String>, JobError> {
    let (list, _) = store.list().map_err(|e| JobError::Other(e.to_string()))?;
    let chosen: Vec<_> = list.iter().filter(|s| &s.run.target == target).collect();
    if chosen.is_empty() {
        return Ok(Ok(format!(
            "No scheduled sync of {} to remove.",
            target.describe()
        )));
    }
    let (removed, after) = schedule::remove(store, &chosen, usable);
    not_run(&after, answer);
    let mut texts = Vec::new();
    let mut failed = false;
    for r in removed {
        not_run(&r.unloaded, answer);
        match r.deleted {
            Ok(_) => texts.push(format!("Removed: {}.", r.description)),
            Err(e) => {
                failed = true;
                texts.push(format!("{}: not removed: {e}", r.description));
            }
        }
    }
    let text = texts.join(" ");
    Ok(if failed { Err(text) } else { Ok(text) })
}
