//! The ConnectWise PSA client: site and codebase discovery, authentication, paged fetching of
//! configurations (each page handed to a [`PageSink`] as it arrives), retries, progress and
//! cancellation. What to fetch comes as a [`ServerFilter`]; [`query`] writes it in
//! ConnectWise's syntax. Counting is not done here.

pub mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use super::error::{Service, TransportError};
use super::http::{
    AttemptError, HttpFailure, HttpSettings, TransportFailure, UrlProblem, build_http_client,
    check_transport, join_path,
};
use super::retry::{Idempotency, with_retries};

/// The service this client's errors name.
const SERVICE: Service = Service::ConnectWise;
use crate::domain::adjustments::CompanyStatusList;
use crate::domain::configuration::ConfigurationPage;
use crate::domain::counting::ServerFilter;

/// The codebase that always routes to the tenant's current version.
pub const DEFAULT_CODEBASE: &str = "v4_6_release/";
/// The largest page ConnectWise serves.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The API version the product pins with `Accept: application/vnd.connectwise.com+json;
/// version=…` unless the profile names another: every field the product reads exists in it,
/// and cloud and supported on-premise servers accept it.
pub const DEFAULT_API_VERSION: &str = "2022.1";
/// Pages of configuration types read at most (a pick list; a server that keeps saying `next`
/// must not be read forever).
const MAX_TYPE_PAGES: usize = 100;
/// Pages of companies read at most for their statuses (1000 a page: a million companies).
pub const MAX_COMPANY_PAGES: usize = 1000;
/// The paging cap: configurations read beyond what `/count` said, at most. A tenant that grows
/// during a fetch stays well within it; a server that keeps issuing new ids does not.
fn paging_cap(counted: u64) -> u64 {
    counted.saturating_add((counted / 10).max(u64::from(MAX_PAGE_SIZE)))
}

/// The `Accept` header for an API version; the version must look like one (`2022.1`, `3.0.0`).
pub fn accept_header_for(version: &str) -> Result<String, TransportError> {
    let version = version.trim();
    let looks_like_a_version = !version.is_empty()
        && version.len() <= 16
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
        && version.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !looks_like_a_version {
        return Err(TransportError::Setup(format!(
            "ConnectWise API version \"{version}\": write it as year.release, for example {DEFAULT_API_VERSION}, or leave it empty for the default"
        )));
    }
    Ok(format!(
        "application/vnd.connectwise.com+json; version={version}"
    ))
}

/// Where to reach ConnectWise: a site to discover the API from, or the API base itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectWiseTarget {
    /// A site URL (`https://na.myconnectwise.net`, an on-premise host); the API base is
    /// discovered through `login/companyinfo`.
    Site(Url),
    /// The full API base URL (`https://api-na.myconnectwise.net/v4_6_release/apis/3.0`).
    ApiBase(Url),
}

impl ConnectWiseTarget {
    /// Parses a site URL typed by the user, refusing plain http to anything but loopback.
    pub fn site(value: &str) -> Result<Self, UrlProblem> {
        Ok(Self::Site(super::http::parse_service_url(
            "ConnectWise site URL",
            value,
        )?))
    }

    /// Parses an API base URL typed by the user.
    pub fn api_base(value: &str) -> Result<Self, UrlProblem> {
        Ok(Self::ApiBase(super::http::parse_service_url(
            "ConnectWise API URL",
            value,
        )?))
    }
}

/// The four things ConnectWise needs to let the product in.
#[derive(Clone)]
pub struct ConnectWiseCredentials {
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
}

impl std::fmt::Debug for ConnectWiseCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectWiseCredentials")
            .field("company_id", &self.company_id)
            .field("public_key", &"<redacted>")
            .field("private_key", &"<redacted>")
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// How pages are requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PagingStrategy {
    /// The id range split into `max_in_flight` slices, each read forward-only (`pageId`) in
    /// parallel: as fast as numbered pages, and a record added or deleted mid-fetch can never
    /// make another one be skipped.
    #[default]
    IdRanges,
    /// Ask `/count` first, then request numbered pages, several in flight.
    ParallelPages,
    /// `pagination-type: forward-only` with `pageId`: one page after another.
    ForwardOnly,
}

/// Everything the client needs.
#[derive(Debug, Clone)]
pub struct ConnectWiseSettings {
    pub target: ConnectWiseTarget,
    pub credentials: ConnectWiseCredentials,
    pub http: HttpSettings,
    pub page_size: u32,
    pub max_in_flight: usize,
    pub paging: PagingStrategy,
    /// Send the server-side `conditions` filter and the `fields` projection (benchmarks turn
    /// these off to show what they save).
    pub server_filter: bool,
    /// The API version pinned in the `Accept` header; `None`: [`DEFAULT_API_VERSION`].
    pub api_version: Option<String>,
}

impl ConnectWiseSettings {
    /// The API version the client will pin.
    pub fn api_version(&self) -> &str {
        self.api_version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_API_VERSION)
    }

    pub fn new(target: ConnectWiseTarget, credentials: ConnectWiseCredentials) -> Self {
        Self {
            target,
            credentials,
            http: HttpSettings::default(),
            page_size: MAX_PAGE_SIZE,
            max_in_flight: 4,
            paging: PagingStrategy::default(),
            server_filter: true,
            api_version: None,
        }
    }
}

/// What `login/companyinfo` told us about the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub company_name: String,
    pub codebase: String,
    pub version: String,
    pub is_cloud: bool,
    pub site_url: String,
    /// The API base the client will use.
    pub api_base: Url,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompanyInfo {
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default)]
    codebase: Option<String>,
    #[serde(default)]
    version_code: Option<String>,
    #[serde(default)]
    is_cloud: Option<bool>,
    #[serde(default)]
    site_url: Option<String>,
}

/// Progress of a fetch, sent as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchProgress {
    pub pages_fetched: u64,
    /// Known after `/count` (parallel pages), or estimated from the `Link` header.
    pub pages_expected: Option<u64>,
    pub configurations_read: u64,
}

/// Requests the fetch made (read by tests and the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchStats {
    pub requests: u64,
    pub retries: u64,
    pub bytes_received: u64,
}

/// Where a fetch hands the pages of configurations, as they arrive (in any order when several
/// are in flight).
pub trait PageSink: Send + Sync {
    /// One page, parsed records and unparseable ones.
    fn page(&self, page: &ConfigurationPage);
    /// Forget every page so far: the fetch starts again from the beginning.
    fn restart(&self);
    /// Distinct records taken since the start (or the last restart), parsed or not.
    fn distinct_records(&self) -> u64;
}

/// One step of "Test connection".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStep {
    /// `login/companyinfo` (skipped for a direct API URL).
    CompanyInfo,
    /// An authenticated `system/info`.
    Authenticate,
}

/// The result of "Test connection": what discovery found and which step failed, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    pub discovery: Option<Discovery>,
    pub version: Option<String>,
    pub failed: Option<(ConnectionStep, TransportError)>,
}

/// A ConnectWise PSA client for one tenant.
#[derive(Debug, Clone)]
pub struct ConnectWiseClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ConnectWiseSettings,
    http: reqwest::Client,
    auth_headers: HeaderMap,
    discovery: OnceCell<Discovery>,
    requests: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectWiseClient")
            .field("target", &self.settings.target)
            .field("company_id", &self.settings.credentials.company_id)
            .finish_non_exhaustive()
    }
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("?").to_owned()
}

/// The API base for a site and a codebase: cloud sites (any codebase but the router) need the
/// `api-` host prefix; IP addresses and `localhost` never get it.
pub fn api_base_for(site: &Url, codebase: &str, is_cloud: bool) -> Result<Url, TransportError> {
    let codebase = if codebase.trim().is_empty() {
        DEFAULT_CODEBASE.to_owned()
    } else {
        let c = codebase.trim().trim_start_matches('/').to_owned();
        if c.ends_with('/') { c } else { format!("{c}/") }
    };
    let mut url = site.clone();
    let needs_prefix = codebase != DEFAULT_CODEBASE || is_cloud;
    if let Some(url::Host::Domain(host)) = url.host()
        && needs_prefix
        && !host.eq_ignore_ascii_case("localhost")
        && !host.to_ascii_lowercase().starts_with("api-")
    {
        let prefixed = format!("api-{host}");
        url.set_host(Some(&prefixed))
            .map_err(|e| TransportError::Malformed {
                service: SERVICE,
                detail: format!("cannot form the API host {prefixed}: {e}"),
            })?;
    }
    url.set_path(&format!("/{codebase}apis/3.0"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Whether an error message is ConnectWise refusing the pinned API version ("… does not support
/// the API version '0.0'").
fn rejects_the_api_version(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("api version")
        && (message.contains("not support")
            || message.contains("unsupported")
            || message.contains("not supported")
            || message.contains("invalid"))
}

/// The `Link` header's `rel="next"` URL, when there is one.
fn next_link(headers: &HeaderMap) -> Option<Url> {
    let value = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim().replace(' ', "");
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            let target = target.trim_start_matches('<').trim_end_matches('>');
            return Url::parse(target).ok();
        }
    }
    None
}

#[derive(Debug, Deserialize)]
struct CountBody {
    count: u64,
}

/// Pages and records read by several forward-only chains together, and the paging cap.
struct Tally {
    pages: AtomicU64,
    read: AtomicU64,
    /// What `/count` said, and the most records the chains may read in all.
    counted: u64,
    cap: u64,
}

impl Tally {
    fn new(counted: u64) -> Self {
        Self {
            pages: AtomicU64::new(0),
            read: AtomicU64::new(0),
            counted,
            cap: paging_cap(counted),
        }
    }
}

/// One fetched page: its records and what its `Link` header said.
struct RawPage {
    page: ConfigurationPage,
    /// The `Link` header named a next page.
    has_next: bool,
    /// There was a `Link` header at all (some endpoints send none).
    has_links: bool,
}

impl ConnectWiseClient {
    pub fn new(settings: ConnectWiseSettings) -> Result<Self, TransportError> {
        match &settings.target {
            ConnectWiseTarget::Site(url) => check_transport("ConnectWise site URL", url)?,
            ConnectWiseTarget::ApiBase(url) => check_transport("ConnectWise API URL", url)?,
        }
        let c = &settings.credentials;
        let required = [
            ("Company ID", &c.company_id),
            ("Public key", &c.public_key),
            ("Private key", &c.private_key),
            ("Client ID", &c.client_id),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(TransportError::Setup(format!(
                    "{field}: it is empty; enter the ConnectWise {}",
                    field.to_lowercase()
                )));
            }
        }
        let http =
            build_http_client(&settings.http).map_err(|e| TransportError::Setup(e.to_string()))?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}+{}:{}",
            c.company_id.trim(),
            c.public_key.trim(),
            c.private_key.trim()
        ));
        let mut auth_headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
            TransportError::Setup(
                "Public key / Private key: they hold characters that cannot be sent; paste them again"
                    .into(),
            )
        })?;
        auth.set_sensitive(true);
        auth_headers.insert(AUTHORIZATION, auth);
        let client_id = HeaderValue::from_str(c.client_id.trim()).map_err(|_| {
            TransportError::Setup(
                "Client ID: it holds characters that cannot be sent; paste the GUID again".into(),
            )
        })?;
        auth_headers.insert("clientId", client_id);
        let accept =
            HeaderValue::from_str(&accept_header_for(settings.api_version())?).map_err(|_| {
                TransportError::Setup(
                    "ConnectWise API version: it holds characters that cannot be sent".into(),
                )
            })?;
        auth_headers.insert(ACCEPT, accept);
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                auth_headers,
                discovery: OnceCell::new(),
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            }),
        })
    }

    pub fn settings(&self) -> &ConnectWiseSettings {
        &self.inner.settings
    }

    /// Requests, retries and bytes so far.
    pub fn stats(&self) -> FetchStats {
        FetchStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            bytes_received: self.inner.bytes.load(Ordering::Relaxed),
        }
    }

    fn transport_error(
        url: &Url,
        kind: &TransportFailure,
        detail: &str,
        attempts: usize,
    ) -> TransportError {
        let host = super::http::host_port(url);
        match kind {
            TransportFailure::Dns => TransportError::Dns {
                service: SERVICE,
                host,
            },
            TransportFailure::Tls => TransportError::Tls {
                service: SERVICE,
                host,
                detail: detail.to_owned(),
            },
            TransportFailure::Timeout => TransportError::Timeout {
                service: SERVICE,
                attempts,
            },
            TransportFailure::Connect | TransportFailure::Interrupted => {
                TransportError::Unreachable {
                    service: SERVICE,
                    host,
                    detail: detail.to_owned(),
                }
            }
        }
    }

    /// Maps an API call's failure; `first_call` turns a 404 into the credentials message.
    fn api_error(&self, url: &Url, err: AttemptError, attempts: usize) -> TransportError {
        match err {
            AttemptError::Transport(kind, detail) => {
                Self::transport_error(url, &kind, &detail, attempts)
            }
            AttemptError::Malformed(detail) => TransportError::Malformed {
                service: SERVICE,
                detail,
            },
            AttemptError::Refused(refusal) => TransportError::Refused(SERVICE, refusal),
            AttemptError::Status(HttpFailure {
                status, message, ..
            }) if rejects_the_api_version(&message) => TransportError::ApiVersionRejected {
                version: self.inner.settings.api_version().to_owned(),
                status: status.as_u16(),
                message,
            },
            AttemptError::Status(HttpFailure {
                status, message, ..
            }) => match status.as_u16() {
                401 => TransportError::BadCredentials {
                    service: SERVICE,
                    status: 401,
                    message,
                },
                // Cloud sites answer 404 for bad keys on every API path the product calls.
                404 => TransportError::BadCredentials {
                    service: SERVICE,
                    status: 404,
                    message,
                },
                400 if message.to_lowercase().contains("clientid") => TransportError::BadClientId {
                    status: 400,
                    message,
                },
                403 => TransportError::NoRights,
                429 => TransportError::RateLimited {
                    service: SERVICE,
                    attempts,
                },
                s => TransportError::Http {
                    service: SERVICE,
                    status: s,
                    message,
                },
            },
        }
    }

    /// One GET with retries; `Ok(None)` means cancelled.
    async fn get_with_retries(
        &self,
        url: &Url,
        extra: &[(&'static str, HeaderValue)],
        authenticated: bool,
        cancel: &CancellationToken,
    ) -> Result<Option<(HeaderMap, bytes::Bytes)>, (AttemptError, usize)> {
        self.get_parsed_with_retries(url, extra, authenticated, |h, b| Ok((h, b)), cancel)
            .await
    }

    /// One GET with retries whose body must also pass `parse`; a body that does not (cut off,
    /// not what the API documents) is retried like a 5xx, since GETs are safe to repeat.
    async fn get_parsed_with_retries<T>(
        &self,
        url: &Url,
        extra: &[(&'static str, HeaderValue)],
        authenticated: bool,
        parse: impl Fn(HeaderMap, bytes::Bytes) -> Result<T, AttemptError>,
        cancel: &CancellationToken,
    ) -> Result<Option<T>, (AttemptError, usize)> {
        let attempts = AtomicU64::new(0);
        let result = with_retries(
            &self.inner.settings.http,
            cancel,
            |e| Idempotency::Read.may_retry(e),
            |err, delay| {
                self.inner.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %redacted_url(url), ?delay, error = ?err, "retrying ConnectWise request");
            },
            || async {
                attempts.fetch_add(1, Ordering::Relaxed);
                let (headers, body) = self.send_once(url, extra, authenticated).await?;
                parse(headers, body)
            },
        )
        .await;
        result.map_err(|e| (e, attempts.load(Ordering::Relaxed) as usize))
    }

    /// Discovers the API base through `login/companyinfo` (once; later calls reuse it).
    pub async fn discover(&self, cancel: &CancellationToken) -> Result<Discovery, TransportError> {
        let result = self
            .inner
            .discovery
            .get_or_try_init(|| self.discover_uncached(cancel))
            .await;
        result.cloned()
    }

    async fn discover_uncached(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Discovery, TransportError> {
        let site = match &self.inner.settings.target {
            ConnectWiseTarget::ApiBase(url) => {
                return Ok(Discovery {
                    company_name: String::new(),
                    codebase: String::new(),
                    version: String::new(),
                    is_cloud: false,
                    site_url: host_of(url),
                    api_base: url.clone(),
                });
            }
            ConnectWiseTarget::Site(url) => url.clone(),
        };
        let company_id = self.inner.settings.credentials.company_id.trim().to_owned();
        let mut url = site.clone();
        url.path_segments_mut()
            .map_err(|()| TransportError::Malformed {
                service: SERVICE,
                detail: "the site URL cannot hold a path".into(),
            })?
            .pop_if_empty()
            .extend(["login", "companyinfo", &company_id]);
        let fetched = self.get_with_retries(&url, &[], false, cancel).await;
        let (_, body) = match fetched {
            Ok(Some(ok)) => ok,
            Ok(None) => return Err(TransportError::Cancelled),
            Err((AttemptError::Status(f), _)) if f.status == StatusCode::NOT_FOUND => {
                return Err(TransportError::UnknownCompany {
                    company_id,
                    site: site.to_string(),
                });
            }
            Err((err, attempts)) => {
                return Err(match err {
                    AttemptError::Status(f) => TransportError::Http {
                        service: SERVICE,
                        status: f.status.as_u16(),
                        message: f.message,
                    },
                    other => self.api_error(&url, other, attempts),
                });
            }
        };
        // Some servers answer `null` or an empty object for an unknown company.
        let info: Option<CompanyInfo> =
            serde_json::from_slice(&body).map_err(|e| TransportError::Malformed {
                service: SERVICE,
                detail: format!("login/companyinfo: {e}"),
            })?;
        let Some(info) = info.filter(|i| i.codebase.is_some() || i.company_name.is_some()) else {
            return Err(TransportError::UnknownCompany {
                company_id,
                site: site.to_string(),
            });
        };
        let codebase = info.codebase.unwrap_or_else(|| DEFAULT_CODEBASE.to_owned());
        let is_cloud = info.is_cloud.unwrap_or(false);
        let api_base = api_base_for(&site, &codebase, is_cloud)?;
        check_transport("ConnectWise API URL", &api_base)?;
        Ok(Discovery {
            company_name: info.company_name.unwrap_or_default(),
            codebase,
            version: info.version_code.unwrap_or_default(),
            is_cloud,
            site_url: info.site_url.unwrap_or_else(|| host_of(&site)),
            api_base,
        })
    }

    async fn api_url(&self, path: &str, cancel: &CancellationToken) -> Result<Url, TransportError> {
        let discovery = self.discover(cancel).await?;
        Ok(join_path(&discovery.api_base, path))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        cancel: &CancellationToken,
    ) -> Result<T, TransportError> {
        match self.get_with_retries(&url, &[], true, cancel).await {
            Ok(Some((_, body))) => {
                serde_json::from_slice(&body).map_err(|e| TransportError::Malformed {
                    service: SERVICE,
                    detail: format!("{}: {e}", url.path()),
                })
            }
            Ok(None) => Err(TransportError::Cancelled),
            Err((err, attempts)) => Err(self.api_error(&url, err, attempts)),
        }
    }

    /// `system/info`: the cheap authenticated call; returns the server's version.
    pub async fn system_info(&self, cancel: &CancellationToken) -> Result<String, TransportError> {
        let url = self.api_url("system/info", cancel).await?;
        let info: serde_json::Value = self.get_json(url, cancel).await?;
        Ok(info
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    /// "Test connection": companyinfo, then one cheap authenticated call.
    pub async fn test_connection(&self, cancel: &CancellationToken) -> ConnectionReport {
        let discovery = match self.discover(cancel).await {
            Ok(d) => d,
            Err(e) => {
                return ConnectionReport {
                    discovery: None,
                    version: None,
                    failed: Some((ConnectionStep::CompanyInfo, e)),
                };
            }
        };
        match self.system_info(cancel).await {
            Ok(version) => ConnectionReport {
                discovery: Some(discovery),
                version: Some(version),
                failed: None,
            },
            Err(e) => ConnectionReport {
                discovery: Some(discovery),
                version: None,
                failed: Some((ConnectionStep::Authenticate, e)),
            },
        }
    }

    /// Follows a list's `Link: rel="next"` pages from `url`, handing each body to `page`,
    /// at most `max_pages` (a server that keeps saying `next` is not read forever). A link to
    /// another origin would carry the keys there: it is not followed. `what` names the list
    /// in errors.
    async fn each_linked_page(
        &self,
        url: Url,
        what: &str,
        max_pages: usize,
        mut page: impl FnMut(&[u8]) -> Result<(), String>,
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > max_pages {
                return Err(TransportError::Malformed {
                    service: SERVICE,
                    detail: format!("{what}: still a next page after {max_pages} pages"),
                });
            }
            let (headers, body) = match self.get_with_retries(&url, &[], true, cancel).await {
                Ok(Some(ok)) => ok,
                Ok(None) => return Err(TransportError::Cancelled),
                Err((err, attempts)) => return Err(self.api_error(&url, err, attempts)),
            };
            page(&body).map_err(|e| TransportError::Malformed {
                service: SERVICE,
                detail: format!("{what}: {e}"),
            })?;
            next = next_link(&headers).filter(|n| super::http::same_origin(n, &url));
        }
        Ok(())
    }

    /// The configuration type names the tenant has (for a pick list).
    pub async fn configuration_types(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Vec<String>, TransportError> {
        let url = self
            .list_url("company/configurations/types", "id,name", cancel)
            .await?;
        let mut names = Vec::new();
        self.each_linked_page(
            url,
            "configuration types",
            MAX_TYPE_PAGES,
            |body| {
                let page: Vec<crate::domain::configuration::NamedRef> =
                    serde_json::from_slice(body).map_err(|e| e.to_string())?;
                names.extend(page.into_iter().filter_map(|t| t.name));
                Ok(())
            },
            cancel,
        )
        .await?;
        names.sort_by_key(|n| n.to_lowercase());
        names.dedup();
        Ok(names)
    }

    /// Every company's ConnectWise status and the tenant's status list, which says which
    /// statuses are inactive: `company/companies?fields=id,status/id,status/name` and
    /// `company/companies/statuses?fields=id,name,inactiveFlag`, 1000 a page, every `next` page
    /// followed (at most [`MAX_COMPANY_PAGES`] each). Items it cannot read are counted or
    /// listed in the answer, never fatal (see [`CompanyStatusList`]); a body that is not a
    /// list is.
    pub async fn company_statuses(
        &self,
        cancel: &CancellationToken,
    ) -> Result<CompanyStatusList, TransportError> {
        let mut list = CompanyStatusList::default();
        let url = self
            .list_url("company/companies", "id,status/id,status/name", cancel)
            .await?;
        self.each_linked_page(
            url,
            "company/companies",
            MAX_COMPANY_PAGES,
            |body| list.add_page(body).map(|_| ()),
            cancel,
        )
        .await?;
        let url = self
            .list_url("company/companies/statuses", "id,name,inactiveFlag", cancel)
            .await?;
        self.each_linked_page(
            url,
            "company/companies/statuses",
            MAX_COMPANY_PAGES,
            |body| list.add_definitions_page(body).map(|_| ()),
            cancel,
        )
        .await?;
        Ok(list)
    }

    /// A small list's first page: just `fields`, as many a page as ConnectWise serves.
    async fn list_url(
        &self,
        path: &str,
        fields: &str,
        cancel: &CancellationToken,
    ) -> Result<Url, TransportError> {
        let mut url = self.api_url(path, cancel).await?;
        url.query_pairs_mut()
            .append_pair("fields", fields)
            .append_pair("pageSize", &MAX_PAGE_SIZE.to_string());
        Ok(url)
    }

    fn conditions(&self, filter: &ServerFilter) -> Option<String> {
        self.inner
            .settings
            .server_filter
            .then(|| query::conditions(filter))
    }

    /// `company/configurations/count` for the rule's filter.
    pub async fn count_configurations(
        &self,
        filter: &ServerFilter,
        cancel: &CancellationToken,
    ) -> Result<u64, TransportError> {
        let mut url = self.api_url("company/configurations/count", cancel).await?;
        if let Some(conditions) = self.conditions(filter) {
            url.query_pairs_mut().append_pair("conditions", &conditions);
        }
        let body: CountBody = self.get_json(url, cancel).await?;
        Ok(body.count)
    }

    fn configurations_url(
        &self,
        base: &Url,
        filter: &ServerFilter,
        id_at_most: Option<i64>,
    ) -> Url {
        let mut url = join_path(base, "company/configurations");
        {
            let mut q = url.query_pairs_mut();
            let upper = id_at_most.map(|hi| format!("id<={hi}"));
            match (self.conditions(filter), upper) {
                (Some(c), Some(u)) => {
                    q.append_pair("conditions", &format!("({c}) and {u}"));
                }
                (Some(c), None) => {
                    q.append_pair("conditions", &c);
                }
                (None, Some(u)) => {
                    q.append_pair("conditions", &u);
                }
                (None, None) => {}
            }
            if self.inner.settings.server_filter {
                q.append_pair("fields", &query::projected_fields(filter).join(","));
            }
            q.append_pair(
                "pageSize",
                &self
                    .inner
                    .settings
                    .page_size
                    .clamp(1, MAX_PAGE_SIZE)
                    .to_string(),
            );
        }
        url
    }

    async fn fetch_page(
        &self,
        url: &Url,
        forward_only: bool,
        cancel: &CancellationToken,
    ) -> Result<RawPage, TransportError> {
        let extra: &[(&'static str, HeaderValue)] = if forward_only {
            &[("pagination-type", HeaderValue::from_static("forward-only"))]
        } else {
            &[]
        };
        let parse = |headers: HeaderMap, body: bytes::Bytes| {
            let page = ConfigurationPage::parse(&body)
                .map_err(|e| AttemptError::Malformed(e.to_string()))?;
            Ok(RawPage {
                has_next: next_link(&headers).is_some(),
                has_links: headers.contains_key(reqwest::header::LINK),
                page,
            })
        };
        match self
            .get_parsed_with_retries(url, extra, true, parse, cancel)
            .await
        {
            Ok(Some(page)) => Ok(page),
            Ok(None) => Err(TransportError::Cancelled),
            Err((err, attempts)) => Err(self.api_error(url, err, attempts)),
        }
    }

    /// One attempt of a GET (retries are the caller's).
    async fn send_once(
        &self,
        url: &Url,
        extra: &[(&'static str, HeaderValue)],
        authenticated: bool,
    ) -> Result<(HeaderMap, bytes::Bytes), AttemptError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let request = self.inner.http.get(url.clone());
        let mut request = if authenticated {
            request.headers(self.inner.auth_headers.clone())
        } else {
            request.header(ACCEPT, "application/json")
        };
        for (name, value) in extra {
            request = request.header(*name, value.clone());
        }
        let answer = super::http::send(request).await?;
        let (headers, body) = (answer.headers, answer.body);
        self.inner
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok((headers, body))
    }

    /// Fetches every configuration the filter selects, page by page, handing each page to
    /// `sink` as it arrives; answers the requests it took.
    ///
    /// At most `max_in_flight` bodies are held at a time.
    pub async fn fetch_configurations(
        &self,
        filter: &ServerFilter,
        sink: &dyn PageSink,
        progress: &(dyn Fn(FetchProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<FetchStats, TransportError> {
        let before = self.stats();
        let discovery = self.discover(cancel).await?;
        let base = self.configurations_url(&discovery.api_base, filter, None);
        match self.inner.settings.paging {
            PagingStrategy::ForwardOnly => {
                self.fetch_forward_only(&base, filter, sink, progress, cancel)
                    .await?;
            }
            PagingStrategy::IdRanges => {
                self.fetch_id_ranges(&discovery.api_base, filter, sink, progress, cancel)
                    .await?;
            }
            PagingStrategy::ParallelPages => {
                self.fetch_parallel(&base, filter, sink, progress, cancel)
                    .await?;
                // Numbered pages shift when records are added or deleted mid-fetch, which can
                // skip a record. A second count that disagrees with what was read means the
                // tenant changed: fetch again by id (forward-only), which cannot skip.
                let read = sink.distinct_records();
                let now = self.count_configurations(filter, cancel).await?;
                if now != read {
                    tracing::warn!(
                        read,
                        count = now,
                        "configurations changed while paging; fetching again forward-only"
                    );
                    sink.restart();
                    self.fetch_forward_only(&base, filter, sink, progress, cancel)
                        .await?;
                }
            }
        }
        let after = self.stats();
        Ok(FetchStats {
            requests: after.requests - before.requests,
            retries: after.retries - before.retries,
            bytes_received: after.bytes_received - before.bytes_received,
        })
    }

    async fn fetch_forward_only(
        &self,
        base: &Url,
        filter: &ServerFilter,
        sink: &dyn PageSink,
        progress: &(dyn Fn(FetchProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let counted = self.count_configurations(filter, cancel).await?;
        let tally = Tally::new(counted);
        self.fetch_chain(base, None, sink, &tally, None, progress, cancel)
            .await
    }

    /// Reads one id range forward-only: pages of ids above `after` (and within the range the
    /// URL's conditions set), each starting after the highest id of the one before.
    ///
    /// The range ends when the server says so (a `Link` header without `next`), whatever the
    /// page size: servers serve pages shorter than asked while more remain. Without any `Link`
    /// header a full page is followed by one more request. Every page must move the ids forward
    /// and all chains together stay under the paging cap, so no server can keep it going.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_chain(
        &self,
        base: &Url,
        after: Option<i64>,
        sink: &dyn PageSink,
        tally: &Tally,
        expected: Option<u64>,
        progress: &(dyn Fn(FetchProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let page_size = self.inner.settings.page_size.clamp(1, MAX_PAGE_SIZE) as usize;
        let mut last_id = after;
        loop {
            let mut url = base.clone();
            if let Some(id) = last_id {
                url.query_pairs_mut().append_pair("pageId", &id.to_string());
            }
            let raw = self.fetch_page(&url, true, cancel).await?;
            let page = &raw.page;
            // The next page starts after the highest id seen, parsed or not.
            let max_id = page
                .records
                .iter()
                .map(|r| r.id)
                .chain(page.unparseable.iter().filter_map(|u| u.id))
                .max();
            let full = page.len() >= page_size;
            sink.page(page);
            let pages = tally.pages.fetch_add(1, Ordering::Relaxed) + 1;
            let read =
                tally.read.fetch_add(page.len() as u64, Ordering::Relaxed) + page.len() as u64;
            progress(FetchProgress {
                pages_fetched: pages,
                pages_expected: expected.map(|e| e.max(pages)),
                configurations_read: read,
            });
            if read > tally.cap {
                return Err(TransportError::PagingRunaway {
                    counted: tally.counted,
                    read,
                });
            }
            let more = if raw.has_links { raw.has_next } else { full };
            match max_id {
                Some(id) if more && Some(id) > last_id => last_id = Some(id),
                // The server says there is more, yet this page brought no new id: following
                // it would ask for the same page again.
                Some(_) if more => {
                    return Err(TransportError::Malformed {
                        service: SERVICE,
                        detail: format!(
                            "company/configurations: a page after id {} named a next page but held no later id",
                            last_id.unwrap_or_default()
                        ),
                    });
                }
                _ => return Ok(()),
            }
        }
    }

    /// The lowest or highest id among the configurations the rule fetches.
    async fn edge_id(
        &self,
        api_base: &Url,
        filter: &ServerFilter,
        descending: bool,
        cancel: &CancellationToken,
    ) -> Result<Option<i64>, TransportError> {
        let mut url = join_path(api_base, "company/configurations");
        {
            let mut q = url.query_pairs_mut();
            if let Some(c) = self.conditions(filter) {
                q.append_pair("conditions", &c);
            }
            q.append_pair("fields", "id");
            q.append_pair("orderBy", if descending { "id desc" } else { "id asc" });
            q.append_pair("pageSize", "1");
        }
        let ids: Vec<crate::domain::configuration::NamedRef> = self.get_json(url, cancel).await?;
        Ok(ids.first().and_then(|r| r.id))
    }

    async fn fetch_id_ranges(
        &self,
        api_base: &Url,
        filter: &ServerFilter,
        sink: &dyn PageSink,
        progress: &(dyn Fn(FetchProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let (total, low, high) = futures_util::try_join!(
            self.count_configurations(filter, cancel),
            self.edge_id(api_base, filter, false, cancel),
            self.edge_id(api_base, filter, true, cancel),
        )?;
        let (Some(low), Some(high)) = (low, high) else {
            progress(FetchProgress {
                pages_fetched: 0,
                pages_expected: Some(0),
                configurations_read: 0,
            });
            return Ok(());
        };
        let page_size = u64::from(self.inner.settings.page_size.clamp(1, MAX_PAGE_SIZE));
        // One slice per request in flight, but no slice smaller than about a page.
        let slices =
            (self.inner.settings.max_in_flight.max(1) as u64).min(total.div_ceil(page_size).max(1));
        let expected = total.div_ceil(page_size).max(1) + slices - 1;
        progress(FetchProgress {
            pages_fetched: 0,
            pages_expected: Some(expected),
            configurations_read: 0,
        });
        // Slices (lo, hi] cover (low - 1, i64::MAX]: records added above `high` mid-fetch are read too.
        let span = (high - low + 1).max(1);
        let bounds: Vec<(i64, Option<i64>)> = (0..slices)
            .map(|i| {
                let lo = low - 1 + (span * i as i64) / slices as i64;
                let hi = low - 1 + (span * (i as i64 + 1)) / slices as i64;
                (lo, (i + 1 < slices).then_some(hi))
            })
            .collect();
        let tally = Tally::new(total);
        let chains = bounds.iter().map(|&(lo, hi)| {
            let url = self.configurations_url(api_base, filter, hi);
            let tally = &tally;
            async move {
                self.fetch_chain(
                    &url,
                    Some(lo),
                    sink,
                    tally,
                    Some(expected),
                    progress,
                    cancel,
                )
                .await
            }
        });
        futures_util::future::try_join_all(chains).await.map(|_| ())
    }

    async fn fetch_parallel(
        &self,
        base: &Url,
        filter: &ServerFilter,
        sink: &dyn PageSink,
        progress: &(dyn Fn(FetchProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let total = self.count_configurations(filter, cancel).await?;
        let page_size = u64::from(self.inner.settings.page_size.clamp(1, MAX_PAGE_SIZE));
        let expected = total.div_ceil(page_size).max(1);
        progress(FetchProgress {
            pages_fetched: 0,
            pages_expected: Some(expected),
            configurations_read: 0,
        });
        let in_flight = self.inner.settings.max_in_flight.max(1);
        let mut stream = futures_util::stream::iter(1..=expected)
            .map(|page| {
                let mut url = base.clone();
                url.query_pairs_mut().append_pair("page", &page.to_string());
                async move {
                    self.fetch_page(&url, false, cancel)
                        .await
                        .map(|raw| (page, raw))
                }
            })
            .buffer_unordered(in_flight);
        let mut fetched = 0;
        let mut read = 0;
        let mut last_has_next = false;
        while let Some(result) = stream.next().await {
            let (page, raw) = result?;
            sink.page(&raw.page);
            read += raw.page.len() as u64;
            fetched += 1;
            if page == expected {
                last_has_next = raw.has_next;
            }
            progress(FetchProgress {
                pages_fetched: fetched,
                pages_expected: Some(expected),
                configurations_read: read,
            });
        }
        drop(stream);
        // Records added since `/count`: follow `next` past the expected last page, within the
        // paging cap.
        let cap = paging_cap(total);
        let mut page = expected;
        while last_has_next {
            if read > cap {
                return Err(TransportError::PagingRunaway {
                    counted: total,
                    read,
                });
            }
            page += 1;
            let mut url = base.clone();
            url.query_pairs_mut().append_pair("page", &page.to_string());
            let raw = self.fetch_page(&url, false, cancel).await?;
            sink.page(&raw.page);
            read += raw.page.len() as u64;
            fetched += 1;
            last_has_next = raw.has_next;
            progress(FetchProgress {
                pages_fetched: fetched,
                pages_expected: Some(fetched.max(expected)),
                configurations_read: read,
            });
        }
        Ok(())
    }
}

/// A URL fit for a log line: no query (conditions can hold customer names), never credentials.
fn redacted_url(url: &Url) -> String {
    super::http::display_url(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn api_host_rule() {
        let site = Url::parse("https://na.myconnectwise.net").unwrap();
        assert_eq!(
            api_base_for(&site, "v2025_1/", true).unwrap().as_str(),
            "https://api-na.myconnectwise.net/v2025_1/apis/3.0"
        );
        assert_eq!(
            api_base_for(&site, "v4_6_release/", true).unwrap().as_str(),
            "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
        );
        let onprem = Url::parse("https://cw.example.com").unwrap();
        assert_eq!(
            api_base_for(&onprem, "v4_6_release/", false)
                .unwrap()
                .as_str(),
            "https://cw.example.com/v4_6_release/apis/3.0"
        );
        assert_eq!(
            api_base_for(&onprem, "v2024_2", false).unwrap().as_str(),
            "https://api-cw.example.com/v2024_2/apis/3.0"
        );
        let loopback = Url::parse("http://127.0.0.1:4000").unwrap();
        assert_eq!(
            api_base_for(&loopback, "v2025_1/", true).unwrap().as_str(),
            "http://127.0.0.1:4000/v2025_1/apis/3.0"
        );
        let already = Url::parse("https://api-eu.myconnectwise.net").unwrap();
        assert_eq!(
            api_base_for(&already, "v2025_1/", true).unwrap().host_str(),
            Some("api-eu.myconnectwise.net")
        );
    }

    #[test]
    fn next_link_is_found() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<http://h/x?page=1>; rel=\"first\", <http://h/x?page=3>; rel=\"next\", <http://h/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(next_link(&headers).unwrap().as_str(), "http://h/x?page=3");
        headers.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("<http://h/x?page=1>; rel=\"first\""),
        );
        assert!(next_link(&headers).is_none());
    }

    #[test]
    fn credentials_debug_hides_keys() {
        let c = ConnectWiseCredentials {
            company_id: "acme".into(),
            public_key: "PUBLICKEY123".into(),
            private_key: "PRIVATEKEY456".into(),
            client_id: "guid".into(),
        };
        let text = format!("{c:?}");
        assert!(!text.contains("PUBLICKEY123") && !text.contains("PRIVATEKEY456"));
        let client = ConnectWiseClient::new(ConnectWiseSettings::new(
            ConnectWiseTarget::site("http://127.0.0.1:9").unwrap(),
            c,
        ))
        .unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("PRIVATEKEY456") && !text.contains("Basic"));
    }

    #[test]
    fn http_to_a_remote_site_is_refused_before_anything_is_sent() {
        let err = ConnectWiseTarget::site("http://cw.example.com").unwrap_err();
        assert!(err.to_string().contains("unencrypted"));
    }
}
