//! Circuit breakers, one per upstream and credential, as Envoy's outlier detection
//! does it: consecutive failures (5xx, timeouts, no answer) open the circuit, a 429
//! opens it at once for as long as its `Retry-After` says, and while it is open
//! calls fail fast instead of adding to the upstream's trouble. When the wait is
//! over one call goes through as a probe: its success closes the circuit, its
//! failure opens it again for twice as long.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Api, TenantKey};
use crate::lock::locked;
use crate::telemetry::metrics::{UPSTREAM_BREAKER_TRANSITIONS, UPSTREAM_BREAKERS_OPEN, UPSTREAM_CALLS_SHORT_CIRCUITED};

/// Envoy's `consecutive_5xx` default.
pub const DEFAULT_FAILURES_TO_OPEN: u32 = 5;
/// How long a circuit opened by failures stays open at first; each failed probe doubles it.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(1);
const LONGEST_OPEN: Duration = Duration::from_secs(60);
/// A credential not heard of for this long is forgotten, circuit and all.
const FORGET_AFTER: Duration = Duration::from_secs(600);
const MOST_CREDENTIALS: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        open_for: Duration,
    },
    /// The wait is over and one probe is out.
    Probing {
        open_for: Duration,
    },
}

/// How one call went, as far as the circuit cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered (a refusal of the input or the credentials is an answer).
    Answered,
    /// A 5xx, a timeout, no answer, or an answer that could not be read.
    Failed,
    /// A 429: wait as long as it says.
    Limited(Option<Duration>),
}

/// A call let through, to be reported with [`Breakers::record`].
#[derive(Debug)]
pub struct Admitted {
    circuit: Arc<Mutex<State>>,
    recorded: bool,
}

/// A probe whose call was abandoned (its request went away, its operation timed out)
/// gives its place back: otherwise the circuit would wait for its verdict forever.
impl Drop for Admitted {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        let mut state = locked(&self.circuit);
        if let State::Probing { open_for } = *state {
            *state = State::Open { until: Instant::now(), open_for };
        }
    }
}

#[derive(Clone)]
pub struct Breakers {
    api: Api,
    circuits: moka::sync::Cache<TenantKey, Arc<Mutex<State>>>,
    failures_to_open: u32,
    open_for: Duration,
}

impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breakers").field("api", &self.api).finish_non_exhaustive()
    }
}

fn is_open(state: &State) -> bool {
    !matches!(state, State::Closed { .. })
}

impl Breakers {
    pub fn new(api: Api, failures_to_open: u32, open_for: Duration) -> Self {
        let upstream = api.name();
        let circuits = moka::sync::Cache::builder()
            .max_capacity(MOST_CREDENTIALS)
            .time_to_idle(FORGET_AFTER)
            .eviction_listener(move |_, circuit: Arc<Mutex<State>>, _| {
                if is_open(&locked(&circuit)) {
                    metrics::gauge!(UPSTREAM_BREAKERS_OPEN, "upstream" => upstream).decrement(1.0);
                }
            })
            .build();
        Self { api, circuits, failures_to_open: failures_to_open.max(1), open_for }
    }

    /// Lets a call through, or says how long the circuit stays open.
    pub fn admit(&self, tenant: &TenantKey) -> Result<Admitted, Duration> {
        let circuit = self.circuits.get_with_by_ref(tenant, || Arc::new(Mutex::new(State::Closed { failures: 0 })));
        let mut state = locked(&circuit);
        match *state {
            State::Closed { .. } => {}
            State::Open { until, open_for } => {
                let now = Instant::now();
                if until > now {
                    return Err(self.short_circuited(until - now));
                }
                *state = State::Probing { open_for };
                self.transition("probing");
            }
            // One probe at a time; the others wait for its verdict.
            State::Probing { .. } => return Err(self.short_circuited(Duration::from_secs(1))),
        }
        drop(state);
        Ok(Admitted { circuit, recorded: false })
    }

    pub fn record(&self, mut admitted: Admitted, outcome: Outcome) {
        admitted.recorded = true;
        let mut state = locked(&admitted.circuit);
        let was_open = is_open(&state);
        let next = match (*state, outcome) {
            (State::Closed { .. } | State::Probing { .. }, Outcome::Limited(wait)) => {
                let open_for = wait.unwrap_or(self.open_for).min(LONGEST_OPEN);
                State::Open { until: Instant::now() + open_for, open_for: self.open_for }
            }
            (State::Closed { .. } | State::Probing { .. }, Outcome::Answered) => State::Closed { failures: 0 },
            (State::Closed { failures }, Outcome::Failed) if failures + 1 >= self.failures_to_open => {
                State::Open { until: Instant::now() + self.open_for, open_for: self.open_for }
            }
            (State::Closed { failures }, Outcome::Failed) => State::Closed { failures: failures + 1 },
            (State::Probing { open_for }, Outcome::Failed) => {
                let open_for = (open_for * 2).min(LONGEST_OPEN);
                State::Open { until: Instant::now() + open_for, open_for }
            }
            // A call let through before the circuit opened, answering after: the circuit stands.
            (State::Open { .. }, _) => *state,
        };
        *state = next;
        let upstream = self.api.name();
        match (was_open, is_open(&next)) {
            (false, true) => {
                metrics::gauge!(UPSTREAM_BREAKERS_OPEN, "upstream" => upstream).increment(1.0);
                self.transition("open");
                tracing::warn!(upstream, "circuit opened: calls fail fast until the upstream is given room");
            }
            (true, false) => {
                metrics::gauge!(UPSTREAM_BREAKERS_OPEN, "upstream" => upstream).decrement(1.0);
                self.transition("closed");
                tracing::info!(upstream, "circuit closed: the probe was answered");
            }
            _ => {}
        }
    }

    fn transition(&self, to: &'static str) {
        metrics::counter!(UPSTREAM_BREAKER_TRANSITIONS, "upstream" => self.api.name(), "to" => to).increment(1);
    }

    fn short_circuited(&self, wait: Duration) -> Duration {
        metrics::counter!(UPSTREAM_CALLS_SHORT_CIRCUITED, "upstream" => self.api.name()).increment(1);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantKey {
        TenantKey::of_cookie(name)
    }

    #[test]
    fn failures_open_the_circuit_for_that_credential_only() {
        let breakers = Breakers::new(Api::Pixieset, 3, Duration::from_secs(60));
        let (a, b) = (tenant("a"), tenant("b"));
        for _ in 0..2 {
            breakers.record(breakers.admit(&a).unwrap(), Outcome::Failed);
        }
        breakers.record(breakers.admit(&a).unwrap(), Outcome::Answered);
        for _ in 0..3 {
            breakers.record(breakers.admit(&a).unwrap(), Outcome::Failed);
        }
        let wait = breakers.admit(&a).unwrap_err();
        assert!(wait > Duration::from_secs(59), "open for the backoff: {wait:?}");
        assert!(breakers.admit(&b).is_ok(), "another credential's circuit is closed");
    }

    #[test]
    fn a_429_opens_at_once_for_its_retry_after_then_one_probe_decides() {
        let breakers = Breakers::new(Api::Pixelz, 5, Duration::from_secs(1));
        let a = tenant("a");
        breakers.record(breakers.admit(&a).unwrap(), Outcome::Limited(Some(Duration::from_millis(30))));
        assert!(breakers.admit(&a).is_err(), "open");
        std::thread::sleep(Duration::from_millis(40));
        let probe = breakers.admit(&a).expect("the wait is over: one probe");
        assert!(breakers.admit(&a).is_err(), "only one probe at a time");
        breakers.record(probe, Outcome::Failed);
        let wait = breakers.admit(&a).unwrap_err();
        assert!(wait > Duration::from_millis(1500), "a failed probe doubles the wait: {wait:?}");

        let abandoned = Breakers::new(Api::Pixelz, 5, Duration::from_secs(1));
        abandoned.record(abandoned.admit(&a).unwrap(), Outcome::Limited(Some(Duration::ZERO)));
        drop(abandoned.admit(&a).expect("a probe"));
        assert!(abandoned.admit(&a).is_ok(), "an abandoned probe gives its place back");

        let closing = Breakers::new(Api::Pixelz, 5, Duration::from_secs(1));
        closing.record(closing.admit(&a).unwrap(), Outcome::Limited(Some(Duration::ZERO)));
        let probe = closing.admit(&a).unwrap();
        closing.record(probe, Outcome::Answered);
        assert!(closing.admit(&a).is_ok() && closing.admit(&a).is_ok(), "closed again");
    }
}
