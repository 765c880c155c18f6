//! What a document asks, found in one pass linear in its size: each fragment
//! definition is visited once and what it holds is kept by its name, the way
//! graphql-js's validation and graphql-armor's counters do it, so a fragment spread
//! a million times costs one look. The limits read these facts; the passes that
//! follow (async-graphql's validation, which spreads fragments out as it walks) are
//! admitted only once the spread-out size is known to be within a budget.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

/// Selection sets within selection sets, each field with a selection, each inline
/// fragment and each spread counting a level: async-graphql's own recursion limit,
/// which pixgate's parse replaces. Past it the analysis stops rather than recurse.
pub const MAX_NESTING: usize = 32;

/// What one selection set holds, fragments spread out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Selections a pass that spreads every fragment in place would visit.
    pub expanded: u64,
    /// The deepest chain of levels below it.
    pub nesting: usize,
    /// Fields it selects at its own level, through fragments and inline fragments.
    pub fields: usize,
    /// `__schema` or `__type` among those fields.
    pub introspection: bool,
}

impl Facts {
    /// Adds what a fragment (inline or spread) holds at this level.
    fn spread(&mut self, inner: Facts) {
        self.expanded = self.expanded.saturating_add(inner.expanded);
        self.nesting = self.nesting.max(inner.nesting + 1);
        self.fields = self.fields.saturating_add(inner.fields);
        self.introspection |= inner.introspection;
    }
}

/// Why a document cannot be analysed, and so cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsound {
    /// A fragment spread within itself, directly or through others.
    Cycle(String),
    /// Nested past [`MAX_NESTING`].
    TooDeep,
}

/// The facts of each operation of a document, in the document's order.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub operations: Vec<(OperationType, Facts)>,
    /// Every fragment definition's own spread-out size: validation walks each definition
    /// too, used or not, comparing its fields with those of the fragments it spreads.
    pub fragments_expanded: u64,
    /// Selections the analysis itself visited: each one in the document at most once.
    pub visits: usize,
}

impl Analysis {
    /// Selections every operation and every fragment definition of the document holds
    /// when spread out: a bound on what validation's passes walk.
    pub fn expanded(&self) -> u64 {
        let operations = self.operations.iter().fold(0u64, |sum, (_, facts)| sum.saturating_add(facts.expanded));
        operations.saturating_add(self.fragments_expanded)
    }
}

enum Memo {
    /// Being analysed: a spread of it now is a cycle.
    Open,
    Done(Facts),
}

struct Analyser<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a str, Memo>,
    visits: usize,
}

impl<'a> Analyser<'a> {
    fn selection_set(&mut self, selections: &'a SelectionSet, level: usize) -> Result<Facts, Unsound> {
        if level > MAX_NESTING {
            return Err(Unsound::TooDeep);
        }
        let mut facts = Facts::default();
        for selection in &selections.items {
            self.visits += 1;
            facts.expanded = facts.expanded.saturating_add(1);
            match &selection.node {
                Selection::Field(field) => {
                    facts.fields = facts.fields.saturating_add(1);
                    facts.introspection |= matches!(field.node.name.node.as_str(), "__schema" | "__type");
                    let inner = &field.node.selection_set.node;
                    if !inner.items.is_empty() {
                        let inner = self.selection_set(inner, level + 1)?;
                        facts.expanded = facts.expanded.saturating_add(inner.expanded);
                        facts.nesting = facts.nesting.max(inner.nesting + 1);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    facts.spread(self.selection_set(&fragment.node.selection_set.node, level + 1)?);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(inner) = self.fragment(spread.node.fragment_name.node.as_str(), level + 1)? {
                        if level + 1 + inner.nesting > MAX_NESTING {
                            return Err(Unsound::TooDeep);
                        }
                        facts.spread(inner);
                    }
                }
            }
        }
        Ok(facts)
    }

    /// A fragment's facts, from what was kept when it was seen before. None for a
    /// fragment the document does not define: validation names it.
    fn fragment(&mut self, name: &'a str, level: usize) -> Result<Option<Facts>, Unsound> {
        match self.fragments.get(name) {
            Some(Memo::Done(facts)) => return Ok(Some(*facts)),
            Some(Memo::Open) => return Err(Unsound::Cycle(name.to_string())),
            None => {}
        }
        let Some((name, definition)) = self.document.fragments.get_key_value(name) else { return Ok(None) };
        let name = name.as_str();
        self.fragments.insert(name, Memo::Open);
        let facts = self.selection_set(&definition.node.selection_set.node, level)?;
        self.fragments.insert(name, Memo::Done(facts));
        Ok(Some(facts))
    }
}

/// Analyses every operation of `document`, and every fragment definition, used or not.
pub fn analyse(document: &ExecutableDocument) -> Result<Analysis, Unsound> {
    let mut analyser = Analyser { document, fragments: HashMap::new(), visits: 0 };
    let mut operations = Vec::new();
    for (_, operation) in document.operations.iter() {
        let facts = analyser.selection_set(&operation.node.selection_set.node, 0)?;
        operations.push((operation.node.ty, facts));
    }
    let mut fragments_expanded = 0u64;
    for name in document.fragments.keys() {
        let facts = analyser.fragment(name.as_str(), 0)?.unwrap_or_default();
        fragments_expanded = fragments_expanded.saturating_add(facts.expanded);
    }
    Ok(Analysis { operations, fragments_expanded, visits: analyser.visits })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(query: &str) -> Result<Analysis, Unsound> {
        analyse(&async_graphql::parser::parse_query(query).unwrap())
    }

    /// `depth` fragments, each spreading the next `width` times: width^depth spreads.
    fn fan_out(depth: usize, width: usize, on: &str, root: &str) -> String {
        let mut query = root.replace("SPREAD", "...F0");
        for level in 0..depth {
            let spreads = format!("...F{} ", level + 1).repeat(width);
            query.push_str(&format!(" fragment F{level} on {on} {{ {spreads}}}"));
        }
        query.push_str(&format!(" fragment F{depth} on {on} {{ __typename }}"));
        query
    }

    #[test]
    fn a_fan_out_is_counted_without_being_walked() {
        let query = fan_out(30, 2, "Query", "{ SPREAD }");
        assert!(query.len() < 1400, "the 1.3 KB document: {} bytes", query.len());
        let analysis = analysed(&query).unwrap();
        let facts = analysis.operations[0].1;
        // 2 + 4 + … + 2^30 spreads, 2^30 fields, the operation's own spread.
        assert_eq!(facts.expanded, (1u64 << 31) - 2 + (1 << 30) + 1);
        assert!(analysis.expanded() > facts.expanded, "the definitions count too");
        assert_eq!(facts.fields, 1 << 30);
        assert_eq!(facts.nesting, 31);
        assert_eq!(analysis.visits, 1 + 30 * 2 + 1, "each selection of the document once");
    }

    /// Validation compares each selection set's fields with those of the fragments it
    /// spreads, definitions included: ten thousand unused fragments spreading one wide
    /// fragment are a quadratic walk for it, and a large size here.
    #[test]
    fn unused_fragments_count_what_they_spread() {
        let wide: String = (0..1000).map(|n| format!("f{n} ")).collect();
        let unused: String = (0..1000).map(|n| format!(" fragment U{n} on Q {{ ...W }}")).collect();
        let analysis = analysed(&format!("{{ a }} fragment W on Q {{ {wide}}}{unused}")).unwrap();
        assert!(analysis.expanded() > 1_000_000, "{}", analysis.expanded());
        assert!(analysis.visits < 3000);
    }

    #[test]
    fn fields_nesting_and_introspection_are_seen_through_fragments() {
        let analysis =
            analysed("{ a ...F ... on Query { c } } fragment F on Query { b { x { y } } __schema { z } }").unwrap();
        let facts = analysis.operations[0].1;
        assert_eq!((facts.fields, facts.nesting, facts.introspection), (4, 3, true));
        assert!(!analysed("{ a { __schema } }").unwrap().operations[0].1.introspection, "only at the root");
    }

    #[test]
    fn cycles_and_depth_are_refused_without_recursing_forever() {
        assert_eq!(
            analysed("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }").unwrap_err(),
            Unsound::Cycle("A".into())
        );
        assert_eq!(analysed("{ a } fragment A on Q { ...A }").unwrap_err(), Unsound::Cycle("A".into()), "unused too");
        // A chain of a thousand fragments, each spread once: shallow braces, deep spreads.
        let chain = fan_out(1000, 1, "Q", "{ SPREAD }");
        assert_eq!(analysed(&chain).unwrap_err(), Unsound::TooDeep);
        // A fragment first seen shallow and spread again deep is too deep too.
        let deep = format!("{{ ...F0 a {{ a {{ ...F0 }} }} }}{}", fan_out(30, 1, "Q", ""));
        assert_eq!(analysed(&deep).unwrap_err(), Unsound::TooDeep);
    }

    /// A small deterministic generator, so a failure names its seed.
    struct Seeded(u64);

    impl Seeded {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A document of fragments spreading later ones, with aliases, repeated fields,
    /// directives, inline fragments and nested selections.
    fn generated(seed: u64) -> String {
        let mut random = Seeded(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let fragments = 2 + random.below(40);
        let mut query = String::from("query Q { ...F0 a: __typename }");
        for index in 0..fragments {
            let mut body = String::new();
            for _ in 0..1 + random.below(6) {
                match random.below(6) {
                    0 | 1 | 5 if index + 1 < fragments => {
                        let target = index + 1 + random.below(fragments - index - 1);
                        body.push_str(&format!("...F{target} ").repeat(1 + random.below(4)));
                    }
                    2 => body.push_str("x: __typename @include(if: true) "),
                    3 => body.push_str("... on Query { __typename b: __typename } "),
                    4 => body.push_str("client(id: \"cl_1\") { id id email } "),
                    _ => body.push_str("__typename "),
                }
            }
            query.push_str(&format!(" fragment F{index} on Query {{ {body}}}"));
        }
        query
    }

    #[test]
    fn the_analysis_visits_a_constant_times_the_document_whatever_it_spreads_to() {
        let mut widest = 0u64;
        for seed in 0..500 {
            let query = generated(seed);
            let Ok(analysis) = analysed(&query) else { continue };
            assert!(
                analysis.visits <= query.len() / 4,
                "seed {seed}: {} visits for {} bytes",
                analysis.visits,
                query.len()
            );
            widest = widest.max(analysis.expanded());
        }
        assert!(widest > 1 << 20, "the generator reaches large fan-outs: {widest}");
    }
}
