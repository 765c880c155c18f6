//! What one operation may ask. Every limit is checked after parsing and before
//! any resolver runs, so a refused operation costs no upstream call; each refusal
//! carries a stable `extensions.code`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
    NextValidation,
};
use async_graphql::parser::types::{Directive, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Variables};

pub use crate::config::Limits;

use super::analysis::{MAX_NESTING, Unsound, analyse};
use super::documents::{Documents, ValidationKey};
use super::estimate;
use crate::error_code::ErrorCode;

/// A field, fragment or operation can use each of `@include` and `@skip` once; a
/// few more leave room for directives a later schema adds.
pub const MAX_DIRECTIVES_PER_PLACE: usize = 4;

/// See [`Limits::max_expanded_selections`].
const EXPANSION_PER_COMPLEXITY: u64 = 4;

/// A document longer than this is parsed and analysed on the blocking pool, so the
/// runtime's workers go on answering others meanwhile.
const PARSE_ON_A_WORKER_BYTES: usize = 16 * 1024;

/// The cost of a connection field: its page size times the cost of one node.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let page = first.or(last).map_or(super::connection::DEFAULT_COUNT, |n| usize::try_from(n).unwrap_or(0));
    page.max(1).saturating_mul(child).saturating_add(1)
}

/// The one adapter from async-graphql's errors to codes. It reports a parse
/// failure, and the depth and complexity limits it enforces, in English prose only
/// (no kind to match), so the code is read from the words; a test pins each wording,
/// so an upgrade that rewords one fails CI instead of sending the wrong code.
mod derived {
    use crate::error_code::ErrorCode;

    pub fn parse(message: &str) -> ErrorCode {
        if message.contains("recursion limit exceeded") || message.contains("recursion depth of the query") {
            ErrorCode::QueryTooDeep
        } else if message.contains("number of directives") {
            ErrorCode::TooManyDirectives
        } else {
            ErrorCode::GraphqlParseFailed
        }
    }

    /// An error async-graphql sent without a code, outside a field or on one.
    pub fn uncoded(message: &str, on_a_field: bool) -> ErrorCode {
        let coercion = ["Variable ", "Failed to parse", "Invalid value"];
        if message.starts_with("Unknown operation named") || message.starts_with("Operation name required") {
            ErrorCode::OperationResolutionFailure
        } else if on_a_field && coercion.iter().any(|words| message.contains(words)) {
            ErrorCode::BadUserInput
        } else {
            ErrorCode::InternalServerError
        }
    }

    pub fn validation(message: &str) -> ErrorCode {
        if message.contains("nested too deep") {
            ErrorCode::QueryTooDeep
        } else if message.contains("too complex") {
            ErrorCode::QueryTooComplex
        } else if message.contains("__schema") || message.contains("__type") {
            ErrorCode::IntrospectionDisabled
        } else {
            ErrorCode::GraphqlValidationFailed
        }
    }
}

/// The parser words a syntax error as a multi-line drawing of the source with a
/// caret; clients show `message` on one line and have `locations` for the place.
fn one_line(message: &str) -> String {
    let said = message.lines().map(str::trim).find_map(|line| line.strip_prefix("= "));
    match said {
        Some(said) => format!("syntax error: {said}"),
        None => message.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" "),
    }
}

/// Braces beyond the field depth: the operation's own, and input objects in arguments.
const NESTING_ALLOWANCE: usize = 8;

/// The deepest `{` nesting of a document, strings and comments skipped.
fn brace_nesting(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            '#' => {
                chars.by_ref().find(|&c| c == '\n');
            }
            '"' => {
                // Block strings hold no unescaped quote run either, so skipping to the
                // next unescaped quote keeps the count right enough for a guard.
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

#[derive(Default)]
struct Count {
    aliases: usize,
    directives: usize,
    /// The most directives on one field, fragment spread, inline fragment or definition.
    directives_in_one_place: usize,
}

impl Count {
    fn directives(&mut self, directives: &[Positioned<Directive>]) {
        self.directives += directives.len();
        self.directives_in_one_place = self.directives_in_one_place.max(directives.len());
    }
}

fn count(selections: &SelectionSet, count: &mut Count) {
    for selection in &selections.items {
        match &selection.node {
            Selection::Field(field) => {
                count.aliases += usize::from(field.node.alias.is_some());
                count.directives(&field.node.directives);
                self::count(&field.node.selection_set.node, count);
            }
            Selection::InlineFragment(fragment) => {
                count.directives(&fragment.node.directives);
                self::count(&fragment.node.selection_set.node, count);
            }
            // Fragments are counted once, where they are defined.
            Selection::FragmentSpread(spread) => count.directives(&spread.node.directives),
        }
    }
}

impl Limits {
    /// Selections the passes after parsing may visit with fragments spread out. Each
    /// field costs at least 1 of the complexity, but spreads, inline fragments and
    /// `__typename` cost nothing there, so the complexity alone does not bound them.
    pub fn max_expanded_selections(&self) -> u64 {
        u64::try_from(self.max_complexity).unwrap_or(u64::MAX).saturating_mul(EXPANSION_PER_COMPLEXITY)
    }

    fn check_document(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let analysis = analyse(document).map_err(|unsound| match unsound {
            Unsound::Cycle(name) => {
                ErrorCode::GraphqlValidationFailed.error(format!("fragment \"{name}\" is spread within itself"))
            }
            Unsound::TooDeep => ErrorCode::QueryTooDeep
                .error(format!("fragments and selections are nested more than {MAX_NESTING} levels deep")),
        })?;
        let expanded = analysis.expanded();
        tracing::debug!(visits = analysis.visits, expanded, "document analysed");
        if expanded > self.max_expanded_selections() {
            return Err(ErrorCode::QueryTooComplex.error(format!(
                "with its fragments spread out the document holds {expanded} selections; the limit is {}",
                self.max_expanded_selections()
            )));
        }
        let mut count = Count::default();
        for (_, operation) in document.operations.iter() {
            count.directives(&operation.node.directives);
            self::count(&operation.node.selection_set.node, &mut count);
        }
        for (_, fragment) in document.fragments.iter() {
            count.directives(&fragment.node.directives);
            self::count(&fragment.node.selection_set.node, &mut count);
        }
        if count.directives_in_one_place > MAX_DIRECTIVES_PER_PLACE {
            return Err(ErrorCode::TooManyDirectives.error(format!(
                "a field, fragment or operation takes at most {MAX_DIRECTIVES_PER_PLACE} directives; one here takes {}",
                count.directives_in_one_place
            )));
        }
        if count.directives > self.max_directives {
            return Err(ErrorCode::TooManyDirectives.error(format!(
                "a document holds at most {} directives; this one holds {}",
                self.max_directives, count.directives
            )));
        }
        if count.aliases > self.max_aliases {
            return Err(ErrorCode::TooManyAliases.error(format!(
                "a document holds at most {} aliases; this one holds {}",
                self.max_aliases, count.aliases
            )));
        }
        for (_, facts) in &analysis.operations {
            if facts.fields > self.max_root_fields {
                return Err(ErrorCode::TooManyRootFields.error(format!(
                    "an operation selects at most {} root fields; this one selects {}",
                    self.max_root_fields, facts.fields
                )));
            }
        }
        if !self.introspection && analysis.operations.iter().any(|(_, facts)| facts.introspection) {
            return Err(ErrorCode::IntrospectionDisabled.error("introspection is switched off on this gateway"));
        }
        let mut subscriptions = analysis.operations.iter().filter(|(ty, _)| *ty == OperationType::Subscription);
        if subscriptions.any(|(_, facts)| facts.fields > 1) {
            return Err(ErrorCode::GraphqlValidationFailed.error("a subscription selects exactly one root field"));
        }
        Ok(())
    }
}

/// Request data marking a caller that presented one of `PIXGATE_ACCESS_TOKENS`.
pub struct HoldsAccessToken;

/// Enforces [`Limits`] on every operation, whatever its transport. A document seen
/// before is not parsed, analysed or validated again: its verdicts are in `documents`.
pub struct Enforce {
    pub limits: Arc<Limits>,
    pub documents: Documents,
}

/// What the operation was judged to need before it runs.
#[derive(Default)]
struct Judged {
    operation_name: OnceLock<Option<String>>,
    /// What its root asks; see `estimate`.
    asked: OnceLock<estimate::Asked>,
}

impl ExtensionFactory for Enforce {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Enforcing {
            limits: self.limits.clone(),
            documents: self.documents.clone(),
            validation_key: OnceLock::new(),
            judged: Judged::default(),
            only_subscriptions: AtomicBool::new(false),
        })
    }
}

/// One per operation.
struct Enforcing {
    limits: Arc<Limits>,
    documents: Documents,
    validation_key: OnceLock<ValidationKey>,
    judged: Judged,
    /// A subscription's events are resolved from memory, one `execute` each: a
    /// timer per event would cost every subscriber and could never fire.
    only_subscriptions: AtomicBool,
}

impl Limits {
    /// Parses `query` and applies the limits: what `documents` keeps for it.
    ///
    /// async-graphql's own parse step also runs `check_recursive_depth`, which walks
    /// every fragment spread anew: thirty fragments each spreading the next twice
    /// (1.3 KB) kept a worker busy for minutes. So pixgate parses with its parser and
    /// never hands the text on; [`analyse`] takes the place of that check, visiting each
    /// fragment once, and refuses what validation's inlining passes could not walk.
    fn parse(&self, query: &str) -> ServerResult<ExecutableDocument> {
        // The parser recurses per level: a hostile nesting is refused before it gets there.
        let nesting = brace_nesting(query);
        if nesting > self.max_depth + NESTING_ALLOWANCE {
            return Err(ErrorCode::QueryTooDeep
                .error(format!("the operation is nested {nesting} levels deep; the limit is {}", self.max_depth)));
        }
        let document = async_graphql::parser::parse_query(query).map_err(|e| {
            let mut e = ServerError::from(e);
            let code = derived::parse(&e.message);
            e.message = one_line(&e.message);
            code.mark(e)
        })?;
        self.check_document(&document)?;
        Ok(document)
    }
}

impl Enforcing {
    /// [`Limits::parse`], on the blocking pool when the text is long.
    async fn parse(&self, query: &str) -> ServerResult<ExecutableDocument> {
        if query.len() <= PARSE_ON_A_WORKER_BYTES {
            return self.limits.parse(query);
        }
        let (limits, query) = (self.limits.clone(), query.to_string());
        tokio::task::spawn_blocking(move || limits.parse(&query)).await.unwrap_or_else(|_| {
            Err(ErrorCode::InternalServerError.error("the document's analysis stopped unexpectedly"))
        })
    }
}

#[async_trait::async_trait]
impl Extension for Enforcing {
    /// async-graphql words some failures without a code: picking the operation after
    /// validation, and coercing a field's arguments and variables as it resolves. Every
    /// error leaves pixgate with one.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in response.errors.iter_mut().filter(|error| ErrorCode::of(error).is_none()) {
            let code = derived::uncoded(&error.message, !error.path.is_empty());
            if code == ErrorCode::InternalServerError {
                tracing::warn!(message = %error.message, "an error without a code: answered as INTERNAL_SERVER_ERROR");
            }
            *error = code.mark(std::mem::replace(error, ServerError::new("", None)));
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let key = ValidationKey::new(&request.query, request.operation_name.as_deref(), &request.variables);
        let _ = self.validation_key.set(key);
        let _ = self.judged.operation_name.set(request.operation_name.clone());
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        _ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        // Never run: see `Limits::parse`.
        _next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = match self.documents.parsed(query) {
            Some(parsed) => parsed,
            None => {
                let parsed = self.parse(query).await.map(|document| {
                    let only_subscriptions =
                        document.operations.iter().all(|(_, o)| o.node.ty == OperationType::Subscription);
                    (Arc::new(document), only_subscriptions)
                });
                self.documents.keep_parsed(query, parsed.clone());
                parsed
            }
        };
        let (document, only_subscriptions) = parsed?;
        self.only_subscriptions.store(only_subscriptions, Ordering::Relaxed);
        let operation_name = self.judged.operation_name.get().and_then(Option::as_deref);
        let _ = self.judged.asked.set(estimate::asked(&document, operation_name, variables));
        Ok(ExecutableDocument::clone(&document))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let key = self.validation_key.get();
        if let Some(validated) = key.and_then(|key| self.documents.validated(key)) {
            return validated;
        }
        let validated = next
            .run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(|e| derived::validation(&e.message).mark(e)).collect());
        if let Some(key) = key {
            self.documents.keep_validated(key.clone(), validated.clone());
        }
        validated
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if self.only_subscriptions.load(Ordering::Relaxed) {
            return next.run(ctx, operation_name).await;
        }
        let asked = self.judged.asked.get().copied().unwrap_or_default();
        // A router composing the supergraph holds an access token (or reads `pixgate schema
        // --federation`); anyone else is told no more of the schema than introspection tells.
        if asked.service && !self.limits.introspection && ctx.data_opt::<HoldsAccessToken>().is_none() {
            let error =
                ErrorCode::IntrospectionDisabled.error("introspection, `_service` included, is switched off here");
            return Response::from_errors(vec![error]);
        }
        let estimated = asked.upstream_calls;
        let limit = self.limits.max_upstream_calls;
        if estimated > u64::from(limit) {
            metrics::counter!(crate::telemetry::metrics::UPSTREAM_BUDGET_REFUSALS, "stage" => "estimate").increment(1);
            let mut error = ErrorCode::UpstreamBudgetExceeded.error(format!(
                "the operation names objects that take {estimated} upstream calls to fetch; one operation may make {limit}"
            ));
            if let Some(extensions) = error.extensions.as_mut() {
                extensions.set("limit", limit);
                extensions.set("estimated", estimated);
            }
            return Response::from_errors(vec![error]);
        }
        let limit = self.limits.execution_timeout;
        tokio::time::timeout(limit, next.run(ctx, operation_name)).await.unwrap_or_else(|_| {
            Response::from_errors(vec![
                ErrorCode::ExecutionTimeout
                    .error(format!("the operation did not finish within {} ms", limit.as_millis())),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, limits: &Limits) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        limits.check_document(&document).map_err(|e| e.message)
    }

    #[test]
    fn aliases_and_root_fields_are_counted_through_fragments() {
        let limits = Limits { max_aliases: 2, max_root_fields: 2, ..Limits::default() };
        assert!(check("{ a: client(id: 1) { id } b: client(id: 2) { id } }", &limits).is_ok());
        let aliased = "query { ...F } fragment F on Query { a: x b: x c: x }";
        let wide = Limits { max_root_fields: 5, ..limits.clone() };
        assert!(check(aliased, &wide).unwrap_err().contains("aliases"));
        let roots = "query { x ...F } fragment F on Query { y z }";
        assert!(check(roots, &limits).unwrap_err().contains("root fields"));
        assert!(check("{ __schema { types { name } } }", &Limits { introspection: false, ..limits }).is_err());
    }

    #[test]
    fn directives_are_counted_in_the_document_and_in_each_place() {
        let limits = Limits { max_directives: 3, ..Limits::default() };
        assert!(check("{ a @include(if: true) b @skip(if: false) }", &limits).is_ok());
        let spread = "query Q @skip(if: false) { ...F @include(if: true) } fragment F on Query { a @skip(if: false) b @include(if: true) }";
        assert!(check(spread, &limits).unwrap_err().contains("at most 3 directives"));
        let piled = format!("{{ a {} }}", "@include(if: true) ".repeat(5));
        assert!(check(&piled, &Limits::default()).unwrap_err().contains("takes at most 4"));
        let overloaded = format!("{{ {} }}", "__typename @include(if: true) ".repeat(51));
        assert!(check(&overloaded, &Limits::default()).unwrap_err().contains("at most 50 directives"));
    }

    /// async-graphql's own words, which `derived` reads codes from.
    #[tokio::test]
    async fn the_words_codes_are_derived_from_are_async_graphqls() {
        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
        struct Query;
        #[Object]
        impl Query {
            async fn a(&self) -> Option<Query> {
                None
            }
            async fn b(&self) -> i32 {
                0
            }
        }
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).limit_depth(2).limit_complexity(3).finish();
        let message = |query: &str| {
            let schema = schema.clone();
            let query = query.to_string();
            async move { schema.execute(query).await.errors.remove(0).message }
        };
        assert_eq!(derived::validation(&message("{ a { a { b } } }").await), ErrorCode::QueryTooDeep);
        assert_eq!(derived::validation(&message("{ b x: b y: b z: b }").await), ErrorCode::QueryTooComplex);
        assert_eq!(derived::validation(&message("{ c }").await), ErrorCode::GraphqlValidationFailed);
        let deep = format!("{}b{}", "{ a ".repeat(300), " }".repeat(300));
        assert_eq!(
            derived::parse(&async_graphql::parser::parse_query(deep).unwrap_err().to_string()),
            ErrorCode::QueryTooDeep
        );
        assert_eq!(derived::parse(&message("{").await), ErrorCode::GraphqlParseFailed);
    }

    /// A schema enforcing `limits`, and the documents it keeps.
    fn enforced(
        limits: Limits,
    ) -> (async_graphql::Schema<Echo, async_graphql::EmptyMutation, async_graphql::EmptySubscription>, Documents) {
        let documents = Documents::new(1 << 20);
        let enforce = Enforce { limits: Arc::new(limits), documents: documents.clone() };
        let schema = async_graphql::Schema::build(Echo, async_graphql::EmptyMutation, async_graphql::EmptySubscription)
            .limit_complexity(10)
            .extension(enforce)
            .finish();
        (schema, documents)
    }

    struct Echo;

    #[async_graphql::Object]
    impl Echo {
        async fn echo(&self, id: async_graphql::ID) -> String {
            id.0
        }
        async fn two(&self) -> i32 {
            2
        }
        #[graphql(complexity = "usize::try_from(n).unwrap_or(0) + child_complexity")]
        async fn items(&self, n: i32) -> Vec<i32> {
            (0..n).collect()
        }
    }

    fn codes(response: &Response) -> Vec<String> {
        let codes = response.errors.iter().map(|e| e.extensions.as_ref().and_then(|x| x.get("code")).cloned());
        codes.map(|code| format!("{code:?}")).collect()
    }

    /// A document refused once is refused the same way again, from what was kept,
    /// without being parsed again; a valid one is kept and answers as before.
    #[tokio::test]
    async fn a_document_is_judged_once_and_the_verdict_kept() {
        let (schema, documents) = enforced(Limits { max_aliases: 1, ..Limits::default() });
        let aliased = "{ a: two b: two }";
        let first = schema.execute(aliased).await;
        let again = schema.execute(aliased).await;
        assert_eq!(codes(&first), ["Some(String(\"TOO_MANY_ALIASES\"))"]);
        assert_eq!((codes(&again), &again.errors[0].message), (codes(&first), &first.errors[0].message));
        assert!(documents.parsed(aliased).is_some_and(|parsed| parsed.is_err()), "the refusal is kept");

        let deep = format!("{}two{}", "{ a ".repeat(40), " }".repeat(40));
        for _ in 0..2 {
            assert_eq!(codes(&schema.execute(deep.as_str()).await), ["Some(String(\"QUERY_TOO_DEEP\"))"]);
        }
        assert_eq!(codes(&schema.execute("{ two").await), ["Some(String(\"GRAPHQL_PARSE_FAILED\"))"]);
        assert_eq!(codes(&schema.execute("{ two").await), ["Some(String(\"GRAPHQL_PARSE_FAILED\"))"]);

        for _ in 0..2 {
            let answer = schema.execute("{ two }").await;
            assert_eq!(answer.data.to_string(), "{two: 2}");
        }
        assert!(documents.parsed("{ two }").is_some_and(|parsed| parsed.is_ok()));
    }

    /// Validation reads the variables' values (a page size set by a variable makes the
    /// cost): one document's verdict with some variables is never reused for others.
    #[tokio::test]
    async fn validation_is_kept_per_variables_and_operation() {
        let (schema, _) = enforced(Limits::default());
        let query = "query Items($n: Int!) { items(n: $n) } query Two { two }";
        let with = |n: i32, operation: &str| {
            async_graphql::Request::new(query)
                .variables(Variables::from_json(serde_json::json!({ "n": n })))
                .operation_name(operation)
        };
        let answered = schema.execute(with(2, "Items")).await;
        assert_eq!(answered.data.to_string(), "{items: [0, 1]}", "{:?}", answered.errors);
        let costly = schema.execute(with(100, "Items")).await;
        assert_eq!(codes(&costly), ["Some(String(\"QUERY_TOO_COMPLEX\"))"], "a page of 100 costs too much");
        assert_eq!(schema.execute(with(3, "Items")).await.data.to_string(), "{items: [0, 1, 2]}");
        let two = schema.execute(with(2, "Two")).await;
        assert_eq!(two.data.to_string(), "{two: 2}", "the other operation of the same document: {:?}", two.errors);
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let error = async_graphql::parser::parse_query("{").unwrap_err().to_string();
        assert!(error.contains('\n'), "the parser draws: {error}");
        assert_eq!(one_line(&error), "syntax error: expected selection");
        assert_eq!(one_line("recursion limit exceeded."), "recursion limit exceeded.");
    }

    #[test]
    fn nesting_counts_braces_outside_strings_and_comments() {
        assert_eq!(brace_nesting("{ a { b } c { d { e } } }"), 3);
        assert_eq!(brace_nesting("{ a(s: \"{{{{\\\"{{\") # {{{{\n { b } }"), 2);
        assert_eq!(brace_nesting(&"{".repeat(10_000)), 10_000);
    }

    #[test]
    fn a_connection_costs_its_page_times_its_node() {
        assert_eq!(connection_cost(Some(10), None, 3), 31);
        assert_eq!(connection_cost(None, Some(5), 3), 16);
        let default_page = super::super::connection::DEFAULT_COUNT;
        assert_eq!(connection_cost(None, None, 3), default_page * 3 + 1);
        assert_eq!(connection_cost(Some(-4), None, 3), 4, "a refused page still costs a field");
        assert_eq!(connection_cost(Some(i32::MAX), None, usize::MAX), usize::MAX);
    }
}
