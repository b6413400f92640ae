//! The app's side of sync: building the request from the profile and the previewed table,
//! plan → confirm → execute on the worker, per-row status, Retry failed, revert, status.

use std::collections::BTreeSet;

use crate::domain::adjustments::RunAdjustments;
use crate::domain::safety::{PlanContext, TenantIdentity};
use crate::engine::IntegrationStatus;
use crate::engine::sync::{
    PlannedSync, SendGuard, SyncReport, SyncRequest, SyncSteps, SyncUpdate, plan_of_counts,
};
use crate::engine::tenant::{ConnectWiseTenant, TenantHistory, TenantPlace};
use crate::storage::journal::{
    CountOutcome, JournalEntry, JournalEvent, RunOptions, new_run_id, plan_events,
};
use crate::worker::{
    ExecuteSyncJob, ExecutedSync, Handles, JobError, PlanSyncJob, SYNC, SetStatusJob, TenantPlan,
};

use super::super::log::LogLevel;
use super::super::sync_view::{MadePlan, PlanOnScreen, SyncAction, SyncFlow, outcome_words};
use super::super::table::{AccountState, LastSent, RowStatus};
use super::App;

impl App {
    pub(super) fn sync_action(&mut self, action: SyncAction) {
        match action {
            SyncAction::Plan(steps) => self.plan_sync(steps, false, None),
            SyncAction::DryRun => self.plan_sync(SyncSteps::ALL, true, None),
            SyncAction::Confirm => self.execute_plan(),
            SyncAction::ClosePlan => {
                if let SyncFlow::Confirm(on_screen) = std::mem::take(&mut self.sync.flow) {
                    if on_screen.dry_run {
                        self.mark_dry_run(&on_screen.plan);
                    } else {
                        self.sync.message = Some(Ok("Sync not started: nothing was sent.".into()));
                    }
                }
            }
            SyncAction::Cancel => {
                self.log.push(LogLevel::Info, "Cancelling the sync");
                self.services.worker.cancel(SYNC);
            }
            SyncAction::RetryFailed => self.retry_failed(),
            SyncAction::SetStatus(status) => self.set_status(status),
        }
    }

    /// What a plan made now would depend on: the counting options as the form shows them, the
    /// zero policy, and the tenant as the connection form names it (its ConnectWise site and
    /// company and its Synthesize URL). The selection is checked when a plan is confirmed.
    pub(super) fn current_plan_context(&self) -> Option<PlanContext> {
        let profile = self.profile.as_ref()?;
        let connectwise = self.connectwise_tenant();
        Some(PlanContext {
            counting: self
                .counting_form
                .to_options()
                .unwrap_or_else(|_| profile.counting.clone()),
            zero_policy: profile.sync.zero_policy,
            tenant: TenantIdentity::new(
                &connectwise.site,
                &connectwise.company_id,
                &self.form.synthesize_url,
                "",
            ),
            selection: None,
        })
    }

    /// The ConnectWise half of the tenant as the connection form names it.
    pub(super) fn connectwise_tenant(&self) -> ConnectWiseTenant {
        let site = self.form.site();
        ConnectWiseTenant {
            site: site
                .direct_api_url()
                .or(site.site_url())
                .unwrap_or_default()
                .to_owned(),
            company_id: self.form.company_id.clone(),
        }
    }

    /// Why the table may not be sent now: it is out of date, or its preview is incomplete.
    pub(super) fn send_blocked(&self) -> Option<String> {
        self.preview.table.as_ref()?;
        let stale = match (&self.preview.binding, self.current_plan_context()) {
            (Some(binding), Some(current)) => {
                binding.stale_message(&current, chrono::Utc::now(), None)
            }
            _ => Some("The table is out of date. Preview again to send.".to_owned()),
        };
        if stale.is_some() {
            return stale;
        }
        let reasons = self.preview.completeness.as_ref()?.incomplete_reasons();
        if reasons.is_empty() {
            return None;
        }
        let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        Some(format!(
            "The preview is incomplete, so sending is off: {}. Preview again.",
            reasons.join("; ")
        ))
    }

    /// The profile's adjustments with the statuses the last preview read, if it read them.
    fn run_adjustments_of(&self, profile: &crate::storage::Profile) -> RunAdjustments {
        profile
            .run_adjustments()
            .with_company_statuses(self.preview.company_statuses.as_ref())
    }

    fn sync_request(&self, steps: SyncSteps) -> Result<SyncRequest, String> {
        let synthesize = self.form.synthesize_settings()?;
        let profile = self
            .profile
            .as_ref()
            .ok_or_else(|| "Profile: create or pick a profile first".to_owned())?;
        let (counts, selection, rule_text) = match &self.preview.table {
            Some(table) => {
                let selected: BTreeSet<i64> = table.selected_ids().into_iter().collect();
                let selection = (selected.len() < table.rows().len()).then_some(selected);
                (table.companies(), selection, table.rule_text.clone())
            }
            None if steps.accounts || steps.usage => {
                return Err("Run a preview first: a sync sends the previewed counts".to_owned());
            }
            None => (Vec::new(), None, String::new()),
        };
        let needs_counts = steps.accounts || steps.usage;
        if needs_counts && let Some(blocked) = self.send_blocked() {
            return Err(blocked);
        }
        Ok(SyncRequest {
            synthesize,
            counts,
            selection,
            options: profile.sync.clone(),
            steps,
            profile_name: profile.name.clone(),
            rule_text,
            revert: false,
            guard: SendGuard {
                completeness: self.preview.completeness.clone().filter(|_| needs_counts),
                drop_thresholds: profile.drop_guard,
                ..SendGuard::default()
            },
            adjustments: self.run_adjustments_of(profile),
        })
    }

    /// Asks the worker for the plan; the confirmation shows when it arrives.
    fn plan_sync(
        &mut self,
        steps: SyncSteps,
        dry_run: bool,
        revert_counts: Option<Vec<crate::domain::sync_plan::PlannedCount>>,
    ) {
        let request = match self.sync_request(steps) {
            Ok(r) => r,
            Err(e) => {
                self.sync.message = Some(Err(e));
                return;
            }
        };
        let Some(dirs) = self.history_dirs() else {
            self.sync.message = Some(Err(
                "The sync history has no folder to live in (the demo's temporary folder is gone); restart the demo".into(),
            ));
            return;
        };
        let place = TenantPlace {
            dirs,
            connectwise: self.connectwise_tenant(),
        };
        self.sync.flow = SyncFlow::Planning {
            dry_run,
            revert_counts,
        };
        self.sync.message = None;
        self.start_job(PlanSyncJob { request, place });
    }

    fn on_sync_planned(&mut self, result: Result<Box<TenantPlan>, JobError>) {
        match result {
            Ok(tenant_plan) => {
                let SyncFlow::Planning {
                    dry_run,
                    revert_counts,
                } = std::mem::take(&mut self.sync.flow)
                else {
                    // The plan of a sync the window no longer waits for.
                    return;
                };
                let TenantPlan {
                    mut planned,
                    mut request,
                    history,
                } = *tenant_plan;
                self.sync.synthesize_answered = true;
                if let Some(counts) = revert_counts {
                    planned = plan_of_counts(counts, &planned);
                    request.revert = true;
                }
                self.log
                    .push(LogLevel::Info, format!("Plan: {}", planned.plan.summary()));
                for warning in planned.warnings() {
                    self.log.push(LogLevel::Warn, warning);
                }
                self.apply_account_states(&planned);
                self.sync.flow = SyncFlow::Confirm(Box::new(PlanOnScreen {
                    plan: MadePlan {
                        request,
                        planned,
                        history,
                    },
                    dry_run,
                    drop_confirmed: false,
                }));
            }
            Err(JobError::Cancelled) => {
                self.sync.flow = SyncFlow::Idle;
                self.sync.message = Some(Ok("Sync cancelled before anything was sent.".into()));
            }
            Err(e) => {
                self.sync.flow = SyncFlow::Idle;
                let text = format!("The sync could not be planned: {e}");
                self.log.push(LogLevel::Error, &text);
                self.sync.message = Some(Err(text));
            }
        }
    }

    /// Marks which companies already have a Synthesize account, and which are not mapped yet
    /// when Synthesize's list says so (`isMapped`), before anything is sent.
    fn apply_account_states(&mut self, planned: &PlannedSync) {
        let Some(table) = self.preview.table.as_mut() else {
            return;
        };
        let existing: BTreeSet<&str> = planned.accounts.iter().map(|a| a.id.as_str()).collect();
        for row in table.rows_mut() {
            let id = row.counts.company_id.to_string();
            if planned.mapping_known && existing.contains(id.as_str()) {
                row.account = if planned.unmapped_accounts.contains(&id) {
                    AccountState::Unmapped
                } else {
                    AccountState::Exists
                };
            } else if row.account != AccountState::Unmapped {
                row.account = if existing.contains(id.as_str()) {
                    AccountState::Exists
                } else {
                    AccountState::Missing
                };
            }
        }
    }

    /// A dry run: each row says what it would get beside its real status, nothing is sent, and
    /// History lists the dry run.
    fn mark_dry_run(&mut self, made: &MadePlan) {
        let planned = &made.planned;
        let summary = planned.plan.summary();
        if let Some(table) = self.preview.table.as_mut() {
            table.clear_dry_run();
            for count in &planned.plan.counts {
                if let Some(row) = table.row_by_company_mut(count.company_id) {
                    row.would_send
                        .get_or_insert_with(LastSent::default)
                        .set(count.service, count.unit_count);
                }
            }
            table.rows_changed();
        }
        self.remember_dry_run(made);
        self.sync.message = Some(Ok(format!("Dry run: nothing was sent. {summary}")));
        self.log.push(LogLevel::Info, "Dry run: nothing was sent");
        self.history = None;
    }

    /// Keeps the dry run on screen for History, in the journal's own terms but in memory
    /// only: a dry run sends nothing, so it never touches the tenant's history (which a plan
    /// and Retry failed check is unchanged before they send).
    fn remember_dry_run(&mut self, made: &MadePlan) {
        let (planned, request) = (&made.planned, &made.request);
        let run_id = new_run_id();
        let mut events = vec![JournalEvent::RunStarted {
            profile: request.profile_name.clone(),
            kind: request.steps.run_kind(),
            dry_run: true,
            options: RunOptions {
                sync: request.options.clone(),
                counting_rule: request.rule_text.clone(),
            },
        }];
        events.extend(plan_events(&planned.plan, true));
        events.push(JournalEvent::RunFinished {
            sent: 0,
            unmapped: 0,
            failed: 0,
            cancelled: false,
        });
        let at = chrono::Utc::now();
        self.session_dry_runs
            .extend(events.into_iter().map(|event| JournalEntry {
                at,
                run_id: run_id.clone(),
                event,
            }));
    }

    /// Runs the confirmed plan.
    fn execute_plan(&mut self) {
        let SyncFlow::Confirm(on_screen) = std::mem::take(&mut self.sync.flow) else {
            return;
        };
        let PlanOnScreen {
            plan: mut made,
            drop_confirmed,
            ..
        } = *on_screen;
        let selection_now = self.preview.table.as_ref().map(|table| {
            let selected: BTreeSet<i64> = table.selected_ids().into_iter().collect();
            (selected.len() < table.rows().len()).then_some(selected)
        });
        let request = &mut made.request;
        if !request.revert
            && (request.steps.accounts || request.steps.usage)
            && selection_now.is_some_and(|now| now != request.selection)
        {
            self.sync.message = Some(Err(
                "The selection changed since the plan was made: nothing was sent. Sync again."
                    .into(),
            ));
            return;
        }
        // The drop guard's explicit confirmation, ticked in the plan dialog.
        request.guard.allow_large_drop = drop_confirmed;
        self.log.push(
            LogLevel::Info,
            format!("Sending: {}", made.planned.plan.summary()),
        );
        self.start_execute(made, true);
    }

    /// Sends the plan to the worker; a retry keeps the other rows' statuses.
    fn start_execute(&mut self, made: MadePlan, fresh: bool) {
        let Some(dirs) = self.history_dirs() else {
            self.sync.flow = SyncFlow::Idle;
            self.sync.message = Some(Err(
                "The tenant's sync history has no folder to live in: nothing was sent. Sync again."
                    .into(),
            ));
            return;
        };
        if let Some(table) = self.preview.table.as_mut() {
            if fresh {
                table.clear_statuses();
            }
            for count in &made.planned.plan.counts {
                if let Some(row) = table.row_by_company_mut(count.company_id) {
                    row.status = RowStatus::Pending;
                }
            }
        }
        let progress = crate::engine::sync::SyncProgress {
            counts_total: made.planned.plan.counts.len(),
            ..Default::default()
        };
        self.sync.message = None;
        self.start_job(ExecuteSyncJob {
            request: made.request.clone(),
            planned: made.planned.clone(),
            history: made.history.clone(),
            dirs,
        });
        self.sync.flow = SyncFlow::Running {
            plan: Box::new(made),
            progress,
        };
    }

    fn on_sync_update(&mut self, update: SyncUpdate) {
        match update {
            SyncUpdate::Progress(p) => {
                if let SyncFlow::Running { progress, .. } = &mut self.sync.flow {
                    *progress = p;
                }
            }
            SyncUpdate::StepFailed { step, reason } => {
                self.log
                    .push(LogLevel::Error, format!("Sync {step}: {reason}"));
            }
            SyncUpdate::Item(item) => {
                let Some(table) = self.preview.table.as_mut() else {
                    return;
                };
                let Some(row) = table.row_by_company_mut(item.count.company_id) else {
                    return;
                };
                // A company has two counts: a failure wins over unmapped, which wins over sent,
                // and every failure of the row is kept.
                let service = item.count.service.service_name();
                match &item.outcome {
                    CountOutcome::Failed { reason } => {
                        let this = format!("{service}: {reason}");
                        row.status = match &row.status {
                            RowStatus::Failed(before) if !before.contains(&this) => {
                                RowStatus::Failed(format!("{before}; {this}"))
                            }
                            RowStatus::Failed(before) => RowStatus::Failed(before.clone()),
                            _ => RowStatus::Failed(this),
                        };
                    }
                    CountOutcome::Unmapped { message } => {
                        row.account = AccountState::Unmapped;
                        if !matches!(row.status, RowStatus::Failed(_)) {
                            row.status = RowStatus::Unmapped(message.clone());
                        }
                    }
                    CountOutcome::Sent => {
                        if matches!(row.status, RowStatus::Pending | RowStatus::None) {
                            row.status = RowStatus::Sent;
                        }
                        // A count was taken: the account exists now.
                        if row.account != AccountState::Unmapped {
                            row.account = AccountState::Exists;
                        }
                        row.sent_now
                            .get_or_insert_with(LastSent::default)
                            .set(item.count.service, item.count.unit_count);
                        row.reverted = self.sync.request().is_some_and(|r| r.revert);
                    }
                }
                if !matches!(item.outcome, CountOutcome::Sent) {
                    self.log.push(
                        LogLevel::Warn,
                        format!(
                            "{} ({}) {service} = {}: {}",
                            item.count.company_name,
                            item.count.company_id,
                            item.count.unit_count,
                            outcome_words(&item.outcome)
                        ),
                    );
                }
            }
        }
    }

    fn on_sync_finished(&mut self, result: Result<Box<ExecutedSync>, JobError>) {
        self.history = None;
        let SyncFlow::Running { plan: mut made, .. } = std::mem::take(&mut self.sync.flow) else {
            return;
        };
        match result {
            Ok(executed) => {
                let ExecutedSync {
                    report,
                    history,
                    report_files,
                } = *executed;
                match report_files {
                    Ok(Some(files)) => self.log.push(
                        LogLevel::Info,
                        format!("Run report: {}", files.html.display()),
                    ),
                    Ok(None) => {}
                    Err(e) => self.log.push(
                        LogLevel::Warn,
                        format!("The run report could not be written: {e}"),
                    ),
                }
                // The table's "last sent" follows the history as the run left it.
                let last_sent = history.as_ref().map(TenantHistory::last_sent);
                if let Some(history) = history {
                    made.history = history;
                }
                let p = report.progress;
                let text = format!(
                    "Sync {}: {} services created, {} accounts created, {} counts sent, {} unmapped, {} failed",
                    if report.cancelled {
                        "cancelled"
                    } else {
                        "done"
                    },
                    p.services_created,
                    p.accounts_created,
                    p.sent,
                    p.unmapped,
                    p.failed
                );
                let failed = report.has_failures();
                self.log.push(
                    if failed {
                        LogLevel::Warn
                    } else {
                        LogLevel::Info
                    },
                    &text,
                );
                for (step, reason) in &report.step_failures {
                    self.log.push(LogLevel::Error, format!("{step}: {reason}"));
                }
                self.settle_rows(&made, &report);
                self.sync.message = Some(if failed { Err(text) } else { Ok(text) });
                self.sync.flow = SyncFlow::Finished { plan: made, report };
                if let (Some(table), Some(last_sent)) = (self.preview.table.as_mut(), last_sent) {
                    Self::merge_last_sent(table, &last_sent);
                }
            }
            Err(e) => {
                let text = format!("The sync failed: {e}");
                self.log.push(LogLevel::Error, &text);
                self.sync.message = Some(Err(text));
            }
        }
    }

    /// After a run: rows still pending were skipped; accounts the run created exist; a ticked
    /// company with nothing but zeros, which the zero policy does not send, says so.
    fn settle_rows(&mut self, made: &MadePlan, report: &SyncReport) {
        let accounts_failed = report
            .step_failures
            .iter()
            .any(|(step, _)| step == "accounts");
        let created: BTreeSet<i64> = if accounts_failed {
            BTreeSet::new()
        } else {
            made.planned
                .plan
                .accounts_to_create
                .iter()
                .filter_map(|a| a.id.parse().ok())
                .collect()
        };
        let usage = made.request.steps.usage && !made.request.revert;
        let Some(table) = self.preview.table.as_mut() else {
            return;
        };
        for row in table.rows_mut() {
            if row.status == RowStatus::Pending {
                row.status = RowStatus::Skipped;
            }
            if created.contains(&row.counts.company_id) && row.account == AccountState::Missing {
                row.account = AccountState::Exists;
            }
            if usage
                && row.selected
                && row.status == RowStatus::None
                && row.held.is_none()
                && row.counts.shared_devices == 0
                && row.counts.not_shared_devices == 0
            {
                row.status = RowStatus::ZeroNotSent;
            }
        }
        // What a dry run said before this real run is no longer what would be sent.
        table.clear_dry_run();
        table.rows_changed();
    }

    /// Posts again only the counts that failed.
    fn retry_failed(&mut self) {
        let SyncFlow::Finished { plan, report } = &self.sync.flow else {
            return;
        };
        let failed = report.failed_counts();
        if failed.is_empty() {
            return;
        }
        let made = MadePlan {
            planned: plan_of_counts(failed.clone(), &plan.planned),
            request: plan.request.clone(),
            history: plan.history.clone(),
        };
        self.log.push(
            LogLevel::Info,
            format!("Retrying {} failed count(s)", failed.len()),
        );
        self.start_execute(made, false);
    }

    /// "Revert to these counts": plans posting a past run's counts again, then asks to confirm.
    pub(super) fn start_revert(&mut self, run_id: &str) {
        // The button is on History, whose view holds the journal as it was read.
        let Some(Ok(view)) = &self.history else {
            return;
        };
        let counts = view.readout.run_counts(run_id);
        if counts.is_empty() {
            self.sync.message = Some(Err("That run posted no counts to revert to.".into()));
        } else {
            self.tab = super::Tab::Preview;
            self.plan_sync(SyncSteps::SERVICES, false, Some(counts));
        }
    }

    fn set_status(&mut self, status: IntegrationStatus) {
        match self.form.synthesize_settings() {
            Ok(settings) => {
                self.sync.status_message = None;
                self.start_job(SetStatusJob { settings, status });
            }
            Err(e) => self.sync.status_message = Some(Err(e)),
        }
    }

    fn on_status_set(&mut self, result: Result<IntegrationStatus, JobError>) {
        self.sync.status_message = Some(match result {
            Ok(status) => {
                let text = format!("Integration status set to {status}");
                self.log.push(LogLevel::Info, &text);
                // What Synthesize said before is no longer its status.
                if let Some(integration) = self.sync.integration.as_mut() {
                    integration.status = Some(status.as_str().to_owned());
                }
                Ok(text)
            }
            Err(e) => {
                let text = format!("The integration status was not set: {e}");
                self.log.push(LogLevel::Error, &text);
                Err(text)
            }
        });
    }
}

impl Handles<PlanSyncJob> for App {
    fn on_outcome(&mut self, result: Result<Box<TenantPlan>, JobError>) {
        self.on_sync_planned(result);
    }
}

impl Handles<ExecuteSyncJob> for App {
    fn on_progress(&mut self, update: SyncUpdate) {
        self.on_sync_update(update);
    }

    fn on_outcome(&mut self, result: Result<Box<ExecutedSync>, JobError>) {
        self.on_sync_finished(result);
    }
}

impl Handles<SetStatusJob> for App {
    fn on_outcome(&mut self, result: Result<IntegrationStatus, JobError>) {
        self.on_status_set(result);
    }
}
