//! The embedded loopback sandbox: ConnectWise PSA and Synthesize emulated by two axum servers on
//! 127.0.0.1 (ephemeral ports), for the demo window, the tests and the benchmarks. By default it
//! answers in the shapes the public record describes (the public Synthesize SDK's models, the
//! public generated ConnectWise clients' `Configuration` model, public client issues; see
//! `tests/contract/` for the fixtures and their sources), so every test meets what real servers
//! send. Plain http by default; [`Sandbox::start_tls`] serves https with a certificate the caller
//! gives (a test CA it trusts).
//!
//! # ConnectWise side (`cw_site_url()`, API at `cw_api_url()`)
//!
//! - `GET /login/companyinfo/{companyId}` (no auth): `{"CompanyName","Codebase":"v4_6_release/",
//!   "VersionCode","VersionNumber","CompanyID","IsCloud","SiteUrl"}`; another company id → 404.
//! - Under `/v4_6_release/apis/3.0`, each call needs `Authorization: Basic
//!   base64(companyId+publicKey:privateKey)` and a `clientId` header. A missing or empty
//!   `clientId` → **400** `{"code":"InvalidObject","message":"clientId header is required: …"}`
//!   (in both modes). Wrong keys or an unknown clientId → 401 `{"code":"Unauthorized",…}`, or
//!   404 `{"code":"NotFound",…}` in cloud mode. An `Accept: application/vnd.connectwise.com+json;
//!   version=YYYY.N` outside the versions it serves (2019.1 to 2025.1 unless
//!   [`ConnectWiseBehaviour`] says otherwise), or in another form, → 400
//!   `{"code":"ConnectWiseApi","message":"The HTTP resource that matches the request URI '…' does
//!   not support the API version '…'."}`; plain `application/json` is served.
//! - `company/configurations`: `conditions`, `fields`, `orderBy`, `page`/`pageSize` (default 25,
//!   more than 1000 served as 1000, below 1 or not a number → 400) and an RFC 5988 `Link` header
//!   (`first`/`prev` from page 2, `next`/`last` before the last page; absolute URLs keeping the
//!   other parameters, commas percent-encoded). A page past the end is `[]`. Forward-only:
//!   header `pagination-type: forward-only` and `pageId` (last id seen) → records with a larger
//!   id, `Link` with only `next` (carrying `pageId`) while more remain and no `Link` on the last
//!   page; `orderBy` with it → 400.
//! - Full records: the ~60 fields of the public `Configuration` model (ids, names, references as
//!   `{id, name, _info}`, dates, flags, backup figures, `vendor`, `manufacturer`, `sla`,
//!   `questions`, `customFields`, `_info`), about 3.2 KB of JSON each; null fields left out, as
//!   ConnectWise does.
//! - `company/configurations/count` → `{"count":N}` (honours `conditions`).
//! - `company/configurations/types` → `[{id,name,inactiveFlag,systemFlag,_info}]`, paged and
//!   filtered the same way.
//! - `company/companies` → `[{id,identifier,name,status:{id,name,_info},types,…,_info}]`, paged,
//!   filtered and projected the same way (`fields=id,status/name`). Every company is `Active`
//!   but two of the demo's: the third `Inactive`, the fifth `Not Approved`
//!   ([`SandboxHandle::set_company_status`] changes one). `system/info` → `{"version","isCloud","serverTimeZone",…}`.
//! - Errors are `{"code","message"}`; a bad `conditions`/`orderBy` is 400 `InvalidObject` with
//!   what is wrong.
//! - `conditions`: `= != <> < > <= >=`, `like` (`%`, `_`), `contains`, `in (…)`, `not like`,
//!   `not contains`, `not in`, unary `not`, `and`, `or`, parentheses; keywords case-insensitive;
//!   paths such as `type/name`, `company/id`, `contact/name`, `activeFlag`,
//!   `_info/lastUpdated`; double-quoted strings with `\"` and `\\` escapes, whole numbers,
//!   `true`/`false`, `null` (only with `=`/`!=`), dates `[2024-01-01T00:00:00Z]`. Text compares as
//!   SQL Server does by default: case-insensitive, trailing spaces ignored, leading spaces kept;
//!   `like`/`contains` are case-insensitive but keep every character. A comparison with a missing
//!   value is SQL UNKNOWN (so `contact/name != "x"` leaves out records without a contact name).
//!   The sandbox is stricter than the real server on types: a text field needs a string, a
//!   number field a number, a boolean `true`/`false`.
//! - [`ConnectWiseBehaviour`] (set with [`SandboxHandle::set_connectwise_behaviour`]; each
//!   field below is off by default):
//!   - `max_records_per_page: Some(N)`: a page size the server caps silently — at most N
//!     records a page whatever `pageSize` asks, numbered and forward-only alike, while `Link`
//!     still names the next page (with the `pageSize` that was asked), as public client issues
//!     report;
//!   - `omit_link_header`: no `Link` header at all;
//!   - `new_configurations_per_page: N`: N new ids issued before every page (a server that
//!     would be read forever);
//!   - `configurations_added_after_first_page: N`: a `/count` that changes during the fetch —
//!     once, right after the next page of configurations is served (a refused request does not
//!     count), N configurations are added above the highest id (type and company of the first
//!     one), so `/count` answers N more from then on and later pages serve them; the field is
//!     set back to 0 when spent;
//!   - `unreadable_records`: configurations (by id) that fail to parse, each the full record
//!     with one field broken as its [`UnreadableRecord`] says — `id` a string that is not a
//!     number (the company can still be read), `company.id` a string that is not a number, or
//!     `company` a string (the company cannot be read); also under `fields=`, still counted by
//!     `/count`, never applied to the types list;
//!   - `oldest_api_version`/`newest_api_version`: the API versions served.
//!
//! # Synthesize side (`synthesize_url()`)
//!
//! Every call needs `GRADIENT-TOKEN: base64(vendorKey:partnerKey)`; missing or wrong → 401.
//! Errors are `{"statusCode","message","error"}`. Successful answers, as the SDK's models have
//! them (`{data, message, status}` wrappers with `status` the HTTP status as a number):
//! - `GET /api/vendor-api/organization` → `{"data":{IntegrationData: "organizationId","name",
//!   "vendorId","vendorName","integrationId","status","lastSyncedAt"},"message","status":200}`
//!   (bare `IntegrationData` when [`SynthesizeShape`] says so). The status is `pending` at start
//!   and becomes `active` when the first count arrives, as Synthesize does; `lastSyncedAt` is
//!   `null` until then.
//! - `GET /api/vendor-api` → `{"data":{VendorData: "_id","id","name",…,"skus":[VendorSkuData:
//!   "_id","id","name","description","logo","category","subcategory","supportArticle",
//!   "supportContact"]},"message","status":200}` (starts with one unrelated service, "Managed
//!   Backup"). [`IdFields`] chooses both ids (the default), `id` only or `_id` only.
//! - `POST /api/vendor-api/service` `{name, description, category, subcategory}` → **201**
//!   `{"data":{sku},…}`; empty name, a category outside [`SERVICE_CATEGORIES`] or a subcategory
//!   outside [`SERVICE_SUBCATEGORIES`] → 400; a name that already exists → 409.
//! - `GET /api/vendor-api/organization/accounts` → a bare array `[{name,description,id}]`, with
//!   `isMapped` when [`SynthesizeShape`] says so.
//! - `POST /api/vendor-api/organization/accounts` with an array `[{name,description,id}]` (string
//!   id and name) → **201** with the accounts as stored (an id that already exists is left
//!   unchanged); anything but an array, or an entry without a string id/name → 400 and nothing is
//!   created.
//! - `POST /api/vendor-api/service/{serviceId}/count` `{accountId, unitCount}` → **201**
//!   `{"status":201,"message"}` (the SDK's `ResponseDto`). `clientOId` without `accountId`, a
//!   missing/non-string `accountId`, a negative, fractional or non-number `unitCount` → 400
//!   ("unitCount must be a number"); unknown service → 404 "No service found with id …"; an
//!   account that does not exist or is marked unmapped → 404 `{"statusCode":404,"message":"No
//!   account map found with id: <id>","error":"Not Found"}`. Zero is accepted.
//! - `PATCH /api/vendor-api/organization/status/{status}` with one of [`INTEGRATION_STATUSES`]
//!   (case-sensitive) → 200 `{"data":{"status"},…}`, else 400.
//! - Raw unreadable items can be appended to the skus and accounts as served
//!   ([`SandboxHandle::push_raw_sku`], [`SandboxHandle::push_raw_account`]).
//!
//! # Knobs
//!
//! Each side has its own [`ServiceKnobs`]: latency, a token-bucket [`RateLimit`] (429 with
//! `Retry-After` in whole seconds ≥ 1), a queue of [`ScheduledFault`]s and optional
//! [`RecurringFaults`]. Every request is recorded ([`ConnectWiseRequest`], with the `Accept`
//! header; [`SynthesizeRequest`]).

mod conditions;
mod connectwise;
mod data;
mod json;
mod knobs;
mod synthesize;
mod tls;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

pub use data::{
    SandboxCompany, SandboxCompanyRecord, SandboxCompanyStatus, SandboxConfiguration,
    SandboxConfigurationType, SandboxCustomField, SandboxQuestion, SandboxRef,
};
pub use knobs::{
    FaultCadence, FaultKind, FaultTarget, RateLimit, RecurringFaults, ScheduledFault, ServiceKnobs,
};
pub use synthesize::{
    INTEGRATION_STATUSES, IdFields, SERVICE_CATEGORIES, SERVICE_SUBCATEGORIES, SandboxAccount,
    SandboxService, SynthesizeShape,
};

pub use connectwise::{ConnectWiseBehaviour, UnreadableRecord};
use connectwise::{ConnectWiseState, Store};
use synthesize::SynthesizeState;
pub use tls::SandboxTls;

/// The ConnectWise company id that logs in.
pub const SANDBOX_COMPANY_ID: &str = "sandbox";
pub const SANDBOX_PUBLIC_KEY: &str = "sandbox-public-key";
pub const SANDBOX_PRIVATE_KEY: &str = "sandbox-private-key";
pub const SANDBOX_CLIENT_ID: &str = "5ad1b0c4-0000-4000-8000-5a4db0c5a4db";
pub const SANDBOX_VENDOR_API_KEY: &str = "sandbox-vendor-api-key";
pub const SANDBOX_PARTNER_API_KEY: &str = "sandbox-partner-api-key";
/// The API path under the ConnectWise site.
pub const SANDBOX_API_PATH: &str = "/v4_6_release/apis/3.0";

/// How big the generated tenant is and how it behaves at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Seeds the generator: the same seed always gives the same tenant.
    pub seed: u64,
    pub companies: usize,
    pub configurations: usize,
    /// Bad credentials answer 404 (as cloud sites do) instead of 401.
    pub cloud_mode: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            companies: 40,
            configurations: 600,
            cloud_mode: false,
        }
    }
}

/// The sandbox could not start or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "the sandbox could not listen on 127.0.0.1 ({0}); check that loopback networking works"
    )]
    Bind(#[source] std::io::Error),
    #[error("the sandbox could not start its background thread: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("the sandbox could not make its own URL: {0}")]
    Url(String),
    #[error("the sandbox's background thread stopped before the servers were ready")]
    ThreadStopped,
    #[error(
        "configuration id {0} already exists in the sandbox; choose another id, or 0 for the next free one"
    )]
    DuplicateConfigurationId(i64),
    #[error("the sandbox cannot serve https with the certificate it was given: {0}")]
    Tls(String),
}

/// One ConnectWise request as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectWiseRequest {
    pub method: String,
    /// The full path, such as `/v4_6_release/apis/3.0/company/configurations`.
    pub path: String,
    /// The raw query string, when there was one.
    pub query: Option<String>,
    /// The status answered; 499 when the client went away before the answer (a `Slow` fault
    /// outlasting its timeout).
    pub status: u16,
    /// Body bytes sent (for a cut body, the part sent before the connection closed).
    pub response_bytes: usize,
    /// `page` and `pageSize` as the client asked (not the defaults or the cap).
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub page_id: Option<i64>,
    /// The `Accept` header the client sent (it pins the API version).
    pub accept: Option<String>,
    /// The fault that hit this request, if any.
    pub fault: Option<FaultKind>,
}

/// One Synthesize request as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthesizeRequest {
    pub method: String,
    pub path: String,
    /// The status answered; 499 when the client went away before the answer.
    pub status: u16,
    /// The request body as text (empty for GET).
    pub body: String,
    pub fault: Option<FaultKind>,
}

struct Shared {
    cw: Arc<ConnectWiseState>,
    synthesize: Arc<SynthesizeState>,
}

/// Reads and changes the running sandbox. Cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct SandboxHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("cw_site_url", &self.shared.cw.site_url)
            .field("configurations", &self.configuration_count())
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    // ---- ConnectWise data ----

    /// Every configuration, in id order.
    pub fn configurations(&self) -> Vec<SandboxConfiguration> {
        self.shared.cw.read().configurations.clone()
    }

    pub fn configuration(&self, id: i64) -> Option<SandboxConfiguration> {
        let store = self.shared.cw.read();
        let at = store
            .configurations
            .binary_search_by_key(&id, |c| c.id)
            .ok()?;
        Some(store.configurations[at].clone())
    }

    pub fn configuration_count(&self) -> usize {
        self.shared.cw.read().configurations.len()
    }

    /// Every configuration as the full JSON the API returns (no `fields=`), in id order; parse
    /// them with `ConfigurationRecord` to count without HTTP. Records the behaviour serves
    /// unreadable are here whole, as stored.
    pub fn configurations_json(&self) -> Vec<serde_json::Value> {
        let base = self.shared.cw.api_base();
        self.shared
            .cw
            .read()
            .configurations
            .iter()
            .map(|c| c.to_json(&base))
            .collect()
    }

    /// Adds a configuration; `id` 0 takes the next free id. Returns the id.
    pub fn add_configuration(
        &self,
        mut configuration: SandboxConfiguration,
    ) -> Result<i64, SandboxError> {
        let mut store = self.shared.cw.write();
        if configuration.id == 0 {
            configuration.id = store.configurations.last().map_or(1, |c| c.id + 1);
        }
        match store
            .configurations
            .binary_search_by_key(&configuration.id, |c| c.id)
        {
            Ok(_) => Err(SandboxError::DuplicateConfigurationId(configuration.id)),
            Err(at) => {
                let id = configuration.id;
                store.configurations.insert(at, configuration);
                Ok(id)
            }
        }
    }

    /// Removes a configuration; returns it when it was there.
    pub fn remove_configuration(&self, id: i64) -> Option<SandboxConfiguration> {
        let mut store = self.shared.cw.write();
        let at = store
            .configurations
            .binary_search_by_key(&id, |c| c.id)
            .ok()?;
        Some(store.configurations.remove(at))
    }

    /// Changes a configuration in place; returns false when there is no such id. The id itself
    /// cannot be changed this way (remove and add instead).
    pub fn modify_configuration(
        &self,
        id: i64,
        change: impl FnOnce(&mut SandboxConfiguration),
    ) -> bool {
        let mut store = self.shared.cw.write();
        let Ok(at) = store.configurations.binary_search_by_key(&id, |c| c.id) else {
            return false;
        };
        change(&mut store.configurations[at]);
        store.configurations[at].id = id;
        true
    }

    /// Replaces every configuration (kept in id order; later duplicates of an id are dropped).
    pub fn replace_configurations(&self, mut configurations: Vec<SandboxConfiguration>) {
        configurations.sort_by_key(|c| c.id);
        configurations.dedup_by_key(|c| c.id);
        self.shared.cw.write().configurations = configurations;
    }

    /// The configuration types `company/configurations/types` lists.
    pub fn configuration_types(&self) -> Vec<SandboxConfigurationType> {
        self.shared.cw.read().types.clone()
    }

    /// Sets a company's status by name (one of the tenant's statuses, see
    /// [`Self::company_status_list`]; any other name is added to the list as a status that is
    /// not inactive), or `None` to list the company without a status; a company not listed yet
    /// is added (identifier and name `Company N`).
    pub fn set_company_status(&self, company_id: i64, status: Option<&str>) {
        let mut store = self.shared.cw.write();
        let status = status.map(|name| {
            if let Some(known) = store.company_statuses.iter().find(|s| s.name == name) {
                return SandboxRef::new(known.id, name);
            }
            let id = store
                .company_statuses
                .iter()
                .map(|s| s.id)
                .max()
                .unwrap_or(0)
                + 1;
            store.company_statuses.push(SandboxCompanyStatus {
                id,
                name: name.to_owned(),
                inactive_flag: false,
            });
            SandboxRef::new(id, name)
        });
        match store.companies.binary_search_by_key(&company_id, |c| c.id) {
            Ok(at) => store.companies[at].status = status,
            Err(at) => store.companies.insert(
                at,
                SandboxCompanyRecord {
                    id: company_id,
                    identifier: format!("Company{company_id}"),
                    name: format!("Company {company_id}"),
                    status,
                },
            ),
        }
    }

    /// The tenant's company statuses `company/companies/statuses` lists, in id order.
    pub fn company_status_list(&self) -> Vec<SandboxCompanyStatus> {
        self.shared.cw.read().company_statuses.clone()
    }

    /// Marks one of the tenant's company statuses inactive or not (as an admin does in
    /// Setup Tables › Company Status); `false` when the tenant has no status of that name.
    pub fn set_status_inactive(&self, name: &str, inactive: bool) -> bool {
        let mut store = self.shared.cw.write();
        let Some(status) = store.company_statuses.iter_mut().find(|s| s.name == name) else {
            return false;
        };
        status.inactive_flag = inactive;
        true
    }

    // ---- ConnectWise behaviour ----

    /// Cloud mode: bad credentials answer 404 instead of 401, and `IsCloud` is true.
    pub fn set_cloud_mode(&self, cloud_mode: bool) {
        self.shared
            .cw
            .cloud_mode
            .store(cloud_mode, Ordering::Relaxed);
    }

    pub fn cloud_mode(&self) -> bool {
        self.shared.cw.cloud_mode.load(Ordering::Relaxed)
    }

    /// How ConnectWise pages (short pages, no `Link` header, new ids) and which API versions
    /// it accepts.
    pub fn set_connectwise_behaviour(&self, behaviour: ConnectWiseBehaviour) {
        *self
            .shared
            .cw
            .behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = behaviour;
    }

    pub fn connectwise_behaviour(&self) -> ConnectWiseBehaviour {
        self.shared.cw.behaviour()
    }

    /// Latency, rate limit and faults of the ConnectWise server.
    pub fn connectwise_knobs(&self) -> &ServiceKnobs {
        &self.shared.cw.knobs
    }

    /// Every ConnectWise request since start (or the last clear), oldest first.
    pub fn connectwise_requests(&self) -> Vec<ConnectWiseRequest> {
        self.shared
            .cw
            .knobs
            .exchanges()
            .into_iter()
            .map(|e| {
                let param = |name: &str| {
                    e.query.as_deref().and_then(|q| {
                        url::form_urlencoded::parse(q.as_bytes())
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
                    })
                };
                ConnectWiseRequest {
                    page: param("page"),
                    page_size: param("pageSize"),
                    page_id: param("pageId"),
                    method: e.method,
                    path: e.path,
                    query: e.query,
                    status: e.status,
                    response_bytes: e.response_bytes,
                    accept: e.accept,
                    fault: e.fault,
                }
            })
            .collect()
    }

    pub fn clear_connectwise_requests(&self) {
        self.shared.cw.knobs.clear_exchanges();
    }

    // ---- Synthesize ----

    /// Latency, rate limit and faults of the Synthesize server.
    pub fn synthesize_knobs(&self) -> &ServiceKnobs {
        &self.shared.synthesize.knobs
    }

    /// The vendor's services (skus).
    pub fn services(&self) -> Vec<SandboxService> {
        self.shared.synthesize.vendor().services.clone()
    }

    /// Adds a service directly (no validation); returns its id.
    pub fn add_service(
        &self,
        name: &str,
        description: &str,
        category: &str,
        subcategory: &str,
    ) -> String {
        self.shared.synthesize.vendor().add_service(SandboxService {
            id: String::new(),
            name: name.into(),
            description: description.into(),
            category: category.into(),
            subcategory: subcategory.into(),
        })
    }

    /// The id of the service with exactly this name.
    pub fn service_id(&self, name: &str) -> Option<String> {
        self.shared
            .synthesize
            .vendor()
            .services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id.clone())
    }

    pub fn accounts(&self) -> Vec<SandboxAccount> {
        self.shared.synthesize.vendor().accounts.clone()
    }

    /// Adds an account directly; false when the id already exists.
    pub fn add_account(&self, account: SandboxAccount) -> bool {
        let mut vendor = self.shared.synthesize.vendor();
        if vendor.accounts.iter().any(|a| a.id == account.id) {
            return false;
        }
        vendor.accounts.push(account);
        true
    }

    /// Removes every account (as disconnecting the integration in Synthesize does).
    pub fn clear_accounts(&self) {
        self.shared.synthesize.vendor().accounts.clear();
    }

    /// Marks an account id unmapped (count posts answer 404 "No account map found") or mapped.
    /// Works for ids not created yet.
    pub fn set_account_unmapped(&self, account_id: &str, unmapped: bool) {
        let mut vendor = self.shared.synthesize.vendor();
        if unmapped {
            vendor.unmapped.insert(account_id.to_owned());
        } else {
            vendor.unmapped.remove(account_id);
        }
    }

    pub fn unmapped_account_ids(&self) -> Vec<String> {
        self.shared
            .synthesize
            .vendor()
            .unmapped
            .iter()
            .cloned()
            .collect()
    }

    /// The last count posted for (service id, account id).
    pub fn last_count(&self, service_id: &str, account_id: &str) -> Option<u64> {
        self.shared
            .synthesize
            .vendor()
            .counts
            .get(&(service_id.to_owned(), account_id.to_owned()))
            .copied()
    }

    /// Every last count, keyed by (service id, account id).
    pub fn last_counts(&self) -> BTreeMap<(String, String), u64> {
        self.shared.synthesize.vendor().counts.clone()
    }

    /// The integration status (`pending` at start; `active` once a count arrives, as
    /// Synthesize sets it itself).
    pub fn integration_status(&self) -> String {
        self.shared.synthesize.vendor().status.clone()
    }

    /// Sets the integration status directly (as the partner or Gradient would).
    pub fn set_integration_status(&self, status: &str) {
        self.shared.synthesize.vendor().status = status.to_owned();
    }

    /// When the last count arrived (`lastSyncedAt`); `None` before any.
    pub fn last_synced_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.shared.synthesize.vendor().last_synced_at
    }

    /// The shapes Synthesize answers in (ids, `isMapped`, the organization wrapper).
    pub fn set_synthesize_shape(&self, shape: SynthesizeShape) {
        self.shared.synthesize.vendor().shape = shape;
    }

    pub fn synthesize_shape(&self) -> SynthesizeShape {
        self.shared.synthesize.vendor().shape.clone()
    }

    /// Appends a raw item to the skus `GET /api/vendor-api` serves (after the real ones), such
    /// as one without an id, to show what a client does with what it cannot read.
    pub fn push_raw_sku(&self, item: serde_json::Value) {
        self.shared.synthesize.vendor().extra_skus.push(item);
    }

    /// Appends a raw item to the accounts list as served.
    pub fn push_raw_account(&self, item: serde_json::Value) {
        self.shared.synthesize.vendor().extra_accounts.push(item);
    }

    /// Every Synthesize request since start (or the last clear), oldest first.
    pub fn synthesize_requests(&self) -> Vec<SynthesizeRequest> {
        self.shared
            .synthesize
            .knobs
            .exchanges()
            .into_iter()
            .map(|e| SynthesizeRequest {
                method: e.method,
                path: e.path,
                status: e.status,
                body: e.request_body,
                fault: e.fault,
            })
            .collect()
    }

    pub fn clear_synthesize_requests(&self) {
        self.shared.synthesize.knobs.clear_exchanges();
    }
}

/// The running sandbox. Dropping it shuts both servers down.
pub struct Sandbox {
    handle: SandboxHandle,
    urls: Urls,
    shutdown: CancellationToken,
    background: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("cw_site_url", &self.urls.cw_site.as_str())
            .field("synthesize_url", &self.urls.synthesize.as_str())
            .field("background", &self.background.is_some())
            .finish_non_exhaustive()
    }
}

/// What `start_servers` hands back: the parts of a `Sandbox` and the server tasks.
struct Started {
    handle: SandboxHandle,
    urls: Urls,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn start_servers(
    config: SandboxConfig,
    tls: Option<SandboxTls>,
    shutdown: CancellationToken,
) -> Result<Started, SandboxError> {
    let acceptor = tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()
        .map_err(SandboxError::Tls)?;
    let cw_listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(SandboxError::Bind)?;
    let synthesize_listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(SandboxError::Bind)?;
    let cw_addr = cw_listener.local_addr().map_err(SandboxError::Bind)?;
    let synthesize_addr = synthesize_listener
        .local_addr()
        .map_err(SandboxError::Bind)?;
    let (scheme, host) = match &tls {
        Some(tls) => ("https", tls.host.as_str()),
        None => ("http", "127.0.0.1"),
    };
    let urls = Urls::new(scheme, host, cw_addr.port(), synthesize_addr.port())?;

    let companies = data::generate_companies(config.seed, config.companies);
    let store = Store {
        version: 0,
        configurations: data::generate_configurations(
            config.seed,
            &companies,
            config.configurations,
        ),
        types: data::configuration_types(),
        companies: data::company_records(&companies),
        company_statuses: data::company_status_list(),
    };
    let cw = Arc::new(ConnectWiseState::new(
        store,
        config.cloud_mode,
        format!("{scheme}://{host}:{}", cw_addr.port()),
    ));
    let synthesize = Arc::new(SynthesizeState::new());

    let cw_app = connectwise::router(cw.clone())
        .layer(axum::middleware::from_fn_with_state(
            knobs::KnobLayerState {
                knobs: cw.knobs.clone(),
                classify: connectwise::classify,
                shutdown: shutdown.clone(),
                error_body: connectwise::error_body,
            },
            knobs::apply_knobs,
        ))
        .with_state(cw.clone());
    let synthesize_app = synthesize::router(synthesize.clone())
        .layer(axum::middleware::from_fn_with_state(
            knobs::KnobLayerState {
                knobs: synthesize.knobs.clone(),
                classify: |_| knobs::RequestShape::default(),
                shutdown: shutdown.clone(),
                error_body: synthesize::error_body,
            },
            knobs::apply_knobs,
        ))
        .with_state(synthesize.clone());

    let mut tasks = Vec::new();
    for (listener, app) in [(cw_listener, cw_app), (synthesize_listener, synthesize_app)] {
        let stop = shutdown.clone();
        match &acceptor {
            None => tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(e) = served {
                    tracing::warn!("sandbox server stopped: {e}");
                }
            })),
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor.clone(), stop.clone())
                    .map_err(SandboxError::Bind)?;
                tasks.push(tokio::spawn(async move {
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await;
                    if let Err(e) = served {
                        tracing::warn!("sandbox server stopped: {e}");
                    }
                }));
            }
        }
    }
    Ok(Started {
        handle: SandboxHandle {
            shared: Arc::new(Shared { cw, synthesize }),
        },
        urls,
        tasks,
    })
}

/// How long a background sandbox waits for open connections when it is dropped.
const BACKGROUND_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

impl Sandbox {
    /// Starts both servers on the current tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Self::start_with(config, None).await
    }

    /// Starts both servers serving https with `tls` on the current tokio runtime.
    pub async fn start_tls(
        config: SandboxConfig,
        tls: SandboxTls,
    ) -> Result<Sandbox, SandboxError> {
        Self::start_with(config, Some(tls)).await
    }

    async fn start_with(
        config: SandboxConfig,
        tls: Option<SandboxTls>,
    ) -> Result<Sandbox, SandboxError> {
        let shutdown = CancellationToken::new();
        let started = start_servers(config, tls, shutdown.clone()).await?;
        Ok(Sandbox {
            handle: started.handle,
            urls: started.urls,
            shutdown,
            background: None,
        })
    }

    /// Starts both servers on a runtime of their own in a background thread (for the demo
    /// window, synchronous tests and CLI tests). Dropping the sandbox stops the thread.
    pub fn start_in_background(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Self::start_in_background_with(config, None)
    }

    /// [`Sandbox::start_in_background`], serving https with `tls`.
    pub fn start_in_background_tls(
        config: SandboxConfig,
        tls: SandboxTls,
    ) -> Result<Sandbox, SandboxError> {
        Self::start_in_background_with(config, Some(tls))
    }

    fn start_in_background_with(
        config: SandboxConfig,
        tls: Option<SandboxTls>,
    ) -> Result<Sandbox, SandboxError> {
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("sandbox".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sandbox-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(SandboxError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start_servers(config, tls, stop.clone()).await {
                        Ok(started) => {
                            let tasks = started.tasks;
                            let ready = (started.handle, started.urls);
                            if ready_tx.send(Ok(ready)).is_err() {
                                stop.cancel();
                            }
                            stop.cancelled().await;
                            let all = futures_util::future::join_all(tasks);
                            let _ = tokio::time::timeout(BACKGROUND_SHUTDOWN_GRACE, all).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(SandboxError::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok((handle, urls))) => Ok(Sandbox {
                handle,
                urls,
                shutdown,
                background: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(SandboxError::ThreadStopped)
            }
        }
    }

    /// The ConnectWise site: `http://127.0.0.1:P` (`login/companyinfo` is here).
    pub fn cw_site_url(&self) -> Url {
        self.urls.cw_site.clone()
    }

    /// The ConnectWise API base: `http://127.0.0.1:P/v4_6_release/apis/3.0`.
    pub fn cw_api_url(&self) -> Url {
        self.urls.cw_api.clone()
    }

    /// The Synthesize base URL: `http://127.0.0.1:Q`.
    pub fn synthesize_url(&self) -> Url {
        self.urls.synthesize.clone()
    }

    pub fn handle(&self) -> SandboxHandle {
        self.handle.clone()
    }
}

/// The sandbox's three URLs, made once at start.
#[derive(Debug, Clone)]
struct Urls {
    cw_site: Url,
    cw_api: Url,
    synthesize: Url,
}

impl Urls {
    fn new(scheme: &str, host: &str, cw: u16, synthesize: u16) -> Result<Self, SandboxError> {
        let parse = |text: String| Url::parse(&text).map_err(|e| SandboxError::Url(e.to_string()));
        Ok(Self {
            cw_site: parse(format!("{scheme}://{host}:{cw}/"))?,
            cw_api: parse(format!("{scheme}://{host}:{cw}{SANDBOX_API_PATH}"))?,
            synthesize: parse(format!("{scheme}://{host}:{synthesize}/"))?,
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.background.take() {
            let _ = thread.join();
        }
    }
}
