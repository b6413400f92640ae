//! What both clients share: the transport rule (TLS except on loopback), the HTTP client, the
//! retry policy, and turning a failed request into words a technician can act on.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Sent on every request so the services' logs can tell the product apart.
pub const USER_AGENT: &str = concat!("cw-shared-devices/", env!("CARGO_PKG_VERSION"));

/// Whether a URL's host is this machine (where plain `http://` is acceptable).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A URL the product will not send credentials to, or cannot use at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error(
        "{field}: \"{value}\" is not a valid URL ({reason}); type it like https://na.myconnectwise.net"
    )]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "{field}: {url} uses plain http://, which would send your keys unencrypted; use https:// (plain http is accepted only for this machine, such as the demo sandbox)"
    )]
    InsecureHttp { field: &'static str, url: String },
    #[error("{field}: {url} must start with https://")]
    UnsupportedScheme { field: &'static str, url: String },
}

/// Parses a user-typed URL (adding `https://` when no scheme is given) and checks the transport.
pub fn parse_service_url(field: &'static str, value: &str) -> Result<Url, UrlProblem> {
    let trimmed = value.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| UrlProblem::Invalid {
        field,
        value: trimmed.to_owned(),
        reason: e.to_string(),
    })?;
    if url.host().is_none() {
        return Err(UrlProblem::Invalid {
            field,
            value: trimmed.to_owned(),
            reason: "it has no host name".into(),
        });
    }
    check_transport(field, &url)?;
    Ok(url)
}

/// Refuses plain `http://` to anything but loopback, before any credential is sent.
pub fn check_transport(field: &'static str, url: &Url) -> Result<(), UrlProblem> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(UrlProblem::InsecureHttp {
            field,
            url: url.to_string(),
        }),
        _ => Err(UrlProblem::UnsupportedScheme {
            field,
            url: url.to_string(),
        }),
    }
}

/// Joins path segments onto a base URL that may or may not end in `/`.
pub fn join_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

/// Timeouts and retry limits for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub timeout_secs: f64,
    pub connect_timeout_secs: f64,
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A `Retry-After` longer than this is cut to it, so a run never stalls for an hour.
    pub retry_after_cap_secs: u64,
    /// Root certificates (PEM) trusted beside the system's, such as an on-premise server's
    /// internal CA.
    pub extra_root_certificates_pem: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 30.0,
            connect_timeout_secs: 10.0,
            max_retries: 6,
            min_backoff_ms: 200,
            max_backoff_ms: 10_000,
            retry_after_cap_secs: 60,
            extra_root_certificates_pem: None,
        }
    }
}

impl HttpSettings {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.min_backoff_ms))
            .with_max_delay(Duration::from_millis(self.max_backoff_ms))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_retries)
    }
}

/// The HTTP client could not be built (most often: no CA certificates on the system).
#[derive(Debug, thiserror::Error)]
#[error(
    "could not set up secure connections: {0}; on Debian or Ubuntu install the ca-certificates package"
)]
pub struct ClientSetupError(String);

pub fn build_http_client(settings: &HttpSettings) -> Result<reqwest::Client, ClientSetupError> {
    let extra_roots = match &settings.extra_root_certificates_pem {
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            ClientSetupError(format!("the extra CA certificates: {}", error_chain(&e)))
        })?,
        None => Vec::new(),
    };
    reqwest::Client::builder()
        .tls_certs_merge(extra_roots)
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs_f64(settings.timeout_secs))
        .connect_timeout(Duration::from_secs_f64(settings.connect_timeout_secs))
        .build()
        .map_err(|e| ClientSetupError(error_chain(&e)))
}

/// The whole chain of an error's causes on one line.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Why a request got no usable HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportFailure {
    Dns,
    Tls,
    Connect,
    Timeout,
    /// The connection dropped or the body was cut off.
    Interrupted,
}

impl TransportFailure {
    /// Classifies a reqwest error by its causes.
    pub fn classify(err: &reqwest::Error) -> Self {
        let chain = error_chain(err).to_lowercase();
        if err.is_timeout() {
            TransportFailure::Timeout
        } else if chain.contains("dns error")
            || chain.contains("failed to lookup address")
            || chain.contains("name or service not known")
            || chain.contains("no address associated")
            || chain.contains("nodename nor servname")
        {
            TransportFailure::Dns
        } else if chain.contains("certificate")
            || chain.contains("tls")
            || chain.contains("handshake")
            || chain.contains("invalid peer")
            || chain.contains("corrupt message")
            || chain.contains("invalidcontenttype")
        {
            TransportFailure::Tls
        } else if err.is_connect() {
            TransportFailure::Connect
        } else {
            TransportFailure::Interrupted
        }
    }
}

/// A response that was not 2xx: the status and the body's message, kept for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    pub status: StatusCode,
    pub message: String,
    /// Seconds from `Retry-After`, when the response had one.
    pub retry_after_secs: Option<u64>,
}

/// Reads the message out of an error body: `message`, `error`, `code`, or the text itself.
pub fn body_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "errorMessage", "code"] {
            if let Some(text) = value.get(key).and_then(|v| v.as_str())
                && !text.is_empty()
            {
                return text.to_owned();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut short: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        short.push('…');
    }
    short
}

/// The one place a non-2xx response becomes an `HttpFailure`.
pub async fn failure_from_response(response: reqwest::Response) -> HttpFailure {
    let status = response.status();
    let retry_after_secs = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.bytes().await.unwrap_or_default();
    HttpFailure {
        status,
        message: body_message(&body),
        retry_after_secs,
    }
}

/// What one attempt of a request ended with, before it is put in a client's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    Transport(TransportFailure, String),
    Status(HttpFailure),
    /// A 2xx body that is not what the API documents.
    Malformed(String),
}

impl AttemptError {
    /// Whether a GET (or an idempotent write) may be sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            AttemptError::Transport(kind, _) => {
                !matches!(kind, TransportFailure::Dns | TransportFailure::Tls)
            }
            AttemptError::Status(f) => matches!(f.status.as_u16(), 429 | 500 | 502 | 503 | 504),
            AttemptError::Malformed(_) => true,
        }
    }

    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let kind = TransportFailure::classify(&err);
        AttemptError::Transport(kind, error_chain(&err.without_url()))
    }
}

/// Retries `attempt` with exponential backoff and jitter while the error is retryable, honouring
/// `Retry-After` (capped) on 429 and 503, and stopping at once when `cancel` fires.
///
/// Returns `Ok(None)` when cancelled.
pub async fn with_retries<T, F, Fut>(
    settings: &HttpSettings,
    cancel: &CancellationToken,
    retryable: impl Fn(&AttemptError) -> bool,
    mut on_retry: impl FnMut(&AttemptError, Duration),
    attempt: F,
) -> Result<Option<T>, AttemptError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let cap = Duration::from_secs(settings.retry_after_cap_secs);
    let retried = attempt
        .retry(settings.backoff())
        .when(|e| retryable(e))
        .adjust(|e, backoff| {
            let backoff = backoff?;
            match e {
                AttemptError::Status(f) => match f.retry_after_secs {
                    Some(secs) => Some(Duration::from_secs(secs).min(cap).max(backoff.min(cap))),
                    None => Some(backoff),
                },
                _ => Some(backoff),
            }
        })
        .notify(|e, delay| on_retry(e, delay));
    tokio::select! {
        biased;
        () = cancel.cancelled() => Ok(None),
        result = retried => result.map(Some),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:1",
            "http://[::1]:9",
            "https://na.myconnectwise.net",
        ] {
            assert!(parse_service_url("Site URL", ok).is_ok(), "{ok}");
        }
        let err = parse_service_url("Site URL", "http://cw.example.com").unwrap_err();
        assert!(matches!(err, UrlProblem::InsecureHttp { .. }));
        assert!(err.to_string().starts_with("Site URL:"));
        assert!(parse_service_url("Site URL", "http://10.0.0.1").is_err());
        assert!(parse_service_url("Site URL", "ftp://x.example.com").is_err());
    }

    #[test]
    fn missing_scheme_means_https() {
        let url = parse_service_url("Site URL", " eu.myconnectwise.net ").unwrap();
        assert_eq!(url.as_str(), "https://eu.myconnectwise.net/");
        assert!(parse_service_url("Site URL", "https://").is_err());
    }

    #[test]
    fn join_path_handles_slashes() {
        let base = Url::parse("http://h/v4_6_release/apis/3.0").unwrap();
        assert_eq!(
            join_path(&base, "/system/info").as_str(),
            "http://h/v4_6_release/apis/3.0/system/info"
        );
        let base = Url::parse("http://h/").unwrap();
        assert_eq!(
            join_path(&base, "api/vendor-api").as_str(),
            "http://h/api/vendor-api"
        );
    }

    #[test]
    fn body_message_prefers_the_message_field() {
        assert_eq!(
            body_message(br#"{"code":"X","message":"No account map found with id 5"}"#),
            "No account map found with id 5"
        );
        assert_eq!(body_message(b"plain text"), "plain text");
    }
}
