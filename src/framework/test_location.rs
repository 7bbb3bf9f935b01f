//! Where in a checkout a test lives ([`test_location`]), from the name history gives it, so
//! CODEOWNERS can name its owner: pytest's `tests.test_a::test_x` is `tests/test_a.py`, a Go
//! test's package `example.com/m/sub` is the folder `sub/` (under `go.mod`'s module path),
//! Jest's and Vitest's names start with their file. Rust and Mocha names carry no file.

use std::path::{Path, PathBuf};

use super::Framework;

/// A file or a folder of the checkout, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLocation {
    pub path: PathBuf,
    pub is_dir: bool,
}

/// Where the test named `name` lives in `checkout`, when the name says and the file (or
/// folder) is there; `None` otherwise.
pub fn test_location(framework: Framework, name: &str, checkout: &Path) -> Option<TestLocation> {
    let (unit, _) = name.split_once("::")?;
    match framework {
        Framework::Python => {
            // `a.b.TestClass` may be `a/b.py` with a class, or `a/b/TestClass.py`: the
            // longest prefix that is a file wins.
            let parts: Vec<&str> = unit.split('.').collect();
            (1..=parts.len()).rev().find_map(|n| {
                let path = PathBuf::from(format!("{}.py", parts[..n].join("/")));
                checkout.join(&path).is_file().then_some(TestLocation {
                    path,
                    is_dir: false,
                })
            })
        }
        Framework::Go => {
            let go_mod = std::fs::read_to_string(checkout.join("go.mod")).ok()?;
            let module = go_mod
                .lines()
                .find_map(|line| line.trim().strip_prefix("module "))?
                .trim()
                .trim_matches('"');
            let rest = unit.strip_prefix(module)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let path = PathBuf::from(rest.trim_start_matches('/'));
            let path = if path.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                path
            };
            checkout
                .join(&path)
                .is_dir()
                .then_some(TestLocation { path, is_dir: true })
        }
        Framework::TypescriptJest | Framework::TypescriptVitest => {
            let path = PathBuf::from(unit.trim_start_matches("./"));
            (path.is_relative() && checkout.join(&path).is_file()).then_some(TestLocation {
                path,
                is_dir: false,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_names_its_file_or_folder() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("tests/unit")).expect("dirs");
        std::fs::write(root.join("tests/unit/test_a.py"), "").expect("file");
        std::fs::write(root.join("go.mod"), "module example.com/m\n\ngo 1.21\n").expect("go.mod");
        std::fs::create_dir_all(root.join("sub")).expect("dirs");
        std::fs::write(root.join("tests/a.test.js"), "").expect("file");
        let at = |framework, name| test_location(framework, name, root).map(|l| l.path);
        assert_eq!(
            at(Framework::Python, "tests.unit.test_a.TestX::test_y"),
            Some(PathBuf::from("tests/unit/test_a.py"))
        );
        assert_eq!(at(Framework::Python, "tests.nowhere::test_y"), None);
        assert_eq!(
            at(Framework::Go, "example.com/m/sub::TestA"),
            Some(PathBuf::from("sub"))
        );
        assert_eq!(
            at(Framework::Go, "example.com/m::TestA"),
            Some(PathBuf::from("."))
        );
        assert_eq!(at(Framework::Go, "example.com/mx::TestA"), None);
        assert_eq!(
            at(Framework::TypescriptJest, "tests/a.test.js::math › adds"),
            Some(PathBuf::from("tests/a.test.js"))
        );
        assert_eq!(at(Framework::Rust, "proj::tests::bad"), None);
    }
}
