//! The preview table: one row per company with the counts last sent, the account state, a
//! selection checkbox and the sync status; sorting and filtering are cached so 5,000 rows stay
//! cheap to draw every frame.

use std::cmp::Ordering;

use egui_extras::{Column, TableBuilder};

use crate::domain::columns::{COUNT_COLUMNS, Cell, ColumnKind, CountColumn, column_totals};
use crate::domain::counting::{CompanyCounts, CountingResult};
use crate::domain::printable::printable;

/// The counts a company was last sent, from the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastSent {
    pub shared_devices: u64,
    pub not_shared_devices: u64,
}

impl LastSent {
    /// The count last sent for the column with this key, for the columns that are sent.
    fn count(self, key: &str) -> Option<u64> {
        match key {
            "shared_devices" => Some(self.shared_devices),
            "not_shared_devices" => Some(self.not_shared_devices),
            _ => None,
        }
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
    /// A dry run would post counts for it.
    WouldSend,
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
        }
    }
}

/// One company in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRow {
    pub counts: CompanyCounts,
    pub last_sent: Option<LastSent>,
    pub account: AccountState,
    pub selected: bool,
    pub status: RowStatus,
    /// Lowercased name and id, so filtering 5,000 rows does not allocate per frame.
    search_key: String,
}

impl PreviewRow {
    pub fn new(counts: CompanyCounts) -> Self {
        let search_key = format!(
            "{} {}",
            counts.company_id,
            counts.company_name.to_lowercase()
        );
        Self {
            counts,
            last_sent: None,
            account: AccountState::Unknown,
            selected: true,
            status: RowStatus::None,
            search_key,
        }
    }

    /// Whether the counts differ from the last ones sent (a company never sent counts as changed).
    pub fn changed(&self) -> bool {
        match self.last_sent {
            None => true,
            Some(last) => {
                last.shared_devices != self.counts.shared_devices
                    || last.not_shared_devices != self.counts.not_shared_devices
            }
        }
    }
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

    fn compare(self, a: &CompanyCounts, b: &CompanyCounts) -> Ordering {
        let column = self.column();
        match column.kind {
            ColumnKind::CompanyName => crate::domain::csv_export::csv_order(a, b),
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
    pub rule_text: String,
    pub warnings: Vec<String>,
    pub configurations_read: u64,
    sort: SortColumn,
    ascending: bool,
    filter: String,
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
            rule_text,
            warnings: result.skipped.warnings(),
            configurations_read: result.configurations_read,
            sort: SortColumn::default(),
            ascending: true,
            filter: String::new(),
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

    pub fn companies(&self) -> Vec<CompanyCounts> {
        self.rows.iter().map(|r| r.counts.clone()).collect()
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

    /// Sorts by `column`; the same column again flips the direction.
    pub fn sort_by(&mut self, column: SortColumn) {
        if self.sort == column {
            self.ascending = !self.ascending;
        } else {
            self.sort = column;
            self.ascending = true;
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

    pub fn clear_statuses(&mut self) {
        for row in &mut self.rows {
            row.status = RowStatus::None;
        }
    }

    fn refresh_view(&mut self) {
        let needle = self.filter.trim().to_lowercase();
        let mut view: Vec<usize> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| needle.is_empty() || r.search_key.contains(&needle))
            .map(|(i, _)| i)
            .collect();
        let (rows, sort, ascending) = (&self.rows, self.sort, self.ascending);
        view.sort_by(|&a, &b| {
            let ord = match (rows.get(a), rows.get(b)) {
                (Some(a), Some(b)) => sort.compare(&a.counts, &b.counts),
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

/// Draws the table; returns nothing because edits (sort, selection) are local view state.
pub fn show_table(ui: &mut egui::Ui, table: &mut PreviewTable) {
    let (sort, ascending) = table.sort();
    let arrow = |column: SortColumn| {
        if column == sort {
            if ascending { " ^" } else { " v" }
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

    // The columns' least widths add up to more than a narrow window has: scroll sideways rather
    // than leave Last sent, Account and Status out of reach.
    egui::ScrollArea::horizontal()
        .id_salt("preview_table_sideways")
        .show(ui, |ui| {
            TableBuilder::new(ui)
                .id_salt("preview_table")
                .striped(true)
                .resizable(true)
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .columns(Column::auto().at_least(90.0), 1)
                .column(Column::initial(240.0).at_least(120.0).clip(true))
                .columns(Column::auto().at_least(70.0), COUNT_COLUMNS.len() - 2)
                .column(Column::auto().at_least(110.0))
                .column(Column::auto().at_least(80.0))
                .column(Column::remainder().at_least(120.0).clip(true))
                .min_scrolled_height(0.0)
                .header(ROW_HEIGHT + 4.0, |mut header| {
                    for (index, count_column) in COUNT_COLUMNS.iter().enumerate() {
                        let (column, title) = (SortColumn(index), count_column.heading);
                        header.col(|ui| {
                            if ui
                                .button(
                                    egui::RichText::new(format!("{title}{}", arrow(column)))
                                        .strong(),
                                )
                                .on_hover_text("Sort by this column; click again to reverse")
                                .clicked()
                            {
                                clicked = Some(column);
                            }
                        });
                    }
                    header.col(|ui| {
                        ui.strong("Last sent");
                    });
                    header.col(|ui| {
                        ui.strong("Account");
                    });
                    header.col(|ui| {
                        ui.strong("Status");
                    });
                })
                .body(|body| {
                    body.rows(ROW_HEIGHT, visible_len + 1, |mut row| {
                        let index = row.index();
                        if index == visible_len {
                            for (column, total) in COUNT_COLUMNS.iter().zip(totals) {
                                row.col(|ui| {
                                    ui.strong(match column.kind {
                                        ColumnKind::CompanyId => "Total".to_owned(),
                                        ColumnKind::CompanyName => {
                                            format!("{visible_len} companies")
                                        }
                                        ColumnKind::Count => total.unwrap_or_default().to_string(),
                                    });
                                });
                            }
                            return;
                        }
                        let Some(data) = view.get(index).and_then(|&i| rows.get_mut(i)) else {
                            return;
                        };
                        company_row_ui(&mut row, data, changed_color, error_color);
                    });
                });
        });
    if let Some(column) = clicked {
        table.sort_by(column);
    }
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
                // Names come from ConnectWise: no control or bidi character gets drawn.
                ui.label(printable(text).as_ref());
            }
            Cell::Count(new) => {
                // Only a count that differs from one sent before is marked; a company
                // never sent says so in the "Last sent" column instead.
                let old = data.last_sent.and_then(|l| l.count(column.key));
                if old.is_some_and(|o| o != new) {
                    ui.colored_label(changed_color, new.to_string());
                } else {
                    ui.label(new.to_string());
                }
            }
        });
    }
    row.col(|ui| match data.last_sent {
        Some(last) => {
            let text = format!("{} / {}", last.shared_devices, last.not_shared_devices);
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
        let text = data.status.label();
        match &data.status {
            RowStatus::Failed(_) => {
                ui.colored_label(error_color, text)
                    .on_hover_text(data.status.label());
            }
            RowStatus::Unmapped(_) => {
                ui.colored_label(changed_color, text)
                    .on_hover_text("Map this account to a service in Synthesize, then sync again");
            }
            _ => {
                ui.label(text);
            }
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
        t.sort_by(SortColumn::by_key("total_devices"));
        assert_eq!(ids(&t), [1, 2, 3]);
        t.sort_by(SortColumn::by_key("shared_devices"));
        assert_eq!(ids(&t), [3, 2, 1]);
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
            shared_devices: 1,
            not_shared_devices: 2,
        });
        assert!(!row.changed());
        row.last_sent = Some(LastSent {
            shared_devices: 0,
            not_shared_devices: 2,
        });
        assert!(row.changed());
    }
}
