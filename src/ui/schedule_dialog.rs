//! The "Schedule…" dialog: a daily HH:MM or monthly DAY HH:MM run of this profile or of every
//! profile, Install and Remove, and the schedules there are with the scheduler's next and last
//! run and exit status. It draws and returns actions; the app runs them on the worker.

use crate::domain::printable::printable;
use crate::domain::schedule::{RunTime, ScheduleTarget};
use crate::engine::schedule::run_time;
use crate::worker::ScheduleAnswer;

use super::widgets::primary_button;

/// The dialog's fields and what the worker last answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDialog {
    /// The profile open when the dialog opened.
    pub profile: String,
    pub all_profiles: bool,
    pub monthly: bool,
    pub day: String,
    pub at: String,
    /// A schedule job runs.
    pub running: bool,
    /// `None` until the schedules have been read; `Err`: they could not be.
    pub answer: Option<Result<ScheduleAnswer, String>>,
    /// A time or day that does not parse.
    pub field_error: Option<String>,
}

impl ScheduleDialog {
    pub fn new(profile: &str) -> Self {
        Self {
            profile: profile.to_owned(),
            all_profiles: profile.is_empty(),
            monthly: false,
            day: "1".into(),
            at: "02:00".into(),
            running: false,
            answer: None,
            field_error: None,
        }
    }

    /// The tenants the dialog names.
    pub fn target(&self) -> ScheduleTarget {
        if self.all_profiles || self.profile.is_empty() {
            ScheduleTarget::AllProfiles
        } else {
            ScheduleTarget::Profile(self.profile.clone())
        }
    }

    /// The time the fields name, or what is wrong with them.
    pub fn time(&self) -> Result<RunTime, String> {
        if self.monthly {
            run_time("Monthly", Some(&self.day), &self.at)
        } else {
            run_time("Daily", None, &self.at)
        }
        .map_err(|e| e.to_string())
    }
}

/// What the dialog asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleAction {
    Install,
    Remove,
    Close,
}

/// Draws the dialog.
pub fn schedule_dialog_ui(ctx: &egui::Context, dialog: &mut ScheduleDialog) -> Vec<ScheduleAction> {
    let mut actions = Vec::new();
    let response = egui::Modal::new(egui::Id::unique("schedule_dialog")).show(ctx, |ui| {
        ui.set_width(640.0);
        ui.heading("Scheduled sync");
        ui.label("The system's own scheduler runs this program headless (a full sync), even when the window is closed.");
        ui.separator();
        ui.horizontal(|ui| {
            ui.radio_value(&mut dialog.monthly, false, "Daily");
            ui.radio_value(&mut dialog.monthly, true, "Monthly on day");
            let day = ui.label("Day");
            ui.add_enabled(
                dialog.monthly,
                egui::TextEdit::singleline(&mut dialog.day).desired_width(32.0),
            )
            .labelled_by(day.id);
            let at = ui.label("Time (HH:MM)");
            ui.add(egui::TextEdit::singleline(&mut dialog.at).desired_width(56.0))
                .labelled_by(at.id);
        });
        ui.horizontal(|ui| {
            if !dialog.profile.is_empty() {
                ui.radio_value(
                    &mut dialog.all_profiles,
                    false,
                    format!("This profile (\"{}\")", printable(&dialog.profile)),
                );
            }
            ui.radio_value(&mut dialog.all_profiles, true, "All profiles");
        });
        if let Some(e) = &dialog.field_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!dialog.running, primary_button(ui, "Install"))
                .clicked()
            {
                actions.push(ScheduleAction::Install);
            }
            if ui
                .add_enabled(!dialog.running, egui::Button::new("Remove"))
                .on_hover_text("Removes the schedule of the tenants chosen above")
                .clicked()
            {
                actions.push(ScheduleAction::Remove);
            }
            if dialog.running {
                ui.spinner();
            }
        });
        ui.separator();
        show_answer(ui, dialog.answer.as_ref());
        ui.separator();
        if ui.button("Close").clicked() {
            actions.push(ScheduleAction::Close);
        }
    });
    if response.should_close() {
        actions.push(ScheduleAction::Close);
    }
    actions
}

fn show_answer(ui: &mut egui::Ui, answer: Option<&Result<ScheduleAnswer, String>>) {
    let answer = match answer {
        None => {
            ui.label("Reading the schedules…");
            return;
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, printable(e));
            return;
        }
        Some(Ok(answer)) => answer,
    };
    match &answer.done {
        Some(Ok(text)) => {
            ui.label(printable(text));
        }
        Some(Err(text)) => {
            ui.colored_label(ui.visuals().error_fg_color, printable(text));
        }
        None => {}
    }
    if let Some((why, commands)) = &answer.not_run {
        ui.label(format!(
            "The scheduler was not called ({}); to load it, run:",
            printable(why)
        ));
        for command in commands {
            ui.monospace(printable(command));
        }
    }
    for problem in &answer.problems {
        ui.colored_label(ui.visuals().warn_fg_color, printable(problem));
    }
    egui::ScrollArea::vertical()
        .id_salt("schedules")
        .max_height(260.0)
        .show(ui, |ui| {
            if answer.schedules.is_empty() {
                ui.label("No scheduled syncs.");
            }
            for shown in &answer.schedules {
                let run = &shown.schedule.run;
                ui.strong(format!(
                    "{}: {}",
                    run.entry_name(),
                    printable(&run.describe())
                ));
                ui.monospace(format!("runs: {}", printable(&shown.command_line)));
                for (file, exists) in &shown.schedule.files {
                    let missing = if *exists { "" } else { " (missing)" };
                    ui.monospace(format!("file: {}{missing}", file.display()));
                }
                match &shown.status {
                    None => {
                        ui.label("Next and last run: the scheduler was not asked.");
                    }
                    Some(Ok(lines)) => {
                        for line in lines {
                            ui.monospace(printable(line));
                        }
                    }
                    Some(Err(e)) => {
                        ui.label(format!(
                            "Next and last run: not known to the scheduler ({})",
                            printable(e)
                        ));
                    }
                }
            }
        });
}
