//! What one operation cost upstream, for the developer who asked: the calls made
//! to each API by endpoint template, the cache's hits and misses by kind, and what
//! each loader gathered into how many batches. Only counts and templates: never an
//! id, a credential or a value, so the tally can go back in the answer's
//! `extensions.pixgateCost` as it is.
//!
//! Counting happens only in an operation `scope` that keeps a `Tally`; elsewhere a
//! note finds no tally and costs nothing more. Work a DataLoader does on its own
//! task counts too: the scope goes there with it.

use std::collections::BTreeMap;

/// An upstream endpoint as metrics name it: API, method and path template.
type Endpoint = (&'static str, &'static str, &'static str);

#[derive(Debug, Default)]
pub struct Tally {
    calls: BTreeMap<Endpoint, u32>,
    /// Hits, misses.
    cache: BTreeMap<&'static str, (u32, u32)>,
    /// Batches, keys.
    loaders: BTreeMap<&'static str, (u32, u32)>,
}

fn note(note: impl FnOnce(&mut Tally)) {
    crate::scope::note(note);
}

/// One HTTP exchange with an upstream, as its server counts it: every attempt.
pub fn upstream_call(api: &'static str, method: &'static str, path: &'static str) {
    note(|tally| *tally.calls.entry((api, method, path)).or_default() += 1);
}

pub fn cache_lookup(kind: &'static str, hit: bool) {
    note(|tally| {
        let (hits, misses) = tally.cache.entry(kind).or_default();
        *if hit { hits } else { misses } += 1;
    });
}

pub fn loader_batch(loader: &'static str, keys: usize) {
    note(|tally| {
        let (batches, total) = tally.loaders.entry(loader).or_default();
        *batches += 1;
        *total += u32::try_from(keys).unwrap_or(u32::MAX);
    });
}

/// An operation's upstream-call budget and what it used of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub used: u32,
    pub limit: u32,
}

/// Whether the answer came from the response cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Served as kept: nothing ran.
    Hit,
    /// Made now.
    Miss,
    /// Made now because the request said `Cache-Control: no-cache`.
    Bypassed,
    /// The response cache is off.
    Off,
}

impl Kept {
    fn as_str(self) -> &'static str {
        match self {
            Kept::Hit => "HIT",
            Kept::Miss => "MISS",
            Kept::Bypassed => "BYPASS",
            Kept::Off => "OFF",
        }
    }
}

impl Tally {
    pub fn upstream_calls(&self) -> u32 {
        self.calls.values().sum()
    }

    /// The `extensions.pixgateCost` of an answer.
    pub fn to_json(&self, kept: Kept, budget: Spent) -> serde_json::Value {
        use serde_json::json;
        let per_api = |api: &str| self.calls.iter().filter(|((a, ..), _)| *a == api).map(|(_, n)| n).sum::<u32>();
        let (hits, misses) = self.cache.values().fold((0, 0), |(h, m), (hits, misses)| (h + hits, m + misses));
        json!({
            "upstreamCalls": {
                "total": self.upstream_calls(),
                "pixieset": per_api("pixieset"),
                "pixelz": per_api("pixelz"),
            },
            "endpoints": self.calls.iter().map(|((api, method, path), calls)| {
                json!({ "api": api, "method": method, "path": path, "calls": calls })
            }).collect::<Vec<_>>(),
            "cache": {
                "hits": hits,
                "misses": misses,
                "byKind": self.cache.iter().map(|(kind, (hits, misses))| {
                    json!({ "kind": kind, "hits": hits, "misses": misses })
                }).collect::<Vec<_>>(),
            },
            "loaders": self.loaders.iter().map(|(loader, (batches, keys))| {
                json!({ "loader": loader, "batches": batches, "keys": keys })
            }).collect::<Vec<_>>(),
            "responseCache": kept.as_str(),
            "upstreamBudget": { "limit": budget.limit, "used": budget.used },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_only_in_a_scope_keeping_a_tally_and_on_its_spawned_tasks() {
        use crate::scope::{self, Scope};
        upstream_call("pixieset", "GET", "/clients/{id}");
        let measured = std::sync::Arc::new(Scope::operation(10).keeping::<Tally>());
        scope::run(measured.clone(), async {
            upstream_call("pixieset", "GET", "/clients/{id}");
            cache_lookup("client", true);
            scope::spawn(async {
                upstream_call("pixieset", "GET", "/clients/{id}");
                upstream_call("pixelz", "GET", "/Templates");
                loader_batch("client", 3);
            })
            .await
            .unwrap();
        })
        .await;
        let tally = measured.take::<Tally>().unwrap();
        let cost = tally.to_json(Kept::Miss, Spent { used: 3, limit: 10 });
        assert_eq!(cost["upstreamCalls"], serde_json::json!({ "total": 3, "pixieset": 2, "pixelz": 1 }));
        assert_eq!(
            cost["endpoints"][0],
            serde_json::json!({ "api": "pixelz", "method": "GET", "path": "/Templates", "calls": 1 })
        );
        assert_eq!(cost["cache"]["hits"], 1);
        assert_eq!(cost["loaders"][0], serde_json::json!({ "loader": "client", "batches": 1, "keys": 3 }));
        assert_eq!(cost["upstreamBudget"], serde_json::json!({ "limit": 10, "used": 3 }));
    }
}
