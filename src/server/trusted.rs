//! Trusted documents: with `PIXGATE_TRUSTED_DOCUMENTS`, only the operations a
//! frontend's build shipped run. The manifest is either GraphQL Code Generator's
//! client-preset `persisted-documents.json` (`{ "<hash>": "<document>" }`) or
//! Apollo's persisted-query manifest (`{ "format": "apollo-persisted-query-manifest",
//! "operations": [{ "id", "body", … }] }`).
//!
//! An operation names its document by `documentId` (the GraphQL-over-HTTP draft's
//! field, which the client preset sends; its hash bare or as `sha256:<hex>`) or by
//! Apollo's `persistedQuery.sha256Hash`;
//! a full text runs only when it is one of the manifest's documents, as written.
//! Anything else is refused before it is parsed, so it costs no upstream call and no
//! validation. A caller presenting one of `PIXGATE_ACCESS_TOKENS` may still send any
//! operation (GraphiQL, a support engineer's script).
//!
//! The manifest is read again on SIGHUP; a manifest that cannot be read leaves the
//! one in force, so a bad deploy cannot lock every client out.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_graphql::ServerError;

use crate::error_code::ErrorCode;
use crate::lock::{read, write};

/// A document's name: a SHA-256, written bare or as `sha256:<hex>` (the persisted-documents
/// convention of the GraphQL-over-HTTP work), in either case, is one name; any other id a
/// manifest gives is compared as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DocumentId(String);

impl DocumentId {
    fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        let hex = match raw.split_once(':') {
            Some((prefix, hex)) if prefix.eq_ignore_ascii_case("sha256") => hex,
            _ => raw,
        };
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Self(hex.to_ascii_lowercase())
        } else {
            Self(raw.to_string())
        }
    }
}

/// The documents of one manifest.
#[derive(Debug, Default)]
struct Manifest {
    by_id: HashMap<DocumentId, Arc<str>>,
    texts: HashSet<Arc<str>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the trusted documents at {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a persisted-documents manifest: {reason}")]
    Unusable { path: PathBuf, reason: String },
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ManifestFile {
    Apollo { format: String, operations: Vec<ApolloOperation> },
    ClientPreset(HashMap<String, String>),
}

#[derive(serde::Deserialize)]
struct ApolloOperation {
    id: String,
    body: String,
}

impl Manifest {
    fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let unusable = |reason: String| ManifestError::Unusable { path: path.into(), reason };
        let file: ManifestFile = serde_json::from_str(text).map_err(|_| {
            unusable("expected GraphQL Code Generator's `{ \"<hash>\": \"<document>\" }` or Apollo's manifest".into())
        })?;
        let documents: Vec<(String, String)> = match file {
            ManifestFile::Apollo { format, operations } if format == "apollo-persisted-query-manifest" => {
                operations.into_iter().map(|operation| (operation.id, operation.body)).collect()
            }
            ManifestFile::Apollo { format, .. } => return Err(unusable(format!("unknown manifest format {format:?}"))),
            ManifestFile::ClientPreset(documents) => documents.into_iter().collect(),
        };
        let mut manifest = Manifest::default();
        for (id, text) in documents {
            if id.is_empty() || text.trim().is_empty() {
                return Err(unusable("a document without an id or a text".into()));
            }
            let text: Arc<str> = text.into();
            manifest.texts.insert(text.clone());
            manifest.by_id.insert(DocumentId::parse(&id), text);
        }
        Ok(manifest)
    }

    fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.into(), source })?;
        Self::parse(path, &text)
    }
}

/// The manifest in force, and where it is read from again.
#[derive(Debug)]
pub struct TrustedDocuments {
    path: PathBuf,
    manifest: RwLock<Arc<Manifest>>,
    /// Manifests read again so far: a request admitted under one is not under the next.
    reloads: AtomicU64,
}

/// One operation as it arrived: its text, if sent, and the id of a document, if named.
pub struct Operation<'a> {
    pub query: &'a mut String,
    pub document_id: Option<String>,
    pub extensions: &'a mut HashMap<String, async_graphql::Value>,
}

impl TrustedDocuments {
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let manifest = Manifest::read(path)?;
        tracing::info!(documents = manifest.by_id.len(), "trusted documents loaded; no other operation runs");
        Ok(Self { path: path.into(), manifest: RwLock::new(Arc::new(manifest)), reloads: AtomicU64::new(0) })
    }

    /// Reads the manifest again; on failure the one in force stays. Answers how many documents it holds.
    pub fn reload(&self) -> Result<usize, ManifestError> {
        let manifest = Manifest::read(&self.path)?;
        let count = manifest.by_id.len();
        *write(&self.manifest) = Arc::new(manifest);
        self.reloads.fetch_add(1, Ordering::AcqRel);
        Ok(count)
    }

    /// Which manifest is in force: its count of reloads.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Acquire)
    }

    fn current(&self) -> Arc<Manifest> {
        read(&self.manifest).clone()
    }

    /// Fills in the document an operation names, or refuses an operation the manifest
    /// does not hold. An `unrestricted` caller (one with an access token) may name a
    /// document too, or else goes on as on a gateway without trusted documents.
    pub fn admit(&self, operation: Operation<'_>, unrestricted: bool) -> Result<Admitted, ServerError> {
        let manifest = self.current();
        let id = match operation.document_id {
            Some(id) => Some(id),
            None if unrestricted => return Ok(Admitted::Unrestricted),
            None => apollo_hash(operation.extensions)?,
        };
        if let Some(id) = id {
            let Some(document) = manifest.by_id.get(&DocumentId::parse(&id)) else {
                return Err(ErrorCode::PersistedQueryNotFound
                    .error("no trusted document has this id: the operation is not one this gateway was given"));
            };
            if !operation.query.is_empty() && operation.query.as_str() != &**document {
                return Err(ErrorCode::PersistedQueryHashMismatch
                    .error("the text sent is not the trusted document its id names"));
            }
            *operation.query = document.to_string();
            return Ok(Admitted::Trusted);
        }
        if operation.query.is_empty() || manifest.texts.contains(operation.query.as_str()) {
            return Ok(Admitted::Trusted);
        }
        Err(ErrorCode::PersistedQueryNotInList
            .error("this gateway runs only trusted documents, and this text is not one of them: send its documentId"))
    }
}

/// How an operation got past the manifest.
#[derive(Debug, PartialEq, Eq)]
pub enum Admitted {
    /// Its text is a trusted document's (or empty, which fails later as any empty text does).
    Trusted,
    /// An access token lets it be anything.
    Unrestricted,
}

/// On a gateway without a manifest a `documentId` names nothing: refused, not ignored,
/// so a client built for trusted documents learns at once that its text is needed.
pub fn without_manifest(document_id: Option<&str>) -> Result<(), ServerError> {
    match document_id {
        Some(_) => Err(ErrorCode::PersistedQueryNotFound
            .error("this gateway holds no trusted documents: send the operation's `query`")),
        None => Ok(()),
    }
}

/// Apollo's `persistedQuery.sha256Hash`, taken out so automatic persisted queries
/// never register a text beside the manifest.
fn apollo_hash(extensions: &mut HashMap<String, async_graphql::Value>) -> Result<Option<String>, ServerError> {
    let Some(value) = extensions.remove("persistedQuery") else { return Ok(None) };
    let hash = match &value {
        async_graphql::Value::Object(fields) => match fields.get("sha256Hash") {
            Some(async_graphql::Value::String(hash)) => Some(hash.clone()),
            _ => None,
        },
        _ => None,
    };
    hash.map(Some).ok_or_else(|| ErrorCode::BadRequest.error("`persistedQuery` takes a version and a sha256Hash"))
}

/// Reads the manifest again on every SIGHUP until the gateway stops.
#[cfg(unix)]
pub fn reload_on_hangup(trusted: Arc<TrustedDocuments>, mut stopping: tokio::sync::watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the trusted documents are read only at start");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopping.changed() => return,
                heard = hangups.recv() => if heard.is_none() { return },
            }
            match trusted.reload() {
                Ok(documents) => tracing::info!(documents, "trusted documents read again"),
                Err(error) => tracing::error!(%error, "kept the trusted documents in force"),
            }
        }
    });
}

#[cfg(not(unix))]
pub fn reload_on_hangup(_: Arc<TrustedDocuments>, _: tokio::sync::watch::Receiver<bool>) {}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "query Client($id: ID!) { client(id: $id) { email } }";

    fn trusted(json: &str) -> TrustedDocuments {
        let manifest = Manifest::parse(Path::new("manifest.json"), json).unwrap();
        TrustedDocuments {
            path: "manifest.json".into(),
            manifest: RwLock::new(Arc::new(manifest)),
            reloads: AtomicU64::new(0),
        }
    }

    fn admit(trusted: &TrustedDocuments, query: &str, id: Option<&str>, unrestricted: bool) -> Result<String, String> {
        let mut query = query.to_string();
        let mut extensions = HashMap::new();
        let operation =
            Operation { query: &mut query, document_id: id.map(str::to_string), extensions: &mut extensions };
        match trusted.admit(operation, unrestricted) {
            Ok(_) => Ok(query),
            Err(error) => Err(error.extensions.and_then(|e| e.get("code").map(|c| c.to_string())).unwrap_or_default()),
        }
    }

    #[test]
    fn both_manifests_name_their_documents_and_nothing_else_runs() {
        let preset = trusted(&serde_json::json!({ "abc123": DOCUMENT }).to_string());
        let apollo = trusted(
            &serde_json::json!({
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{ "id": "abc123", "name": "Client", "type": "query", "body": DOCUMENT }],
            })
            .to_string(),
        );
        for trusted in [preset, apollo] {
            assert_eq!(admit(&trusted, "", Some("abc123"), false).as_deref(), Ok(DOCUMENT));
            assert_eq!(admit(&trusted, DOCUMENT, None, false).as_deref(), Ok(DOCUMENT), "its full text, as written");
            assert_eq!(admit(&trusted, "", Some("abc124"), false), Err("\"PERSISTED_QUERY_NOT_FOUND\"".into()));
            let other = "{ clients(first: 1) { nodes { id } } }";
            assert_eq!(admit(&trusted, other, None, false), Err("\"PERSISTED_QUERY_NOT_IN_LIST\"".into()));
            assert_eq!(admit(&trusted, other, Some("abc123"), false), Err("\"PERSISTED_QUERY_HASH_MISMATCH\"".into()));
            assert_eq!(admit(&trusted, other, None, true).as_deref(), Ok(other), "a token opens any operation");
        }
    }

    #[test]
    fn a_hash_names_its_document_bare_or_prefixed_in_either_case() {
        let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(DOCUMENT.as_bytes()));
        for key in [hash.clone(), format!("sha256:{hash}"), hash.to_ascii_uppercase()] {
            let trusted = trusted(&serde_json::json!({ key.clone(): DOCUMENT }).to_string());
            for id in [hash.clone(), format!("sha256:{hash}"), format!("SHA256:{}", hash.to_ascii_uppercase())] {
                assert_eq!(admit(&trusted, "", Some(&id), false).as_deref(), Ok(DOCUMENT), "{id} against {key}");
            }
            let not_hex = format!("sha256:{}", &hash[1..]);
            assert_eq!(admit(&trusted, "", Some(&not_hex), false), Err("\"PERSISTED_QUERY_NOT_FOUND\"".into()));
        }
        // An id that is no hash is compared as written.
        let named = trusted(&serde_json::json!({ "Client-v2": DOCUMENT }).to_string());
        assert_eq!(admit(&named, "", Some("Client-v2"), false).as_deref(), Ok(DOCUMENT));
        assert_eq!(admit(&named, "", Some("client-v2"), false), Err("\"PERSISTED_QUERY_NOT_FOUND\"".into()));
    }

    #[test]
    fn a_manifest_of_another_shape_is_refused() {
        for json in ["[]", r#"{ "format": "other", "operations": [] }"#, r#"{ "abc": "" }"#, "{ nope"] {
            assert!(Manifest::parse(Path::new("m.json"), json).is_err(), "{json}");
        }
    }
}
