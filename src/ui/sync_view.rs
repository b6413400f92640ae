//! Sync in the window: the four buttons, the plan shown for confirmation (or as a dry run),
//! progress with Cancel, "Retry failed", and the integration status. Drawing only: the app
//! starts the worker's plan and execute jobs for the actions returned.

use crate::domain::printable::printable;
use crate::domain::sync_plan::{NO_ACCOUNT_YET, PlannedCount};
use crate::engine::sync::{PlannedSync, SyncProgress, SyncReport, SyncRequest, SyncSteps};
use crate::engine::tenant::TenantHistory;
use crate::engine::{IntegrationData, IntegrationStatus};
use crate::storage::journal::CountOutcome;

use super::widgets::{destructive_button, primary_button};

/// Where the current sync stands, as a word (the flow itself carries the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPhase {
    #[default]
    Idle,
    Planning,
    /// The plan is on screen, waiting for Confirm (or shown as a dry run).
    Confirm,
    Running,
}

/// A plan the worker made, with the request it answers and the tenant's history it was made
/// against: what Confirm sends, and what a run keeps for Retry failed.
#[derive(Debug, Clone)]
pub struct MadePlan {
    pub request: SyncRequest,
    pub planned: PlannedSync,
    /// The history the plan was made against, or as the last run left it (the baseline of
    /// Retry failed); a run sends only while it is still current.
    pub history: TenantHistory,
}

/// The plan on screen, waiting for the user.
#[derive(Debug, Clone)]
pub struct PlanOnScreen {
    pub plan: MadePlan,
    /// Shown as a dry run: nothing can be sent from it.
    pub dry_run: bool,
    /// The user ticked "send the drop" (the drop guard).
    pub drop_confirmed: bool,
}

/// One step of the sync flow; each variant carries what that step needs, so a plan, a run and
/// a report can never belong to different syncs.
#[derive(Debug, Default)]
pub enum SyncFlow {
    #[default]
    Idle,
    /// The worker is reading Synthesize to make the plan.
    Planning {
        dry_run: bool,
        /// Counts of a past run to post again, once the services are read.
        revert_counts: Option<Vec<PlannedCount>>,
    },
    Confirm(Box<PlanOnScreen>),
    Running {
        plan: Box<MadePlan>,
        progress: SyncProgress,
    },
    /// A run ended with this report (kept for the summary and Retry failed).
    Finished {
        plan: Box<MadePlan>,
        report: SyncReport,
    },
}

/// The sync's state the panels read each frame: the flow, the last message, and the
/// integration status (a flow of its own).
#[derive(Debug, Default)]
pub struct SyncState {
    pub flow: SyncFlow,
    pub message: Option<Result<String, String>>,
    /// Synthesize answered a plan this session (the step bar's proof that it is reachable).
    pub synthesize_answered: bool,
    pub status_choice: Option<IntegrationStatus>,
    /// What Synthesize last said about the integration (status and last sync), when read.
    pub integration: Option<IntegrationData>,
    pub status_message: Option<Result<String, String>>,
    /// A status change waiting for the user's confirmation.
    pub status_to_confirm: Option<IntegrationStatus>,
}

impl SyncState {
    /// The flow's step, as a word.
    pub fn phase(&self) -> SyncPhase {
        match self.flow {
            SyncFlow::Idle | SyncFlow::Finished { .. } => SyncPhase::Idle,
            SyncFlow::Planning { .. } => SyncPhase::Planning,
            SyncFlow::Confirm(_) => SyncPhase::Confirm,
            SyncFlow::Running { .. } => SyncPhase::Running,
        }
    }

    /// The plan on screen, being sent, or last sent.
    pub fn plan(&self) -> Option<&MadePlan> {
        match &self.flow {
            SyncFlow::Confirm(on_screen) => Some(&on_screen.plan),
            SyncFlow::Running { plan, .. } | SyncFlow::Finished { plan, .. } => Some(plan),
            SyncFlow::Idle | SyncFlow::Planning { .. } => None,
        }
    }

    pub fn planned(&self) -> Option<&PlannedSync> {
        self.plan().map(|p| &p.planned)
    }

    pub fn request(&self) -> Option<&SyncRequest> {
        self.plan().map(|p| &p.request)
    }

    pub fn history(&self) -> Option<&TenantHistory> {
        self.plan().map(|p| &p.history)
    }

    /// The report of the run that ended last.
    pub fn report(&self) -> Option<&SyncReport> {
        match &self.flow {
            SyncFlow::Finished { report, .. } => Some(report),
            _ => None,
        }
    }

    /// Whether the drop guard's box is ticked in the plan on screen.
    pub fn drop_confirmed(&self) -> bool {
        matches!(&self.flow, SyncFlow::Confirm(on_screen) if on_screen.drop_confirmed)
    }

    /// The progress of the run being sent.
    pub fn progress(&self) -> Option<SyncProgress> {
        match &self.flow {
            SyncFlow::Running { progress, .. } => Some(*progress),
            _ => None,
        }
    }
}

/// What the sync controls ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    Plan(SyncSteps),
    /// Plan everything and show what would be sent, sending nothing.
    DryRun,
    Confirm,
    ClosePlan,
    Cancel,
    RetryFailed,
    SetStatus(IntegrationStatus),
}

fn steps_label(steps: SyncSteps) -> &'static str {
    match (steps.services, steps.accounts, steps.usage) {
        (true, false, false) => "Sync services",
        (false, true, false) => "Sync accounts",
        (false, false, true) => "Sync usage",
        (false, true, true) => "Create the missing accounts, then send",
        _ => "Sync all",
    }
}

/// What the sync controls need to know besides the sync's own state.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendView<'a> {
    /// A preview's table is loaded (and no preview is running).
    pub has_counts: bool,
    /// Why its counts may not be sent now (a stale or incomplete preview).
    pub send_blocked: Option<&'a str>,
    pub selected: usize,
    pub companies: usize,
}

/// The primary action's words: "Send all 40 companies…" or "Send 3 selected companies…".
pub fn send_label(selected: usize, companies: usize) -> String {
    if selected == companies {
        format!("Send all {companies} companies…")
    } else {
        format!("Send {selected} selected companies…")
    }
}

/// What one partial step does, for its hover text.
fn step_hover(steps: SyncSteps) -> &'static str {
    match (steps.services, steps.accounts, steps.usage) {
        (true, false, false) => "Only create the two services in Synthesize, if missing",
        (false, true, false) => "Only create the missing Synthesize accounts",
        _ => "Only post the counts (companies without an account wait)",
    }
}

/// Why the send and partial-step buttons are off, or `None` when they may be used.
fn why_off(state: &SyncState, view: &SendView<'_>) -> Option<String> {
    if state.phase() != SyncPhase::Idle {
        return Some("A sync is being planned or sent; wait for it to finish".to_owned());
    }
    if !view.has_counts {
        return Some(
            "Run a preview first: nothing can be sent before a current preview".to_owned(),
        );
    }
    if let Some(reason) = view.send_blocked {
        return Some(reason.to_owned());
    }
    if view.selected == 0 {
        return Some("No company is ticked; tick the companies to send".to_owned());
    }
    None
}

/// The send controls: the primary "Send N companies…", the partial steps and the dry run as
/// secondary actions, Cancel while sending and "Retry failed" afterwards. Every one is off
/// until a current, complete preview exists, and says why on hover.
pub fn sync_controls_ui(
    ui: &mut egui::Ui,
    state: &SyncState,
    view: &SendView<'_>,
) -> Vec<SyncAction> {
    let mut actions = Vec::new();
    let off = why_off(state, view);
    let enabled = off.is_none();
    let why = off.unwrap_or_default();
    let send = ui
        .add_enabled(
            enabled,
            primary_button(ui, send_label(view.selected, view.companies)),
        )
        .on_hover_text("Shows the plan (services, accounts, counts) and asks before sending")
        .on_disabled_hover_text(&why);
    if send.clicked() {
        actions.push(SyncAction::Plan(SyncSteps::ALL));
    }
    let dry = ui
        .add_enabled(enabled, egui::Button::new("Dry run"))
        .on_hover_text("Show exactly what would be sent, and send nothing")
        .on_disabled_hover_text(&why);
    if dry.clicked() {
        actions.push(SyncAction::DryRun);
    }
    // The partial steps: secondary, in a menu after the primary action.
    ui.add_enabled_ui(enabled, |ui| {
        ui.menu_button("Other steps", |ui| {
            for steps in [SyncSteps::SERVICES, SyncSteps::ACCOUNTS, SyncSteps::USAGE] {
                if ui
                    .button(steps_label(steps))
                    .on_hover_text(step_hover(steps))
                    .clicked()
                {
                    actions.push(SyncAction::Plan(steps));
                }
            }
        })
        .response
        .on_hover_text("Services only, accounts only, or counts only")
        .on_disabled_hover_text(&why);
    });
    if state.phase() == SyncPhase::Running && ui.button("Cancel sync").clicked() {
        actions.push(SyncAction::Cancel);
    }
    let failed = state
        .report()
        .is_some_and(|r| !r.failed_counts().is_empty());
    if state.phase() == SyncPhase::Idle && failed && ui.button("Retry failed").clicked() {
        actions.push(SyncAction::RetryFailed);
    }
    actions
}

/// The sync's progress while it plans or sends (nothing when idle).
pub fn sync_progress_ui(ui: &mut egui::Ui, state: &SyncState) {
    match &state.flow {
        SyncFlow::Planning { .. } => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading Synthesize to make the plan...");
            });
        }
        SyncFlow::Running { progress, .. } => {
            let p = *progress;
            let fraction = if p.counts_total == 0 {
                0.0
            } else {
                p.counts_done as f32 / p.counts_total as f32
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .show_percentage()
                    .text(format!(
                        "{} of {} counts: {} sent, {} unmapped, {} failed",
                        p.counts_done, p.counts_total, p.sent, p.unmapped, p.failed
                    )),
            );
        }
        _ => {}
    }
}

/// The integration's status as Synthesize last reported it, and a change that asks first.
pub fn integration_status_ui(
    ui: &mut egui::Ui,
    state: &mut SyncState,
    busy: bool,
) -> Vec<SyncAction> {
    let mut actions = Vec::new();
    // Drawn before the button that opens it, so it first shows the frame after the click
    // (the click that opened it must not count as a click outside it).
    if let Some(status) = state.status_to_confirm {
        let modal = egui::Modal::new(egui::Id::unique("confirm_status")).show(ui.ctx(), |ui| {
            ui.set_width(420.0);
            ui.heading(format!("Set the integration status to {status}?"));
            ui.label(status_consequence(status));
            ui.horizontal(|ui| {
                let set = if status == IntegrationStatus::Disabled {
                    destructive_button(ui, format!("Set to {status}"))
                } else {
                    primary_button(ui, format!("Set to {status}"))
                };
                if ui.add(set).clicked() {
                    actions.push(SyncAction::SetStatus(status));
                    state.status_to_confirm = None;
                }
                if ui.button("Keep it").clicked() {
                    state.status_to_confirm = None;
                }
            });
        });
        if modal.should_close() {
            state.status_to_confirm = None;
        }
    }
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Integration status");
        // No default: until Synthesize has been read (Test connection) or the user picks one,
        // the drop-down says so rather than showing a status nobody read.
        let mut picked = state.status_choice;
        egui::ComboBox::from_id_salt("integration_status")
            .selected_text(picked.map_or("(not read yet)", IntegrationStatus::as_str))
            .show_ui(ui, |ui| {
                for status in IntegrationStatus::ALL {
                    ui.selectable_value(&mut picked, Some(status), status.as_str());
                }
            })
            .response
            .labelled_by(label.id);
        state.status_choice = picked;
        let read = state.integration.as_ref().and_then(|i| i.status.clone());
        let changed = picked.is_some_and(|p| read.as_deref() != Some(p.as_str()));
        if ui
            .add_enabled(!busy && changed, egui::Button::new("Set status…"))
            .on_disabled_hover_text("Pick a status other than the one Synthesize reports")
            .clicked()
            && let Some(picked) = picked
        {
            state.status_to_confirm = Some(picked);
        }
    });
    match &state.integration {
        Some(integration) => {
            ui.label(format!(
                "Synthesize says: {}",
                printable(&integration.describe())
            ));
        }
        None => {
            ui.weak("Test the Synthesize connection to read the status.");
        }
    }
    actions
}

/// What a status change means, in the words of Synthesize's documentation.
fn status_consequence(status: IntegrationStatus) -> &'static str {
    match status {
        IntegrationStatus::Active => {
            "Synthesize normally sets \"active\" itself once usage arrives; set it only to correct it."
        }
        IntegrationStatus::Inactive => {
            "\"inactive\" is how Synthesize marks an integration that is not connected."
        }
        IntegrationStatus::Pending => {
            "\"pending\" tells Synthesize the integration is ready to map."
        }
        IntegrationStatus::Disabled | IntegrationStatus::Error => {
            "An older status value: Synthesize's public documentation does not list it, so check with the partner first."
        }
    }
}

/// The plan, as the confirmation dialog (or the dry run) shows it: every item that would be sent.
pub fn plan_dialog_ui(ctx: &egui::Context, on_screen: &mut PlanOnScreen) -> Vec<SyncAction> {
    let mut actions = Vec::new();
    let planned = &on_screen.plan.planned;
    let request = &on_screen.plan.request;
    let dry_run = on_screen.dry_run;
    let mut drop_confirmed = on_screen.drop_confirmed;
    let plan = &planned.plan;
    let title = match (dry_run, request.revert) {
        (true, _) => "Dry run: nothing is sent".to_owned(),
        (false, true) => "Revert to these counts?".to_owned(),
        (false, false) => format!("{}?", steps_label(request.steps)),
    };
    let response = egui::Modal::new(egui::Id::unique("sync_plan_dialog")).show(ctx, |ui| {
        ui.set_width(620.0);
        ui.heading(&title);
        ui.label(plan.summary());
        for warning in &plan.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, format!("Warning: {warning}"));
        }
        held_and_awaiting_ui(ui, planned, &mut actions);
        let large_drop = planned.drop_check.is_large_drop() && !dry_run;
        if large_drop {
            large_drop_ui(ui, planned, &mut drop_confirmed);
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("plan_items")
            .max_height(320.0)
            .show(ui, |ui| {
                for service in &plan.services_to_create {
                    ui.label(format!("Create service \"{}\"", service.name));
                }
                for account in &plan.accounts_to_create {
                    ui.label(printable(&format!(
                        "Create account {} {}",
                        account.id, account.name
                    )));
                }
                for count in &plan.counts {
                    let previous = match count.previous {
                        Some(p) if p == count.unit_count => format!(" (unchanged from {p})"),
                        Some(p) => format!(" (was {p})"),
                        None => " (first time)".to_owned(),
                    };
                    ui.label(format!(
                        "Post {} = {} for {} ({}){previous}",
                        count.service.service_name(),
                        count.unit_count,
                        printable(&count.company_name),
                        count.company_id
                    ));
                }
                if plan.is_empty() {
                    ui.label("Nothing to send: Synthesize is already up to date.");
                }
            });
        ui.separator();
        ui.horizontal(|ui| {
            if dry_run || plan.is_empty() {
                if ui.button("Close").clicked() {
                    actions.push(SyncAction::ClosePlan);
                }
            } else {
                let confirm = ui
                    .add_enabled(
                        !large_drop || drop_confirmed,
                        primary_button(ui, "Confirm and send"),
                    )
                    .on_disabled_hover_text("Tick the box above to send this drop");
                if confirm.clicked() {
                    actions.push(SyncAction::Confirm);
                }
                if ui.button("Cancel").clicked() {
                    actions.push(SyncAction::ClosePlan);
                }
            }
        });
    });
    if response.should_close() {
        actions.push(SyncAction::ClosePlan);
    }
    on_screen.drop_confirmed = drop_confirmed;
    actions
}

/// The companies held (records that could not be read) and the counts waiting for an account,
/// with "Create the missing accounts, then send".
fn held_and_awaiting_ui(ui: &mut egui::Ui, planned: &PlannedSync, actions: &mut Vec<SyncAction>) {
    for line in planned.held_lines() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Held, not sent: {line}"),
        );
    }
    let plan = &planned.plan;
    if plan.awaiting_accounts.is_empty() {
        return;
    }
    let companies = plan.companies_awaiting_accounts();
    ui.colored_label(
        ui.visuals().warn_fg_color,
        format!(
            "{} count(s) of {} company(ies) not sent: {NO_ACCOUNT_YET}",
            plan.awaiting_accounts.len(),
            companies.len()
        ),
    );
    if ui
        .button(steps_label(SyncSteps::ACCOUNTS_AND_USAGE))
        .clicked()
    {
        actions.push(SyncAction::Plan(SyncSteps::ACCOUNTS_AND_USAGE));
    }
}

/// The drop guard: the companies going to zero, and the tick that lets the drop through.
fn large_drop_ui(ui: &mut egui::Ui, planned: &PlannedSync, confirmed: &mut bool) {
    let check = &planned.drop_check;
    ui.colored_label(
        ui.visuals().error_fg_color,
        format!(
            "Large drop: {} of the {} companies with devices would go to zero; the tenant's devices would go from {} to {}.",
            check.going_to_zero.len(),
            check.companies_nonzero_before,
            check.total_devices_before,
            check.total_devices_after
        ),
    );
    egui::ScrollArea::vertical()
        .id_salt("drop_companies")
        .max_height(120.0)
        .show(ui, |ui| {
            for company in &check.going_to_zero {
                ui.label(printable(&format!(
                    "{} ({}): {} devices → 0",
                    company.company_name, company.company_id, company.devices_before
                )));
            }
        });
    ui.checkbox(
        confirmed,
        "I checked these companies: the drop is real, send it",
    );
}

/// Words for one count's outcome, for the log.
pub fn outcome_words(outcome: &CountOutcome) -> String {
    match outcome {
        CountOutcome::Sent => "sent".to_owned(),
        CountOutcome::Unmapped { message } => format!(
            "unmapped ({message}): map this account to the service in Synthesize, then sync again"
        ),
        CountOutcome::Failed { reason } => format!("failed: {reason}"),
    }
}
