//! Exclusions and overrides: the documented adjustments a billing admin keeps per profile.
//!
//! - An [`Exclusion`] takes a company out of billing entirely: it is never posted and never
//!   zeroed, and it is listed with its reason instead (see [`SyncPlan::exclude`]).
//! - An [`Override`] sets a company's count for one service to a fixed number (`=N`) or adjusts
//!   the computed count (`+N`, `-N`), with a reason and an optional last day. The final count
//!   never goes below zero; when an adjustment would, it is clamped and the result says so.
//!
//! [`apply_overrides`] turns the computed counts into the final ones (what is shown, exported,
//! posted and journaled) and keeps the computed count and the override beside each changed one.
//! Pure: the day an override is judged on is passed in.
//!
//! [`SyncPlan::exclude`]: super::sync_plan::SyncPlan::exclude

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use super::company_status::CompanyStatusList;
use super::counting::CompanyCounts;
use super::sync_plan::ServiceKind;

/// A company never billed by this product, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub company_id: i64,
    pub reason: String,
    /// When the exclusion was added.
    pub since: DateTime<Utc>,
}

/// The profile's exclusion settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExclusionSettings {
    /// Companies excluded by id, sorted by id, each once.
    pub companies: Vec<Exclusion>,
    /// Also exclude every company whose ConnectWise status is marked inactive (two small
    /// fetches: the companies' statuses and the tenant's status list).
    pub exclude_inactive_companies: bool,
}

/// The reason given to companies excluded because their ConnectWise status is marked inactive.
pub fn inactive_reason(status: &str) -> String {
    format!("ConnectWise status \"{status}\" is marked inactive")
}

impl ExclusionSettings {
    /// The exclusion of a company, if it has one.
    pub fn get(&self, company_id: i64) -> Option<&Exclusion> {
        self.companies.iter().find(|e| e.company_id == company_id)
    }

    /// Adds or replaces a company's exclusion; returns the one it replaced.
    pub fn insert(&mut self, exclusion: Exclusion) -> Option<Exclusion> {
        let old = self.remove(exclusion.company_id);
        self.companies.push(exclusion);
        self.companies.sort_by_key(|e| e.company_id);
        old
    }

    /// Removes a company's exclusion; returns it if there was one.
    pub fn remove(&mut self, company_id: i64) -> Option<Exclusion> {
        let at = self
            .companies
            .iter()
            .position(|e| e.company_id == company_id)?;
        Some(self.companies.remove(at))
    }

    /// The companies excluded in a run: those listed, and (with the option on) those whose
    /// status is marked inactive. `inactive` maps company id to its inactive status's name
    /// (see [`CompanyStatusList::inactive_companies`]); only read when the option is on.
    pub fn effective(&self, inactive: &BTreeMap<i64, String>) -> Vec<ExcludedCompany> {
        let mut out: BTreeMap<i64, String> = self
            .companies
            .iter()
            .map(|e| (e.company_id, e.reason.clone()))
            .collect();
        if self.exclude_inactive_companies {
            for (id, status) in inactive {
                out.entry(*id).or_insert_with(|| inactive_reason(status));
            }
        }
        out.into_iter()
            .map(|(company_id, reason)| ExcludedCompany {
                company_id,
                company_name: String::new(),
                reason,
            })
            .collect()
    }
}

/// A company left out of a run because it is excluded. The name is filled in where the run
/// knows it (from the counts or the history), else empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedCompany {
    pub company_id: i64,
    #[serde(default)]
    pub company_name: String,
    pub reason: String,
}

/// How an override changes a computed count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum OverrideKind {
    /// `=N`: the count is N whatever was computed.
    Fixed(u64),
    /// `+N` / `-N`: N added to the computed count (never below zero).
    Adjust(i64),
}

impl OverrideKind {
    /// The final count from a computed one, and whether it had to be clamped at zero.
    pub fn apply(self, computed: u64) -> (u64, bool) {
        match self {
            OverrideKind::Fixed(n) => (n, false),
            OverrideKind::Adjust(delta) => {
                let result = i128::from(computed) + i128::from(delta);
                if result < 0 {
                    (0, true)
                } else {
                    (u64::try_from(result).unwrap_or(u64::MAX), false)
                }
            }
        }
    }
}

impl fmt::Display for OverrideKind {
    /// The command's spelling: `=3`, `+2`, `-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideKind::Fixed(n) => write!(f, "={n}"),
            OverrideKind::Adjust(d) if *d >= 0 => write!(f, "+{d}"),
            OverrideKind::Adjust(d) => write!(f, "{d}"),
        }
    }
}

/// A documented change of one company's count for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub company_id: i64,
    pub service: ServiceKind,
    #[serde(flatten)]
    pub kind: OverrideKind,
    pub reason: String,
    /// The last day it applies (inclusive); after it the computed count applies again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl Override {
    /// Whether it applies on `day`.
    pub fn is_active_on(&self, day: NaiveDate) -> bool {
        self.until.is_none_or(|until| day <= until)
    }

    /// In words, e.g. "=3 until 2026-03-31 (kiosks billed by contract)".
    pub fn describe(&self) -> String {
        let until = self
            .until
            .map(|d| format!(" until {d}"))
            .unwrap_or_default();
        format!("{}{until} ({})", self.kind, self.reason)
    }
}

/// An override that changed a count in a run: the computed count, the override, the final count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustedCount {
    pub company_id: i64,
    pub company_name: String,
    pub service: ServiceKind,
    pub computed: u64,
    #[serde(rename = "override")]
    pub applied: Override,
    pub final_count: u64,
    /// The adjustment would have gone below zero; the final count was set to zero.
    pub clamped: bool,
}

impl AdjustedCount {
    /// In words, e.g. "computed 5, override -8 (…): would be -3, clamped to 0".
    pub fn describe(&self) -> String {
        let mut out = format!(
            "computed {}, override {}, final {}",
            self.computed,
            self.applied.describe(),
            self.final_count
        );
        if self.clamped {
            out.push_str(" (the adjustment would go below 0, so it was clamped to 0)");
        }
        out
    }
}

/// The counts after overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdjustedCounts {
    /// The final counts, one row per company as computed, `total_devices` recomputed.
    pub counts: Vec<CompanyCounts>,
    /// Each count an active override applied to, ordered by company id then service.
    pub adjusted: Vec<AdjustedCount>,
    /// Active overrides of companies with no counted configurations: nothing to adjust.
    pub not_applied: Vec<Override>,
}

impl AdjustedCounts {
    /// The adjustment of a company's service count, if one applied.
    pub fn adjustment(&self, company_id: i64, service: ServiceKind) -> Option<&AdjustedCount> {
        self.adjusted
            .iter()
            .find(|a| a.company_id == company_id && a.service == service)
    }

    /// The counts that had to be clamped at zero, for a warning.
    pub fn clamped(&self) -> impl Iterator<Item = &AdjustedCount> {
        self.adjusted.iter().filter(|a| a.clamped)
    }
}

/// Applies the overrides active on `day` to the computed counts. An override that has expired
/// changes nothing; of two for the same company and service, the later in the list wins.
pub fn apply_overrides(
    computed: &[CompanyCounts],
    overrides: &[Override],
    day: NaiveDate,
) -> AdjustedCounts {
    let mut active: BTreeMap<(i64, ServiceKind), &Override> = BTreeMap::new();
    for o in overrides.iter().filter(|o| o.is_active_on(day)) {
        active.insert((o.company_id, o.service), o);
    }
    let mut out = AdjustedCounts::default();
    let mut used: BTreeSet<(i64, ServiceKind)> = BTreeSet::new();
    for row in computed {
        let mut row_out = row.clone();
        for service in ServiceKind::ALL {
            let Some(o) = active.get(&(row.company_id, service)) else {
                continue;
            };
            used.insert((row.company_id, service));
            let before = service.count_in(row);
            let (final_count, clamped) = o.kind.apply(before);
            match service {
                ServiceKind::Shared => row_out.shared_devices = final_count,
                ServiceKind::NotShared => row_out.not_shared_devices = final_count,
            }
            out.adjusted.push(AdjustedCount {
                company_id: row.company_id,
                company_name: row.company_name.clone(),
                service,
                computed: before,
                applied: (*o).clone(),
                final_count,
                clamped,
            });
        }
        row_out.total_devices = row_out
            .shared_devices
            .saturating_add(row_out.not_shared_devices);
        out.counts.push(row_out);
    }
    out.adjusted.sort_by_key(|a| (a.company_id, a.service));
    out.not_applied = active
        .into_iter()
        .filter(|(key, _)| !used.contains(key))
        .map(|(_, o)| o.clone())
        .collect();
    out
}

/// A profile's adjustments as a run applies them: its exclusions and overrides, and the
/// companies' ConnectWise statuses when "exclude companies whose status is marked inactive" is on.
/// A run made from the environment alone has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunAdjustments {
    pub exclusions: ExclusionSettings,
    pub overrides: Vec<Override>,
    /// The companies whose ConnectWise status is marked inactive, with the status's name;
    /// read only when the option is on.
    pub inactive_companies: BTreeMap<i64, String>,
    /// Whether the run read the statuses (with the option on, a run that sends counts must).
    pub company_statuses_read: bool,
    /// What the status read could not judge, in words (see [`CompanyStatusList::warnings`]).
    pub company_status_warnings: Vec<String>,
    /// The day overrides are judged on; `None`: today, in local time.
    pub day: Option<NaiveDate>,
}

impl RunAdjustments {
    /// Takes the statuses a run read.
    pub fn set_company_statuses(&mut self, list: &CompanyStatusList) {
        self.inactive_companies = list.inactive_companies();
        self.company_statuses_read = true;
        self.company_status_warnings = list.warnings();
    }

    /// These adjustments with the statuses a preview read, when it read them.
    #[must_use]
    pub fn with_company_statuses(mut self, list: Option<&CompanyStatusList>) -> Self {
        if let Some(list) = list {
            self.set_company_statuses(list);
        }
        self
    }

    /// Whether the option is on and the statuses it needs were not read.
    pub fn statuses_missing(&self) -> bool {
        self.exclusions.exclude_inactive_companies && !self.company_statuses_read
    }

    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.exclusions.companies.is_empty()
            && !self.exclusions.exclude_inactive_companies
            && self.overrides.is_empty()
    }

    /// The companies this run leaves out: every one excluded by id, and those excluded for their
    /// status that the run would otherwise bill or zero (`known` holds the companies counted now
    /// or sent to before), so a tenant's many inactive companies do not crowd the report.
    pub fn excluded_companies(&self, known: &BTreeSet<i64>) -> Vec<ExcludedCompany> {
        self.exclusions
            .effective(&self.inactive_companies)
            .into_iter()
            .filter(|e| {
                self.exclusions.get(e.company_id).is_some() || known.contains(&e.company_id)
            })
            .collect()
    }
}

/// The counts as a preview shows and exports them: overrides applied (the final counts), the
/// companies excluded left out and listed with their reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShownCounts {
    pub counts: Vec<CompanyCounts>,
    pub adjusted: Vec<AdjustedCount>,
    pub excluded: Vec<ExcludedCompany>,
}

/// [`ShownCounts`] of computed counts, judged on `day`.
pub fn shown_counts(
    computed: &[CompanyCounts],
    adjustments: &RunAdjustments,
    day: NaiveDate,
) -> ShownCounts {
    let known: BTreeSet<i64> = computed.iter().map(|c| c.company_id).collect();
    let mut excluded = adjustments.excluded_companies(&known);
    let ids: BTreeSet<i64> = excluded.iter().map(|e| e.company_id).collect();
    for e in &mut excluded {
        if let Some(row) = computed.iter().find(|c| c.company_id == e.company_id) {
            e.company_name.clone_from(&row.company_name);
        }
    }
    let mut applied = apply_overrides(computed, &adjustments.overrides, day);
    applied.counts.retain(|c| !ids.contains(&c.company_id));
    applied.adjusted.retain(|a| !ids.contains(&a.company_id));
    ShownCounts {
        counts: applied.counts,
        adjusted: applied.adjusted,
        excluded,
    }
}

/// Sets or replaces the override of a company and service in a list; returns the one replaced.
pub fn set_override(overrides: &mut Vec<Override>, new: Override) -> Option<Override> {
    let old = clear_override(overrides, new.company_id, new.service);
    overrides.push(new);
    overrides.sort_by_key(|o| (o.company_id, o.service));
    old
}

/// Removes the override of a company and service; returns it if there was one.
pub fn clear_override(
    overrides: &mut Vec<Override>,
    company_id: i64,
    service: ServiceKind,
) -> Option<Override> {
    let at = overrides
        .iter()
        .position(|o| o.company_id == company_id && o.service == service)?;
    Some(overrides.remove(at))
}

// ---------------------------------------------------------------------------------------------
// Changes, for the history
// ---------------------------------------------------------------------------------------------

/// Who changed an exclusion or override, when, what and why: kept in the tenant's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentChange {
    pub at: DateTime<Utc>,
    /// The OS user name of whoever made the change.
    pub by: String,
    pub profile: String,
    pub change: AdjustmentChangeKind,
    /// The reason given with the change (for an exclusion or override, its own reason).
    pub reason: String,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AdjustmentChangeKind {
    Excluded {
        company_id: i64,
        /// The reason of the exclusion this one replaced, if the company was excluded already.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced_reason: Option<String>,
    },
    Included {
        company_id: i64,
        /// The reason the company had been excluded for.
        excluded_reason: String,
    },
    OverrideSet {
        #[serde(rename = "override")]
        set: Override,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced: Option<Override>,
    },
    OverrideCleared {
        cleared: Override,
    },
    InactiveCompaniesExcluded {
        on: bool,
    },
}

impl AdjustmentChange {
    /// One line for History, e.g. "anna excluded company 19300 (our own company)".
    pub fn describe(&self) -> String {
        let what = match &self.change {
            AdjustmentChangeKind::Excluded {
                company_id,
                replaced_reason,
            } => match replaced_reason {
                Some(old) => format!("changed the exclusion of company {company_id} (was: {old})"),
                None => format!("excluded company {company_id}"),
            },
            AdjustmentChangeKind::Included {
                company_id,
                excluded_reason,
            } => {
                format!("included company {company_id} again (it was excluded: {excluded_reason})")
            }
            AdjustmentChangeKind::OverrideSet { set, replaced } => {
                let mut out = format!(
                    "set the {} override of company {} to {}",
                    set.service.service_name(),
                    set.company_id,
                    set.kind
                );
                if let Some(until) = set.until {
                    out.push_str(&format!(" until {until}"));
                }
                if let Some(old) = replaced {
                    out.push_str(&format!(" (was {})", old.describe()));
                }
                out
            }
            AdjustmentChangeKind::OverrideCleared { cleared } => format!(
                "cleared the {} override of company {} (was {})",
                cleared.service.service_name(),
                cleared.company_id,
                cleared.describe()
            ),
            AdjustmentChangeKind::InactiveCompaniesExcluded { on: true } => {
                "turned on excluding companies whose ConnectWise status is marked inactive"
                    .to_owned()
            }
            AdjustmentChangeKind::InactiveCompaniesExcluded { on: false } => {
                "turned off excluding companies whose ConnectWise status is marked inactive"
                    .to_owned()
            }
        };
        if self.reason.is_empty() {
            format!("{} {what}", self.by)
        } else {
            format!("{} {what}: {}", self.by, self.reason)
        }
    }
}

/// The OS user name from the environment (`USER`, `LOGNAME`, or `USERNAME` on Windows), or
/// "unknown user" when none is set (a service account may have none).
pub fn os_user_name(var: impl Fn(&str) -> Option<String>) -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|name| var(name))
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown user".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Parsing what the command is given
// ---------------------------------------------------------------------------------------------

/// What is wrong with an adjustment typed on the command line or in the window. Each message
/// names the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustmentParseError {
    #[error(
        "Override count \"{0}\": write =N for a fixed count, +N to add or -N to subtract (N a whole number, e.g. =3, +2, -1)"
    )]
    Count(String),
    #[error(
        "Override count \"{0}\": the number is too large; use at most {max}",
        max = i64::MAX
    )]
    TooLarge(String),
    #[error("Until \"{0}\": write the last day as YYYY-MM-DD (e.g. 2026-03-31)")]
    Date(String),
    #[error(
        "Until {until}: that day is already past (today is {today}); give today or a later day"
    )]
    DateInPast { until: NaiveDate, today: NaiveDate },
    #[error("Service \"{0}\": write shared or not-shared")]
    Service(String),
    #[error("Company id \"{0}\": write the ConnectWise company's numeric id (e.g. 19300)")]
    CompanyId(String),
    #[error("Reason: it is empty; say why (it is kept in the history and the run report)")]
    EmptyReason,
}

/// Parses `=N`, `+N` or `-N`.
pub fn parse_override_kind(text: &str) -> Result<OverrideKind, AdjustmentParseError> {
    let t = text.trim();
    let bad = || AdjustmentParseError::Count(text.to_owned());
    let (sign, digits) = match t.chars().next() {
        Some(c @ ('=' | '+' | '-')) => (c, &t[1..]),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| AdjustmentParseError::TooLarge(text.to_owned()))?;
    Ok(match sign {
        '=' => OverrideKind::Fixed(n.unsigned_abs()),
        '+' => OverrideKind::Adjust(n),
        _ => OverrideKind::Adjust(-n),
    })
}

/// Parses the last day of an override, `YYYY-MM-DD`; a day before `today` is refused.
pub fn parse_until(text: &str, today: NaiveDate) -> Result<NaiveDate, AdjustmentParseError> {
    let t = text.trim();
    // chrono alone would accept "2026-3-1"; the field asks for the full form.
    let shape_ok = t.len() == 10
        && t.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let day = shape_ok
        .then(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| AdjustmentParseError::Date(text.to_owned()))?;
    if day < today {
        return Err(AdjustmentParseError::DateInPast { until: day, today });
    }
    Ok(day)
}

/// Parses `shared` or `not-shared` (also `not_shared`, `notshared`, any case).
pub fn parse_service(text: &str) -> Result<ServiceKind, AdjustmentParseError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "shared" => Ok(ServiceKind::Shared),
        "not-shared" | "not_shared" | "notshared" | "not shared" => Ok(ServiceKind::NotShared),
        _ => Err(AdjustmentParseError::Service(text.to_owned())),
    }
}

/// Parses a company id.
pub fn parse_company_id(text: &str) -> Result<i64, AdjustmentParseError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AdjustmentParseError::CompanyId(text.to_owned()))
}

/// A reason, trimmed; an empty one is refused.
pub fn parse_reason(text: &str) -> Result<String, AdjustmentParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AdjustmentParseError::EmptyReason);
    }
    Ok(t.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
