//! Python's adapter ([`Python`]): detection from packaging files, the virtualenv install
//! ([`install`]), `PYTHONHASHSEED`, pytest's JUnit report, shuffling by pytest-randomly or our
//! own plugin ([`shuffle`]), the pytest fork server that builds once ([`build_once`]) and the
//! pytest order plugin ([`pytest_order`]).

pub mod build_once;
pub mod install;
pub mod pytest_order;
pub mod shuffle;

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::Framework;
use super::adapter::{Adapter, Pending};
use super::build_once::{BuildContext, BuiltRuns};
use super::command::{Runner, argv_sets};
use super::install::{InstallChoices, InstallContext, Prepared};
use super::seed::HASH_SEED_VAR;

/// Python with pytest.
pub struct Python;

/// This language's runners, the keys of [`Adapter::runners`].
impl Runner {
    /// pytest, also as `python -m pytest` or through a launcher.
    pub const PYTEST: Runner = Runner::named("pytest");
}

impl Adapter for Python {
    fn frameworks(&self) -> &'static [Framework] {
        &[Framework::Python]
    }

    fn runners(&self) -> &'static [Runner] {
        &[Runner::PYTEST]
    }

    fn recognise_files(&self, dir: &Path) -> Option<Framework> {
        let has = |name: &str| dir.join(name).exists();
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

    /// `pytest` in a folder with no Python packaging file is still Python.
    fn recognise_first_word(&self, words: &[&str]) -> Option<Framework> {
        let first = words.first().copied().unwrap_or("");
        let any = |name: &str| words.iter().take(4).any(|w| *w == name);
        (first.starts_with("pytest") || (first.starts_with("python") && any("pytest")))
            .then_some(Framework::Python)
    }

    fn install<'a>(&'a self, ctx: &'a InstallContext<'_>) -> Pending<'a, Prepared> {
        Box::pin(install::install(ctx))
    }

    fn may_write(&self, checkout: &Path, choices: &InstallChoices) -> bool {
        install::may_write(checkout, choices)
    }

    fn seed_vars(&self, _framework: Framework, seed: u64) -> Vec<(&'static str, String)> {
        // PYTHONHASHSEED fixes set and dict-of-str iteration order, a common hidden input.
        vec![(HASH_SEED_VAR, (seed % 4_294_967_296).to_string())]
    }

    fn runner_at(&self, words: &[&str], i: usize) -> Option<(Runner, usize)> {
        matches!(words.get(i), Some(&("pytest" | "py.test"))).then_some((Runner::PYTEST, i + 1))
    }

    fn sets_own_report(&self, _runner: Runner, argv: &[String]) -> bool {
        argv_sets(argv, &["--junitxml", "--junit-xml"])
    }

    fn report_flags(
        &self,
        _runner: Runner,
        run_dir: &Path,
        flags: &mut Vec<String>,
    ) -> std::io::Result<Option<PathBuf>> {
        flags.push(format!(
            "--junitxml={}",
            run_dir.join("junit.xml").display()
        ));
        Ok(None)
    }

    fn shuffler_installed<'a>(
        &'a self,
        _runner: Runner,
        argv: &'a [String],
        env: &'a [(String, String)],
        cwd: &'a Path,
        cancel: &'a CancellationToken,
    ) -> Pending<'a, bool> {
        Box::pin(shuffle::pytest_randomly_installed(argv, env, cwd, cancel))
    }

    /// pytest is shuffled by pytest-randomly when the project installs it, else by our own
    /// plugin ([`pytest_order`]), which reads the seed from the run's environment.
    fn shuffle(&self, _runner: Runner, shuffler_installed: bool) -> Result<bool, String> {
        Ok(!shuffler_installed)
    }

    fn shuffle_flags(
        &self,
        _runner: Runner,
        plugin: bool,
        seed: u64,
        _argv: &[String],
    ) -> Vec<String> {
        if plugin {
            return Vec::new();
        }
        vec![
            "-p".into(),
            "randomly".into(),
            format!("--randomly-seed={}", seed % (1 << 32)),
        ]
    }

    fn build_once<'a>(
        &self,
        ctx: &'a BuildContext<'a>,
    ) -> Option<Pending<'a, Result<BuiltRuns, String>>> {
        build_once::is_pytest(ctx.argv).then(|| -> Pending<'a, Result<BuiltRuns, String>> {
            Box::pin(async move { build_once::build(ctx).await.map(BuiltRuns::Pytest) })
        })
    }
}
