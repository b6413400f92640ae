//! The Tenants tab's jobs: reading every profile's last run, previewing each tenant, planning
//! each, sending the confirmed plans (each under its own lock and safety checks, then its
//! notification), and the test notification. Each goes through `engine::tenants`, the code
//! `--all-profiles` runs; one tenant's failure is reported for it and the next goes on.

use std::convert::Infallible;
use std::sync::Arc;

use super::jobs::blocking;
use super::{Job, JobContext, JobError, JobKind, SYNC};
use crate::domain::notify::{NoticeFigures, NotifySettings};
use crate::engine::settings::RunSettings;
use crate::engine::tenants::{
    self, NoticeContext, TenantOutcome, TenantPlanned, TenantsOverview, notify_if_due,
};
use crate::storage::{AppDirs, SecretStore};

/// One tenant's profile resolved on a blocking thread (profile file and keychain): its run
/// settings, or why not in words.
async fn resolve_tenant(
    dirs: &AppDirs,
    secrets: &Arc<dyn SecretStore>,
    name: &str,
) -> Result<Result<RunSettings, crate::engine::settings::SettingsError>, JobError> {
    let dirs = dirs.clone();
    let secrets = Arc::clone(secrets);
    let wanted = name.to_owned();
    blocking("resolving the profile", move || {
        tenants::resolve_profile(&dirs, &secrets, &wanted)
    })
    .await
}

/// Starts the next tenant of a job of many: stops if the job was cancelled, else says which
/// tenant it works on now.
fn begin_tenant<T>(
    context: &JobContext<TenantStep<T>>,
    index: usize,
    total: usize,
    name: &str,
) -> Result<(), JobError> {
    if context.cancel().is_cancelled() {
        return Err(JobError::Cancelled);
    }
    context.report(TenantStep::Working {
        index,
        total,
        name: name.to_owned(),
    });
    Ok(())
}

/// Which tenant a job of many works on now, and what finished.
#[derive(Debug)]
pub enum TenantStep<T> {
    /// Working on the tenant at this index (of `total`).
    Working {
        index: usize,
        total: usize,
        name: String,
    },
    /// A tenant is done (its result, in the order of the list).
    Finished(T),
}

/// Reads each profile's last run from its tenant's journals.
#[derive(Debug)]
pub struct TenantsOverviewJob {
    pub dirs: AppDirs,
}

impl Job for TenantsOverviewJob {
    const KIND: JobKind = JobKind::new("Reading the tenants");
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = Infallible;
    type Outcome = Result<TenantsOverview, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        blocking("reading the tenants", move || tenants::overview(&self.dirs)).await?
    }
}

/// What one tenant's preview found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPreviewed {
    pub name: String,
    /// The companies counted and the totals (shared, not shared devices), or why not.
    pub result: Result<PreviewTotals, String>,
}

/// A preview's figures for the Tenants tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreviewTotals {
    pub companies: usize,
    pub shared: u64,
    pub not_shared: u64,
}

/// Previews every tenant in turn.
#[derive(Debug)]
pub struct PreviewAllJob {
    pub dirs: AppDirs,
    pub secrets: Arc<dyn SecretStore>,
    pub names: Vec<String>,
}

impl Job for PreviewAllJob {
    const KIND: JobKind = JobKind::new("Preview all tenants");
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = TenantStep<TenantPreviewed>;
    type Outcome = Result<(), JobError>;

    async fn run(self, context: JobContext<Self::Progress>) -> Self::Outcome {
        let total = self.names.len();
        for (index, name) in self.names.into_iter().enumerate() {
            begin_tenant(&context, index, total, &name)?;
            let resolved = resolve_tenant(&self.dirs, &self.secrets, &name).await?;
            let result = match resolved {
                Ok(resolved) => tenants::preview_tenant(&resolved, &|_| {}, context.cancel())
                    .await
                    .map(|p| {
                        let (shared, not_shared, _) = p.counts.totals();
                        PreviewTotals {
                            companies: p.counts.companies.len(),
                            shared,
                            not_shared,
                        }
                    })
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            context.report(TenantStep::Finished(TenantPreviewed { name, result }));
        }
        Ok(())
    }
}

/// One tenant's plan for Send all, or why it could not be made.
#[derive(Debug)]
pub struct TenantPlanEntry {
    pub name: String,
    pub result: Result<PlannedTenant, PlanFailure>,
}

/// Why a tenant has no plan, and how its run counts as ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFailure {
    pub outcome: TenantOutcome,
    pub message: String,
}

/// A plan and the settings it was made from (the notification needs them after the send).
#[derive(Debug)]
pub struct PlannedTenant {
    pub planned: TenantPlanned,
    pub settings: RunSettings,
}

impl PlannedTenant {
    /// The companies the plan posts counts for.
    pub fn companies_to_send(&self) -> usize {
        let ids: std::collections::BTreeSet<i64> = self
            .planned
            .planned
            .plan
            .counts
            .iter()
            .map(|c| c.company_id)
            .collect();
        ids.len()
    }

    /// The companies held back.
    pub fn held(&self) -> usize {
        self.planned.planned.plan.held.len()
    }
}

/// Plans a full sync for every tenant in turn; sends nothing.
#[derive(Debug)]
pub struct PlanAllJob {
    pub dirs: AppDirs,
    pub secrets: Arc<dyn SecretStore>,
    pub names: Vec<String>,
}

impl Job for PlanAllJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = TenantStep<Infallible>;
    type Outcome = Result<Vec<TenantPlanEntry>, JobError>;

    async fn run(self, context: JobContext<Self::Progress>) -> Self::Outcome {
        let total = self.names.len();
        let mut out = Vec::with_capacity(total);
        for (index, name) in self.names.into_iter().enumerate() {
            begin_tenant(&context, index, total, &name)?;
            let resolved = resolve_tenant(&self.dirs, &self.secrets, &name).await?;
            let result = match resolved {
                Ok(settings) => tenants::plan_tenant(&settings, context.cancel())
                    .await
                    .map(|planned| PlannedTenant { planned, settings })
                    .map_err(|e| PlanFailure {
                        outcome: TenantOutcome::of_error(&e),
                        message: e.to_string(),
                    }),
                Err(e) => Err(PlanFailure {
                    outcome: TenantOutcome::Configuration,
                    message: e.to_string(),
                }),
            };
            out.push(TenantPlanEntry { name, result });
        }
        Ok(out)
    }
}

/// What sending one tenant's plan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSendResult {
    pub name: String,
    pub outcome: TenantOutcome,
    pub message: Option<String>,
    /// The run's figures from the tenant's journal (`None` when nothing ran).
    pub figures: Option<NoticeFigures>,
    /// How the notification went, when one was due: `Ok(())` sent, `Err` why not.
    pub notified: Option<Result<(), String>>,
}

/// Sends the confirmed plans, one tenant after another, each then notified as its profile asks.
#[derive(Debug)]
pub struct SendAllJob {
    pub secrets: Arc<dyn SecretStore>,
    /// Every tenant of the confirmed list; those without a plan send nothing and are
    /// notified of their failure, as the command notifies it.
    pub tenants: Vec<TenantPlanEntry>,
}

impl Job for SendAllJob {
    const KIND: JobKind = SYNC;
    const CANCELLED_BY_NEW_EPOCH: bool = false;
    const ANSWERS_ACROSS_EPOCHS: bool = true;
    type Progress = TenantStep<TenantSendResult>;
    type Outcome = Result<(), JobError>;

    async fn run(self, context: JobContext<Self::Progress>) -> Self::Outcome {
        let total = self.tenants.len();
        for (index, TenantPlanEntry { name, result }) in self.tenants.into_iter().enumerate() {
            begin_tenant(&context, index, total, &name)?;
            let tenant = match result {
                Ok(tenant) => tenant,
                Err(failure) => {
                    let notified = notify(
                        &name,
                        None,
                        &self.secrets,
                        failure.outcome,
                        Some(failure.message.clone()),
                        None,
                    )
                    .await;
                    context.report(TenantStep::Finished(TenantSendResult {
                        name,
                        outcome: failure.outcome,
                        message: Some(failure.message),
                        figures: None,
                        notified,
                    }));
                    continue;
                }
            };
            let settings = tenant.settings.clone();
            let before = blocking("reading the history", move || {
                tenants::journaled_runs(&settings)
            })
            .await?;
            let sent = tenants::send_tenant(&tenant.planned, context.cancel()).await;
            let settings = tenant.settings.clone();
            let ran = blocking("reading the history", move || {
                tenants::run_in_journal(&settings, &before)
            })
            .await?;
            let notified = notify(
                &name,
                Some(&tenant.settings),
                &self.secrets,
                sent.outcome,
                sent.message.clone(),
                ran.as_ref(),
            )
            .await;
            context.report(TenantStep::Finished(TenantSendResult {
                name,
                outcome: sent.outcome,
                message: sent.message,
                figures: ran.map(|r| r.figures),
                notified,
            }));
        }
        Ok(())
    }
}

/// The tenant's notification after a window send, as the command sends it; `None` when none
/// is set or due. A failure is logged (without the URL) and changes nothing.
async fn notify(
    name: &str,
    settings: Option<&RunSettings>,
    secrets: &Arc<dyn SecretStore>,
    outcome: TenantOutcome,
    message: Option<String>,
    ran: Option<&tenants::JournalRun>,
) -> Option<Result<(), String>> {
    let url = webhook(name, secrets).await?;
    let notify_settings: NotifySettings = settings
        .and_then(|s| s.profile.as_ref())
        .map(|p| p.notify)
        .unwrap_or_default();
    let notice = tenants::run_notice(
        settings,
        &NoticeContext {
            profile: Some(name),
            command: "window send all",
            notice: outcome.notice(),
            exit_status: outcome.code(),
            message,
            ran,
        },
    );
    match notify_if_due(&notice, &notify_settings, &url).await {
        Ok(false) => None,
        Ok(true) => {
            tracing::info!(target: crate::logging::FILE_ONLY, outcome = ?notice.outcome, "notification sent");
            Some(Ok(()))
        }
        Err(e) => {
            tracing::warn!(target: crate::logging::FILE_ONLY, error = %e, "notification not sent");
            Some(Err(e.to_string()))
        }
    }
}

async fn webhook(name: &str, secrets: &Arc<dyn SecretStore>) -> Option<crate::storage::Secret> {
    let name = name.to_owned();
    let secrets = Arc::clone(secrets);
    match blocking("reading the webhook", move || {
        tenants::webhook_url(Some(&name), || Ok(secrets))
    })
    .await
    {
        Ok(Ok(url)) => url,
        Ok(Err(e)) | Err(JobError::Other(e)) => {
            tracing::debug!(error = %e, "no notification: the webhook could not be read");
            None
        }
        Err(_) => None,
    }
}

/// Sends the profile's test notification ("Test notification").
#[derive(Debug)]
pub struct TestNotificationJob {
    pub profile: String,
    pub settings: NotifySettings,
    pub secrets: Arc<dyn SecretStore>,
}

impl Job for TestNotificationJob {
    const KIND: JobKind = JobKind::new("Test notification");
    type Progress = Infallible;
    type Outcome = Result<(), JobError>;

    async fn run(self, context: JobContext<Infallible>) -> Self::Outcome {
        let url = webhook(&self.profile, &self.secrets).await.ok_or_else(|| {
            JobError::Other(format!(
                "\"{}\" has no notification webhook; set one first",
                self.profile
            ))
        })?;
        crate::engine::notify::send_notice(
            &tenants::test_notice(&self.profile),
            self.settings.kind,
            &url,
            context.cancel(),
        )
        .await
        .map_err(|e| JobError::Other(e.to_string()))
    }
}

/// Stores (or with an empty URL, removes) the profile's notification webhook URL, after
/// checking it as the command does.
#[derive(Debug)]
pub struct SetWebhookJob {
    pub profile: String,
    pub url: crate::storage::Secret,
    pub secrets: Arc<dyn SecretStore>,
}

impl Job for SetWebhookJob {
    const KIND: JobKind = JobKind::new("Storing the webhook");
    type Progress = Infallible;
    type Outcome = Result<bool, JobError>;

    async fn run(self, _context: JobContext<Infallible>) -> Self::Outcome {
        blocking("storing the webhook", move || {
            use crate::storage::secrets::SecretSlot;
            if self.url.expose().trim().is_empty() {
                return self
                    .secrets
                    .delete_slot(&self.profile, SecretSlot::NotifyWebhook)
                    .map(|()| false)
                    .map_err(|e| JobError::Other(e.to_string()));
            }
            crate::engine::notify::check_webhook_url(self.url.expose().trim())
                .map_err(|e| JobError::Other(e.to_string()))?;
            let url = crate::storage::Secret::new(self.url.expose().trim().to_owned());
            self.secrets
                .set_slot(&self.profile, SecretSlot::NotifyWebhook, &url)
                .map(|()| true)
                .map_err(|e| JobError::Other(e.to_string()))
        })
        .await?
    }
}
