//! The check behind ARCHITECTURE.md's "Dependencies point one way": every `crate::…` path
//! in `src/` names a module in the same layer or a lower one. Upward imports that were there
//! when the check was written are listed in [`KNOWN`] and must shrink: a new upward import
//! fails, and so does a listed one that is gone (take it off the list).

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
    &["job"],
    &["errors", "http", "secrets", "layering"],
];

/// `(file, module it names)` pairs known to point upward, to be removed by issue 13's
/// remaining moves; none are left.
const KNOWN: &[(&str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `(file, upper module)` in `src/` where a file names a module above its own.
fn upward_imports(src: &Path) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut stack = vec![src.to_path_buf()];
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
            let relative = path.strip_prefix(src).unwrap_or(&path);
            let top = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .map(|name| name.trim_end_matches(".rs").to_string())
                .unwrap_or_default();
            let Some(own) = layer_of(&top) else {
                found.insert((format!("src/{}", relative.display()), "<unlisted>".into()));
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for (at, _) in code.match_indices("crate::") {
                    let name: String = code[at + 7..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if layer_of(&name).is_some_and(|theirs| theirs < own) {
                        found.insert((format!("src/{}", relative.display()), name));
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
    let found = upward_imports(&src);
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
