//! The check behind ARCHITECTURE.md's "Dependencies point one way": every `crate::…` path
//! in `src/` names a module in the same layer or a lower one. Upward imports that were there
//! when the check was written are listed in [`KNOWN`] and must shrink: a new upward import
//! fails, and so does a listed one that is gone (take it off the list).
//!
//! The same check holds inside `src/history` ([`HISTORY_LAYERS`]), where the store and its
//! engines once imported each other in a loop (issue 23).

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules from the top layer down; a module may use its own layer and those
/// after it. `cli` dispatches to the worker and `serve` (`runpod`), which mount the
/// dashboard (`web`); `detect` is the pipeline; `events` is spoken by the runner;
/// `errors`, `http` and `secrets` depend on nothing of ours.
const LAYERS: &[&[&str]] = &[
    &["main", "lib"],
    &["cli"],
    &["runpod"],
    &["web"],
    &["detect"],
    &["report", "quarantine"],
    &["history"],
    &["summary"],
    &["analysis"],
    &["runner", "events"],
    &["framework"],
    &["process"],
    &["config", "workspace"],
    &["wire"],
    &["job"],
    &["errors", "http", "secrets", "layering"],
];

/// `(file, module it names)` pairs known to point upward, to be removed by issue 13's
/// remaining moves; none are left.
const KNOWN: &[(&str, &str)] = &[];

/// The files of `src/history` (by name, without `.rs`) from the top down, under the same
/// rule as [`LAYERS`]. `Store` is an enum over three engines (a SQLite file, a shared folder
/// of them, PostgreSQL) with the pending folder beside it, so the engines, the folder and
/// the pending folder sit below it and never name it; what reads and writes jobs through a
/// `Store` sits above it; the statements over one job's rows (`jobs`) sit below the folder,
/// which copies jobs with them.
const HISTORY_LAYERS: &[&[&str]] = &[
    &["mod"],
    &["record", "detail", "queries", "status"],
    &["store"],
    &["folder", "pending"],
    &["sqlite", "read_only", "postgres"],
    &["jobs"],
    &["error", "sql", "columns", "migrations", "filter", "pg_tls"],
];

/// How one tree's files name each other: its layers, and the path prefixes after which a
/// module of the tree is named.
struct Tree<'a> {
    layers: &'a [&'a [&'a str]],
    prefixes: &'a [&'a str],
}

/// The whole crate: `crate::name`.
const CRATE: Tree<'static> = Tree {
    layers: LAYERS,
    prefixes: &["crate::"],
};

/// `src/history`, whose files name each other as `super::name`, or by the full path
/// (`history::name` covers `crate::history::name` without this file naming the crate's
/// `history` module, which the crate-wide check would take for an upward import).
const HISTORY: Tree<'static> = Tree {
    layers: HISTORY_LAYERS,
    prefixes: &["super::", "history::"],
};

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
}

/// Every `(file, upper module)` under `root` (shown as `shown`) where a file names a module
/// above its own in `tree`; a file's module is its first path component under `root`.
fn upward_imports(root: &Path, shown: &str, tree: &Tree) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let file = format!("{shown}/{}", relative.display());
            let top = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .map(|name| name.trim_end_matches(".rs").to_string())
                .unwrap_or_default();
            let Some(own) = layer_of(tree.layers, &top) else {
                found.insert((file, "<unlisted>".into()));
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for prefix in tree.prefixes {
                    for (at, _) in code.match_indices(prefix) {
                        let name: String = code[at + prefix.len()..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if layer_of(tree.layers, &name).is_some_and(|theirs| theirs < own) {
                            found.insert((file.clone(), name));
                        }
                    }
                }
            }
        }
    }
    found
}

#[test]
fn dependencies_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = upward_imports(&src, "src", &CRATE);
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(file, module)| (file.to_string(), module.to_string()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "upward imports (a module naming a layer above it; see ARCHITECTURE.md): {new:?}"
    );
    assert!(
        gone.is_empty(),
        "these upward imports are gone: take them off KNOWN in src/layering.rs: {gone:?}"
    );
}

/// Issue 23: no file of `src/history` names one above it in [`HISTORY_LAYERS`], so the
/// store, its engines and the pending folder cannot import each other in a loop again.
#[test]
fn history_dependencies_point_one_way() {
    let history = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/history");
    let found = upward_imports(&history, "src/history", &HISTORY);
    assert!(
        found.is_empty(),
        "upward imports in src/history (a file naming one above it; see HISTORY_LAYERS in \
         src/layering.rs): {found:?}"
    );
}
