//! The Tenants tab: one row per profile with its last run (when, outcome, totals), "Preview
//! all" and "Send all…" with its one confirmation listing every tenant's plan, the results per
//! tenant, and the profile's notification webhook (set, never shown back) with "Test
//! notification". Panels only draw and return actions; the app runs them on the worker.

use std::collections::BTreeMap;

use crate::domain::printable::printable;
use crate::engine::tenants::TenantRow;
use crate::worker::{PreviewTotals, TenantPlanEntry, TenantSendResult};

use super::widgets::primary_button;

/// What the Tenants tab holds between frames.
#[derive(Debug, Default)]
pub struct TenantsState {
    /// Every profile's last run (`None`: read it when the tab is drawn next).
    pub rows: Option<Result<Vec<TenantRow>, String>>,
    /// Profile files the last reading could not load (each was moved aside, or must be).
    pub profile_problems: Vec<String>,
    /// What "Preview all" found, by tenant.
    pub previews: BTreeMap<String, Result<PreviewTotals, String>>,
    /// What the last "Send all" did, by tenant.
    pub results: BTreeMap<String, TenantSendResult>,
    /// The tenant a job of many works on now: (index, total, name, what).
    pub working: Option<(usize, usize, String, &'static str)>,
    /// The plans waiting for the one confirmation (`Some`: the dialog is open).
    pub plans: Option<Vec<TenantPlanEntry>>,
    /// The last thing the tab has to say (`Err`: a problem).
    pub message: Option<Result<String, String>>,
    /// The webhook URL being typed for the current profile (never filled from the store).
    pub webhook_text: String,
    /// What the last webhook save or test said.
    pub notify_message: Option<Result<String, String>>,
    /// The "Schedule…" dialog, when open.
    pub schedule: Option<super::schedule_dialog::ScheduleDialog>,
    /// Where schedules are written instead of this machine's scheduler (tests).
    pub schedule_place: Option<crate::worker::SchedulePlace>,
}

impl TenantsState {
    /// The tenants whose plan can be sent (made, and not refused by a safety check).
    pub fn sendable(&self) -> usize {
        self.plans.as_ref().map_or(0, |plans| {
            plans
                .iter()
                .filter(|p| p.result.as_ref().is_ok_and(|t| t.planned.refusal.is_none()))
                .count()
        })
    }
}

/// What the tab asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantsAction {
    Refresh,
    PreviewAll,
    /// Plan every tenant, then confirm.
    PlanAll,
    ConfirmSendAll,
    CancelSendAll,
    /// Stop the running preview or plan or send (after the tenant in hand).
    Stop,
    OpenSchedule,
    SaveWebhook,
    TestNotification,
}

/// What the tab shows beside its state.
#[derive(Debug, Clone, Copy)]
pub struct TenantsView<'a> {
    /// A job of many runs (Preview all, a plan or a send).
    pub busy: bool,
    /// The profile open in the window, for its webhook.
    pub profile: Option<&'a str>,
}

/// Draws the tab.
pub fn tenants_ui(
    ui: &mut egui::Ui,
    state: &mut TenantsState,
    view: TenantsView<'_>,
) -> Vec<TenantsAction> {
    let mut actions = Vec::new();
    // With no profile there is no tenant to run: the buttons wait, and say why.
    let no_tenants = matches!(&state.rows, Some(Ok(rows)) if rows.is_empty());
    let why = "Create a profile first (New profile, above)";
    ui.horizontal(|ui| {
        ui.heading("All tenants");
        if ui
            .add_enabled(!view.busy && !no_tenants, egui::Button::new("Preview all"))
            .on_disabled_hover_text(why)
            .clicked()
        {
            actions.push(TenantsAction::PreviewAll);
        }
        if ui
            .add_enabled(!view.busy && !no_tenants, egui::Button::new("Send all…"))
            .on_hover_text("Plans every tenant, then asks once before sending any")
            .on_disabled_hover_text(why)
            .clicked()
        {
            actions.push(TenantsAction::PlanAll);
        }
        if ui.button("Refresh").clicked() {
            actions.push(TenantsAction::Refresh);
        }
        if ui
            .add_enabled(!no_tenants, egui::Button::new("Schedule…"))
            .on_disabled_hover_text(why)
            .clicked()
        {
            actions.push(TenantsAction::OpenSchedule);
        }
    });
    if let Some((index, total, name, what)) = &state.working {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "{what} {} ({} of {total})…",
                printable(name),
                index + 1
            ));
            if ui.button("Stop").clicked() {
                actions.push(TenantsAction::Stop);
            }
        });
    }
    said_ui(ui, state.message.as_ref());
    ui.separator();
    for problem in &state.profile_problems {
        ui.colored_label(ui.visuals().warn_fg_color, printable(problem));
    }
    match &state.rows {
        None => {
            ui.label("Reading the tenants…");
        }
        Some(Err(e)) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The profiles could not be read: {e}"),
            );
        }
        Some(Ok(rows)) if rows.is_empty() => {
            ui.label("No profiles yet: create one with the profile bar above.");
        }
        Some(Ok(rows)) => tenants_grid(ui, rows, state),
    }
    ui.separator();
    webhook_section(ui, state, view, &mut actions);
    if state.plans.is_some() {
        confirm_dialog(ui.ctx(), state, &mut actions);
    }
    actions
}

fn tenants_grid(ui: &mut egui::Ui, rows: &[TenantRow], state: &TenantsState) {
    egui::ScrollArea::vertical()
        .id_salt("tenants_rows")
        .max_height(ui.available_height() - 120.0)
        .show(ui, |ui| {
            egui::Grid::new("tenants_grid")
                .striped(true)
                .num_columns(8)
                .show(ui, |ui| {
                    for title in [
                        "Tenant", "Last run", "Outcome", "Sent", "Held", "Failed", "Preview",
                        "Send all",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for row in rows {
                        ui.label(printable(&row.name));
                        match &row.last_run {
                            Ok(Some(run)) => {
                                ui.label(
                                    run.started
                                        .with_timezone(&chrono::Local)
                                        .format("%Y-%m-%d %H:%M")
                                        .to_string(),
                                );
                                ui.label(run.outcome);
                                ui.label(run.figures.sent.to_string());
                                ui.label(run.figures.held.to_string());
                                ui.label(run.figures.failed.to_string());
                            }
                            Ok(None) => {
                                ui.label("never");
                                dashes(ui, 4);
                            }
                            Err(e) => {
                                ui.label("-");
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("unreadable: {}", printable(e)),
                                );
                                dashes(ui, 3);
                            }
                        }
                        match state.previews.get(&row.name) {
                            Some(Ok(t)) => {
                                ui.label(format!(
                                    "{} companies, {} shared, {} not shared",
                                    t.companies, t.shared, t.not_shared
                                ));
                            }
                            Some(Err(e)) => {
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("preview failed: {}", printable(e)),
                                );
                            }
                            None => {
                                ui.label("");
                            }
                        }
                        match state.results.get(&row.name) {
                            Some(result) => {
                                let text = result_words(result);
                                if result.outcome == crate::engine::tenants::TenantOutcome::Done {
                                    ui.label(text);
                                } else {
                                    ui.colored_label(ui.visuals().error_fg_color, text);
                                }
                            }
                            None => {
                                ui.label("");
                            }
                        }
                        ui.end_row();
                    }
                });
        });
}

/// `count` empty cells of the grid.
fn dashes(ui: &mut egui::Ui, count: usize) {
    for _ in 0..count {
        ui.label("-");
    }
}

/// One tenant's Send all result in words.
pub fn result_words(result: &TenantSendResult) -> String {
    let mut text = result.outcome.words().to_owned();
    if let Some(f) = &result.figures {
        text.push_str(&format!(
            ": {} sent, {} held, {} failed",
            f.sent, f.held, f.failed
        ));
    }
    if let Some(message) = &result.message {
        text.push_str(&format!(" — {}", printable(message)));
    }
    match &result.notified {
        Some(Ok(())) => text.push_str(" (notified)"),
        Some(Err(e)) => text.push_str(&format!(" (notification not sent: {})", printable(e))),
        None => {}
    }
    text
}

fn webhook_section(
    ui: &mut egui::Ui,
    state: &mut TenantsState,
    view: TenantsView<'_>,
    actions: &mut Vec<TenantsAction>,
) {
    let Some(profile) = view.profile else {
        ui.label("Open a profile to set its notification webhook.");
        return;
    };
    ui.label(format!(
        "Notification webhook of \"{}\" (stored in the keychain, never shown back; empty removes it):",
        printable(profile)
    ));
    ui.horizontal(|ui| {
        let label = ui.label("Webhook URL");
        ui.add(
            egui::TextEdit::singleline(&mut state.webhook_text)
                .password(true)
                .hint_text("https://…")
                .desired_width(360.0),
        )
        .labelled_by(label.id);
        if ui.button("Save webhook").clicked() {
            actions.push(TenantsAction::SaveWebhook);
        }
        if ui.button("Test notification").clicked() {
            actions.push(TenantsAction::TestNotification);
        }
    });
    said_ui(ui, state.notify_message.as_ref());
}

/// What the tab last said: plain, or in the error colour for a problem.
fn said_ui(ui: &mut egui::Ui, said: Option<&Result<String, String>>) {
    match said {
        Some(Ok(text)) => {
            ui.label(text);
        }
        Some(Err(text)) => {
            ui.colored_label(ui.visuals().error_fg_color, text);
        }
        None => {}
    }
}

fn confirm_dialog(ctx: &egui::Context, state: &TenantsState, actions: &mut Vec<TenantsAction>) {
    let Some(plans) = &state.plans else {
        return;
    };
    let sendable = state.sendable();
    let response = egui::Modal::new(egui::Id::unique("send_all_dialog")).show(ctx, |ui| {
        ui.set_width(620.0);
        ui.heading("Send all tenants?");
        ui.label("Each tenant's plan, made just now; nothing has been sent yet.");
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("send_all_plans")
            .max_height(360.0)
            .show(ui, |ui| {
                for entry in plans {
                    let name = printable(&entry.name);
                    match &entry.result {
                        Ok(tenant) => match &tenant.planned.refusal {
                            None => {
                                ui.label(format!(
                                    "{name}: {} companies to send, {} held",
                                    tenant.companies_to_send(),
                                    tenant.held()
                                ));
                            }
                            Some(refusal) => {
                                ui.colored_label(
                                    ui.visuals().warn_fg_color,
                                    format!(
                                        "{name}: stopped by a safety check, not sent: {}",
                                        printable(refusal)
                                    ),
                                );
                            }
                        },
                        Err(e) => {
                            ui.colored_label(
                                ui.visuals().error_fg_color,
                                format!("{name}: no plan, not sent: {}", printable(&e.message)),
                            );
                        }
                    }
                }
            });
        ui.separator();
        ui.horizontal(|ui| {
            let label = if sendable == 1 {
                "Send 1 tenant".to_owned()
            } else {
                format!("Send {sendable} tenants")
            };
            if ui
                .add_enabled(sendable > 0, primary_button(ui, label))
                .clicked()
            {
                actions.push(TenantsAction::ConfirmSendAll);
            }
            if ui.button("Cancel").clicked() {
                actions.push(TenantsAction::CancelSendAll);
            }
        });
    });
    if response.should_close() {
        actions.push(TenantsAction::CancelSendAll);
    }
}
