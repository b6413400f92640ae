//! Small widget helpers: every input gets an accessible name tied to its visible label.

/// A label and a single-line text field tied to it (`labelled_by`), in a two-column grid row.
pub fn text_row_ui(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    hint: &str,
) -> egui::Response {
    let label = ui.label(label);
    let response = ui
        .add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    ui.end_row();
    response
}

/// A masked secret field with its label; `show` reveals the text.
pub fn secret_row_ui(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    show: bool,
) -> egui::Response {
    let label = ui.label(label);
    let response = ui
        .add(
            egui::TextEdit::singleline(value)
                .password(!show)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    ui.end_row();
    response
}

/// Whether Enter was pressed while `response`'s field had focus (egui drops focus on Enter).
pub fn submitted(ui: &egui::Ui, response: &egui::Response) -> bool {
    response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}

/// The one action the user is expected to take next: filled with the selection colour, so it
/// stands apart from the secondary buttons around it.
pub fn primary_button(ui: &egui::Ui, text: impl Into<String>) -> egui::Button<'static> {
    let visuals = &ui.visuals().selection;
    egui::Button::new(
        egui::RichText::new(text.into())
            .strong()
            .color(visuals.stroke.color),
    )
    .fill(visuals.bg_fill)
}

/// An action that removes or sends something that cannot be taken back without another run:
/// drawn in the error colour, so it never looks like the harmless button beside it.
pub fn destructive_button(ui: &egui::Ui, text: impl Into<String>) -> egui::Button<'static> {
    egui::Button::new(egui::RichText::new(text.into()).color(ui.visuals().error_fg_color))
        .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
}

/// The theme picker in words ("Follow the system", "Light", "Dark"). egui keeps the choice
/// with the window's memory, so it holds across restarts; the default follows the OS setting.
pub fn theme_choice_ui(ui: &mut egui::Ui) {
    let mut preference = ui.options(|o| o.theme_preference);
    let name = |p: egui::ThemePreference| match p {
        egui::ThemePreference::System => "Follow the system",
        egui::ThemePreference::Light => "Light",
        egui::ThemePreference::Dark => "Dark",
    };
    let before = preference;
    // Its own left-to-right box, so the label reads before the box in a right-aligned bar.
    let size = egui::vec2(200.0, ui.spacing().interact_size.y);
    ui.allocate_ui_with_layout(
        size,
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            let label = ui.label("Theme");
            egui::ComboBox::from_id_salt("theme_choice")
                .width(140.0)
                .selected_text(name(preference))
                .show_ui(ui, |ui| {
                    for choice in [
                        egui::ThemePreference::System,
                        egui::ThemePreference::Light,
                        egui::ThemePreference::Dark,
                    ] {
                        ui.selectable_value(&mut preference, choice, name(choice));
                    }
                })
                .response
                .labelled_by(label.id);
        },
    );
    if preference != before {
        ui.ctx().set_theme(preference);
    }
}
