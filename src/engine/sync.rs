//! Sync execution: services, then accounts in batches, then counts with bounded, paced
//! concurrency; every outcome reported as it happens and journaled; a failure never stops the rest.

use std::collections::{BTreeSet, HashMap};

use futures_util::StreamExt as _;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::pace::{COUNT_POSTS_PER_SECOND, Pacer};
use crate::api::synthesize::{
    AccountRequest, CountPostOutcome, ServiceRequest, Sku, SynthesizeClient, SynthesizeSettings,
    TransportError,
};
use crate::domain::adjustments::{RunAdjustments, apply_overrides};
use crate::domain::counting::CompanyCounts;
use crate::domain::safety::{
    DropCheck, DropGuardThresholds, HeldCompany, PreviewCompleteness, check_large_drop,
};
use crate::domain::settings::SyncOptions;
use crate::domain::sync_plan::{
    LastSent, PlanInput, PlannedCount, ServiceKind, SyncPlan, SynthesizeAccount, SynthesizeService,
    find_service, plan_sync,
};
use crate::storage::journal::{
    CountOutcome, Journal, JournalError, JournalEvent, RunKind, RunOptions, new_run_id, plan_events,
};

/// Which parts of a sync to run (the four buttons and subcommands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncSteps {
    pub services: bool,
    pub accounts: bool,
    pub usage: bool,
}

impl SyncSteps {
    pub const ALL: SyncSteps = SyncSteps {
        services: true,
        accounts: true,
        usage: true,
    };
    pub const SERVICES: SyncSteps = SyncSteps {
        services: true,
        accounts: false,
        usage: false,
    };
    pub const ACCOUNTS: SyncSteps = SyncSteps {
        services: false,
        accounts: true,
        usage: false,
    };
    pub const USAGE: SyncSteps = SyncSteps {
        services: false,
        accounts: false,
        usage: true,
    };
    /// "Create the missing accounts, then send".
    pub const ACCOUNTS_AND_USAGE: SyncSteps = SyncSteps {
        services: false,
        accounts: true,
        usage: true,
    };

    /// The journal's kind for the run.
    pub fn run_kind(self) -> RunKind {
        match (self.services, self.accounts, self.usage) {
            (true, false, false) => RunKind::SyncServices,
            (false, true, false) => RunKind::SyncAccounts,
            (false, false, true) => RunKind::SyncUsage,
            _ => RunKind::Sync,
        }
    }
}

/// What planning a sync needs.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub synthesize: SynthesizeSettings,
    pub counts: Vec<CompanyCounts>,
    /// Only these companies, when the user selected some.
    pub selection: Option<BTreeSet<i64>>,
    pub options: SyncOptions,
    pub steps: SyncSteps,
    pub profile_name: String,
    pub rule_text: String,
    /// Counts to post regardless of the zero policy ("revert to these counts" from History).
    pub revert: bool,
    /// What must hold before anything is sent.
    pub guard: SendGuard,
    /// The profile's exclusions and overrides (none for a run from the environment alone).
    pub adjustments: RunAdjustments,
}

/// What a run must prove before it sends, and the user's explicit ways through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendGuard {
    /// The completeness of the preview the counts come from; `None` when the run posts no
    /// counts from a preview (services only, Retry failed, revert).
    pub completeness: Option<PreviewCompleteness>,
    /// Send the counts read even though the preview is incomplete (`--accept-incomplete`).
    pub accept_incomplete: bool,
    /// Send even though the plan is a large drop (`--allow-large-drop`).
    pub allow_large_drop: bool,
    /// When a plan counts as a large drop (the profile's options).
    pub drop_thresholds: DropGuardThresholds,
    /// Companies whose last counts are unknown (history lines about them could not be read).
    pub last_counts_unknown: Vec<i64>,
}

/// The plan, and the Synthesize state it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSync {
    pub plan: SyncPlan,
    pub services: Vec<SynthesizeService>,
    pub accounts: Vec<SynthesizeAccount>,
    /// Items of Synthesize's service and account lists that could not be read, in words: left
    /// out of the plan and reported.
    pub skipped: Vec<String>,
    /// Whether the accounts list said which accounts are mapped (`isMapped`; only some
    /// deployments send it).
    pub mapping_known: bool,
    /// Account ids Synthesize lists as not mapped yet: their counts will be answered
    /// "unmapped" until the partner maps them.
    pub unmapped_accounts: BTreeSet<String>,
    /// Why the preview does not prove its counts (the figures and `--accept-incomplete`);
    /// `None` when it does, or when the run posts no counts from a preview.
    pub incomplete: Option<String>,
    /// The plan compared with the last counts sent to this tenant.
    pub drop_check: DropCheck,
}

impl PlannedSync {
    /// Why this plan must not be sent as it is, given the user's ways through; `None` when it
    /// may be sent. The engine checks it again before sending anything.
    pub fn refusal(&self, guard: &SendGuard) -> Option<String> {
        if let Some(incomplete) = &self.incomplete
            && !guard.accept_incomplete
        {
            return Some(incomplete.clone());
        }
        if !guard.allow_large_drop {
            return self.drop_check.message();
        }
        None
    }

    /// The companies held, each with its reason, one line each.
    pub fn held_lines(&self) -> Vec<String> {
        self.plan.held.iter().map(held_line).collect()
    }

    /// Warnings to show beside the plan: skipped items and accounts not mapped yet.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .skipped
            .iter()
            .map(|s| format!("skipped an unreadable item of Synthesize's lists: {s}"))
            .collect();
        if !self.unmapped_accounts.is_empty() {
            out.push(format!(
                "{} account(s) are not mapped in Synthesize yet; their counts will be reported as unmapped until the partner maps them",
                self.unmapped_accounts.len()
            ));
        }
        out
    }
}

/// One count's outcome, as it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemResult {
    pub count: PlannedCount,
    pub outcome: CountOutcome,
}

/// Progress of a running sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SyncProgress {
    pub services_created: usize,
    pub accounts_created: usize,
    pub counts_total: usize,
    pub counts_done: usize,
    pub sent: usize,
    pub unmapped: usize,
    pub failed: usize,
}

/// Something the sync tells its front end while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncUpdate {
    Progress(SyncProgress),
    Item(ItemResult),
    /// A step failed as a whole (the services or accounts call); counts still go on where they can.
    StepFailed {
        step: &'static str,
        reason: String,
    },
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    pub run_id: String,
    pub progress: SyncProgress,
    pub items: Vec<ItemResult>,
    pub step_failures: Vec<(String, String)>,
    pub cancelled: bool,
}

impl SyncReport {
    /// The counts that failed, to run again with "Retry failed".
    pub fn failed_counts(&self) -> Vec<PlannedCount> {
        self.items
            .iter()
            .filter(|i| matches!(i.outcome, CountOutcome::Failed { .. }))
            .map(|i| i.count.clone())
            .collect()
    }

    pub fn has_failures(&self) -> bool {
        self.progress.failed > 0 || !self.step_failures.is_empty()
    }

    pub fn sent_anything(&self) -> bool {
        self.progress.sent > 0
            || self.progress.services_created > 0
            || self.progress.accounts_created > 0
    }
}

/// Reads the Synthesize state and the journal and makes the plan. Sends nothing.
pub async fn plan(
    client: &SynthesizeClient,
    request: &SyncRequest,
    last_sent: &LastSent,
    cancel: &CancellationToken,
) -> Result<PlannedSync, EngineError> {
    refuse_without_statuses(request)?;
    let listed_services = client.list_services(cancel).await?;
    let listed_accounts = client.list_accounts(cancel).await?;
    let skipped: Vec<String> = listed_services
        .skipped
        .iter()
        .map(|s| format!("service {s}"))
        .chain(
            listed_accounts
                .skipped
                .iter()
                .map(|s| format!("account {s}")),
        )
        .collect();
    for warning in &skipped {
        tracing::warn!("Synthesize list item skipped: {warning}");
    }
    let mapping_known = listed_accounts.items.iter().any(|a| a.is_mapped.is_some());
    let unmapped_accounts: BTreeSet<String> = listed_accounts
        .items
        .iter()
        .filter(|a| a.is_mapped == Some(false))
        .map(|a| a.id.clone())
        .collect();
    let services = synthesize_services(listed_services.items);
    let accounts: Vec<SynthesizeAccount> = listed_accounts
        .items
        .into_iter()
        .map(|a| SynthesizeAccount {
            id: a.id,
            name: a.name,
        })
        .collect();
    // The order matters: overrides make the final counts the plan is made from; held and
    // excluded companies then leave it, an excluded one last so it is listed once, as excluded.
    let adjustments = &request.adjustments;
    let day = adjustments
        .day
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let adjusted = apply_overrides(&request.counts, &adjustments.overrides, day);
    let mut plan = plan_sync(&PlanInput {
        counts: &adjusted.counts,
        services: &services,
        accounts: &accounts,
        last_sent,
        options: &request.options,
        selection: request.selection.as_ref(),
    });
    plan.record_adjustments(&adjusted.adjusted);
    let guard = &request.guard;
    let held = guard
        .completeness
        .as_ref()
        .map(PreviewCompleteness::held_companies)
        .unwrap_or_default();
    plan.hold(&held);
    let known: BTreeSet<i64> = request
        .counts
        .iter()
        .map(|c| c.company_id)
        .chain(last_sent.keys().map(|(company_id, _)| *company_id))
        .collect();
    plan.exclude(&adjustments.excluded_companies(&known));
    for clamped in adjusted.clamped() {
        plan.warnings.push(clamped.describe());
    }
    plan.warnings
        .extend(adjustments.company_status_warnings.iter().cloned());
    plan.last_count_unknown
        .clone_from(&guard.last_counts_unknown);
    if !request.steps.services {
        plan.services_to_create.clear();
    }
    if !request.steps.accounts {
        if request.steps.usage {
            // Counts for companies with no account would only come back "unmapped": they wait
            // for Sync accounts instead.
            plan.without_account_creation();
        } else {
            plan.accounts_to_create.clear();
        }
    }
    if !request.steps.usage {
        plan.counts.clear();
    }
    let incomplete = guard
        .completeness
        .as_ref()
        .filter(|_| request.steps.accounts || request.steps.usage)
        .and_then(PreviewCompleteness::incomplete_message);
    let drop_check = check_large_drop(last_sent, &plan, &guard.drop_thresholds);
    Ok(PlannedSync {
        plan,
        services,
        accounts,
        skipped,
        mapping_known,
        unmapped_accounts,
        incomplete,
        drop_check,
    })
}

/// Counts may not be planned for sending when the profile excludes companies whose status is
/// marked inactive and the statuses were not read with them.
fn refuse_without_statuses(request: &SyncRequest) -> Result<(), EngineError> {
    if (request.steps.accounts || request.steps.usage)
        && !request.counts.is_empty()
        && request.adjustments.statuses_missing()
    {
        return Err(EngineError::Other(STATUSES_NOT_READ.to_owned()));
    }
    Ok(())
}

/// Said when the profile excludes companies whose ConnectWise status is marked inactive and the
/// counts to send come from a preview that did not read the statuses: nothing is sent.
pub const STATUSES_NOT_READ: &str = "the profile excludes companies whose ConnectWise status is marked inactive, but the preview these counts come from did not read the companies' statuses; nothing was sent: run the preview again, then sync";

/// A held company in words: "company 12: 2 configuration records could not be read …".
pub fn held_line(held: &HeldCompany) -> String {
    format!("company {}: {}", held.company_id, held.reason())
}

/// Executes a plan. Every count's outcome goes to `on_update` and the journal as it happens.
pub async fn execute(
    client: &SynthesizeClient,
    planned: &PlannedSync,
    request: &SyncRequest,
    journal: Option<&Journal>,
    on_update: &(dyn Fn(SyncUpdate) + Send + Sync),
    cancel: &CancellationToken,
) -> SyncReport {
    let run_id = new_run_id();
    let mut report = SyncReport {
        run_id: run_id.clone(),
        progress: SyncProgress {
            counts_total: planned.plan.counts.len(),
            ..SyncProgress::default()
        },
        items: Vec::new(),
        step_failures: Vec::new(),
        cancelled: false,
    };
    if let Some(reason) = precondition_failure(planned, request, journal) {
        on_update(SyncUpdate::StepFailed {
            step: "safety",
            reason: reason.clone(),
        });
        report.step_failures.push(("safety".to_owned(), reason));
        return report;
    }
    // Stopped by the user's cancel, or by a journal write that failed.
    let stop = cancel.child_token();
    let ctx = RunContext {
        client,
        planned,
        request,
        journal,
        run_id: &run_id,
        on_update,
        cancel: &stop,
        journal_failure: std::sync::Mutex::new(None),
    };
    ctx.journal_write(run_started(request, false));
    for event in plan_events(&planned.plan, false) {
        ctx.journal_write(event);
    }
    let service_ids = create_services(&ctx, &mut report).await;
    let accounts_not_created = create_accounts(&ctx, &mut report).await;
    post_counts(&ctx, &mut report, &service_ids, &accounts_not_created).await;
    report.cancelled = cancel.is_cancelled();
    ctx.journal_write(JournalEvent::RunFinished {
        sent: report.progress.sent as u64,
        unmapped: report.progress.unmapped as u64,
        failed: report.progress.failed as u64,
        cancelled: report.cancelled,
    });
    if let Some(reason) = ctx.take_journal_failure() {
        ctx.fail_step(
            &mut report,
            "journal",
            format!("{reason}; sending stopped so nothing goes out unrecorded"),
        );
    }
    report
}

/// The first line of a run in the journal.
fn run_started(request: &SyncRequest, dry_run: bool) -> JournalEvent {
    JournalEvent::RunStarted {
        profile: request.profile_name.clone(),
        kind: if request.revert {
            RunKind::Revert
        } else {
            request.steps.run_kind()
        },
        dry_run,
        options: RunOptions {
            sync: request.options.clone(),
            counting_rule: request.rule_text.clone(),
        },
    }
}

/// Journals a dry run: its start, what its plan left out or adjusted, every count it would
/// have posted (as not sent), and its end. Nothing is sent, and the counts last sent do not
/// change (a dry run's lines never count as sent). Answers the run's id, for its report.
pub fn journal_dry_run(
    planned: &PlannedSync,
    request: &SyncRequest,
    journal: &Journal,
) -> Result<String, JournalError> {
    let run_id = new_run_id();
    journal.open_for_run()?;
    journal.append(&run_id, run_started(request, true))?;
    for event in plan_events(&planned.plan, true) {
        journal.append(&run_id, event)?;
    }
    journal.append(
        &run_id,
        JournalEvent::RunFinished {
            sent: 0,
            unmapped: 0,
            failed: 0,
            cancelled: false,
        },
    )?;
    Ok(run_id)
}

/// Why nothing may be sent at all: the plan's safety checks, or a journal that cannot be
/// written (the history that drives zeros and resume would be lost).
fn precondition_failure(
    planned: &PlannedSync,
    request: &SyncRequest,
    journal: Option<&Journal>,
) -> Option<String> {
    if let Some(refusal) = planned.refusal(&request.guard) {
        return Some(refusal);
    }
    journal
        .and_then(|j| j.open_for_run().err())
        .map(|e| format!("{e}; nothing was sent"))
}

/// What every step of a run needs.
struct RunContext<'a> {
    client: &'a SynthesizeClient,
    planned: &'a PlannedSync,
    request: &'a SyncRequest,
    journal: Option<&'a Journal>,
    run_id: &'a str,
    on_update: &'a (dyn Fn(SyncUpdate) + Send + Sync),
    /// The run's stop: the user's cancel, or [`RunContext::journal_write`] failing.
    cancel: &'a CancellationToken,
    /// The first journal write that failed.
    journal_failure: std::sync::Mutex<Option<String>>,
}

impl RunContext<'_> {
    /// Records an event; when that fails the run stops sending (what is not journaled would be
    /// missing from the history that drives zeros and resume).
    fn journal_write(&self, event: JournalEvent) {
        if let Some(journal) = self.journal
            && let Err(e) = journal.append(self.run_id, event)
        {
            tracing::error!(error = %e, "could not write the journal; stopping");
            let mut failure = self
                .journal_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            failure.get_or_insert_with(|| e.to_string());
            self.cancel.cancel();
        }
    }

    fn take_journal_failure(&self) -> Option<String> {
        self.journal_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// A step that failed as a whole: told as it happens and kept in the report.
    fn fail_step(&self, report: &mut SyncReport, step: &'static str, reason: String) {
        (self.on_update)(SyncUpdate::StepFailed {
            step,
            reason: reason.clone(),
        });
        report.step_failures.push((step.to_owned(), reason));
    }
}

/// The first step, services: creates the missing ones and answers the id of each service.
async fn create_services(
    ctx: &RunContext<'_>,
    report: &mut SyncReport,
) -> HashMap<ServiceKind, String> {
    let (client, cancel, planned) = (ctx.client, ctx.cancel, ctx.planned);
    let plan = &planned.plan;
    let mut service_ids: HashMap<ServiceKind, String> = HashMap::new();
    for kind in ServiceKind::ALL {
        if let Some(s) = find_service(kind, &planned.services) {
            service_ids.insert(kind, s.id.clone());
        }
    }
    let mut created_services = Vec::new();
    for new in &plan.services_to_create {
        if cancel.is_cancelled() {
            break;
        }
        let body = ServiceRequest {
            name: new.name.clone(),
            description: new.description.clone(),
            category: new.category.clone(),
            subcategory: new.subcategory.clone(),
        };
        let listed =
            |skus: &[Sku]| find_service(new.kind, &synthesize_services(skus.to_vec())).is_some();
        match client.create_service_once(&body, listed, cancel).await {
            Ok(true) => {
                report.progress.services_created += 1;
                created_services.push(new.kind);
            }
            // Someone created it since the plan was made: it is there, which is what counts.
            Ok(false) => {}
            Err(TransportError::Cancelled) => break,
            Err(e) => ctx.fail_step(
                report,
                "services",
                format!("creating \"{}\": {e}", new.name),
            ),
        }
        (ctx.on_update)(SyncUpdate::Progress(report.progress));
    }
    if !plan.services_to_create.is_empty() || service_ids.len() < 2 {
        // The create call's answer does not reliably carry the id: read the list again.
        match client.services(cancel).await {
            Ok(skus) => {
                let listed = synthesize_services(skus);
                for kind in ServiceKind::ALL {
                    if let Some(s) = find_service(kind, &listed) {
                        service_ids.insert(kind, s.id.clone());
                    }
                }
            }
            Err(TransportError::Cancelled) => {}
            Err(e) => ctx.fail_step(report, "services", format!("reading the services: {e}")),
        }
    }

    for kind in created_services {
        ctx.journal_write(JournalEvent::ServiceCreated {
            service: kind,
            service_id: service_ids.get(&kind).cloned().unwrap_or_default(),
        });
    }

    service_ids
}

/// The second step, accounts: creates the missing ones in batches and answers the companies
/// whose account could not be created.
async fn create_accounts(ctx: &RunContext<'_>, report: &mut SyncReport) -> BTreeSet<String> {
    let (client, cancel, planned, request) = (ctx.client, ctx.cancel, ctx.planned, ctx.request);
    let plan = &planned.plan;
    // 2. Accounts, in batches; a batch whose outcome is unknown is checked against the list
    // before anything is sent again, so an account is never created twice.
    let batch_size = request.options.account_batch_size.max(1);
    // Companies whose account could not be created: their counts would only meet "No account
    // map found", which would wrongly tell the user to map them in Synthesize.
    let mut accounts_not_created: BTreeSet<String> = BTreeSet::new();
    for batch in plan.accounts_to_create.chunks(batch_size) {
        if cancel.is_cancelled() {
            break;
        }
        let body: Vec<AccountRequest> = batch
            .iter()
            .map(|a| AccountRequest {
                name: a.name.clone(),
                description: a.description.clone(),
                id: a.id.clone(),
            })
            .collect();
        match client.create_accounts_once(body, cancel).await {
            Ok(()) => {
                report.progress.accounts_created += batch.len();
                ctx.journal_write(JournalEvent::AccountsCreated {
                    ids: batch.iter().map(|a| a.id.clone()).collect(),
                });
            }
            Err(TransportError::Cancelled) => break,
            Err(e) => {
                accounts_not_created.extend(batch.iter().map(|a| a.id.clone()));
                ctx.fail_step(
                    report,
                    "accounts",
                    format!("creating {} account(s): {e}", batch.len()),
                );
            }
        }
        (ctx.on_update)(SyncUpdate::Progress(report.progress));
    }

    accounts_not_created
}

/// The last step, counts: posts them with bounded, paced concurrency, each outcome reported
/// and journaled.
async fn post_counts(
    ctx: &RunContext<'_>,
    report: &mut SyncReport,
    service_ids: &HashMap<ServiceKind, String>,
    accounts_not_created: &BTreeSet<String>,
) {
    let (client, cancel, planned, request) = (ctx.client, ctx.cancel, ctx.planned, ctx.request);
    let plan = &planned.plan;
    let pacer = Pacer::new(COUNT_POSTS_PER_SECOND, client.stats().rate_limited);
    let concurrency = request.options.count_concurrency.max(1);
    let posts = futures_util::stream::iter(plan.counts.iter().cloned())
        .map(|count| {
            let pacer = &pacer;
            let service_ids = &service_ids;
            let accounts_not_created = &accounts_not_created;
            async move {
                if cancel.is_cancelled() {
                    return None;
                }
                let outcome = match service_ids.get(&count.service) {
                    _ if accounts_not_created.contains(&count.company_id.to_string()) => {
                        CountOutcome::Failed {
                            reason: "its account could not be created in Synthesize (see the accounts step); run Sync accounts again".into(),
                        }
                    }
                    None => CountOutcome::Failed {
                        reason: format!(
                            "the service \"{}\" does not exist in Synthesize; run Sync services first",
                            count.service.service_name()
                        ),
                    },
                    Some(service_id) => {
                        tokio::select! {
                            biased;
                            () = cancel.cancelled() => return None,
                            () = pacer.wait(client.stats().rate_limited) => {}
                        }
                        match client
                            .post_count(service_id, &count.company_id.to_string(), count.unit_count, cancel)
                            .await
                        {
                            Ok(CountPostOutcome::Sent) => CountOutcome::Sent,
                            Ok(CountPostOutcome::Unmapped { message }) => CountOutcome::Unmapped { message },
                            Err(TransportError::Cancelled) => return None,
                            Err(e) => CountOutcome::Failed {
                                reason: e.to_string(),
                            },
                        }
                    }
                };
                Some(ItemResult { count, outcome })
            }
        })
        .buffer_unordered(concurrency);
    futures_util::pin_mut!(posts);
    while let Some(item) = posts.next().await {
        let Some(item) = item else {
            continue;
        };
        ctx.journal_write(JournalEvent::CountResult {
            company_id: item.count.company_id,
            company_name: item.count.company_name.clone(),
            service: item.count.service,
            unit_count: item.count.unit_count,
            outcome: item.outcome.clone(),
        });
        report.progress.counts_done += 1;
        match &item.outcome {
            CountOutcome::Sent => report.progress.sent += 1,
            CountOutcome::Unmapped { .. } => report.progress.unmapped += 1,
            CountOutcome::Failed { .. } => report.progress.failed += 1,
        }
        (ctx.on_update)(SyncUpdate::Item(item.clone()));
        (ctx.on_update)(SyncUpdate::Progress(report.progress));
        report.items.push(item);
    }
    if !plan.counts.is_empty() {
        tracing::info!(
            posts_per_second = pacer.per_second(),
            "count posts finished at this pace"
        );
    }
}

fn synthesize_services(skus: Vec<Sku>) -> Vec<SynthesizeService> {
    skus.into_iter()
        .map(|s| SynthesizeService {
            id: s.id,
            name: s.name,
        })
        .collect()
}

/// Plans and executes in one go, without a confirmation in between.
pub async fn plan_and_execute(
    request: &SyncRequest,
    journal: Option<&Journal>,
    last_sent: &LastSent,
    on_update: &(dyn Fn(SyncUpdate) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(PlannedSync, SyncReport), EngineError> {
    let session = SyncSession::new(&request.synthesize)?;
    let planned = session.plan(request, last_sent, cancel).await?;
    let report = session
        .execute(&planned, request, journal, on_update, cancel)
        .await;
    Ok((planned, report))
}

/// One Synthesize client for planning and then running a sync, so both share its
/// connections and its request figures.
#[derive(Debug)]
pub struct SyncSession {
    client: SynthesizeClient,
    synthesize_url: url::Url,
}

impl SyncSession {
    /// A session on these settings; fails when they cannot make a client.
    pub fn new(settings: &SynthesizeSettings) -> Result<Self, EngineError> {
        Ok(Self {
            client: SynthesizeClient::new(settings.clone())?,
            synthesize_url: settings.base_url.clone(),
        })
    }

    /// The id of the organization the Synthesize keys belong to (`GET /organization`), half of
    /// the tenant's identity.
    pub async fn organization_id(&self, cancel: &CancellationToken) -> Result<String, EngineError> {
        let integration = self.client.authenticate(cancel).await?;
        integration
            .organization_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                EngineError::Other(
                    "Synthesize did not say which organization these keys belong to (no organizationId from GET /organization), so the run's history cannot be told apart from another tenant's; nothing was sent".into(),
                )
            })
    }

    /// The Synthesize URL the session talks to (half of the tenant's identity).
    pub fn synthesize_url(&self) -> &url::Url {
        &self.synthesize_url
    }

    /// Plans from a tenant's history: its last counts drive the zeros and the drop check, and
    /// the companies whose history lines could not be read are held.
    pub async fn plan_for_tenant(
        &self,
        request: &mut SyncRequest,
        history: &super::tenant::TenantHistory,
        cancel: &CancellationToken,
    ) -> Result<PlannedSync, EngineError> {
        request.guard.last_counts_unknown = history.readout.last_counts_unknown();
        self.plan(request, &history.last_sent(), cancel).await
    }

    /// Reads the Synthesize state and makes the plan (see [`plan`]).
    pub async fn plan(
        &self,
        request: &SyncRequest,
        last_sent: &LastSent,
        cancel: &CancellationToken,
    ) -> Result<PlannedSync, EngineError> {
        plan(&self.client, request, last_sent, cancel).await
    }

    /// Runs a plan (see [`execute`]).
    pub async fn execute(
        &self,
        planned: &PlannedSync,
        request: &SyncRequest,
        journal: Option<&Journal>,
        on_update: &(dyn Fn(SyncUpdate) + Send + Sync),
        cancel: &CancellationToken,
    ) -> SyncReport {
        execute(&self.client, planned, request, journal, on_update, cancel).await
    }
}

/// Only the given counts (for "Retry failed" and "revert to these counts").
/// Counts of companies the plan excludes are dropped: a company excluded since a run is never
/// posted by reverting to it.
pub fn plan_of_counts(mut counts: Vec<PlannedCount>, planned: &PlannedSync) -> PlannedSync {
    let excluded: BTreeSet<i64> = planned.plan.excluded.iter().map(|e| e.company_id).collect();
    counts.retain(|c| !excluded.contains(&c.company_id));
    PlannedSync {
        plan: SyncPlan {
            counts,
            excluded: planned.plan.excluded.clone(),
            ..SyncPlan::default()
        },
        services: planned.services.clone(),
        accounts: planned.accounts.clone(),
        skipped: planned.skipped.clone(),
        mapping_known: planned.mapping_known,
        unmapped_accounts: planned.unmapped_accounts.clone(),
        // Counts the user chose by hand from a run already made: no preview to prove, and no
        // drop guard (they are what was sent, or failed, before).
        incomplete: None,
        drop_check: DropCheck::default(),
    }
}
