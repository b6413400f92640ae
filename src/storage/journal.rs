//! The sync journal: every run and every count result, appended as JSON lines to one file per
//! tenant (`<data_dir>/journal/tenants/<tenant key>.jsonl`, with the tenant it belongs to beside
//! it in `<tenant key>.tenant.json`), or per profile for the older layout
//! (`<data_dir>/journal/<profile-file>.jsonl`). History, the counts last sent (so a company that
//! dropped to zero gets its zero), resume and "revert to these counts" read it. A tenant whose
//! ConnectWise site or company, or Synthesize organization, changes gets a new file; the old one
//! is kept.
//!
//! Each event is one `write` of one line, without fsync (too slow for thousands of posts):
//! a line written survives the process being killed; a power cut may lose the last lines,
//! and a half-written last line is skipped and counted when reading, with the company it was about
//! where that can still be read, so its last count is known to be unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::{self, NameError, file_stem};
use super::paths::AppDirs;
use crate::domain::adjustments::{AdjustedCount, AdjustmentChange};
use crate::domain::report::NotSentReason;
use crate::domain::safety::TenantIdentity;
use crate::domain::settings::SyncOptions;
use crate::domain::sync_plan::{LastSent, LastSentCount, PlannedCount, ServiceKind, SyncPlan};

const JOURNAL_EXTENSION: &str = "jsonl";
/// The file beside a tenant's journal that says which tenant it is.
const TENANT_FILE_SUFFIX: &str = ".tenant.json";

/// The folder of the tenants' journals.
pub fn tenant_journal_dir(dirs: &AppDirs) -> PathBuf {
    dirs.journal_dir().join("tenants")
}

/// The journal file of a profile in a journal folder.
pub(crate) fn journal_file(journal_dir: &Path, profile: &str) -> PathBuf {
    journal_dir.join(format!("{}.{JOURNAL_EXTENSION}", file_stem(profile)))
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    SyncUsage,
    Sync,
    SyncAccounts,
    SyncServices,
    Revert,
}

impl RunKind {
    /// The command-line spelling ("sync-usage", …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::SyncUsage => "sync-usage",
            RunKind::Sync => "sync",
            RunKind::SyncAccounts => "sync-accounts",
            RunKind::SyncServices => "sync-services",
            RunKind::Revert => "revert",
        }
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The options a run used, kept so history can say how counts were made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunOptions {
    pub sync: SyncOptions,
    /// The counting rule in words.
    pub counting_rule: String,
}

/// How one count post ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CountOutcome {
    Sent,
    /// Synthesize has no mapping for this account or service yet: not a failure of the run.
    Unmapped {
        message: String,
    },
    Failed {
        reason: String,
    },
}

/// One journal event. Serialized tagged by `"event"` (`run_started`, `count_result`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEvent {
    RunStarted {
        profile: String,
        kind: RunKind,
        dry_run: bool,
        #[serde(default)]
        options: RunOptions,
    },
    ServiceCreated {
        service: ServiceKind,
        service_id: String,
    },
    AccountsCreated {
        ids: Vec<String>,
    },
    CountResult {
        company_id: i64,
        company_name: String,
        service: ServiceKind,
        unit_count: u64,
        outcome: CountOutcome,
    },
    RunFinished {
        sent: u64,
        unmapped: u64,
        failed: u64,
        cancelled: bool,
    },
    /// A company the run left out because the profile excludes it (see [`plan_events`]).
    CompanyExcluded {
        company_id: i64,
        #[serde(default)]
        company_name: String,
        reason: String,
    },
    /// A company the run held (records that could not be read); the reason in words.
    CompanyHeld {
        company_id: i64,
        reason: String,
    },
    /// A count an override set: computed, override, final (the final count is the one posted).
    CountAdjusted {
        adjusted: AdjustedCount,
    },
    /// A count the run planned and did not send (a dry run, or no account yet).
    CountNotSent {
        company_id: i64,
        company_name: String,
        service: ServiceKind,
        unit_count: u64,
        reason: NotSentReason,
    },
    /// An exclusion or override changed (not part of a run; its `run_id` is its own).
    AdjustmentChanged {
        change: AdjustmentChange,
    },
}

impl JournalEvent {
    /// Whether the event belongs to a run (every event but an adjustment change).
    pub fn is_run_event(&self) -> bool {
        !matches!(self, JournalEvent::AdjustmentChanged { .. })
    }
}

/// What a run journals about its plan right after `RunStarted`, before anything is sent: the
/// excluded and held companies, the counts overrides set, the counts awaiting an account, and
/// for a dry run every planned count as not sent. The run report is built from these and the
/// count results.
pub fn plan_events(plan: &SyncPlan, dry_run: bool) -> Vec<JournalEvent> {
    let mut out: Vec<JournalEvent> = Vec::new();
    out.extend(plan.excluded.iter().map(|e| JournalEvent::CompanyExcluded {
        company_id: e.company_id,
        company_name: e.company_name.clone(),
        reason: e.reason.clone(),
    }));
    out.extend(plan.held.iter().map(|h| JournalEvent::CompanyHeld {
        company_id: h.company_id,
        reason: h.reason(),
    }));
    out.extend(plan.adjusted.iter().map(|a| JournalEvent::CountAdjusted {
        adjusted: a.clone(),
    }));
    let not_sent = |c: &PlannedCount, reason: NotSentReason| JournalEvent::CountNotSent {
        company_id: c.company_id,
        company_name: c.company_name.clone(),
        service: c.service,
        unit_count: c.unit_count,
        reason,
    };
    out.extend(
        plan.awaiting_accounts
            .iter()
            .map(|c| not_sent(c, NotSentReason::NoAccount)),
    );
    if dry_run {
        out.extend(
            plan.counts
                .iter()
                .map(|c| not_sent(c, NotSentReason::DryRun)),
        );
    }
    out
}

/// One line of the journal: when, which run, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: DateTime<Utc>,
    pub run_id: String,
    #[serde(flatten)]
    pub event: JournalEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(
        "History file: could not {action} {path} ({source}); check the data folder's permissions and free space"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("History file: could not encode an event ({0})")]
    Encode(#[from] serde_json::Error),
}

/// A tenant's journal found in the data folder, for History.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantJournal {
    pub tenant: TenantIdentity,
    pub path: PathBuf,
}

/// A new, unique, sortable run id such as `20250301T101500Z-3f9a1c`.
pub fn new_run_id() -> String {
    format!(
        "{}-{:06x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>() & 0x00ff_ffff
    )
}

/// A profile's journal. Share it between threads (`Arc<Journal>`): appends are serialized by
/// a lock around the file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// The tenant of a tenant's journal, written beside it when it is opened for a run.
    tenant: Option<TenantIdentity>,
    /// Opened on the first append (or by [`Journal::open_for_run`]), so reading a journal never
    /// creates one.
    file: Mutex<Option<File>>,
}

impl Journal {
    /// The journal of profile `profile` (the profile need not exist: runs with no profile use
    /// a name of their own).
    pub fn for_profile(dirs: &AppDirs, profile: &str) -> Result<Self, JournalError> {
        names::validate_profile_name(profile)?;
        Ok(Self::at_path(journal_file(&dirs.journal_dir(), profile)))
    }

    /// The journal of a tenant: its history whatever profile (or none) the run came from.
    pub fn for_tenant(dirs: &AppDirs, tenant: &TenantIdentity) -> Self {
        let path =
            tenant_journal_dir(dirs).join(format!("{}.{JOURNAL_EXTENSION}", tenant.journal_key()));
        Self {
            path,
            tenant: Some(tenant.clone()),
            file: Mutex::new(None),
        }
    }

    /// A journal in a given file.
    pub fn at_path(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            tenant: None,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tenant this journal belongs to, when it is a tenant's journal.
    pub fn tenant(&self) -> Option<&TenantIdentity> {
        self.tenant.as_ref()
    }

    /// The precondition of sending: opens the journal for appending now (creating its folder
    /// and file, and the tenant file beside it), so a journal that cannot be written stops the
    /// run before anything is sent. The error names the path and the reason.
    pub fn open_for_run(&self) -> Result<(), JournalError> {
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.open_for_append()?);
        }
        drop(guard);
        if let Some(tenant) = &self.tenant {
            let path = tenant_file(&self.path);
            let io = |source| JournalError::Io {
                action: "write",
                path: path.clone(),
                source,
            };
            let text = serde_json::to_vec_pretty(tenant)?;
            if std::fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
                // Truncated by opening, not by `set_len`: Windows refuses that on a file opened
                // for appending only.
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(&text).map_err(io)?;
            }
        }
        Ok(())
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
        move |source| JournalError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    /// Appends an event stamped now.
    pub fn append(&self, run_id: &str, event: JournalEvent) -> Result<(), JournalError> {
        self.append_entry(&JournalEntry {
            at: Utc::now(),
            run_id: run_id.to_owned(),
            event,
        })
    }

    /// Appends one entry as one line, in one write, and returns once the OS has it.
    pub fn append_entry(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match guard.as_mut() {
            Some(file) => file,
            None => guard.insert(self.open_for_append()?),
        };
        file.write_all(&line).map_err(self.io("append to"))?;
        file.flush().map_err(self.io("append to"))
    }

    /// Opens the file for appending. If the last line was cut off (a process killed mid-write),
    /// ends it first, so the torn line stays alone and the next one is whole.
    fn open_for_append(&self) -> Result<File, JournalError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            super::private::ensure_private_dir(dir).map_err(self.io("create the folder of"))?;
        }
        // What was billed to whom is nobody else's business: 0600.
        let mut file = super::private::open_private_append(&self.path).map_err(self.io("open"))?;
        let len = file.metadata().map_err(self.io("read"))?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(self.io("read"))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(self.io("append to"))?;
            }
        }
        Ok(file)
    }

    /// Reads every event; bad lines (a torn last line, a line edited by hand) are skipped and
    /// counted. A journal that does not exist yet reads as empty.
    pub fn read(&self) -> Result<JournalReadout, JournalError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(self.io("read")(e)),
        };
        Ok(JournalReadout::parse(&bytes))
    }

    /// The counts last sent, per company and service.
    pub fn last_sent(&self) -> Result<LastSent, JournalError> {
        Ok(self.read()?.last_sent())
    }

    /// Past runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, JournalError> {
        Ok(self.read()?.runs())
    }

    /// Journals a change of an exclusion or override (see
    /// [`crate::storage::ProfileStore::exclude_company`] and its siblings), stamped with the
    /// change's own time.
    pub fn append_adjustment_change(&self, change: &AdjustmentChange) -> Result<(), JournalError> {
        self.append_entry(&JournalEntry {
            at: change.at,
            run_id: format!("change-{}", new_run_id()),
            event: JournalEvent::AdjustmentChanged {
                change: change.clone(),
            },
        })
    }

    /// The exclusion and override changes, newest first, for History.
    pub fn adjustment_changes(&self) -> Result<Vec<AdjustmentChange>, JournalError> {
        Ok(self.read()?.adjustment_changes())
    }

    /// The counts a run sent (see [`JournalReadout::run_counts`]).
    pub fn run_counts(&self, run_id: &str) -> Result<Vec<PlannedCount>, JournalError> {
        Ok(self.read()?.run_counts(run_id))
    }
}

/// The tenant file beside a tenant's journal.
fn tenant_file(journal_path: &Path) -> PathBuf {
    // The key itself has dots, so only the journal's own extension is replaced.
    let stem = journal_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    journal_path.with_file_name(format!("{stem}{TENANT_FILE_SUFFIX}"))
}

/// The tenants' journals in the data folder, with their tenant, sorted by tenant. A journal
/// whose tenant file is missing or unreadable is left out (it cannot be named).
pub fn tenant_journals(dirs: &AppDirs) -> Result<Vec<TenantJournal>, JournalError> {
    let dir = tenant_journal_dir(dirs);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Io {
                action: "read",
                path: dir,
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(JOURNAL_EXTENSION) {
            continue;
        }
        let tenant = std::fs::read(tenant_file(&path))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<TenantIdentity>(&bytes).ok());
        if let Some(tenant) = tenant {
            out.push(TenantJournal { tenant, path });
        }
    }
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Ok(out)
}

/// The tenants' journals whose ConnectWise site and company and Synthesize URL are these
/// (normalized as [`TenantIdentity::new`] does), whatever the organization: where a change made
/// without reaching Synthesize (a profile edited offline) belongs. Usually one; none before the
/// first run; several when the organization behind the URL changed.
pub fn tenant_journals_matching(
    dirs: &AppDirs,
    connectwise_site: &str,
    connectwise_company_id: &str,
    synthesize_url: &str,
) -> Result<Vec<TenantJournal>, JournalError> {
    let wanted = TenantIdentity::new(connectwise_site, connectwise_company_id, synthesize_url, "");
    tenant_journals_of(dirs, &wanted)
}

/// The journals of the tenant `wanted` names (its parts already normalized), whatever its
/// Synthesize organization.
pub fn tenant_journals_of(
    dirs: &AppDirs,
    wanted: &TenantIdentity,
) -> Result<Vec<TenantJournal>, JournalError> {
    Ok(tenant_journals(dirs)?
        .into_iter()
        .filter(|j| {
            j.tenant.connectwise_host == wanted.connectwise_host
                && j.tenant.connectwise_company_id == wanted.connectwise_company_id
                && j.tenant.synthesize_url == wanted.synthesize_url
        })
        .collect())
}

/// Everything read from a journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalReadout {
    /// In file (append) order.
    pub events: Vec<JournalEntry>,
    /// Lines that could not be read and were skipped.
    pub torn_lines: usize,
    /// The companies those lines were about, where that could still be read: their last
    /// counts are unknown.
    pub unreadable_line_companies: BTreeSet<i64>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Finished {
        at: DateTime<Utc>,
        cancelled: bool,
    },
    /// No `RunFinished`: the program was killed, crashed or lost power during the run.
    CutOff,
}

/// One run in the history list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub run_id: String,
    /// `None` when the run's first line was lost.
    pub kind: Option<RunKind>,
    pub dry_run: bool,
    pub started: DateTime<Utc>,
    pub end: RunEnd,
    /// Totals over the latest result of each company and service in the run.
    pub sent: u64,
    pub unmapped: u64,
    pub failed: u64,
    pub services_created: usize,
    pub accounts_created: usize,
}

impl RunSummary {
    /// "finished", "cancelled" or "cut off".
    pub fn status(&self) -> &'static str {
        match self.end {
            RunEnd::Finished {
                cancelled: false, ..
            } => "finished",
            RunEnd::Finished {
                cancelled: true, ..
            } => "cancelled",
            RunEnd::CutOff => "cut off",
        }
    }
}

/// The counts last sent according to a journal (see [`JournalReadout::last_sent`]).
pub fn last_sent(readout: &JournalReadout) -> LastSent {
    readout.last_sent()
}

impl JournalReadout {
    /// Parses journal bytes line by line.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut out = Self::default();
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalEntry>(line) {
                Ok(entry) => out.events.push(entry),
                Err(_) => {
                    out.torn_lines += 1;
                    out.unreadable_line_companies.extend(company_id_in(line));
                }
            }
        }
        out
    }

    /// Companies whose last counts are unknown because a line about them could not be read.
    pub fn last_counts_unknown(&self) -> Vec<i64> {
        self.unreadable_line_companies.iter().copied().collect()
    }

    /// What could not be read, in words, for the run's output and the plan; `None` when every
    /// line was read. E.g. "2 history lines could not be read; the last counts of companies 12,
    /// 40 are unknown".
    pub fn unreadable_report(&self) -> Option<String> {
        if self.torn_lines == 0 {
            return None;
        }
        let lines = if self.torn_lines == 1 {
            "1 history line could not be read".to_owned()
        } else {
            format!("{} history lines could not be read", self.torn_lines)
        };
        let ids: Vec<String> = self
            .unreadable_line_companies
            .iter()
            .map(i64::to_string)
            .collect();
        Some(match ids.len() {
            0 => format!("{lines}; which companies they were about cannot be told"),
            1 => format!("{lines}; the last counts of company {} are unknown", ids[0]),
            _ => format!(
                "{lines}; the last counts of companies {} are unknown",
                ids.join(", ")
            ),
        })
    }

    fn dry_runs(&self) -> std::collections::HashSet<&str> {
        self.events
            .iter()
            .filter(|e| matches!(e.event, JournalEvent::RunStarted { dry_run: true, .. }))
            .map(|e| e.run_id.as_str())
            .collect()
    }

    /// The latest count sent per company and service, across runs, in append order. Dry runs
    /// are left out; unmapped and failed posts did not change what Synthesize holds.
    pub fn last_sent(&self) -> LastSent {
        let dry = self.dry_runs();
        let mut out = LastSent::new();
        for entry in &self.events {
            if let JournalEvent::CountResult {
                company_id,
                company_name,
                service,
                unit_count,
                outcome: CountOutcome::Sent,
            } = &entry.event
                && !dry.contains(entry.run_id.as_str())
            {
                out.insert(
                    (*company_id, *service),
                    LastSentCount {
                        unit_count: *unit_count,
                        company_name: company_name.clone(),
                    },
                );
            }
        }
        out
    }

    /// The exclusion and override changes, newest first.
    pub fn adjustment_changes(&self) -> Vec<AdjustmentChange> {
        let mut out: Vec<AdjustmentChange> = self
            .events
            .iter()
            .filter_map(|e| match &e.event {
                JournalEvent::AdjustmentChanged { change } => Some(change.clone()),
                _ => None,
            })
            .collect();
        out.reverse();
        out.sort_by_key(|c| std::cmp::Reverse(c.at));
        out
    }

    /// Past runs, newest first.
    pub fn runs(&self) -> Vec<RunSummary> {
        struct Acc {
            summary: RunSummary,
            latest: BTreeMap<(i64, ServiceKind), CountOutcomeKind>,
        }
        let mut order: Vec<String> = Vec::new();
        let mut runs: std::collections::HashMap<&str, Acc> = std::collections::HashMap::new();
        for entry in self.events.iter().filter(|e| e.event.is_run_event()) {
            let acc = runs.entry(entry.run_id.as_str()).or_insert_with(|| {
                order.push(entry.run_id.clone());
                Acc {
                    summary: RunSummary {
                        run_id: entry.run_id.clone(),
                        kind: None,
                        dry_run: false,
                        started: entry.at,
                        end: RunEnd::CutOff,
                        sent: 0,
                        unmapped: 0,
                        failed: 0,
                        services_created: 0,
                        accounts_created: 0,
                    },
                    latest: BTreeMap::new(),
                }
            });
            let s = &mut acc.summary;
            match &entry.event {
                JournalEvent::RunStarted { kind, dry_run, .. } => {
                    s.kind = Some(*kind);
                    s.dry_run = *dry_run;
                    s.started = entry.at;
                }
                JournalEvent::ServiceCreated { .. } => s.services_created += 1,
                JournalEvent::AccountsCreated { ids } => s.accounts_created += ids.len(),
                JournalEvent::CountResult {
                    company_id,
                    service,
                    outcome,
                    ..
                } => {
                    acc.latest
                        .insert((*company_id, *service), CountOutcomeKind::of(outcome));
                }
                JournalEvent::RunFinished { cancelled, .. } => {
                    s.end = RunEnd::Finished {
                        at: entry.at,
                        cancelled: *cancelled,
                    };
                }
                JournalEvent::CompanyExcluded { .. }
                | JournalEvent::CompanyHeld { .. }
                | JournalEvent::CountAdjusted { .. }
                | JournalEvent::CountNotSent { .. }
                | JournalEvent::AdjustmentChanged { .. } => {}
            }
        }
        let mut out: Vec<RunSummary> = order
            .iter()
            .filter_map(|id| runs.remove(id.as_str()))
            .map(|mut acc| {
                for outcome in acc.latest.values() {
                    match outcome {
                        CountOutcomeKind::Sent => acc.summary.sent += 1,
                        CountOutcomeKind::Unmapped => acc.summary.unmapped += 1,
                        CountOutcomeKind::Failed => acc.summary.failed += 1,
                    }
                }
                acc.summary
            })
            .collect();
        // Newest first; runs started in the same instant keep newest-appended first.
        out.reverse();
        out.sort_by_key(|run| std::cmp::Reverse(run.started));
        out
    }

    /// The counts a run sent (the latest `Sent` per company and service in that run), in
    /// posting order, with `previous` set to what was last sent overall: re-posting them is
    /// "revert to these counts", and skipping them resumes a run that was cut off.
    pub fn run_counts(&self, run_id: &str) -> Vec<PlannedCount> {
        let now = self.last_sent();
        let mut counts: BTreeMap<(i64, ServiceKind), (String, u64)> = BTreeMap::new();
        for entry in self.events.iter().filter(|e| e.run_id == run_id) {
            if let JournalEvent::CountResult {
                company_id,
                company_name,
                service,
                unit_count,
                outcome: CountOutcome::Sent,
            } = &entry.event
            {
                counts.insert((*company_id, *service), (company_name.clone(), *unit_count));
            }
        }
        counts
            .into_iter()
            .map(
                |((company_id, service), (company_name, unit_count))| PlannedCount {
                    company_id,
                    company_name,
                    service,
                    unit_count,
                    previous: now.get(&(company_id, service)).map(|l| l.unit_count),
                },
            )
            .collect()
    }
}

/// The company id of a line that did not parse, if it still shows one whole: a parsable line's
/// `company_id`, or in a torn line the digits after `"company_id":` when something follows them
/// (digits at the very end may have been cut off).
fn company_id_in(line: &[u8]) -> Option<i64> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) {
        return value.get("company_id").and_then(serde_json::Value::as_i64);
    }
    const FIELD: &[u8] = b"\"company_id\":";
    let start = line.windows(FIELD.len()).position(|w| w == FIELD)? + FIELD.len();
    let rest = &line[start..];
    let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
    let sign = usize::from(rest.first() == Some(&b'-'));
    let digits = rest[sign..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = sign + digits;
    if digits == 0 || !matches!(rest.get(end), Some(b',' | b'}' | b' ')) {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountOutcomeKind {
    Sent,
    Unmapped,
    Failed,
}

impl CountOutcomeKind {
    fn of(outcome: &CountOutcome) -> Self {
        match outcome {
            CountOutcome::Sent => Self::Sent,
            CountOutcome::Unmapped { .. } => Self::Unmapped,
            CountOutcome::Failed { .. } => Self::Failed,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
