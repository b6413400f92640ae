//! The emulated ConnectWise PSA: `login/companyinfo`, and under `/v4_6_release/apis/3.0` the
//! configurations list, count and types, and `system/info`, with its auth, paging and filters.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use base64::Engine as _;

use super::conditions::{Condition, Filterable, OrderBy};
use super::data::{
    SandboxCompanyRecord, SandboxCompanyStatus, SandboxConfiguration, SandboxConfigurationType,
};
use super::json::Projection;
use super::knobs::{PageFault, RequestShape, ServiceKnobs};
use super::{SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PRIVATE_KEY, SANDBOX_PUBLIC_KEY};

/// The API path prefix the sandbox serves (the `v4_6_release/` codebase router).
pub(crate) const API_PREFIX: &str = "/v4_6_release/apis/3.0";
pub(crate) const DEFAULT_PAGE_SIZE: usize = 25;
pub(crate) const MAX_PAGE_SIZE: usize = 1000;
const FILTER_CACHE_ENTRIES: usize = 16;

/// The tenant's records, kept sorted by id.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Bumped on every change so cached filter results are never stale.
    pub version: u64,
    pub configurations: Vec<SandboxConfiguration>,
    pub types: Vec<SandboxConfigurationType>,
    /// What `company/companies` lists, in id order.
    pub companies: Vec<SandboxCompanyRecord>,
    /// What `company/companies/statuses` lists, in id order.
    pub company_statuses: Vec<SandboxCompanyStatus>,
}

/// Which list a cached selection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Resource {
    Configurations,
    Types,
    Companies,
    CompanyStatuses,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SelectionKey {
    resource: Resource,
    conditions: String,
    order_by: String,
}

/// Positions of the records a `conditions`/`orderBy` pair selects, cached per store version so
/// the pages of one fetch filter the tenant once, not once per page.
#[derive(Debug, Default)]
struct SelectionCache {
    version: u64,
    entries: HashMap<SelectionKey, Arc<Vec<u32>>>,
}

/// How a configuration is written so that it does not parse as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreadableRecord {
    /// `id` is a string that is not a number (`"cfg-1234"`); its company can still be read.
    IdNotANumber,
    /// `company.id` is a string that is not a number (`"company-17"`): its company cannot be
    /// read.
    CompanyIdNotANumber,
    /// `company` is a string (the company's name) rather than an object: its company cannot be
    /// read.
    CompanyNotAnObject,
}

impl UnreadableRecord {
    /// `record` (one written object) with the field this case breaks broken; a field the
    /// projection left out stays out.
    fn break_record(self, record: &str) -> String {
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(record) else {
            return record.to_owned();
        };
        let Some(object) = value.as_object_mut() else {
            return record.to_owned();
        };
        match self {
            UnreadableRecord::IdNotANumber => {
                if let Some(id) = object.get_mut("id") {
                    *id = serde_json::Value::from(format!("cfg-{id}"));
                }
            }
            UnreadableRecord::CompanyIdNotANumber => {
                if let Some(id) = object
                    .get_mut("company")
                    .and_then(|c| c.as_object_mut())
                    .and_then(|c| c.get_mut("id"))
                {
                    *id = serde_json::Value::from(format!("company-{id}"));
                }
            }
            UnreadableRecord::CompanyNotAnObject => {
                if let Some(company) = object.get_mut("company") {
                    let name = company["name"].as_str().unwrap_or("unknown").to_owned();
                    *company = serde_json::Value::from(name);
                }
            }
        }
        value.to_string()
    }
}

/// How the emulated ConnectWise pages and which API versions it accepts. The default is what the
/// public record describes; the rest are behaviours real servers have been seen to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectWiseBehaviour {
    /// Serve at most this many records a page whatever `pageSize` asks, while the `Link` header
    /// still names the next page (public client issues report servers doing this).
    pub max_records_per_page: Option<usize>,
    /// Leave the `Link` header out of list answers (some endpoints send none).
    pub omit_link_header: bool,
    /// Before each page of configurations is served, add this many new configurations above
    /// the highest id: a server that keeps issuing new ids.
    pub new_configurations_per_page: usize,
    /// Once, right after the next page of configurations is served, add this many new
    /// configurations above the highest id (records created in ConnectWise during a fetch):
    /// `/company/configurations/count` answers that many more from then on. Set back to 0 when
    /// spent.
    pub configurations_added_after_first_page: usize,
    /// Configurations (by id) written so that they cannot be read as configurations, the rest
    /// of each record as usual; `/count` still counts them.
    pub unreadable_records: BTreeMap<i64, UnreadableRecord>,
    /// The API versions `Accept: application/vnd.connectwise.com+json; version=YYYY.N` may pin,
    /// inclusive, as (year, release); others are refused as ConnectWise refuses them.
    pub oldest_api_version: (u32, u32),
    pub newest_api_version: (u32, u32),
}

impl Default for ConnectWiseBehaviour {
    fn default() -> Self {
        Self {
            max_records_per_page: None,
            omit_link_header: false,
            new_configurations_per_page: 0,
            configurations_added_after_first_page: 0,
            unreadable_records: BTreeMap::new(),
            oldest_api_version: (2019, 1),
            newest_api_version: (2025, 1),
        }
    }
}

/// Everything the ConnectWise routes share.
#[derive(Debug)]
pub(crate) struct ConnectWiseState {
    store: RwLock<Store>,
    cache: Mutex<SelectionCache>,
    pub behaviour: Mutex<ConnectWiseBehaviour>,
    pub cloud_mode: AtomicBool,
    pub knobs: ServiceKnobs,
    /// `http://127.0.0.1:P`, no trailing slash.
    pub site_url: String,
}

impl ConnectWiseState {
    pub(crate) fn new(store: Store, cloud_mode: bool, site_url: String) -> Self {
        Self {
            store: RwLock::new(store),
            cache: Mutex::new(SelectionCache::default()),
            behaviour: Mutex::new(ConnectWiseBehaviour::default()),
            cloud_mode: AtomicBool::new(cloud_mode),
            knobs: ServiceKnobs::default(),
            site_url,
        }
    }

    pub(crate) fn api_base(&self) -> String {
        format!("{}{API_PREFIX}", self.site_url)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access; the version is bumped so cached selections are dropped.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
        store.version += 1;
        store
    }

    fn cloud(&self) -> bool {
        self.cloud_mode.load(Ordering::Relaxed)
    }

    pub(crate) fn behaviour(&self) -> ConnectWiseBehaviour {
        self.behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn selection<R: Filterable>(
        &self,
        resource: Resource,
        version: u64,
        records: &[R],
        conditions: &str,
        order_by: &str,
    ) -> Result<Arc<Vec<u32>>, String> {
        let key = SelectionKey {
            resource,
            conditions: conditions.to_owned(),
            order_by: order_by.to_owned(),
        };
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.version == version
                && let Some(hit) = cache.entries.get(&key)
            {
                return Ok(hit.clone());
            }
        }
        let condition = Condition::parse::<R>(conditions).map_err(|e| e.0)?;
        let order = OrderBy::parse::<R>(order_by).map_err(|e| e.0)?;
        let mut selected: Vec<u32> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| condition.as_ref().is_none_or(|c| c.matches(*r)))
            .map(|(i, _)| i as u32)
            .collect();
        if let Some(order) = &order {
            selected.sort_by(|a, b| order.compare(&records[*a as usize], &records[*b as usize]));
        }
        let selected = Arc::new(selected);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.version != version || cache.entries.len() >= FILTER_CACHE_ENTRIES {
            cache.entries.clear();
            cache.version = version;
        }
        cache.entries.insert(key, selected.clone());
        Ok(selected)
    }
}

/// A record the list routes can write.
trait WriteRecord: Filterable {
    fn write(&self, out: &mut String, projection: Option<&Projection>, api_base: &str);
}

impl WriteRecord for SandboxConfiguration {
    fn write(&self, out: &mut String, projection: Option<&Projection>, api_base: &str) {
        self.write_json(out, projection, api_base);
    }
}

impl WriteRecord for SandboxCompanyRecord {
    fn write(&self, out: &mut String, projection: Option<&Projection>, api_base: &str) {
        self.write_json(out, projection, api_base);
    }
}

impl WriteRecord for SandboxCompanyStatus {
    fn write(&self, out: &mut String, projection: Option<&Projection>, _api_base: &str) {
        self.write_json(out, projection);
    }
}

impl WriteRecord for SandboxConfigurationType {
    fn write(&self, out: &mut String, projection: Option<&Projection>, api_base: &str) {
        self.write_json(out, projection, api_base);
    }
}

type CwState = Arc<ConnectWiseState>;

/// ConnectWise's error body: `{"code","message"}`.
pub(crate) fn error_body(status: StatusCode, message: &str) -> serde_json::Value {
    let code = match status.as_u16() {
        400 => "InvalidObject",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        429 => "TooManyRequests",
        _ => "UnexpectedError",
    };
    serde_json::json!({ "code": code, "message": message })
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, error_body(status, message).to_string())
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Tells the knob middleware which requests are record lists and which are later pages.
pub(crate) fn classify(request: &Request) -> RequestShape {
    let path = request.uri().path();
    let is_list = request.method() == axum::http::Method::GET
        && (path.ends_with("/company/configurations")
            || path.ends_with("/company/configurations/types")
            || path.ends_with("/company/companies")
            || path.ends_with("/company/companies/statuses"));
    let mut has_previous_page = false;
    if let Some(query) = request.uri().query() {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if k.eq_ignore_ascii_case("pageId")
                || (k.eq_ignore_ascii_case("page") && v.trim().parse::<i64>().is_ok_and(|p| p >= 2))
            {
                has_previous_page = true;
            }
        }
    }
    RequestShape {
        is_list,
        has_previous_page,
    }
}

pub(crate) fn router(state: CwState) -> Router<CwState> {
    let api = Router::new()
        .route("/company/configurations", get(list_configurations))
        .route("/company/configurations/count", get(count_configurations))
        .route("/company/configurations/types", get(list_types))
        .route("/company/companies", get(list_companies))
        .route("/company/companies/statuses", get(list_company_statuses))
        .route("/system/info", get(system_info))
        .fallback(api_not_found)
        .layer(axum::middleware::from_fn_with_state(state, require_auth));
    Router::new()
        .route("/login/companyinfo/{company_id}", get(company_info))
        .nest(API_PREFIX, api)
        .fallback(site_not_found)
}

async fn site_not_found() -> Response {
    error(StatusCode::NOT_FOUND, "The sandbox has no such page")
}

async fn api_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The sandbox does not emulate this API path",
    )
}

async fn company_info(State(cw): State<CwState>, Path(company_id): Path<String>) -> Response {
    if !company_id.eq_ignore_ascii_case(SANDBOX_COMPANY_ID) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No company found with id {company_id}"),
        );
    }
    let host = cw
        .site_url
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    json(
        StatusCode::OK,
        serde_json::json!({
            "CompanyName": "Sandbox MSP",
            "Codebase": "v4_6_release/",
            "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.98765",
            "CompanyID": SANDBOX_COMPANY_ID,
            "IsCloud": cw.cloud(),
            "SiteUrl": host,
        })
        .to_string(),
    )
}

/// Basic auth of `companyId+publicKey:privateKey` and a `clientId` header.
///
/// A missing or empty `clientId` is 400 "clientId header is required" (it is not a credential
/// check, so cloud mode does not change it); wrong keys or an unknown clientId are 401, or 404
/// in cloud mode, as cloud sites answer.
async fn require_auth(State(cw): State<CwState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let client_id = headers
        .get("clientId")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if client_id.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "clientId header is required: send the clientId issued on the ConnectWise developer portal",
        );
    }
    let refuse = |message: &str| {
        if cw.cloud() {
            error(
                StatusCode::NOT_FOUND,
                "The requested resource was not found",
            )
        } else {
            error(StatusCode::UNAUTHORIZED, message)
        }
    };
    if !credentials_match(headers) {
        return refuse("Authentication failed: the company id, public key or private key is wrong");
    }
    if client_id != SANDBOX_CLIENT_ID {
        return refuse("clientId is not recognised");
    }
    if let Some(version) = pinned_api_version(request.headers())
        && !cw.accepts_api_version(&version)
    {
        let uri = request.extensions().get::<OriginalUri>().map_or_else(
            || request.uri().path().to_owned(),
            |o| o.0.path().to_owned(),
        );
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({
                "code": "ConnectWiseApi",
                "message": format!(
                    "The HTTP resource that matches the request URI '{}{uri}' does not support the API version '{version}'.",
                    cw.site_url
                ),
            })
            .to_string(),
        );
    }
    next.run(request).await
}

/// The version an `Accept: application/vnd.connectwise.com+json; version=…` header pins, if any.
fn pinned_api_version(headers: &HeaderMap) -> Option<String> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|media| {
        let mut parts = media.split(';').map(str::trim);
        let kind = parts.next()?;
        if !kind.eq_ignore_ascii_case("application/vnd.connectwise.com+json") {
            return None;
        }
        parts.find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("version")
                .then(|| value.trim().trim_matches('"').to_owned())
        })
    })
}

impl ConnectWiseState {
    /// Whether a pinned version is one this server serves: `YYYY.N` within its range. Other
    /// forms (`3.0.0`) are refused, as servers refused them ("… API version '0.0'").
    fn accepts_api_version(&self, version: &str) -> bool {
        let behaviour = self.behaviour();
        let Some((year, release)) = version.split_once('.') else {
            return false;
        };
        match (year.parse::<u32>(), release.parse::<u32>()) {
            (Ok(year), Ok(release)) => (behaviour.oldest_api_version
                ..=behaviour.newest_api_version)
                .contains(&(year, release)),
            _ => false,
        }
    }
}

fn credentials_match(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, private_key)) = decoded.split_once(':') else {
        return false;
    };
    let Some((company, public_key)) = user.split_once('+') else {
        return false;
    };
    company.eq_ignore_ascii_case(SANDBOX_COMPANY_ID)
        && public_key == SANDBOX_PUBLIC_KEY
        && private_key == SANDBOX_PRIVATE_KEY
}

async fn system_info(State(cw): State<CwState>) -> Response {
    json(
        StatusCode::OK,
        serde_json::json!({
            "version": "v2025.1.98765",
            "isCloud": cw.cloud(),
            "serverTimeZone": "Eastern Standard Time",
            "cloudRegion": "NA",
            "licenseBits": [{"name": "Sandbox", "activeFlag": true}],
        })
        .to_string(),
    )
}

/// The list parameters, read case-insensitively.
#[derive(Debug, Default)]
struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn positive(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                Ok(n) => Err(format!("{name} must be 1 or more, not {n}")),
                Err(_) => Err(format!("{name} must be a whole number, not \"{v}\"")),
            },
        }
    }
}

fn is_forward_only(headers: &HeaderMap) -> bool {
    headers
        .get("pagination-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"))
}

async fn list_configurations(State(cw): State<CwState>, request: Request) -> Response {
    let grow = cw.behaviour().new_configurations_per_page;
    if grow > 0 {
        // New ids appear before each page is served, so every page sees more beyond it.
        add_configurations(&mut cw.write(), grow);
    }
    let response = {
        let store = cw.read();
        list(
            &cw,
            &request,
            Resource::Configurations,
            store.version,
            &store.configurations,
        )
    };
    let added = std::mem::take(
        &mut cw
            .behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .configurations_added_after_first_page,
    );
    if added > 0 && response.status() == StatusCode::OK {
        add_configurations(&mut cw.write(), added);
    } else if added > 0 {
        // Not served: the change waits for a page that is.
        cw.behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .configurations_added_after_first_page = added;
    }
    response
}

/// Adds `n` configurations above the highest id, with the type and company of the first one.
fn add_configurations(store: &mut Store, n: usize) {
    let template = store.configurations.first().cloned();
    for _ in 0..n {
        let id = store.configurations.last().map_or(1, |c| c.id + 1);
        let mut added = SandboxConfiguration::new(id, format!("License {id}"));
        if let Some(template) = &template {
            added.config_type = template.config_type.clone();
            added.company = template.company.clone();
        }
        store.configurations.push(added);
    }
}

async fn list_types(State(cw): State<CwState>, request: Request) -> Response {
    let store = cw.read();
    list(&cw, &request, Resource::Types, store.version, &store.types)
}

async fn list_companies(State(cw): State<CwState>, request: Request) -> Response {
    let store = cw.read();
    list(
        &cw,
        &request,
        Resource::Companies,
        store.version,
        &store.companies,
    )
}

async fn list_company_statuses(State(cw): State<CwState>, request: Request) -> Response {
    let store = cw.read();
    list(
        &cw,
        &request,
        Resource::CompanyStatuses,
        store.version,
        &store.company_statuses,
    )
}

async fn count_configurations(State(cw): State<CwState>, request: Request) -> Response {
    let query = ListQuery::parse(request.uri().query());
    let store = cw.read();
    match cw.selection(
        Resource::Configurations,
        store.version,
        &store.configurations,
        query.get("conditions").unwrap_or(""),
        "",
    ) {
        Ok(selected) => json(
            StatusCode::OK,
            serde_json::json!({ "count": selected.len() }).to_string(),
        ),
        Err(message) => error(StatusCode::BAD_REQUEST, &message),
    }
}

/// What a list request asks for: its paging, order and filter, checked.
struct PageRequest<'q> {
    forward_only: bool,
    page_size: usize,
    /// The page number (numbered paging).
    page: usize,
    /// The last id of the previous page (forward-only paging).
    page_id: Option<i64>,
    order_by: &'q str,
    conditions: &'q str,
}

impl<'q> PageRequest<'q> {
    /// The request's paging, or the 400 answer naming what is wrong.
    fn parse(
        query: &'q ListQuery,
        headers: &HeaderMap,
        max_records_per_page: Option<usize>,
    ) -> Result<Self, Box<Response>> {
        let bad = |message: &str| Box::new(error(StatusCode::BAD_REQUEST, message));
        let forward_only = is_forward_only(headers);
        let page_size = query
            .positive("pageSize", DEFAULT_PAGE_SIZE)
            .map_err(|m| bad(&m))?
            .min(MAX_PAGE_SIZE)
            .min(max_records_per_page.unwrap_or(usize::MAX).max(1));
        let page = query.positive("page", 1).map_err(|m| bad(&m))?;
        let order_by = query.get("orderBy").unwrap_or("").trim();
        if forward_only && !order_by.is_empty() {
            return Err(bad(
                "orderBy cannot be used with forward-only pagination; remove orderBy (records come in id order)",
            ));
        }
        let page_id = match query.get("pageId").map(str::trim) {
            Some(v) if forward_only && !v.is_empty() => Some(v.parse::<i64>().map_err(|_| {
                bad(&format!(
                    "pageId must be a record id (a whole number), not \"{v}\""
                ))
            })?),
            _ => None,
        };
        Ok(Self {
            forward_only,
            page_size,
            page,
            page_id,
            order_by,
            conditions: query.get("conditions").unwrap_or(""),
        })
    }

    /// Which positions of `selected` this page serves (`start..end`), and the position where
    /// the previous page ended.
    fn bounds<R: WriteRecord>(
        &self,
        records: &[R],
        selected: &[u32],
    ) -> (usize, usize, Option<usize>) {
        let start = if self.forward_only {
            match self.page_id {
                Some(id) => selected.partition_point(|i| records[*i as usize].record_id() <= id),
                None => 0,
            }
        } else {
            (self.page - 1)
                .saturating_mul(self.page_size)
                .min(selected.len())
        };
        let previous = if self.forward_only {
            start.checked_sub(1)
        } else {
            (self.page > 1 && start > 0).then(|| start - 1)
        };
        (
            start,
            (start + self.page_size).min(selected.len()),
            previous,
        )
    }

    /// The `Link` relations of a page that ended at position `end` of `selected`.
    fn links<R: WriteRecord>(
        &self,
        cw: &ConnectWiseState,
        request: &Request,
        records: &[R],
        selected: &[u32],
        end: usize,
    ) -> Vec<(&'static str, String)> {
        if self.forward_only {
            let more = end < selected.len();
            return match (more, end.checked_sub(1)) {
                (true, Some(last)) => {
                    let last_id = records[selected[last] as usize].record_id();
                    vec![(
                        "next",
                        link_url(cw, request, &[("pageId", last_id.to_string())], &["page"]),
                    )]
                }
                _ => Vec::new(),
            };
        }
        let page = self.page;
        let last_page = selected.len().div_ceil(self.page_size).max(1);
        let to = |p: usize| link_url(cw, request, &[("page", p.to_string())], &[]);
        let mut links = Vec::new();
        if page > 1 {
            links.push(("first", to(1)));
            links.push(("prev", to((page - 1).min(last_page))));
        }
        if page < last_page {
            links.push(("next", to(page + 1)));
            links.push(("last", to(last_page)));
        }
        links
    }
}

/// One page of a list, numbered or forward-only, with its `Link` header and any page fault.
fn list<R: WriteRecord>(
    cw: &ConnectWiseState,
    request: &Request,
    resource: Resource,
    version: u64,
    records: &[R],
) -> Response {
    let query = ListQuery::parse(request.uri().query());
    let behaviour = cw.behaviour();
    let paging = match PageRequest::parse(&query, request.headers(), behaviour.max_records_per_page)
    {
        Ok(paging) => paging,
        Err(answer) => return *answer,
    };
    let selected = match cw.selection(
        resource,
        version,
        records,
        paging.conditions,
        paging.order_by,
    ) {
        Ok(selected) => selected,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let projection = query.get("fields").and_then(Projection::parse);
    let fault = request.extensions().get::<PageFault>().copied();

    let (start, end, previous) = paging.bounds(records, &selected);
    let mut served: Vec<u32> = Vec::with_capacity(end - start + 1);
    if fault == Some(PageFault::MoveRecord)
        && let Some(previous) = previous
    {
        served.push(selected[previous]);
    }
    served.extend_from_slice(&selected[start..end]);
    let malformed_at = (fault == Some(PageFault::MalformedRecord) && !served.is_empty())
        .then_some(served.len() / 2);
    let none_unreadable = BTreeMap::new();
    let unreadable = match resource {
        Resource::Configurations => &behaviour.unreadable_records,
        Resource::Types | Resource::Companies | Resource::CompanyStatuses => &none_unreadable,
    };
    let body = page_body(
        records,
        &served,
        (malformed_at, unreadable),
        projection.as_ref(),
        &cw.api_base(),
    );

    let mut response = json(StatusCode::OK, body);
    let links = paging.links(cw, request, records, &selected, end);
    if !links.is_empty() && !behaviour.omit_link_header {
        let value = links
            .iter()
            .map(|(rel, url)| format!("<{url}>; rel=\"{rel}\""))
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// The JSON array of the `served` records; the one at `malformed_at` is written so that it
/// does not parse (its company is a string), and so are the `unreadable` ones (by id).
fn page_body<R: WriteRecord>(
    records: &[R],
    served: &[u32],
    (malformed_at, unreadable): (Option<usize>, &BTreeMap<i64, UnreadableRecord>),
    projection: Option<&Projection>,
    api_base: &str,
) -> String {
    let mut body = String::with_capacity(served.len() * 2600 + 2);
    body.push('[');
    for (n, index) in served.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        let record = &records[*index as usize];
        if malformed_at == Some(n) {
            body.push_str(&format!(
                "{{\"id\":{},\"company\":\"x\"}}",
                record.record_id()
            ));
        } else if let Some(how) = unreadable.get(&record.record_id()) {
            let mut plain = String::new();
            record.write(&mut plain, projection, api_base);
            body.push_str(&how.break_record(&plain));
        } else {
            record.write(&mut body, projection, api_base);
        }
    }
    body.push(']');
    body
}

/// The request's own absolute URL with `set` parameters replaced (or added) and `drop` removed;
/// every other parameter is kept. Commas in values are percent-encoded, so the `Link` header
/// can be split on commas.
fn link_url(
    cw: &ConnectWiseState,
    request: &Request,
    set: &[(&str, String)],
    drop: &[&str],
) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    let mut done = vec![false; set.len()];
    for (k, v) in ListQuery::parse(request.uri().query()).pairs {
        if drop.iter().any(|d| d.eq_ignore_ascii_case(&k)) {
            continue;
        }
        match set
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(&k))
        {
            Some(i) if !done[i] => {
                serializer.append_pair(&k, &set[i].1);
                done[i] = true;
            }
            Some(_) => {}
            None => {
                serializer.append_pair(&k, &v);
            }
        }
    }
    for (i, (name, value)) in set.iter().enumerate() {
        if !done[i] {
            serializer.append_pair(name, value);
        }
    }
    // Inside the nested API router the URI is stripped of its prefix; the original has it.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |o| o.0.path());
    format!("{}{}?{}", cw.site_url, path, serializer.finish())
}
