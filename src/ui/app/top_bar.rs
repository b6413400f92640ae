//! The top bar: the heading, the profile picker and its buttons, "Show log"/"Hide log", and the
//! warnings about the keychain and unreadable profiles under them.

use super::super::profiles::{ProfileBarView, profile_bar_ui};
use super::Action;

/// What the top bar shows.
pub struct TopBarScreen<'a> {
    pub profile_bar: ProfileBarView<'a>,
    /// Switching profile is not offered: a sync is running (it belongs to this profile), or a
    /// profile is being opened or renamed.
    pub switching_locked: bool,
    /// Whether the log panel is open (the button offers the other way).
    pub log_open: bool,
    /// The system's reason the keychain is not available, when it is not (and the window shows
    /// a real profile: the demo's keys are this session's by design).
    pub keychain_problem: Option<&'a str>,
    /// Profiles that could not be read, in words.
    pub profile_problems: &'a [String],
}

/// Draws the top bar from `screen`; what the user asked for comes back as actions.
pub fn top_bar_ui(ui: &mut egui::Ui, screen: &TopBarScreen<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        ui.heading("Shared devices");
        ui.separator();
        ui.add_enabled_ui(!screen.switching_locked, |ui| {
            for action in profile_bar_ui(ui, &screen.profile_bar) {
                actions.push(Action::Profile(action));
            }
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let text = if screen.log_open {
                "Hide log"
            } else {
                "Show log"
            };
            if ui.button(text).clicked() {
                actions.push(Action::ToggleLog);
            }
        });
    });
    if let Some(problem) = screen.keychain_problem {
        // One line in plain words; the system's own message on hover.
        ui.add(
            egui::Label::new(
                egui::RichText::new(
                    "The system keychain is not available: keys typed now are kept for this session only.",
                )
                .color(ui.visuals().warn_fg_color),
            )
            .truncate(),
        )
        .on_hover_text(problem);
    }
    for problem in screen.profile_problems {
        ui.colored_label(ui.visuals().warn_fg_color, problem);
    }
    actions
}
