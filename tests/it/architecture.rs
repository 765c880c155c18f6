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

/// The simulator is a crate of its own: production code names it only where `serve` starts
/// it and where `pixgate sandbox` runs it, so a build without it (`--no-default-features`)
/// is the gateway alone. Tests and benchmarks use it as a dev-dependency.
#[test]
fn production_code_names_the_sandbox_only_where_it_starts_it() {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                if code.contains("pixgate_sandbox") {
                    found.push(path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    found.sort();
    assert_eq!(found, ["src/cli.rs", "src/main.rs", "src/startup/mod.rs", "src/startup/sandbox.rs"]);
}
