//! The run report: for one sync or dry run, per company the counts last sent before it and the
//! new ones (both services), the change, and the reason for anything not plain (excluded,
//! overridden, unmapped, held, failed, no account, dry run), with totals; and the comparison of
//! two runs, listing exactly the companies whose counts differ.
//!
//! Built from what the run recorded ([`RunFacts`]); rendered as CSV ([`report_csv`],
//! [`comparison_csv`]) and as one self-contained HTML page ([`report_html`]). Pure.
//!
//! # Report CSV columns
//!
//! `company_id,company_name,shared_last_sent,shared_new,shared_change,not_shared_last_sent,`
//! `not_shared_new,not_shared_change,status,reason`, one row per company sorted by name
//! (ignoring case) then id, then one row whose `company_name` is `Total` and `company_id` empty.
//! A count that was never sent (or not in this run) is an empty cell; a change is signed
//! (`+2`, `-1`, `0`). `status` is `sent`, `not sent` (dry run), `excluded`, `held`, `failed`,
//! `unmapped`, `no account`, or several of them joined by `; `; `reason` says why in words.
//!
//! # Comparison CSV columns
//!
//! `company_id,company_name,shared_before,shared_after,not_shared_before,not_shared_after,reason`,
//! one row per company whose count for either service differs between the two runs.
//!
//! Every cell is cleaned for spreadsheets as the CSV export does it: one that begins with
//! `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`. Change cells are written
//! `+2`/`-1` and so come out as `'+2`/`'-1`, which a spreadsheet shows as text, on purpose.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::adjustments::{AdjustedCount, ExcludedCompany};
use super::csv_export::guard_formula;
use super::sync_plan::{LastSent, ServiceKind};

/// Why a planned count was not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NotSentReason {
    /// A dry run sends nothing.
    DryRun,
    /// The company has no Synthesize account and the run did not create accounts.
    NoAccount,
}

/// How a count of the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CountStatus {
    Sent,
    Unmapped { message: String },
    Failed { reason: String },
    NotSent(NotSentReason),
}

/// One count the run planned, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountFact {
    pub company_id: i64,
    pub company_name: String,
    pub service: ServiceKind,
    /// The final count (after any override).
    pub unit_count: u64,
    pub status: CountStatus,
}

/// A company held in the run (records that could not be read), with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFact {
    pub company_id: i64,
    pub reason: String,
}

/// Which run a report is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHeader {
    pub run_id: String,
    pub started: DateTime<Utc>,
    /// The kind of run in the command's words (`sync`, `sync-usage`, …).
    pub kind: String,
    pub dry_run: bool,
    pub profile: String,
}

/// Everything a run recorded that the report is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    pub header: RunHeader,
    /// What had been sent before the run started.
    pub last_sent_before: LastSent,
    /// The run's counts, latest outcome per company and service.
    pub counts: Vec<CountFact>,
    pub excluded: Vec<ExcludedCompany>,
    pub held: Vec<HeldFact>,
    pub adjusted: Vec<AdjustedCount>,
}

/// One service's figures for a company.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFigures {
    pub last_sent: Option<u64>,
    /// The count this run planned (the final count); `None` when the run had none.
    pub new: Option<u64>,
    pub status: Option<CountStatus>,
    pub adjustment: Option<AdjustedCount>,
}

impl ServiceFigures {
    /// New minus last sent (a count never sent counts as 0); `None` without a new count.
    pub fn change(&self) -> Option<i128> {
        self.new
            .map(|n| i128::from(n) - i128::from(self.last_sent.unwrap_or(0)))
    }
}

/// One company's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub company_id: i64,
    pub company_name: String,
    pub shared: ServiceFigures,
    pub not_shared: ServiceFigures,
    /// The exclusion's reason, when the company was excluded.
    pub excluded: Option<String>,
    /// The hold's reason, when the company was held.
    pub held: Option<String>,
}

impl ReportRow {
    pub fn figures(&self, service: ServiceKind) -> &ServiceFigures {
        match service {
            ServiceKind::Shared => &self.shared,
            ServiceKind::NotShared => &self.not_shared,
        }
    }

    fn figures_mut(&mut self, service: ServiceKind) -> &mut ServiceFigures {
        match service {
            ServiceKind::Shared => &mut self.shared,
            ServiceKind::NotShared => &mut self.not_shared,
        }
    }

    /// Short status words, e.g. `["sent"]`, `["excluded"]`, `["sent", "failed"]`, each once.
    pub fn statuses(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        let mut push = |s: &'static str| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        if self.excluded.is_some() {
            push("excluded");
        }
        if self.held.is_some() {
            push("held");
        }
        for f in [&self.shared, &self.not_shared] {
            match &f.status {
                Some(CountStatus::Sent) => push("sent"),
                Some(CountStatus::Unmapped { .. }) => push("unmapped"),
                Some(CountStatus::Failed { .. }) => push("failed"),
                Some(CountStatus::NotSent(NotSentReason::NoAccount)) => push("no account"),
                Some(CountStatus::NotSent(NotSentReason::DryRun)) => push("not sent"),
                None => {}
            }
        }
        if self.shared.adjustment.is_some() || self.not_shared.adjustment.is_some() {
            push("overridden");
        }
        out
    }

    /// The reasons for anything not plain, in words; empty for a plain sent row.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(reason) = &self.excluded {
            out.push(format!("excluded: {reason} (never posted nor zeroed)"));
        }
        if let Some(reason) = &self.held {
            out.push(format!("held: {reason}"));
        }
        for service in ServiceKind::ALL {
            let f = self.figures(service);
            let name = service.service_name();
            if let Some(a) = &f.adjustment {
                out.push(format!("{name} overridden: {}", a.describe()));
            }
            match &f.status {
                Some(CountStatus::Unmapped { message }) => {
                    out.push(format!("{name} unmapped in Synthesize: {message}"));
                }
                Some(CountStatus::Failed { reason }) => {
                    out.push(format!("{name} failed: {reason}"))
                }
                Some(CountStatus::NotSent(NotSentReason::NoAccount)) => {
                    out.push(format!("{name} not sent: no Synthesize account yet"));
                }
                _ => {}
            }
        }
        out
    }
}

/// Sums over the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTotals {
    pub companies: usize,
    pub shared_last_sent: u64,
    pub shared_new: u64,
    pub not_shared_last_sent: u64,
    pub not_shared_new: u64,
    /// What landed in Synthesize in this run (counts whose status is sent).
    pub shared_sent: u64,
    pub not_shared_sent: u64,
    /// Companies with a count that differs from the last one sent.
    pub companies_changed: usize,
    pub excluded: usize,
    pub held: usize,
    pub overridden: usize,
    pub failed: usize,
    pub unmapped: usize,
    pub no_account: usize,
}

impl ReportTotals {
    /// New shared devices minus those last sent.
    pub fn shared_change(&self) -> i128 {
        i128::from(self.shared_new) - i128::from(self.shared_last_sent)
    }

    /// New not shared devices minus those last sent.
    pub fn not_shared_change(&self) -> i128 {
        i128::from(self.not_shared_new) - i128::from(self.not_shared_last_sent)
    }
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub header: RunHeader,
    /// Sorted by company name (ignoring case), then id.
    pub rows: Vec<ReportRow>,
    pub totals: ReportTotals,
}

impl RunReport {
    /// Builds the report from what the run recorded. Companies excluded or held appear with
    /// their last sent counts and no new ones.
    pub fn build(facts: &RunFacts) -> Self {
        let mut rows: BTreeMap<i64, ReportRow> = BTreeMap::new();
        let name_before = |id: i64| {
            ServiceKind::ALL
                .iter()
                .find_map(|s| facts.last_sent_before.get(&(id, *s)))
                .map(|l| l.company_name.clone())
                .unwrap_or_default()
        };
        let row = |rows: &mut BTreeMap<i64, ReportRow>, id: i64, name: &str| -> ReportRow {
            rows.remove(&id).unwrap_or_else(|| ReportRow {
                company_id: id,
                company_name: if name.is_empty() {
                    name_before(id)
                } else {
                    name.to_owned()
                },
                shared: ServiceFigures::default(),
                not_shared: ServiceFigures::default(),
                excluded: None,
                held: None,
            })
        };
        for c in &facts.counts {
            let mut r = row(&mut rows, c.company_id, &c.company_name);
            let f = r.figures_mut(c.service);
            f.new = Some(c.unit_count);
            f.status = Some(c.status.clone());
            rows.insert(c.company_id, r);
        }
        for a in &facts.adjusted {
            let mut r = row(&mut rows, a.company_id, &a.company_name);
            r.figures_mut(a.service).adjustment = Some(a.clone());
            rows.insert(a.company_id, r);
        }
        for e in &facts.excluded {
            let mut r = row(&mut rows, e.company_id, &e.company_name);
            r.excluded = Some(e.reason.clone());
            rows.insert(e.company_id, r);
        }
        for h in &facts.held {
            let mut r = row(&mut rows, h.company_id, "");
            r.held = Some(h.reason.clone());
            rows.insert(h.company_id, r);
        }
        let mut rows: Vec<ReportRow> = rows
            .into_values()
            .map(|mut r| {
                for service in ServiceKind::ALL {
                    r.figures_mut(service).last_sent = facts
                        .last_sent_before
                        .get(&(r.company_id, service))
                        .map(|l| l.unit_count);
                }
                r
            })
            .collect();
        rows.sort_by(|a, b| {
            a.company_name
                .to_lowercase()
                .cmp(&b.company_name.to_lowercase())
                .then(a.company_id.cmp(&b.company_id))
        });
        let totals = totals_of(&rows);
        Self {
            header: facts.header.clone(),
            rows,
            totals,
        }
    }

    pub fn row(&self, company_id: i64) -> Option<&ReportRow> {
        self.rows.iter().find(|r| r.company_id == company_id)
    }
}

fn totals_of(rows: &[ReportRow]) -> ReportTotals {
    let mut t = ReportTotals {
        companies: rows.len(),
        ..ReportTotals::default()
    };
    for r in rows {
        let sent = |f: &ServiceFigures| {
            if f.status == Some(CountStatus::Sent) {
                f.new.unwrap_or(0)
            } else {
                0
            }
        };
        t.shared_last_sent += r.shared.last_sent.unwrap_or(0);
        t.not_shared_last_sent += r.not_shared.last_sent.unwrap_or(0);
        t.shared_new += r.shared.new.unwrap_or(0);
        t.not_shared_new += r.not_shared.new.unwrap_or(0);
        t.shared_sent += sent(&r.shared);
        t.not_shared_sent += sent(&r.not_shared);
        if [&r.shared, &r.not_shared]
            .iter()
            .any(|f| f.change().is_some_and(|c| c != 0))
        {
            t.companies_changed += 1;
        }
        let statuses = r.statuses();
        let has = |s: &str| usize::from(statuses.contains(&s));
        t.excluded += has("excluded");
        t.held += has("held");
        t.overridden += has("overridden");
        t.failed += has("failed");
        t.unmapped += has("unmapped");
        t.no_account += has("no account");
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Comparing two runs
// ---------------------------------------------------------------------------------------------

/// A company whose counts differ between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub company_id: i64,
    pub company_name: String,
    pub shared_before: Option<u64>,
    pub shared_after: Option<u64>,
    pub not_shared_before: Option<u64>,
    pub not_shared_after: Option<u64>,
    /// The later run's reasons for the company (excluded, overridden, …), in words.
    pub reasons: Vec<String>,
}

/// Two runs compared: exactly the companies whose new count for either service differs (a
/// company in only one of them, or excluded or held in one, has no count in the other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunComparison {
    pub before: RunHeader,
    pub after: RunHeader,
    /// Sorted by company name (ignoring case), then id.
    pub rows: Vec<ComparisonRow>,
}

/// Compares an earlier run's report with a later one.
pub fn compare(before: &RunReport, after: &RunReport) -> RunComparison {
    let mut ids: Vec<i64> = before
        .rows
        .iter()
        .chain(&after.rows)
        .map(|r| r.company_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows: Vec<ComparisonRow> = ids
        .into_iter()
        .filter_map(|id| {
            let b = before.row(id);
            let a = after.row(id);
            let new = |r: Option<&ReportRow>, s: ServiceKind| r.and_then(|r| r.figures(s).new);
            let row = ComparisonRow {
                company_id: id,
                company_name: a.or(b).map(|r| r.company_name.clone()).unwrap_or_default(),
                shared_before: new(b, ServiceKind::Shared),
                shared_after: new(a, ServiceKind::Shared),
                not_shared_before: new(b, ServiceKind::NotShared),
                not_shared_after: new(a, ServiceKind::NotShared),
                reasons: a.map(ReportRow::reasons).unwrap_or_default(),
            };
            (row.shared_before != row.shared_after || row.not_shared_before != row.not_shared_after)
                .then_some(row)
        })
        .collect();
    rows.sort_by(|a, b| {
        a.company_name
            .to_lowercase()
            .cmp(&b.company_name.to_lowercase())
            .then(a.company_id.cmp(&b.company_id))
    });
    RunComparison {
        before: before.header.clone(),
        after: after.header.clone(),
        rows,
    }
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// The report CSV's header (see the module docs).
pub const REPORT_CSV_HEADER: [&str; 10] = [
    "company_id",
    "company_name",
    "shared_last_sent",
    "shared_new",
    "shared_change",
    "not_shared_last_sent",
    "not_shared_new",
    "not_shared_change",
    "status",
    "reason",
];

/// The comparison CSV's header (see the module docs).
pub const COMPARISON_CSV_HEADER: [&str; 7] = [
    "company_id",
    "company_name",
    "shared_before",
    "shared_after",
    "not_shared_before",
    "not_shared_after",
    "reason",
];

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A change as a report writes it: `+3`, `-2`, `0`, or nothing when there is none.
pub fn signed(change: Option<i128>) -> String {
    match change {
        Some(c) if c > 0 => format!("+{c}"),
        Some(c) => c.to_string(),
        None => String::new(),
    }
}

fn write_rows<I, R>(header: &[&str], rows: I) -> Result<Vec<u8>, csv::Error>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| guard_formula(&c).into_owned())
            .collect();
        w.write_record(&cells)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The report as CSV (see the module docs for the columns).
pub fn report_csv(report: &RunReport) -> Result<Vec<u8>, csv::Error> {
    let t = &report.totals;
    let rows = report
        .rows
        .iter()
        .map(|r| {
            vec![
                r.company_id.to_string(),
                r.company_name.clone(),
                opt(r.shared.last_sent),
                opt(r.shared.new),
                signed(r.shared.change()),
                opt(r.not_shared.last_sent),
                opt(r.not_shared.new),
                signed(r.not_shared.change()),
                r.statuses().join("; "),
                r.reasons().join("; "),
            ]
        })
        .chain(std::iter::once(vec![
            String::new(),
            "Total".to_owned(),
            t.shared_last_sent.to_string(),
            t.shared_new.to_string(),
            signed(Some(t.shared_change())),
            t.not_shared_last_sent.to_string(),
            t.not_shared_new.to_string(),
            signed(Some(t.not_shared_change())),
            String::new(),
            totals_sentence(t),
        ]));
    write_rows(&REPORT_CSV_HEADER, rows)
}

/// The comparison as CSV (see the module docs for the columns).
pub fn comparison_csv(comparison: &RunComparison) -> Result<Vec<u8>, csv::Error> {
    let rows = comparison.rows.iter().map(|r| {
        vec![
            r.company_id.to_string(),
            r.company_name.clone(),
            opt(r.shared_before),
            opt(r.shared_after),
            opt(r.not_shared_before),
            opt(r.not_shared_after),
            r.reasons.join("; "),
        ]
    });
    write_rows(&COMPARISON_CSV_HEADER, rows)
}

/// The totals in words, e.g. "12 companies, 3 changed; 1 excluded, 2 overridden".
pub fn totals_sentence(t: &ReportTotals) -> String {
    let mut out = format!(
        "{} {}, {} changed",
        t.companies,
        if t.companies == 1 {
            "company"
        } else {
            "companies"
        },
        t.companies_changed
    );
    for (n, what) in [
        (t.excluded, "excluded"),
        (t.overridden, "overridden"),
        (t.held, "held"),
        (t.failed, "failed"),
        (t.unmapped, "unmapped"),
        (t.no_account, "without an account"),
    ] {
        if n > 0 {
            let _ = write!(out, "; {n} {what}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// Escapes text for HTML content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1a1a1a; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
p.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
thead th { border-bottom: 2px solid #999; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.up { color: #0b6b2f; }
td.down { color: #a31515; }
tr.note td { background: #fff8e5; }
tr.total td { font-weight: 600; border-top: 2px solid #999; border-bottom: none; }
td.reason { color: #444; font-size: 13px; }
td.name { min-width: 14em; }
td.status { white-space: nowrap; }
td.same { color: #999; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 0 0 16px; padding: 0; list-style: none; }
.summary b { font-variant-numeric: tabular-nums; }
@media print {
  body { margin: 0; font-size: 10pt; }
  thead { display: table-header-group; }
  /* The totals once, at the end: repeated on each page they would read as page totals. */
  tfoot { display: table-row-group; }
  td.name { min-width: 10em; }
  td.reason { min-width: 18em; font-size: 9pt; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  tr.note td { background: none; }
  th { background: none; }
  h2 { break-after: avoid; }
  @page { margin: 12mm; size: landscape; }
}
";

fn num_cell(n: Option<u64>) -> String {
    format!("<td class=\"n\">{}</td>", opt(n))
}

fn change_cell(change: Option<i128>) -> String {
    let class = match change {
        Some(c) if c > 0 => "n up",
        Some(c) if c < 0 => "n down",
        Some(_) => "n same",
        None => "n",
    };
    // A minus sign, not a hyphen, reads better; the text is ours so it needs no escaping.
    let text = signed(change).replacen('-', "\u{2212}", 1);
    format!("<td class=\"{class}\">{text}</td>")
}

/// The report as one self-contained HTML page: inline CSS, no scripts, nothing loaded from
/// elsewhere, every value escaped; it prints with the table headers repeated on each page.
/// With a comparison, the companies that changed since the earlier run follow the table.
pub fn report_html(report: &RunReport, comparison: Option<&RunComparison>) -> String {
    let h = &report.header;
    let e = html_escape;
    let mut out = String::new();
    let title = format!(
        "Run report {} — {}",
        h.run_id,
        if h.dry_run {
            "dry run"
        } else {
            h.kind.as_str()
        }
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        e(&title),
        e(&title)
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\">Profile {} · started {} UTC{}</p>",
        e(&h.profile),
        h.started.format("%Y-%m-%d %H:%M"),
        if h.dry_run {
            " · dry run: nothing was sent"
        } else {
            ""
        }
    );
    summary_html(&mut out, &report.totals);
    table_html(&mut out, report);
    if let Some(c) = comparison {
        comparison_html(&mut out, c);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The line of totals above the table.
fn summary_html(out: &mut String, t: &ReportTotals) {
    let _ = writeln!(
        out,
        "<ul class=\"summary\"><li>Companies <b>{}</b></li><li>Changed <b>{}</b></li>\
         <li>Shared: last sent <b>{}</b>, new <b>{}</b></li>\
         <li>Not shared: last sent <b>{}</b>, new <b>{}</b></li>\
         <li>Landed in Synthesize <b>{}</b> shared, <b>{}</b> not shared</li></ul>",
        t.companies,
        t.companies_changed,
        t.shared_last_sent,
        t.shared_new,
        t.not_shared_last_sent,
        t.not_shared_new,
        t.shared_sent,
        t.not_shared_sent
    );
}

/// The table of companies with its totals row.
fn table_html(out: &mut String, report: &RunReport) {
    let e = html_escape;
    let t = &report.totals;
    out.push_str(
        "<table>\n<thead>\n<tr><th rowspan=\"2\" class=\"n\">Company id</th><th rowspan=\"2\">Company</th>\
         <th colspan=\"3\">Shared devices</th><th colspan=\"3\">Not shared devices</th>\
         <th rowspan=\"2\">Status</th><th rowspan=\"2\">Reason</th></tr>\n\
         <tr><th class=\"n\">Last sent</th><th class=\"n\">New</th><th class=\"n\">Change</th>\
         <th class=\"n\">Last sent</th><th class=\"n\">New</th><th class=\"n\">Change</th></tr>\n\
         </thead>\n<tbody>\n",
    );
    for r in &report.rows {
        let reasons = r.reasons();
        let _ = writeln!(
            out,
            "<tr{}><td class=\"n\">{}</td><td class=\"name\"><bdi>{}</bdi></td>{}{}{}{}{}{}<td class=\"status\">{}</td><td class=\"reason\">{}</td></tr>",
            if reasons.is_empty() {
                ""
            } else {
                " class=\"note\""
            },
            r.company_id,
            e(&r.company_name),
            num_cell(r.shared.last_sent),
            num_cell(r.shared.new),
            change_cell(r.shared.change()),
            num_cell(r.not_shared.last_sent),
            num_cell(r.not_shared.new),
            change_cell(r.not_shared.change()),
            e(&r.statuses().join(", ")),
            reasons
                .iter()
                .map(|s| e(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    out.push_str("</tbody>\n<tfoot>\n");
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td></td><td>Total</td>{}{}{}{}{}{}<td></td><td class=\"reason\">{}</td></tr>",
        num_cell(Some(t.shared_last_sent)),
        num_cell(Some(t.shared_new)),
        change_cell(Some(t.shared_change())),
        num_cell(Some(t.not_shared_last_sent)),
        num_cell(Some(t.not_shared_new)),
        change_cell(Some(t.not_shared_change())),
        e(&totals_sentence(t))
    );
    out.push_str("</tfoot>\n</table>\n");
}

/// The companies that changed since an earlier run, as a second table.
fn comparison_html(out: &mut String, c: &RunComparison) {
    let e = html_escape;
    let _ = writeln!(
        out,
        "<h2>Changed since run {} ({} UTC): {} {}</h2>",
        e(&c.before.run_id),
        c.before.started.format("%Y-%m-%d %H:%M"),
        c.rows.len(),
        if c.rows.len() == 1 {
            "company"
        } else {
            "companies"
        }
    );
    out.push_str(
        "<table>\n<thead>\n<tr><th class=\"n\">Company id</th><th>Company</th>\
         <th class=\"n\">Shared before</th><th class=\"n\">Shared now</th>\
         <th class=\"n\">Not shared before</th><th class=\"n\">Not shared now</th><th>Reason</th></tr>\n\
         </thead>\n<tbody>\n",
    );
    for r in &c.rows {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"name\"><bdi>{}</bdi></td>{}{}{}{}<td class=\"reason\">{}</td></tr>",
            r.company_id,
            e(&r.company_name),
            num_cell(r.shared_before),
            num_cell(r.shared_after),
            num_cell(r.not_shared_before),
            num_cell(r.not_shared_after),
            r.reasons
                .iter()
                .map(|s| e(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
