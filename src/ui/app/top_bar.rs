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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// The top bar drawn with the log `open` or not; the actions of every frame are kept.
    fn harness(open: bool) -> Harness<'static, Vec<Action>> {
        Harness::new_ui_state(
            move |ui, actions: &mut Vec<Action>| {
                let screen = TopBarScreen {
                    profile_bar: ProfileBarView {
                        names: &[],
                        current: None,
                        demo: None,
                        demo_available: None,
                    },
                    switching_locked: false,
                    log_open: open,
                    keychain_problem: Some("no keyring daemon"),
                    profile_problems: &[],
                };
                actions.extend(top_bar_ui(ui, &screen));
            },
            Vec::new(),
        )
    }

    #[test]
    fn the_log_button_asks_to_toggle_the_log_and_draws_no_state_of_its_own() {
        let mut h = harness(true);
        h.run_steps(2);
        assert!(h.query_by_label("Show log").is_none());
        h.get_by_label("Hide log").click();
        h.run_steps(2);
        assert_eq!(h.state(), &[Action::ToggleLog]);

        let mut h = harness(false);
        h.run_steps(2);
        h.get_by_label("Show log").click();
        h.run_steps(2);
        assert_eq!(h.state(), &[Action::ToggleLog]);
        // The keychain's own message is kept for the hover; the bar says it in plain words.
        assert!(h.query_by_label_contains("no keyring daemon").is_none());
        assert!(
            h.query_by_label_contains("keys typed now are kept for this session only")
                .is_some()
        );
    }
}
