//! The profile's counting options as the window edits them (type names, shared pattern, whole
//! word, assignment field, active only); applied to the profile only when the rule is valid.

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
        }
    }

    /// The options, or the rule's own words for what to fix.
    pub fn to_options(&self) -> Result<CountingOptions, String> {
        let options = CountingOptions {
            type_names: self
                .type_names
                .split('\n')
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
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

/// What the options panel asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsAction {
    /// The counting options changed: check and save them.
    ApplyCounting,
    SetZeroPolicy(ZeroPolicy),
}

/// Draws the counting and sync options; `error` is the last problem with the typed rule.
pub fn show_options(
    ui: &mut egui::Ui,
    form: &mut CountingForm,
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
    if policy != zero_policy {
        actions.push(OptionsAction::SetZeroPolicy(policy));
    }
    actions
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
    fn an_unusable_rule_is_refused_in_words() {
        let form = CountingForm {
            type_names: String::new(),
            ..CountingForm::from_options(&CountingOptions::default())
        };
        assert!(!form.to_options().unwrap_err().is_empty());
    }
}
