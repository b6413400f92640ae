//! The connection panel on the left: the connection form (folded away once both tests pass),
//! the Synthesize integration status, and the counting and sync options.

use crate::domain::settings::ZeroPolicy;

use super::super::connection::{ConnectionForm, ConnectionView, TestState, connection_ui};
use super::super::counting_form::{
    CountingForm, TypeList, counting_options_ui, exclude_inactive_ui,
};
use super::super::sync_view::{SyncState, integration_status_ui};
use super::Action;

/// What the connection panel shows. The forms are borrowed mutably because their text fields
/// edit them in place; everything else is read.
pub struct ConnectionPanelScreen<'a> {
    pub form: &'a mut ConnectionForm,
    pub view: ConnectionView<'a>,
    /// In: both connection tests had passed at the last frame. Out: whether they pass now.
    /// The panel folds once, on the frame they come to pass; a click opens it again.
    pub tests_passed: bool,
    /// A profile is being opened: the form is about to be replaced, so it is not editable.
    pub profile_changing: bool,
    /// The integration status section's own state (the status picked, the one to confirm).
    pub sync: &'a mut SyncState,
    /// The integration status is being set.
    pub status_busy: bool,
    pub counting_form: &'a mut CountingForm,
    pub type_list: &'a TypeList,
    pub zero_policy: ZeroPolicy,
    pub counting_error: Option<&'a str>,
    pub exclude_inactive: bool,
}

/// Draws the connection panel from `screen`; what the user asked for comes back as actions.
pub fn connection_panel_ui(
    ui: &mut egui::Ui,
    screen: &mut ConnectionPanelScreen<'_>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let both_passed = matches!(screen.view.connectwise_test, Some(TestState::Passed(_)))
        && matches!(screen.view.synthesize_test, Some(TestState::Passed(_)));
    // The connection folds away once both tests pass; a click opens it again.
    let fold = both_passed && !screen.tests_passed;
    screen.tests_passed = both_passed;
    let mut header = egui::CollapsingHeader::new(if both_passed {
        "Connection (both tests passed)"
    } else {
        "Connection"
    })
    .id_salt("connection_section")
    .default_open(true);
    if fold {
        header = header.open(Some(false));
    }
    header.show(ui, |ui| {
        ui.add_enabled_ui(!screen.profile_changing, |ui| {
            for action in connection_ui(ui, screen.form, &screen.view) {
                actions.push(Action::Connection(action));
            }
        });
    });
    ui.add_space(8.0);
    egui::CollapsingHeader::new("Synthesize integration status")
        .id_salt("status_section")
        .show(ui, |ui| {
            for action in integration_status_ui(ui, screen.sync, screen.status_busy) {
                actions.push(Action::Sync(action));
            }
        });
    ui.add_space(8.0);
    egui::CollapsingHeader::new("Counting and sync options")
        .id_salt("options_section")
        .show(ui, |ui| {
            for action in counting_options_ui(
                ui,
                screen.counting_form,
                screen.type_list,
                screen.zero_policy,
                screen.counting_error,
            ) {
                actions.push(Action::Options(action));
            }
            let reason = &mut screen.counting_form.exclude_inactive_reason;
            if let Some(action) = exclude_inactive_ui(ui, screen.exclude_inactive, reason) {
                actions.push(Action::Options(action));
            }
        });
    actions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// What the panel edits in place, the tests' states, and what it handed back.
    #[derive(Default)]
    struct Panel {
        form: ConnectionForm,
        sync: SyncState,
        counting_form: CountingForm,
        connectwise_test: Option<TestState>,
        synthesize_test: Option<TestState>,
        tests_passed: bool,
        actions: Vec<Action>,
    }

    fn harness(panel: Panel) -> Harness<'static, Panel> {
        Harness::new_ui_state(
            |ui, panel: &mut Panel| {
                let type_list = TypeList::default();
                let mut screen = ConnectionPanelScreen {
                    form: &mut panel.form,
                    view: ConnectionView {
                        connectwise_test: panel.connectwise_test.as_ref(),
                        synthesize_test: panel.synthesize_test.as_ref(),
                        discovery: None,
                        connectwise_busy: false,
                        synthesize_busy: false,
                        read_only: false,
                    },
                    tests_passed: panel.tests_passed,
                    profile_changing: false,
                    sync: &mut panel.sync,
                    status_busy: false,
                    counting_form: &mut panel.counting_form,
                    type_list: &type_list,
                    zero_policy: ZeroPolicy::default(),
                    counting_error: None,
                    exclude_inactive: false,
                };
                let actions = connection_panel_ui(ui, &mut screen);
                panel.tests_passed = screen.tests_passed;
                panel.actions.extend(actions);
            },
            panel,
        )
    }

    #[test]
    fn the_panel_folds_once_when_both_tests_pass_and_hands_that_back() {
        let mut h = harness(Panel::default());
        h.run_steps(2);
        assert!(h.query_by_label("Company ID").is_some());
        assert!(!h.state().tests_passed);
        let passed = || Some(TestState::Passed("ok".to_owned()));
        h.state_mut().connectwise_test = passed();
        h.state_mut().synthesize_test = passed();
        h.run_steps(10);
        assert!(h.state().tests_passed);
        assert!(h.query_by_label("Company ID").is_none(), "it did not fold");
        // A click opens it again, and it stays open.
        h.get_by_label("Connection (both tests passed)").click();
        h.run_steps(10);
        assert!(h.query_by_label("Company ID").is_some());
    }
}
