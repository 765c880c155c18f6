//! Every `extensions.code` pixgate can send, declared once, and the one builder of
//! the GraphQL errors that carry them. The README's table of codes lists the same
//! set (a test compares the two). A client reads the code, never the message.

use async_graphql::{ErrorExtensionValues, ServerError};

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, )+) => {
        /// A stable `extensions.code`. Each variant's doc says when it is sent.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// The request is not a GraphQL-over-HTTP request: an unreadable body, no `query`,
    /// unreadable GET parameters or `persistedQuery`, an unusable `Idempotency-Key`, a
    /// mutation over GET (405), a WebSocket offering no known subprotocol. HTTP 400.
    BadRequest = "BAD_REQUEST",
    /// A POST whose body is not `application/json`. HTTP 415.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    /// An `Accept` that names neither GraphQL response type. HTTP 406.
    NotAcceptable = "NOT_ACCEPTABLE",
    /// A body over `PIXGATE_MAX_BODY_KB`. HTTP 413.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    /// A batch over `PIXGATE_MAX_BATCH` (HTTP 400), or more than 100 operations at once on one WebSocket.
    TooManyOperations = "TOO_MANY_OPERATIONS",
    /// The caller is over its per-IP or per-tenant budget (HTTP 429 and `Retry-After`; a tenant's
    /// budget is spent by the upstream calls its operations make), or has guessed admin tokens too
    /// often, or an upstream is limiting the gateway (on the field). `retryAfter` says when to try
    /// again, in seconds.
    RateLimited = "RATE_LIMITED",
    /// An automatic persisted query's hash this gateway does not know: send the query with it.
    /// With trusted documents, a `documentId` or hash the manifest does not hold.
    PersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND",
    /// A `persistedQuery` version other than 1.
    PersistedQueryNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED",
    /// A query sent with a `sha256Hash` that is not its hash, or with a `documentId` whose
    /// trusted document is another text.
    PersistedQueryHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH",
    /// The gateway runs only trusted documents (`PIXGATE_TRUSTED_DOCUMENTS`) and the text
    /// sent is not one of them; nothing was parsed or run.
    PersistedQueryNotInList = "PERSISTED_QUERY_NOT_IN_LIST",
    /// The document is not GraphQL.
    GraphqlParseFailed = "GRAPHQL_PARSE_FAILED",
    /// The document is GraphQL but not valid for this schema, a fragment is spread within itself,
    /// or a subscription selects more than one root field.
    GraphqlValidationFailed = "GRAPHQL_VALIDATION_FAILED",
    /// Fields nested deeper than `PIXGATE_MAX_DEPTH`, or selections and fragments nested more than 32 levels.
    QueryTooDeep = "QUERY_TOO_DEEP",
    /// An operation costing more than `PIXGATE_MAX_COMPLEXITY`, or a document whose fragments,
    /// spread out, hold more than four times that many selections (each fragment is looked at once).
    QueryTooComplex = "QUERY_TOO_COMPLEX",
    /// More aliases in one document than `PIXGATE_MAX_ALIASES`.
    TooManyAliases = "TOO_MANY_ALIASES",
    /// More directives in one document than `PIXGATE_MAX_DIRECTIVES`, or more than 4 in one place.
    TooManyDirectives = "TOO_MANY_DIRECTIVES",
    /// More root fields in one operation than `PIXGATE_MAX_ROOT_FIELDS`.
    TooManyRootFields = "TOO_MANY_ROOT_FIELDS",
    /// `__schema` or `__type` asked of a gateway with introspection switched off.
    IntrospectionDisabled = "INTROSPECTION_DISABLED",
    /// An operation that ran longer than `PIXGATE_EXECUTION_TIMEOUT_MS`; what finished is not sent.
    ExecutionTimeout = "EXECUTION_TIMEOUT",
    /// A field needs an upstream the request has no usable credentials for, or the upstream
    /// refused them (`upstream` names which); or `/admin/invalidate` without its token (HTTP 401).
    Unauthenticated = "UNAUTHENTICATED",
    /// The object asked for is not there upstream (on the field); or, over HTTP, a page or
    /// file that is not there (GraphiQL or the demo switched off, an unknown asset, the admin
    /// route without `PIXGATE_ADMIN_TOKEN`). HTTP 404.
    NotFound = "NOT_FOUND",
    /// An argument the gateway or the upstream rejects; `details` holds the upstream's
    /// per-field messages when it gives them. A mutation reports these as `userErrors` instead.
    BadUserInput = "BAD_USER_INPUT",
    /// An `Idempotency-Key` (or `clientMutationId`) used before with another input: send a new key
    /// for a new write. As the IETF Idempotency-Key draft says, nothing is written.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED",
    /// A write under this `Idempotency-Key` is being made by another request, on this instance or
    /// another: its answer will be this one's. `retryAfter` says when to ask again.
    InProgress = "IN_PROGRESS",
    /// A write that may have been made upstream without the gateway knowing: its answer was lost
    /// (a timeout or reset after sending, an unreadable answer, a 500, 502 or 504), and asking the
    /// upstream by the write's natural key did not settle it. Nothing is sent again under this key
    /// until the upstream shows whether it was made; `check` says what to look for.
    WriteOutcomeUnknown = "WRITE_OUTCOME_UNKNOWN",
    /// A write under an `Idempotency-Key` refused because the store of idempotency records (Redis)
    /// cannot be reached and the upstream offers no way to check for an earlier write: nothing was
    /// sent. A write without a key is unaffected. `retryAfter` says when to try again.
    IdempotencyUnavailable = "IDEMPOTENCY_UNAVAILABLE",
    /// An upstream that is down, timed out, or answered what cannot be read or contradicts
    /// itself. `upstream`, `endpoint` and `upstreamStatus` say where; the log has the cause.
    /// While its circuit is open for these credentials (after failures, or a 429) the call is not
    /// made, and `retryAfter` says when it will be tried again.
    UpstreamUnavailable = "UPSTREAM_UNAVAILABLE",
    /// An operation that would make, or made, more upstream calls than `PIXGATE_MAX_UPSTREAM_CALLS`:
    /// refused before it runs when its arguments tell (ids in `nodes`, `_entities` representations),
    /// else the fields past the budget fail with it. `limit` and `estimated` say how many.
    UpstreamBudgetExceeded = "UPSTREAM_BUDGET_EXCEEDED",
    /// `operationName` names no operation of the document, or the document holds several and
    /// none is named. HTTP 400.
    OperationResolutionFailure = "OPERATION_RESOLUTION_FAILURE",
    /// A WebSocket upgrade whose `Origin` is neither the gateway's own nor one of
    /// `PIXGATE_CORS_ORIGINS`: a page elsewhere may not act with this gateway's credentials. HTTP 403.
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED",
    /// An answer that could not be serialised, or an error that came without a code: a defect in
    /// pixgate, never expected (the log says which).
    InternalServerError = "INTERNAL_SERVER_ERROR",
}

impl ErrorCode {
    /// The code a GraphQL error carries, if it is one of these.
    pub fn of(error: &ServerError) -> Option<Self> {
        match error.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Self::ALL.iter().copied().find(|known| known.as_str() == code),
            _ => None,
        }
    }

    fn extensions(self) -> ErrorExtensionValues {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.as_str());
        extensions
    }

    /// A GraphQL error with this code, for an answer made outside a resolver: a
    /// refusal over HTTP or a WebSocket, a limit, a persisted-query miss.
    pub fn error(self, message: impl Into<String>) -> ServerError {
        let mut error = ServerError::new(message, None);
        error.extensions = Some(self.extensions());
        error
    }

    /// The same, for a resolver to return.
    pub fn field_error(self, message: impl Into<String>) -> async_graphql::Error {
        async_graphql::Error { message: message.into(), source: None, extensions: Some(self.extensions()) }
    }

    /// Gives an error async-graphql made this code, unless it already has one.
    pub fn mark(self, mut error: ServerError) -> ServerError {
        let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            extensions.set("code", self.as_str());
        }
        error
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(code.as_str().chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{code}");
            assert_eq!(ErrorCode::of(&code.error("x")), Some(*code));
        }
    }

    #[test]
    fn the_readme_table_lists_every_code_and_no_other() {
        let readme = include_str!("../README.md");
        let table = readme.split("### Error codes").nth(1).expect("README has an Error codes section");
        let listed: Vec<&str> = table
            .lines()
            .skip_while(|line| !line.starts_with("| code"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .filter_map(|row| row.split('`').nth(1))
            .collect();
        let declared: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(listed, declared, "README's table of codes, in the enum's order");
    }
}
