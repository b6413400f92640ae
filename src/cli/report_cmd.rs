//! `report [--run ID|--last] [--compare ID] [--csv FILE] [--html FILE]`: a run's report from the
//! tenant's history, printed as a table or written as CSV and HTML; `--compare` lists the
//! companies whose counts differ between two runs. Reads the history only: no service is asked.

use std::io::Write as _;

use unicode_width::UnicodeWidthStr as _;

use super::args::{GlobalArgs, ReportArgs};
use super::{CliError, Outcome};
use crate::domain::printable::printable;
use crate::domain::report::{self, RunComparison, RunReport, signed};
use crate::engine::report::{find_tenant_history, report_of};
use crate::storage::ReportError;
use crate::storage::export_file::{self, ExportFileError};

fn report_error(e: ReportError) -> CliError {
    match e {
        ReportError::NoSuchRun(_) | ReportError::NoRuns | ReportError::NoHistory { .. } => {
            CliError::Config(e.to_string())
        }
        other => CliError::Failed(other.to_string()),
    }
}

fn file_error(flag: &str, e: &ExportFileError) -> CliError {
    match e {
        ExportFileError::Refused { .. } => CliError::Config(format!("{flag}: {e}")),
        ExportFileError::Io { .. } => CliError::Failed(format!("{flag}: {e}")),
    }
}

pub fn run(args: &ReportArgs, global: &GlobalArgs) -> Result<Outcome, CliError> {
    for (flag, path) in [("--csv", &args.csv), ("--html", &args.html)] {
        if let Some(path) = path {
            export_file::check_destination(path).map_err(|e| file_error(flag, &e))?;
        }
    }
    let offline = crate::engine::settings::offline_tenant(&super::settings::sources(global))?;
    let history = find_tenant_history(&offline.dirs, &offline.tenant, args.run.as_deref())
        .map_err(report_error)?;
    let (report, comparison) =
        report_of(&history, args.run.as_deref(), args.compare.as_deref()).map_err(report_error)?;
    let mut wrote = false;
    if let Some(path) = &args.csv {
        let bytes = match &comparison {
            Some(c) => report::comparison_csv(c),
            None => report::report_csv(&report),
        }
        .map_err(|e| CliError::Failed(format!("--csv: could not build the CSV ({e})")))?;
        export_file::write_export(path, &bytes).map_err(|e| file_error("--csv", &e))?;
        eprintln!("Wrote {}", path.display());
        wrote = true;
    }
    if let Some(path) = &args.html {
        let page = report::report_html(&report, comparison.as_ref());
        export_file::write_export(path, page.as_bytes()).map_err(|e| file_error("--html", &e))?;
        eprintln!("Wrote {}", path.display());
        wrote = true;
    }
    if !wrote {
        let text = match &comparison {
            Some(c) => comparison_table(c),
            None => report_table(&report),
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| CliError::Failed(format!("could not write the report: {e}")))?;
    }
    Ok(Outcome::Done)
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_owned(), |n| n.to_string())
}

/// The run in a line, e.g. "Run 20260301T101500Z-3f9a1c (sync, dry run) of "Contoso", 2026-03-01 10:15 UTC".
fn run_line(h: &report::RunHeader) -> String {
    format!(
        "Run {} ({}{}) of \"{}\", {}",
        h.run_id,
        h.kind,
        if h.dry_run {
            ", dry run: nothing sent"
        } else {
            ""
        },
        printable(&h.profile),
        h.started.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The report as an aligned table: per company last sent → new (change) per service, status and
/// reasons, then the totals.
pub fn report_table(r: &RunReport) -> String {
    let mut rows = vec![[
        "Company ID".to_owned(),
        "Company".to_owned(),
        "Shared last".to_owned(),
        "Shared new".to_owned(),
        "Change".to_owned(),
        "Not shared last".to_owned(),
        "Not shared new".to_owned(),
        "Change".to_owned(),
        "Status".to_owned(),
        "Reason".to_owned(),
    ]];
    for row in &r.rows {
        rows.push([
            row.company_id.to_string(),
            printable(&row.company_name).into_owned(),
            opt(row.shared.last_sent),
            opt(row.shared.new),
            signed(row.shared.change()),
            opt(row.not_shared.last_sent),
            opt(row.not_shared.new),
            signed(row.not_shared.change()),
            row.statuses().join(", "),
            printable(&row.reasons().join("; ")).into_owned(),
        ]);
    }
    let t = &r.totals;
    rows.push([
        "Total".to_owned(),
        String::new(),
        t.shared_last_sent.to_string(),
        t.shared_new.to_string(),
        signed(Some(t.shared_change())),
        t.not_shared_last_sent.to_string(),
        t.not_shared_new.to_string(),
        signed(Some(t.not_shared_change())),
        String::new(),
        String::new(),
    ]);
    format!(
        "{}\n{}{}\n",
        run_line(&r.header),
        aligned(&rows, &[0, 2, 3, 4, 5, 6, 7]),
        report::totals_sentence(t)
    )
}

/// The comparison as an aligned table: only the companies whose counts differ.
pub fn comparison_table(c: &RunComparison) -> String {
    let mut rows = vec![[
        "Company ID".to_owned(),
        "Company".to_owned(),
        "Shared before".to_owned(),
        "Shared after".to_owned(),
        "Not shared before".to_owned(),
        "Not shared after".to_owned(),
        "Reason".to_owned(),
    ]];
    for row in &c.rows {
        rows.push([
            row.company_id.to_string(),
            printable(&row.company_name).into_owned(),
            opt(row.shared_before),
            opt(row.shared_after),
            opt(row.not_shared_before),
            opt(row.not_shared_after),
            printable(&row.reasons.join("; ")).into_owned(),
        ]);
    }
    format!(
        "Before: {}\nAfter:  {}\n{}{} {} changed\n",
        run_line(&c.before),
        run_line(&c.after),
        aligned(&rows, &[0, 2, 3, 4, 5]),
        c.rows.len(),
        if c.rows.len() == 1 {
            "company"
        } else {
            "companies"
        }
    )
}

/// Rows as columns padded to their widest cell; `right` lists the columns aligned right.
fn aligned<const N: usize>(rows: &[[String; N]], right: &[usize]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
                if right.contains(&i) {
                    format!("{pad}{cell}")
                } else if i + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
