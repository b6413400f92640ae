//! The one HTTP layer both clients send through, and the only place its rules live:
//!
//! - **Transport.** TLS, except to this machine. "This machine" is judged on the address a host
//!   denotes, not on how it is spelled: `::ffff:127.0.0.1` is 127.0.0.1, and `localhost` is
//!   pinned to the loopback addresses so no resolver can send it elsewhere.
//! - **No credentials in URLs.** `https://user:pass@host` is refused before anything is sent
//!   (a client would turn it into Basic auth), and such a URL is never printed.
//! - **Redirects.** Only to the same origin (scheme, host, port) and only if the target passes
//!   the transport rule; anything else is refused, so `Authorization`, `clientId` and
//!   `GRADIENT-TOKEN` never cross to another origin. Loops end after a few hops.
//! - **Bounded answers.** Every body is read as a stream under a size cap: a page or list
//!   answer stops at [`MAX_BODY_BYTES`] with a clear error, an error answer is cut at
//!   [`MAX_ERROR_BODY_BYTES`] (only its message is wanted).
//! - **Time.** A connect timeout of 5 s and a total per-attempt deadline (connect, answer and
//!   body together); an attempt that got no answer is retried once, a refused connection
//!   twice, so a server that accepts and never answers costs two deadlines, not seven.
//! - **Retries** live beside it, in [`super::retry`]: one policy for both clients.
//! - **Words.** A failure becomes a message naming `host:port`; an error page in HTML (a proxy's
//!   502 or 429) becomes its title on one line, never the markup.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use url::{Host, Url};

use crate::domain::printable::printable;

/// Sent on every request so the services' logs can tell the product apart.
pub const USER_AGENT: &str = concat!("cw-shared-devices/", env!("CARGO_PKG_VERSION"));

/// The most a successful answer may hold. A full page of 1,000 unprojected ConnectWise
/// configurations is a few megabytes; this leaves a wide margin and still bounds memory at a
/// few of these per request in flight.
pub const MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// The most of an error answer that is read: enough for any JSON message or HTML title.
pub const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// `http::Uri` cannot hold a longer URL; longer ones are refused here, in words.
pub const MAX_URL_CHARS: usize = u16::MAX as usize - 1;

/// Same-origin redirects followed in a row before the chain counts as a loop.
pub const MAX_REDIRECTS: usize = 5;

/// The host a URL denotes, with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) read as the IPv4 address
/// it is, so the transport rule and the origin rule judge the same thing.
fn denoted_host(url: &Url) -> Option<Host<String>> {
    Some(match url.host()? {
        Host::Domain(d) => Host::Domain(d.to_ascii_lowercase()),
        Host::Ipv4(ip) => Host::Ipv4(ip),
        Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => Host::Ipv4(v4),
            None => Host::Ipv6(ip),
        },
    })
}

/// Whether a URL's host is this machine (where plain `http://` is acceptable).
pub fn is_loopback(url: &Url) -> bool {
    match denoted_host(url) {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Whether two URLs share scheme, host (as [`denoted_host`] reads it) and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && denoted_host(a).is_some()
        && denoted_host(a) == denoted_host(b)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `host` or `host:port` (when the URL names a port), for messages and log lines.
pub fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A URL fit for a message or a log line: scheme, `host:port` and path; never a user name or
/// password, never the query (conditions can hold customer names).
pub fn display_url(url: &Url) -> String {
    format!("{}://{}{}", url.scheme(), host_port(url), url.path())
}

fn has_credentials(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Typed text with any `user:pass@` in front of the host cut out, so an unparseable URL can be
/// quoted back to the user without its password.
fn without_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}…@{}", &rest[at + 1..]),
        None => text.to_owned(),
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
    #[error(
        "{field}: the URL holds a user name or password (the part before @); remove it, since the product never sends, stores or prints credentials in a URL (the keys belong in the profile's keychain entries or the environment variables)"
    )]
    CredentialsInUrl { field: &'static str },
}

/// Parses a user-typed URL (adding `https://` when no scheme is given) and checks the transport.
pub fn parse_service_url(field: &'static str, value: &str) -> Result<Url, UrlProblem> {
    let trimmed = value.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let invalid = |reason: String| UrlProblem::Invalid {
        field,
        value: printable(&without_userinfo(trimmed)).into_owned(),
        reason,
    };
    let url = Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
    if has_credentials(&url) {
        return Err(UrlProblem::CredentialsInUrl { field });
    }
    if url.host().is_none() {
        return Err(invalid("it has no host name".into()));
    }
    check_transport(field, &url)?;
    Ok(url)
}

/// Refuses credentials in the URL, and plain `http://` to anything but loopback, before any
/// credential is sent.
pub fn check_transport(field: &'static str, url: &Url) -> Result<(), UrlProblem> {
    if has_credentials(url) {
        return Err(UrlProblem::CredentialsInUrl { field });
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(UrlProblem::InsecureHttp {
            field,
            url: display_url(url),
        }),
        _ => Err(UrlProblem::UnsupportedScheme {
            field,
            url: display_url(url),
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
    /// One attempt's whole deadline: connecting, the answer and its body together.
    pub timeout_secs: f64,
    pub connect_timeout_secs: f64,
    /// Retries after the first attempt (fewer for timeouts and refused connections, see
    /// [`super::retry::TIMEOUT_RETRIES`] and [`super::retry::CONNECT_RETRIES`]).
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
            connect_timeout_secs: 5.0,
            max_retries: 6,
            min_backoff_ms: 200,
            max_backoff_ms: 10_000,
            retry_after_cap_secs: 60,
            extra_root_certificates_pem: None,
        }
    }
}

impl HttpSettings {
    /// The wait before retry number `retry` (0-based): exponential, capped, with up to 50%
    /// jitter so parallel requests do not retry in step.
    pub(super) fn backoff(&self, retry: usize) -> Duration {
        let factor = 1u64 << retry.min(20);
        let base_ms = self
            .min_backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms.max(self.min_backoff_ms));
        let jitter_ms = rand::random_range(0..=base_ms / 2);
        Duration::from_millis(base_ms + jitter_ms)
    }
}

/// The HTTP client could not be built (most often: no CA certificates on the system).
#[derive(Debug, thiserror::Error)]
#[error(
    "could not set up secure connections: {0}; on Debian or Ubuntu install the ca-certificates package"
)]
pub struct ClientSetupError(String);

/// What a redirect may do: stay on the origin the request started at, pass the transport rule,
/// and not go round in circles.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first().cloned() else {
            return attempt.follow();
        };
        let next = attempt.url().clone();
        if attempt.previous().len() > MAX_REDIRECTS || attempt.previous().contains(&next) {
            return attempt.error(Refusal::RedirectLoop {
                at: host_port(&first),
            });
        }
        if !same_origin(&first, &next) || check_transport("redirect", &next).is_err() {
            return attempt.error(Refusal::RedirectToOtherOrigin {
                from: host_port(&first),
                to: display_url(&next),
            });
        }
        attempt.follow()
    })
}

pub fn build_http_client(settings: &HttpSettings) -> Result<reqwest::Client, ClientSetupError> {
    let extra_roots = match &settings.extra_root_certificates_pem {
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            ClientSetupError(format!("the extra CA certificates: {}", error_chain(&e)))
        })?,
        None => Vec::new(),
    };
    // `localhost` is trusted with plain http, so it must reach this machine whatever the
    // resolver says (a URL's own port always wins over the 0 here).
    let loopback = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
    ];
    reqwest::Client::builder()
        .tls_certs_merge(extra_roots)
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs_f64(settings.timeout_secs))
        .connect_timeout(Duration::from_secs_f64(settings.connect_timeout_secs))
        .redirect(redirect_policy())
        .referer(false)
        .resolve_to_addrs("localhost", &loopback)
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
    printable(&parts.join(": ")).into_owned()
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

/// A request the layer would not send, or an answer it would not follow or read. None of these
/// is retried: asking again would end the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{from} answered with a redirect to {to}, another address; it was not followed, so no key or id was sent there (if that address is the right one, use it as the URL)"
    )]
    RedirectToOtherOrigin { from: String, to: String },
    #[error(
        "{at} redirected too many times (a redirect loop); check the URL and the server's set-up"
    )]
    RedirectLoop { at: String },
    #[error("{at} sent a redirect that cannot be followed ({detail})")]
    BadRedirect { at: String, detail: String },
    #[error(
        "the request to {at} could not be built ({reason}); a value in it is too long or holds characters that cannot be sent: check the company id, the client id and the keys"
    )]
    RequestNotBuilt { at: String, reason: String },
    #[error(
        "{at} sent an answer of more than {limit_mb} MB, far more than this API ever sends; the product stopped reading it (check the URL points at the service)"
    )]
    BodyTooLarge { at: String, limit_mb: u64 },
    #[error("{0}")]
    Url(UrlProblem),
}

impl Refusal {
    /// Whether the fix is in the command line or the profile (exit status 2), not the server.
    pub fn is_configuration(&self) -> bool {
        matches!(self, Refusal::RequestNotBuilt { .. } | Refusal::Url(_))
    }
}

/// A response that was not 2xx: the status and the body's message, kept for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    pub status: StatusCode,
    pub message: String,
    /// Seconds from `Retry-After` (given in seconds or as an HTTP date), when the response had
    /// one.
    pub retry_after_secs: Option<u64>,
}

/// The longest message kept from an error body.
const MESSAGE_CHARS: usize = 300;

fn one_short_line(text: &str, max_chars: usize) -> String {
    let cleaned = printable(text);
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = collapsed.chars().take(max_chars).collect();
    if collapsed.chars().count() > max_chars {
        short.push('…');
    }
    short
}

/// The `<title>` of an HTML page, if it has one.
fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = text.get(start..end)?;
    let title = title
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'");
    let title = one_short_line(&title, 100);
    (!title.is_empty()).then_some(title)
}

fn looks_like_html(content_type: Option<&str>, text: &str) -> bool {
    let start = text
        .trim_start()
        .get(..15)
        .unwrap_or("")
        .to_ascii_lowercase();
    content_type.is_some_and(|c| c.to_ascii_lowercase().contains("html"))
        || start.starts_with("<!doctype html")
        || start.starts_with("<html")
}

/// Reads the message out of an error body: `message`, `error`, `code`, the title of an HTML
/// page, or the text itself, always on one short line with nothing a terminal acts on.
pub fn body_message(body: &[u8]) -> String {
    error_message(None, body)
}

fn error_message(content_type: Option<&str>, body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "errorMessage", "code"] {
            if let Some(text) = value.get(key).and_then(|v| v.as_str())
                && !text.trim().is_empty()
            {
                return one_short_line(text, MESSAGE_CHARS);
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    if looks_like_html(content_type, &text) {
        return match html_title(&text) {
            Some(title) => format!(
                "an HTML error page \"{title}\", likely from a proxy in front of the service"
            ),
            None => "an HTML error page, likely from a proxy in front of the service".to_owned(),
        };
    }
    one_short_line(&text, MESSAGE_CHARS)
}

/// `Retry-After` as seconds: either a number of seconds or an HTTP date (a date in the past
/// means now).
pub fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
    )
}

/// Reads at most `limit` bytes of a body; `Ok(None)` when there was more.
async fn read_limited(
    response: &mut reqwest::Response,
    limit: u64,
) -> Result<Option<Bytes>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let capacity = response.content_length().unwrap_or(0).min(limit);
    let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The one place a non-2xx response becomes an `HttpFailure`. Only the first
/// [`MAX_ERROR_BODY_BYTES`] of the body are read; the rest is never fetched.
pub async fn failure_from_response(mut response: reqwest::Response) -> HttpFailure {
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after_secs = header(reqwest::header::RETRY_AFTER).and_then(|v| retry_after_secs(&v));
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let mut body = BytesMut::new();
    // A body error halfway leaves what was read: a message is still better than none.
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY_BYTES as usize - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY_BYTES as usize {
            break;
        }
    }
    HttpFailure {
        status,
        message: error_message(content_type.as_deref(), &body),
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
    /// Refused by this layer's rules (see [`Refusal`]).
    Refused(Refusal),
}

/// The refusal a redirect policy put inside a reqwest error, if any.
fn refusal_inside(err: &reqwest::Error) -> Option<Refusal> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = cause.source();
    }
    None
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
            AttemptError::Refused(_) => false,
        }
    }

    pub fn from_reqwest(err: reqwest::Error) -> Self {
        if let Some(refusal) = refusal_inside(&err) {
            return AttemptError::Refused(refusal);
        }
        let at = err.url().map_or_else(|| "?".to_owned(), host_port);
        if err.is_builder() {
            return AttemptError::Refused(Refusal::RequestNotBuilt {
                at,
                reason: error_chain(&err.without_url()),
            });
        }
        if err.is_redirect() {
            return AttemptError::Refused(Refusal::BadRedirect {
                at,
                detail: error_chain(&err.without_url()),
            });
        }
        let kind = TransportFailure::classify(&err);
        AttemptError::Transport(kind, error_chain(&err.without_url()))
    }
}

/// A 2xx answer with its whole body (within [`MAX_BODY_BYTES`]).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends one attempt of a request under every rule of this module: the URL is checked first
/// (credentials, transport, length), redirects follow [`redirect_policy`], a non-2xx answer
/// becomes [`AttemptError::Status`] and a 2xx body is read under [`MAX_BODY_BYTES`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, AttemptError> {
    let (client, request) = request.build_split();
    let request = request.map_err(AttemptError::from_reqwest)?;
    let url = request.url().clone();
    check_transport("request URL", &url).map_err(|p| AttemptError::Refused(Refusal::Url(p)))?;
    if url.as_str().len() > MAX_URL_CHARS {
        return Err(AttemptError::Refused(Refusal::RequestNotBuilt {
            at: host_port(&url),
            reason: format!(
                "its URL is {} characters long, more than the {MAX_URL_CHARS} HTTP allows",
                url.as_str().len()
            ),
        }));
    }
    let mut response = client
        .execute(request)
        .await
        .map_err(AttemptError::from_reqwest)?;
    if !response.status().is_success() {
        return Err(AttemptError::Status(failure_from_response(response).await));
    }
    let status = response.status();
    let headers = response.headers().clone();
    match read_limited(&mut response, MAX_BODY_BYTES).await {
        Ok(Some(body)) => Ok(Answer {
            status,
            headers,
            body,
        }),
        Ok(None) => Err(AttemptError::Refused(Refusal::BodyTooLarge {
            at: host_port(&url),
            limit_mb: MAX_BODY_BYTES / (1024 * 1024),
        })),
        Err(e) => Err(AttemptError::from_reqwest(e)),
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
            "http://[::ffff:127.0.0.1]:9",
            "http://[::ffff:7f00:1]",
            "https://na.myconnectwise.net",
        ] {
            assert!(parse_service_url("Site URL", ok).is_ok(), "{ok}");
        }
        let err = parse_service_url("Site URL", "http://cw.example.com").unwrap_err();
        assert!(matches!(err, UrlProblem::InsecureHttp { .. }));
        assert!(err.to_string().starts_with("Site URL:"));
        for remote in [
            "http://10.0.0.1",
            "http://[::ffff:10.0.0.1]",
            "http://[::ffff:8.8.8.8]:80",
            "http://localhost.example.com",
            "ftp://x.example.com",
        ] {
            assert!(parse_service_url("Site URL", remote).is_err(), "{remote}");
        }
    }

    #[test]
    fn origins_compare_the_address_a_host_denotes() {
        let url = |s| Url::parse(s).unwrap();
        assert!(same_origin(
            &url("http://127.0.0.1:4000/a"),
            &url("http://[::ffff:127.0.0.1]:4000/b")
        ));
        assert!(same_origin(
            &url("https://Na.MyConnectWise.net/a"),
            &url("https://na.myconnectwise.net:443/b")
        ));
        for (a, b) in [
            ("http://127.0.0.1:4000", "http://127.0.0.1:4001"),
            ("http://127.0.0.1:4000", "https://127.0.0.1:4000"),
            ("https://app.usegradient.com", "https://evil.example.com"),
            ("http://127.0.0.1:4000", "http://localhost:4000"),
        ] {
            assert!(!same_origin(&url(a), &url(b)), "{a} {b}");
        }
    }

    #[test]
    fn credentials_in_urls_are_refused_and_never_repeated() {
        for typed in [
            "http://user:pa55word@127.0.0.1:9",
            "https://user:pa55word@na.myconnectwise.net",
            "user:pa55word@na.myconnectwise.net",
            "https://pa55word@na.myconnectwise.net",
        ] {
            let err = parse_service_url("Site URL", typed).unwrap_err();
            assert!(
                matches!(err, UrlProblem::CredentialsInUrl { .. }),
                "{typed}: {err}"
            );
            assert!(!err.to_string().contains("pa55word"), "{err}");
        }
        // Unparseable, and with a password in it: quoted back without the password.
        let err = parse_service_url("Site URL", "https://user:pa55word@[bad").unwrap_err();
        assert!(!err.to_string().contains("pa55word"), "{err}");
        let url = Url::parse("https://u:p@h.example.com/x").unwrap();
        assert_eq!(
            check_transport("f", &url),
            Err(UrlProblem::CredentialsInUrl { field: "f" })
        );
    }

    #[test]
    fn messages_keep_the_port_and_drop_the_query() {
        let url = Url::parse("http://127.0.0.1:4123/v4_6_release/apis/3.0/x?conditions=a").unwrap();
        assert_eq!(host_port(&url), "127.0.0.1:4123");
        assert_eq!(
            display_url(&url),
            "http://127.0.0.1:4123/v4_6_release/apis/3.0/x"
        );
        let url = Url::parse("https://na.myconnectwise.net/x").unwrap();
        assert_eq!(host_port(&url), "na.myconnectwise.net");
        let url = Url::parse("http://[::1]:9/").unwrap();
        assert_eq!(host_port(&url), "[::1]:9");
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

    #[test]
    fn error_bodies_become_one_clean_short_line() {
        let html = b"<!DOCTYPE html>\n<html><head><title>api-na.myconnectwise.net | 502: Bad gateway</title></head>\n<body><h1>Bad gateway</h1>\n</body></html>";
        let text = error_message(Some("text/html; charset=UTF-8"), html);
        assert_eq!(
            text,
            "an HTML error page \"api-na.myconnectwise.net | 502: Bad gateway\", likely from a proxy in front of the service"
        );
        assert_eq!(
            error_message(None, b"<html><body>no title</body></html>"),
            "an HTML error page, likely from a proxy in front of the service"
        );
        let hostile = body_message(b"{\"message\":\"bad\\u001b[2J\\nthing\"}");
        assert_eq!(hostile, "bad\u{FFFD}[2J thing");
        let long = body_message("x".repeat(10_000).as_bytes());
        assert_eq!(long.chars().count(), MESSAGE_CHARS + 1);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(retry_after_secs(" 7 "), Some(7));
        assert_eq!(retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        let soon = SystemTime::now() + Duration::from_secs(30);
        let secs = retry_after_secs(&httpdate::fmt_http_date(soon)).unwrap();
        assert!((28..=31).contains(&secs), "{secs}");
        assert_eq!(retry_after_secs("soon"), None);
    }
}
