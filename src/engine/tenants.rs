//! Many tenants, one after another, shared by `--all-profiles` and the window's Tenants tab:
//! each profile's settings resolved on its own, its last run read from its own journals, its
//! preview, its plan and its send (under its own lock and safety checks), the notification of
//! how a run ended, and the worst of several outcomes. One tenant's failure is its own: every
//! function here answers for one tenant and never stops the caller's next.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::notify::{NotifyError, send_notice};
use super::settings::{self, RunSettings, SettingsError, SettingsSources};
use super::sync::{PlannedSync, SyncReport, SyncRequest, SyncSession, SyncSteps};
use super::tenant::TenantHistory;
use super::{EngineError, FetchProgress, PreviewOutcome};
use crate::domain::notify::{
    NoticeFigures, NoticeOutcome, NoticeTenant, NotifySettings, RunNotice,
};
use crate::domain::printable::printable;
use crate::domain::safety::TenantIdentity;
use crate::storage::journal::{
    Journal, JournalEvent, JournalReadout, RunEnd, RunSummary, TenantJournal, tenant_journals_of,
};
use crate::storage::reports::{report_files, reports_dir, run_report, write_run_report};
use crate::storage::secrets::SecretSlot;
use crate::storage::{AppDirs, ProfileStore, Secret, SecretStore};

/// Overrides the profile's keychain entry for the notification webhook URL, as the six key
/// variables override theirs.
pub const NOTIFY_WEBHOOK_ENV: &str = "CW_SHARED_DEVICES_NOTIFY_WEBHOOK";

/// How one tenant's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantOutcome {
    Done,
    /// Some rows failed, the rest were sent.
    Partial,
    /// The fix is in the settings (or another run holds the tenant).
    Configuration,
    Failed,
    /// A safety check refused the plan; nothing was sent.
    StoppedBySafetyCheck,
}

impl TenantOutcome {
    /// The exit status the command gives it.
    pub fn code(self) -> u8 {
        match self {
            TenantOutcome::Done => 0,
            TenantOutcome::Failed | TenantOutcome::StoppedBySafetyCheck => 1,
            TenantOutcome::Configuration => 2,
            TenantOutcome::Partial => 3,
        }
    }

    /// Worst last: done, partly done, a configuration error, a failure.
    pub fn severity(self) -> u8 {
        match self {
            TenantOutcome::Done => 0,
            TenantOutcome::Partial => 1,
            TenantOutcome::Configuration => 2,
            TenantOutcome::Failed | TenantOutcome::StoppedBySafetyCheck => 3,
        }
    }

    /// The worst of several (done when there are none).
    pub fn worst(outcomes: impl IntoIterator<Item = TenantOutcome>) -> TenantOutcome {
        outcomes
            .into_iter()
            .max_by_key(|o| o.severity())
            .unwrap_or(TenantOutcome::Done)
    }

    /// In words, for the summary table and the Tenants tab.
    pub fn words(self) -> &'static str {
        match self {
            TenantOutcome::Done => "done",
            TenantOutcome::Partial => "partly done",
            TenantOutcome::Configuration => "configuration error",
            TenantOutcome::Failed => "failed",
            TenantOutcome::StoppedBySafetyCheck => "stopped by a safety check",
        }
    }

    /// What the notification says.
    pub fn notice(self) -> NoticeOutcome {
        match self {
            TenantOutcome::Done => NoticeOutcome::Done,
            TenantOutcome::Partial => NoticeOutcome::Partial,
            TenantOutcome::StoppedBySafetyCheck => NoticeOutcome::StoppedBySafetyCheck,
            TenantOutcome::Failed | TenantOutcome::Configuration => NoticeOutcome::Failed,
        }
    }

    /// How a run that stopped with `error` ended.
    pub fn of_error(error: &EngineError) -> TenantOutcome {
        match error {
            EngineError::Busy(_) => TenantOutcome::Configuration,
            e if e.is_configuration() => TenantOutcome::Configuration,
            _ => TenantOutcome::Failed,
        }
    }

    /// How a run that executed ended, from its report.
    pub fn of_report(report: &SyncReport) -> TenantOutcome {
        let journal_failed = report
            .step_failures
            .iter()
            .any(|(step, _)| step == "journal");
        if report.cancelled || journal_failed {
            TenantOutcome::Failed
        } else if report.has_failures() {
            if report.sent_anything() {
                TenantOutcome::Partial
            } else {
                TenantOutcome::Failed
            }
        } else {
            TenantOutcome::Done
        }
    }
}

/// The profiles there are, in name order, and the problems of those that cannot be read.
pub fn profile_names(dirs: &AppDirs) -> Result<(Vec<String>, Vec<String>), EngineError> {
    let list = ProfileStore::new(dirs)
        .list()
        .map_err(|e| EngineError::Other(e.to_string()))?;
    let problems = list.problems.iter().map(|p| p.message.clone()).collect();
    let names = list.names().into_iter().map(str::to_owned).collect();
    Ok((names, problems))
}

/// A profile's settings on these folders with the keys from `secrets` (the window's store).
pub fn resolve_profile(
    dirs: &AppDirs,
    secrets: &Arc<dyn SecretStore>,
    name: &str,
) -> Result<RunSettings, SettingsError> {
    let sources = SettingsSources {
        profile: Some(name.to_owned()),
        ..SettingsSources::default()
    };
    settings::resolve_in(dirs.clone(), &sources, secrets)
}

/// The tenant as the settings name it, without its Synthesize organization (which only
/// Synthesize can tell): what its journals and its notification are matched by.
pub fn named_tenant(resolved: &RunSettings) -> TenantIdentity {
    let place = resolved.tenant_place();
    let synthesize = resolved
        .synthesize_settings()
        .map(|s| s.base_url.to_string())
        .unwrap_or_default();
    TenantIdentity::new(
        &place.connectwise.site,
        &place.connectwise.company_id,
        &synthesize,
        "",
    )
}

/// The journals of `wanted` (whatever its Synthesize organization), read.
fn readouts_of(dirs: &AppDirs, wanted: &TenantIdentity) -> Vec<(TenantJournal, JournalReadout)> {
    tenant_journals_of(dirs, wanted)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|j| {
            let readout = Journal::at_path(&j.path).read().ok()?;
            Some((j, readout))
        })
        .collect()
}

/// The ids of the runs the tenant's journals hold now.
pub fn journaled_runs(resolved: &RunSettings) -> BTreeSet<String> {
    readouts_of(&resolved.dirs, &named_tenant(resolved))
        .iter()
        .flat_map(|(_, readout)| readout.runs().into_iter().map(|r| r.run_id))
        .collect()
}

/// A run as its tenant's journal tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRun {
    pub run_id: String,
    pub figures: NoticeFigures,
    /// The HTML run report written for it, if it could be.
    pub report: Option<String>,
}

fn held_in(readout: &JournalReadout, run_id: &str) -> u64 {
    readout
        .events
        .iter()
        .filter(|e| e.run_id == run_id && matches!(e.event, JournalEvent::CompanyHeld { .. }))
        .count() as u64
}

fn figures_of(readout: &JournalReadout, summary: &RunSummary) -> NoticeFigures {
    NoticeFigures {
        sent: summary.sent,
        held: held_in(readout, &summary.run_id),
        unmapped: summary.unmapped,
        failed: summary.failed,
    }
}

/// The newest run journaled for the tenant that is not in `before` (the one just made, if it
/// got that far), with its figures and its report written so the notification can point at it.
pub fn run_in_journal(resolved: &RunSettings, before: &BTreeSet<String>) -> Option<JournalRun> {
    let (journal, readout, summary) =
        newest_run(readouts_of(&resolved.dirs, &named_tenant(resolved)), |r| {
            !before.contains(&r.run_id)
        })?;
    let dir = reports_dir(&resolved.dirs, &journal.tenant.journal_key());
    // The run's own sync wrote its report already (the command's and Send all's do); it is
    // only written here when it is not there.
    let written = report_files(&dir, &summary.run_id).html;
    let report = if written.is_file() {
        Some(written.to_string_lossy().into_owned())
    } else {
        run_report(&readout, &summary.run_id).and_then(|report| {
            write_run_report(&dir, &report, None)
                .map_err(|e| tracing::warn!(error = %e, "the run report could not be written"))
                .ok()
                .map(|files| files.html.to_string_lossy().into_owned())
        })
    };
    Some(JournalRun {
        figures: figures_of(&readout, &summary),
        run_id: summary.run_id,
        report,
    })
}

/// Of each journal's newest run that `wanted` takes, the newest (the first read on a tie),
/// with its journal and readout.
fn newest_run(
    readouts: Vec<(TenantJournal, JournalReadout)>,
    wanted: impl Fn(&RunSummary) -> bool,
) -> Option<(TenantJournal, JournalReadout, RunSummary)> {
    let mut best: Option<(TenantJournal, JournalReadout, RunSummary)> = None;
    for (journal, readout) in readouts {
        let Some(summary) = readout.runs().into_iter().find(|r| wanted(r)) else {
            continue;
        };
        if best
            .as_ref()
            .is_some_and(|(_, _, newest)| newest.started >= summary.started)
        {
            continue;
        }
        best = Some((journal, readout, summary));
    }
    best
}

/// A tenant's last run (its newest that was not a dry run), for the Tenants tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub started: DateTime<Utc>,
    /// "done", "partly done", "failed", "cancelled", "cut off".
    pub outcome: &'static str,
    pub figures: NoticeFigures,
}

/// One profile in the Tenants tab's overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRow {
    pub name: String,
    /// `Ok(None)`: no run yet; `Err`: the profile or its history could not be read.
    pub last_run: Result<Option<LastRun>, String>,
}

fn last_run_words(summary: &RunSummary) -> &'static str {
    match summary.end {
        RunEnd::CutOff => "cut off",
        RunEnd::Finished {
            cancelled: true, ..
        } => "cancelled",
        RunEnd::Finished { .. } if summary.failed > 0 && summary.sent > 0 => "partly done",
        RunEnd::Finished { .. } if summary.failed > 0 => "failed",
        RunEnd::Finished { .. } => "done",
    }
}

/// The Tenants tab's overview: a row per profile, and the profile files that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantsOverview {
    pub rows: Vec<TenantRow>,
    /// In words. Reading the profiles moves an unreadable file aside, so this is the one time
    /// it is told: the tab must show it.
    pub problems: Vec<String>,
}

/// Each profile's last run from its tenant's journals (files only: no key, no service).
pub fn overview(dirs: &AppDirs) -> Result<TenantsOverview, EngineError> {
    let (names, problems) = profile_names(dirs)?;
    let rows = names
        .into_iter()
        .map(|name| {
            let last_run = last_run_of(dirs, &name);
            TenantRow { name, last_run }
        })
        .collect();
    Ok(TenantsOverview { rows, problems })
}

fn last_run_of(dirs: &AppDirs, name: &str) -> Result<Option<LastRun>, String> {
    let profile = settings::load_profile(dirs, name).map_err(|e| e.to_string())?;
    let offline =
        settings::offline_tenant_of(dirs.clone(), Some(profile), &SettingsSources::default())
            .map_err(|e| e.to_string())?;
    Ok(
        newest_run(readouts_of(dirs, &offline.tenant), |r| !r.dry_run).map(
            |(_, readout, summary)| LastRun {
                started: summary.started,
                outcome: last_run_words(&summary),
                figures: figures_of(&readout, &summary),
            },
        ),
    )
}

/// One tenant's preview (fetch and count) from its resolved settings.
pub async fn preview_tenant(
    resolved: &RunSettings,
    progress: &(dyn Fn(FetchProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<PreviewOutcome, EngineError> {
    let request = resolved
        .preview_request()
        .map_err(|e| EngineError::Other(e.to_string()))?;
    super::run_preview(&request, progress, cancel).await
}

/// A tenant's plan, ready to be confirmed: its request, the history it was planned against,
/// and why its safety checks refuse it (if they do).
#[derive(Debug)]
pub struct TenantPlanned {
    pub planned: PlannedSync,
    pub request: SyncRequest,
    pub history: TenantHistory,
    pub dirs: AppDirs,
    /// `Some`: a safety check refuses it; it will not be sent.
    pub refusal: Option<String>,
}

/// Previews the tenant afresh, reads its history and Synthesize, and plans a full sync; sends
/// nothing. The plan is checked against the tenant's safety checks (incomplete previews, large
/// drops) with no way through: the window's Send all never overrides them.
pub async fn plan_tenant(
    resolved: &RunSettings,
    cancel: &CancellationToken,
) -> Result<TenantPlanned, EngineError> {
    let synthesize = resolved
        .synthesize_settings()
        .map_err(|e| EngineError::Other(e.to_string()))?;
    let session = SyncSession::new(&synthesize)?;
    let history = session
        .open_tenant(&resolved.tenant_place(), cancel)
        .await?;
    let preview = preview_tenant(resolved, &|_| {}, cancel).await?;
    let mut request = resolved.sync_request(synthesize, SyncSteps::ALL, Some(preview));
    let planned = session
        .plan_for_tenant(&mut request, &history, cancel)
        .await?;
    let refusal = planned.refusal(&request.guard);
    Ok(TenantPlanned {
        planned,
        request,
        history,
        dirs: resolved.dirs.clone(),
        refusal,
    })
}

/// What sending one tenant's confirmed plan did.
#[derive(Debug)]
pub struct TenantSent {
    pub outcome: TenantOutcome,
    /// `None` when nothing ran (a safety check, the lock, a changed history).
    pub report: Option<SyncReport>,
    /// Why it did not run or what went wrong, in words.
    pub message: Option<String>,
}

/// Sends a confirmed plan under the tenant's run lock, only when its history is unchanged
/// since the plan and its safety checks pass; writes the run report.
pub async fn send_tenant(planned: &TenantPlanned, cancel: &CancellationToken) -> TenantSent {
    if let Some(refusal) = &planned.refusal {
        return TenantSent {
            outcome: TenantOutcome::StoppedBySafetyCheck,
            report: None,
            message: Some(refusal.clone()),
        };
    }
    let session = match SyncSession::new(&planned.request.synthesize) {
        Ok(session) => session,
        Err(e) => {
            return TenantSent {
                outcome: TenantOutcome::of_error(&e),
                report: None,
                message: Some(e.to_string()),
            };
        }
    };
    match session
        .execute_for_tenant(
            &planned.planned,
            &planned.request,
            &planned.history,
            &planned.dirs,
            &|_| {},
            cancel,
        )
        .await
    {
        Ok((report, _)) => {
            if let Err(e) =
                super::report::write_report(&planned.dirs, &planned.history.journal, &report.run_id)
            {
                tracing::warn!(error = %e, "the run report could not be written");
            }
            let message = report
                .step_failures
                .first()
                .map(|(step, reason)| format!("{step}: {reason}"));
            TenantSent {
                outcome: TenantOutcome::of_report(&report),
                report: Some(report),
                message,
            }
        }
        Err(e) => TenantSent {
            outcome: TenantOutcome::of_error(&e),
            report: None,
            message: Some(e.to_string()),
        },
    }
}

/// Where the webhook URL is looked up: the environment's first, then the profile's entry in
/// the store `open_store` opens (only then, and only for a named profile).
pub fn webhook_url(
    profile: Option<&str>,
    open_store: impl FnOnce() -> Result<Arc<dyn SecretStore>, String>,
) -> Result<Option<Secret>, String> {
    if let Some(url) = std::env::var(NOTIFY_WEBHOOK_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Ok(Some(Secret::new(url)));
    }
    let Some(name) = profile else {
        return Ok(None);
    };
    open_store()?
        .get_slot(name, SecretSlot::NotifyWebhook)
        .map_err(|e| e.to_string())
}

/// How a run ended, for its notification.
#[derive(Debug)]
pub struct NoticeContext<'a> {
    pub profile: Option<&'a str>,
    pub command: &'static str,
    pub notice: NoticeOutcome,
    /// The exit status the command gives (the window gives its [`TenantOutcome::code`]).
    pub exit_status: u8,
    pub message: Option<String>,
    pub ran: Option<&'a JournalRun>,
}

/// The notice a run's webhook is sent.
pub fn run_notice(resolved: Option<&RunSettings>, context: &NoticeContext<'_>) -> RunNotice {
    let tenant = resolved.map(named_tenant);
    RunNotice {
        product: "cw-shared-devices".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: context.command.into(),
        tenant: NoticeTenant {
            profile: context.profile.unwrap_or("(environment)").to_owned(),
            connectwise_site: tenant
                .as_ref()
                .map(|t| t.connectwise_host.clone())
                .unwrap_or_default(),
            connectwise_company_id: tenant
                .as_ref()
                .map(|t| t.connectwise_company_id.clone())
                .unwrap_or_default(),
            synthesize_url: tenant.map(|t| t.synthesize_url).unwrap_or_default(),
        },
        outcome: context.notice,
        exit_status: context.exit_status,
        message: context
            .message
            .as_deref()
            .map(|m| printable(m).into_owned()),
        figures: context.ran.map(|r| r.figures),
        run_id: context.ran.map(|r| r.run_id.clone()),
        report: context.ran.and_then(|r| r.report.clone()),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// A test notice for the profile ("Test notification", `profile notify NAME --test`).
pub fn test_notice(profile: &str) -> RunNotice {
    RunNotice {
        product: "cw-shared-devices".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "test".into(),
        tenant: NoticeTenant {
            profile: profile.to_owned(),
            connectwise_site: String::new(),
            connectwise_company_id: String::new(),
            synthesize_url: String::new(),
        },
        outcome: NoticeOutcome::Test,
        exit_status: 0,
        message: Some("A test of this profile's notification webhook; nothing was synced.".into()),
        figures: None,
        run_id: None,
        report: None,
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// Sends the notice when the profile's settings say it is due. `Ok(false)`: not due.
/// The run's own cancellation does not stop it; the send's own deadline bounds it.
pub async fn notify_if_due(
    notice: &RunNotice,
    settings: &NotifySettings,
    url: &Secret,
) -> Result<bool, NotifyError> {
    if !notice.outcome.is_due(settings) {
        return Ok(false);
    }
    send_notice(notice, settings.kind, url, &CancellationToken::new()).await?;
    Ok(true)
}
