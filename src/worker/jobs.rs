//! The window's jobs, one type each: what it needs, its kind, and which use case it runs.

use std::convert::Infallible;
use std::sync::Arc;

use super::{Job, JobContext, JobError, JobKind};
use crate::domain::counting::CompanyCounts;
use crate::domain::csv_export::CsvDelimiter;
use crate::domain::sync_plan::LastSent;
use crate::engine::profile_work::{ProfileWork, ProfileWorkOutcome, run_profile_work};
use crate::engine::sync::{PlannedSync, SyncReport, SyncRequest, SyncSession, SyncUpdate};
use crate::engine::tenant::{HistoryPlace, TenantHistory, TenantPlace};
use crate::engine::{
    self, ConnectWiseSettings, ConnectionReport, FetchProgress, IntegrationData, IntegrationStatus,
    PreviewOutcome, PreviewRequest, SynthesizeSettings,
};
use crate::storage::journal::JournalReadout;
use crate::storage::reports::ReportFiles;
use crate::storage::{AppDirs, ProfileStore, ReportError, SecretStore};

/// Runs file or keychain work on tokio's blocking threads (it blocks, so never on the runtime's
/// own); `what` names it if the thread stops before answering.
pub(super) async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| JobError::Other(format!("{what} stopped: {e}")))
}

/// Planning and running a sync share one kind: one sync at a time, whichever its step.
pub const SYNC: JobKind = JobKind::new("Sync");

/// Fetches and counts the tenant's configurations, then reads what was last sent to it.
#[derive(Debug)]
pub struct PreviewJob {
    pub request: PreviewRequest,
    /// Where the tenant's history is (`None`: it has none to read, as in a demo without a folder).
    pub history: Option<HistoryPlace>,
}

/// A preview and the counts last sent to the tenant, for the table's "last sent" column.
#[derive(Debug)]
pub struct WindowPreview {
    pub outcome: PreviewOutcome,
    /// `Err`: the history could not be read (the preview itself stands).
    pub last_sent: Result<LastSent, String>,
}

impl Job for PreviewJob {
    const KIND: JobKind = JobKind::new("Preview");
    type Progress = FetchProgress;
    type Outcome = Result<Box<WindowPreview>, JobError>;

    async fn run(self, context: JobContext<FetchProgress>) -> Self::Outcome {
        let progress = |p: FetchProgress| context.report(p);
        let outcome = engine::run_preview(&self.request, &progress, context.cancel()).await?;
        let last_sent = match self.history {
            Some(place) => blocking("reading the history", move || {
                engine::tenant::read_history(&place)
            })
            .await
            .and_then(|read| read)
            .map(|readout| readout.last_sent())
            .map_err(|e| e.to_string()),
            None => Ok(LastSent::new()),
        };
        Ok(Box::new(WindowPreview { outcome, last_sent }))
    }
}

/// ConnectWise's "Test connection".
#[derive(Debug)]
pub struct TestConnectWiseJob(pub ConnectWiseSettings);

impl Job for TestConnectWiseJob {
    const KIND: JobKind = JobKind::new("ConnectWise connection test");
    type Progress = Infallible;
    type Outcome = Result<ConnectionReport, JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        engine::connection::test_connectwise(&self.0, context.cancel()).await
    }
}

/// Lists the tenant's configuration type names for the counting options' pick list.
#[derive(Debug)]
pub struct LoadTypesJob(pub ConnectWiseSettings);

impl Job for LoadTypesJob {
    const KIND: JobKind = JobKind::new("Loading the configuration types");
    type Progress = Infallible;
    type Outcome = Result<Vec<String>, JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        engine::connection::configuration_types(&self.0, context.cancel()).await
    }
}

/// Synthesize's "Test connection".
#[derive(Debug)]
pub struct TestSynthesizeJob(pub SynthesizeSettings);

impl Job for TestSynthesizeJob {
    const KIND: JobKind = JobKind::new("Synthesize connection test");
    type Progress = Infallible;
    type Outcome = Result<IntegrationData, JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        engine::connection::test_synthesize(&self.0, context.cancel()).await
    }
}

/// Names the tenant, reads its history and Synthesize, and makes the plan; sends nothing.
#[derive(Debug)]
pub struct PlanSyncJob {
    pub request: SyncRequest,
    pub place: TenantPlace,
}

/// A plan, the request it was made from (with what the history added) and the tenant's history
/// it was planned against.
#[derive(Debug)]
pub struct TenantPlan {
    pub planned: PlannedSync,
    pub request: SyncRequest,
    pub history: TenantHistory,
}

impl Job for PlanSyncJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    type Progress = Infallible;
    type Outcome = Result<Box<TenantPlan>, JobError>;

    async fn run(mut self, context: JobContext<Infallible>) -> Self::Outcome {
        let session = SyncSession::new(&self.request.synthesize)?;
        let history = session.open_tenant(&self.place, context.cancel()).await?;
        let planned = session
            .plan_for_tenant(&mut self.request, &history, context.cancel())
            .await?;
        Ok(Box::new(TenantPlan {
            planned,
            request: self.request,
            history,
        }))
    }
}

/// Runs a confirmed plan (also "Retry failed" and "revert to these counts") under the tenant's
/// run lock, and only when nothing was written to the tenant's history since it was planned.
#[derive(Debug)]
pub struct ExecuteSyncJob {
    pub request: SyncRequest,
    pub planned: PlannedSync,
    pub history: TenantHistory,
    pub dirs: AppDirs,
}

/// What a run did, and the tenant's history after it (the baseline of a retry); `None` when
/// it could not be read again.
#[derive(Debug)]
pub struct ExecutedSync {
    pub report: SyncReport,
    pub history: Option<TenantHistory>,
    /// The run report written after the run (`Ok(None)`: the run stopped before its first
    /// journal line, so there is nothing to report), or why it could not be written.
    pub report_files: Result<Option<ReportFiles>, String>,
}

impl Job for ExecuteSyncJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    type Progress = SyncUpdate;
    type Outcome = Result<Box<ExecutedSync>, JobError>;

    async fn run(self, context: JobContext<SyncUpdate>) -> Self::Outcome {
        let session = SyncSession::new(&self.request.synthesize)?;
        let (report, history) = session
            .execute_for_tenant(
                &self.planned,
                &self.request,
                &self.history,
                &self.dirs,
                &|u: SyncUpdate| context.report(u),
                context.cancel(),
            )
            .await?;
        let report_files =
            match engine::report::write_report(&self.dirs, &self.history.journal, &report.run_id) {
                Ok(files) => Ok(Some(files)),
                Err(ReportError::NoSuchRun(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            };
        Ok(Box::new(ExecutedSync {
            report,
            history,
            report_files,
        }))
    }
}

/// Sets the integration's status in Synthesize.
#[derive(Debug)]
pub struct SetStatusJob {
    pub settings: SynthesizeSettings,
    pub status: IntegrationStatus,
}

impl Job for SetStatusJob {
    const KIND: JobKind = JobKind::new("Integration status");
    type Progress = Infallible;
    type Outcome = Result<IntegrationStatus, JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        engine::status::set_status(&self.settings, self.status, context.cancel()).await
    }
}

/// Saves, opens, creates, renames, duplicates or deletes profiles: files and keychain, off the
/// window's thread. Its answer always lands, even after the profile changed (it is what changes it).
#[derive(Debug)]
pub struct ProfileJob {
    pub store: ProfileStore,
    pub secrets: Arc<dyn SecretStore>,
    pub work: ProfileWork,
}

impl Job for ProfileJob {
    const KIND: JobKind = JobKind::new("Profile files");
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = Infallible;
    type Outcome = Result<Box<ProfileWorkOutcome>, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        let Self {
            store,
            secrets,
            work,
        } = self;
        // Files and the keychain block; they run on tokio's blocking threads.
        blocking("the profile work", move || {
            Box::new(run_profile_work(&store, &secrets, work))
        })
        .await
    }
}

/// Reads the tenant's history for the window's History tab.
#[derive(Debug)]
pub struct ReadHistoryJob(pub HistoryPlace);

impl Job for ReadHistoryJob {
    const KIND: JobKind = JobKind::new("Reading the history");
    type Progress = Infallible;
    type Outcome = Result<JournalReadout, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        blocking("reading the history", move || {
            engine::tenant::read_history(&self.0)
        })
        .await?
    }
}

/// Writes the table's rows as CSV to the file the user chose.
#[derive(Debug)]
pub struct ExportJob {
    pub path: std::path::PathBuf,
    pub companies: Vec<CompanyCounts>,
    pub delimiter: CsvDelimiter,
    pub excel: bool,
}

/// Where an export went and how many companies it holds.
#[derive(Debug)]
pub struct Exported {
    pub path: std::path::PathBuf,
    pub companies: usize,
}

impl Job for ExportJob {
    const KIND: JobKind = JobKind::new("CSV export");
    type Progress = Infallible;
    type Outcome = Result<Exported, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        blocking("the export", move || {
            engine::export::export_csv_in_order(
                &self.path,
                &self.companies,
                self.delimiter,
                self.excel,
            )
            .map(|_| Exported {
                companies: self.companies.len(),
                path: self.path,
            })
            .map_err(|e| JobError::Other(e.to_string()))
        })
        .await?
    }
}
