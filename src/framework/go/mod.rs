//! Go's adapter ([`Go`]): detection from `go.mod`, the module-cache install ([`install`]),
//! `go test -json` as the report ([`results`]), `-shuffle`, and building `go test`'s binaries
//! once ([`build_once`]).

pub mod build_once;
pub mod install;
pub mod list;
pub mod results;

use std::path::{Path, PathBuf};

use super::Framework;
use super::adapter::{Adapter, Pending};
use super::build_once::{BuildContext, BuiltRuns};
use super::command::Runner;
use super::install::{InstallContext, Prepared};
use super::runner_report::report_of;
use super::results::test_result::TestReport;
use crate::process::capture::{Capture, Captured};

/// Go with `go test`.
pub struct Go;

/// This language's runners, the keys of [`Adapter::runners`].
impl Runner {
    /// `go test` (and a binary it built, when built once).
    pub const GO_TEST: Runner = Runner::named("go test");
}

impl Adapter for Go {
    fn frameworks(&self) -> &'static [Framework] {
        &[Framework::Go]
    }

    fn runners(&self) -> &'static [Runner] {
        &[Runner::GO_TEST]
    }

    fn recognise_files(&self, dir: &Path) -> Option<Framework> {
        dir.join("go.mod").exists().then_some(Framework::Go)
    }

    fn recognise_first_word(&self, words: &[&str]) -> Option<Framework> {
        (words.first() == Some(&"go")).then_some(Framework::Go)
    }

    fn install<'a>(&'a self, ctx: &'a InstallContext<'_>) -> Pending<'a, Prepared> {
        Box::pin(install::install(ctx))
    }

    fn seed_vars(&self, _framework: Framework, seed: u64) -> Vec<(&'static str, String)> {
        vec![("GO_TEST_SEED", seed.to_string())]
    }

    fn runner_at(&self, words: &[&str], i: usize) -> Option<(Runner, usize)> {
        (words.get(i) == Some(&"go") && words.get(i + 1) == Some(&"test"))
            .then_some((Runner::GO_TEST, i + 2))
    }

    fn report_flags(
        &self,
        _runner: Runner,
        run_dir: &Path,
        flags: &mut Vec<String>,
    ) -> std::io::Result<Option<PathBuf>> {
        flags.push("-json".into());
        Ok(Some(run_dir.join("go-test.jsonl")))
    }

    /// The report is the run's stdout; the readable output is rebuilt from its events (the
    /// JSON itself says little to a person).
    fn read_report(
        &self,
        _runner: Runner,
        _run_dir: &Path,
        stdout_copy: Option<&Path>,
        _cwd: &Path,
        output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        let Some(path) = stdout_copy else {
            return (TestReport::Missing, None);
        };
        let Ok(file) = std::fs::File::open(path) else {
            return (TestReport::Missing, None);
        };
        let mut text = Capture::new(output_limit);
        let parsed = results::parse(std::io::BufReader::new(file), |t| text.push(t.as_bytes()));
        (report_of(parsed), Some(text.finish()))
    }

    fn shuffle(&self, _runner: Runner, _shuffler_installed: bool) -> Result<bool, String> {
        Ok(false)
    }

    fn shuffle_flags(
        &self,
        _runner: Runner,
        _plugin: bool,
        seed: u64,
        _argv: &[String],
    ) -> Vec<String> {
        vec![format!("-shuffle={}", seed % (1 << 63))]
    }

    fn build_once<'a>(
        &self,
        ctx: &'a BuildContext<'a>,
    ) -> Option<Pending<'a, Result<BuiltRuns, String>>> {
        build_once::is_go_test(ctx.argv).then(|| -> Pending<'a, Result<BuiltRuns, String>> {
            Box::pin(async move { build_once::build(ctx).await.map(BuiltRuns::Go) })
        })
    }
}
