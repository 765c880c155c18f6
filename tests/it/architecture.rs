//! docs/ARCHITECTURE.md is the map of the code: every path it names must be there, or a
//! newcomer is sent to a room that was moved or never built.

use std::path::Path;

/// The backquoted names that are paths: with a `/` or a file's extension, without placeholders,
/// routes (`/graphql`) or globs.
fn paths_named(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty() && !name.starts_with('/') && !name.contains(['{', '*', '<', ' ', '(', ':']))
        .filter(|name| name.chars().all(|c| c.is_alphanumeric() || "_./-".contains(c)))
        .filter(|name| {
            name.contains('/') || [".rs", ".md", ".yaml", ".toml", ".json"].iter().any(|ext| name.ends_with(ext))
        })
        .collect()
}

#[test]
fn every_path_the_architecture_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let named = paths_named(&text);
    assert!(named.len() > 50, "the page names its rooms: {named:?}");
    // Source paths are written from `src/`, the rest from the repository's root.
    // A path out of the repository (`../`) is not the repository's: the page stands on its own.
    let missing: Vec<&str> = named
        .into_iter()
        .filter(|path| path.starts_with("..") || !root.join("src").join(path).exists() && !root.join(path).exists())
        .collect();
    assert!(missing.is_empty(), "docs/ARCHITECTURE.md names paths that are not there: {missing:?}");
}
