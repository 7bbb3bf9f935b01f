//! The pytest plugin that orders tests ([`PytestOrderPlugin`]), shipped inside the binary so
//! that any pytest repository can be shuffled and replayed in an explicit order without
//! anything from its requirements (pytest-randomly is only there when a project installs
//! it). The plugin's own docstring (`pytest_order.py`) says what each variable does.

use std::path::{Path, PathBuf};

use crate::framework::shipped::write_shipped;

/// The plugin's source, written to the cache directory at run time.
const SOURCE: &str = include_str!("pytest_order.py");
/// The module name `-p` loads.
pub const MODULE: &str = "flaky_detector_order";
/// Variable that makes the plugin shuffle with `FLAKY_SEED`.
pub const SHUFFLE_VAR: &str = "FLAKY_SHUFFLE";
/// Variable that gives the plugin an explicit order, one test per line.
pub const ORDER_VAR: &str = "FLAKY_TEST_ORDER";

/// The plugin, written where the runs can import it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PytestOrderPlugin {
    /// The folder that holds `flaky_detector_order.py`, for PYTHONPATH.
    pub dir: PathBuf,
}

impl PytestOrderPlugin {
    /// Writes the plugin under `cache_dir` ([`write_shipped`]). Blocking file work.
    pub fn install(cache_dir: &Path) -> std::io::Result<PytestOrderPlugin> {
        let file = write_shipped(cache_dir, "pytest-order", &format!("{MODULE}.py"), SOURCE)?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or(file);
        Ok(PytestOrderPlugin { dir })
    }

    /// What a run's environment needs to load the plugin: its folder first on PYTHONPATH
    /// and `-p flaky_detector_order` added to PYTEST_ADDOPTS, keeping what `env` already
    /// has in both. The plugin does nothing until [`SHUFFLE_VAR`] or [`ORDER_VAR`] is set.
    pub fn env(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        let current = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let dir = self.dir.display().to_string();
        let python_path = match current("PYTHONPATH") {
            Some(rest) => format!("{dir}:{rest}"),
            None => dir,
        };
        let load = format!("-p {MODULE}");
        let addopts = match current("PYTEST_ADDOPTS") {
            Some(rest) if rest.contains(&load) => rest.to_string(),
            Some(rest) => format!("{rest} {load}"),
            None => load,
        };
        vec![
            ("PYTHONPATH".into(), python_path),
            ("PYTEST_ADDOPTS".into(), addopts),
        ]
    }
}

/// The pytest node id of a test named `classname::name` in a JUnit report (pytest's
/// `tests.test_x.TestC::test_m` is `tests/test_x.py::TestC::test_m`): the longest dotted
/// prefix of the class name that is a `.py` file under `rootdir` is the module, the rest are
/// classes. `None` when no such file exists (a name from another runner, or a module
/// outside `rootdir`).
pub fn node_id(name: &str, rootdir: &Path) -> Option<String> {
    let (classname, test) = name.split_once("::")?;
    let parts: Vec<&str> = classname.split('.').collect();
    (1..=parts.len()).rev().find_map(|n| {
        let module = format!("{}.py", parts[..n].join("/"));
        rootdir.join(&module).is_file().then(|| {
            std::iter::once(module.as_str())
                .chain(parts[n..].iter().copied())
                .chain(std::iter::once(test))
                .collect::<Vec<_>>()
                .join("::")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn junit_names_map_back_to_node_ids() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("tests/unit")).expect("mkdir");
        std::fs::write(root.path().join("tests/unit/test_x.py"), "").expect("write");
        std::fs::write(root.path().join("test_top.py"), "").expect("write");
        let id = |name: &str| node_id(name, root.path());
        assert_eq!(
            id("tests.unit.test_x::test_a").as_deref(),
            Some("tests/unit/test_x.py::test_a")
        );
        assert_eq!(
            id("tests.unit.test_x.TestC::test_m[1-2]").as_deref(),
            Some("tests/unit/test_x.py::TestC::test_m[1-2]")
        );
        assert_eq!(
            id("test_top::test_b").as_deref(),
            Some("test_top.py::test_b")
        );
        assert_eq!(id("nowhere::test_b"), None);
        assert_eq!(id("no separator"), None);
    }

    #[test]
    fn the_plugin_is_added_to_what_the_environment_has() {
        let plugin = PytestOrderPlugin {
            dir: PathBuf::from("/cache/p"),
        };
        assert_eq!(
            plugin.env(&[]),
            vars(&[
                ("PYTHONPATH", "/cache/p"),
                ("PYTEST_ADDOPTS", "-p flaky_detector_order")
            ])
        );
        let env = vars(&[("PYTHONPATH", "src"), ("PYTEST_ADDOPTS", "-x")]);
        assert_eq!(
            plugin.env(&env),
            vars(&[
                ("PYTHONPATH", "/cache/p:src"),
                ("PYTEST_ADDOPTS", "-x -p flaky_detector_order")
            ])
        );
    }

    #[test]
    fn the_plugin_is_written_once_per_version() {
        let cache = tempfile::tempdir().expect("tempdir");
        let first = PytestOrderPlugin::install(cache.path()).expect("install");
        let second = PytestOrderPlugin::install(cache.path()).expect("install again");
        assert_eq!(first, second);
        let text = std::fs::read_to_string(first.dir.join("flaky_detector_order.py"))
            .expect("plugin written");
        assert!(text.contains("pytest_collection_modifyitems"));
    }
}
