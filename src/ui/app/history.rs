//! The History tab: past runs newest first with their outcome in words, retries and dry runs
//! marked, a detail view of one run (which companies, what was sent, each result) and
//! "Revert to these counts" on every run but the one whose counts Synthesize holds now. The
//! journal is read when the tab opens or is refreshed, never while drawing.

use crate::domain::adjustments::AdjustmentChange;
use crate::domain::printable::printable;
use crate::domain::report::{RunComparison, RunReport};
use crate::storage::journal::{JournalReadout, RunEnd, RunKind, RunSummary};
use crate::storage::reports::{compare_runs, run_report};
use crate::worker::{Handles, Job, JobError, ReadHistoryJob, SYNC};

use super::super::log::LogLevel;
use super::{Action, App};

/// What History shows, read from the journal once.
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    /// Newest first.
    pub runs: Vec<RunSummary>,
    /// Runs that posted again only what the run before them failed to post ("Retry failed").
    pub retries: std::collections::BTreeSet<String>,
    /// The run whose counts Synthesize holds now: reverting to it would change nothing.
    pub latest_sent: Option<String>,
    /// The open run's report.
    pub detail: Option<RunReport>,
    /// The open run compared with another one: exactly the companies whose counts differ.
    pub comparison: Option<RunComparison>,
    /// Who excluded, included or overrode what, when and why; newest first.
    pub changes: Vec<AdjustmentChange>,
    pub(super) readout: JournalReadout,
}

/// A run kind in the window's words.
pub fn kind_words(kind: Option<RunKind>) -> &'static str {
    match kind {
        Some(RunKind::Sync) => "Send (services, accounts, counts)",
        Some(RunKind::SyncUsage) => "Counts only",
        Some(RunKind::SyncAccounts) => "Accounts only",
        Some(RunKind::SyncServices) => "Services only",
        Some(RunKind::Revert) => "Revert to a past run",
        None => "Unknown (its first line was lost)",
    }
}

/// A run's outcome in words: "finished, 6 failed", "dry run: nothing sent", "cut off".
pub fn outcome_words(run: &RunSummary) -> String {
    if run.dry_run {
        return "dry run: nothing sent".to_owned();
    }
    let end = match run.end {
        RunEnd::Finished {
            cancelled: false, ..
        } => "finished",
        RunEnd::Finished {
            cancelled: true, ..
        } => "cancelled",
        RunEnd::CutOff => "cut off (the program stopped mid-run)",
    };
    match (run.failed, run.unmapped) {
        (0, 0) => end.to_owned(),
        (0, u) => format!("{end}, {u} unmapped"),
        (f, 0) => format!("{end} with {f} failed"),
        (f, u) => format!("{end} with {f} failed, {u} unmapped"),
    }
}

/// The runs that re-posted only counts the previous run failed on: the window's
/// "Retry failed" (the journal has no mark for it, so it is told from what the runs did).
fn find_retries(
    readout: &JournalReadout,
    runs: &[RunSummary],
) -> std::collections::BTreeSet<String> {
    use crate::storage::journal::{CountOutcome, JournalEvent};
    use std::collections::{BTreeMap, BTreeSet};
    let mut results: BTreeMap<&str, Vec<(i64, String, bool)>> = BTreeMap::new();
    for entry in &readout.events {
        if let JournalEvent::CountResult {
            company_id,
            service,
            outcome,
            ..
        } = &entry.event
        {
            results.entry(entry.run_id.as_str()).or_default().push((
                *company_id,
                service.service_name().to_owned(),
                matches!(outcome, CountOutcome::Failed { .. }),
            ));
        }
    }
    let mut out = BTreeSet::new();
    // Oldest first, each run against the real run just before it.
    let real: Vec<&RunSummary> = runs.iter().rev().filter(|r| !r.dry_run).collect();
    for pair in real.windows(2) {
        let (before, run) = (pair[0], pair[1]);
        let failed_before: BTreeSet<(i64, String)> = results
            .get(before.run_id.as_str())
            .into_iter()
            .flatten()
            .filter(|(_, _, failed)| *failed)
            .map(|(id, s, _)| (*id, s.clone()))
            .collect();
        let posted: BTreeSet<(i64, String)> = results
            .get(run.run_id.as_str())
            .into_iter()
            .flatten()
            .map(|(id, s, _)| (*id, s.clone()))
            .collect();
        if run.kind == before.kind
            && !posted.is_empty()
            && posted.is_subset(&failed_before)
            && run.services_created == 0
            && run.accounts_created == 0
        {
            out.insert(run.run_id.clone());
        }
    }
    out
}

impl App {
    /// Reads the journal for History on the worker (on opening the tab, Refresh, and after a
    /// run); the tab shows the last view meanwhile.
    pub(super) fn read_history(&mut self) {
        if self.services.worker.is_running(ReadHistoryJob::KIND) {
            return;
        }
        let Some(place) = self.history_place() else {
            self.history = Some(Ok(self.history_view(JournalReadout::default())));
            return;
        };
        self.start_job(ReadHistoryJob(place));
    }

    /// History's view of what the journal holds, with this session's dry runs.
    fn history_view(&self, mut readout: JournalReadout) -> HistoryView {
        readout.events.extend(self.session_dry_runs.iter().cloned());
        readout.events.sort_by_key(|e| e.at);
        let runs = readout.runs();
        let retries = find_retries(&readout, &runs);
        let latest_sent = runs
            .iter()
            .find(|r| !r.dry_run && r.sent > 0)
            .map(|r| r.run_id.clone());
        let detail = self
            .history_open_run
            .as_deref()
            .and_then(|id| run_report(&readout, id));
        HistoryView {
            runs,
            retries,
            latest_sent,
            detail,
            comparison: None,
            changes: readout.adjustment_changes(),
            readout,
        }
    }

    fn on_history_read(&mut self, result: Result<JournalReadout, JobError>) {
        self.history = Some(match result {
            Ok(readout) => Ok(self.history_view(readout)),
            Err(e) => {
                self.log
                    .push(LogLevel::Warn, format!("History could not be read: {e}"));
                Err(e.to_string())
            }
        });
    }

    /// Opens (or closes, with `None`) one run's detail.
    pub(super) fn open_run(&mut self, run_id: Option<String>) {
        self.history_open_run.clone_from(&run_id);
        if let Some(Ok(view)) = self.history.as_mut() {
            view.detail = run_id.and_then(|id| run_report(&view.readout, &id));
            view.comparison = None;
        }
    }

    /// Compares two runs of the journal (the earlier one is "before", whichever was picked
    /// first), or closes the comparison with `None`.
    pub(super) fn compare_runs(&mut self, runs: Option<(String, String)>) {
        let Some(Ok(view)) = self.history.as_mut() else {
            return;
        };
        let Some((a, b)) = runs else {
            view.comparison = None;
            return;
        };
        let started = |id: &str| view.runs.iter().find(|r| r.run_id == id).map(|r| r.started);
        let (before, after) = if started(&a) <= started(&b) {
            (a, b)
        } else {
            (b, a)
        };
        match compare_runs(&view.readout, &before, &after) {
            Ok(comparison) => view.comparison = Some(comparison),
            Err(e) => {
                view.comparison = None;
                self.log.push(
                    LogLevel::Warn,
                    format!("The runs could not be compared: {e}"),
                );
            }
        }
    }

    pub(super) fn history_tab_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let tenant = self.current_plan_context().map(|c| {
            let t = c.tenant;
            format!(
                "Tenant: ConnectWise company {} at {}, Synthesize at {}",
                t.connectwise_company_id, t.connectwise_host, t.synthesize_url
            )
        });
        let screen = HistoryScreen {
            tenant,
            history: self.history.as_ref(),
            reading: self.services.worker.is_running(ReadHistoryJob::KIND),
            syncing: self.services.worker.is_running(SYNC),
        };
        actions.extend(history_ui(ui, &screen));
    }
}

/// What the History tab shows: the tenant it belongs to, the runs read (or why not), and
/// whether a read or a sync is on its way.
pub struct HistoryScreen<'a> {
    /// The tenant in words, when the form names one.
    pub tenant: Option<String>,
    /// `None`: not read yet.
    pub history: Option<&'a Result<HistoryView, String>>,
    pub reading: bool,
    pub syncing: bool,
}

/// Draws History from `screen`; what the user asked for comes back as actions.
pub fn history_ui(ui: &mut egui::Ui, screen: &HistoryScreen<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    // Asked again once a read left behind by a profile switch has ended.
    if screen.history.is_none() && !screen.reading {
        // Read on the worker, asked for after drawing.
        actions.push(Action::RefreshHistory);
    }
    ui.horizontal(|ui| {
        ui.heading("History");
        if ui.button("Refresh history").clicked() {
            actions.push(Action::RefreshHistory);
        }
    });
    if let Some(tenant) = &screen.tenant {
        ui.label(tenant);
    }
    let view = match screen.history {
        Some(Ok(view)) => view,
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return actions;
        }
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the history…");
            });
            return actions;
        }
    };
    adjustment_changes_ui(ui, &view.changes);
    if view.runs.is_empty() {
        ui.label("No sync has run for this profile yet.");
        return actions;
    }
    if let Some(report) = &view.detail {
        run_detail_ui(ui, report, &mut actions);
        compare_picker_ui(ui, report, &view.runs, &mut actions);
        if let Some(comparison) = &view.comparison {
            comparison_ui(ui, comparison, &mut actions);
        }
        ui.separator();
    }
    // Filling the space, so the sideways scroll bar sits at the bottom of the tab rather than
    // over the last run's buttons.
    egui::ScrollArea::both()
        .id_salt("history_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("history_grid")
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    for title in [
                        "",
                        "When",
                        "What",
                        "Outcome",
                        "Sent",
                        "Unmapped / failed",
                        "",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for run in &view.runs {
                        run_row_ui(ui, view, run, screen.syncing, &mut actions);
                        ui.end_row();
                    }
                });
        });
    actions
}

/// One run's line in the list.
fn run_row_ui(
    ui: &mut egui::Ui,
    view: &HistoryView,
    run: &RunSummary,
    busy: bool,
    actions: &mut Vec<Action>,
) {
    let open = view
        .detail
        .as_ref()
        .is_some_and(|d| d.header.run_id == run.run_id);
    let when = run
        .started
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    // First in the row, so it is never scrolled out of reach.
    let details = ui
        .selectable_label(open, if open { "Hide details" } else { "Details" })
        .on_hover_text("Show this run's companies and results");
    if details.clicked() {
        actions.push(Action::OpenRun((!open).then(|| run.run_id.clone())));
    }
    ui.label(when);
    let mut what = kind_words(run.kind).to_owned();
    if view.retries.contains(&run.run_id) {
        what.push_str(" — retry of failed counts");
    }
    if run.dry_run {
        what.push_str(" — dry run (this session)");
    }
    ui.label(what);
    let outcome = outcome_words(run);
    if run.failed > 0 || run.end == RunEnd::CutOff {
        ui.colored_label(ui.visuals().error_fg_color, outcome);
    } else {
        ui.label(outcome);
    }
    ui.label(run.sent.to_string());
    ui.label(format!("{} / {}", run.unmapped, run.failed));
    ui.horizontal(|ui| {
        let current = view.latest_sent.as_deref() == Some(run.run_id.as_str());
        if !run.dry_run && run.sent > 0 && !current {
            let revert = ui
                .add_enabled(!busy, egui::Button::new("Revert to these counts"))
                .on_hover_text("Post the counts this run sent again (asks first)");
            if revert.clicked() {
                actions.push(Action::Revert(run.run_id.clone()));
            }
        } else if current {
            ui.weak("current counts");
        }
    });
}

/// One run in detail: every company it touched, what it sent and how each count ended.
fn run_detail_ui(ui: &mut egui::Ui, report: &RunReport, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        let when = report
            .header
            .started
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S");
        ui.strong(format!(
            "Run of {when}{}: {} companies",
            if report.header.dry_run {
                " (dry run)"
            } else {
                ""
            },
            report.rows.len()
        ));
        if ui.button("Close details").clicked() {
            actions.push(Action::OpenRun(None));
        }
    });
    let t = &report.totals;
    ui.label(format!(
        "Sent {} shared and {} not shared devices; {} failed, {} unmapped, {} held, {} excluded, {} without account.",
        t.shared_sent, t.not_shared_sent, t.failed, t.unmapped, t.held, t.excluded, t.no_account
    ));
    egui::ScrollArea::vertical()
        .id_salt("run_detail_scroll")
        .max_height(220.0)
        .show(ui, |ui| {
            egui::Grid::new("run_detail_grid")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for title in ["Company", "Shared", "Not shared", "Result", "Why"] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    let one = |n: Option<u64>| n.map_or_else(|| "—".to_owned(), |n| n.to_string());
                    for row in &report.rows {
                        ui.label(printable(&format!(
                            "{} ({})",
                            row.company_name, row.company_id
                        )));
                        ui.label(one(row.shared.new));
                        ui.label(one(row.not_shared.new));
                        ui.label(row.statuses().join(", "));
                        ui.label(printable(&row.reasons().join("; ")));
                        ui.end_row();
                    }
                });
        });
}

fn run_label(started: chrono::DateTime<chrono::Utc>, kind: &str, dry_run: bool) -> String {
    format!(
        "{} {kind}{}",
        started
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M"),
        if dry_run { " (dry run)" } else { "" }
    )
}

/// "Compare with…": the open run against any other run of this tenant.
fn compare_picker_ui(
    ui: &mut egui::Ui,
    report: &RunReport,
    runs: &[RunSummary],
    actions: &mut Vec<Action>,
) {
    let open = &report.header.run_id;
    egui::ComboBox::from_label("Compare this run with")
        .selected_text("pick a run…")
        .show_ui(ui, |ui| {
            for run in runs.iter().filter(|r| &r.run_id != open) {
                let label = run_label(run.started, kind_words(run.kind), run.dry_run);
                if ui.selectable_label(false, label).clicked() {
                    actions.push(Action::CompareRuns(Some((
                        run.run_id.clone(),
                        open.clone(),
                    ))));
                }
            }
        });
}

/// Two runs side by side: each company whose counts differ, before and after.
fn comparison_ui(ui: &mut egui::Ui, comparison: &RunComparison, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.strong(format!(
            "{} → {}: {} companies changed",
            run_label(
                comparison.before.started,
                &comparison.before.kind,
                comparison.before.dry_run
            ),
            run_label(
                comparison.after.started,
                &comparison.after.kind,
                comparison.after.dry_run
            ),
            comparison.rows.len()
        ));
        if ui.button("Close comparison").clicked() {
            actions.push(Action::CompareRuns(None));
        }
    });
    let one = |n: Option<u64>| n.map_or_else(|| "—".to_owned(), |n| n.to_string());
    egui::ScrollArea::vertical()
        .id_salt("comparison_scroll")
        .max_height(200.0)
        .show(ui, |ui| {
            egui::Grid::new("comparison_grid")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for title in [
                        "Company",
                        "Shared before → after",
                        "Not shared before → after",
                        "Why",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for row in &comparison.rows {
                        ui.label(printable(&format!(
                            "{} ({})",
                            row.company_name, row.company_id
                        )));
                        ui.label(format!(
                            "{} → {}",
                            one(row.shared_before),
                            one(row.shared_after)
                        ));
                        ui.label(format!(
                            "{} → {}",
                            one(row.not_shared_before),
                            one(row.not_shared_after)
                        ));
                        ui.label(printable(&row.reasons.join("; ")));
                        ui.end_row();
                    }
                });
        });
}

/// The exclusion and override changes kept in the tenant's history, folded away by default.
fn adjustment_changes_ui(ui: &mut egui::Ui, changes: &[AdjustmentChange]) {
    if changes.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!(
        "Exclusion and override changes ({})",
        changes.len()
    ))
    .id_salt("adjustment_changes")
    .show(ui, |ui| {
        for change in changes {
            let when = change
                .at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M");
            let reason = if change.reason.trim().is_empty() {
                "no reason given"
            } else {
                change.reason.as_str()
            };
            ui.label(printable(&format!(
                "{when} · {} · {}: {reason}",
                change.profile,
                change.describe(),
            )));
        }
    });
}

impl Handles<ReadHistoryJob> for App {
    fn on_outcome(&mut self, result: Result<JournalReadout, JobError>) {
        self.on_history_read(result);
    }
}
