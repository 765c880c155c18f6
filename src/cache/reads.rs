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
        let Dependencies { reads, expires_at, untracked } = self.into_dependencies();
        (!untracked).then_some((reads, expires_at))
    }

    /// What a live query's result was made from, untracked parts included.
    pub fn into_dependencies(self) -> Dependencies {
        let reads = self.read.into_iter().map(|(stored, version)| Read { stored, version }).collect();
        Dependencies { reads, expires_at: self.expires_at, untracked: self.untracked }
    }
}

/// What one result was made from, for as long as it is watched for changes (a live
/// query's): the entries read, when the first expires, and whether anything the
/// cache does not hold had a say.
#[derive(Debug, Default)]
pub struct Dependencies {
    reads: Vec<Read>,
    expires_at: Option<Instant>,
    untracked: bool,
}

impl Dependencies {
    pub(super) fn reads(&self) -> impl Iterator<Item = &Read> {
        self.reads.iter()
    }

    /// When the first entry read expires: data changed outside pixgate shows after that.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Something outside the cache (a failed fetch, webhook deliveries, the client-image
    /// links) decided part of the result: no change to the cache tells when it changes.
    pub fn untracked(&self) -> bool {
        self.untracked
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
