//! Background work for the window: a worker thread that owns a tokio runtime and runs the
//! engine's use cases (preview, connection tests, sync) as jobs, with progress and cancellation.
//!
//! The window never waits on I/O: it sends a `WorkerCommand`, the worker runs at most one job per
//! `JobKind`, sends `WorkerEvent`s back, and asks for a repaint after each.

mod thread;

pub use crate::engine::EngineError as JobError;
pub use thread::{
    ExecuteSyncJob, Job, PlanSyncJob, Worker, WorkerCommand, WorkerError, WorkerEvent,
};

/// The kinds of job; one of each may run at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    Preview,
    TestConnectWise,
    TestSynthesize,
    Sync,
    Status,
}

impl JobKind {
    pub fn label(self) -> &'static str {
        match self {
            JobKind::Preview => "Preview",
            JobKind::TestConnectWise => "ConnectWise connection test",
            JobKind::TestSynthesize => "Synthesize connection test",
            JobKind::Sync => "Sync",
            JobKind::Status => "Integration status",
        }
    }
}
