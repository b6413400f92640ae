//! The one error type of both clients: a call to ConnectWise or Synthesize that failed, in the
//! technician's words, each with the likely fix.
//!
//! The failures both services share (keys refused, DNS, TLS, unreachable, timeout, rate limit,
//! another HTTP status, an unreadable answer, a refusal of the HTTP layer) carry the service
//! they happened on and are worded for it; the few that only one service has are variants of
//! their own.

use std::fmt;

use super::connectwise::DEFAULT_API_VERSION;
use super::http::{Refusal, UrlProblem};

/// Which service a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    ConnectWise,
    Synthesize,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::ConnectWise => "ConnectWise",
            Service::Synthesize => "Synthesize",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// A URL the product will not send credentials to, or cannot use at all.
    Url(UrlProblem),
    /// Settings that cannot make a client (the words say which).
    Setup(String),
    /// The service refused the keys; `message` is what its answer said.
    BadCredentials {
        service: Service,
        status: u16,
        message: String,
    },
    RateLimited {
        service: Service,
        attempts: usize,
    },
    Dns {
        service: Service,
        host: String,
    },
    Tls {
        service: Service,
        host: String,
        detail: String,
    },
    Unreachable {
        service: Service,
        host: String,
        detail: String,
    },
    Timeout {
        service: Service,
        attempts: usize,
    },
    Http {
        service: Service,
        status: u16,
        message: String,
    },
    Malformed {
        service: Service,
        detail: String,
    },
    /// Refused by the HTTP layer's rules (another origin, a redirect loop, an oversized
    /// answer, a request that cannot be built).
    Refused(Service, Refusal),
    Cancelled,
    /// ConnectWise: the company id is not one the site knows.
    UnknownCompany {
        company_id: String,
        site: String,
    },
    /// ConnectWise: the clientId header was refused.
    BadClientId {
        status: u16,
        message: String,
    },
    /// ConnectWise: the API member may not read configurations.
    NoRights,
    /// ConnectWise: the site does not accept the API version asked for.
    ApiVersionRejected {
        version: String,
        status: u16,
        message: String,
    },
    /// ConnectWise kept paging past what it counted at the start.
    PagingRunaway {
        counted: u64,
        read: u64,
    },
    /// Synthesize: 403, often its usage-pattern guard.
    Forbidden {
        message: String,
    },
}

impl TransportError {
    /// The HTTP status behind the failure, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TransportError::BadCredentials { status, .. }
            | TransportError::Http { status, .. }
            | TransportError::ApiVersionRejected { status, .. } => Some(*status),
            TransportError::NoRights | TransportError::Forbidden { .. } => Some(403),
            TransportError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether the fix is in the settings (a URL, a request that cannot be built, a URL the
    /// rules refuse) rather than in the service or the network.
    pub fn is_configuration(&self) -> bool {
        match self {
            TransportError::Url(_) | TransportError::Setup(_) => true,
            TransportError::Refused(_, r) => r.is_configuration(),
            _ => false,
        }
    }
}

impl From<UrlProblem> for TransportError {
    fn from(problem: UrlProblem) -> Self {
        TransportError::Url(problem)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Url(problem) => problem.source(),
            _ => None,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Url(problem) => fmt::Display::fmt(problem, f),
            TransportError::Setup(words) => f.write_str(words),
            TransportError::Timeout { service, attempts } => write!(
                f,
                "{service} did not answer in time after {attempts} attempts: try again later"
            ),
            TransportError::Http {
                service,
                status,
                message,
            } => write!(f, "{service} answered HTTP {status}: {message}"),
            TransportError::Refused(service, refusal) => write!(f, "{service}: {refusal}"),
            TransportError::Cancelled => f.write_str("cancelled"),
            TransportError::UnknownCompany { company_id, site } => write!(
                f,
                "ConnectWise does not know the company id \"{company_id}\" at {site}: check the Company ID (the one you type on the ConnectWise login screen) and the site"
            ),
            TransportError::BadClientId { status, message } => write!(
                f,
                "ConnectWise refused the clientId (HTTP {status}: {message}): enter the Client ID issued for this integration on the ConnectWise developer portal"
            ),
            TransportError::NoRights => f.write_str(
                "ConnectWise says the API member has no rights to read configurations (HTTP 403): give its security role Company › Configurations at Inquire level or higher",
            ),
            TransportError::ApiVersionRejected {
                version,
                status,
                message,
            } => write!(
                f,
                "ConnectWise does not accept the API version {version} (HTTP {status}: {message}): set another ConnectWise API version in the profile (for example {DEFAULT_API_VERSION}, or the site's own version), or clear it for the default"
            ),
            TransportError::PagingRunaway { counted, read } => write!(
                f,
                "ConnectWise kept sending configurations past the {counted} it counted at the start ({read} read so far); the tenant may be changing very fast, or the server is not paging as it should: try again later"
            ),
            TransportError::Forbidden { message } => write!(
                f,
                "Synthesize refused the request (HTTP 403: {message}): it may have flagged the usage pattern; wait and try again, or contact Gradient support"
            ),
            // Listed, not `_`: a new variant must be worded before this compiles.
            TransportError::BadCredentials { .. }
            | TransportError::RateLimited { .. }
            | TransportError::Dns { .. }
            | TransportError::Tls { .. }
            | TransportError::Unreachable { .. }
            | TransportError::Malformed { .. } => self.fmt_per_service(f),
        }
    }
}

impl TransportError {
    /// The shared failures whose words differ by service (what to check is not the same).
    fn fmt_per_service(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Service::{ConnectWise, Synthesize};
        match self {
            TransportError::BadCredentials {
                service: ConnectWise,
                status,
                ..
            } => write!(
                f,
                "ConnectWise refused the API keys (HTTP {status}): check the company id, the public and private keys, and that the API member is active; cloud sites answer 404 for wrong keys"
            ),
            TransportError::BadCredentials {
                service: Synthesize,
                status,
                message,
            } => write!(
                f,
                "Synthesize refused the API keys (HTTP {status}: {message}): check the vendor and partner API keys under Integrations › Custom in Synthesize"
            ),
            TransportError::RateLimited {
                service: ConnectWise,
                attempts,
            } => write!(
                f,
                "ConnectWise kept answering \"too many requests\" (HTTP 429) after {attempts} attempts: wait a few minutes and try again, or run it at a quieter time"
            ),
            TransportError::RateLimited {
                service: Synthesize,
                attempts,
            } => write!(
                f,
                "Synthesize kept answering \"too many requests\" (HTTP 429) after {attempts} attempts: try again in a few minutes"
            ),
            TransportError::Dns {
                service: ConnectWise,
                host,
            } => write!(
                f,
                "cannot find the ConnectWise site {host} (DNS lookup failed): check the site URL and this machine's network"
            ),
            TransportError::Dns {
                service: Synthesize,
                host,
            } => write!(
                f,
                "cannot find {host} (DNS lookup failed): check the Synthesize URL and the network"
            ),
            TransportError::Tls {
                service: ConnectWise,
                host,
                detail,
            } => write!(
                f,
                "the secure connection to {host} failed (TLS: {detail}): check the site URL; an on-premise server needs a certificate this machine trusts"
            ),
            TransportError::Tls {
                service: Synthesize,
                host,
                detail,
            } => write!(
                f,
                "the secure connection to {host} failed (TLS: {detail}): check the Synthesize URL"
            ),
            TransportError::Unreachable {
                service: ConnectWise,
                host,
                detail,
            } => write!(
                f,
                "cannot reach the ConnectWise site {host} ({}): check the site URL, the network, and any proxy or firewall",
                plain_network_detail(detail)
            ),
            TransportError::Unreachable {
                service: Synthesize,
                host,
                detail,
            } => write!(
                f,
                "cannot reach Synthesize at {host} ({}): check the URL, the network, and any proxy",
                plain_network_detail(detail)
            ),
            TransportError::Malformed {
                service: ConnectWise,
                detail,
            } => write!(
                f,
                "ConnectWise sent a response the product cannot read ({detail}): check the site URL points at ConnectWise PSA"
            ),
            TransportError::Malformed {
                service: Synthesize,
                detail,
            } => write!(
                f,
                "Synthesize sent a response the product cannot read ({detail})"
            ),
            // Display::fmt sends only the failures above here (it lists them by name) and words
            // every other one itself, so this arm is never taken; it words the failure plainly
            // rather than stopping the program.
            _ => f.write_str("the request failed"),
        }
    }
}

/// What a failed connection's causes mean, in words a technician reads at a glance: the HTTP
/// stack's own wording ("error sending request: client error (Connect): tcp connect error: …")
/// names its internals, not the problem. The full chain stays in the log.
fn plain_network_detail(detail: &str) -> String {
    let lower = detail.to_lowercase();
    let known = [
        (
            "connection refused",
            "the connection was refused: nothing answers at that address and port",
        ),
        (
            "network is unreachable",
            "the network is unreachable from this machine",
        ),
        (
            "network unreachable",
            "the network is unreachable from this machine",
        ),
        ("no route to host", "there is no route to that host"),
        ("host is unreachable", "there is no route to that host"),
        ("connection reset", "the connection was reset"),
        ("connection aborted", "the connection was cut"),
        ("broken pipe", "the connection was cut"),
        ("timed out", "no answer in time"),
        ("proxy", "the proxy did not let the connection through"),
        (
            "connection closed",
            "the connection closed before an answer came",
        ),
        (
            "incomplete message",
            "the connection closed before the whole answer came",
        ),
        (
            "unexpected eof",
            "the connection closed before the whole answer came",
        ),
    ];
    if let Some((_, words)) = known.iter().find(|(cause, _)| lower.contains(cause)) {
        return (*words).to_owned();
    }
    // Something else: keep what the system said, without the HTTP stack's own layers.
    let parts: Vec<&str> = detail
        .split(": ")
        .map(str::trim)
        .filter(|part| {
            let part = part.to_lowercase();
            !(part.starts_with("error sending request")
                || part.starts_with("client error")
                || part.starts_with("tcp connect error")
                || part.is_empty())
        })
        .collect();
    let text = parts.join(": ");
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    if text.is_empty() {
        "the connection failed".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(service: Service) -> Vec<TransportError> {
        let host = "example.test:443".to_owned();
        let detail = "detail".to_owned();
        vec![
            TransportError::BadCredentials {
                service,
                status: 401,
                message: "no".into(),
            },
            TransportError::RateLimited {
                service,
                attempts: 3,
            },
            TransportError::Dns {
                service,
                host: host.clone(),
            },
            TransportError::Tls {
                service,
                host: host.clone(),
                detail: detail.clone(),
            },
            TransportError::Unreachable {
                service,
                host,
                detail: detail.clone(),
            },
            TransportError::Timeout {
                service,
                attempts: 3,
            },
            TransportError::Http {
                service,
                status: 500,
                message: "boom".into(),
            },
            TransportError::Malformed { service, detail },
        ]
    }

    #[test]
    fn a_shared_failure_names_the_service_it_happened_on() {
        for (cw, synth) in shared(Service::ConnectWise)
            .into_iter()
            .zip(shared(Service::Synthesize))
        {
            let (cw, synth) = (cw.to_string(), synth.to_string());
            assert!(
                cw.contains("ConnectWise") || cw.contains("site URL"),
                "{cw}"
            );
            assert!(synth.contains("Synthesize"), "{synth}");
            assert!(!synth.contains("ConnectWise"), "{synth}");
            assert!(!cw.contains("Synthesize"), "{cw}");
        }
    }

    #[test]
    fn the_status_behind_a_failure_is_kept() {
        let failures = shared(Service::Synthesize);
        let (keys, limited) = (&failures[0], &failures[1]);
        assert_eq!(keys.status(), Some(401));
        assert_eq!(limited.status(), Some(429));
        assert_eq!(TransportError::NoRights.status(), Some(403));
        assert_eq!(TransportError::Cancelled.status(), None);
    }

    #[test]
    fn a_connection_failure_is_said_in_plain_words_without_the_http_stacks_layers() {
        let refused = "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)";
        let e = TransportError::Unreachable {
            service: Service::ConnectWise,
            host: "127.0.0.1:9".into(),
            detail: refused.into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("the connection was refused: nothing answers at that address and port"),
            "{text}"
        );
        for internal in [
            "client error",
            "tcp connect",
            "os error",
            "error sending request",
        ] {
            assert!(!text.contains(internal), "{text}");
        }
        assert_eq!(
            plain_network_detail(
                "error sending request: client error (Connect): operation timed out"
            ),
            "no answer in time"
        );
        assert_eq!(
            plain_network_detail(
                "error sending request: client error (Connect): tcp connect error: Permission denied (os error 13)"
            ),
            "Permission denied"
        );
        assert_eq!(
            plain_network_detail("error sending request: client error (Connect)"),
            "the connection failed"
        );
    }
}
