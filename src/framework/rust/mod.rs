//! Rust's adapter ([`Rust`]): detection from `Cargo.toml`, `cargo fetch` and the tests built
//! per lockfile ([`install`]), nextest's JUnit report through a tool config, and building
//! `cargo test`'s binaries once ([`build_once`]).

pub mod build_once;
pub mod install;

use std::path::{Path, PathBuf};

use super::Framework;
use super::adapter::{Adapter, Pending};
use super::build_once::{BuildContext, BuiltRuns};
use super::command::Runner;
use super::install::{InstallContext, Prepared};
use super::runner_report::write_once;

/// Rust with `cargo test` (build-once) and `cargo nextest run` (per-test report).
pub struct Rust;

/// This language's runners, the keys of [`Adapter::runners`].
impl Runner {
    /// `cargo nextest run` (a plain `cargo test` is built once or run as it is).
    pub const NEXTEST: Runner = Runner::named("cargo nextest");
}

impl Adapter for Rust {
    fn frameworks(&self) -> &'static [Framework] {
        &[Framework::Rust]
    }

    fn runners(&self) -> &'static [Runner] {
        &[Runner::NEXTEST]
    }

    fn recognise_files(&self, dir: &Path) -> Option<Framework> {
        dir.join("Cargo.toml").exists().then_some(Framework::Rust)
    }

    fn recognise_first_word(&self, words: &[&str]) -> Option<Framework> {
        (words.first() == Some(&"cargo")).then_some(Framework::Rust)
    }

    fn install<'a>(&'a self, ctx: &'a InstallContext<'_>) -> Pending<'a, Prepared> {
        Box::pin(install::install(ctx))
    }

    fn seed_vars(&self, _framework: Framework, _seed: u64) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn runner_at(&self, words: &[&str], i: usize) -> Option<(Runner, usize)> {
        let cargo = matches!(words.get(i), Some(&("cargo" | "cargo-nextest")));
        (cargo && words.get(i + 1) == Some(&"nextest") && words.get(i + 2) == Some(&"run"))
            .then_some((Runner::NEXTEST, i + 3))
    }

    fn report_flags(
        &self,
        _runner: Runner,
        run_dir: &Path,
        flags: &mut Vec<String>,
    ) -> std::io::Result<Option<PathBuf>> {
        let config = run_dir.join("nextest.toml");
        write_once(&config, &nextest_config(&run_dir.join("junit.xml")))?;
        flags.push("--tool-config-file".into());
        flags.push(format!("flaky-detector:{}", config.display()));
        Ok(None)
    }

    fn shuffle(&self, _runner: Runner, _shuffler_installed: bool) -> Result<bool, String> {
        Err(
            "shuffle: cargo-nextest has no seeded order shuffling, so test order was not shuffled"
                .into(),
        )
    }

    fn shuffle_flags(
        &self,
        _runner: Runner,
        _plugin: bool,
        _seed: u64,
        _argv: &[String],
    ) -> Vec<String> {
        Vec::new()
    }

    fn build_once<'a>(
        &self,
        ctx: &'a BuildContext<'a>,
    ) -> Option<Pending<'a, Result<BuiltRuns, String>>> {
        build_once::is_cargo_test(ctx.argv).then(|| -> Pending<'a, Result<BuiltRuns, String>> {
            Box::pin(async move { build_once::build(ctx).await.map(BuiltRuns::Cargo) })
        })
    }

    /// `cargo test --no-run` writes `target/` and `Cargo.lock` in the checkout and runs the
    /// repository's build scripts (issue 21, finding 3).
    fn builds_in_checkout(&self, argv: &[String]) -> bool {
        build_once::is_cargo_test(argv)
    }
}

/// Nextest's tool config: the JUnit report of the default profile (which custom profiles
/// inherit) goes into the run's directory, and a failure does not cancel the other tests,
/// so every test case gets a result. The repository's own config still wins over both.
fn nextest_config(junit: &Path) -> String {
    let path = junit
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!("[profile.default]\nfail-fast = false\n\n[profile.default.junit]\npath = \"{path}\"\n")
}
