//! The profile's counting options as the window edits them (type names, shared pattern, whole
//! word, assignment field, active only); applied to the profile only when the rule is valid.
//! Type names are typed one per line, or ticked in the list of the tenant's own type names
//! that "Load types" fetches; both edit the same lines.

use crate::domain::counting::{AssignmentField, AssignmentSource, CountingOptions, CountingRule};
use crate::domain::settings::ZeroPolicy;

use super::widgets::submitted;

/// The editable text of the counting options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountingForm {
    /// One type name per line, exactly as ConnectWise spells it (never trimmed).
    pub type_names: String,
    pub shared_pattern: String,
    pub whole_word: bool,
    /// `None`: the contact rule alone decides.
    pub assignment_source: Option<AssignmentSource>,
    pub assignment_name: String,
    pub active_only: bool,
    /// Why "leave out inactive companies" is being ticked or unticked, kept in History with
    /// the change; emptied once recorded.
    pub exclude_inactive_reason: String,
}

impl CountingForm {
    pub fn from_options(options: &CountingOptions) -> Self {
        Self {
            type_names: options.type_names.join("\n"),
            shared_pattern: options.shared_pattern.clone(),
            whole_word: options.shared_whole_word,
            assignment_source: options.assignment_field.as_ref().map(|f| f.source),
            assignment_name: options
                .assignment_field
                .as_ref()
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            active_only: options.active_only,
            exclude_inactive_reason: String::new(),
        }
    }

    /// The typed type names, one per line, as the rule reads them.
    fn type_name_lines(&self) -> impl Iterator<Item = &str> {
        self.type_names
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
    }

    /// Whether `name` is one of the typed type names (exactly, as ConnectWise spells it).
    pub fn has_type_name(&self, name: &str) -> bool {
        self.type_name_lines().any(|l| l == name)
    }

    /// Adds `name` as a line of its own, or removes every line that is exactly `name`.
    pub fn set_type_name(&mut self, name: &str, counted: bool) {
        if counted == self.has_type_name(name) {
            return;
        }
        let mut lines: Vec<&str> = self.type_name_lines().filter(|l| *l != name).collect();
        if counted {
            lines.push(name);
        }
        self.type_names = lines.join("\n");
    }

    /// The options, or the rule's own words for what to fix.
    pub fn to_options(&self) -> Result<CountingOptions, String> {
        let options = CountingOptions {
            type_names: self.type_name_lines().map(str::to_owned).collect(),
            shared_pattern: self.shared_pattern.clone(),
            shared_whole_word: self.whole_word,
            assignment_field: self.assignment_source.map(|source| AssignmentField {
                source,
                name: self.assignment_name.clone(),
            }),
            active_only: self.active_only,
        };
        CountingRule::new(&options).map_err(|e| e.to_string())?;
        Ok(options)
    }
}

/// The tenant's configuration type names as "Load types" found them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeList {
    pub loading: bool,
    /// Empty until loaded.
    pub names: Vec<String>,
    /// Why the last load failed, in words.
    pub error: Option<String>,
}

/// What the options panel asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsAction {
    /// The counting options changed: check and save them.
    ApplyCounting,
    /// Fetch the tenant's configuration type names for the pick list.
    LoadTypes,
    SetZeroPolicy(ZeroPolicy),
    /// "Leave out companies whose ConnectWise status is marked inactive" ticked or unticked.
    SetExcludeInactive {
        on: bool,
        reason: String,
    },
}

/// The label of the profile's "exclude companies whose status is marked inactive" checkbox.
pub const EXCLUDE_INACTIVE_LABEL: &str =
    "Leave out companies whose ConnectWise status is marked inactive";

/// The checkbox of the profile's "exclude companies whose status is marked inactive" option,
/// and the reason recorded with a change of it; answers the new value when it was clicked.
pub fn exclude_inactive_ui(
    ui: &mut egui::Ui,
    on: bool,
    reason: &mut String,
) -> Option<OptionsAction> {
    let mut value = on;
    let response = ui
        .checkbox(&mut value, EXCLUDE_INACTIVE_LABEL)
        .on_hover_text(
            "Each preview also reads the companies' statuses and ConnectWise's list of company statuses (Companies › Inquire rights needed); companies whose status is marked inactive there are never posted nor zeroed, and are listed as excluded",
        );
    ui.horizontal(|ui| {
        let label = ui.label("Reason");
        ui.add(
            egui::TextEdit::singleline(reason)
                .hint_text("why (kept in History)")
                .desired_width(260.0),
        )
        .labelled_by(label.id);
    });
    (response.changed() && value != on).then(|| OptionsAction::SetExcludeInactive {
        on: value,
        reason: reason.trim().to_owned(),
    })
}

/// Draws the counting and sync options; `error` is the last problem with the typed rule.
pub fn counting_options_ui(
    ui: &mut egui::Ui,
    form: &mut CountingForm,
    types: &TypeList,
    zero_policy: ZeroPolicy,
    error: Option<&str>,
) -> Vec<OptionsAction> {
    let mut actions = Vec::new();
    let mut changed = false;
    egui::Grid::new("counting_grid")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Type names");
            let r = ui
                .add(
                    egui::TextEdit::multiline(&mut form.type_names)
                        .desired_rows(2)
                        .hint_text("one per line, e.g. License")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            changed |= r.lost_focus();
            ui.end_row();
            ui.label("");
            ui.vertical(|ui| {
                let (ticked, load) = type_pick_ui(ui, form, types);
                changed |= ticked;
                if load {
                    actions.push(OptionsAction::LoadTypes);
                }
            });
            ui.end_row();
            let label = ui.label("Shared pattern");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut form.shared_pattern)
                        .hint_text("*shared*")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            changed |= r.lost_focus() || submitted(ui, &r);
            ui.end_row();
            let label = ui.label("Assignment type from");
            let before = form.assignment_source;
            egui::ComboBox::from_id_salt("assignment_source")
                .selected_text(match form.assignment_source {
                    None => "Not used",
                    Some(AssignmentSource::CustomField) => "Custom field",
                    Some(AssignmentSource::Question) => "Configuration question",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.assignment_source, None, "Not used");
                    ui.selectable_value(
                        &mut form.assignment_source,
                        Some(AssignmentSource::CustomField),
                        "Custom field",
                    );
                    ui.selectable_value(
                        &mut form.assignment_source,
                        Some(AssignmentSource::Question),
                        "Configuration question",
                    );
                })
                .response
                .labelled_by(label.id);
            changed |= before != form.assignment_source;
            ui.end_row();
            if form.assignment_source.is_some() {
                let label = ui.label("Field or question");
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut form.assignment_name)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                changed |= r.lost_focus() || submitted(ui, &r);
                ui.end_row();
            }
        });
    changed |= ui
        .checkbox(
            &mut form.whole_word,
            "Whole word only (\"Not Shared\" is not shared)",
        )
        .changed();
    changed |= ui
        .checkbox(&mut form.active_only, "Active configurations only")
        .changed();
    if let Some(error) = error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    if changed {
        actions.push(OptionsAction::ApplyCounting);
    }
    ui.add_space(6.0);
    if let Some(policy) = zero_policy_ui(ui, zero_policy) {
        actions.push(OptionsAction::SetZeroPolicy(policy));
    }
    actions
}

/// The "Zeros" choice; answers the new policy when it changed.
fn zero_policy_ui(ui: &mut egui::Ui, zero_policy: ZeroPolicy) -> Option<ZeroPolicy> {
    let label = ui.label("Zeros");
    let mut policy = zero_policy;
    egui::ComboBox::from_id_salt("zero_policy")
        .selected_text(policy.label())
        .width(ui.available_width().min(340.0))
        .show_ui(ui, |ui| {
            for p in ZeroPolicy::ALL {
                ui.selectable_value(&mut policy, p, p.label());
            }
        })
        .response
        .labelled_by(label.id);
    (policy != zero_policy).then_some(policy)
}

/// "Load types" and, once loaded, a checkbox per type name ticked when it is one of the typed
/// lines. Answers whether a box changed the lines, and whether "Load types" was pressed.
fn type_pick_ui(ui: &mut egui::Ui, form: &mut CountingForm, types: &TypeList) -> (bool, bool) {
    let mut changed = false;
    let mut load = false;
    ui.horizontal(|ui| {
        let text = if types.names.is_empty() {
            "Load types"
        } else {
            "Reload types"
        };
        if ui
            .add_enabled(!types.loading, egui::Button::new(text))
            .on_hover_text("List the configuration types your ConnectWise tenant has")
            .clicked()
        {
            load = true;
        }
        if types.loading {
            ui.spinner();
        }
    });
    if let Some(error) = &types.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    if types.names.is_empty() {
        return (false, load);
    }
    egui::ScrollArea::vertical()
        .id_salt("type_pick")
        .max_height(160.0)
        .show(ui, |ui| {
            for name in &types.names {
                let mut counted = form.has_type_name(name);
                if ui.checkbox(&mut counted, name.as_str()).changed() {
                    form.set_type_name(name, counted);
                    changed = true;
                }
            }
        });
    (changed, load)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trips_the_options_and_keeps_type_names_untrimmed() {
        let options = CountingOptions {
            type_names: vec!["License".into(), "Seat ".into()],
            active_only: true,
            ..CountingOptions::default()
        };
        let form = CountingForm::from_options(&options);
        assert_eq!(form.to_options().unwrap(), options);
    }

    #[test]
    fn ticking_a_type_adds_its_line_and_unticking_removes_only_it() {
        let mut form = CountingForm {
            type_names: "License\r\nSeat ".into(),
            ..CountingForm::from_options(&CountingOptions::default())
        };
        form.set_type_name("Software", true);
        assert_eq!(form.type_names, "License\nSeat \nSoftware");
        form.set_type_name("Software", true);
        assert_eq!(form.type_names, "License\nSeat \nSoftware");
        // "Seat" is not "Seat ": names are matched exactly, never trimmed.
        assert!(!form.has_type_name("Seat"));
        form.set_type_name("License", false);
        assert_eq!(form.type_names, "Seat \nSoftware");
        assert_eq!(form.to_options().unwrap().type_names, ["Seat ", "Software"]);
    }

    #[test]
    fn an_unusable_rule_is_refused_in_words() {
        let form = CountingForm {
            type_names: String::new(),
            ..CountingForm::from_options(&CountingOptions::default())
        };
        assert!(!form.to_options().unwrap_err().is_empty());
    }
}
