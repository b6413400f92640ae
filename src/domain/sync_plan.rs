//! Sync planning: from the company counts, what Synthesize already has and the counts last sent,
//! which services and accounts to create and which unit counts (zeros included) to post.
//!
//! Pure and deterministic: the same inputs always give the same plan, in the same order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::adjustments::{AdjustedCount, ExcludedCompany};
use super::counting::CompanyCounts;
use super::safety::HeldCompany;
use super::settings::{SyncOptions, ZeroPolicy};

/// The two Synthesize services this integration owns.
///
/// Ordered Shared before NotShared, which is the order counts are planned and posted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Shared,
    NotShared,
}

/// Category and subcategory of both services.
pub const SERVICE_CATEGORY: &str = "other";
pub const SERVICE_SUBCATEGORY: &str = "other";

impl ServiceKind {
    pub const ALL: [ServiceKind; 2] = [ServiceKind::Shared, ServiceKind::NotShared];

    /// The service name in Synthesize.
    pub fn service_name(self) -> &'static str {
        match self {
            ServiceKind::Shared => "Shared Devices",
            ServiceKind::NotShared => "Not Shared Devices",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ServiceKind::Shared => "Total Shared Devices",
            ServiceKind::NotShared => "Total Not Shared Devices",
        }
    }

    /// This kind's unit count in a company's counts.
    pub fn count_in(self, counts: &CompanyCounts) -> u64 {
        match self {
            ServiceKind::Shared => counts.shared_devices,
            ServiceKind::NotShared => counts.not_shared_devices,
        }
    }

    /// Whether a Synthesize service (sku) name is this kind's service.
    ///
    /// Leading and trailing whitespace and letter case are ignored, because a service renamed
    /// by hand in Synthesize ("shared devices ") is still ours, and creating a second one would
    /// split the counts. Anything else must match exactly, so "Shared Devices" never matches
    /// "Not Shared Devices" or "Shared Device".
    pub fn matches_service_name(self, name: &str) -> bool {
        let wanted = self.service_name();
        let name = name.trim();
        name.chars().count() == wanted.chars().count()
            && name
                .chars()
                .flat_map(char::to_lowercase)
                .eq(wanted.chars().flat_map(char::to_lowercase))
    }

    /// The service to create for this kind.
    pub fn new_service(self) -> NewService {
        NewService {
            kind: self,
            name: self.service_name().to_owned(),
            description: self.description().to_owned(),
            category: SERVICE_CATEGORY.to_owned(),
            subcategory: SERVICE_SUBCATEGORY.to_owned(),
        }
    }
}

impl std::fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.service_name())
    }
}

/// A service (sku) Synthesize already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthesizeService {
    pub id: String,
    pub name: String,
}

/// An account Synthesize already has; `id` is the vendor's account id (the company id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthesizeAccount {
    pub id: String,
    pub name: String,
}

/// The last count sent for a company and service, as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSentCount {
    pub unit_count: u64,
    pub company_name: String,
}

/// The last count sent per (company id, service), across runs.
pub type LastSent = BTreeMap<(i64, ServiceKind), LastSentCount>;

/// The service id Synthesize uses for `kind`: the sku whose name matches, preferring an exact
/// name, then the lowest id (so a duplicate made by hand never makes the choice random).
pub fn find_service(
    kind: ServiceKind,
    services: &[SynthesizeService],
) -> Option<&SynthesizeService> {
    services
        .iter()
        .filter(|s| kind.matches_service_name(&s.name))
        .min_by(|a, b| {
            // `false` sorts first: exact names before near ones.
            let inexact = |s: &SynthesizeService| s.name != kind.service_name();
            inexact(a).cmp(&inexact(b)).then_with(|| a.id.cmp(&b.id))
        })
}

/// A service to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewService {
    pub kind: ServiceKind,
    pub name: String,
    pub description: String,
    pub category: String,
    pub subcategory: String,
}

/// An account to create: the id is the ConnectWise company id as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// One unit count to post. The service is named by kind: its id may only exist once the
/// services are created, so execution maps kinds to ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCount {
    pub company_id: i64,
    pub company_name: String,
    pub service: ServiceKind,
    pub unit_count: u64,
    /// The count last sent for this company and service, if any.
    pub previous: Option<u64>,
}

impl PlannedCount {
    /// Whether this count differs from the last one sent (or none was sent).
    pub fn is_change(&self) -> bool {
        self.previous != Some(self.unit_count)
    }
}

/// What the planner works from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The counts just computed (one row per company with counted configurations).
    pub counts: &'a [CompanyCounts],
    /// The services (skus) Synthesize has.
    pub services: &'a [SynthesizeService],
    /// The accounts Synthesize has.
    pub accounts: &'a [SynthesizeAccount],
    /// The last counts sent, from the journal.
    pub last_sent: &'a LastSent,
    pub options: &'a SyncOptions,
    /// Only these companies get counts and accounts; `None` means all.
    pub selection: Option<&'a BTreeSet<i64>>,
}

/// Everything a sync would do, in posting order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    pub services_to_create: Vec<NewService>,
    /// Ids of the services that exist already, by kind.
    pub existing_services: BTreeMap<ServiceKind, String>,
    pub accounts_to_create: Vec<NewAccount>,
    /// Ordered by company id, then Shared before NotShared.
    pub counts: Vec<PlannedCount>,
    /// Zero counts the zero policy left out.
    pub zeros_skipped: usize,
    /// Companies counted now or sent to before that the selection left out.
    pub companies_not_selected: usize,
    /// Things the user should know before confirming (for example duplicate services).
    pub warnings: Vec<String>,
    /// Companies not posted in this run because a record of theirs could not be read (see
    /// [`SyncPlan::hold`]); none of their counts, zeros or accounts is planned.
    #[serde(default)]
    pub held: Vec<HeldCompany>,
    /// Counts of companies that have no Synthesize account, in a run that does not create
    /// accounts: [`NO_ACCOUNT_YET`], not sent (see [`SyncPlan::without_account_creation`]).
    #[serde(default)]
    pub awaiting_accounts: Vec<PlannedCount>,
    /// Companies whose last counts are unknown because history lines about them could not be
    /// read, so a drop to zero may be missed; listed for the user.
    #[serde(default)]
    pub last_count_unknown: Vec<i64>,
    /// Companies excluded by the profile (see [`SyncPlan::exclude`]): never posted, never
    /// zeroed, listed with the reason.
    #[serde(default)]
    pub excluded: Vec<ExcludedCompany>,
    /// The counts an override changed: computed, override and final (the final count is the
    /// one in [`SyncPlan::counts`]); see [`SyncPlan::record_adjustments`].
    #[serde(default)]
    pub adjusted: Vec<AdjustedCount>,
}

/// What the plan says of a count whose company has no Synthesize account yet.
pub const NO_ACCOUNT_YET: &str = "no account yet — create accounts first";

/// How many zeros the summary lists by name before "and N more".
const ZEROS_LISTED: usize = 5;

impl SyncPlan {
    /// The counts that are zeros.
    pub fn zeros(&self) -> impl Iterator<Item = &PlannedCount> {
        self.counts.iter().filter(|c| c.unit_count == 0)
    }

    /// Holds these companies: drops their counts and accounts from the plan and lists them in
    /// [`SyncPlan::held`]. Call after [`plan_sync`], with the preview's held companies.
    pub fn hold(&mut self, held: &[HeldCompany]) {
        let ids: BTreeSet<i64> = held.iter().map(|h| h.company_id).collect();
        self.counts.retain(|c| !ids.contains(&c.company_id));
        self.accounts_to_create
            .retain(|a| a.id.parse::<i64>().map_or(true, |id| !ids.contains(&id)));
        for company in held {
            if !self.held.iter().any(|h| h.company_id == company.company_id) {
                self.held.push(company.clone());
            }
        }
        self.held.sort_by_key(|h| h.company_id);
    }

    /// Excludes these companies: drops their counts (zeros included), accounts, held entries and
    /// counts awaiting accounts from the plan and lists them in [`SyncPlan::excluded`], with the
    /// company name the plan knew where the exclusion has none. Call after [`plan_sync`],
    /// [`SyncPlan::record_adjustments`] and [`SyncPlan::hold`], so an excluded company that is
    /// also held is listed once, as excluded.
    pub fn exclude(&mut self, excluded: &[ExcludedCompany]) {
        let ids: BTreeSet<i64> = excluded.iter().map(|e| e.company_id).collect();
        let mut names: BTreeMap<i64, String> = BTreeMap::new();
        for c in self.counts.iter().chain(&self.awaiting_accounts) {
            names
                .entry(c.company_id)
                .or_insert_with(|| c.company_name.clone());
        }
        self.counts.retain(|c| !ids.contains(&c.company_id));
        self.awaiting_accounts
            .retain(|c| !ids.contains(&c.company_id));
        self.held.retain(|h| !ids.contains(&h.company_id));
        self.adjusted.retain(|a| !ids.contains(&a.company_id));
        self.accounts_to_create
            .retain(|a| a.id.parse::<i64>().map_or(true, |id| !ids.contains(&id)));
        for company in excluded {
            if self
                .excluded
                .iter()
                .any(|e| e.company_id == company.company_id)
            {
                continue;
            }
            let mut company = company.clone();
            if company.company_name.is_empty()
                && let Some(name) = names.get(&company.company_id)
            {
                company.company_name = name.clone();
            }
            self.excluded.push(company);
        }
        self.excluded.sort_by_key(|e| e.company_id);
    }

    /// Keeps the overrides that made this plan's counts (from
    /// [`super::adjustments::apply_overrides`], whose final counts the plan was made from), for
    /// the journal and the run report. Adjustments of companies not in the plan are dropped.
    pub fn record_adjustments(&mut self, adjusted: &[AdjustedCount]) {
        let planned: BTreeSet<(i64, ServiceKind)> = self
            .counts
            .iter()
            .chain(&self.awaiting_accounts)
            .map(|c| (c.company_id, c.service))
            .collect();
        self.adjusted = adjusted
            .iter()
            .filter(|a| planned.contains(&(a.company_id, a.service)))
            .cloned()
            .collect();
    }

    /// For a run that posts counts but does not create accounts: the counts of companies with
    /// no account move to [`SyncPlan::awaiting_accounts`] (not sent blind) and no account is
    /// planned.
    pub fn without_account_creation(&mut self) {
        let missing: BTreeSet<&str> = self
            .accounts_to_create
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        let (awaiting, counts): (Vec<PlannedCount>, Vec<PlannedCount>) =
            std::mem::take(&mut self.counts)
                .into_iter()
                .partition(|c| missing.contains(c.company_id.to_string().as_str()));
        self.counts = counts;
        self.awaiting_accounts.extend(awaiting);
        self.accounts_to_create.clear();
    }

    /// Companies whose counts wait for an account, by id, each once.
    pub fn companies_awaiting_accounts(&self) -> BTreeSet<i64> {
        self.awaiting_accounts
            .iter()
            .map(|c| c.company_id)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.services_to_create.is_empty()
            && self.accounts_to_create.is_empty()
            && self.counts.is_empty()
    }

    /// The plan in words, for the confirmation dialog and the command's output, e.g.
    /// "2 services to create, 3 accounts to create, 180 counts to post (4 zeros: …)".
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} to create, {} to create, {} to post",
            quantity(self.services_to_create.len(), "service", "services"),
            quantity(self.accounts_to_create.len(), "account", "accounts"),
            quantity(self.counts.len(), "count", "counts"),
        );
        let zeros: Vec<&PlannedCount> = self.zeros().collect();
        if !zeros.is_empty() {
            let mut listed: Vec<String> = zeros
                .iter()
                .take(ZEROS_LISTED)
                .map(|c| {
                    format!(
                        "{} ({}) {}",
                        c.company_name,
                        c.company_id,
                        c.service.service_name()
                    )
                })
                .collect();
            if zeros.len() > ZEROS_LISTED {
                listed.push(format!("and {} more", zeros.len() - ZEROS_LISTED));
            }
            out.push_str(&format!(
                " ({}: {})",
                quantity(zeros.len(), "zero", "zeros"),
                listed.join(", ")
            ));
        }
        if self.zeros_skipped > 0 {
            out.push_str(&format!(
                "; {} skipped by the zero policy",
                quantity(self.zeros_skipped, "zero", "zeros")
            ));
        }
        if self.companies_not_selected > 0 {
            out.push_str(&format!(
                "; {} not selected",
                quantity(self.companies_not_selected, "company", "companies")
            ));
        }
        if !self.held.is_empty() {
            out.push_str(&format!(
                "; {} held (records that could not be read)",
                quantity(self.held.len(), "company", "companies")
            ));
        }
        let awaiting = self.companies_awaiting_accounts();
        if !awaiting.is_empty() {
            out.push_str(&format!(
                "; {} not sent, {NO_ACCOUNT_YET} ({})",
                quantity(self.awaiting_accounts.len(), "count", "counts"),
                quantity(awaiting.len(), "company", "companies")
            ));
        }
        if !self.excluded.is_empty() {
            out.push_str(&format!(
                "; {} excluded (never posted nor zeroed)",
                quantity(self.excluded.len(), "company", "companies")
            ));
        }
        if !self.adjusted.is_empty() {
            out.push_str(&format!(
                "; {} set by an override",
                quantity(self.adjusted.len(), "count", "counts")
            ));
        }
        if !self.last_count_unknown.is_empty() {
            out.push_str(&format!(
                "; last counts unknown for {} (history lines could not be read)",
                quantity(self.last_count_unknown.len(), "company", "companies")
            ));
        }
        out
    }
}

fn quantity(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Plans a sync. See the module docs and [`ZeroPolicy`] for which zeros are posted:
/// a company that dropped to zero usually disappears from the counts, so companies known only
/// from `last_sent` are planned with zero counts too.
pub fn plan_sync(input: &PlanInput<'_>) -> SyncPlan {
    let mut plan = SyncPlan::default();

    for kind in ServiceKind::ALL {
        let matching: Vec<&SynthesizeService> = input
            .services
            .iter()
            .filter(|s| kind.matches_service_name(&s.name))
            .collect();
        match find_service(kind, input.services) {
            Some(found) => {
                plan.existing_services.insert(kind, found.id.clone());
                if matching.len() > 1 {
                    plan.warnings.push(format!(
                        "{} services in Synthesize are named \"{}\"; counts go to the one with id {}.",
                        matching.len(),
                        kind.service_name(),
                        found.id
                    ));
                }
            }
            None => plan.services_to_create.push(kind.new_service()),
        }
    }

    // Each company's current counts (absent means zero) and name.
    let mut companies: BTreeMap<i64, (&str, Option<&CompanyCounts>)> = BTreeMap::new();
    for row in input.counts {
        companies.insert(row.company_id, (row.company_name.as_str(), Some(row)));
    }
    for ((company_id, _), last) in input.last_sent {
        companies
            .entry(*company_id)
            .or_insert((last.company_name.as_str(), None));
    }

    let account_ids: BTreeSet<&str> = input.accounts.iter().map(|a| a.id.trim()).collect();
    let policy = input.options.zero_policy;

    for (company_id, (company_name, row)) in companies {
        if input
            .selection
            .is_some_and(|sel| !sel.contains(&company_id))
        {
            plan.companies_not_selected += 1;
            continue;
        }
        let mut posts_any = false;
        for kind in ServiceKind::ALL {
            let unit_count = row.map_or(0, |r| kind.count_in(r));
            let previous = input
                .last_sent
                .get(&(company_id, kind))
                .map(|l| l.unit_count);
            let post = unit_count > 0
                || match policy {
                    ZeroPolicy::ChangedToZero => previous.is_some_and(|p| p > 0),
                    ZeroPolicy::EveryZero => true,
                    ZeroPolicy::SkipZeros => false,
                };
            if !post {
                plan.zeros_skipped += 1;
                continue;
            }
            posts_any = true;
            plan.counts.push(PlannedCount {
                company_id,
                company_name: company_name.to_owned(),
                service: kind,
                unit_count,
                previous,
            });
        }
        let id = company_id.to_string();
        if posts_any && !account_ids.contains(id.as_str()) {
            plan.accounts_to_create.push(NewAccount {
                id,
                name: company_name.to_owned(),
                description: String::new(),
            });
        }
    }
    plan
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
