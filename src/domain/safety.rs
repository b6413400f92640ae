//! Billing safety: what a sync must prove before it sends anything.
//!
//! Nothing is sent that a complete, current preview of the same tenant did not show:
//! - [`PreviewCompleteness`] says whether what was read agrees with what ConnectWise said it
//!   holds, and which companies are held because one of their records could not be read;
//! - [`PlanBinding`] ties a plan to the options, tenant and selection its preview ran with, and
//!   names what changed since;
//! - [`TenantIdentity`] names the tenant (both services) and keys its history;
//! - [`check_large_drop`] stops a run that would zero many companies or cut the total sharply.
//!
//! Pure: no I/O, no clock (times are passed in).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::configuration::UnparseableRecord;
use super::counting::{CountingOptions, CountingResult};
use super::settings::ZeroPolicy;
use super::sync_plan::{LastSent, ServiceKind, SyncPlan};

// ---------------------------------------------------------------------------------------------
// Completeness of a preview
// ---------------------------------------------------------------------------------------------

/// A record that could not be read, with what could still be read from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableRecord {
    pub record_id: Option<i64>,
    pub company_id: Option<i64>,
    /// `Some(false)` when its type could be read and the counting rule does not count that type
    /// (such a record could not change any count); `None` when the type is unknown.
    pub of_counted_type: Option<bool>,
}

impl UnreadableRecord {
    /// From a record the page parser set aside, judged against the counting options.
    pub fn from_unparseable(record: &UnparseableRecord, options: &CountingOptions) -> Self {
        Self {
            record_id: record.id,
            company_id: record.company_id,
            of_counted_type: record.type_name.as_deref().map(|name| {
                options
                    .type_names
                    .iter()
                    .any(|t| t.to_lowercase() == name.to_lowercase())
            }),
        }
    }

    /// Whether this record could have counted (its type counts or is unknown).
    pub fn may_count(&self) -> bool {
        self.of_counted_type != Some(false)
    }
}

/// What a preview's fetch saw beside the counts: ConnectWise's own figures and the paging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewCompleteness {
    /// `/company/configurations/count` just before the fetch.
    pub count_before: u64,
    /// The same count just after the last page.
    pub count_after: u64,
    /// Distinct configuration ids read and parsed.
    pub records_read: u64,
    /// Extra copies of ids already read (counted once).
    pub duplicates: u64,
    /// Records that could not be read.
    pub unreadable: Vec<UnreadableRecord>,
    /// The server still offered a next page when the fetch stopped.
    pub next_page_offered: bool,
}

/// A company that is not posted in this run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCompany {
    pub company_id: i64,
    /// Its records that could not be read.
    pub unreadable_records: u64,
    /// Their ids where they could be read (sorted, distinct).
    pub record_ids: Vec<i64>,
}

impl HeldCompany {
    /// The reason in words, e.g. "2 configuration records could not be read (ids 4, 9)".
    pub fn reason(&self) -> String {
        let ids = if self.record_ids.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = self.record_ids.iter().map(i64::to_string).collect();
            format!(" (ids {})", ids.join(", "))
        };
        format!(
            "{} could not be read{ids}; held so it is not billed low",
            quantity(
                self.unreadable_records,
                "configuration record",
                "configuration records"
            )
        )
    }
}

/// Why a preview does not prove its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum IncompleteReason {
    /// `/count` changed while the fetch ran.
    CountChanged { before: u64, after: u64 },
    /// What was read (parsed + unreadable) is not what `/count` said.
    CountMismatch {
        server_count: u64,
        records_seen: u64,
    },
    /// The server offered another page that was not read.
    NextPageNotRead,
    /// Records that could count could not be read, and neither could their company.
    UnreadableWithoutCompany { records: u64, record_ids: Vec<i64> },
}

impl fmt::Display for IncompleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CountChanged { before, after } => write!(
                f,
                "ConnectWise's configuration count changed during the fetch ({before} before, {after} after)"
            ),
            Self::CountMismatch {
                server_count,
                records_seen,
            } => write!(
                f,
                "ConnectWise reports {server_count} configurations but {records_seen} were read"
            ),
            Self::NextPageNotRead => {
                f.write_str("ConnectWise offered another page of configurations that was not read")
            }
            Self::UnreadableWithoutCompany {
                records,
                record_ids,
            } => {
                write!(
                    f,
                    "{} could not be read and neither could {} company",
                    quantity(*records, "configuration record", "configuration records"),
                    if *records == 1 { "its" } else { "their" }
                )?;
                if !record_ids.is_empty() {
                    let ids: Vec<String> = record_ids.iter().take(10).map(i64::to_string).collect();
                    write!(f, " (ids {})", ids.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

impl PreviewCompleteness {
    /// From a finished fetch: `/count` before and after it, what the counting read (distinct
    /// ids and duplicates), the records set aside (see [`UnreadableRecord::from_unparseable`])
    /// and whether the last page still offered a next one.
    pub fn from_fetch(
        count_before: u64,
        count_after: u64,
        counted: &CountingResult,
        unreadable: Vec<UnreadableRecord>,
        next_page_offered: bool,
    ) -> Self {
        Self {
            count_before,
            count_after,
            records_read: counted.configurations_read,
            duplicates: counted.skipped.duplicate_ids,
            unreadable,
            next_page_offered,
        }
    }

    /// Records seen: distinct parsed ids plus distinct unreadable ones (an unreadable record
    /// without an id counts once each).
    pub fn records_seen(&self) -> u64 {
        let mut ids = BTreeSet::new();
        let mut without_id = 0u64;
        for record in &self.unreadable {
            match record.record_id {
                Some(id) => {
                    ids.insert(id);
                }
                None => without_id += 1,
            }
        }
        self.records_read + ids.len() as u64 + without_id
    }

    /// Companies held: each company with an unreadable record that could count, by id.
    pub fn held_companies(&self) -> Vec<HeldCompany> {
        let mut by_company: BTreeMap<i64, (u64, BTreeSet<i64>)> = BTreeMap::new();
        for record in self.unreadable.iter().filter(|r| r.may_count()) {
            if let Some(company_id) = record.company_id {
                let entry = by_company.entry(company_id).or_default();
                entry.0 += 1;
                entry.1.extend(record.record_id);
            }
        }
        by_company
            .into_iter()
            .map(|(company_id, (unreadable_records, ids))| HeldCompany {
                company_id,
                unreadable_records,
                record_ids: ids.into_iter().collect(),
            })
            .collect()
    }

    /// Everything that keeps this preview from proving its counts; empty when complete.
    pub fn incomplete_reasons(&self) -> Vec<IncompleteReason> {
        let mut out = Vec::new();
        if self.count_before != self.count_after {
            out.push(IncompleteReason::CountChanged {
                before: self.count_before,
                after: self.count_after,
            });
        }
        // A count that changed is its own reason; what was read is compared with the count
        // after the fetch, which the fetch had the chance to follow.
        let seen = self.records_seen();
        if seen != self.count_after {
            out.push(IncompleteReason::CountMismatch {
                server_count: self.count_after,
                records_seen: seen,
            });
        }
        if self.next_page_offered {
            out.push(IncompleteReason::NextPageNotRead);
        }
        let orphans: Vec<&UnreadableRecord> = self
            .unreadable
            .iter()
            .filter(|r| r.may_count() && r.company_id.is_none())
            .collect();
        if !orphans.is_empty() {
            let ids: BTreeSet<i64> = orphans.iter().filter_map(|r| r.record_id).collect();
            out.push(IncompleteReason::UnreadableWithoutCompany {
                records: orphans.len() as u64,
                record_ids: ids.into_iter().collect(),
            });
        }
        out
    }

    /// Whether what was read agrees with what ConnectWise said it holds. Held companies do not
    /// make a preview incomplete: they are simply not posted.
    pub fn is_complete(&self) -> bool {
        self.incomplete_reasons().is_empty()
    }

    /// One sentence for the command's error and the window: the figures and the way through.
    pub fn incomplete_message(&self) -> Option<String> {
        let reasons = self.incomplete_reasons();
        if reasons.is_empty() {
            return None;
        }
        let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        Some(format!(
            "The preview is incomplete, so nothing was sent: {}. Preview again, or pass --accept-incomplete to send the counts read anyway.",
            reasons.join("; ")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Tenant identity
// ---------------------------------------------------------------------------------------------

/// Which tenant a run talks to: the ConnectWise site and company, and the Synthesize
/// organization. Holds no key, nor anything derived from one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TenantIdentity {
    /// The ConnectWise API host, lower case (`api-na.myconnectwise.net`).
    pub connectwise_host: String,
    /// The ConnectWise company id used to log in, lower case (ConnectWise ignores its case).
    pub connectwise_company_id: String,
    /// The Synthesize base URL, without a trailing slash.
    pub synthesize_url: String,
    /// The organization's id from `GET /organization`.
    pub synthesize_organization_id: String,
}

/// Longest piece of each part kept in a journal key (the whole key stays well under the 255
/// bytes a file name may have).
const KEY_PART_CHARS: usize = 40;

impl TenantIdentity {
    /// Normalizes each part, so the same tenant typed differently is the same identity.
    /// `connectwise_site` may be a host or a URL; only its host (and port) is kept.
    pub fn new(
        connectwise_site: &str,
        connectwise_company_id: &str,
        synthesize_url: &str,
        synthesize_organization_id: &str,
    ) -> Self {
        Self {
            connectwise_host: host_of(connectwise_site),
            connectwise_company_id: connectwise_company_id.trim().to_lowercase(),
            synthesize_url: normalize_url(synthesize_url),
            synthesize_organization_id: synthesize_organization_id.trim().to_owned(),
        }
    }

    /// A stable, file-system-safe key (`[a-z0-9._-]`): readable parts plus a checksum of the
    /// whole identity, so two tenants whose parts read alike still get different keys.
    pub fn journal_key(&self) -> String {
        let synthesize = self
            .synthesize_url
            .split_once("://")
            .map_or(self.synthesize_url.as_str(), |(_, rest)| rest);
        let whole = format!(
            "{}\n{}\n{}\n{}",
            self.connectwise_host,
            self.connectwise_company_id,
            self.synthesize_url,
            self.synthesize_organization_id
        );
        format!(
            "{}_{}_{}_{}_{:016x}",
            key_part(&self.connectwise_company_id),
            key_part(&self.connectwise_host),
            key_part(synthesize),
            key_part(&self.synthesize_organization_id),
            fnv1a_64(whole.as_bytes())
        )
    }
}

impl fmt::Display for TenantIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ConnectWise company {} at {}, Synthesize organization {} at {}",
            self.connectwise_company_id,
            self.connectwise_host,
            self.synthesize_organization_id,
            self.synthesize_url
        )
    }
}

fn host_of(site: &str) -> String {
    let site = site.trim();
    let parsed = if site.contains("://") {
        url::Url::parse(site)
    } else {
        url::Url::parse(&format!("https://{site}"))
    };
    match parsed {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => site.to_lowercase(),
        },
        Err(_) => site.trim_end_matches('/').to_lowercase(),
    }
}

fn normalize_url(url: &str) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        // Url lower-cases the scheme and host and drops a default port.
        Ok(parsed) => parsed.as_str().trim_end_matches('/').to_owned(),
        Err(_) => url.trim_end_matches('/').to_owned(),
    }
}

fn key_part(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(KEY_PART_CHARS)
        .collect();
    // No leading dot (a hidden file) and never empty.
    if out.starts_with('.') {
        out.replace_range(..1, "-");
    }
    if out.is_empty() {
        out.push('-');
    }
    out
}

/// FNV-1a, 64 bits: a checksum fixed by its definition (unlike std's hasher), so keys stay
/// the same across releases. It hashes the identity only, never a secret.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

// ---------------------------------------------------------------------------------------------
// Plan binding (the stale check)
// ---------------------------------------------------------------------------------------------

/// What a plan depends on besides the data read: change any of it and the plan is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanContext {
    pub counting: CountingOptions,
    /// Which zeros are planned.
    pub zero_policy: ZeroPolicy,
    pub tenant: TenantIdentity,
    /// Only these companies; `None` means all.
    pub selection: Option<BTreeSet<i64>>,
}

/// A plan's context and the time its preview ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBinding {
    pub context: PlanContext,
    pub previewed_at: DateTime<Utc>,
}

/// What changed since a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanChange {
    TypeNames,
    SharedPattern,
    WholeWord,
    AssignmentField,
    ActiveOnly,
    ZeroPolicy,
    Tenant,
    Selection,
    /// The preview is older than the age allowed.
    TooOld,
}

impl PlanChange {
    /// What changed, in the words of the window's labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TypeNames => "the type names",
            Self::SharedPattern => "the shared pattern",
            Self::WholeWord => "the whole-word choice",
            Self::AssignmentField => "the assignment type",
            Self::ActiveOnly => "the active-only choice",
            Self::ZeroPolicy => "the zero policy",
            Self::Tenant => "the tenant",
            Self::Selection => "the selection",
            Self::TooOld => "the time (the preview is too old)",
        }
    }
}

impl PlanBinding {
    pub fn new(context: PlanContext, previewed_at: DateTime<Utc>) -> Self {
        Self {
            context,
            previewed_at,
        }
    }

    /// What differs between the preview's context and `current`, and, with `max_age`, whether
    /// the preview is older than that at `now`. Empty means the plan is current.
    pub fn changes(
        &self,
        current: &PlanContext,
        now: DateTime<Utc>,
        max_age: Option<chrono::Duration>,
    ) -> Vec<PlanChange> {
        let then = &self.context;
        let (a, b) = (&then.counting, &current.counting);
        let mut out = Vec::new();
        let type_names = |o: &CountingOptions| -> BTreeSet<String> {
            o.type_names.iter().map(|t| t.to_lowercase()).collect()
        };
        if type_names(a) != type_names(b) {
            out.push(PlanChange::TypeNames);
        }
        if a.shared_pattern != b.shared_pattern {
            out.push(PlanChange::SharedPattern);
        }
        if a.shared_whole_word != b.shared_whole_word {
            out.push(PlanChange::WholeWord);
        }
        if a.assignment_field != b.assignment_field {
            out.push(PlanChange::AssignmentField);
        }
        if a.active_only != b.active_only {
            out.push(PlanChange::ActiveOnly);
        }
        if then.zero_policy != current.zero_policy {
            out.push(PlanChange::ZeroPolicy);
        }
        if then.tenant != current.tenant {
            out.push(PlanChange::Tenant);
        }
        if then.selection != current.selection {
            out.push(PlanChange::Selection);
        }
        if max_age.is_some_and(|max| now - self.previewed_at > max) {
            out.push(PlanChange::TooOld);
        }
        out
    }

    /// Whether the plan may still be sent.
    pub fn is_current(
        &self,
        current: &PlanContext,
        now: DateTime<Utc>,
        max_age: Option<chrono::Duration>,
    ) -> bool {
        self.changes(current, now, max_age).is_empty()
    }

    /// "The table is out of date: the shared pattern changed since the preview. Preview again
    /// to send." — or `None` when current.
    pub fn stale_message(
        &self,
        current: &PlanContext,
        now: DateTime<Utc>,
        max_age: Option<chrono::Duration>,
    ) -> Option<String> {
        let changes = self.changes(current, now, max_age);
        if changes.is_empty() {
            return None;
        }
        let labels: Vec<&str> = changes.iter().map(PlanChange::label).collect();
        Some(format!(
            "The table is out of date: {} changed since the preview. Preview again to send.",
            labels.join(", ")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Drop guard
// ---------------------------------------------------------------------------------------------

/// When a run counts as a large drop (profile options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DropGuardThresholds {
    /// Guard when more than this percentage of the companies with a non-zero count go to zero…
    pub zeroed_companies_percent: u32,
    /// …and at least this many companies go to zero.
    pub min_zeroed_companies: usize,
    /// Guard when the tenant's total devices fall by more than this percentage.
    pub total_drop_percent: u32,
}

impl Default for DropGuardThresholds {
    fn default() -> Self {
        Self {
            zeroed_companies_percent: 20,
            min_zeroed_companies: 3,
            total_drop_percent: 30,
        }
    }
}

/// Drop guard thresholds that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropGuardError {
    #[error(
        "Drop guard: {0} % of companies going to zero is out of range; use a number from 0 to 100"
    )]
    ZeroedCompaniesPercent(u32),
    #[error("Drop guard: a total drop of {0} % is out of range; use a number from 0 to 100")]
    TotalDropPercent(u32),
}

impl DropGuardThresholds {
    pub fn validate(&self) -> Result<(), DropGuardError> {
        if self.zeroed_companies_percent > 100 {
            return Err(DropGuardError::ZeroedCompaniesPercent(
                self.zeroed_companies_percent,
            ));
        }
        if self.total_drop_percent > 100 {
            return Err(DropGuardError::TotalDropPercent(self.total_drop_percent));
        }
        Ok(())
    }
}

/// A company whose devices the plan sets to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyGoingToZero {
    pub company_id: i64,
    pub company_name: String,
    /// Its devices (both services) last sent.
    pub devices_before: u64,
}

/// The drop guard's verdict and the figures behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCheck {
    /// Companies whose last counts sent add up to more than zero.
    pub companies_nonzero_before: usize,
    /// Those the plan sets to zero, by company id.
    pub going_to_zero: Vec<CompanyGoingToZero>,
    /// The tenant's devices last sent, and after the plan is sent.
    pub total_devices_before: u64,
    pub total_devices_after: u64,
    /// More companies going to zero than the thresholds allow.
    pub too_many_zeroed: bool,
    /// The total falls by more than the threshold.
    pub total_drop_too_large: bool,
}

impl DropCheck {
    /// Whether the run must stop and ask.
    pub fn is_large_drop(&self) -> bool {
        self.too_many_zeroed || self.total_drop_too_large
    }

    /// The figures and the way through, for the command's error; `None` when not a large drop.
    pub fn message(&self) -> Option<String> {
        if !self.is_large_drop() {
            return None;
        }
        let mut figures = Vec::new();
        if self.too_many_zeroed {
            let names: Vec<String> = self
                .going_to_zero
                .iter()
                .take(5)
                .map(|c| format!("{} ({})", c.company_name, c.company_id))
                .collect();
            let more = self.going_to_zero.len().saturating_sub(names.len());
            let more = if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            };
            figures.push(format!(
                "{} of the {} companies with devices would go to zero ({}{more})",
                self.going_to_zero.len(),
                self.companies_nonzero_before,
                names.join(", ")
            ));
        }
        if self.total_drop_too_large {
            figures.push(format!(
                "the tenant's total devices would fall from {} to {}",
                self.total_devices_before, self.total_devices_after
            ));
        }
        Some(format!(
            "Large drop, so nothing was sent: {}. Check the counting options; if the drop is real, pass --allow-large-drop.",
            figures.join("; ")
        ))
    }
}

/// Compares what Synthesize holds (the last counts sent to this tenant) with what it would hold
/// once `plan` is sent (counts the plan does not post keep their last value). A first sync (no
/// history) is never guarded.
pub fn check_large_drop(
    last_sent: &LastSent,
    plan: &SyncPlan,
    thresholds: &DropGuardThresholds,
) -> DropCheck {
    let mut before: BTreeMap<i64, (u64, &str)> = BTreeMap::new();
    let mut after: BTreeMap<(i64, ServiceKind), u64> = BTreeMap::new();
    for ((company_id, service), last) in last_sent {
        let entry = before
            .entry(*company_id)
            .or_insert((0, last.company_name.as_str()));
        entry.0 = entry.0.saturating_add(last.unit_count);
        after.insert((*company_id, *service), last.unit_count);
    }
    for count in &plan.counts {
        after.insert((count.company_id, count.service), count.unit_count);
    }
    let mut after_by_company: BTreeMap<i64, u64> = BTreeMap::new();
    for ((company_id, _), units) in &after {
        let entry = after_by_company.entry(*company_id).or_default();
        *entry = entry.saturating_add(*units);
    }
    let mut check = DropCheck {
        total_devices_before: before.values().fold(0u64, |t, (n, _)| t.saturating_add(*n)),
        total_devices_after: after_by_company
            .values()
            .fold(0u64, |t, n| t.saturating_add(*n)),
        ..DropCheck::default()
    };
    for (company_id, (devices_before, name)) in &before {
        if *devices_before == 0 {
            continue;
        }
        check.companies_nonzero_before += 1;
        if after_by_company.get(company_id).copied().unwrap_or(0) == 0 {
            let company_name = plan
                .counts
                .iter()
                .find(|c| c.company_id == *company_id)
                .map_or(*name, |c| c.company_name.as_str());
            check.going_to_zero.push(CompanyGoingToZero {
                company_id: *company_id,
                company_name: company_name.to_owned(),
                devices_before: *devices_before,
            });
        }
    }
    let zeroed = check.going_to_zero.len();
    check.too_many_zeroed = zeroed >= thresholds.min_zeroed_companies.max(1)
        && (zeroed as u128) * 100
            > u128::from(thresholds.zeroed_companies_percent)
                * (check.companies_nonzero_before as u128);
    let fall = check
        .total_devices_before
        .saturating_sub(check.total_devices_after);
    check.total_drop_too_large = fall > 0
        && u128::from(fall) * 100
            > u128::from(thresholds.total_drop_percent) * u128::from(check.total_devices_before);
    check
}

fn quantity(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
