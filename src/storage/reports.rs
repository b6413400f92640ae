//! Run reports on disk: built from a run's journal lines ([`run_facts`], [`run_report`]) and
//! written per run to `<data_dir>/reports/<tenant key>/<run id>.csv` and `.html`, readable by the
//! user alone. The columns and the page are described in [`crate::domain::report`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::journal::{CountOutcome, JournalEvent, JournalReadout};
use super::paths::AppDirs;
use crate::domain::report::{
    self, CountFact, CountStatus, HeldFact, RunComparison, RunFacts, RunHeader, RunReport,
};
use crate::domain::sync_plan::ServiceKind;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "Run report: there is no run {0} in this tenant's history; the window's History lists the runs, and `report --last` shows the newest"
    )]
    NoSuchRun(String),
    #[error("Run report: this tenant's history has no run yet; run a sync or a dry run first")]
    NoRuns,
    #[error("Run report: {0}")]
    Journal(#[from] super::journal::JournalError),
    #[error(
        "Run report: no history of this tenant was found (ConnectWise {connectwise}, Synthesize {synthesize}); run a sync or a dry run first, or check --profile and the URLs"
    )]
    NoHistory {
        connectwise: String,
        synthesize: String,
    },
    #[error("Run report: could not build the CSV ({0})")]
    Csv(#[from] csv::Error),
    #[error(
        "Run report: could not write {path} ({source}); check the data folder's permissions and free space"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The folder of a tenant's reports (`key` is [`crate::domain::safety::TenantIdentity::journal_key`],
/// or a profile's journal stem for the older per-profile history).
pub fn reports_dir(dirs: &AppDirs, key: &str) -> PathBuf {
    dirs.data_dir.join("reports").join(key)
}

/// The newest run (dry runs included), for `report --last`.
pub fn last_run_id(readout: &JournalReadout) -> Option<String> {
    readout.runs().into_iter().next().map(|r| r.run_id)
}

/// The run before `run_id` (newest first order), for comparing a run with the one before it.
pub fn previous_run_id(readout: &JournalReadout, run_id: &str) -> Option<String> {
    let runs = readout.runs();
    let at = runs.iter().position(|r| r.run_id == run_id)?;
    runs.get(at + 1).map(|r| r.run_id.clone())
}

/// A count's result as the report words it.
fn count_status(outcome: &CountOutcome) -> CountStatus {
    match outcome {
        CountOutcome::Sent => CountStatus::Sent,
        CountOutcome::Unmapped { message } => CountStatus::Unmapped {
            message: message.clone(),
        },
        CountOutcome::Failed { reason } => CountStatus::Failed {
            reason: reason.clone(),
        },
    }
}

/// What a run recorded, from its journal lines; `None` when the journal has no such run.
/// "Last sent" is what had been sent (by runs that were not dry) before the run's first line.
pub fn run_facts(readout: &JournalReadout, run_id: &str) -> Option<RunFacts> {
    let first = readout.events.iter().position(|e| e.run_id == run_id)?;
    let before = JournalReadout {
        events: readout.events[..first].to_vec(),
        ..JournalReadout::default()
    };
    let mut header = RunHeader {
        run_id: run_id.to_owned(),
        started: readout.events[first].at,
        kind: String::new(),
        dry_run: false,
        profile: String::new(),
    };
    let mut counts: BTreeMap<(i64, ServiceKind), CountFact> = BTreeMap::new();
    let mut excluded = Vec::new();
    let mut held = Vec::new();
    let mut adjusted = Vec::new();
    for entry in readout.events[first..]
        .iter()
        .filter(|e| e.run_id == run_id)
    {
        match &entry.event {
            JournalEvent::RunStarted {
                profile,
                kind,
                dry_run,
                ..
            } => {
                header.kind = kind.as_str().to_owned();
                header.dry_run = *dry_run;
                header.profile = profile.clone();
                header.started = entry.at;
            }
            JournalEvent::CountResult {
                company_id,
                company_name,
                service,
                unit_count,
                outcome,
            } => {
                let status = count_status(outcome);
                counts.insert(
                    (*company_id, *service),
                    CountFact {
                        company_id: *company_id,
                        company_name: company_name.clone(),
                        service: *service,
                        unit_count: *unit_count,
                        status,
                    },
                );
            }
            JournalEvent::CountNotSent {
                company_id,
                company_name,
                service,
                unit_count,
                reason,
            } => {
                // A result of the same count (a later retry in the run) says more.
                counts
                    .entry((*company_id, *service))
                    .or_insert_with(|| CountFact {
                        company_id: *company_id,
                        company_name: company_name.clone(),
                        service: *service,
                        unit_count: *unit_count,
                        status: CountStatus::NotSent(reason.clone()),
                    });
            }
            JournalEvent::CompanyExcluded {
                company_id,
                company_name,
                reason,
            } => excluded.push(crate::domain::adjustments::ExcludedCompany {
                company_id: *company_id,
                company_name: company_name.clone(),
                reason: reason.clone(),
            }),
            JournalEvent::CompanyHeld { company_id, reason } => held.push(HeldFact {
                company_id: *company_id,
                reason: reason.clone(),
            }),
            JournalEvent::CountAdjusted { adjusted: a } => adjusted.push(a.clone()),
            JournalEvent::ServiceCreated { .. }
            | JournalEvent::AccountsCreated { .. }
            | JournalEvent::RunFinished { .. }
            | JournalEvent::AdjustmentChanged { .. } => {}
        }
    }
    Some(RunFacts {
        header,
        last_sent_before: before.last_sent(),
        counts: counts.into_values().collect(),
        excluded,
        held,
        adjusted,
    })
}

/// The report of a run; `None` when the journal has no such run.
pub fn run_report(readout: &JournalReadout, run_id: &str) -> Option<RunReport> {
    run_facts(readout, run_id).map(|facts| RunReport::build(&facts))
}

/// Which run `report` means: `--run ID`, or the newest (`--last`, the default).
pub fn find_report(
    readout: &JournalReadout,
    run_id: Option<&str>,
) -> Result<RunReport, ReportError> {
    let id = match run_id {
        Some(id) => id.to_owned(),
        None => last_run_id(readout).ok_or(ReportError::NoRuns)?,
    };
    run_report(readout, &id).ok_or(ReportError::NoSuchRun(id))
}

/// Compares run `before` with run `after` of the same journal.
pub fn compare_runs(
    readout: &JournalReadout,
    before: &str,
    after: &str,
) -> Result<RunComparison, ReportError> {
    let b = run_report(readout, before).ok_or_else(|| ReportError::NoSuchRun(before.to_owned()))?;
    let a = run_report(readout, after).ok_or_else(|| ReportError::NoSuchRun(after.to_owned()))?;
    Ok(report::compare(&b, &a))
}

/// The two files written for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub csv: PathBuf,
    pub html: PathBuf,
}

/// Writes a run's report into `dir` as `<run id>.csv` and `<run id>.html` (0600, replacing
/// earlier ones of the same run). With a comparison, the page lists what changed since.
pub fn write_run_report(
    dir: &Path,
    report: &RunReport,
    comparison: Option<&RunComparison>,
) -> Result<ReportFiles, ReportError> {
    let files = report_files(dir, &report.header.run_id);
    let write = |path: &Path, bytes: &[u8]| {
        super::private::write_private_file(path, bytes).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    write(&files.csv, &report::report_csv(report)?)?;
    write(
        &files.html,
        report::report_html(report, comparison).as_bytes(),
    )?;
    Ok(files)
}

/// Where a run's report is (or would be) written in `dir`.
pub fn report_files(dir: &Path, run_id: &str) -> ReportFiles {
    // Run ids are `[0-9A-Za-z-]`; anything else is replaced so a hand-edited id cannot leave
    // the folder.
    let stem: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ReportFiles {
        csv: dir.join(format!("{stem}.csv")),
        html: dir.join(format!("{stem}.html")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
