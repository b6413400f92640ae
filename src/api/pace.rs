//! The pace of requests a server allows: count posts are spread to stay under Synthesize's
//! documented limit, and slowed when the server answers 429 (the retry policy in
//! [`super::retry`] waits out each refused request; the pace keeps the next ones from being
//! refused).

use std::time::Duration;

/// Count posts per second at most: under Synthesize's documented limit of about 100 a second,
/// so a run does not burst into 429s and then sleep out each `Retry-After`.
pub const COUNT_POSTS_PER_SECOND: f64 = 95.0;
/// The slowest pace the posts fall to, however many 429s come back.
const MIN_COUNT_POSTS_PER_SECOND: f64 = 1.0;
/// After a 429 the pace is cut to this share of itself.
const PACE_CUT: f64 = 0.8;
/// 429s answered within this long of a cut are the same overload (posts already in flight),
/// so they cut the pace once.
const PACE_CUT_SPACING: Duration = Duration::from_millis(400);
/// While no 429 comes back, the pace climbs this many posts a second, this often: back toward
/// [`COUNT_POSTS_PER_SECOND`] within seconds, gently near the pace that last met a 429.
const PACE_RAISE_EVERY: Duration = Duration::from_millis(200);
const PACE_RAISE_STEP: f64 = 1.0;
/// Well below the pace that last met a 429, the climb is this many times faster.
const PACE_FAST_RAISE: f64 = 4.0;

/// A shared pace for count posts that adapts to the limit the server really enforces:
/// it starts at [`COUNT_POSTS_PER_SECOND`], is cut when 429s come back (the client counts
/// them), and climbs back while none do, so a server that allows less than documented is met
/// at its own pace instead of with a stream of refused posts each waiting out a `Retry-After`.
#[derive(Debug)]
pub struct Pacer {
    state: std::sync::Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    per_second: f64,
    /// The pace at the last cut: the climb slows near it.
    ceiling: Option<f64>,
    next_slot: tokio::time::Instant,
    rate_limited_seen: u64,
    last_cut: Option<tokio::time::Instant>,
    last_change: tokio::time::Instant,
}

impl Pacer {
    pub fn new(per_second: f64, rate_limited_so_far: u64) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            state: std::sync::Mutex::new(PaceState {
                per_second: per_second.clamp(MIN_COUNT_POSTS_PER_SECOND, COUNT_POSTS_PER_SECOND),
                ceiling: None,
                next_slot: now,
                rate_limited_seen: rate_limited_so_far,
                last_cut: None,
                last_change: now,
            }),
        }
    }

    /// Takes the next slot, given how many 429s the client has met so far, and waits for it.
    pub async fn wait(&self, rate_limited_so_far: u64) {
        let slot = {
            // Plain data behind the lock: a poisoned lock is still consistent enough to pace.
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = tokio::time::Instant::now();
            state.adapt(now, rate_limited_so_far);
            let slot = state.next_slot.max(now);
            state.next_slot = slot + Duration::from_secs_f64(1.0 / state.per_second);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    pub fn per_second(&self) -> f64 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .per_second
    }
}

impl PaceState {
    fn adapt(&mut self, now: tokio::time::Instant, rate_limited_so_far: u64) {
        if rate_limited_so_far > self.rate_limited_seen {
            self.rate_limited_seen = rate_limited_so_far;
            let same_overload = self
                .last_cut
                .is_some_and(|at| now.duration_since(at) < PACE_CUT_SPACING);
            if !same_overload {
                self.ceiling = Some(self.per_second);
                self.per_second = (self.per_second * PACE_CUT).max(MIN_COUNT_POSTS_PER_SECOND);
                self.last_cut = Some(now);
                tracing::debug!(
                    per_second = self.per_second,
                    "count posts met a 429: slowing down"
                );
            }
            self.last_change = now;
        } else if now.duration_since(self.last_change) >= PACE_RAISE_EVERY {
            let step = match self.ceiling {
                Some(ceiling) if self.per_second >= ceiling * 0.9 => PACE_RAISE_STEP,
                _ => PACE_RAISE_STEP * PACE_FAST_RAISE,
            };
            self.per_second = (self.per_second + step).min(COUNT_POSTS_PER_SECOND);
            self.last_change = now;
        }
    }
}
