//! The runner: owns a tokio runtime, runs one job per kind, sends events back tagged with the
//! epoch the job started in, and asks the window to repaint after each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use tokio_util::sync::CancellationToken;

use super::{Handles, Job, JobContext, JobKind};

/// What the worker tells the state `S` that starts its jobs.
pub enum WorkerEvent<S> {
    Started(JobKind),
    /// A job of this kind is already running; the new one was not started.
    Busy(JobKind),
    /// A job's progress or answer, to apply to the state.
    Answer(Answer<S>),
}

impl<S> std::fmt::Debug for WorkerEvent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerEvent::Started(kind) => f.debug_tuple("Started").field(kind).finish(),
            WorkerEvent::Busy(kind) => f.debug_tuple("Busy").field(kind).finish(),
            WorkerEvent::Answer(answer) => answer.fmt(f),
        }
    }
}

/// A job's progress or answer, applied to the state through its [`Handles`] implementation.
pub struct Answer<S> {
    kind: JobKind,
    apply: Box<dyn FnOnce(&mut S) + Send>,
}

impl<S> std::fmt::Debug for Answer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<S> Answer<S> {
    /// The kind of job that sent it.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    pub fn apply(self, state: &mut S) {
        (self.apply)(state);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("could not start the background worker: {0}")]
    Start(String),
}

type Notify = Arc<dyn Fn() + Send + Sync>;

/// An event and the epoch its job started in.
struct Message<S> {
    epoch: u64,
    event: WorkerEvent<S>,
}

/// Where a job's events go: the channel and the repaint request.
struct Poster<S> {
    tx: mpsc::Sender<Message<S>>,
    notify: Notify,
}

impl<S> Clone for Poster<S> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            notify: Arc::clone(&self.notify),
        }
    }
}

impl<S> Poster<S> {
    fn post(&self, epoch: u64, event: WorkerEvent<S>) {
        // The window may have closed; then nobody is listening and that is fine.
        let _ = self.tx.send(Message { epoch, event });
        (self.notify)();
    }
}

struct Running {
    cancel: CancellationToken,
    cancelled_by_new_epoch: bool,
}

/// The epoch of the answers that are applied whatever the window's epoch.
const ANY_EPOCH: u64 = u64::MAX;

/// The handle the window keeps: start and cancel jobs, drain events.
pub struct Worker<S> {
    runtime: Arc<tokio::runtime::Runtime>,
    poster: Poster<S>,
    events: mpsc::Receiver<Message<S>>,
    running: Arc<Mutex<HashMap<JobKind, Running>>>,
    epoch: u64,
}

impl<S> std::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl<S: 'static> Worker<S> {
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
            poster: Poster {
                tx,
                notify: Arc::new(notify),
            },
            events,
            running: Arc::new(Mutex::new(HashMap::new())),
            epoch: 0,
        })
    }

    /// Whether a job of this kind is running.
    pub fn is_running(&self, kind: JobKind) -> bool {
        self.running
            .lock()
            .map(|r| r.contains_key(&kind))
            .unwrap_or(false)
    }

    /// Everything the worker has said since the last call, less the answers of jobs started in
    /// an older epoch.
    pub fn poll(&self) -> Vec<WorkerEvent<S>> {
        self.events
            .try_iter()
            .filter(|m| {
                m.epoch == self.epoch
                    || m.epoch == ANY_EPOCH
                    || !matches!(m.event, WorkerEvent::Answer(_))
            })
            .map(|m| m.event)
            .collect()
    }

    /// Cancels the running job of this kind, if any; its answer still comes (usually
    /// "cancelled").
    pub fn cancel(&self, kind: JobKind) {
        if let Ok(running) = self.running.lock()
            && let Some(job) = running.get(&kind)
        {
            job.cancel.cancel();
        }
    }

    /// Leaves the current jobs behind: those that belong to the epoch are cancelled, and no
    /// answer of a job started before now is applied.
    pub fn new_epoch(&mut self) {
        self.epoch += 1;
        if let Ok(running) = self.running.lock() {
            for job in running.values().filter(|j| j.cancelled_by_new_epoch) {
                job.cancel.cancel();
            }
        }
    }

    /// Starts a job, or answers `Busy` when one of its kind is running. Never blocks on I/O.
    pub fn start<J: Job>(&self, job: J)
    where
        S: Handles<J>,
    {
        let kind = J::KIND;
        let epoch = if J::ANSWERS_ACROSS_EPOCHS {
            ANY_EPOCH
        } else {
            self.epoch
        };
        let cancel = CancellationToken::new();
        {
            let Ok(mut running) = self.running.lock() else {
                return;
            };
            if running.contains_key(&kind) {
                self.poster.post(epoch, WorkerEvent::Busy(kind));
                return;
            }
            running.insert(
                kind,
                Running {
                    cancel: cancel.clone(),
                    cancelled_by_new_epoch: J::CANCELLED_BY_NEW_EPOCH,
                },
            );
        }
        self.poster.post(epoch, WorkerEvent::Started(kind));
        let progress_poster = self.poster.clone();
        let context = JobContext {
            progress: Arc::new(move |progress: J::Progress| {
                let apply = move |state: &mut S| state.on_progress(progress);
                let answer = Answer {
                    kind,
                    apply: Box::new(apply),
                };
                progress_poster.post(epoch, WorkerEvent::Answer(answer));
            }),
            cancel,
        };
        let poster = self.poster.clone();
        let running = Arc::clone(&self.running);
        self.runtime.spawn(async move {
            let outcome = job.run(context).await;
            if let Ok(mut r) = running.lock() {
                r.remove(&kind);
            }
            let apply = move |state: &mut S| state.on_outcome(outcome);
            let answer = Answer {
                kind,
                apply: Box::new(apply),
            };
            poster.post(epoch, WorkerEvent::Answer(answer));
        });
    }
}

impl<S> Drop for Worker<S> {
    fn drop(&mut self) {
        if let Ok(running) = self.running.lock() {
            for job in running.values() {
                job.cancel.cancel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use super::*;

    /// Waits on its gate (or its cancellation), reports once, and answers its number.
    struct Gated {
        number: u32,
        gate: Arc<tokio::sync::Notify>,
    }

    impl Job for Gated {
        const KIND: JobKind = JobKind::new("Gated");
        type Progress = u32;
        type Outcome = Result<u32, &'static str>;

        async fn run(self, context: JobContext<u32>) -> Self::Outcome {
            context.report(self.number * 10);
            tokio::select! {
                () = self.gate.notified() => Ok(self.number),
                () = context.cancel().cancelled() => Err("cancelled"),
            }
        }
    }

    #[derive(Default)]
    struct Seen {
        progress: Vec<u32>,
        outcomes: Vec<Result<u32, &'static str>>,
        started: usize,
        busy: usize,
    }

    impl Handles<Gated> for Seen {
        fn on_progress(&mut self, progress: u32) {
            self.progress.push(progress);
        }

        fn on_outcome(&mut self, outcome: Result<u32, &'static str>) {
            self.outcomes.push(outcome);
        }
    }

    fn pump(worker: &Worker<Seen>, seen: &mut Seen, until: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !until(seen) {
            assert!(
                Instant::now() < deadline,
                "the worker did not answer in time"
            );
            for event in worker.poll() {
                match event {
                    WorkerEvent::Started(_) => seen.started += 1,
                    WorkerEvent::Busy(_) => seen.busy += 1,
                    WorkerEvent::Answer(answer) => answer.apply(seen),
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn one_job_per_kind_runs_and_its_progress_and_answer_reach_the_state() {
        let worker = Worker::<Seen>::spawn(|| {}).unwrap();
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut seen = Seen::default();
        worker.start(Gated {
            number: 1,
            gate: Arc::clone(&gate),
        });
        worker.start(Gated {
            number: 2,
            gate: Arc::clone(&gate),
        });
        pump(&worker, &mut seen, |s| s.progress == [10] && s.busy == 1);
        assert_eq!(seen.started, 1);
        assert!(worker.is_running(Gated::KIND));
        gate.notify_one();
        pump(&worker, &mut seen, |s| !s.outcomes.is_empty());
        assert_eq!(seen.outcomes, [Ok(1)]);
        assert!(!worker.is_running(Gated::KIND));
    }

    #[test]
    fn cancel_ends_the_running_job_of_that_kind() {
        let worker = Worker::<Seen>::spawn(|| {}).unwrap();
        let mut seen = Seen::default();
        worker.start(Gated {
            number: 3,
            gate: Arc::new(tokio::sync::Notify::new()),
        });
        pump(&worker, &mut seen, |s| s.progress == [30]);
        worker.cancel(Gated::KIND);
        pump(&worker, &mut seen, |s| !s.outcomes.is_empty());
        assert_eq!(seen.outcomes, [Err("cancelled")]);
    }

    #[test]
    fn a_new_epoch_cancels_the_job_and_drops_its_late_answer() {
        let mut worker = Worker::<Seen>::spawn(|| {}).unwrap();
        let mut seen = Seen::default();
        worker.start(Gated {
            number: 4,
            gate: Arc::new(tokio::sync::Notify::new()),
        });
        pump(&worker, &mut seen, |s| s.progress == [40]);
        worker.new_epoch();
        let deadline = Instant::now() + Duration::from_secs(5);
        while worker.is_running(Gated::KIND) {
            assert!(
                Instant::now() < deadline,
                "the new epoch did not cancel the job"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The cancelled job's answer was sent, in the old epoch: it is not applied.
        let gate = Arc::new(tokio::sync::Notify::new());
        worker.start(Gated {
            number: 5,
            gate: Arc::clone(&gate),
        });
        gate.notify_one();
        pump(&worker, &mut seen, |s| !s.outcomes.is_empty());
        assert_eq!(seen.outcomes, [Ok(5)]);
        assert_eq!(seen.progress, [40, 50]);
    }

    /// A job whose answer lands whatever the epoch (like the window's profile work).
    struct Lasting(Gated);

    impl Job for Lasting {
        const KIND: JobKind = JobKind::new("Lasting");
        const CANCELLED_BY_NEW_EPOCH: bool = false;
        const ANSWERS_ACROSS_EPOCHS: bool = true;
        type Progress = u32;
        type Outcome = Result<u32, &'static str>;

        async fn run(self, context: JobContext<u32>) -> Self::Outcome {
            self.0.run(context).await
        }
    }

    impl Handles<Lasting> for Seen {
        fn on_outcome(&mut self, outcome: Result<u32, &'static str>) {
            self.outcomes.push(outcome);
        }
    }

    #[test]
    fn a_job_that_answers_across_epochs_is_neither_cancelled_nor_dropped_by_one() {
        let mut worker = Worker::<Seen>::spawn(|| {}).unwrap();
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut seen = Seen::default();
        worker.start(Lasting(Gated {
            number: 7,
            gate: Arc::clone(&gate),
        }));
        pump(&worker, &mut seen, |s| s.started == 1);
        worker.new_epoch();
        worker.new_epoch();
        gate.notify_one();
        pump(&worker, &mut seen, |s| !s.outcomes.is_empty());
        assert_eq!(seen.outcomes, [Ok(7)]);
    }

    #[test]
    fn repaint_is_asked_after_every_event() {
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&asked);
        let worker = Worker::<Seen>::spawn(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
        let gate = Arc::new(tokio::sync::Notify::new());
        gate.notify_one();
        let mut seen = Seen::default();
        worker.start(Gated { number: 6, gate });
        pump(&worker, &mut seen, |s| !s.outcomes.is_empty());
        // Started, the progress report and the answer.
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
