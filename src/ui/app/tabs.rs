//! The central area's two tabs: the preview (toolbar, progress, rule, warnings, filter, table,
//! export) and the history of sync runs; and the CSV export and "last sent" merge they use.

use crate::domain::csv_export::CsvDelimiter;
use crate::domain::printable::printable;
use crate::worker::{ExportJob, Exported, Handles, Job, JobError, PreviewJob};

use super::super::connection::TestState;
use super::super::export::suggested_file_name;
use super::super::log::LogLevel;
use super::super::steps::{StepFacts, step_bar_ui};
use super::super::sync_view::{SendView, SyncPhase, SyncState, sync_controls_ui, sync_progress_ui};
use super::super::table::{AccountState, PreviewTable, ROW_HEIGHT, table_ui};
use super::super::widgets::{primary_button, submitted, theme_choice_ui};
use super::{Action, App};

impl App {
    /// The step bar, across the whole window under the profile bar: one line always (it
    /// scrolls sideways rather than wraps), so nothing below moves when its words change.
    pub(super) fn steps_ui(&self, ui: &mut egui::Ui) {
        let send_blocked = self.send_blocked();
        let facts = self.step_facts(send_blocked.as_deref());
        egui::ScrollArea::horizontal()
            .id_salt("step_bar_scroll")
            .show(ui, |ui| step_bar_ui(ui, &facts));
    }

    /// The step bar's facts, from the window's state.
    fn step_facts(&self, send_blocked: Option<&str>) -> StepFacts {
        let passed = |t: &TestState| match t {
            TestState::Passed(_) => Some(true),
            TestState::Failed(_) => Some(false),
            TestState::NotRun | TestState::Running => None,
        };
        let table = self.preview.table.as_ref();
        let held = self
            .preview
            .completeness
            .as_ref()
            .map_or(0, |c| c.held_companies().len());
        StepFacts {
            // A preview that read the tenant proves ConnectWise; a plan or status read proves
            // Synthesize.
            connectwise_ok: passed(&self.connectwise_test)
                .or(table.map(|_| true).filter(|_| self.preview.error.is_none())),
            synthesize_ok: passed(&self.synthesize_test)
                .or(self.sync.integration.as_ref().map(|_| true))
                .or(self.sync.synthesize_answered.then_some(true)),
            preview: table.map(|t| {
                let when = self.preview.binding.as_ref().map_or_else(String::new, |b| {
                    b.previewed_at
                        .with_timezone(&chrono::Local)
                        .format("%H:%M")
                        .to_string()
                });
                (t.rows().len(), when)
            }),
            preview_running: self.preview.running,
            preview_blocked: send_blocked.map(str::to_owned),
            changes: table.map_or(0, |t| t.rows().iter().filter(|r| r.changed()).count()),
            held,
            without_account: table.map_or(0, |t| {
                t.rows()
                    .iter()
                    .filter(|r| r.account == AccountState::Missing)
                    .count()
            }),
            selected: table.map_or(0, |t| t.selected_ids().len()),
            sent: self.sync.report().map(|r| {
                let p = r.progress;
                (
                    format!(
                        "{} sent, {} unmapped, {} failed",
                        p.sent, p.unmapped, p.failed
                    ),
                    !r.has_failures(),
                )
            }),
            sending: self.sync.phase() == SyncPhase::Running,
        }
    }

    /// The Counts tab's screen, from the window's state: the table, the filter text and the
    /// export options it edits, the rest read.
    pub(super) fn preview_tab_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let send_blocked = self.send_blocked();
        let mut screen = PreviewScreen {
            running: self.preview.running,
            progress: self.preview.progress,
            failed: self.preview.error.is_some(),
            table: self.preview.table.as_mut(),
            completeness: self.preview.completeness.as_ref(),
            send_blocked: send_blocked.as_deref(),
            sync: &self.sync,
            filter_text: &mut self.filter_text,
            focus_filter: self.focus_filter,
            csv_delimiter: self
                .profile
                .as_ref()
                .map(|p| p.csv_delimiter)
                .unwrap_or_default(),
            excel: &mut self.export.excel,
            selected_only: &mut self.export.selected_only,
        };
        actions.extend(preview_tab_ui(ui, &mut screen));
        self.focus_filter = screen.focus_filter;
    }

    /// The status bar: the latest outcome of each kind of action, at the bottom of the window
    /// so a message never moves the buttons above.
    pub(super) fn status_bar_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let preview_error = self
            .preview
            .error
            .as_ref()
            .map(|e| Err::<String, _>(e.clone()));
        let screen = StatusScreen {
            messages: [
                &preview_error,
                &self.sync.message,
                &self.sync.status_message,
                &self.export.message,
            ]
            .into_iter()
            .flatten()
            .collect(),
            saved_folder: match (&self.export.message, &self.export.saved_folder) {
                (Some(Ok(_)), Some(folder)) => Some(folder.as_path()),
                _ => None,
            },
            demo: self.is_demo(),
        };
        actions.extend(status_bar_ui(ui, &screen));
    }

    /// The typed path, when no save dialog could open: a small window of its own, with the
    /// default path already filled in, so nothing above the table moves.
    pub(super) fn typed_path_dialog(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        let Some(path) = self.export.typed_path.as_mut() else {
            return;
        };
        let mut close = false;
        let error = match &self.export.message {
            Some(Err(text)) => Some(text.clone()),
            _ => None,
        };
        let modal = egui::Modal::new(egui::Id::unique("typed_export_path")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading("Save CSV");
            ui.label(
                "No save dialog could open on this machine. Type the full path of the file \
                 (~ is your home folder; a bare file name goes to your documents folder).",
            );
            ui.horizontal(|ui| {
                let label = ui.label("Save CSV to");
                let response = ui
                    .add(egui::TextEdit::singleline(path).desired_width(420.0))
                    .labelled_by(label.id);
                if submitted(ui, &response) {
                    actions.push(Action::ExportToTypedPath);
                }
            });
            if let Some(text) = &error {
                ui.colored_label(ui.visuals().error_fg_color, text);
            }
            ui.horizontal(|ui| {
                if ui.add(primary_button(ui, "Save")).clicked() {
                    actions.push(Action::ExportToTypedPath);
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if close || modal.should_close() {
            self.export.typed_path = None;
        }
    }

    /// Puts the counts last sent (as the tenant's history says) beside the new ones.
    pub(super) fn merge_last_sent(
        table: &mut PreviewTable,
        last: &crate::domain::sync_plan::LastSent,
    ) {
        use crate::domain::sync_plan::ServiceKind;
        for row in table.rows_mut() {
            let id = row.counts.company_id;
            let shared = last.get(&(id, ServiceKind::Shared)).map(|c| c.unit_count);
            let not_shared = last
                .get(&(id, ServiceKind::NotShared))
                .map(|c| c.unit_count);
            // A count never sent (a zero the zero policy skipped) stays "—", not 0.
            row.last_sent = (shared.is_some() || not_shared.is_some()).then_some(
                super::super::table::LastSent {
                    shared_devices: shared,
                    not_shared_devices: not_shared,
                },
            );
        }
    }

    pub(super) fn export_with_dialog(&mut self) {
        if self.preview.table.is_none() {
            return;
        }
        let suggested = suggested_file_name(self.profile_name());
        match self.services.save_dialog.save_file(&suggested) {
            Ok(Some(path)) => self.export_to(&path),
            Ok(None) => {
                self.export.message = Some(Ok("Export cancelled: no file chosen.".to_owned()));
            }
            Err(e) => {
                let default = self
                    .export
                    .last_path
                    .clone()
                    .unwrap_or_else(|| default_export_folder().join(&suggested));
                self.export.typed_path = Some(default.display().to_string());
                self.export.message = Some(Err(e.to_string()));
            }
        }
    }

    /// Writes the table as shown (its order; ticked rows only when asked) to `path` on the
    /// worker, made absolute first so the message says exactly where the file is.
    pub(super) fn export_to(&mut self, path: &std::path::Path) {
        let Some(table) = &self.preview.table else {
            return;
        };
        let path = absolute_export_path(path);
        let companies = table.companies_in_table_order(self.export.selected_only);
        let delimiter = self
            .profile
            .as_ref()
            .map(|p| p.csv_delimiter)
            .unwrap_or_default();
        self.export.message = None;
        self.start_job(ExportJob {
            path,
            companies,
            delimiter,
            excel: self.export.excel,
        });
    }
}

impl Handles<ExportJob> for App {
    fn on_outcome(&mut self, result: Result<Exported, JobError>) {
        match result {
            Ok(Exported { path, companies }) => {
                let text = format!("Exported {companies} companies to {}", path.display());
                self.log.push(LogLevel::Info, &text);
                self.export.message = Some(Ok(text));
                self.export.typed_path = None;
                self.export.saved_folder = path.parent().map(std::path::Path::to_path_buf);
                self.export.last_path = Some(path);
            }
            Err(e) => {
                self.log.push(LogLevel::Error, e.to_string());
                self.export.message = Some(Err(e.to_string()));
            }
        }
    }
}

/// Where an export goes by default: the user's documents folder, else home, else here.
pub(super) fn default_export_folder() -> std::path::PathBuf {
    directories::UserDirs::new()
        .map(|u| {
            u.document_dir()
                .unwrap_or_else(|| u.home_dir())
                .to_path_buf()
        })
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
}

/// A typed path made absolute: `~` is the home folder, a relative path is under the default
/// export folder (never the folder the program happened to start in).
pub(super) fn absolute_export_path(path: &std::path::Path) -> std::path::PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(user) = directories::UserDirs::new()
    {
        return user.home_dir().join(rest);
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        default_export_folder().join(path)
    }
}

/// The running fetch's progress bar: pages and configurations read so far.
fn fetch_progress_ui(ui: &mut egui::Ui, progress: Option<crate::engine::FetchProgress>) {
    let (fraction, text) = match progress {
        Some(p) => {
            let fraction = p
                .pages_expected
                .filter(|&e| e > 0)
                .map(|e| (p.pages_fetched as f32 / e as f32).min(1.0));
            let pages = match p.pages_expected {
                Some(e) => format!("{} of {e} pages", p.pages_fetched),
                None => format!("{} pages", p.pages_fetched),
            };
            (
                fraction,
                format!("{pages}, {} configurations read", p.configurations_read),
            )
        }
        None => (None, "Connecting...".to_owned()),
    };
    let bar = egui::ProgressBar::new(fraction.unwrap_or(0.0))
        .text(text)
        .animate(fraction.is_none());
    ui.add(bar);
}

/// What the table leaves out or holds back, above it: held companies, excluded companies and
/// the preview's warnings.
fn table_notices_ui(
    ui: &mut egui::Ui,
    table: &PreviewTable,
    completeness: Option<&crate::domain::safety::PreviewCompleteness>,
) {
    for held in completeness.iter().flat_map(|c| c.held_companies()) {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Held, not sent: {}", crate::engine::sync::held_line(&held)),
        );
    }
    for excluded in &table.excluded {
        ui.label(format!(
            "Excluded, never posted nor zeroed: {} ({}): {}",
            printable(&excluded.company_name),
            excluded.company_id,
            printable(&excluded.reason)
        ));
    }
    for warning in &table.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, format!("Warning: {warning}"));
    }
}

/// What the status bar says: the messages of the last actions (an error as `Err`), the folder
/// of a CSV just saved, and whether the window shows the demo.
pub struct StatusScreen<'a> {
    pub messages: Vec<&'a Result<String, String>>,
    pub saved_folder: Option<&'a std::path::Path>,
    pub demo: bool,
}

/// Draws the status bar: the messages on the left, the theme at the right end, where it never
/// crowds the profile bar.
pub fn status_bar_ui(ui: &mut egui::Ui, screen: &StatusScreen<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        theme_choice_ui(ui);
        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
            let error = ui.visuals().error_fg_color;
            for message in &screen.messages {
                match message {
                    Ok(text) => ui.label(text),
                    Err(text) => ui.colored_label(error, text),
                };
            }
            if let Some(folder) = screen.saved_folder
                && ui.button("Open folder").clicked()
            {
                actions.push(Action::OpenFolder(folder.to_path_buf()));
            }
            if screen.demo {
                // Said where it is always in sight, without taking a line from the table.
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(
                            "Demo: generated data on a built-in sandbox. Its history and keys are temporary and go when the window closes; pick a profile above to leave it (a profile made with New profile is a real one, saved with your others).",
                        )
                        .color(ui.visuals().warn_fg_color),
                    )
                    .truncate(),
                );
            } else if screen.messages.is_empty() {
                ui.weak("Ready.");
            }
        });
    });
    actions
}

/// What the Counts tab shows. It borrows only what it draws: the table (its sorting, quick
/// filters and ticks are the table's own widget state), the filter text and the export
/// options, edited in place; the rest is read.
pub struct PreviewScreen<'a> {
    /// A preview is running.
    pub running: bool,
    pub progress: Option<crate::engine::FetchProgress>,
    /// The last preview failed (its message is in the status bar).
    pub failed: bool,
    /// The last table; it stays while a new preview runs.
    pub table: Option<&'a mut PreviewTable>,
    pub completeness: Option<&'a crate::domain::safety::PreviewCompleteness>,
    /// Why the table may not be sent now.
    pub send_blocked: Option<&'a str>,
    pub sync: &'a SyncState,
    pub filter_text: &'a mut String,
    /// In: the filter field is to take the focus (Ctrl+F). Out: cleared once it has.
    pub focus_filter: bool,
    pub csv_delimiter: CsvDelimiter,
    /// Export for Excel (a UTF-8 byte-order mark first).
    pub excel: &'a mut bool,
    /// Export only the ticked rows.
    pub selected_only: &'a mut bool,
}

/// Draws the Counts tab from `screen`: the toolbar, the progress, the rule, the notices, the
/// filter row, the table and the export row; what the user asked for comes back as actions.
pub fn preview_tab_ui(ui: &mut egui::Ui, screen: &mut PreviewScreen<'_>) -> Vec<Action> {
    let mut actions = preview_toolbar_ui(ui, screen);

    if screen.running {
        fetch_progress_ui(ui, screen.progress);
    }
    sync_progress_ui(ui, screen.sync);

    let Some(table) = screen.table.as_deref_mut() else {
        if !screen.running && !screen.failed {
            ui.label("Press Preview (F5) to fetch and count this tenant's configurations.");
        }
        return actions;
    };
    if let Some(blocked) = screen.send_blocked {
        ui.label(
            egui::RichText::new(blocked)
                .strong()
                .color(ui.visuals().error_fg_color),
        );
    }
    // The counting rule in words: one line, the whole of it on hover.
    ui.add(egui::Label::new(egui::RichText::new(&table.rule_text).italics()).truncate())
        .on_hover_text(&table.rule_text);
    table_notices_ui(ui, table, screen.completeness);
    ui.horizontal_wrapped(|ui| {
        filter_row_ui(ui, table, screen.filter_text, &mut screen.focus_filter);
    });
    ui.separator();
    // The export row sits under the table (and its totals), so it is kept free.
    table_ui(ui, table, ROW_HEIGHT + 12.0);
    ui.horizontal_wrapped(|ui| {
        actions.extend(export_controls_ui(
            ui,
            screen.csv_delimiter,
            screen.excel,
            screen.selected_only,
        ));
    });
    actions
}

/// Preview, the send controls and export, on one line that never moves: messages go to
/// the status bar at the bottom.
fn preview_toolbar_ui(ui: &mut egui::Ui, screen: &PreviewScreen<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    let table = screen.table.as_deref();
    let current = table.is_some() && screen.send_blocked.is_none();
    let (selected, companies) = table.map_or((0, 0), |t| (t.selected_ids().len(), t.rows().len()));
    ui.horizontal_wrapped(|ui| {
        if screen.running {
            ui.add_enabled(false, egui::Button::new("Preview"));
            if ui.button("Cancel preview").clicked() {
                actions.push(Action::Cancel(PreviewJob::KIND));
            }
        } else {
            // Preview is the step to take until a current one exists; then sending is.
            let button = if current {
                egui::Button::new("Preview")
            } else {
                primary_button(ui, "Preview")
            };
            if ui
                .add(button)
                .on_hover_text("Fetch and count; nothing is sent anywhere (F5)")
                .clicked()
            {
                actions.push(Action::Preview);
            }
        }
        ui.separator();
        let view = SendView {
            has_counts: table.is_some() && !screen.running,
            send_blocked: screen.send_blocked,
            selected,
            companies,
        };
        for action in sync_controls_ui(ui, screen.sync, &view) {
            actions.push(Action::Sync(action));
        }
    });
    actions
}

/// The filter field (focused when `focus` is set, which it then clears), the quick filters,
/// Select all/none and how many rows are ticked and shown.
fn filter_row_ui(
    ui: &mut egui::Ui,
    table: &mut PreviewTable,
    filter_text: &mut String,
    focus: &mut bool,
) {
    let label = ui.label("Filter");
    let response = ui
        .add(
            egui::TextEdit::singleline(filter_text)
                .hint_text("company name or id (Ctrl+F)")
                .desired_width(200.0),
        )
        .labelled_by(label.id);
    if *focus {
        response.request_focus();
        *focus = false;
    }
    table.set_filter(filter_text);
    let mut only = table.only();
    for (flag, text, hover) in [
        (
            &mut only.changed,
            "Changed only",
            "Rows whose counts differ from those last sent",
        ),
        (
            &mut only.failed,
            "Failed only",
            "Rows whose last send failed",
        ),
        (
            &mut only.unmapped,
            "Unmapped only",
            "Rows Synthesize has no account map for",
        ),
        (
            &mut only.held,
            "Held only",
            "Rows held because a record could not be read",
        ),
    ] {
        ui.checkbox(flag, text).on_hover_text(hover);
    }
    table.set_only(only);
    if ui.button("Select all").clicked() {
        table.select_visible(true);
    }
    if ui.button("Select none").clicked() {
        table.select_visible(false);
    }
    ui.separator();
    let selected = table.selected_ids().len();
    ui.add(
        egui::Label::new(egui::RichText::new(format!("{selected} selected")).strong())
            .wrap_mode(egui::TextWrapMode::Extend),
    );
    ui.add(
        egui::Label::new(format!(
            "{} of {} companies shown, {} configurations read",
            table.visible_len(),
            table.rows().len(),
            table.configurations_read
        ))
        .wrap_mode(egui::TextWrapMode::Extend),
    );
}

/// Export CSV…, the delimiter and the Excel option.
fn export_controls_ui(
    ui: &mut egui::Ui,
    before: CsvDelimiter,
    excel: &mut bool,
    selected_only: &mut bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    // Drawn only under a table, so there is always one to export.
    if ui.button("Export CSV...").clicked() {
        actions.push(Action::ExportCsv);
    }
    let mut csv_delimiter = before;
    let label = ui.label("Delimiter");
    egui::ComboBox::from_id_salt("csv_delimiter")
        .selected_text(match csv_delimiter {
            CsvDelimiter::Comma => "Comma (,)",
            CsvDelimiter::Semicolon => "Semicolon (;)",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut csv_delimiter, CsvDelimiter::Comma, "Comma (,)");
            ui.selectable_value(&mut csv_delimiter, CsvDelimiter::Semicolon, "Semicolon (;)");
        })
        .response
        .labelled_by(label.id);
    if csv_delimiter != before {
        actions.push(Action::SetDelimiter(csv_delimiter));
    }
    ui.checkbox(excel, "For Excel").on_hover_text(
        "Start the CSV with a UTF-8 byte-order mark, so Excel shows non-Latin names correctly",
    );
    ui.checkbox(selected_only, "Selected rows only")
        .on_hover_text("Export only the ticked companies; the file keeps the table's order");
    actions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::domain::counting::{CompanyCounts, CountingResult};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// What the Counts tab edits in place, and the actions of every frame.
    #[derive(Default)]
    struct Tab {
        table: Option<PreviewTable>,
        sync: SyncState,
        filter_text: String,
        focus_filter: bool,
        excel: bool,
        selected_only: bool,
        actions: Vec<Action>,
    }

    fn table() -> PreviewTable {
        let company = |id: i64, name: &str| CompanyCounts {
            company_id: id,
            company_name: name.to_owned(),
            shared_devices: 1,
            not_shared_devices: 2,
            total_devices: 3,
        };
        let result = CountingResult {
            companies: vec![company(1, "Acme"), company(2, "Initech")],
            ..CountingResult::default()
        };
        PreviewTable::new(&result, "the rule".to_owned())
    }

    fn harness(tab: Tab) -> Harness<'static, Tab> {
        Harness::new_ui_state(
            |ui, tab: &mut Tab| {
                let mut screen = PreviewScreen {
                    running: false,
                    progress: None,
                    failed: false,
                    table: tab.table.as_mut(),
                    completeness: None,
                    send_blocked: None,
                    sync: &tab.sync,
                    filter_text: &mut tab.filter_text,
                    focus_filter: tab.focus_filter,
                    csv_delimiter: CsvDelimiter::Comma,
                    excel: &mut tab.excel,
                    selected_only: &mut tab.selected_only,
                };
                let actions = preview_tab_ui(ui, &mut screen);
                tab.focus_filter = screen.focus_filter;
                tab.actions.extend(actions);
            },
            tab,
        )
    }

    #[test]
    fn without_a_table_the_tab_says_to_press_preview_and_preview_asks_for_one() {
        let mut h = harness(Tab::default());
        h.run_steps(2);
        assert!(h.query_by_label_contains("Press Preview (F5)").is_some());
        assert!(h.query_by_label("Export CSV...").is_none());
        h.get_by_label("Preview").click();
        h.run_steps(2);
        assert_eq!(h.state().actions, [Action::Preview]);
    }

    #[test]
    fn the_tab_edits_only_what_it_borrows_and_asks_for_the_rest() {
        let mut h = harness(Tab::default());
        // The sort arrows need the window's symbol font.
        super::super::add_symbol_font(&h.ctx);
        h.run_steps(1);
        h.state_mut().table = Some(table());
        h.state_mut().focus_filter = true;
        h.run_steps(2);
        // Ctrl+F's focus is given once, then cleared through the screen.
        assert!(!h.state().focus_filter);
        assert!(h.get_by_label("Filter").is_focused());
        h.get_by_label("Filter").type_text("init");
        h.run_steps(2);
        assert_eq!(h.state().filter_text, "init");
        assert_eq!(h.state().table.as_ref().unwrap().visible_len(), 1);
        h.get_by_label("For Excel").click();
        h.get_by_label("Export CSV...").click();
        h.run_steps(2);
        assert!(h.state().excel);
        assert_eq!(h.state().actions, [Action::ExportCsv]);
    }
}
