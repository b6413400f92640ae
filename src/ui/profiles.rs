//! The profile bar (switch, new, rename, duplicate, delete) and its dialogs. Drawing only: the
//! app does the file and keychain work for the actions returned.

use super::widgets::{destructive_button, primary_button, submitted};

/// An open profile dialog and what is typed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileDialog {
    New { name: String },
    Rename { name: String },
    Duplicate { name: String },
    Delete,
}

impl ProfileDialog {
    fn title(&self) -> &'static str {
        match self {
            ProfileDialog::New { .. } => "New profile",
            ProfileDialog::Rename { .. } => "Rename profile",
            ProfileDialog::Duplicate { .. } => "Duplicate profile",
            ProfileDialog::Delete => "Delete profile",
        }
    }
}

/// What the user asked for in the profile bar or a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileAction {
    Switch(String),
    Open(ProfileDialog),
    Close,
    Create(String),
    Rename(String),
    Duplicate(String),
    Delete,
    /// Open the demo on the embedded sandbox (again).
    Demo,
}

/// What the bar shows.
#[derive(Debug)]
pub struct ProfileBarView<'a> {
    pub names: &'a [String],
    pub current: Option<&'a str>,
    /// The demo profile's name when the demo runs (shown, never saved).
    pub demo: Option<&'a str>,
    /// The demo can be opened from the picker (this build has the embedded sandbox).
    pub demo_available: Option<&'a str>,
}

/// The profile picker and its buttons.
pub fn profile_bar_ui(ui: &mut egui::Ui, view: &ProfileBarView<'_>) -> Vec<ProfileAction> {
    let mut actions = Vec::new();
    let label = ui.label("Profile");
    egui::ComboBox::from_id_salt("profile_picker")
        .selected_text(view.current.unwrap_or("(none)"))
        .width(200.0)
        .show_ui(ui, |ui| {
            // The demo stays in the list, so switching away from it is never a one-way door.
            if let Some(demo) = view.demo.or(view.demo_available) {
                let selected = view.demo.is_some() && view.current == Some(demo);
                let item = ui
                    .selectable_label(selected, demo)
                    .on_hover_text("The built-in demo: generated data, nothing saved");
                if item.clicked() && !selected {
                    actions.push(ProfileAction::Demo);
                }
            }
            for name in view.names {
                let selected = view.current == Some(name.as_str());
                if ui.selectable_label(selected, name).clicked() && !selected {
                    actions.push(ProfileAction::Switch(name.clone()));
                }
            }
        })
        .response
        .labelled_by(label.id);
    if ui.button("New profile").clicked() {
        actions.push(ProfileAction::Open(ProfileDialog::New {
            name: String::new(),
        }));
    }
    let stored = view
        .current
        .is_some_and(|c| view.names.iter().any(|n| n == c));
    ui.add_enabled_ui(stored, |ui| {
        let current = view.current.unwrap_or_default().to_owned();
        if ui.button("Rename").clicked() {
            actions.push(ProfileAction::Open(ProfileDialog::Rename {
                name: current.clone(),
            }));
        }
        if ui.button("Duplicate").clicked() {
            actions.push(ProfileAction::Open(ProfileDialog::Duplicate {
                name: format!("{current} copy"),
            }));
        }
        if ui.button("Delete").clicked() {
            actions.push(ProfileAction::Open(ProfileDialog::Delete));
        }
    });
    actions
}

/// Draws the open dialog as a modal: Enter submits, Esc or Cancel closes.
pub fn profile_dialog_ui(
    ctx: &egui::Context,
    dialog: &mut ProfileDialog,
    current: &str,
    error: Option<&str>,
    focus_name: &mut bool,
) -> Vec<ProfileAction> {
    let mut actions = Vec::new();
    let response = egui::Modal::new(egui::Id::unique("profile_dialog")).show(ctx, |ui| {
        ui.set_width(380.0);
        ui.heading(dialog.title());
        let title = dialog.title();
        let submit = match dialog {
            ProfileDialog::New { name }
            | ProfileDialog::Rename { name }
            | ProfileDialog::Duplicate { name } => {
                let label = ui.label("Profile name");
                let field = ui
                    .add(egui::TextEdit::singleline(name).desired_width(f32::INFINITY))
                    .labelled_by(label.id);
                // Focus the name once when the dialog opens (not every frame, or Enter could
                // never take the focus away and submit).
                // After an error ("name exists") the name keeps the focus, to be fixed in place.
                let refocus = error.is_some() && ui.memory(|m| m.focused().is_none());
                if std::mem::take(focus_name) || refocus {
                    field.request_focus();
                }
                let entered = submitted(ui, &field);
                let name = name.trim().to_owned();
                let action = match title {
                    "New profile" => ProfileAction::Create(name),
                    "Rename profile" => ProfileAction::Rename(name),
                    _ => ProfileAction::Duplicate(name),
                };
                (entered, action, "OK")
            }
            ProfileDialog::Delete => {
                ui.label(format!(
                    "Delete the profile \"{current}\"? Its keys are removed from the keychain; its sync history is kept aside."
                ));
                (false, ProfileAction::Delete, "Yes, delete")
            }
        };
        if let Some(error) = error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.horizontal(|ui| {
            let (entered, action, ok) = submit;
            let button = if matches!(action, ProfileAction::Delete) {
                destructive_button(ui, ok)
            } else {
                primary_button(ui, ok)
            };
            if ui.add(button).clicked() || entered {
                actions.push(action);
            }
            if ui.button("Cancel").clicked() {
                actions.push(ProfileAction::Close);
            }
        });
    });
    if response.should_close() {
        actions.push(ProfileAction::Close);
    }
    actions
}
