//! What one GraphQL execution read from the cache: each entry and the version it
//! found, or that it found none. An answer made from those reads is the answer
//! again for as long as every one of them still finds what it found, which is how
//! `responses.rs` knows when a kept answer went stale without being told.
//!
//! The recording lives in the operation's `scope` (which keeps a `Recorded`), so
//! reads made on a DataLoader's task count too.

use std::collections::HashMap;
use std::time::Instant;

use super::{Entry, Stored};

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

fn note(note: impl FnOnce(&mut Recorded)) {
    crate::scope::note(note);
}

/// Runs `future` in a scope of its own, recording what it reads.
#[cfg(test)]
pub async fn recording<F: std::future::Future>(future: F) -> (F::Output, Recorded) {
    use crate::scope::{self, Scope};
    let recording = std::sync::Arc::new(Scope::operation(u32::MAX).keeping::<Recorded>());
    let output = scope::run(recording.clone(), future).await;
    (output, recording.take::<Recorded>().unwrap_or_default())
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
