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

use super::http::{
    AttemptError, HttpFailure, HttpSettings, Refusal, TransportFailure, UrlProblem,
    build_http_client, check_transport, join_path, with_retries,
};

/// Synthesize's production address.
pub const DEFAULT_SYNTHESIZE_URL: &str = "https://app.usegradient.com";

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sku {
    #[serde(alias = "_id", default, deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub subcategory: Option<String>,
}

/// An account as `GET /organization/accounts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
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

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
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

/// A 429: the server turned the request away without carrying it out, so even a write that
/// must never be repeated blindly can be sent again.
fn refused_unread(e: &AttemptError) -> bool {
    matches!(e, AttemptError::Status(f) if f.status == StatusCode::TOO_MANY_REQUESTS)
}

/// A Synthesize call that failed, keeping the HTTP status and the body's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthesizeError {
    #[error(transparent)]
    Url(#[from] UrlProblem),
    #[error("{0}")]
    Setup(String),
    #[error(
        "Synthesize refused the API keys (HTTP {status}: {message}): check the vendor and partner API keys under Integrations › Custom in Synthesize"
    )]
    BadCredentials { status: u16, message: String },
    #[error(
        "Synthesize refused the request (HTTP 403: {message}): it may have flagged the usage pattern; wait and try again, or contact Gradient support"
    )]
    Forbidden { message: String },
    #[error(
        "Synthesize kept answering \"too many requests\" (HTTP 429) after {attempts} attempts: try again in a few minutes"
    )]
    RateLimited { attempts: usize },
    #[error("cannot find {host} (DNS lookup failed): check the Synthesize URL and the network")]
    Dns { host: String },
    #[error("the secure connection to {host} failed (TLS: {detail}): check the Synthesize URL")]
    Tls { host: String, detail: String },
    #[error(
        "cannot reach Synthesize at {host} ({detail}): check the URL, the network, and any proxy"
    )]
    Unreachable { host: String, detail: String },
    #[error("Synthesize did not answer in time after {attempts} attempts: try again later")]
    Timeout { attempts: usize },
    #[error("Synthesize answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("Synthesize sent a response the product cannot read ({detail})")]
    Malformed { detail: String },
    /// Refused by the HTTP layer's rules (another origin, a redirect loop, an oversized
    /// answer, a request that cannot be built).
    #[error("Synthesize: {0}")]
    Refused(Refusal),
    #[error("cancelled")]
    Cancelled,
}

impl SynthesizeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            SynthesizeError::BadCredentials { status, .. }
            | SynthesizeError::Http { status, .. } => Some(*status),
            SynthesizeError::Forbidden { .. } => Some(403),
            SynthesizeError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// Settings for the Synthesize client.
#[derive(Debug, Clone)]
pub struct SynthesizeSettings {
    pub base_url: Url,
    pub credentials: SynthesizeCredentials,
    pub http: HttpSettings,
}

impl SynthesizeSettings {
    pub fn new(
        base_url: &str,
        credentials: SynthesizeCredentials,
    ) -> Result<Self, SynthesizeError> {
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

#[derive(Deserialize)]
struct VendorEnvelope {
    #[serde(default)]
    data: Option<VendorData>,
}

#[derive(Deserialize, Default)]
struct VendorData {
    #[serde(default)]
    skus: Vec<Sku>,
}

/// Accounts may come as a bare array or wrapped in `{data: [...]}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum AccountsBody {
    Bare(Vec<Account>),
    Wrapped { data: Vec<Account> },
}

impl SynthesizeClient {
    pub fn new(settings: SynthesizeSettings) -> Result<Self, SynthesizeError> {
        check_transport("Synthesize URL", &settings.base_url)?;
        let c = &settings.credentials;
        for (field, value) in [
            ("Synthesize vendor API key", &c.vendor_api_key),
            ("Synthesize partner API key", &c.partner_api_key),
        ] {
            if value.trim().is_empty() {
                return Err(SynthesizeError::Setup(format!(
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
            .map_err(|_| SynthesizeError::Setup("Synthesize API keys: paste them again".into()))?;
        value.set_sensitive(true);
        headers.insert("GRADIENT-TOKEN", value);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http =
            build_http_client(&settings.http).map_err(|e| SynthesizeError::Setup(e.to_string()))?;
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

    /// Sends a request; `retryable` says whether it may be repeated after an answer that leaves
    /// unknown whether it was carried out (count posts set a value, so they may; creating
    /// accounts or services may not). A 429 is repeated either way: Synthesize refused the
    /// request before carrying it out.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        retryable: bool,
        cancel: &CancellationToken,
    ) -> Result<bytes::Bytes, SynthesizeError> {
        let url = self.url(path);
        let attempts = AtomicU64::new(0);
        let result = with_retries(
            &self.inner.settings.http,
            cancel,
            |e| {
                e.is_retryable()
                    && !matches!(e, AttemptError::Malformed(_))
                    && (retryable || refused_unread(e))
            },
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
            Ok(None) => Err(SynthesizeError::Cancelled),
            Err(err) => Err(self.error(&url, err, attempts.load(Ordering::Relaxed) as usize)),
        }
    }

    fn error(&self, url: &Url, err: AttemptError, attempts: usize) -> SynthesizeError {
        let host = super::http::host_port(url);
        match err {
            AttemptError::Transport(kind, detail) => match kind {
                TransportFailure::Dns => SynthesizeError::Dns { host },
                TransportFailure::Tls => SynthesizeError::Tls { host, detail },
                TransportFailure::Timeout => SynthesizeError::Timeout { attempts },
                TransportFailure::Connect | TransportFailure::Interrupted => {
                    SynthesizeError::Unreachable { host, detail }
                }
            },
            AttemptError::Malformed(detail) => SynthesizeError::Malformed { detail },
            AttemptError::Refused(refusal) => SynthesizeError::Refused(refusal),
            AttemptError::Status(HttpFailure {
                status, message, ..
            }) => match status.as_u16() {
                401 => SynthesizeError::BadCredentials {
                    status: 401,
                    message,
                },
                403 => SynthesizeError::Forbidden { message },
                429 => SynthesizeError::RateLimited { attempts },
                s => SynthesizeError::Http { status: s, message },
            },
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        path: &str,
        body: &[u8],
    ) -> Result<T, SynthesizeError> {
        serde_json::from_slice(body).map_err(|e| SynthesizeError::Malformed {
            detail: format!("{path}: {e}"),
        })
    }

    /// `GET /api/vendor-api/organization`: checks the token; returns the integration data.
    pub async fn authenticate(
        &self,
        cancel: &CancellationToken,
    ) -> Result<serde_json::Value, SynthesizeError> {
        let path = "api/vendor-api/organization";
        let body = self.call(Method::GET, path, None, true, cancel).await?;
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Self::parse(path, &body)
    }

    /// The services (skus) the vendor has.
    pub async fn services(&self, cancel: &CancellationToken) -> Result<Vec<Sku>, SynthesizeError> {
        let path = "api/vendor-api";
        let body = self.call(Method::GET, path, None, true, cancel).await?;
        let envelope: VendorEnvelope = Self::parse(path, &body)?;
        Ok(envelope.data.unwrap_or_default().skus)
    }

    /// Creates a service. Not retried (but for a 429): a retry could create it twice; the caller
    /// re-reads the service list instead.
    pub async fn create_service(
        &self,
        service: &ServiceRequest,
        cancel: &CancellationToken,
    ) -> Result<(), SynthesizeError> {
        let body = serde_json::to_value(service).map_err(|e| SynthesizeError::Malformed {
            detail: e.to_string(),
        })?;
        self.call(
            Method::POST,
            "api/vendor-api/service",
            Some(body),
            false,
            cancel,
        )
        .await
        .map(|_| ())
    }

    /// The accounts already known.
    pub async fn accounts(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Vec<Account>, SynthesizeError> {
        let path = "api/vendor-api/organization/accounts";
        let body = self.call(Method::GET, path, None, true, cancel).await?;
        Ok(match Self::parse::<AccountsBody>(path, &body)? {
            AccountsBody::Bare(list) | AccountsBody::Wrapped { data: list } => list,
        })
    }

    /// Creates accounts in one request (the body is an array). Not retried here (but for a 429):
    /// the caller checks the account list before sending again.
    pub async fn create_accounts(
        &self,
        accounts: &[AccountRequest],
        cancel: &CancellationToken,
    ) -> Result<(), SynthesizeError> {
        let body = serde_json::to_value(accounts).map_err(|e| SynthesizeError::Malformed {
            detail: e.to_string(),
        })?;
        self.call(
            Method::POST,
            "api/vendor-api/organization/accounts",
            Some(body),
            false,
            cancel,
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
    ) -> Result<CountPostOutcome, SynthesizeError> {
        let path = format!(
            "api/vendor-api/service/{}/count",
            url::form_urlencoded::byte_serialize(service_id.as_bytes()).collect::<String>()
        );
        let body = serde_json::json!({ "accountId": account_id, "unitCount": unit_count });
        match self
            .call(Method::POST, &path, Some(body), true, cancel)
            .await
        {
            Ok(_) => Ok(CountPostOutcome::Sent),
            Err(SynthesizeError::Http {
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
    ) -> Result<(), SynthesizeError> {
        let path = format!("api/vendor-api/organization/status/{}", status.as_str());
        self.call(Method::PATCH, &path, None, true, cancel)
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
    fn skus_accept_underscore_id_and_numbers() {
        let skus: Vec<Sku> =
            serde_json::from_str(r#"[{"_id":"a1","name":"Shared Devices"},{"id":7,"name":"x"}]"#)
                .unwrap();
        assert_eq!(skus[0].id, "a1");
        assert_eq!(skus[1].id, "7");
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
            Err(SynthesizeError::Url(_))
        ));
    }
}
