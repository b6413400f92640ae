//! The one retry policy both clients follow. Each call declares what repeating it would do
//! ([`Idempotency`]); [`with_retries`] repeats an attempt only as far as that allows, with
//! exponential backoff and jitter, `Retry-After` honoured in seconds or as an HTTP date (capped),
//! a 429 without one waiting a second and more on its own, and stopping at once when cancelled.
//! A write that must never land twice (creating a service or accounts) is not repeated blindly:
//! [`at_most_once`] asks the server what took effect before it sends again. Local mistakes (a
//! request that cannot be built), refused redirects and oversized bodies are never retried.

use std::time::Duration;

use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::error::TransportError;
use super::http::{AttemptError, HttpSettings, TransportFailure};

/// What sending a request again would do, declared by each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// A read: repeated after any failure that may pass, a cut-off or garbled body included.
    Read,
    /// A write that sets a value (a unit count, a status): repeating it sets the same value, so
    /// it is repeated after failures that may pass, but not after a 2xx answer it could not
    /// read (the value is set).
    SetsValue,
    /// A write that creates something: repeated only when the server surely did not carry it
    /// out (it answered 429). After any other failure the outcome is unknown, and the caller
    /// checks with [`at_most_once`] before anything is sent again.
    Creates,
}

impl Idempotency {
    /// Whether an attempt that failed with `err` may be sent again.
    pub fn may_retry(self, err: &AttemptError) -> bool {
        let refused_unread =
            matches!(err, AttemptError::Status(f) if f.status == StatusCode::TOO_MANY_REQUESTS);
        match self {
            Idempotency::Read => err.is_retryable(),
            Idempotency::SetsValue => {
                err.is_retryable() && !matches!(err, AttemptError::Malformed(_))
            }
            Idempotency::Creates => refused_unread,
        }
    }
}

/// Retries of an attempt that got no answer in time (a hung server must not cost seven
/// deadlines, but one slow answer from a busy tenant deserves a second chance).
pub const TIMEOUT_RETRIES: usize = 1;

/// Retries of a connection that was refused or reset while connecting (nothing listening:
/// asking again for seconds does not help, but a server restarting gets a moment).
pub const CONNECT_RETRIES: usize = 2;

/// The first wait after a 429 that names no `Retry-After` (Synthesize documents none). Its
/// limit is per second, so a wait shorter than a second would most likely meet a 429 again.
pub const RATE_LIMIT_PAUSE_MS: u64 = 1_000;

/// How many times a create whose outcome is unknown is checked and sent again.
pub const CREATE_ATTEMPTS: usize = 3;

/// How long to wait before the next attempt after `err`.
fn retry_delay(
    settings: &HttpSettings,
    err: &AttemptError,
    retry: usize,
    rate_limited_in_a_row: u32,
) -> Duration {
    let cap = Duration::from_secs(settings.retry_after_cap_secs);
    let backoff = settings.backoff(retry);
    match err {
        AttemptError::Status(f) => match f.retry_after_secs {
            Some(secs) => Duration::from_secs(secs).min(cap).max(backoff.min(cap)),
            None if f.status == StatusCode::TOO_MANY_REQUESTS => {
                // No Retry-After: a second, doubling while the 429s go on, with jitter.
                let pause_ms = RATE_LIMIT_PAUSE_MS
                    .saturating_mul(1u64 << (rate_limited_in_a_row.clamp(1, 16) - 1));
                let jitter_ms = rand::random_range(0..=pause_ms / 4);
                Duration::from_millis(pause_ms + jitter_ms)
                    .min(cap)
                    .max(backoff.min(cap))
            }
            None => backoff,
        },
        _ => backoff,
    }
}

/// Retries `attempt` while the error is retryable and the limits allow (`max_retries`, at most
/// [`TIMEOUT_RETRIES`] after timeouts and [`CONNECT_RETRIES`] after refused connections),
/// waiting as [`retry_delay`] says, and stopping at once when `cancel` fires.
///
/// Returns `Ok(None)` when cancelled.
pub async fn with_retries<T, F, Fut>(
    settings: &HttpSettings,
    cancel: &CancellationToken,
    retryable: impl Fn(&AttemptError) -> bool,
    mut on_retry: impl FnMut(&AttemptError, Duration),
    mut attempt: F,
) -> Result<Option<T>, AttemptError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let mut retries = 0;
    let mut timeouts = 0;
    let mut failed_connects = 0;
    let mut rate_limited_in_a_row = 0;
    loop {
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(None),
            result = attempt() => result,
        };
        let err = match result {
            Ok(value) => return Ok(Some(value)),
            Err(err) => err,
        };
        if !retryable(&err) || retries >= settings.max_retries {
            return Err(err);
        }
        match &err {
            AttemptError::Transport(TransportFailure::Timeout, _) => {
                if timeouts >= TIMEOUT_RETRIES {
                    return Err(err);
                }
                timeouts += 1;
            }
            AttemptError::Transport(TransportFailure::Connect, _) => {
                if failed_connects >= CONNECT_RETRIES {
                    return Err(err);
                }
                failed_connects += 1;
            }
            _ => {}
        }
        rate_limited_in_a_row = match &err {
            AttemptError::Status(f) if f.status == StatusCode::TOO_MANY_REQUESTS => {
                rate_limited_in_a_row + 1
            }
            _ => 0,
        };
        let delay = retry_delay(settings, &err, retries, rate_limited_in_a_row);
        on_retry(&err, delay);
        retries += 1;
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// What the server's state says about a create whose outcome was unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// It took effect (or what it was for exists now): nothing more is sent.
    Done,
    /// It did not: the (possibly narrowed) request may be sent again.
    SendAgain,
}

/// Whether a failed request may have been carried out anyway (the answer was lost, or the
/// server failed while handling it), so its outcome must be read back before sending again.
pub fn outcome_unknown(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Timeout { .. }
            | TransportError::Unreachable { .. }
            | TransportError::RateLimited { .. }
    ) || e.status().is_some_and(|s| s >= 500)
}

/// How a create sent with [`at_most_once`] ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The server answered that it was carried out.
    Answered,
    /// An attempt failed with this error, and the check found it had taken effect (or that what
    /// it was for exists now).
    FoundAfter(TransportError),
}

/// Sends a create at most once in effect: after a failure that may have carried it out, and
/// after one `also_check` names (a 409 "already exists"), `check` reads the server's state and
/// may narrow the request to what is still missing; only then is it sent again, up to
/// [`CREATE_ATTEMPTS`] times. Other failures are returned as they are.
pub async fn at_most_once<R, S, SF, C, CF>(
    mut request: R,
    also_check: impl Fn(&TransportError) -> bool,
    mut send: S,
    mut check: C,
) -> Result<Created, TransportError>
where
    R: Clone,
    S: FnMut(R) -> SF,
    SF: Future<Output = Result<(), TransportError>>,
    C: FnMut(R, TransportError) -> CF,
    CF: Future<Output = Result<(Checked, R), TransportError>>,
{
    let mut attempt = 1;
    loop {
        let err = match send(request.clone()).await {
            Ok(()) => return Ok(Created::Answered),
            Err(e) => e,
        };
        if !outcome_unknown(&err) && !also_check(&err) {
            return Err(err);
        }
        let (checked, narrowed) = check(request, err.clone()).await?;
        if checked == Checked::Done {
            return Ok(Created::FoundAfter(err));
        }
        if also_check(&err) || attempt >= CREATE_ATTEMPTS {
            return Err(err);
        }
        request = narrowed;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::api::http::HttpFailure;

    #[test]
    fn a_429_without_retry_after_waits_a_second_and_more() {
        let settings = HttpSettings::default();
        let err = AttemptError::Status(HttpFailure {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: String::new(),
            retry_after_secs: None,
        });
        let first = retry_delay(&settings, &err, 0, 1);
        let third = retry_delay(&settings, &err, 2, 3);
        assert!(first >= Duration::from_millis(1_000), "{first:?}");
        assert!(third >= Duration::from_millis(4_000), "{third:?}");
        let capped = retry_delay(&settings, &err, 5, 12);
        assert!(capped <= Duration::from_secs(settings.retry_after_cap_secs));
    }

    #[test]
    fn creates_are_repeated_only_after_a_429() {
        let status = |code: u16| {
            AttemptError::Status(HttpFailure {
                status: StatusCode::from_u16(code).unwrap(),
                message: String::new(),
                retry_after_secs: None,
            })
        };
        let timeout = AttemptError::Transport(TransportFailure::Timeout, String::new());
        let garbled = AttemptError::Malformed("cut off".into());
        assert!(Idempotency::Creates.may_retry(&status(429)));
        for err in [status(500), status(503), timeout.clone(), garbled.clone()] {
            assert!(!Idempotency::Creates.may_retry(&err), "{err:?}");
        }
        assert!(Idempotency::SetsValue.may_retry(&status(503)));
        assert!(Idempotency::SetsValue.may_retry(&timeout));
        assert!(!Idempotency::SetsValue.may_retry(&garbled));
        assert!(Idempotency::Read.may_retry(&garbled));
        assert!(!Idempotency::Read.may_retry(&status(404)));
    }

    fn unknown() -> TransportError {
        TransportError::Timeout {
            service: crate::api::error::Service::Synthesize,
            attempts: 1,
        }
    }

    #[tokio::test]
    async fn a_create_whose_outcome_is_unknown_is_checked_and_only_the_missing_part_sent_again() {
        let sent = std::sync::Mutex::new(Vec::<Vec<u32>>::new());
        let result = at_most_once(
            vec![1, 2, 3],
            |_| false,
            |r: Vec<u32>| {
                let mut sent = sent.lock().unwrap();
                sent.push(r);
                let first = sent.len() == 1;
                async move { if first { Err(unknown()) } else { Ok(()) } }
            },
            // The first attempt stored 1 and 2 before its answer was lost.
            |mut r: Vec<u32>, _| async move {
                r.retain(|id| *id == 3);
                Ok((Checked::SendAgain, r))
            },
        )
        .await;
        assert_eq!(result, Ok(Created::Answered));
        assert_eq!(*sent.lock().unwrap(), vec![vec![1, 2, 3], vec![3]]);
    }

    #[tokio::test]
    async fn a_create_that_took_effect_is_not_sent_again_and_attempts_are_bounded() {
        let sends = std::sync::atomic::AtomicUsize::new(0);
        let send = |()| {
            sends.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Err(unknown()) }
        };
        let done = at_most_once(
            (),
            |_| false,
            send,
            |(), _| async { Ok((Checked::Done, ())) },
        )
        .await;
        assert_eq!(done, Ok(Created::FoundAfter(unknown())));
        assert_eq!(sends.load(std::sync::atomic::Ordering::Relaxed), 1);

        let failed = at_most_once(
            (),
            |_| false,
            send,
            |(), _| async { Ok((Checked::SendAgain, ())) },
        )
        .await;
        assert!(failed.is_err());
        assert_eq!(
            sends.load(std::sync::atomic::Ordering::Relaxed),
            1 + CREATE_ATTEMPTS
        );
    }

    #[tokio::test]
    async fn a_failure_that_cannot_have_taken_effect_is_returned_unchecked() {
        let refused = TransportError::Http {
            service: crate::api::error::Service::Synthesize,
            status: 400,
            message: "bad request".into(),
        };
        let checks = std::sync::atomic::AtomicUsize::new(0);
        let result = at_most_once(
            (),
            |_| false,
            |()| {
                let refused = refused.clone();
                async move { Err(refused) }
            },
            |(), _| {
                checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async { Ok((Checked::Done, ())) }
            },
        )
        .await;
        assert_eq!(result, Err(refused));
        assert_eq!(checks.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
}
