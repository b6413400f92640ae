//! Which companies ConnectWise marks inactive, judged the way ConnectWise itself does: by the
//! `inactiveFlag` of the company's status in the tenant's status list, never by its name (a
//! tenant may rename "Active" to "Active – Managed", or add "Credit Hold", and still bill them).
//!
//! Read tolerantly from two lists: `company/companies?fields=id,status/id,status/name` and
//! `company/companies/statuses?fields=id,name,inactiveFlag`. What cannot be judged is never
//! excluded for its status (it is billed as any other company) and the run says so in words.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// How many company ids a warning names before it says "and N more".
const IDS_NAMED: usize = 10;

/// A company's status as the company list names it: an id, a name, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// One of the tenant's company statuses. `inactive` is `None` when the list gave no readable
/// `inactiveFlag` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDefinition {
    pub name: Option<String>,
    pub inactive: Option<bool>,
}

/// What the lists say of one company's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusJudgement {
    /// Its status is marked inactive; the status's name, in words.
    Inactive(String),
    Active,
    /// Neither: no status, or one the tenant's status list does not settle.
    Unknown,
}

/// The companies' ConnectWise statuses and the tenant's status list.
///
/// Fields beyond the ones read are ignored. A company item whose `id` is not a whole number (or
/// that is not an object) cannot be tied to a company and is only counted in `unreadable`; one
/// with an id but no readable status is listed in `without_status`. A status item without a
/// whole-number id is counted in `unreadable_definitions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyStatusList {
    /// Each company's status by company id, where the company list named one.
    pub companies: BTreeMap<i64, StatusRef>,
    /// Companies listed without a readable status, by id.
    pub without_status: BTreeSet<i64>,
    /// Company items that could not be tied to a company.
    pub unreadable: u64,
    /// The tenant's company statuses by status id.
    pub definitions: BTreeMap<i64, StatusDefinition>,
    /// Status items without a readable id.
    pub unreadable_definitions: u64,
}

fn as_name(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

fn parse_list(body: &[u8], what: &str) -> Result<Vec<Value>, String> {
    serde_json::from_slice(body).map_err(|e| format!("{what}: not a list: {e}"))
}

impl CompanyStatusList {
    /// Adds one page of `company/companies` (a JSON array); `Err` when the body is not an
    /// array at all.
    pub fn add_page(&mut self, body: &[u8]) -> Result<usize, String> {
        let items = parse_list(body, "company/companies")?;
        for item in &items {
            let Some(id) = item.get("id").and_then(Value::as_i64) else {
                self.unreadable += 1;
                continue;
            };
            let status = item.get("status").filter(|s| s.is_object());
            let status = StatusRef {
                id: status.and_then(|s| s.get("id")).and_then(Value::as_i64),
                name: as_name(status.and_then(|s| s.get("name"))),
            };
            if status.id.is_some() || status.name.is_some() {
                self.without_status.remove(&id);
                self.companies.insert(id, status);
            } else if !self.companies.contains_key(&id) {
                self.without_status.insert(id);
            }
        }
        Ok(items.len())
    }

    /// Adds one page of `company/companies/statuses` (a JSON array); `Err` when the body is
    /// not an array at all.
    pub fn add_definitions_page(&mut self, body: &[u8]) -> Result<usize, String> {
        let items = parse_list(body, "company/companies/statuses")?;
        for item in &items {
            let Some(id) = item.get("id").and_then(Value::as_i64) else {
                self.unreadable_definitions += 1;
                continue;
            };
            self.definitions.insert(
                id,
                StatusDefinition {
                    name: as_name(item.get("name")),
                    inactive: item.get("inactiveFlag").and_then(Value::as_bool),
                },
            );
        }
        Ok(items.len())
    }

    /// The status definition a company's status points at: by id, or (when the company list
    /// gave only a name) the one status of that name, ignoring case.
    fn definition(&self, status: &StatusRef) -> Option<&StatusDefinition> {
        if let Some(id) = status.id {
            return self.definitions.get(&id);
        }
        let name = status.name.as_deref()?;
        let mut named = self.definitions.values().filter(|d| {
            d.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        match (named.next(), named.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    /// What the lists say of one company's status.
    pub fn judge(&self, company_id: i64) -> StatusJudgement {
        let Some(status) = self.companies.get(&company_id) else {
            return StatusJudgement::Unknown;
        };
        let Some(definition) = self.definition(status) else {
            return StatusJudgement::Unknown;
        };
        match definition.inactive {
            Some(true) => StatusJudgement::Inactive(
                status
                    .name
                    .clone()
                    .or_else(|| definition.name.clone())
                    .unwrap_or_else(|| format!("status {}", status.id.unwrap_or_default())),
            ),
            Some(false) => StatusJudgement::Active,
            None => StatusJudgement::Unknown,
        }
    }

    /// The companies whose status is marked inactive, with the status's name.
    pub fn inactive_companies(&self) -> BTreeMap<i64, String> {
        self.companies
            .keys()
            .filter_map(|id| match self.judge(*id) {
                StatusJudgement::Inactive(name) => Some((*id, name)),
                StatusJudgement::Active | StatusJudgement::Unknown => None,
            })
            .collect()
    }

    /// The status name a company is listed with (from the company, else its definition).
    pub fn status_name(&self, company_id: i64) -> Option<String> {
        let status = self.companies.get(&company_id)?;
        status
            .name
            .clone()
            .or_else(|| self.definition(status).and_then(|d| d.name.clone()))
    }

    /// What the run must be told about the items it could not judge, in words; empty when
    /// every company's status was settled.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.without_status.is_empty() {
            out.push(format!(
                "ConnectWise listed {} without a status ({}); they are not excluded for their status",
                companies(self.without_status.len()),
                named_ids(self.without_status.iter())
            ));
        }
        let unsettled: Vec<i64> = self
            .companies
            .iter()
            .filter(|(_, s)| self.definition(s).is_none())
            .map(|(id, _)| *id)
            .collect();
        if !unsettled.is_empty() {
            out.push(format!(
                "{} ha{} a status that ConnectWise's list of company statuses does not hold ({}); they are not excluded for their status: check Setup Tables › Company Status",
                companies(unsettled.len()),
                if unsettled.len() == 1 { "s" } else { "ve" },
                named_ids(unsettled.iter())
            ));
        }
        let unflagged: Vec<String> = self
            .definitions
            .iter()
            .filter(|(_, d)| d.inactive.is_none())
            .map(|(id, d)| d.name.clone().unwrap_or_else(|| format!("status {id}")))
            .collect();
        if !unflagged.is_empty() {
            out.push(format!(
                "ConnectWise gave no inactive flag for the company status(es) {}; companies with them are not excluded for their status",
                unflagged.join(", ")
            ));
        }
        if self.unreadable > 0 {
            out.push(format!(
                "{} item(s) of ConnectWise's company list had no readable id and were skipped",
                self.unreadable
            ));
        }
        if self.unreadable_definitions > 0 {
            out.push(format!(
                "{} item(s) of ConnectWise's list of company statuses had no readable id and were skipped",
                self.unreadable_definitions
            ));
        }
        out
    }
}

fn companies(n: usize) -> String {
    format!("{n} compan{}", if n == 1 { "y" } else { "ies" })
}

/// Up to [`IDS_NAMED`] ids, then how many more.
fn named_ids<'a>(ids: impl ExactSizeIterator<Item = &'a i64>) -> String {
    let total = ids.len();
    let shown: Vec<String> = ids.take(IDS_NAMED).map(i64::to_string).collect();
    if total > IDS_NAMED {
        format!("{} and {} more", shown.join(", "), total - IDS_NAMED)
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: &[u8] = br#"[
        {"id": 1, "name": "Active", "inactiveFlag": false, "defaultFlag": true, "_info": {}},
        {"id": 2, "name": "Inactive", "inactiveFlag": true},
        {"id": 3, "name": "Not Approved", "inactiveFlag": true},
        {"id": 4, "name": "Active - Managed", "inactiveFlag": false},
        {"id": 5, "name": "Credit Hold"},
        {"name": "no id", "inactiveFlag": true}
    ]"#;

    #[test]
    fn the_inactive_flag_decides_not_the_name() {
        let mut list = CompanyStatusList::default();
        assert_eq!(list.add_definitions_page(STATUSES), Ok(6));
        let page = br#"[
            {"id": 10, "status": {"id": 1, "name": "Active"}},
            {"id": 11, "status": {"id": 2, "name": "Inactive"}},
            {"id": 12, "status": {"id": 4, "name": "Active - Managed"}},
            {"id": 13, "status": {"id": 3}},
            {"id": 14, "status": {"name": "inactive"}},
            {"id": 15, "status": {"id": 5, "name": "Credit Hold"}},
            {"id": 16, "status": {"id": 77, "name": "Gone"}},
            {"id": 17, "status": {"name": "Nobody has this"}}
        ]"#;
        assert_eq!(list.add_page(page), Ok(8));
        assert_eq!(list.judge(10), StatusJudgement::Active);
        assert_eq!(
            list.judge(12),
            StatusJudgement::Active,
            "a renamed active status"
        );
        assert_eq!(
            list.judge(13),
            StatusJudgement::Inactive("Not Approved".into())
        );
        assert_eq!(list.judge(14), StatusJudgement::Inactive("inactive".into()));
        assert_eq!(list.judge(15), StatusJudgement::Unknown, "no flag");
        assert_eq!(list.judge(16), StatusJudgement::Unknown, "not in the list");
        assert_eq!(list.judge(17), StatusJudgement::Unknown);
        assert_eq!(list.judge(99), StatusJudgement::Unknown);
        assert_eq!(
            list.inactive_companies().into_keys().collect::<Vec<_>>(),
            [11, 13, 14]
        );
        assert_eq!(list.status_name(13).as_deref(), Some("Not Approved"));
        let warnings = list.warnings();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("2 companies have a status") && warnings[0].contains("(16, 17)")
        );
        assert!(warnings[1].contains("Credit Hold"));
        assert!(warnings[2].contains("1 item(s) of ConnectWise's list of company statuses"));
    }

    #[test]
    fn a_company_list_is_read_tolerantly_and_says_what_it_could_not_judge() {
        let mut list = CompanyStatusList::default();
        let page = br#"[
            {"id": 1, "status": {"id": 1, "name": "Active", "_info": {}}, "name": "A", "extra": [1]},
            {"id": 2, "status": {"name": "Inactive"}},
            {"id": 3},
            {"id": 4, "status": null},
            {"id": 5, "status": {"name": 7}},
            {"id": "six", "status": {"name": "Inactive"}},
            "not an object",
            {"status": {"name": "Inactive"}}
        ]"#;
        assert_eq!(list.add_page(page), Ok(8));
        assert_eq!(list.companies.len(), 2);
        assert_eq!(list.without_status, BTreeSet::from([3, 4, 5]));
        assert_eq!(list.unreadable, 3);
        assert!(list.warnings()[0].contains("3 companies without a status (3, 4, 5)"));
        // A later page that names a status settles it.
        assert_eq!(
            list.add_page(br#"[{"id": 3, "status": {"id": 1, "name": "Active"}}]"#),
            Ok(1)
        );
        assert!(!list.without_status.contains(&3));
        assert!(list.add_page(b"{\"not\": \"a list\"}").is_err());
        assert!(list.add_definitions_page(b"null").is_err());
        // Without the status list nothing can be judged, so nothing is excluded.
        assert!(list.inactive_companies().is_empty());
    }

    #[test]
    fn a_long_warning_names_ten_ids_and_counts_the_rest() {
        let ids: Vec<i64> = (1..=13).collect();
        assert_eq!(
            named_ids(ids.iter()),
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more"
        );
    }
}
