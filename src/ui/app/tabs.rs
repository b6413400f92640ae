//! The central area's two tabs: the preview (toolbar, progress, rule, warnings, filter, table,
//! export) and the history of sync runs; and the CSV export and "last sent" merge they use.

use crate::domain::csv_export::CsvDelimiter;
use crate::worker::{Job, PreviewJob, SYNC, SetStatusJob};

use super::super::export::{export_csv, suggested_file_name};
use super::super::log::LogLevel;
use super::super::sync_view::show_sync_controls;
use super::super::table::{PreviewTable, show_table};
use super::super::widgets::submitted;
use super::{Action, App};

impl App {
    pub(super) fn history_tab(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        if self.history.is_none() {
            self.history = Some(match self.journal() {
                Some(journal) => journal.runs().map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            });
        }
        ui.horizontal(|ui| {
            ui.heading("History");
            if ui.button("Refresh history").clicked() {
                self.history = None;
            }
        });
        if let Some(context) = self.current_plan_context() {
            let tenant = &context.tenant;
            ui.label(format!(
                "Tenant: ConnectWise company {} at {}, Synthesize at {}",
                tenant.connectwise_company_id, tenant.connectwise_host, tenant.synthesize_url
            ));
        }
        let runs = match &self.history {
            Some(Ok(runs)) => runs,
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
            None => return,
        };
        if runs.is_empty() {
            ui.label("No sync has run for this profile yet.");
            return;
        }
        let busy = self.worker.is_running(SYNC);
        egui::ScrollArea::vertical()
            .id_salt("history_scroll")
            .show(ui, |ui| {
                egui::Grid::new("history_grid")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for title in ["When", "What", "Outcome", "Sent", "Unmapped / failed", ""] {
                            ui.strong(title);
                        }
                        ui.end_row();
                        for run in runs.iter().rev() {
                            let when = run
                                .started
                                .with_timezone(&chrono::Local)
                                .format("%Y-%m-%d %H:%M:%S")
                                .to_string();
                            ui.label(when);
                            let kind = run.kind.map_or("unknown", |k| k.as_str());
                            ui.label(if run.dry_run {
                                format!("{kind} (dry run)")
                            } else {
                                kind.to_owned()
                            });
                            ui.label(run.status());
                            ui.label(run.sent.to_string());
                            ui.label(format!("{} / {}", run.unmapped, run.failed));
                            if !run.dry_run
                                && run.sent > 0
                                && ui
                                    .add_enabled(!busy, egui::Button::new("Revert to these counts"))
                                    .on_hover_text("Post the counts this run sent again")
                                    .clicked()
                            {
                                actions.push(Action::Revert(run.run_id.clone()));
                            }
                            ui.end_row();
                        }
                    });
            });
    }

    /// Preview and export: the buttons, the delimiter and the Excel option.
    fn preview_toolbar(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            if self.preview.running {
                ui.add_enabled(false, egui::Button::new("Preview"));
                if ui.button("Cancel preview").clicked() {
                    actions.push(Action::Cancel(PreviewJob::KIND));
                }
            } else if ui
                .button("Preview")
                .on_hover_text("Fetch and count; nothing is sent anywhere")
                .clicked()
            {
                actions.push(Action::Preview);
            }
            ui.separator();
            let has_table = self.preview.table.is_some();
            if ui
                .add_enabled(has_table, egui::Button::new("Export CSV..."))
                .clicked()
            {
                actions.push(Action::ExportCsv);
            }
            let before = self
                .profile
                .as_ref()
                .map(|p| p.csv_delimiter)
                .unwrap_or_default();
            let mut csv_delimiter = before;
            let label = ui.label("Delimiter");
            egui::ComboBox::from_id_salt("csv_delimiter")
                .selected_text(match csv_delimiter {
                    CsvDelimiter::Comma => "Comma (,)",
                    CsvDelimiter::Semicolon => "Semicolon (;)",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut csv_delimiter, CsvDelimiter::Comma, "Comma (,)");
                    ui.selectable_value(
                        &mut csv_delimiter,
                        CsvDelimiter::Semicolon,
                        "Semicolon (;)",
                    );
                })
                .response
                .labelled_by(label.id);
            if csv_delimiter != before {
                actions.push(Action::SetDelimiter(csv_delimiter));
            }
            ui.checkbox(&mut self.export.excel, "For Excel")
                .on_hover_text("Start the CSV with a UTF-8 byte-order mark, so Excel shows non-Latin names correctly");
        });
    }

    pub(super) fn preview_tab(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        self.preview_toolbar(ui, actions);
        self.export_messages(ui, actions);
        let has_counts = self.preview.table.is_some() && !self.preview.running;
        let send_blocked = self.send_blocked();
        let status_busy = self.worker.is_running(SetStatusJob::KIND);
        for action in show_sync_controls(
            ui,
            &mut self.sync,
            has_counts,
            send_blocked.as_deref(),
            status_busy,
        ) {
            actions.push(Action::Sync(action));
        }

        if self.preview.running {
            fetch_progress_ui(ui, self.preview.progress);
        }
        if let Some(error) = &self.preview.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }

        let Some(table) = self.preview.table.as_mut() else {
            if !self.preview.running && self.preview.error.is_none() {
                ui.label("Press Preview to fetch and count this tenant's configurations.");
            }
            return;
        };
        if let Some(blocked) = &send_blocked {
            ui.label(
                egui::RichText::new(blocked)
                    .strong()
                    .color(ui.visuals().error_fg_color),
            );
        }
        ui.label(egui::RichText::new(&table.rule_text).italics());
        for held in self
            .preview
            .completeness
            .iter()
            .flat_map(crate::domain::safety::PreviewCompleteness::held_companies)
        {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Held, not sent: {}", crate::engine::sync::held_line(&held)),
            );
        }
        for warning in &table.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, format!("Warning: {warning}"));
        }
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Filter");
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut self.filter_text)
                        .hint_text("company name or id (Ctrl+F)")
                        .desired_width(220.0),
                )
                .labelled_by(label.id);
            if self.focus_filter {
                response.request_focus();
                self.focus_filter = false;
            }
            table.set_filter(&self.filter_text);
            if ui.button("Select all").clicked() {
                table.select_visible(true);
            }
            if ui.button("Select none").clicked() {
                table.select_visible(false);
            }
            let (shared, not_shared, total) = table.visible_totals();
            ui.label(format!(
                "{} of {} companies, {} configurations read.",
                table.visible_len(),
                table.rows().len(),
                table.configurations_read
            ));
            ui.strong(format!(
                "Totals: {shared} shared, {not_shared} not shared, {total} devices"
            ));
        });
        ui.separator();
        show_table(ui, table);
    }

    fn export_messages(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        if let Some(path) = self.export.typed_path.as_mut() {
            ui.horizontal(|ui| {
                let label = ui.label("Save CSV to");
                let response = ui
                    .add(egui::TextEdit::singleline(path).desired_width(360.0))
                    .labelled_by(label.id);
                if ui.button("Save").clicked() || submitted(ui, &response) {
                    actions.push(Action::ExportToTypedPath);
                }
            });
        }
        match &self.export.message {
            Some(Ok(text)) => {
                ui.label(text);
            }
            Some(Err(text)) => {
                ui.colored_label(ui.visuals().error_fg_color, text);
            }
            None => {}
        }
    }

    /// Puts the counts last sent (from the journal) beside the new ones.
    pub(super) fn merge_last_sent(&mut self, table: &mut PreviewTable) {
        let Some(journal) = self.journal() else {
            return;
        };
        let last = match journal.last_sent() {
            Ok(last) => last,
            Err(e) => {
                self.log
                    .push(LogLevel::Warn, format!("History unreadable: {e}"));
                return;
            }
        };
        use crate::domain::sync_plan::ServiceKind;
        for row in table.rows_mut() {
            let id = row.counts.company_id;
            let shared = last.get(&(id, ServiceKind::Shared)).map(|c| c.unit_count);
            let not_shared = last
                .get(&(id, ServiceKind::NotShared))
                .map(|c| c.unit_count);
            if shared.is_some() || not_shared.is_some() {
                row.last_sent = Some(super::super::table::LastSent {
                    shared_devices: shared.unwrap_or(0),
                    not_shared_devices: not_shared.unwrap_or(0),
                });
            }
        }
    }

    pub(super) fn export_with_dialog(&mut self) {
        if self.preview.table.is_none() {
            return;
        }
        match self
            .save_dialog
            .save_file(&suggested_file_name(self.profile_name()))
        {
            Ok(Some(path)) => self.export_to(&path),
            Ok(None) => {
                self.export.typed_path.get_or_insert_with(String::new);
                self.export.message = Some(Ok(
                    "No file chosen. If no dialog appeared, type the path below.".to_owned(),
                ));
            }
            Err(e) => {
                self.export.typed_path.get_or_insert_with(String::new);
                self.export.message = Some(Err(e.to_string()));
            }
        }
    }

    pub(super) fn export_to(&mut self, path: &std::path::Path) {
        let Some(table) = &self.preview.table else {
            return;
        };
        let companies = table.companies();
        let delimiter = self
            .profile
            .as_ref()
            .map(|p| p.csv_delimiter)
            .unwrap_or_default();
        match export_csv(path, &companies, delimiter, self.export.excel) {
            Ok(()) => {
                let text = format!(
                    "Exported {} companies to {}",
                    companies.len(),
                    path.display()
                );
                self.log.push(LogLevel::Info, &text);
                self.export.message = Some(Ok(text));
                self.export.typed_path = None;
            }
            Err(e) => {
                self.log.push(LogLevel::Error, e.to_string());
                self.export.message = Some(Err(e.to_string()));
            }
        }
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
