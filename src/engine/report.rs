//! Run reports: written after every sync and dry run beside the tenant's history, and read back
//! for the `report` command and History. A report is built from the journal alone, so what it
//! says landed is what the journal says was sent.

use std::path::PathBuf;

use crate::domain::report::{RunComparison, RunReport};
use crate::domain::safety::TenantIdentity;
use crate::storage::journal::{self, JournalReadout};
use crate::storage::reports::{self, ReportError, ReportFiles};
use crate::storage::{AppDirs, Journal};

/// The folder a journal's reports are written to: `<data>/reports/<the journal's key>/`, where
/// the key is the journal file's stem (a tenant's key for a tenant's journal).
pub fn reports_dir_of(dirs: &AppDirs, journal: &Journal) -> PathBuf {
    let key = journal
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history".to_owned());
    reports::reports_dir(dirs, &key)
}

/// Writes the report of run `run_id` from the journal, as CSV and HTML; answers the files.
pub fn write_report(
    dirs: &AppDirs,
    journal: &Journal,
    run_id: &str,
) -> Result<ReportFiles, ReportError> {
    let readout = journal.read()?;
    let report = reports::run_report(&readout, run_id)
        .ok_or_else(|| ReportError::NoSuchRun(run_id.to_owned()))?;
    reports::write_run_report(&reports_dir_of(dirs, journal), &report, None)
}

/// A tenant's history found without reaching Synthesize: the journal and what it holds.
#[derive(Debug)]
pub struct FoundHistory {
    pub journal: Journal,
    pub readout: JournalReadout,
}

/// The history of the tenant with this ConnectWise site and company and Synthesize URL (the
/// organization is not asked for; see [`journal::tenant_journals_of`]). With a run id, the
/// journal that holds that run; without, the one whose newest run is newest.
pub fn find_tenant_history(
    dirs: &AppDirs,
    tenant: &TenantIdentity,
    run_id: Option<&str>,
) -> Result<FoundHistory, ReportError> {
    let found = journal::tenant_journals_of(dirs, tenant)?;
    let mut best: Option<(FoundHistory, Option<chrono::DateTime<chrono::Utc>>)> = None;
    for found in found {
        let journal = Journal::for_tenant(dirs, &found.tenant);
        let readout = journal.read()?;
        let runs = readout.runs();
        if let Some(id) = run_id {
            if runs.iter().any(|r| r.run_id == id) {
                return Ok(FoundHistory { journal, readout });
            }
            continue;
        }
        let newest = runs.first().map(|r| r.started);
        if best.as_ref().is_none_or(|(_, at)| newest > *at) {
            best = Some((FoundHistory { journal, readout }, newest));
        }
    }
    match (best, run_id) {
        (Some((history, _)), _) => Ok(history),
        (None, Some(id)) => Err(ReportError::NoSuchRun(id.to_owned())),
        (None, None) => Err(ReportError::NoHistory {
            connectwise: tenant.connectwise_host.clone(),
            synthesize: tenant.synthesize_url.clone(),
        }),
    }
}

/// The report of a run (`None`: the newest), and with `compare` its comparison with that other
/// run, the one that started first taken as "before" whichever was named first.
pub fn report_of(
    history: &FoundHistory,
    run_id: Option<&str>,
    compare: Option<&str>,
) -> Result<(RunReport, Option<RunComparison>), ReportError> {
    let report = reports::find_report(&history.readout, run_id)?;
    let comparison = compare
        .map(|other| {
            let other = reports::run_report(&history.readout, other)
                .ok_or_else(|| ReportError::NoSuchRun(other.to_owned()))?;
            Ok::<_, ReportError>(if other.header.started <= report.header.started {
                crate::domain::report::compare(&other, &report)
            } else {
                crate::domain::report::compare(&report, &other)
            })
        })
        .transpose()?;
    Ok((report, comparison))
}
