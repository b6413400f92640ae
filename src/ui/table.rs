//! The preview table: one row per company with the counts last sent, the account state, a
//! selection checkbox and the sync status; sorting and filtering are cached so 5,000 rows stay
//! cheap to draw every frame.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use egui_extras::{Column, TableBuilder};

use crate::domain::adjustments::{ExcludedCompany, RunAdjustments, shown_counts};
use crate::domain::columns::{COUNT_COLUMNS, Cell, ColumnKind, CountColumn, column_totals};
use crate::domain::counting::{CompanyCounts, CountingResult};
use crate::domain::printable::printable;

/// The two counts of a company as sent (or to be sent); `None` for a count that was not: a
/// zero the zero policy left out is never shown as a zero sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastSent {
    pub shared_devices: Option<u64>,
    pub not_shared_devices: Option<u64>,
}

impl LastSent {
    /// The count for the column with this key, for the columns that are sent.
    fn count(self, key: &str) -> Option<u64> {
        match key {
            "shared_devices" => self.shared_devices,
            "not_shared_devices" => self.not_shared_devices,
            _ => None,
        }
    }

    /// Sets the count of one service.
    pub fn set(&mut self, service: crate::domain::sync_plan::ServiceKind, count: u64) {
        use crate::domain::sync_plan::ServiceKind;
        match service {
            ServiceKind::Shared => self.shared_devices = Some(count),
            ServiceKind::NotShared => self.not_shared_devices = Some(count),
        }
    }

    /// "3 / 5", with "—" for a count not sent.
    pub fn text(self) -> String {
        let one = |c: Option<u64>| c.map_or_else(|| "—".to_owned(), |c| c.to_string());
        format!(
            "{} / {}",
            one(self.shared_devices),
            one(self.not_shared_devices)
        )
    }

    /// Whether these are exactly the counts of `counts`.
    fn matches(self, counts: &CompanyCounts) -> bool {
        self.shared_devices.unwrap_or(0) == counts.shared_devices
            && self.not_shared_devices.unwrap_or(0) == counts.not_shared_devices
    }
}

/// Whether Synthesize has an account for the company yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountState {
    /// Not looked up yet (no sync or plan so far).
    #[default]
    Unknown,
    Exists,
    /// No account yet: a sync of accounts creates it.
    Missing,
    /// A count was refused as "no account map": the partner must map it in Synthesize.
    Unmapped,
}

impl AccountState {
    pub fn label(self) -> &'static str {
        match self {
            AccountState::Unknown => "",
            AccountState::Exists => "exists",
            AccountState::Missing => "to create",
            AccountState::Unmapped => "unmapped",
        }
    }
}

/// Where a row stands in the current sync.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RowStatus {
    #[default]
    None,
    Pending,
    Sent,
    /// Synthesize has no account map for it: the partner must map it; not a failure.
    Unmapped(String),
    Failed(String),
    /// Left out of the sync (not selected, cancelled, or nothing to send).
    Skipped,
    /// A dry run would post counts for it (kept for callers; a dry run's result is shown
    /// beside the real status, see [`PreviewRow::would_send`]).
    WouldSend,
    /// Both counts are zero and the zero policy sends no zero: nothing went out for it.
    ZeroNotSent,
}

impl RowStatus {
    pub fn label(&self) -> String {
        match self {
            RowStatus::None => String::new(),
            RowStatus::Pending => "pending".to_owned(),
            RowStatus::Sent => "sent".to_owned(),
            RowStatus::Unmapped(reason) => format!("unmapped: {reason}"),
            RowStatus::Failed(reason) => format!("failed: {reason}"),
            RowStatus::Skipped => "skipped".to_owned(),
            RowStatus::WouldSend => "would send (dry run)".to_owned(),
            RowStatus::ZeroNotSent => "nothing sent: zero (zero policy)".to_owned(),
        }
    }
}

/// One company in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRow {
    /// The final counts: what the table shows, exports and a sync sends (the preview's counts
    /// with the profile's overrides applied).
    pub counts: CompanyCounts,
    /// The counts the preview made, before any override (what a sync plans from; the plan
    /// applies the overrides itself).
    pub computed: CompanyCounts,
    /// The overrides applied to this company, in words ("Shared Devices overridden: computed
    /// 7, override =3 until 2027-03-31 (…), final 3").
    pub adjusted: Vec<String>,
    pub last_sent: Option<LastSent>,
    pub account: AccountState,
    pub selected: bool,
    pub status: RowStatus,
    /// The counts the current run sent for it (a revert sends other counts than the table's).
    pub sent_now: Option<LastSent>,
    /// Whether the current run was a revert to a past run's counts.
    pub reverted: bool,
    /// What the last dry run would send: shown beside the real status, never over it.
    pub would_send: Option<LastSent>,
    /// Why the company is held (a record of it could not be read), when it is.
    pub held: Option<String>,
    /// Lowercased name and id, so filtering 5,000 rows does not allocate per frame.
    search_key: String,
    /// The name trimmed and lowercased, the key it sorts by.
    sort_key: String,
}

impl PreviewRow {
    pub fn new(counts: CompanyCounts) -> Self {
        let search_key = format!(
            "{} {}",
            counts.company_id,
            counts.company_name.to_lowercase()
        );
        let sort_key = counts.company_name.trim().to_lowercase();
        Self {
            computed: counts.clone(),
            adjusted: Vec::new(),
            counts,
            last_sent: None,
            account: AccountState::Unknown,
            selected: true,
            status: RowStatus::None,
            sent_now: None,
            reverted: false,
            would_send: None,
            held: None,
            search_key,
            sort_key,
        }
    }

    /// Whether the counts differ from the last ones sent (a company never sent counts as
    /// changed; a count never sent and zero now is unchanged).
    pub fn changed(&self) -> bool {
        match self.last_sent {
            None => true,
            Some(last) => !last.matches(&self.counts),
        }
    }

    /// The status cell's words: the run's outcome (with the counts sent when they are not the
    /// table's), why it is held, and beside them what a dry run would send.
    pub fn status_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.adjusted.is_empty() {
            parts.push(format!(
                "overridden (computed {} / {})",
                self.computed.shared_devices, self.computed.not_shared_devices
            ));
        }
        if let Some(reason) = &self.held {
            parts.push(format!("held: {reason}"));
        }
        match (&self.status, self.sent_now) {
            (RowStatus::Sent, Some(sent)) if self.reverted => {
                parts.push(format!("sent {} (revert)", sent.text()));
            }
            (RowStatus::Sent, Some(sent)) if !sent.matches(&self.counts) => {
                parts.push(format!("sent {}", sent.text()));
            }
            (RowStatus::None, _) => {}
            (status, _) => parts.push(status.label()),
        }
        if let Some(would) = self.would_send {
            parts.push(format!("dry run: would send {}", would.text()));
        }
        parts.join(" · ")
    }
}

/// Which rows the quick filters keep (all off: every row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnlyRows {
    pub changed: bool,
    pub failed: bool,
    pub unmapped: bool,
    pub held: bool,
}

impl OnlyRows {
    fn keeps(self, row: &PreviewRow) -> bool {
        (!self.changed || row.changed())
            && (!self.failed || matches!(row.status, RowStatus::Failed(_)))
            && (!self.unmapped
                || row.account == AccountState::Unmapped
                || matches!(row.status, RowStatus::Unmapped(_)))
            && (!self.held || row.held.is_some())
    }
}

/// Shows a name's control characters as visible escapes ("Line\\nBreak"), so two names that
/// differ only by them do not look the same; bidi controls and the rest become U+FFFD.
pub fn visible_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| matches!(c, '\n' | '\r' | '\t')) {
        return printable(text);
    }
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            '\t' => "\\t".to_owned(),
            c => c.to_string(),
        })
        .collect();
    printable(&escaped).into_owned().into()
}

/// A sortable column: one of the counts table's columns, by its place in [`COUNT_COLUMNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortColumn(usize);

impl Default for SortColumn {
    fn default() -> Self {
        Self::by_key("company_name")
    }
}

impl SortColumn {
    /// The column with this key (`company_name`, `total_devices`…); the first column when no
    /// column has it.
    pub fn by_key(key: &str) -> Self {
        Self(COUNT_COLUMNS.iter().position(|c| c.key == key).unwrap_or(0))
    }

    fn column(self) -> &'static CountColumn {
        COUNT_COLUMNS.get(self.0).unwrap_or(&COUNT_COLUMNS[0])
    }

    /// Whether the column starts descending: counts do (the biggest first), names and ids not.
    fn descending_first(self) -> bool {
        self.column().kind == ColumnKind::Count
    }

    fn compare(self, a: &PreviewRow, b: &PreviewRow) -> Ordering {
        let column = self.column();
        let (a_row, b_row) = (a, b);
        let (a, b) = (&a.counts, &b.counts);
        match column.kind {
            // Leading spaces or tabs in a name do not put it first.
            ColumnKind::CompanyName => a_row
                .sort_key
                .cmp(&b_row.sort_key)
                .then_with(|| crate::domain::csv_export::csv_order(a, b)),
            ColumnKind::CompanyId | ColumnKind::Count => {
                match ((column.value)(a), (column.value)(b)) {
                    (Cell::Id(x), Cell::Id(y)) => x.cmp(&y),
                    (Cell::Count(x), Cell::Count(y)) => x.cmp(&y),
                    (x, y) => x.text().cmp(&y.text()),
                }
            }
        }
        .then(a.company_id.cmp(&b.company_id))
    }
}

/// The previewed table with its view (filter and sort) cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewTable {
    rows: Vec<PreviewRow>,
    /// Companies the profile excludes: not in the table, never posted nor zeroed.
    pub excluded: Vec<ExcludedCompany>,
    pub rule_text: String,
    pub warnings: Vec<String>,
    pub configurations_read: u64,
    sort: SortColumn,
    ascending: bool,
    filter: String,
    only: OnlyRows,
    /// Indices into `rows`, filtered and sorted.
    view: Vec<usize>,
    /// Shared, not shared and total over `view`, kept with it so a frame never sums all rows.
    view_totals: (u64, u64, u64),
    /// Each count column's sum over `view` (the table's totals row).
    view_column_totals: [Option<u64>; COUNT_COLUMNS.len()],
}

impl PreviewTable {
    pub fn new(result: &CountingResult, rule_text: String) -> Self {
        let mut table = Self {
            rows: result
                .companies
                .iter()
                .cloned()
                .map(PreviewRow::new)
                .collect(),
            excluded: Vec::new(),
            rule_text,
            warnings: result.skipped.warnings(),
            configurations_read: result.configurations_read,
            sort: SortColumn::default(),
            ascending: true,
            filter: String::new(),
            only: OnlyRows::default(),
            view: Vec::new(),
            view_totals: (0, 0, 0),
            view_column_totals: [None; COUNT_COLUMNS.len()],
        };
        table.refresh_view();
        table
    }

    pub fn rows(&self) -> &[PreviewRow] {
        &self.rows
    }

    pub fn rows_mut(&mut self) -> &mut [PreviewRow] {
        &mut self.rows
    }

    pub fn row_by_company_mut(&mut self, company_id: i64) -> Option<&mut PreviewRow> {
        self.rows
            .iter_mut()
            .find(|r| r.counts.company_id == company_id)
    }

    /// The rows shown, in order.
    pub fn visible(&self) -> impl Iterator<Item = &PreviewRow> {
        self.view.iter().filter_map(|&i| self.rows.get(i))
    }

    pub fn visible_len(&self) -> usize {
        self.view.len()
    }

    /// Every company's counts as the preview made them (before overrides): what a sync plans
    /// from, applying the overrides and exclusions itself.
    pub fn companies(&self) -> Vec<CompanyCounts> {
        self.rows.iter().map(|r| r.computed.clone()).collect()
    }

    /// Shows the final counts: the profile's overrides applied (judged on `day`), its excluded
    /// companies taken out of the table and kept in [`Self::excluded`] with their reasons.
    pub fn apply_adjustments(&mut self, adjustments: &RunAdjustments, day: chrono::NaiveDate) {
        let computed = self.companies();
        let shown = shown_counts(&computed, adjustments, day);
        let excluded: BTreeSet<i64> = shown.excluded.iter().map(|e| e.company_id).collect();
        self.rows
            .retain(|r| !excluded.contains(&r.computed.company_id));
        // By id, so a tenant of thousands of companies is not searched once per row.
        let mut final_counts: HashMap<i64, CompanyCounts> = shown
            .counts
            .into_iter()
            .map(|c| (c.company_id, c))
            .collect();
        let mut adjusted: HashMap<i64, Vec<String>> = HashMap::new();
        for a in &shown.adjusted {
            adjusted.entry(a.company_id).or_default().push(a.describe());
        }
        for row in &mut self.rows {
            let id = row.computed.company_id;
            if let Some(counts) = final_counts.remove(&id) {
                row.counts = counts;
            }
            row.adjusted = adjusted.remove(&id).unwrap_or_default();
        }
        self.excluded = shown.excluded;
        self.refresh_view();
    }

    /// Every company in the table's sort order (the filter only narrows the view), ticked
    /// ones only when `selected_only`: what an export writes.
    pub fn companies_in_table_order(&self, selected_only: bool) -> Vec<CompanyCounts> {
        let mut rows: Vec<&PreviewRow> = self
            .rows
            .iter()
            .filter(|r| !selected_only || r.selected)
            .collect();
        rows.sort_by(|a, b| {
            let ord = self.sort.compare(a, b);
            if self.ascending { ord } else { ord.reverse() }
        });
        rows.into_iter().map(|r| r.counts.clone()).collect()
    }

    /// Takes over what the user set on the table before this one: unticked companies stay
    /// unticked, and the sort, direction and quick filters stay (a Preview again keeps them).
    pub fn keep_view_of(&mut self, before: &PreviewTable) {
        let unticked: std::collections::BTreeSet<i64> = before
            .rows
            .iter()
            .filter(|r| !r.selected)
            .map(|r| r.counts.company_id)
            .collect();
        for row in &mut self.rows {
            row.selected = !unticked.contains(&row.counts.company_id);
        }
        self.sort = before.sort;
        self.ascending = before.ascending;
        self.only = before.only;
        self.filter.clone_from(&before.filter);
        self.refresh_view();
    }

    /// Marks the companies held by the preview, with their reasons.
    pub fn set_held(&mut self, held: &[(i64, String)]) {
        for row in &mut self.rows {
            row.held = held
                .iter()
                .find(|(id, _)| *id == row.counts.company_id)
                .map(|(_, reason)| reason.clone());
        }
        self.refresh_view();
    }

    pub fn only(&self) -> OnlyRows {
        self.only
    }

    pub fn set_only(&mut self, only: OnlyRows) {
        if self.only != only {
            self.only = only;
            self.refresh_view();
        }
    }

    /// Recomputes the view after rows changed (statuses, accounts) so the quick filters hold.
    pub fn rows_changed(&mut self) {
        self.refresh_view();
    }

    /// The company ids ticked for a selective sync.
    pub fn selected_ids(&self) -> Vec<i64> {
        self.rows
            .iter()
            .filter(|r| r.selected)
            .map(|r| r.counts.company_id)
            .collect()
    }

    pub fn sort(&self) -> (SortColumn, bool) {
        (self.sort, self.ascending)
    }

    /// Sorts by `column` (counts biggest first, names A to Z); the same column again flips the
    /// direction.
    pub fn sort_by(&mut self, column: SortColumn) {
        if self.sort == column {
            self.ascending = !self.ascending;
        } else {
            self.sort = column;
            self.ascending = !column.descending_first();
        }
        self.refresh_view();
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            filter.clone_into(&mut self.filter);
            self.refresh_view();
        }
    }

    /// Ticks or clears every visible row.
    pub fn select_visible(&mut self, selected: bool) {
        for &i in &self.view {
            if let Some(row) = self.rows.get_mut(i) {
                row.selected = selected;
            }
        }
    }

    /// Shared, not shared and total over the visible rows.
    pub fn visible_totals(&self) -> (u64, u64, u64) {
        self.view_totals
    }

    /// Each count column's sum over the visible rows (`None` for the other columns).
    pub fn visible_column_totals(&self) -> [Option<u64>; COUNT_COLUMNS.len()] {
        self.view_column_totals
    }

    /// Clears the statuses of a previous run before a new one (a dry run's notes stay).
    pub fn clear_statuses(&mut self) {
        for row in &mut self.rows {
            row.status = RowStatus::None;
            row.sent_now = None;
            row.reverted = false;
        }
    }

    /// Clears what a previous dry run would have sent.
    pub fn clear_dry_run(&mut self) {
        for row in &mut self.rows {
            row.would_send = None;
        }
    }

    fn refresh_view(&mut self) {
        let needle = self.filter.trim().to_lowercase();
        let mut view: Vec<usize> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| needle.is_empty() || r.search_key.contains(&needle))
            .filter(|(_, r)| self.only.keeps(r))
            .map(|(i, _)| i)
            .collect();
        let (rows, sort, ascending) = (&self.rows, self.sort, self.ascending);
        view.sort_by(|&a, &b| {
            let ord = match (rows.get(a), rows.get(b)) {
                (Some(a), Some(b)) => sort.compare(a, b),
                _ => Ordering::Equal,
            };
            if ascending { ord } else { ord.reverse() }
        });
        self.view = view;
        self.view_totals = self.visible().fold((0, 0, 0), |(s, n, t), r| {
            (
                s + r.counts.shared_devices,
                n + r.counts.not_shared_devices,
                t + r.counts.total_devices,
            )
        });
        self.view_column_totals = column_totals(self.visible().map(|r| &r.counts));
    }
}

/// Height of one table row in points.
pub const ROW_HEIGHT: f32 = 20.0;

/// Draws a number right-aligned in its cell, so digits line up by place.
fn number_cell_ui(ui: &mut egui::Ui, text: egui::RichText) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        ui.label(text);
    });
}

/// Draws the table, the totals row pinned under it, leaving `below` points free under that;
/// edits (sort, selection) are local view state.
pub fn table_ui(ui: &mut egui::Ui, table: &mut PreviewTable, below: f32) {
    let (sort, ascending) = table.sort();
    let arrow = |column: SortColumn| {
        if column == sort {
            if ascending { " ▲" } else { " ▼" }
        } else {
            ""
        }
    };
    let mut clicked: Option<SortColumn> = None;
    let changed_color = ui.visuals().warn_fg_color;
    let error_color = ui.visuals().error_fg_color;
    let totals = table.visible_column_totals();
    let visible_len = table.visible_len();
    let PreviewTable { rows, view, .. } = table;
    // The totals row stays under the table, outside its scrolling.
    let table_height =
        (ui.available_height() - ROW_HEIGHT * 2.0 - 24.0 - below).max(ROW_HEIGHT * 3.0);

    // The columns' least widths add up to more than a narrow window has: scroll sideways rather
    // than leave Last sent, Account and Status out of reach.
    egui::ScrollArea::horizontal()
        .id_salt("preview_table_sideways")
        .show(ui, |ui| {
            ui.vertical(|ui| {
                let mut builder = TableBuilder::new(ui)
                    .id_salt("preview_table")
                    .striped(true)
                    .resizable(true)
                    .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                    .columns(Column::auto().at_least(90.0), 1)
                    .column(Column::initial(240.0).at_least(120.0).clip(true))
                    .columns(Column::auto().at_least(80.0), COUNT_COLUMNS.len() - 2)
                    .column(Column::auto().at_least(110.0))
                    .column(Column::auto().at_least(80.0))
                    .column(Column::remainder().at_least(160.0).clip(true))
                    .min_scrolled_height(0.0)
                    .max_scroll_height(table_height);
                builder = builder.auto_shrink([false, true]);
                builder
                    .header(ROW_HEIGHT + 4.0, |mut header| {
                        for (index, count_column) in COUNT_COLUMNS.iter().enumerate() {
                            let (column, title) = (SortColumn(index), count_column.heading);
                            header.col(|ui| {
                                let text = egui::RichText::new(format!("{title}{}", arrow(column)))
                                    .strong();
                                let hover = if column.descending_first() {
                                    "Sort by this column, biggest first; click again to reverse"
                                } else {
                                    "Sort by this column; click again to reverse"
                                };
                                let draw = |ui: &mut egui::Ui| {
                                    ui.button(text).on_hover_text(hover).clicked()
                                };
                                let pressed = if count_column.kind == ColumnKind::Count {
                                    ui.with_layout(
                                        egui::Layout::right_to_left(egui::Align::Center),
                                        draw,
                                    )
                                    .inner
                                } else {
                                    draw(ui)
                                };
                                if pressed {
                                    clicked = Some(column);
                                }
                            });
                        }
                        header.col(|ui| {
                            ui.strong("Last sent").on_hover_text(
                                "Shared / not shared as last sent; — is a count never sent",
                            );
                        });
                        header.col(|ui| {
                            ui.strong("Account");
                        });
                        header.col(|ui| {
                            ui.strong("Status");
                        });
                    })
                    .body(|body| {
                        body.rows(ROW_HEIGHT, visible_len, |mut row| {
                            let Some(data) = view.get(row.index()).and_then(|&i| rows.get_mut(i))
                            else {
                                return;
                            };
                            company_row_ui(&mut row, data, changed_color, error_color);
                        });
                    });
                totals_row_ui(ui, &totals, visible_len);
            });
        });
    if let Some(column) = clicked {
        table.sort_by(column);
    }
}

/// The totals of the rows shown, pinned under the table, each under its column.
fn totals_row_ui(ui: &mut egui::Ui, totals: &[Option<u64>], visible_len: usize) {
    ui.separator();
    ui.horizontal(|ui| {
        let mut parts = vec![format!("Total of {visible_len} companies shown:")];
        for (column, total) in COUNT_COLUMNS.iter().zip(totals) {
            if let (ColumnKind::Count, Some(total)) = (column.kind, total) {
                parts.push(format!("{} {total}", column.heading));
            }
        }
        ui.add(
            egui::Label::new(egui::RichText::new(parts.join("   ")).strong())
                .wrap_mode(egui::TextWrapMode::Extend),
        );
    });
}

/// One company's row: its count columns, then what was last sent, its account and its status.
fn company_row_ui(
    row: &mut egui_extras::TableRow<'_, '_>,
    data: &mut PreviewRow,
    changed_color: egui::Color32,
    error_color: egui::Color32,
) {
    let changed = data.changed();
    for column in &COUNT_COLUMNS {
        row.col(|ui| match (column.value)(&data.counts) {
            Cell::Id(id) => {
                ui.checkbox(&mut data.selected, id.to_string())
                    .on_hover_text("Include this company in a sync");
            }
            Cell::Text(text) => {
                // Names come from ConnectWise: controls are shown as escapes, never acted on.
                let shown = visible_controls(text);
                let response = ui.add(
                    egui::Label::new(shown.as_ref())
                        .truncate()
                        .show_tooltip_when_elided(false),
                );
                if shown.as_ref() != text || response.rect.width() >= ui.available_width() {
                    response.on_hover_text(shown.as_ref());
                }
            }
            Cell::Count(new) => {
                // Only a count that differs from one sent before is marked; a company
                // never sent says so in the "Last sent" column instead.
                let old = data.last_sent.and_then(|l| l.count(column.key));
                let text = egui::RichText::new(new.to_string());
                if old.is_some_and(|o| o != new) {
                    number_cell_ui(ui, text.color(changed_color));
                } else {
                    number_cell_ui(ui, text);
                }
            }
        });
    }
    row.col(|ui| match data.last_sent {
        Some(last) => {
            let text = last.text();
            if changed {
                ui.colored_label(changed_color, format!("{text} (changed)"));
            } else {
                ui.label(text);
            }
        }
        None => {
            ui.weak("never sent");
        }
    });
    row.col(|ui| {
        ui.label(data.account.label());
    });
    row.col(|ui| {
        let text = data.status_text();
        let color = match &data.status {
            RowStatus::Failed(_) => Some(error_color),
            RowStatus::Unmapped(_) => Some(changed_color),
            _ if data.held.is_some() => Some(changed_color),
            _ => None,
        };
        let rich = match color {
            Some(color) => egui::RichText::new(&text).color(color),
            None => egui::RichText::new(&text),
        };
        // One tooltip with the whole text: the cell itself is cut to its width.
        let response = ui.add(
            egui::Label::new(rich)
                .truncate()
                .show_tooltip_when_elided(false),
        );
        if !text.is_empty() {
            let mut hover = if matches!(data.status, RowStatus::Unmapped(_)) {
                format!("{text}\nMap this account to a service in Synthesize, then sync again")
            } else {
                text
            };
            for adjusted in &data.adjusted {
                hover.push('\n');
                hover.push_str(&printable(adjusted));
            }
            response.on_hover_text(hover);
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn company(id: i64, name: &str, shared: u64, not_shared: u64) -> CompanyCounts {
        CompanyCounts {
            company_id: id,
            company_name: name.to_owned(),
            shared_devices: shared,
            not_shared_devices: not_shared,
            total_devices: shared + not_shared,
        }
    }

    fn table() -> PreviewTable {
        let result = CountingResult {
            companies: vec![
                company(3, "globex", 1, 5),
                company(1, "Acme", 4, 0),
                company(2, "Initech", 2, 2),
            ],
            ..CountingResult::default()
        };
        PreviewTable::new(&result, "rule".to_owned())
    }

    fn ids(t: &PreviewTable) -> Vec<i64> {
        t.visible().map(|r| r.counts.company_id).collect()
    }

    #[test]
    fn sorts_by_name_case_insensitively_by_default_and_flips_on_second_click() {
        let mut t = table();
        assert_eq!(ids(&t), [1, 3, 2]);
        t.sort_by(SortColumn::by_key("company_name"));
        assert_eq!(ids(&t), [2, 3, 1]);
        // Counts sort biggest first, then flip.
        t.sort_by(SortColumn::by_key("total_devices"));
        assert_eq!(ids(&t), [3, 2, 1]);
        t.sort_by(SortColumn::by_key("total_devices"));
        assert_eq!(ids(&t), [1, 2, 3]);
        t.sort_by(SortColumn::by_key("shared_devices"));
        assert_eq!(ids(&t), [1, 2, 3]);
    }

    #[test]
    fn filter_matches_name_or_id_and_totals_follow_the_filter() {
        let mut t = table();
        t.set_filter("  INI ");
        assert_eq!(ids(&t), [2]);
        assert_eq!(t.visible_totals(), (2, 2, 4));
        t.set_filter("3");
        assert_eq!(ids(&t), [3]);
        t.set_filter("");
        assert_eq!(t.visible_totals(), (7, 7, 14));
    }

    #[test]
    fn select_visible_only_touches_filtered_rows() {
        let mut t = table();
        t.set_filter("acme");
        t.select_visible(false);
        t.set_filter("");
        assert_eq!(t.selected_ids(), [3, 2]);
    }

    #[test]
    fn a_row_is_changed_when_never_sent_or_counts_differ() {
        let mut row = PreviewRow::new(company(1, "A", 1, 2));
        assert!(row.changed());
        row.last_sent = Some(LastSent {
            shared_devices: Some(1),
            not_shared_devices: Some(2),
        });
        assert!(!row.changed());
        row.last_sent = Some(LastSent {
            shared_devices: Some(0),
            not_shared_devices: Some(2),
        });
        assert!(row.changed());
        // A zero never sent is not a change.
        let mut zero = PreviewRow::new(company(2, "B", 0, 2));
        zero.last_sent = Some(LastSent {
            shared_devices: None,
            not_shared_devices: Some(2),
        });
        assert!(!zero.changed());
        assert_eq!(zero.last_sent.unwrap().text(), "— / 2");
    }

    #[test]
    fn names_sort_trimmed_and_controls_show_as_escapes() {
        let result = CountingResult {
            companies: vec![
                company(1, "Zeta", 1, 1),
                company(2, "\t  Alpha", 1, 1),
                company(3, " beta", 1, 1),
            ],
            ..CountingResult::default()
        };
        let t = PreviewTable::new(&result, String::new());
        assert_eq!(ids(&t), [2, 3, 1]);
        assert_eq!(visible_controls("Line\nBreak"), "Line\\nBreak");
        assert_eq!(visible_controls("a\u{1b}[31m"), "a\u{FFFD}[31m");
    }

    #[test]
    fn a_dry_run_is_shown_beside_what_was_sent_and_a_revert_says_what_it_sent() {
        let mut row = PreviewRow::new(company(1, "A", 3, 4));
        row.status = RowStatus::Sent;
        row.sent_now = Some(LastSent {
            shared_devices: Some(3),
            not_shared_devices: Some(4),
        });
        assert_eq!(row.status_text(), "sent");
        row.would_send = Some(LastSent {
            shared_devices: Some(3),
            not_shared_devices: Some(4),
        });
        assert_eq!(row.status_text(), "sent · dry run: would send 3 / 4");
        row.would_send = None;
        row.reverted = true;
        row.sent_now = Some(LastSent {
            shared_devices: Some(1),
            not_shared_devices: None,
        });
        assert_eq!(row.status_text(), "sent 1 / — (revert)");
    }

    #[test]
    fn preview_again_keeps_unticked_rows_sort_and_quick_filters() {
        let mut before = table();
        before.rows_mut()[0].selected = false;
        before.sort_by(SortColumn::by_key("total_devices"));
        before.set_only(OnlyRows {
            changed: true,
            ..OnlyRows::default()
        });
        let mut after = table();
        after.keep_view_of(&before);
        assert_eq!(after.selected_ids(), [1, 2]);
        assert_eq!(after.sort(), before.sort());
        assert_eq!(after.only(), before.only());
        assert_eq!(ids(&after), ids(&before));
    }
}
