//! How a checkout's [`Framework`] is detected: from its files, then from the test command.
//! The enum itself is job input vocabulary and lives in [`crate::job`].

use std::path::Path;

use crate::job::Framework;

impl Framework {
    /// Looks at the checkout first (the seed project's order: Go, Node, Python; Rust added),
    /// then at the command, so `pytest` in a folder with no Python packaging file is still
    /// Python.
    pub fn detect(checkout: &Path, argv: &[String]) -> Framework {
        from_files(checkout).unwrap_or_else(|| from_command(argv))
    }
}

fn from_files(dir: &Path) -> Option<Framework> {
    let has = |name: &str| dir.join(name).exists();
    if has("go.mod") {
        return Some(Framework::Go);
    }
    if let Some(framework) = from_package_json(dir) {
        return Some(framework);
    }
    if has("Cargo.toml") {
        return Some(Framework::Rust);
    }
    let python_files = [
        "requirements.txt",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "pytest.ini",
        "conftest.py",
        "tox.ini",
    ];
    python_files
        .iter()
        .any(|f| has(f))
        .then_some(Framework::Python)
}

fn from_package_json(dir: &Path) -> Option<Framework> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    let package: serde_json::Value = serde_json::from_str(&text).ok()?;
    let has_dep = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|section| package.get(section).and_then(|s| s.get(name)).is_some())
    };
    if has_dep("jest") {
        Some(Framework::TypescriptJest)
    } else if has_dep("vitest") {
        Some(Framework::TypescriptVitest)
    } else if has_dep("mocha") {
        Some(Framework::JavascriptMocha)
    } else {
        None
    }
}

fn from_command(argv: &[String]) -> Framework {
    let words: Vec<&str> = argv
        .iter()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .collect();
    let first = words.first().copied().unwrap_or("");
    let any = |name: &str| words.iter().take(4).any(|w| *w == name);
    if first.starts_with("pytest") || (first.starts_with("python") && any("pytest")) {
        Framework::Python
    } else if first == "go" {
        Framework::Go
    } else if first == "cargo" {
        Framework::Rust
    } else if any("jest") {
        Framework::TypescriptJest
    } else if any("vitest") {
        Framework::TypescriptVitest
    } else if any("mocha") {
        Framework::JavascriptMocha
    } else {
        Framework::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn detects_from_files_before_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("go.mod"), "module x\n").expect("write");
        assert_eq!(
            Framework::detect(dir.path(), &argv("pytest")),
            Framework::Go
        );
    }

    #[test]
    fn detects_node_frameworks_from_package_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"devDependencies": {"vitest": "^3"}}"#,
        )
        .expect("write");
        assert_eq!(
            Framework::detect(dir.path(), &argv("npx vitest run")),
            Framework::TypescriptVitest
        );
    }

    #[test]
    fn falls_back_to_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            Framework::detect(dir.path(), &argv("python -m pytest -q")),
            Framework::Python
        );
        assert_eq!(
            Framework::detect(dir.path(), &argv("make test")),
            Framework::Unknown
        );
    }
}
