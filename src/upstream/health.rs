//! Whether an upstream answered lately, learnt from the calls requests make
//! anyway. Readiness asks; only when nothing was heard for a while does it send
//! one cheap probe, and never two at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;

use crate::lock::locked;

/// What was heard within this long still counts.
pub const FRESH: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// It answered (a refusal of bad credentials is an answer).
    Up,
    /// No answer, or a server error.
    Down,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Heard {
    pub status: Status,
    #[serde(rename = "secondsAgo", serialize_with = "seconds_ago")]
    pub at: Instant,
}

fn seconds_ago<S: serde::Serializer>(at: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(at.elapsed().as_secs())
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Health {
    last: Arc<Mutex<Option<Heard>>>,
    probing: Arc<tokio::sync::Mutex<()>>,
}

impl Health {
    /// Records an HTTP exchange: its status, or None when no answer came.
    pub fn record(&self, status: Option<StatusCode>) {
        let status = match status {
            Some(status) if !status.is_server_error() => Status::Up,
            _ => Status::Down,
        };
        *locked(&self.last) = Some(Heard { status, at: Instant::now() });
    }

    fn last(&self) -> Option<Heard> {
        *locked(&self.last)
    }

    /// What was heard lately; when that is nothing, what `probe` hears.
    pub async fn check(&self, probe: impl FnOnce() -> RequestBuilder) -> Option<Heard> {
        if let Some(heard) = self.last().filter(|h| h.at.elapsed() < FRESH) {
            return Some(heard);
        }
        // Another check is probing: its answer will do next time.
        let Ok(_probing) = self.probing.try_lock() else { return self.last() };
        let answer = probe().timeout(PROBE_TIMEOUT).send().await;
        self.record(answer.as_ref().ok().map(reqwest::Response::status));
        self.last()
    }
}
