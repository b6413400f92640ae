//! Sending a run's notification to the profile's webhook through the product's hardened HTTP
//! layer: https only (plain http only to this machine), no credentials in the URL, same-origin
//! redirects, a bounded answer and a short deadline. One attempt: a POST is not repeated (the
//! channel would get it twice), and a notification must never hold up or change the run.
//!
//! The URL is a secret (whoever has it can post to the channel): no error here quotes it, only
//! its host and port.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::api::http::{self, AttemptError, HttpSettings, UrlProblem};
use crate::domain::notify::{RunNotice, WebhookKind};
use crate::storage::Secret;

/// The whole deadline of the one attempt (connect, answer and body).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// A notification that could not be sent, in words that never hold the webhook URL.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("Notification webhook URL: {0}")]
    BadUrl(String),
    #[error("the notification could not be set up: {0}")]
    Setup(String),
    #[error("the webhook at {at} did not take the notification: {reason}")]
    Refused { at: String, reason: String },
    #[error("cancelled")]
    Cancelled,
}

/// Checks a webhook URL as typed, without ever repeating it: https (or plain http to this
/// machine) and no user name or password in it.
pub fn check_webhook_url(text: &str) -> Result<Url, NotifyError> {
    let trimmed = text.trim();
    let url = Url::parse(trimmed).map_err(|e| {
        NotifyError::BadUrl(format!(
            "it is not a valid URL ({e}); paste the whole https:// address the channel gave"
        ))
    })?;
    if url.host().is_none() {
        return Err(NotifyError::BadUrl("it has no host name".into()));
    }
    http::check_transport("Notification webhook URL", &url).map_err(|p| {
        NotifyError::BadUrl(match p {
            UrlProblem::InsecureHttp { .. } => format!(
                "{} uses plain http://, which would send the notification unencrypted; use the https:// address (plain http is accepted only for this machine)",
                http::host_port(&url)
            ),
            UrlProblem::UnsupportedScheme { .. } => "it must start with https://".into(),
            UrlProblem::CredentialsInUrl { .. } => {
                "it holds a user name or password (the part before @); remove it".into()
            }
            UrlProblem::Invalid { reason, .. } => format!("it is not a valid URL ({reason})"),
        })
    })?;
    Ok(url)
}

/// Posts `notice` to the webhook as `kind` wants it.
pub async fn send_notice(
    notice: &RunNotice,
    kind: WebhookKind,
    webhook: &Secret,
    cancel: &CancellationToken,
) -> Result<(), NotifyError> {
    let url = check_webhook_url(webhook.expose())?;
    let at = http::host_port(&url);
    let settings = HttpSettings {
        timeout_secs: NOTIFY_TIMEOUT.as_secs_f64(),
        connect_timeout_secs: 5.0,
        max_retries: 0,
        ..HttpSettings::default()
    };
    let client =
        http::build_http_client(&settings).map_err(|e| NotifyError::Setup(e.to_string()))?;
    let request = client.post(url).json(&notice.payload(kind));
    let sent = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(NotifyError::Cancelled),
        sent = http::send(request) => sent,
    };
    sent.map(|_| ()).map_err(|e| NotifyError::Refused {
        at,
        reason: describe(&e),
    })
}

fn describe(e: &AttemptError) -> String {
    match e {
        AttemptError::Transport(kind, detail) => format!("{kind:?}: {detail}"),
        AttemptError::Status(failure) => {
            if failure.message.is_empty() {
                format!("HTTP {}", failure.status)
            } else {
                format!("HTTP {}: {}", failure.status, failure.message)
            }
        }
        AttemptError::Malformed(text) => text.clone(),
        AttemptError::Refused(refusal) => refusal.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_https_or_loopback_and_never_quoted() {
        assert!(check_webhook_url("https://hooks.slack.com/services/T0/B0/secretpart").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9/hook").is_ok());
        for bad in [
            "http://hooks.example.com/services/secretpart",
            "ftp://hooks.example.com/secretpart",
            "https://user:secretpart@hooks.example.com/x",
            "hooks.example.com/secretpart",
            "https://",
            "not a url secretpart",
        ] {
            let err = check_webhook_url(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("Notification webhook URL: "),
                "{bad}: {err}"
            );
            assert!(!err.contains("secretpart"), "{bad}: {err}");
        }
    }
}
