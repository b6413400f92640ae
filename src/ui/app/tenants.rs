//! The Tenants tab's glue: its actions turned into worker jobs, and the jobs' answers applied
//! to its state (see `ui::tenants` for what it draws).

use std::sync::Arc;

use super::super::log::LogLevel;
use super::super::schedule_dialog::{ScheduleAction, ScheduleDialog, schedule_dialog_ui};
use super::super::tenants::{TenantsAction, TenantsView, result_words, tenants_ui};
use super::App;
use crate::engine::tenants::{TenantOutcome, TenantsOverview};
use crate::worker::{
    Handles, Job, JobError, PlanAllJob, PreviewAllJob, SYNC, ScheduleAnswer, ScheduleJob,
    ScheduleWork, SendAllJob, SetWebhookJob, TenantPlanEntry, TenantPreviewed, TenantSendResult,
    TenantStep, TenantsOverviewJob, TestNotificationJob,
};

impl App {
    /// The app's folders (the profiles and their tenants' histories).
    fn tenants_dirs(&self) -> crate::storage::AppDirs {
        self.services.dirs.clone()
    }

    /// The window's secret store (the keychain, or a test's).
    fn tenants_secrets(&self) -> Arc<dyn crate::storage::SecretStore> {
        Arc::clone(&self.services.secrets)
    }

    /// Whether Preview all, a plan or a send of many tenants (or any sync) runs.
    pub fn tenants_busy(&self) -> bool {
        self.is_running(PreviewAllJob::KIND) || self.is_running(SYNC)
    }

    /// The Tenants tab; its actions are handled right after it is drawn.
    pub(super) fn tenants_tab_ui(&mut self, ui: &mut egui::Ui) {
        if self.tenants.rows.is_none() && !self.is_running(TenantsOverviewJob::KIND) {
            self.refresh_tenants();
        }
        let profile =
            (!self.is_demo() && self.profile.is_some()).then(|| self.profile_name().to_owned());
        let view = TenantsView {
            busy: self.tenants_busy(),
            profile: profile.as_deref(),
        };
        let actions = tenants_ui(ui, &mut self.tenants, view);
        for action in actions {
            self.on_tenants_action(action);
        }
        self.schedule_dialog(ui.ctx());
    }

    /// Reads every profile's last run again, on the worker.
    pub fn refresh_tenants(&mut self) {
        self.start_job(TenantsOverviewJob {
            dirs: self.tenants_dirs(),
        });
    }

    fn tenant_names(&self) -> Vec<String> {
        match &self.tenants.rows {
            Some(Ok(rows)) => rows.iter().map(|r| r.name.clone()).collect(),
            _ => self.profile_names.clone(),
        }
    }

    fn on_tenants_action(&mut self, action: TenantsAction) {
        match action {
            TenantsAction::Refresh => self.refresh_tenants(),
            TenantsAction::PreviewAll => {
                self.tenants.previews.clear();
                self.tenants.message = None;
                self.start_job(PreviewAllJob {
                    dirs: self.tenants_dirs(),
                    secrets: self.tenants_secrets(),
                    names: self.tenant_names(),
                });
            }
            TenantsAction::PlanAll => {
                self.tenants.results.clear();
                self.tenants.message = None;
                self.start_job(PlanAllJob {
                    dirs: self.tenants_dirs(),
                    secrets: self.tenants_secrets(),
                    names: self.tenant_names(),
                });
            }
            TenantsAction::CancelSendAll => {
                if self.tenants.plans.take().is_some() {
                    self.tenants.message = Some(Ok("Send all cancelled: nothing was sent.".into()));
                    self.log
                        .push(LogLevel::Info, "Send all cancelled; nothing was sent");
                }
            }
            TenantsAction::ConfirmSendAll => self.send_all(),
            TenantsAction::Stop => {
                self.worker().cancel(PreviewAllJob::KIND);
                self.worker().cancel(SYNC);
            }
            TenantsAction::OpenSchedule => self.open_schedule_dialog(),
            TenantsAction::SaveWebhook => {
                if self.is_demo() || self.profile.is_none() {
                    return;
                }
                let url =
                    crate::storage::Secret::new(std::mem::take(&mut self.tenants.webhook_text));
                self.start_job(SetWebhookJob {
                    profile: self.profile_name().to_owned(),
                    url,
                    secrets: self.tenants_secrets(),
                });
            }
            TenantsAction::TestNotification => {
                let Some(profile) = self.profile.as_ref().filter(|_| !self.is_demo()) else {
                    return;
                };
                self.tenants.notify_message = Some(Ok("Sending a test notification…".into()));
                self.start_job(TestNotificationJob {
                    profile: profile.name.clone(),
                    settings: profile.notify,
                    secrets: self.tenants_secrets(),
                });
            }
        }
    }

    /// Sends the plans the user confirmed, one tenant after another on the worker: those
    /// without a plan or stopped by a safety check send nothing and are reported (and
    /// notified) as the command reports them.
    fn send_all(&mut self) {
        let Some(tenants) = self.tenants.plans.take() else {
            return;
        };
        self.log.push(
            LogLevel::Info,
            format!("Send all confirmed for {} tenant(s)", tenants.len()),
        );
        self.start_job(SendAllJob {
            secrets: self.tenants_secrets(),
            tenants,
        });
    }

    /// Opens "Schedule…" for the open profile (every profile when none is open) and reads
    /// the schedules there are.
    pub fn open_schedule_dialog(&mut self) {
        let profile = if self.is_demo() {
            String::new()
        } else {
            self.profile_name().to_owned()
        };
        self.tenants.schedule = Some(ScheduleDialog::new(&profile));
        self.start_schedule_job(ScheduleWork::Show);
    }

    fn start_schedule_job(&mut self, work: ScheduleWork) {
        if let Some(dialog) = &mut self.tenants.schedule {
            dialog.running = true;
        }
        self.start_job(ScheduleJob {
            dirs: self.tenants_dirs(),
            place: self.tenants.schedule_place.clone(),
            work,
        });
    }

    fn schedule_dialog(&mut self, ctx: &egui::Context) {
        let Some(dialog) = &mut self.tenants.schedule else {
            return;
        };
        for action in schedule_dialog_ui(ctx, dialog) {
            match action {
                ScheduleAction::Close => self.tenants.schedule = None,
                ScheduleAction::Install => {
                    let Some(dialog) = &mut self.tenants.schedule else {
                        continue;
                    };
                    match dialog.time() {
                        Ok(time) => {
                            dialog.field_error = None;
                            let target = dialog.target();
                            self.start_schedule_job(ScheduleWork::Install { target, time });
                        }
                        Err(e) => dialog.field_error = Some(e),
                    }
                }
                ScheduleAction::Remove => {
                    let Some(dialog) = &self.tenants.schedule else {
                        continue;
                    };
                    let target = dialog.target();
                    self.start_schedule_job(ScheduleWork::Remove { target });
                }
            }
        }
    }

    fn tenants_working(&mut self, index: usize, total: usize, name: String, what: &'static str) {
        self.tenants.working = Some((index, total, name, what));
    }

    fn tenants_stopped(&mut self, what: &str, result: Result<(), JobError>) {
        self.tenants.working = None;
        if let Err(e) = result {
            let text = match e {
                JobError::Cancelled => format!("{what} stopped."),
                e => format!("{what}: {e}"),
            };
            self.log.push(LogLevel::Warn, text.clone());
            self.tenants.message = Some(Err(text));
        }
    }
}

impl Handles<TenantsOverviewJob> for App {
    fn on_outcome(&mut self, outcome: Result<TenantsOverview, JobError>) {
        self.tenants.rows = Some(match outcome {
            Ok(overview) => {
                // Kept across readings: the file was moved aside, so the next reading is silent.
                for problem in overview.problems {
                    if !self.tenants.profile_problems.contains(&problem) {
                        self.tenants.profile_problems.push(problem);
                    }
                }
                Ok(overview.rows)
            }
            Err(e) => Err(e.to_string()),
        });
    }
}

impl Handles<PreviewAllJob> for App {
    fn on_progress(&mut self, progress: TenantStep<TenantPreviewed>) {
        match progress {
            TenantStep::Working { index, total, name } => {
                self.tenants_working(index, total, name, "Previewing");
            }
            TenantStep::Finished(previewed) => {
                if let Err(e) = &previewed.result {
                    self.log.push(
                        LogLevel::Warn,
                        format!("Preview of {}: {e}", previewed.name),
                    );
                }
                self.tenants
                    .previews
                    .insert(previewed.name.clone(), previewed.result);
            }
        }
    }

    fn on_outcome(&mut self, outcome: Result<(), JobError>) {
        self.tenants_stopped("Preview all", outcome.clone());
        if outcome.is_ok() {
            let failed = self
                .tenants
                .previews
                .values()
                .filter(|r| r.is_err())
                .count();
            let total = self.tenants.previews.len();
            self.tenants.message = Some(Ok(format!(
                "Preview all: {} of {total} tenant(s) previewed, {failed} failed.",
                total - failed
            )));
        }
    }
}

impl Handles<PlanAllJob> for App {
    fn on_progress(&mut self, progress: TenantStep<std::convert::Infallible>) {
        let TenantStep::Working { index, total, name } = progress;
        self.tenants_working(index, total, name, "Planning");
    }

    fn on_outcome(&mut self, outcome: Result<Vec<TenantPlanEntry>, JobError>) {
        self.tenants.working = None;
        match outcome {
            Ok(plans) => self.tenants.plans = Some(plans),
            Err(e) => self.tenants_stopped("Planning all tenants", Err(e)),
        }
    }
}

impl Handles<SendAllJob> for App {
    fn on_progress(&mut self, progress: TenantStep<TenantSendResult>) {
        match progress {
            TenantStep::Working { index, total, name } => {
                self.tenants_working(index, total, name, "Sending");
            }
            TenantStep::Finished(result) => {
                let level = if result.outcome == TenantOutcome::Done {
                    LogLevel::Info
                } else {
                    LogLevel::Warn
                };
                self.log.push(
                    level,
                    format!("Send all, {}: {}", result.name, result_words(&result)),
                );
                self.tenants.results.insert(result.name.clone(), result);
            }
        }
    }

    fn on_outcome(&mut self, outcome: Result<(), JobError>) {
        self.tenants_stopped("Send all", outcome.clone());
        if outcome.is_ok() {
            let results = &self.tenants.results;
            let worst = TenantOutcome::worst(results.values().map(|r| r.outcome));
            let not_done = results
                .values()
                .filter(|r| r.outcome != TenantOutcome::Done)
                .count();
            self.tenants.message = Some(if not_done == 0 {
                Ok(format!("Send all: all {} tenant(s) done.", results.len()))
            } else {
                Err(format!(
                    "Send all: {} of {} tenant(s) done, {not_done} not done (worst: {}).",
                    results.len() - not_done,
                    results.len(),
                    worst.words()
                ))
            });
        }
        // The last runs changed.
        self.tenants.rows = None;
    }
}

impl Handles<ScheduleJob> for App {
    fn on_outcome(&mut self, outcome: Result<ScheduleAnswer, JobError>) {
        if let Ok(ScheduleAnswer {
            done: Some(done), ..
        }) = &outcome
        {
            match done {
                Ok(text) => self.log.push(LogLevel::Info, text.clone()),
                Err(text) => self.log.push(LogLevel::Warn, text.clone()),
            }
        }
        if let Some(dialog) = &mut self.tenants.schedule {
            dialog.running = false;
            dialog.answer = Some(outcome.map_err(|e| e.to_string()));
        }
    }
}

impl Handles<TestNotificationJob> for App {
    fn on_outcome(&mut self, outcome: Result<(), JobError>) {
        self.tenants.notify_message = Some(match outcome {
            Ok(()) => {
                self.log.push(LogLevel::Info, "Test notification sent");
                Ok("Test notification sent.".into())
            }
            Err(e) => {
                self.log
                    .push(LogLevel::Warn, format!("Test notification not sent: {e}"));
                Err(format!("Test notification not sent: {e}"))
            }
        });
    }
}

impl Handles<SetWebhookJob> for App {
    fn on_outcome(&mut self, outcome: Result<bool, JobError>) {
        self.tenants.notify_message = Some(match outcome {
            Ok(true) => Ok("Webhook stored in the keychain.".into()),
            Ok(false) => Ok("Webhook removed.".into()),
            Err(e) => Err(format!("The webhook was not stored: {e}")),
        });
    }
}
