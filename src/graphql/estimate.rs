//! How many upstream calls an operation will make at the least when nothing is
//! cached, from what its arguments tell before it runs: each distinct id its root
//! lookups name (`node`, `nodes`, `client`, …, and `_entities`' representations;
//! Pixieset has no lookup of many ids at once, so each id is a call), and one call
//! for every other root field that reads an upstream. What only the answers tell
//! (how many clients a page holds, and so how many invoice lists follow) is counted
//! while the operation runs, against the same budget.

use std::collections::HashSet;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Value, Variables};

/// Root fields that look up one object by the argument named.
const LOOKUPS: &[(&str, &str)] = &[
    ("node", "id"),
    ("client", "id"),
    ("invoice", "id"),
    ("contract", "id"),
    ("contractTemplate", "id"),
    ("pixelzTemplate", "id"),
    ("pixelzImage", "by"),
];
/// Root fields that look up each object of a list argument.
const LIST_LOOKUPS: &[(&str, &str)] = &[("nodes", "ids"), ("_entities", "representations")];
/// Root fields answered by the gateway itself.
const LOCAL: &[&str] = &["__typename", "__schema", "__type", "_service"];

struct Estimate<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Each object named, by its id (global ids name their kind): the same id asked
    /// twice, by any lookup, is one call.
    named: HashSet<String>,
    /// Fragments already counted at the root: a field spread twice merges into one.
    spread: HashSet<&'a str>,
    others: u64,
    service: bool,
}

/// What the selected operation asks at its root, before it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// The least number of upstream calls it makes cold.
    pub upstream_calls: u64,
    /// `_service { sdl }`: the schema, which follows the introspection switch.
    pub service: bool,
}

impl<'a> Estimate<'a> {
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        let value = field.get_argument(name)?.node.clone();
        value.into_const_with(|variable: Name| self.variables.get(&variable).cloned().ok_or(())).ok()
    }

    fn name(&mut self, value: &Value) {
        let id = match value {
            Value::Object(representation) => representation.get("id").unwrap_or(value),
            value => value,
        };
        self.named.insert(id.to_string());
    }

    fn root(&mut self, selections: &'a SelectionSet) {
        for selection in &selections.items {
            match &selection.node {
                Selection::Field(field) => self.field(&field.node),
                Selection::InlineFragment(fragment) => self.root(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = self.document.fragments.get(name)
                        && self.spread.insert(name)
                    {
                        self.root(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }

    fn field(&mut self, field: &Field) {
        let name = field.name.node.as_str();
        self.service |= name == "_service";
        if LOCAL.contains(&name) {
            return;
        }
        if let Some((_, argument)) = LOOKUPS.iter().find(|(lookup, _)| *lookup == name) {
            match self.argument(field, argument) {
                Some(value) => self.name(&value),
                None => self.others += 1,
            }
            return;
        }
        if let Some((_, argument)) = LIST_LOOKUPS.iter().find(|(lookup, _)| *lookup == name) {
            match self.argument(field, argument) {
                Some(Value::List(values)) => values.iter().for_each(|value| self.name(value)),
                Some(value) => self.name(&value),
                None => self.others += 1,
            }
            return;
        }
        self.others += 1;
    }
}

/// What the selected operation asks; nothing when the request names no operation of
/// the document (it is refused for that).
pub fn asked(document: &ExecutableDocument, operation_name: Option<&str>, variables: &Variables) -> Asked {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return Asked::default(),
        },
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => match operations.values().next() {
            Some(operation) => operation,
            None => return Asked::default(),
        },
        (DocumentOperations::Multiple(_), None) => return Asked::default(),
    };
    let mut estimate =
        Estimate { document, variables, named: HashSet::new(), spread: HashSet::new(), others: 0, service: false };
    estimate.root(&operation.node.selection_set.node);
    let named = u64::try_from(estimate.named.len()).unwrap_or(u64::MAX);
    Asked { upstream_calls: estimate.others.saturating_add(named), service: estimate.service }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimated(query: &str, variables: serde_json::Value) -> u64 {
        let document = async_graphql::parser::parse_query(query).unwrap();
        asked(&document, None, &Variables::from_json(variables)).upstream_calls
    }

    #[test]
    fn distinct_ids_count_once_wherever_they_are_named() {
        let aliased = (0..20)
            .map(|alias| {
                let ids = (0..100).map(|id| format!("\"cl_{alias}_{id}\"")).collect::<Vec<_>>().join(",");
                format!("a{alias}: nodes(ids: [{ids}]) {{ id }}")
            })
            .collect::<String>();
        assert_eq!(estimated(&format!("{{ {aliased} }}"), serde_json::json!({})), 2000);
        let repeated = "{ a: client(id: \"cl_1\") { id } b: client(id: \"cl_1\") { email } nodes(ids: [\"cl_2\", \"cl_1\"]) { id } }";
        assert_eq!(estimated(repeated, serde_json::json!({})), 2);
        let entities = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }";
        let representations: Vec<_> =
            (0..3500).map(|i| serde_json::json!({ "__typename": "Client", "id": format!("cl_{i}") })).collect();
        assert_eq!(estimated(entities, serde_json::json!({ "r": representations })), 3500);
    }

    #[test]
    fn other_root_fields_cost_one_and_local_ones_nothing() {
        let query = "{ __typename clients { totalCount } ...F ...F } fragment F on Query { pixelzAccount { email } }";
        assert_eq!(estimated(query, serde_json::json!({})), 2);
    }
}
