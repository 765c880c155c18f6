//! What one GraphQL execution read from the cache: each entry and the version it
//! found, or that it found none. An answer made from those reads is the answer
//! again for as long as every one of them still finds what it found, which is how
//! `responses.rs` knows when a kept answer went stale without being told.
//!
//! Reads made on a DataLoader's task count too: `request_id::spawn` carries the
//! recording there with the request's id.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{Entry, Stored};

tokio::task_local! {
    static RECORDING: Arc<Recording>;
}

/// One entry read: the version found, or None when nothing was held.
#[derive(Clone, Debug)]
pub struct Read {
    pub(super) stored: Stored,
    pub(super) version: Option<u64>,
}

/// Everything one execution read.
#[derive(Debug, Default)]
pub struct Recorded {
    read: HashMap<Stored, Option<u64>>,
    /// When the first entry read expires.
    expires_at: Option<Instant>,
    /// Something the cache does not hold (a failed fetch, state kept elsewhere)
    /// decided part of the answer, or one entry was found at two versions.
    untracked: bool,
}

impl Recorded {
    /// The reads an answer depends on, and when the first of them expires; None when
    /// an answer made from them cannot be kept.
    pub(super) fn into_reads(self) -> Option<(Vec<Read>, Option<Instant>)> {
        if self.untracked {
            return None;
        }
        let reads = self.read.into_iter().map(|(stored, version)| Read { stored, version }).collect();
        Some((reads, self.expires_at))
    }
}

#[derive(Default)]
struct Recording(Mutex<Recorded>);

impl Recording {
    fn with(&self, note: impl FnOnce(&mut Recorded)) {
        note(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Runs `future`, recording what it reads from the cache.
pub async fn recording<F: Future>(future: F) -> (F::Output, Recorded) {
    let recording = Arc::new(Recording::default());
    let output = RECORDING.scope(recording.clone(), future).await;
    let recorded = std::mem::take(&mut *recording.0.lock().unwrap_or_else(PoisonError::into_inner));
    (output, recorded)
}

/// `future`, recording into the recording of the task that calls this, if any: for
/// work spawned onto a task of its own on the request's behalf.
pub fn carried<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let recording = RECORDING.try_with(Arc::clone).ok();
    async move {
        match recording {
            Some(recording) => RECORDING.scope(recording, future).await,
            None => future.await,
        }
    }
}

fn note(note: impl FnOnce(&mut Recorded)) {
    let _ = RECORDING.try_with(|recording| recording.with(note));
}

pub(super) fn found(stored: &Stored, entry: &Entry) {
    note(|recorded| {
        let version = Some(entry.version);
        match recorded.read.get(stored) {
            Some(seen) if *seen != version => recorded.untracked = true,
            Some(_) => {}
            None => {
                recorded.read.insert(stored.clone(), version);
            }
        }
        recorded.expires_at = Some(recorded.expires_at.map_or(entry.expires_at, |at| at.min(entry.expires_at)));
    });
}

pub(super) fn absent(stored: &Stored) {
    note(|recorded| match recorded.read.get(stored) {
        Some(Some(_)) => recorded.untracked = true,
        Some(None) => {}
        None => {
            recorded.read.insert(stored.clone(), None);
        }
    });
}

/// A resolver read state the cache does not hold (webhook deliveries kept by the
/// event hub): its answer is not kept.
pub fn untracked() {
    note(|recorded| recorded.untracked = true);
}
