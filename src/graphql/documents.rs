//! What pixgate learnt about each distinct document, kept so a repeat skips the
//! work: the parsed document with the limits' verdict (keyed by its text), and the
//! validation's result (keyed by text, operation name and variables, since
//! validation reads the variables' values). A refusal is kept too, so a hostile
//! document costs its full price once. Bounded in bytes; the least used go first.

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, ValidationResult, Variables};

use crate::telemetry::metrics::DOCUMENT_CACHE_LOOKUPS;

/// About 10,000 documents of the size a frontend sends.
pub const DEFAULT_CAPACITY_BYTES: u64 = 16 * 1024 * 1024;
/// A parsed document takes several times its text in memory.
const PARSED_WEIGHT_PER_BYTE: usize = 8;

/// A document's parse, limits included: the document, whether it holds only
/// subscriptions, or the refusal.
pub type Parsed = Result<(Arc<ExecutableDocument>, bool), ServerError>;
pub type Validated = Result<ValidationResult, Vec<ServerError>>;

/// What validation depends on besides the schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValidationKey {
    query: Arc<str>,
    operation_name: Option<String>,
    variables: String,
}

impl ValidationKey {
    pub fn new(query: &str, operation_name: Option<&str>, variables: &Variables) -> Self {
        Self {
            query: Arc::from(query),
            operation_name: operation_name.map(str::to_string),
            // Variables are a map ordered by name, so equal variables serialise alike.
            variables: serde_json::to_string(variables).unwrap_or_default(),
        }
    }

    fn weight(&self) -> u32 {
        let bytes = self.query.len() + self.variables.len() + self.operation_name.as_ref().map_or(0, String::len);
        u32::try_from(bytes + 64).unwrap_or(u32::MAX)
    }
}

/// Shared by every request; cloning shares it.
#[derive(Clone)]
pub struct Documents {
    parsed: moka::sync::Cache<Arc<str>, Parsed>,
    validated: moka::sync::Cache<ValidationKey, Validated>,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents").field("parsed", &self.parsed.entry_count()).finish_non_exhaustive()
    }
}

fn count(stage: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(DOCUMENT_CACHE_LOOKUPS, "stage" => stage, "result" => result).increment(1);
}

impl Documents {
    /// Half of `capacity_bytes` for parsed documents, half for validation results.
    pub fn new(capacity_bytes: u64) -> Self {
        let parsed = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes / 2)
            .weigher(|query: &Arc<str>, _: &Parsed| {
                u32::try_from(query.len().saturating_mul(PARSED_WEIGHT_PER_BYTE)).unwrap_or(u32::MAX)
            })
            .build();
        let validated = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes / 2)
            .weigher(|key: &ValidationKey, _: &Validated| key.weight())
            .build();
        Self { parsed, validated }
    }

    pub fn parsed(&self, query: &str) -> Option<Parsed> {
        let found = self.parsed.get(query);
        count("parse", found.is_some());
        found
    }

    /// The type and name of the operation a request selects from a document parsed
    /// before; None when it was not, or was refused.
    pub fn selected(&self, query: &str, operation_name: Option<&str>) -> Option<(OperationType, Option<String>)> {
        let (document, _) = self.parsed.get(query)?.ok()?;
        match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => Some((operation.node.ty, None)),
            (DocumentOperations::Multiple(operations), Some(name)) => {
                operations.get(name).map(|operation| (operation.node.ty, Some(name.to_string())))
            }
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.iter().next().map(|(name, operation)| (operation.node.ty, Some(name.to_string())))
            }
            (DocumentOperations::Multiple(_), None) => None,
        }
    }

    pub fn keep_parsed(&self, query: &str, parsed: Parsed) {
        self.parsed.insert(Arc::from(query), parsed);
    }

    pub fn validated(&self, key: &ValidationKey) -> Option<Validated> {
        let found = self.validated.get(key);
        count("validation", found.is_some());
        found
    }

    pub fn keep_validated(&self, key: ValidationKey, validated: Validated) {
        self.validated.insert(key, validated);
    }
}

impl Default for Documents {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_BYTES)
    }
}
