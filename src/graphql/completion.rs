//! Values completed as the GraphQL spec completes them, where async-graphql 7.2
//! assembles its objects differently and clients can tell:
//!
//! - A failed field is `null` in `data`, and the null climbs to the nearest
//!   position that may hold it ("Handling Field Errors", "Errors and
//!   Non-Nullability"). async-graphql's `do_resolve_container` records a failed
//!   field's error and leaves the field out of its object, and a failed non-null
//!   field never makes its parent null. Apollo Client then warns "Missing field"
//!   and never serves the query from its cache, and typed clients read
//!   `undefined` where the schema promised a value.
//! - An object's entries come in the order its selection set asks for them
//!   ("Serialized Map Ordering"). async-graphql inserts them as its concurrent
//!   resolvers finish, so the same question could be answered in another order.
//!
//! - `__schema { description }` is null, as `schema.graphql` has no description.
//!   async-graphql answers a fixed sentence about GraphQL schemas in general
//!   (its `model/schema.rs`), so a client printing the introspected schema shows
//!   a description pixgate never wrote.
//!
//! The crate has no switch for any of these, so both are corrected at the narrowest
//! place that sees every position: the resolve hook, which async-graphql calls for
//! every field and every list item of a schema with extensions. The hook knows the
//! position's declared type and runs around everything beneath it, so when it
//! returns, every failure below has already been carried up to it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, PathSegment, QueryPathNode, QueryPathSegment, Response, ServerError, ServerResult, Value,
    Variables,
};

use crate::lock::locked;

pub struct Completion;

impl ExtensionFactory for Completion {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Completing::default())
    }
}

/// One per operation (for a subscription, one per event at a time: events are
/// resolved one after another and each `execute` drains what it left).
#[derive(Default)]
struct Completing {
    /// Positions that must answer null because a non-null field inside them failed.
    doomed: Mutex<HashSet<Vec<String>>>,
    /// How many are in `doomed`: the common case, none, costs no lock and no path.
    doomed_count: AtomicUsize,
    /// The root itself is doomed: a non-null root field failed.
    root_doomed: AtomicBool,
    /// Errors of nullable positions: they answer null, so async-graphql never sees the error.
    reported: Mutex<Vec<ServerError>>,
    /// The declared type of each list field being resolved. A list item's own
    /// `return_type` cannot be trusted: async-graphql 7.2 names the items of
    /// `Vec<Option<T>>` `T!`, because `OutputType for &T` does not forward
    /// `qualified_type_name`. The field's type comes from the registry, and is right.
    lists: Mutex<HashMap<Vec<String>, String>>,
    /// The document, for its fragments and the root's selection order.
    document: OnceLock<ExecutableDocument>,
}

/// Marks the `Err` a non-null position returns only to carry a null its error
/// already reported: async-graphql records every `Err` it receives as an error,
/// and these are taken out again before the response leaves.
const CARRIED: &str = "pixgateCarriedNull";

fn carried() -> ServerError {
    let mut error = ServerError::new("null carried to the parent", None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set(CARRIED, true);
    error.extensions = Some(extensions);
    error
}

fn is_carried(error: &ServerError) -> bool {
    error.extensions.as_ref().is_some_and(|extensions| extensions.get(CARRIED).is_some())
}

/// `return_type` is a qualified type name: `Client`, `Invoice!`, `[Invoice!]!`.
fn is_nullable(return_type: &str) -> bool {
    !return_type.ends_with('!')
}

impl Completing {
    fn doom(&self, position: Option<&QueryPathNode<'_>>) {
        let Some(position) = position else {
            self.root_doomed.store(true, Ordering::Release);
            return;
        };
        let mut doomed = locked(&self.doomed);
        if doomed.insert(position.to_string_vec()) {
            self.doomed_count.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn take_doomed(&self, position: &QueryPathNode<'_>) -> bool {
        if self.doomed_count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut doomed = locked(&self.doomed);
        let taken = doomed.remove(&position.to_string_vec());
        if taken {
            self.doomed_count.fetch_sub(1, Ordering::AcqRel);
        }
        taken
    }

    /// Whether the item at `position` may be null, from its list field's declared type.
    fn item_is_nullable(&self, position: &QueryPathNode<'_>) -> bool {
        let mut depth = 0;
        let mut field = Some(position);
        while let Some(QueryPathNode { segment: QueryPathSegment::Index(_), parent }) = field {
            depth += 1;
            field = *parent;
        }
        let Some(field) = field else { return false };
        let lists = locked(&self.lists);
        let Some(declared) = lists.get(&field.to_string_vec()) else { return false };
        let mut item = declared.as_str();
        for _ in 0..depth {
            item = item.trim_end_matches('!').strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(item);
        }
        is_nullable(item)
    }

    fn report(&self, error: ServerError) {
        locked(&self.reported).push(error);
    }

    /// The errors of one response, in path order so that the same question gets the
    /// same answer whichever field happened to finish first.
    fn finish(&self, response: &mut Response) {
        response.errors.retain(|error| !is_carried(error));
        response.errors.append(&mut locked(&self.reported));
        response.errors.sort_by(|a, b| compare_paths(&a.path, &b.path));
        if self.root_doomed.swap(false, Ordering::AcqRel) {
            response.data = Value::Null;
        }
        locked(&self.doomed).clear();
        self.doomed_count.store(0, Ordering::Release);
    }
}

/// Fragments spread within fragments past this depth add nothing: validation refuses cycles.
const MAX_SPREAD_DEPTH: usize = 16;

/// Calls `key` with each response key `selections` asks for, in order, fragments spread in place.
/// Type conditions are not weighed: a key an object does not have is simply not in it.
fn each_key<'a>(
    selections: &'a SelectionSet,
    document: Option<&'a ExecutableDocument>,
    depth: usize,
    key: &mut impl FnMut(&'a str),
) {
    for selection in &selections.items {
        match &selection.node {
            Selection::Field(field) => key(field.node.response_key().node.as_str()),
            Selection::InlineFragment(fragment) => each_key(&fragment.node.selection_set.node, document, depth, key),
            Selection::FragmentSpread(spread) if depth < MAX_SPREAD_DEPTH => {
                if let Some(fragment) = document.and_then(|d| d.fragments.get(&spread.node.fragment_name.node)) {
                    each_key(&fragment.node.selection_set.node, document, depth + 1, key);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Puts an object's entries in the order its selection set asks for them.
fn in_selection_order(value: &mut Value, selections: &SelectionSet, document: Option<&ExecutableDocument>) {
    let Value::Object(object) = value else { return };
    if object.len() < 2 {
        return;
    }
    // Most objects come in order already: find out without allocating.
    let (mut last, mut in_order) = (0, true);
    each_key(selections, document, 0, &mut |key| {
        if let Some(index) = object.get_index_of(key) {
            in_order &= index >= last;
            last = last.max(index);
        }
    });
    if in_order {
        return;
    }
    let mut rank = vec![usize::MAX; object.len()];
    let mut next = 0;
    each_key(selections, document, 0, &mut |key| {
        if let Some(index) = object.get_index_of(key)
            && rank[index] == usize::MAX
        {
            rank[index] = next;
            next += 1;
        }
    });
    let mut entries: Vec<_> = std::mem::take(object).into_iter().zip(rank).collect();
    entries.sort_by_key(|(_, rank)| *rank);
    object.extend(entries.into_iter().map(|(entry, _)| entry));
}

/// Paths compare segment by segment: names by text, indexes by number.
fn compare_paths(a: &[PathSegment], b: &[PathSegment]) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (PathSegment::Field(x), PathSegment::Field(y)) => x.cmp(y),
            (PathSegment::Index(x), PathSegment::Index(y)) => x.cmp(y),
            (PathSegment::Field(_), PathSegment::Index(_)) => Less,
            (PathSegment::Index(_), PathSegment::Field(_)) => Greater,
        };
        if order != Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[async_trait::async_trait]
impl Extension for Completing {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let _ = self.document.set(document.clone());
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        self.finish(&mut response);
        let document = self.document.get();
        let operation = document.and_then(|document| match &document.operations {
            DocumentOperations::Single(operation) => Some(operation),
            DocumentOperations::Multiple(operations) => match operation_name {
                Some(name) => operations.get(name),
                None if operations.len() == 1 => operations.values().next(),
                None => None,
            },
        });
        if let Some(operation) = operation {
            in_selection_order(&mut response.data, &operation.node.selection_set.node, document);
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection && info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(Value::Null));
        }
        let (position, selections) = (info.path_node, &info.field.selection_set.node);
        let is_item = matches!(position.segment, QueryPathSegment::Index(_));
        let is_list = !is_item && info.return_type.starts_with('[');
        let field_is_nullable = !is_item && is_nullable(info.return_type);
        if is_list {
            let mut lists = locked(&self.lists);
            lists.insert(position.to_string_vec(), info.return_type.to_string());
        }
        let outcome = next.run(ctx, info).await;
        let doomed = self.take_doomed(position);
        let nullable =
            field_is_nullable || (is_item && (doomed || outcome.is_err()) && self.item_is_nullable(position));
        if is_list {
            locked(&self.lists).remove(&position.to_string_vec());
        }
        let error = match outcome {
            Ok(Some(mut value)) if !doomed => {
                in_selection_order(&mut value, selections, self.document.get());
                return Ok(Some(value));
            }
            Ok(value) if !doomed => return Ok(value),
            Ok(_) => None,
            Err(error) => (!is_carried(&error)).then_some(error),
        };
        if nullable {
            if let Some(error) = error {
                self.report(error);
            }
            return Ok(Some(Value::Null));
        }
        // A non-null position cannot hold the null. A list item's `Err` fails its
        // list on its own; a field's only drops it from its object, so the object
        // (the field's parent position) is told to answer null itself.
        if !is_item {
            self.doom(position.parent);
        }
        Err(error.unwrap_or_else(carried))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use serde_json::json;

    struct Query;

    #[Object]
    impl Query {
        async fn item(&self) -> Option<Item> {
            Some(Item)
        }
        async fn required(&self) -> Item {
            Item
        }
        async fn items(&self) -> Vec<Item> {
            vec![Item, Item]
        }
        async fn maybe_items(&self) -> Option<Vec<Option<Item>>> {
            Some(vec![Some(Item), Some(Item)])
        }
        async fn fails(&self) -> async_graphql::Result<Option<i32>> {
            Err("root failure".into())
        }
        async fn ok(&self) -> i32 {
            1
        }
        /// Finishes after its siblings, as an upstream call would.
        async fn slow(&self) -> i32 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            2
        }
    }

    struct Item;

    #[Object]
    impl Item {
        async fn ok(&self) -> i32 {
            1
        }
        async fn nullable_fails(&self) -> async_graphql::Result<Option<i32>> {
            Err("nullable failure".into())
        }
        async fn required_fails(&self) -> async_graphql::Result<i32> {
            Err("required failure".into())
        }
        async fn child(&self) -> Item {
            Item
        }
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).extension(Completion).finish();
        let response = schema.execute(query).await;
        let mut answer = serde_json::to_value(&response).unwrap();
        // Only what the propagation decides: data, and each error's path.
        let paths: Vec<_> = response.errors.iter().map(|e| serde_json::to_value(&e.path).unwrap()).collect();
        answer["errors"] = json!(paths);
        answer
    }

    #[tokio::test]
    async fn objects_keep_the_order_their_selection_asks_for() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).extension(Completion).finish();
        let query = "{ slow b: item { child { ok } ok ...F } a: fails } fragment F on Item { nullableFails }";
        // Written straight from the response: a `serde_json::Value` would sort the keys.
        let printed = serde_json::to_string(&schema.execute(query).await.data).unwrap();
        assert_eq!(printed, r#"{"slow":2,"b":{"child":{"ok":1},"ok":1,"nullableFails":null},"a":null}"#);
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null_in_place() {
        let answer = run("{ ok a: fails b: item { ok nullableFails } }").await;
        assert_eq!(answer["data"], json!({ "ok": 1, "a": null, "b": { "ok": 1, "nullableFails": null } }));
        assert_eq!(answer["errors"], json!([["a"], ["b", "nullableFails"]]));
    }

    #[tokio::test]
    async fn a_failed_non_null_field_makes_its_nearest_nullable_ancestor_null() {
        let answer = run("{ ok item { ok child { child { requiredFails } } } }").await;
        assert_eq!(answer["data"], json!({ "ok": 1, "item": null }));
        assert_eq!(answer["errors"], json!([["item", "child", "child", "requiredFails"]]));
    }

    #[tokio::test]
    async fn through_non_null_list_items_to_a_nullable_list_or_item() {
        let answer = run("{ items { ok } maybeItems { ok requiredFails } }").await;
        assert_eq!(answer["data"], json!({ "items": [{ "ok": 1 }, { "ok": 1 }], "maybeItems": [null, null] }));
        assert_eq!(answer["errors"], json!([["maybeItems", 0, "requiredFails"], ["maybeItems", 1, "requiredFails"]]));
    }

    #[tokio::test]
    async fn up_to_the_root_when_nothing_on_the_way_is_nullable() {
        let answer = run("{ ok items { child { requiredFails } } }").await;
        assert_eq!(answer["data"], json!(null), "execution ran: data is there, and null");
        assert_eq!(answer["errors"].as_array().unwrap()[0].as_array().unwrap()[..2], [json!("items"), json!(0)]);
        let answer = run("{ ok required { requiredFails } }").await;
        assert_eq!(answer["data"], json!(null));
        assert_eq!(answer["errors"], json!([["required", "requiredFails"]]), "one error, none for the carried nulls");
    }

    #[test]
    fn nullability_is_read_from_the_qualified_type_name() {
        assert!(is_nullable("Client"));
        assert!(is_nullable("[Invoice!]"));
        assert!(!is_nullable("Invoice!"));
        assert!(!is_nullable("[Invoice]!"));
    }

    #[test]
    fn errors_sort_by_path_with_indexes_in_number_order() {
        let path = |segments: &[&str]| -> Vec<PathSegment> {
            segments
                .iter()
                .map(|s| s.parse().map_or_else(|_| PathSegment::Field(s.to_string()), PathSegment::Index))
                .collect()
        };
        let mut paths = vec![path(&["b"]), path(&["a", "10"]), path(&["a", "9"]), path(&[])];
        paths.sort_by(|a, b| compare_paths(a, b));
        assert_eq!(paths, vec![path(&[]), path(&["a", "9"]), path(&["a", "10"]), path(&["b"])]);
    }
}
