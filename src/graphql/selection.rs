//! What a query selects on an object. A copy the gateway holds (a summary a list
//! or a contract embeds) answers an object only when it holds every field the
//! query selects there; otherwise the full record answers all of them, so one
//! answer never mixes two copies that may disagree.

use async_graphql::SelectionField;

/// Fields every copy answers: the id it was found by, and the type's name.
const ALWAYS_HELD: &[&str] = &["id", "__typename"];

/// Whether every field selected on `field` is one `held` answers. Fragments count
/// whatever their conditions: a copy is used only when it surely suffices.
pub fn asks_only(field: SelectionField<'_>, held: impl Fn(&str) -> bool) -> bool {
    field.selection_set().all(|f| ALWAYS_HELD.contains(&f.name()) || held(f.name()))
}

/// The selections on a connection's items: `edges { node }` and `nodes`.
pub fn node_selections<'a>(connection: &SelectionField<'a>) -> Vec<SelectionField<'a>> {
    let mut nodes = Vec::new();
    for field in connection.selection_set() {
        match field.name() {
            "nodes" => nodes.push(field),
            "edges" => nodes.extend(field.selection_set().filter(|e| e.name() == "node")),
            _ => {}
        }
    }
    nodes
}
