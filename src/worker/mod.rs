//! Background work for the window: a runner that owns a tokio runtime and runs the engine's use
//! cases as jobs, with progress, cancellation and an epoch.
//!
//! A job is a type implementing [`Job`]: its kind (one job of a kind runs at a time), what it
//! reports while running, what it answers, and how it runs. The state that started it (the
//! window) implements [`Handles`] for the job to take its progress and its answer. The window
//! never waits on I/O: it starts jobs on the [`Worker`], drains [`WorkerEvent`]s each frame and
//! applies them; the worker asks for a repaint after each event.
//!
//! The epoch is how a late answer is kept out: when the window leaves a profile it starts a new
//! epoch, which cancels the jobs that belong to the profile, and answers of jobs started in an
//! older epoch are dropped instead of applied.

mod jobs;
mod runner;
mod schedule_jobs;
mod tenant_jobs;

use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use crate::engine::EngineError as JobError;
pub use jobs::{
    ExecuteSyncJob, ExecutedSync, ExportJob, Exported, LoadTypesJob, PlanSyncJob, PreviewJob,
    ProfileJob, ReadHistoryJob, SYNC, SetStatusJob, TenantPlan, TestConnectWiseJob,
    TestSynthesizeJob, WindowPreview,
};
pub use runner::{Answer, Worker, WorkerError, WorkerEvent};
pub use schedule_jobs::{ScheduleAnswer, ScheduleJob, SchedulePlace, ScheduleWork};
pub use tenant_jobs::{
    PlanAllJob, PlanFailure, PlannedTenant, PreviewAllJob, PreviewTotals, SendAllJob,
    SetWebhookJob, TenantPlanEntry, TenantPreviewed, TenantSendResult, TenantStep,
    TenantsOverviewJob, TestNotificationJob,
};

/// A kind of job, named by its label; one job of each kind may run at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKind {
    label: &'static str,
}

impl JobKind {
    pub const fn new(label: &'static str) -> Self {
        Self { label }
    }

    /// The words the log uses for it ("Preview started").
    pub fn label(self) -> &'static str {
        self.label
    }
}

/// Something the worker can run.
pub trait Job: Send + 'static {
    /// Its kind: a second job of the same kind is refused while this one runs.
    const KIND: JobKind;
    /// Whether a new epoch (the window left the profile) cancels it. A sync is not cancelled
    /// that way: the window does not leave a profile while it syncs.
    const CANCELLED_BY_NEW_EPOCH: bool = true;
    /// Whether its answer is applied even after a new epoch: work that itself moves the window
    /// to another profile (saving, opening, renaming one) must always land.
    const ANSWERS_ACROSS_EPOCHS: bool = false;
    /// What it reports while running (`Infallible` when it reports nothing).
    type Progress: Send + 'static;
    /// What it answers when it ends.
    type Outcome: Send + 'static;

    fn run(self, context: JobContext<Self::Progress>)
    -> impl Future<Output = Self::Outcome> + Send;
}

/// How the state that starts jobs of type `J` takes what they say.
pub trait Handles<J: Job> {
    fn on_progress(&mut self, _progress: J::Progress) {}
    fn on_outcome(&mut self, outcome: J::Outcome);
}

type ProgressFn<P> = Arc<dyn Fn(P) + Send + Sync>;

/// What a running job gets: where its progress goes and its cancellation.
pub struct JobContext<P> {
    progress: ProgressFn<P>,
    cancel: CancellationToken,
}

impl<P> std::fmt::Debug for JobContext<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl<P> JobContext<P> {
    /// Sends one progress report to the window.
    pub fn report(&self, progress: P) {
        (self.progress)(progress);
    }

    /// Cancelled when the window cancels this kind of job or starts a new epoch.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }
}
