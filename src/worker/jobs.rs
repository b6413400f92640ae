//! The window's jobs, one type each: what it needs, its kind, and which use case it runs.

use std::convert::Infallible;
use std::sync::Arc;

use super::{Job, JobContext, JobError, JobKind};
use crate::domain::sync_plan::LastSent;
use crate::engine::sync::{PlannedSync, SyncReport, SyncRequest, SyncSession, SyncUpdate};
use crate::engine::{
    self, ConnectWiseSettings, ConnectionReport, FetchProgress, IntegrationData, IntegrationStatus,
    PreviewOutcome, PreviewRequest, SynthesizeSettings,
};
use crate::storage::Journal;

/// Planning and running a sync share one kind: one sync at a time, whichever its step.
pub const SYNC: JobKind = JobKind::new("Sync");

/// Fetches and counts the tenant's configurations.
#[derive(Debug)]
pub struct PreviewJob(pub PreviewRequest);

impl Job for PreviewJob {
    const KIND: JobKind = JobKind::new("Preview");
    type Progress = FetchProgress;
    type Outcome = Result<PreviewOutcome, JobError>;

    async fn run(self, context: JobContext<FetchProgress>) -> Self::Outcome {
        let progress = |p: FetchProgress| context.report(p);
        engine::run_preview(&self.0, &progress, context.cancel()).await
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

/// Reads Synthesize and the last counts sent and makes the plan; sends nothing.
#[derive(Debug)]
pub struct PlanSyncJob {
    pub request: SyncRequest,
    pub last_sent: LastSent,
}

impl Job for PlanSyncJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    type Progress = Infallible;
    type Outcome = Result<Box<PlannedSync>, JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        let session = SyncSession::new(&self.request.synthesize)?;
        let planned = session
            .plan(&self.request, &self.last_sent, context.cancel())
            .await?;
        Ok(Box::new(planned))
    }
}

/// Runs a confirmed plan (also "Retry failed" and "revert to these counts").
#[derive(Debug)]
pub struct ExecuteSyncJob {
    pub request: SyncRequest,
    pub planned: PlannedSync,
    pub journal: Option<Arc<Journal>>,
}

impl Job for ExecuteSyncJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    type Progress = SyncUpdate;
    type Outcome = Result<Box<SyncReport>, JobError>;

    async fn run(self, context: JobContext<SyncUpdate>) -> Self::Outcome {
        let session = SyncSession::new(&self.request.synthesize)?;
        let on_update = |u: SyncUpdate| context.report(u);
        let report = session
            .execute(
                &self.planned,
                &self.request,
                self.journal.as_deref(),
                &on_update,
                context.cancel(),
            )
            .await;
        Ok(Box::new(report))
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
