//! The knobs each emulated service has on its own: latency, a token-bucket rate limit, a fault
//! schedule, and the record of every request, applied by one middleware in front of the routes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use futures_util::StreamExt as _;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use tokio_util::sync::CancellationToken;

/// A request body larger than this is refused (the client never sends more than a few KB).
const MAX_REQUEST_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A token bucket: `per_second` tokens are added each second, up to `burst`; a request takes one
/// or is answered 429 with `Retry-After` in whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// What a fault does to the request it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `Retry-After: retry_after_secs`.
    TooManyRequests { retry_after_secs: u64 },
    /// That status (500, 502, 503, 504 …) with a JSON error body.
    Status(u16),
    /// The status and headers (with the full `Content-Length`), half the body, then the
    /// connection is closed: the client sees a body error.
    CutBody,
    /// ConnectWise pages only: one record of the page is replaced by valid JSON that is not a
    /// configuration (`{"id":N,"company":"x"}`). Skipped on empty pages.
    MalformedRecord,
    /// Answers normally after this delay (longer than the client's timeout).
    Slow(Duration),
    /// ConnectWise paging only: the last record of the previous page is served again at the start
    /// of this page, as if it moved while paging; nothing is lost. Only applies to page 2 and
    /// later (or a forward-only request with `pageId`).
    MoveRecord,
}

impl FaultKind {
    fn applies_to(self, request: &RequestShape) -> bool {
        match self {
            FaultKind::MalformedRecord => request.is_list,
            FaultKind::MoveRecord => request.is_list && request.has_previous_page,
            _ => true,
        }
    }
}

/// Which requests a fault may hit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FaultTarget {
    #[default]
    AnyRequest,
    /// Requests whose path starts with this (for example
    /// `/v4_6_release/apis/3.0/company/configurations`).
    PathPrefix(String),
}

impl FaultTarget {
    fn matches(&self, path: &str) -> bool {
        match self {
            FaultTarget::AnyRequest => true,
            FaultTarget::PathPrefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }
}

/// One fault in the queue: consumed by the next request it matches and applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFault {
    pub kind: FaultKind,
    pub target: FaultTarget,
}

impl ScheduledFault {
    /// A fault for the next request, whatever its path.
    pub fn next_request(kind: FaultKind) -> Self {
        Self {
            kind,
            target: FaultTarget::AnyRequest,
        }
    }

    /// A fault for the next request whose path starts with `prefix`.
    pub fn path_prefix(kind: FaultKind, prefix: impl Into<String>) -> Self {
        Self {
            kind,
            target: FaultTarget::PathPrefix(prefix.into()),
        }
    }
}

/// How often recurring faults hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultCadence {
    /// Every `n`th matching request (n ≥ 1).
    EveryNth(u64),
    /// Each matching request with this probability, from a seeded generator (repeatable).
    Random { probability: f64, seed: u64 },
}

/// Faults that keep coming: `kinds` are used in turn (a kind that does not apply to the request
/// is passed over for the next one that does).
#[derive(Debug, Clone, PartialEq)]
pub struct RecurringFaults {
    pub kinds: Vec<FaultKind>,
    pub cadence: FaultCadence,
    pub target: FaultTarget,
}

/// What the middleware knows about a request before it runs, to pick a fault that applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestShape {
    /// A ConnectWise list of records (configurations or types).
    pub is_list: bool,
    /// A page after the first (`page` ≥ 2, or `pageId` present).
    pub has_previous_page: bool,
}

/// A page fault the handler must apply (the middleware cannot rewrite records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageFault {
    MalformedRecord,
    MoveRecord,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub response_bytes: usize,
    pub request_body: String,
    /// The request's `Accept` header.
    pub accept: Option<String>,
    pub fault: Option<FaultKind>,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    refilled_at: Instant,
}

#[derive(Debug)]
struct Recurring {
    plan: RecurringFaults,
    matched: u64,
    next_kind: usize,
    rng: ChaCha8Rng,
}

#[derive(Debug, Default)]
struct KnobState {
    latency: Duration,
    bucket: Option<Bucket>,
    queue: VecDeque<ScheduledFault>,
    recurring: Option<Recurring>,
    injected: u64,
    log: Vec<Exchange>,
}

/// The knobs of one emulated service (ConnectWise or Synthesize). Cheap to clone; all clones
/// share the same state.
#[derive(Debug, Clone, Default)]
pub struct ServiceKnobs {
    state: Arc<Mutex<KnobState>>,
}

impl ServiceKnobs {
    fn lock(&self) -> MutexGuard<'_, KnobState> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    pub fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// Turns the rate limit on (`Some`) or off (`None`). The bucket starts full.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.lock().bucket = limit.map(|limit| Bucket {
            limit,
            tokens: f64::from(limit.burst.max(1)),
            refilled_at: Instant::now(),
        });
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.lock().bucket.as_ref().map(|b| b.limit)
    }

    /// Queues a fault for the next request it matches.
    pub fn push_fault(&self, fault: ScheduledFault) {
        self.lock().queue.push_back(fault);
    }

    /// Queues several faults, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = ScheduledFault>) {
        self.lock().queue.extend(faults);
    }

    /// Faults still waiting in the queue.
    pub fn pending_faults(&self) -> usize {
        self.lock().queue.len()
    }

    /// Empties the queue and stops recurring faults.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.recurring = None;
    }

    /// Starts (`Some`) or stops (`None`) recurring faults. Queued faults are served first.
    pub fn set_recurring_faults(&self, plan: Option<RecurringFaults>) {
        self.lock().recurring = plan.map(|plan| Recurring {
            rng: ChaCha8Rng::seed_from_u64(match plan.cadence {
                FaultCadence::Random { seed, .. } => seed,
                FaultCadence::EveryNth(_) => 0,
            }),
            plan,
            matched: 0,
            next_kind: 0,
        });
    }

    /// How many faults have hit requests so far (queued and recurring).
    pub fn injected_faults(&self) -> u64 {
        self.lock().injected
    }

    pub(crate) fn exchanges(&self) -> Vec<Exchange> {
        self.lock().log.clone()
    }

    pub(crate) fn clear_exchanges(&self) {
        self.lock().log.clear();
    }

    /// Takes a token, or says how many whole seconds until one is there.
    fn take_token(&self) -> Result<(), u64> {
        let mut state = self.lock();
        let Some(bucket) = state.bucket.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        let per_second = bucket.limit.per_second.max(0.001);
        bucket.tokens =
            (bucket.tokens + elapsed * per_second).min(f64::from(bucket.limit.burst.max(1)));
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil();
            Err((wait as u64).max(1))
        }
    }

    fn take_fault(&self, path: &str, shape: &RequestShape) -> Option<FaultKind> {
        let mut state = self.lock();
        let queued = state
            .queue
            .iter()
            .position(|f| f.target.matches(path) && f.kind.applies_to(shape));
        if let Some(index) = queued {
            let fault = state.queue.remove(index).map(|f| f.kind);
            state.injected += 1;
            return fault;
        }
        let recurring = state.recurring.as_mut()?;
        if recurring.plan.kinds.is_empty() || !recurring.plan.target.matches(path) {
            return None;
        }
        recurring.matched += 1;
        let hit = match recurring.plan.cadence {
            FaultCadence::EveryNth(n) => recurring.matched % n.max(1) == 0,
            FaultCadence::Random { probability, .. } => {
                recurring.rng.random_bool(probability.clamp(0.0, 1.0))
            }
        };
        if !hit {
            return None;
        }
        let kinds = recurring.plan.kinds.len();
        let kind = (0..kinds)
            .map(|step| (recurring.next_kind + step) % kinds)
            .find(|i| recurring.plan.kinds[*i].applies_to(shape))?;
        recurring.next_kind = (kind + 1) % kinds;
        let fault = recurring.plan.kinds[kind];
        state.injected += 1;
        Some(fault)
    }

    fn record(&self, exchange: Exchange) {
        self.lock().log.push(exchange);
    }
}

/// What the middleware needs: the service's knobs, how to classify its requests, and the
/// sandbox's shutdown token (so a slow answer never holds up shutdown).
#[derive(Debug, Clone)]
pub(crate) struct KnobLayerState {
    pub knobs: ServiceKnobs,
    pub classify: fn(&Request) -> RequestShape,
    pub shutdown: CancellationToken,
    /// The error body for a status, in the service's own shape.
    pub error_body: fn(StatusCode, &str) -> serde_json::Value,
}

async fn sleep_unless_shutdown(delay: Duration, shutdown: &CancellationToken) {
    if delay.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = shutdown.cancelled() => {}
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Latency, then the rate limit, then a fault, then the route; every request is recorded.
pub(crate) async fn apply_knobs(
    State(layer): State<KnobLayerState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let shape = (layer.classify)(&request);
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let request_body = match axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => Bytes::new(),
    };
    let request_text = String::from_utf8_lossy(&request_body).into_owned();
    let request = Request::from_parts(parts, Body::from(request_body));

    // Records the request even when the client gives up first (its future is then dropped).
    let mut pending = PendingExchange {
        knobs: layer.knobs.clone(),
        exchange: Some(Exchange {
            request_body: if method == Method::GET {
                String::new()
            } else {
                request_text
            },
            method: method.to_string(),
            path: path.clone(),
            query,
            accept,
            status: CLIENT_CLOSED_REQUEST,
            response_bytes: 0,
            fault: None,
        }),
    };

    sleep_unless_shutdown(layer.knobs.latency(), &layer.shutdown).await;

    let mut fault = None;
    let response = if let Err(retry_after_secs) = layer.knobs.take_token() {
        too_many_requests(&layer, retry_after_secs)
    } else {
        fault = layer.knobs.take_fault(&path, &shape);
        pending.set_fault(fault);
        run_with_fault(&layer, fault, request, next).await
    };

    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = fault == Some(FaultKind::CutBody) && bytes.len() > 1;
    let sent = if cut { bytes.len() / 2 } else { bytes.len() };
    pending.finish(parts.status.as_u16(), sent);
    if cut {
        parts.headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(bytes.len() as u64),
        );
        let half = bytes.slice(..sent);
        let shutdown = layer.shutdown.clone();
        // The pause lets the server flush the headers and the first half before the error
        // closes the connection, so the client sees a response whose body breaks.
        let stream = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
            futures_util::stream::once(async move {
                sleep_unless_shutdown(CUT_BODY_PAUSE, &shutdown).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "sandbox fault: body cut",
                ))
            }),
        );
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The status recorded for a request whose client went away before the answer (nginx's 499).
pub(crate) const CLIENT_CLOSED_REQUEST: u16 = 499;
const CUT_BODY_PAUSE: Duration = Duration::from_millis(50);

/// Records its exchange when dropped: finished, or abandoned by the client.
struct PendingExchange {
    knobs: ServiceKnobs,
    exchange: Option<Exchange>,
}

impl PendingExchange {
    fn set_fault(&mut self, fault: Option<FaultKind>) {
        if let Some(e) = self.exchange.as_mut() {
            e.fault = fault;
        }
    }

    fn finish(&mut self, status: u16, response_bytes: usize) {
        if let Some(e) = self.exchange.as_mut() {
            e.status = status;
            e.response_bytes = response_bytes;
        }
    }
}

impl Drop for PendingExchange {
    fn drop(&mut self) {
        if let Some(exchange) = self.exchange.take() {
            self.knobs.record(exchange);
        }
    }
}

fn too_many_requests(layer: &KnobLayerState, retry_after_secs: u64) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &(layer.error_body)(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many requests; retry after {retry_after_secs} seconds"),
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

async fn run_with_fault(
    layer: &KnobLayerState,
    fault: Option<FaultKind>,
    mut request: Request,
    next: Next,
) -> Response {
    match fault {
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            too_many_requests(layer, retry_after_secs.max(1))
        }
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(
                status,
                &(layer.error_body)(status, "sandbox fault: the server had a problem"),
            )
        }
        Some(FaultKind::Slow(delay)) => {
            sleep_unless_shutdown(delay, &layer.shutdown).await;
            next.run(request).await
        }
        Some(FaultKind::MalformedRecord) => {
            request.extensions_mut().insert(PageFault::MalformedRecord);
            next.run(request).await
        }
        Some(FaultKind::MoveRecord) => {
            request.extensions_mut().insert(PageFault::MoveRecord);
            next.run(request).await
        }
        Some(FaultKind::CutBody) | None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn list(has_previous_page: bool) -> RequestShape {
        RequestShape {
            is_list: true,
            has_previous_page,
        }
    }

    #[test]
    fn queued_faults_go_to_the_first_request_they_match_and_apply_to() {
        let knobs = ServiceKnobs::default();
        knobs.push_faults([
            ScheduledFault::next_request(FaultKind::MoveRecord),
            ScheduledFault::path_prefix(FaultKind::Status(503), "/b"),
            ScheduledFault::next_request(FaultKind::CutBody),
        ]);
        assert_eq!(
            knobs.take_fault("/a", &list(false)),
            Some(FaultKind::CutBody)
        );
        assert_eq!(
            knobs.take_fault("/b", &list(false)),
            Some(FaultKind::Status(503))
        );
        assert_eq!(knobs.take_fault("/a", &list(false)), None);
        assert_eq!(
            knobs.take_fault("/a", &list(true)),
            Some(FaultKind::MoveRecord)
        );
        assert_eq!(knobs.pending_faults(), 0);
        assert_eq!(knobs.injected_faults(), 3);
    }

    #[test]
    fn recurring_faults_hit_every_nth_request_in_turn() {
        let knobs = ServiceKnobs::default();
        knobs.set_recurring_faults(Some(RecurringFaults {
            kinds: vec![
                FaultKind::Status(500),
                FaultKind::MoveRecord,
                FaultKind::CutBody,
            ],
            cadence: FaultCadence::EveryNth(2),
            target: FaultTarget::AnyRequest,
        }));
        let got: Vec<Option<FaultKind>> = (0..8)
            .map(|_| knobs.take_fault("/x", &list(false)))
            .collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(FaultKind::Status(500)),
                None,
                Some(FaultKind::CutBody),
                None,
                Some(FaultKind::Status(500)),
                None,
                Some(FaultKind::CutBody)
            ]
        );
    }

    #[test]
    fn random_faults_repeat_with_the_same_seed() {
        let run = || {
            let knobs = ServiceKnobs::default();
            knobs.set_recurring_faults(Some(RecurringFaults {
                kinds: vec![FaultKind::Status(502)],
                cadence: FaultCadence::Random {
                    probability: 0.3,
                    seed: 9,
                },
                target: FaultTarget::AnyRequest,
            }));
            (0..50)
                .map(|_| knobs.take_fault("/x", &list(false)).is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|h| *h) && a.iter().any(|h| !*h));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_asks_to_wait_at_least_a_second() {
        let knobs = ServiceKnobs::default();
        knobs.set_rate_limit(Some(RateLimit {
            per_second: 0.5,
            burst: 3,
        }));
        for _ in 0..3 {
            assert_eq!(knobs.take_token(), Ok(()));
        }
        let wait = knobs.take_token().unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
    }
}
