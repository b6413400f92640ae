//! The worker thread: owns a tokio runtime, runs one job per kind, sends events back and asks
//! the window to repaint after each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use tokio_util::sync::CancellationToken;

use super::JobKind;
use crate::domain::sync_plan::LastSent;
use crate::engine::sync::{PlannedSync, SyncReport, SyncRequest, SyncSession, SyncUpdate};
use crate::engine::{
    self, ConnectWiseSettings, ConnectionReport, EngineError as JobError, FetchProgress,
    IntegrationData, IntegrationStatus, PreviewOutcome, PreviewRequest, SynthesizeSettings,
};
use crate::storage::Journal;

/// A job the worker can run.
#[derive(Debug)]
pub enum Job {
    Preview(PreviewRequest),
    TestConnectWise(ConnectWiseSettings),
    TestSynthesize(SynthesizeSettings),
    /// Reads Synthesize and the last counts sent and makes the plan; sends nothing.
    PlanSync(Box<PlanSyncJob>),
    /// Runs a confirmed plan (also "Retry failed" and "revert to these counts").
    ExecuteSync(Box<ExecuteSyncJob>),
    SetStatus(SynthesizeSettings, IntegrationStatus),
}

/// What planning a sync needs.
#[derive(Debug)]
pub struct PlanSyncJob {
    pub request: SyncRequest,
    pub last_sent: LastSent,
}

/// What running a confirmed plan needs.
#[derive(Debug)]
pub struct ExecuteSyncJob {
    pub request: SyncRequest,
    pub planned: PlannedSync,
    pub journal: Option<Arc<Journal>>,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Preview(_) => JobKind::Preview,
            Job::TestConnectWise(_) => JobKind::TestConnectWise,
            Job::TestSynthesize(_) => JobKind::TestSynthesize,
            Job::PlanSync(_) | Job::ExecuteSync(_) => JobKind::Sync,
            Job::SetStatus(..) => JobKind::Status,
        }
    }
}

/// What the window asks the worker to do.
// Commands are sent a few times a minute, by value, once: boxing the big variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum WorkerCommand {
    Start(Job),
    Cancel(JobKind),
}

/// What the worker tells the window.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    Started(JobKind),
    /// A job of this kind is already running; the new one was not started.
    Busy(JobKind),
    PreviewProgress(FetchProgress),
    PreviewFinished(Result<PreviewOutcome, JobError>),
    ConnectWiseTested(Result<ConnectionReport, JobError>),
    SynthesizeTested(Result<IntegrationData, JobError>),
    SyncPlanned(Result<Box<PlannedSync>, JobError>),
    SyncUpdate(SyncUpdate),
    SyncFinished(Result<Box<SyncReport>, JobError>),
    StatusSet(Result<IntegrationStatus, JobError>),
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("could not start the background worker: {0}")]
    Start(String),
}

type Notify = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
struct EventSink {
    tx: mpsc::Sender<WorkerEvent>,
    notify: Notify,
}

impl EventSink {
    fn send(&self, event: WorkerEvent) {
        // The window may have closed; then nobody is listening and that is fine.
        let _ = self.tx.send(event);
        (self.notify)();
    }
}

/// The handle the window keeps: send commands, drain events.
pub struct Worker {
    runtime: Arc<tokio::runtime::Runtime>,
    sink: EventSink,
    events: mpsc::Receiver<WorkerEvent>,
    running: Arc<Mutex<HashMap<JobKind, CancellationToken>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts the runtime. `notify` is called after every event (the window's repaint request).
    pub fn spawn(notify: impl Fn() + Send + Sync + 'static) -> Result<Self, WorkerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cw-worker")
            .enable_all()
            .build()
            .map_err(|e| WorkerError::Start(e.to_string()))?;
        let (tx, events) = mpsc::channel();
        Ok(Self {
            runtime: Arc::new(runtime),
            sink: EventSink {
                tx,
                notify: Arc::new(notify),
            },
            events,
            running: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The worker's runtime, for front ends that need to run something of their own on it.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Whether a job of this kind is running.
    pub fn is_running(&self, kind: JobKind) -> bool {
        self.running
            .lock()
            .map(|r| r.contains_key(&kind))
            .unwrap_or(false)
    }

    /// Everything the worker has said since the last call.
    pub fn poll(&self) -> Vec<WorkerEvent> {
        self.events.try_iter().collect()
    }

    /// Starts a job or cancels one. Never blocks on I/O.
    pub fn send(&self, command: WorkerCommand) {
        let job = match command {
            WorkerCommand::Start(job) => job,
            WorkerCommand::Cancel(kind) => {
                if let Ok(running) = self.running.lock()
                    && let Some(token) = running.get(&kind)
                {
                    token.cancel();
                }
                return;
            }
        };
        let kind = job.kind();
        let cancel = CancellationToken::new();
        {
            let Ok(mut running) = self.running.lock() else {
                return;
            };
            if running.contains_key(&kind) {
                self.sink.send(WorkerEvent::Busy(kind));
                return;
            }
            running.insert(kind, cancel.clone());
        }
        self.sink.send(WorkerEvent::Started(kind));
        let sink = self.sink.clone();
        let running = Arc::clone(&self.running);
        self.runtime.spawn(async move {
            let event = run(job, &sink, &cancel).await;
            if let Ok(mut r) = running.lock() {
                r.remove(&kind);
            }
            sink.send(event);
        });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(running) = self.running.lock() {
            for token in running.values() {
                token.cancel();
            }
        }
    }
}

async fn run(job: Job, sink: &EventSink, cancel: &CancellationToken) -> WorkerEvent {
    match job {
        Job::Preview(request) => {
            let progress_sink = sink.clone();
            let progress =
                move |p: FetchProgress| progress_sink.send(WorkerEvent::PreviewProgress(p));
            WorkerEvent::PreviewFinished(engine::run_preview(&request, &progress, cancel).await)
        }
        Job::TestConnectWise(settings) => WorkerEvent::ConnectWiseTested(
            engine::connection::test_connectwise(&settings, cancel).await,
        ),
        Job::TestSynthesize(settings) => WorkerEvent::SynthesizeTested(
            engine::connection::test_synthesize(&settings, cancel).await,
        ),
        Job::PlanSync(job) => {
            let planned = async {
                let session = SyncSession::new(&job.request.synthesize)?;
                session.plan(&job.request, &job.last_sent, cancel).await
            };
            WorkerEvent::SyncPlanned(planned.await.map(Box::new))
        }
        Job::ExecuteSync(job) => {
            let session = match SyncSession::new(&job.request.synthesize) {
                Ok(session) => session,
                Err(e) => return WorkerEvent::SyncFinished(Err(e)),
            };
            let update_sink = sink.clone();
            let on_update = move |u: SyncUpdate| update_sink.send(WorkerEvent::SyncUpdate(u));
            let report = session
                .execute(
                    &job.planned,
                    &job.request,
                    job.journal.as_deref(),
                    &on_update,
                    cancel,
                )
                .await;
            WorkerEvent::SyncFinished(Ok(Box::new(report)))
        }
        Job::SetStatus(settings, status) => {
            WorkerEvent::StatusSet(engine::status::set_status(&settings, status, cancel).await)
        }
    }
}
