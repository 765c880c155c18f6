//! `@live` on a query: its result, then a new one whenever what it was made from
//! changes. The directive is declared here, so the schema shows it and validation
//! knows it; what an operation asks for is read here before it runs
//! ([`Streaming::of`]). The transports that stream results re-run live queries
//! (`server/subscriptions/live.rs`); over plain HTTP a live query is answered once.

use std::borrow::Cow;
use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::registry::{MetaDirective, MetaInputValue, Registry};
use async_graphql::{ContextDirective, ServerError, ServerResult, Value};

use crate::error_code::ErrorCode;

/// How often a live query may run again when it names no `throttle`: changes that
/// come closer together are answered together.
pub const DEFAULT_THROTTLE: Duration = Duration::from_millis(250);
/// Bounds of `throttle`: at least this much time between two runs, so no query asks
/// the gateway to spin; and at most an hour, past which a client should ask again.
const THROTTLE_MS: std::ops::RangeInclusive<i64> = 100..=3_600_000;

/// How an operation's results come over a transport that streams them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    /// A query or mutation: one result.
    Once,
    /// A subscription: one result per event.
    Subscription,
    /// A query marked `@live`: a result, then one each time it would be different,
    /// run at most once per `throttle`.
    Live { throttle: Duration },
}

impl Streaming {
    /// What `query`'s selected operation asks for. A document that does not parse,
    /// or names no one operation, is `Once`: it runs and answers with its error.
    pub fn of(
        query: &str,
        operation_name: Option<&str>,
        variables: Option<&serde_json::Value>,
    ) -> Result<Self, ServerError> {
        let Ok(document) = async_graphql::parser::parse_query(query) else { return Ok(Self::Once) };
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => Some(operation),
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        let Some(operation) = operation else { return Ok(Self::Once) };
        match operation.node.ty {
            OperationType::Subscription => Ok(Self::Subscription),
            OperationType::Mutation => Ok(Self::Once),
            OperationType::Query => {
                let live = operation.node.directives.iter().find(|directive| directive.node.name.node == NAME);
                match live {
                    None => Ok(Self::Once),
                    Some(live) => {
                        // A variable stands for its value; one not given is null.
                        let throttle = live.node.get_argument(THROTTLE).map(|value| {
                            value.node.clone().into_const_with(|name| {
                                let given = variables.and_then(|variables| variables.get(name.as_str()));
                                Value::from_json(given.cloned().unwrap_or_default())
                            })
                        });
                        Ok(Self::Live { throttle: throttle_of(throttle.transpose().ok().flatten())? })
                    }
                }
            }
        }
    }
}

const NAME: &str = "live";
const THROTTLE: &str = "throttle";

/// The `throttle` argument's value; absent or null is the default.
fn throttle_of(argument: Option<Value>) -> Result<Duration, ServerError> {
    let milliseconds = match argument {
        None | Some(Value::Null) => return Ok(DEFAULT_THROTTLE),
        Some(Value::Number(number)) => number.as_i64(),
        Some(_) => None,
    };
    match milliseconds {
        Some(ms) if THROTTLE_MS.contains(&ms) => Ok(Duration::from_millis(ms.unsigned_abs())),
        _ => Err(ErrorCode::BadUserInput.error(format!(
            "`@live(throttle:)` is milliseconds between two runs of the query, an Int from {} to {}",
            THROTTLE_MS.start(),
            THROTTLE_MS.end()
        ))),
    }
}

/// Declares `@live` in the schema. async-graphql's directive macro declares only
/// field directives, so this registers one on `QUERY` by hand; validation then
/// accepts it there (and its `throttle` as an Int) and nowhere else.
pub struct LiveDirective;

impl async_graphql::CustomDirectiveFactory for LiveDirective {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(NAME)
    }

    fn register(&self, registry: &mut Registry) {
        // Described in the directive's text: async-graphql's SDL leaves out a directive argument's
        // description, which introspection would show, and the two must agree.
        let throttle = MetaInputValue {
            name: THROTTLE.to_string(),
            description: None,
            ty: "Int".to_string(),
            deprecation: Default::default(),
            default_value: None,
            visible: None,
            inaccessible: false,
            tags: Vec::new(),
            is_secret: false,
            directive_invocations: Vec::new(),
        };
        registry.add_directive(MetaDirective {
            name: NAME.to_string(),
            description: Some(format!(
                "Keeps a query's result true over a WebSocket or SSE: the first result, then a new one whenever \
                 something it was made from changes (a write through any instance, an image's status, an \
                 invalidation, or the time to live of what it read running out and the data being different). \
                 Each result carries `extensions.isLive`. Over plain HTTP the query is answered once. `throttle`: \
                 milliseconds that must pass between two runs of the query (from {} to {}; {} when not given), \
                 so changes that come closer together arrive as one result.",
                THROTTLE_MS.start(),
                THROTTLE_MS.end(),
                DEFAULT_THROTTLE.as_millis()
            )),
            locations: vec![async_graphql::registry::__DirectiveLocation::QUERY],
            args: [(THROTTLE.to_string(), throttle)].into_iter().collect(),
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    fn create(
        &self,
        _: &ContextDirective<'_>,
        _: &async_graphql::parser::types::Directive,
    ) -> ServerResult<Box<dyn async_graphql::CustomDirective>> {
        // async-graphql asks only for directives on fields, where `@live` cannot stand.
        Ok(Box::new(NothingToDo))
    }
}

struct NothingToDo;

impl async_graphql::CustomDirective for NothingToDo {}

/// Marks a live query's result as one, by the convention of `@n1ru4l/graphql-live-query`,
/// in `extensions`: the spec allows no other key at a response's top level.
pub fn mark_live(response: &mut async_graphql::Response) {
    response.extensions.insert("isLive".to_string(), Value::Boolean(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_decides_and_throttle_is_read_however_it_is_written() {
        let of = |query: &str, name: Option<&str>, variables: serde_json::Value| {
            Streaming::of(query, name, Some(&variables))
        };
        let none = serde_json::json!({});
        let live = |ms: u64| Ok(Streaming::Live { throttle: Duration::from_millis(ms) });
        assert_eq!(of("query Q @live { a }", None, none.clone()), live(250));
        assert_eq!(of("query Q @live(throttle: 1000) { a }", None, none.clone()), live(1000));
        assert_eq!(of("query Q($t: Int) @live(throttle: $t) { a }", None, serde_json::json!({ "t": 500 })), live(500));
        assert_eq!(of("query Q($t: Int) @live(throttle: $t) { a }", None, none.clone()), live(250));
        assert_eq!(of("{ a }", None, none.clone()), Ok(Streaming::Once));
        let two = "query A @live { a } subscription B { b }";
        assert_eq!(of(two, Some("B"), none.clone()), Ok(Streaming::Subscription));
        assert_eq!(of(two, Some("A"), none.clone()), live(250));
        assert_eq!(of(two, None, none.clone()), Ok(Streaming::Once), "ambiguous: runs alone");
        assert_eq!(of("query {", None, none.clone()), Ok(Streaming::Once));
        assert_eq!(of("mutation M @live { a }", None, none.clone()), Ok(Streaming::Once), "validation refuses it");
        for refused in ["@live(throttle: 5)", "@live(throttle: \"fast\")", "@live(throttle: 3600001)"] {
            let answer = of(&format!("query Q {refused} {{ a }}"), None, none.clone());
            let error = answer.expect_err(refused);
            assert!(error.message.contains("throttle"), "{}", error.message);
        }
    }
}
