//! The Synthesize (Gradient MSP) vendor API client: authenticate, services, accounts, unit
//! counts and integration status, with the `GRADIENT-TOKEN` header and 429 handling.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::domain::sync_plan::ServiceKind;

pub use super::error::{Service, TransportError};
use super::http::{
    AttemptError, HttpFailure, HttpSettings, TransportFailure, build_http_client, check_transport,
    join_path,
};
use super::retry::{Checked, Created, Idempotency, at_most_once, with_retries};

/// The service this client's errors name.
const SERVICE: Service = Service::Synthesize;

pub use crate::domain::settings::DEFAULT_SYNTHESIZE_URL;

/// The two keys generated in Synthesize under Integrations › Custom.
#[derive(Clone)]
pub struct SynthesizeCredentials {
    pub vendor_api_key: String,
    pub partner_api_key: String,
}

impl std::fmt::Debug for SynthesizeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SynthesizeCredentials { <redacted> }")
    }
}

/// Integration status values (`PATCH /organization/status/{status}`), case-sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationStatus {
    Active,
    Inactive,
    Pending,
    Disabled,
    Error,
}

impl IntegrationStatus {
    pub const ALL: [IntegrationStatus; 5] = [
        IntegrationStatus::Active,
        IntegrationStatus::Inactive,
        IntegrationStatus::Pending,
        IntegrationStatus::Disabled,
        IntegrationStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Active => "active",
            IntegrationStatus::Inactive => "inactive",
            IntegrationStatus::Pending => "pending",
            IntegrationStatus::Disabled => "disabled",
            IntegrationStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IntegrationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntegrationStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim().to_lowercase())
            .ok_or_else(|| {
                format!("status \"{s}\" is not one of active, inactive, pending, disabled, error")
            })
    }
}

/// A service (sku) as `GET /api/vendor-api` lists it.
///
/// Read with [`Sku::from_json`], tolerantly: Synthesize writes the deprecated `_id` beside `id`
/// (either or both, as a string or a number; `id` wins), and fields we do not use are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    /// Whether the partner has mapped the service, on deployments that say so.
    pub is_mapped: Option<bool>,
}

/// An account as `GET /organization/accounts` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Whether the partner has mapped the account, on deployments that send `isMapped`
    /// (detected at run time, never required).
    pub is_mapped: Option<bool>,
}

/// An id as Synthesize writes it: a string or a number.
fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `id`, else the deprecated `_id`: whichever is present and usable.
fn object_id(object: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    object
        .get("id")
        .and_then(id_text)
        .or_else(|| object.get("_id").and_then(id_text))
}

fn text_field(object: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Sku {
    /// Reads one sku of the vendor's list; the error says what is wrong with it.
    pub fn from_json(item: &serde_json::Value) -> Result<Sku, String> {
        let object = item
            .as_object()
            .ok_or_else(|| format!("it is {} rather than an object", json_kind(item)))?;
        let name = text_field(object, "name").ok_or("it has no name")?;
        let id = object_id(object).ok_or("it has no usable id (neither id nor _id)")?;
        Ok(Sku {
            id,
            name,
            description: text_field(object, "description"),
            category: text_field(object, "category"),
            subcategory: text_field(object, "subcategory"),
            is_mapped: object.get("isMapped").and_then(serde_json::Value::as_bool),
        })
    }
}

impl Account {
    /// Reads one account of the list; the error says what is wrong with it.
    pub fn from_json(item: &serde_json::Value) -> Result<Account, String> {
        let object = item
            .as_object()
            .ok_or_else(|| format!("it is {} rather than an object", json_kind(item)))?;
        let id = object_id(object).ok_or("it has no usable id")?;
        Ok(Account {
            id,
            name: text_field(object, "name").unwrap_or_default(),
            description: text_field(object, "description"),
            is_mapped: object.get("isMapped").and_then(serde_json::Value::as_bool),
        })
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// An item of a list that could not be read: skipped and reported, never fatal (but for our
/// own two services, whose ids the counts are posted to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedItem {
    /// Position in the list, from 0.
    pub index: usize,
    /// The id, when one could be read.
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "item {} (id {id}): {}", self.index + 1, self.reason),
            None => write!(f, "item {}: {}", self.index + 1, self.reason),
        }
    }
}

/// A list as Synthesize sent it: what could be read, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub skipped: Vec<SkippedItem>,
}

/// What `GET /api/vendor-api/organization` tells about the integration (the SDK's
/// `IntegrationData`). Every field is optional: a deployment that sends less still passes the
/// credential check.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct IntegrationData {
    pub organization_id: Option<String>,
    /// The partner organization's name.
    pub name: Option<String>,
    pub vendor_name: Option<String>,
    pub integration_id: Option<String>,
    /// The status exactly as Synthesize wrote it (the values are case-sensitive).
    pub status: Option<String>,
    /// When Synthesize last received usage, as it wrote it (ISO 8601); `None`: never.
    pub last_synced_at: Option<String>,
}

impl IntegrationData {
    /// Reads the integration from the body, wrapped in `{data, status, message}` or bare.
    pub fn from_json(body: &serde_json::Value) -> IntegrationData {
        let Some(outer) = body.as_object() else {
            return IntegrationData::default();
        };
        // The wrapper's own `status` is the HTTP-like code; the integration's is inside `data`.
        let object = match outer.get("data") {
            Some(serde_json::Value::Object(inner)) => inner,
            _ => outer,
        };
        let status = match object
            .get("status")
            .or_else(|| object.get("integrationStatus"))
        {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        };
        IntegrationData {
            organization_id: object.get("organizationId").and_then(id_text),
            name: text_field(object, "name"),
            vendor_name: text_field(object, "vendorName"),
            integration_id: object.get("integrationId").and_then(id_text),
            status,
            last_synced_at: text_field(object, "lastSyncedAt").filter(|t| !t.trim().is_empty()),
        }
    }

    /// The status when it is one the product knows (compared exactly: the values are
    /// case-sensitive in Synthesize).
    pub fn known_status(&self) -> Option<IntegrationStatus> {
        let status = self.status.as_deref()?;
        IntegrationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == status)
    }

    /// "status pending, last synced 2025-03-01 02:30 UTC", or "never synced".
    pub fn describe(&self) -> String {
        let status = self.status.as_deref().map_or_else(
            || "status not reported".to_owned(),
            |s| format!("status {}", short_text(s)),
        );
        format!("{status}, {}", self.last_sync_words())
    }

    /// "last synced 2025-03-01 02:30 UTC", or "never synced".
    pub fn last_sync_words(&self) -> String {
        match self.last_synced_at.as_deref() {
            None => "never synced".to_owned(),
            Some(text) => match chrono::DateTime::parse_from_rfc3339(text.trim()) {
                Ok(at) => format!(
                    "last synced {}",
                    at.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC")
                ),
                Err(_) => format!("last synced {}", short_text(text)),
            },
        }
    }
}

/// A server-given text cut to a line's worth and cleaned for printing.
fn short_text(text: &str) -> String {
    let clean: String = crate::domain::printable::printable(text)
        .chars()
        .take(80)
        .collect();
    clean.trim().to_owned()
}

/// A service to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    pub name: String,
    pub description: String,
    pub category: String,
    pub subcategory: String,
}

/// An account to create (the vendor's own id: here the ConnectWise company id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRequest {
    pub name: String,
    pub description: String,
    pub id: String,
}

/// What a count post did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CountPostOutcome {
    Sent,
    /// The partner has not mapped this account or service yet: not a failure of the run.
    Unmapped {
        message: String,
    },
}

/// Settings for the Synthesize client.
#[derive(Debug, Clone)]
pub struct SynthesizeSettings {
    pub base_url: Url,
    pub credentials: SynthesizeCredentials,
    pub http: HttpSettings,
}

impl SynthesizeSettings {
    pub fn new(base_url: &str, credentials: SynthesizeCredentials) -> Result<Self, TransportError> {
        Ok(Self {
            base_url: super::http::parse_service_url("Synthesize URL", base_url)?,
            credentials,
            http: HttpSettings::default(),
        })
    }
}

/// Requests and retries so far (read by tests and the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynthesizeStats {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

/// A Synthesize vendor API client.
#[derive(Debug, Clone)]
pub struct SynthesizeClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: SynthesizeSettings,
    http: reqwest::Client,
    headers: HeaderMap,
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynthesizeClient")
            .field("base_url", &self.settings.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl SynthesizeClient {
    pub fn new(settings: SynthesizeSettings) -> Result<Self, TransportError> {
        check_transport("Synthesize URL", &settings.base_url)?;
        let c = &settings.credentials;
        for (field, value) in [
            ("Synthesize vendor API key", &c.vendor_api_key),
            ("Synthesize partner API key", &c.partner_api_key),
        ] {
            if value.trim().is_empty() {
                return Err(TransportError::Setup(format!(
                    "{field}: it is empty; paste it from Synthesize › Integrations › Custom"
                )));
            }
        }
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            c.vendor_api_key.trim(),
            c.partner_api_key.trim()
        ));
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_str(&token)
            .map_err(|_| TransportError::Setup("Synthesize API keys: paste them again".into()))?;
        value.set_sensitive(true);
        headers.insert("GRADIENT-TOKEN", value);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http =
            build_http_client(&settings.http).map_err(|e| TransportError::Setup(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                headers,
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
            }),
        })
    }

    pub fn stats(&self) -> SynthesizeStats {
        SynthesizeStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            rate_limited: self.inner.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn url(&self, path: &str) -> Url {
        join_path(&self.inner.settings.base_url, path)
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, AttemptError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .headers(self.inner.headers.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        match super::http::send(request).await {
            Ok(answer) => Ok(answer.body),
            Err(AttemptError::Status(failure)) => {
                if failure.status == StatusCode::TOO_MANY_REQUESTS {
                    self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                Err(AttemptError::Status(failure))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a request, repeating it as far as `idempotency` allows (count posts set a value, so
    /// they may be repeated; creating accounts or services only after a 429, when Synthesize
    /// refused the request before carrying it out).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        idempotency: Idempotency,
        cancel: &CancellationToken,
    ) -> Result<bytes::Bytes, TransportError> {
        let url = self.url(path);
        let attempts = AtomicU64::new(0);
        let result = with_retries(
            &self.inner.settings.http,
            cancel,
            |e| idempotency.may_retry(e),
            |err, delay| {
                self.inner.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %super::http::display_url(&url), ?delay, error = ?err, "retrying Synthesize request");
            },
            || async {
                attempts.fetch_add(1, Ordering::Relaxed);
                self.send_once(&method, &url, body.as_ref()).await
            },
        )
        .await;
        match result {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(TransportError::Cancelled),
            Err(err) => Err(Self::error(
                &url,
                err,
                attempts.load(Ordering::Relaxed) as usize,
            )),
        }
    }

    fn error(url: &Url, err: AttemptError, attempts: usize) -> TransportError {
        let host = super::http::host_port(url);
        match err {
            AttemptError::Transport(kind, detail) => match kind {
                TransportFailure::Dns => TransportError::Dns {
                    service: SERVICE,
                    host,
                },
                TransportFailure::Tls => TransportError::Tls {
                    service: SERVICE,
                    host,
                    detail,
                },
                TransportFailure::Timeout => TransportError::Timeout {
                    service: SERVICE,
                    attempts,
                },
                TransportFailure::Connect | TransportFailure::Interrupted => {
                    TransportError::Unreachable {
                        service: SERVICE,
                        host,
                        detail,
                    }
                }
            },
            AttemptError::Malformed(detail) => TransportError::Malformed {
                service: SERVICE,
                detail,
            },
            AttemptError::Refused(refusal) => TransportError::Refused(SERVICE, refusal),
            AttemptError::Status(HttpFailure {
                status, message, ..
            }) => match status.as_u16() {
                401 => TransportError::BadCredentials {
                    service: SERVICE,
                    status: 401,
                    message,
                },
                403 => TransportError::Forbidden { message },
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

    fn parse_json(path: &str, body: &[u8]) -> Result<serde_json::Value, TransportError> {
        serde_json::from_slice(body).map_err(|e| TransportError::Malformed {
            service: SERVICE,
            detail: format!("{path}: {e}"),
        })
    }

    /// `GET /api/vendor-api/organization`: the documented credential check; returns what it
    /// says about the integration (its status and last sync).
    pub async fn authenticate(
        &self,
        cancel: &CancellationToken,
    ) -> Result<IntegrationData, TransportError> {
        let path = "api/vendor-api/organization";
        let body = self
            .call(Method::GET, path, None, Idempotency::Read, cancel)
            .await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(IntegrationData::default());
        }
        Ok(IntegrationData::from_json(&Self::parse_json(path, &body)?))
    }

    /// The services (skus) the vendor has, with the ones that could not be read.
    ///
    /// A sku that cannot be read is skipped and reported, unless it carries the name of one of
    /// this integration's two services: its id is where counts go, so guessing is not allowed.
    pub async fn list_services(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Listing<Sku>, TransportError> {
        let path = "api/vendor-api";
        let body = self
            .call(Method::GET, path, None, Idempotency::Read, cancel)
            .await?;
        let value = Self::parse_json(path, &body)?;
        let skus = value
            .get("data")
            .filter(|d| d.is_object())
            .unwrap_or(&value)
            .get("skus");
        let items = match skus {
            Some(serde_json::Value::Array(items)) => items.as_slice(),
            Some(serde_json::Value::Null) => &[],
            _ => {
                return Err(TransportError::Malformed {
                    service: SERVICE,
                    detail: format!("{path}: the vendor data has no list of services (skus)"),
                });
            }
        };
        let mut listing = Listing {
            items: Vec::with_capacity(items.len()),
            skipped: Vec::new(),
        };
        for (index, item) in items.iter().enumerate() {
            match Sku::from_json(item) {
                Ok(sku) => listing.items.push(sku),
                Err(reason) => {
                    let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("");
                    if let Some(kind) = ServiceKind::ALL
                        .into_iter()
                        .find(|k| k.matches_service_name(name))
                    {
                        return Err(TransportError::Malformed {
                            service: SERVICE,
                            detail: format!(
                                "{path}: the service \"{}\" cannot be read: {reason}",
                                kind.service_name()
                            ),
                        });
                    }
                    listing.skipped.push(SkippedItem {
                        index,
                        id: item.as_object().and_then(object_id),
                        reason,
                    });
                }
            }
        }
        Ok(listing)
    }

    /// The services (skus) the vendor has; unreadable ones are logged and left out.
    pub async fn services(&self, cancel: &CancellationToken) -> Result<Vec<Sku>, TransportError> {
        let listing = self.list_services(cancel).await?;
        for skipped in &listing.skipped {
            tracing::warn!(%skipped, "skipped a Synthesize service that could not be read");
        }
        Ok(listing.items)
    }

    /// Creates a service. Not retried (but for a 429): a retry could create it twice (see
    /// [`Self::create_service_once`]).
    pub async fn create_service(
        &self,
        service: &ServiceRequest,
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let body = serde_json::to_value(service).map_err(|e| TransportError::Malformed {
            service: SERVICE,
            detail: e.to_string(),
        })?;
        self.call(
            Method::POST,
            "api/vendor-api/service",
            Some(body),
            Idempotency::Creates,
            cancel,
        )
        .await
        .map(|_| ())
    }

    /// Creates a service at most once: after a failure that may have created it anyway, or a
    /// 409 ("already exists"), the service list is read (`listed` says whether it is there)
    /// before anything is sent again. Returns whether this call created it (`false`: it was
    /// there already).
    pub async fn create_service_once(
        &self,
        service: &ServiceRequest,
        listed: impl Fn(&[Sku]) -> bool,
        cancel: &CancellationToken,
    ) -> Result<bool, TransportError> {
        let already_there = |e: &TransportError| e.status() == Some(409);
        let listed = &listed;
        let created = at_most_once(
            (),
            already_there,
            |()| self.create_service(service, cancel),
            |(), _| async move {
                let found = listed(&self.services(cancel).await?);
                Ok((
                    if found {
                        Checked::Done
                    } else {
                        Checked::SendAgain
                    },
                    (),
                ))
            },
        )
        .await?;
        Ok(!matches!(created, Created::FoundAfter(e) if already_there(&e)))
    }

    /// The accounts already known, bare `[…]` or wrapped `{data: […]}`, with the ones that could
    /// not be read (skipped and reported, never fatal).
    pub async fn list_accounts(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Listing<Account>, TransportError> {
        let path = "api/vendor-api/organization/accounts";
        let body = self
            .call(Method::GET, path, None, Idempotency::Read, cancel)
            .await?;
        let value = Self::parse_json(path, &body)?;
        let items = match &value {
            serde_json::Value::Array(items) => items.as_slice(),
            serde_json::Value::Object(o) => match o.get("data") {
                Some(serde_json::Value::Array(items)) => items.as_slice(),
                Some(serde_json::Value::Null) => &[],
                _ => {
                    return Err(TransportError::Malformed {
                        service: SERVICE,
                        detail: format!("{path}: the answer holds no list of accounts"),
                    });
                }
            },
            other => {
                return Err(TransportError::Malformed {
                    service: SERVICE,
                    detail: format!(
                        "{path}: the answer is {} rather than a list of accounts",
                        json_kind(other)
                    ),
                });
            }
        };
        let mut listing = Listing {
            items: Vec::with_capacity(items.len()),
            skipped: Vec::new(),
        };
        for (index, item) in items.iter().enumerate() {
            match Account::from_json(item) {
                Ok(account) => listing.items.push(account),
                Err(reason) => listing.skipped.push(SkippedItem {
                    index,
                    id: None,
                    reason,
                }),
            }
        }
        Ok(listing)
    }

    /// The accounts already known; unreadable ones are logged and left out.
    pub async fn accounts(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Vec<Account>, TransportError> {
        let listing = self.list_accounts(cancel).await?;
        for skipped in &listing.skipped {
            tracing::warn!(%skipped, "skipped a Synthesize account that could not be read");
        }
        Ok(listing.items)
    }

    /// Creates accounts in one request (the body is an array). Not retried (but for a 429; see
    /// [`Self::create_accounts_once`]).
    pub async fn create_accounts(
        &self,
        accounts: &[AccountRequest],
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let body = serde_json::to_value(accounts).map_err(|e| TransportError::Malformed {
            service: SERVICE,
            detail: e.to_string(),
        })?;
        self.call(
            Method::POST,
            "api/vendor-api/organization/accounts",
            Some(body),
            Idempotency::Creates,
            cancel,
        )
        .await
        .map(|_| ())
    }

    /// Creates a batch of accounts, each at most once: after a failure that may have stored
    /// some of them anyway, the account list is read and only the missing ones are sent again.
    pub async fn create_accounts_once(
        &self,
        accounts: Vec<AccountRequest>,
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        at_most_once(
            accounts,
            |_| false,
            |missing: Vec<AccountRequest>| async move {
                self.create_accounts(&missing, cancel).await
            },
            |mut missing: Vec<AccountRequest>, _| async move {
                let existing = self.accounts(cancel).await?;
                let known: std::collections::BTreeSet<&str> =
                    existing.iter().map(|a| a.id.trim()).collect();
                missing.retain(|a| !known.contains(a.id.as_str()));
                let checked = if missing.is_empty() {
                    Checked::Done
                } else {
                    Checked::SendAgain
                };
                Ok((checked, missing))
            },
        )
        .await
        .map(|_| ())
    }

    /// Sets a unit count. A count post sets a value, so it is retried on 429/5xx/timeouts.
    /// A 404 "No account map found" is the *unmapped* outcome, not an error.
    pub async fn post_count(
        &self,
        service_id: &str,
        account_id: &str,
        unit_count: u64,
        cancel: &CancellationToken,
    ) -> Result<CountPostOutcome, TransportError> {
        let path = format!(
            "api/vendor-api/service/{}/count",
            url::form_urlencoded::byte_serialize(service_id.as_bytes()).collect::<String>()
        );
        let body = serde_json::json!({ "accountId": account_id, "unitCount": unit_count });
        match self
            .call(
                Method::POST,
                &path,
                Some(body),
                Idempotency::SetsValue,
                cancel,
            )
            .await
        {
            Ok(_) => Ok(CountPostOutcome::Sent),
            Err(TransportError::Http {
                service: SERVICE,
                status: 404,
                message,
            }) if message.to_lowercase().contains("no account map") => {
                Ok(CountPostOutcome::Unmapped { message })
            }
            Err(e) => Err(e),
        }
    }

    /// Sets the integration status.
    pub async fn update_status(
        &self,
        status: IntegrationStatus,
        cancel: &CancellationToken,
    ) -> Result<(), TransportError> {
        let path = format!("api/vendor-api/organization/status/{}", status.as_str());
        self.call(Method::PATCH, &path, None, Idempotency::SetsValue, cancel)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn status_parses_case_insensitively_and_names_the_choices() {
        assert_eq!(
            "Active".parse::<IntegrationStatus>().unwrap(),
            IntegrationStatus::Active
        );
        assert!(
            "paused"
                .parse::<IntegrationStatus>()
                .unwrap_err()
                .contains("active, inactive")
        );
    }

    #[test]
    fn skus_take_id_or_underscore_id_or_both_and_prefer_id() {
        let sku = |json: &str| Sku::from_json(&serde_json::from_str(json).unwrap());
        assert_eq!(sku(r#"{"_id":"a1","name":"x"}"#).unwrap().id, "a1");
        assert_eq!(sku(r#"{"id":7,"name":"x"}"#).unwrap().id, "7");
        assert_eq!(
            sku(r#"{"_id":"old","id":"new","name":"x"}"#).unwrap().id,
            "new"
        );
        assert_eq!(
            sku(r#"{"_id":"old","id":null,"name":"x"}"#).unwrap().id,
            "old"
        );
        assert!(sku(r#"{"name":"x"}"#).is_err());
        assert!(sku(r#"{"id":"1"}"#).is_err());
        let full =
            sku(r#"{"_id":"1","id":"1","name":"x","logo":null,"isMapped":false,"extra":{}}"#)
                .unwrap();
        assert_eq!(full.is_mapped, Some(false));
    }

    #[test]
    fn integration_data_is_read_bare_or_wrapped() {
        let bare = serde_json::json!({"organizationId":"o1","integrationId":9,"status":"pending","lastSyncedAt":"2025-03-01T02:30:00.000Z"});
        let wrapped = serde_json::json!({"data": bare.clone(), "status": 200, "message": "ok"});
        for body in [bare, wrapped] {
            let data = IntegrationData::from_json(&body);
            assert_eq!(data.organization_id.as_deref(), Some("o1"));
            assert_eq!(data.integration_id.as_deref(), Some("9"));
            assert_eq!(data.known_status(), Some(IntegrationStatus::Pending));
            assert_eq!(
                data.describe(),
                "status pending, last synced 2025-03-01 02:30 UTC"
            );
        }
        let never = IntegrationData::from_json(
            &serde_json::json!({"data":{"status":"Active","lastSyncedAt":null}}),
        );
        assert_eq!(never.known_status(), None, "statuses are case-sensitive");
        assert_eq!(never.describe(), "status Active, never synced");
    }

    #[test]
    fn debug_never_shows_keys() {
        let creds = SynthesizeCredentials {
            vendor_api_key: "VENDORSECRET".into(),
            partner_api_key: "PARTNERSECRET".into(),
        };
        let client = SynthesizeClient::new(
            SynthesizeSettings::new("http://127.0.0.1:1", creds.clone()).unwrap(),
        )
        .unwrap();
        for text in [format!("{creds:?}"), format!("{client:?}")] {
            assert!(
                !text.contains("VENDORSECRET") && !text.contains("PARTNERSECRET"),
                "{text}"
            );
        }
    }

    #[test]
    fn http_to_a_remote_host_is_refused() {
        let creds = SynthesizeCredentials {
            vendor_api_key: "v".into(),
            partner_api_key: "p".into(),
        };
        assert!(matches!(
            SynthesizeSettings::new("http://app.usegradient.com", creds),
            Err(TransportError::Url(_))
        ));
    }
}
