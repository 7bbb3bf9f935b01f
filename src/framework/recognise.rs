//! How a checkout's [`Framework`] is recognised: from its files, then from the test command.
//! The enum itself is job input vocabulary and lives in [`crate::job`].

use std::path::Path;

use super::adapter::ADAPTERS;
use crate::job::Framework;

impl Framework {
    /// Looks at the checkout first (the seed project's order: Go, Node, Python; Rust added),
    /// then at the command, so `pytest` in a folder with no Python packaging file is still
    /// Python.
    pub fn recognise(checkout: &Path, argv: &[String]) -> Framework {
        from_files(checkout).unwrap_or_else(|| from_command(argv))
    }
}

/// The first adapter, in [`ADAPTERS`]' order, whose files the checkout has.
fn from_files(dir: &Path) -> Option<Framework> {
    ADAPTERS
        .iter()
        .find_map(|adapter| adapter.recognise_files(dir))
}

/// The adapter that recognises the command's first word, else one that recognises a word
/// among the first four.
fn from_command(argv: &[String]) -> Framework {
    let words: Vec<&str> = argv
        .iter()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .collect();
    ADAPTERS
        .iter()
        .find_map(|adapter| adapter.recognise_first_word(&words))
        .or_else(|| {
            ADAPTERS
                .iter()
                .find_map(|adapter| adapter.recognise_any_word(&words))
        })
        .unwrap_or(Framework::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn recognises_from_files_before_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("go.mod"), "module x\n").expect("write");
        assert_eq!(
            Framework::recognise(dir.path(), &argv("pytest")),
            Framework::Go
        );
    }

    #[test]
    fn recognises_node_frameworks_from_package_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"devDependencies": {"vitest": "^3"}}"#,
        )
        .expect("write");
        assert_eq!(
            Framework::recognise(dir.path(), &argv("npx vitest run")),
            Framework::TypescriptVitest
        );
    }

    #[test]
    fn falls_back_to_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            Framework::recognise(dir.path(), &argv("python -m pytest -q")),
            Framework::Python
        );
        assert_eq!(
            Framework::recognise(dir.path(), &argv("make test")),
            Framework::Unknown
        );
    }
}
