//! One adapter per language ([`Adapter`]), gathered in one table ([`ADAPTERS`]): the shared
//! framework modules (detection, install, seeds, report, shuffle, build-once) ask the table
//! what a language can do and name no language themselves. Adding a language is a folder
//! under `framework/` with its `impl Adapter` and one line in `languages!` (`framework/mod.rs`),
//! which declares the folder and lists it in [`ADAPTERS`].
//!
//! The table is looked up on two keys, because the pipeline learns about a job twice: the
//! [`Framework`] detected from the checkout's files (or given as an override) decides the
//! install and the seed variables ([`adapter_for_framework`]), and the runner found in the
//! command's argv decides the run's flags and report ([`adapter_for_argv`]). The two may
//! disagree (`--framework python` with a `cargo test` command), and each keeps answering
//! the question it answered before adapters.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use super::Framework;
use super::build_once::{BuildContext, BuiltRuns};
use super::command::{Runner, RunnerAt};
use super::install::{InstallChoices, InstallContext, Prepared};
use super::results::test_result::TestReport;
use crate::process::capture::Captured;

/// A boxed future, so [`Adapter`] stays object-safe and the table can hold every language.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one language can do for the pipeline. Methods keyed on a [`Framework`] are asked only
/// with one of [`Adapter::frameworks`]; methods keyed on a [`Runner`] only with one of
/// [`Adapter::runners`]. Optional capabilities have defaults that say "cannot".
pub trait Adapter: Sync {
    /// The frameworks this adapter installs and seeds.
    fn frameworks(&self) -> &'static [Framework];

    /// The runners this adapter recognises in a command.
    fn runners(&self) -> &'static [Runner];

    /// The framework the checkout's files show, if they show this language's.
    fn recognise_files(&self, dir: &Path) -> Option<Framework>;

    /// The framework the command's first word shows (`words` are argv's base names).
    fn recognise_first_word(&self, _words: &[&str]) -> Option<Framework> {
        None
    }

    /// The framework a word among the command's first four shows, asked only when no
    /// adapter recognised the first word.
    fn recognise_any_word(&self, _words: &[&str]) -> Option<Framework> {
        None
    }

    /// Installs (or restores from the cache) the checkout's dependencies.
    fn install<'a>(&'a self, ctx: &'a InstallContext<'_>) -> Pending<'a, Prepared>;

    /// Whether [`Adapter::install`] would write into `checkout` when there is no
    /// `install_command`; a checkout used in place must not be written.
    fn may_write(&self, _checkout: &Path, _choices: &InstallChoices) -> bool {
        true
    }

    /// This language's own variables that carry `seed` into a run of `framework`.
    fn seed_vars(&self, framework: Framework, seed: u64) -> Vec<(&'static str, String)>;

    /// This language's runner at `words[i]` (argv's base names, script extensions dropped),
    /// and where flags for it are inserted.
    fn runner_at(&self, words: &[&str], i: usize) -> Option<(Runner, usize)>;

    /// True when `argv` already chooses `runner`'s report file or reporter.
    fn sets_own_report(&self, _runner: Runner, _argv: &[String]) -> bool {
        false
    }

    /// Arguments that hand `seed` to `runner` itself, when it has such an option.
    fn seed_args(&self, _runner: Runner, _argv: &[String], _seed: u64) -> Vec<String> {
        Vec::new()
    }

    /// Pushes `runner`'s report flags (files in `run_dir`); returns where stdout must be
    /// copied for runners whose report is their stdout.
    fn report_flags(
        &self,
        runner: Runner,
        run_dir: &Path,
        flags: &mut Vec<String>,
    ) -> std::io::Result<Option<PathBuf>>;

    /// Reads what `runner` reported into `run_dir` (or into `stdout_copy`), and the run's
    /// readable output when the report replaces it. By default a JUnit file, `junit.xml`.
    fn read_report(
        &self,
        _runner: Runner,
        run_dir: &Path,
        _stdout_copy: Option<&Path>,
        _cwd: &Path,
        _output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        (super::runner_report::read_junit(run_dir), None)
    }

    /// Whether `runner`'s own seeded shuffler is installed for the runs, when that decides
    /// how it is shuffled. By default no probe is needed.
    fn shuffler_installed<'a>(
        &'a self,
        _runner: Runner,
        _argv: &'a [String],
        _env: &'a [(String, String)],
        _cwd: &'a Path,
        _cancel: &'a CancellationToken,
    ) -> Pending<'a, bool> {
        Box::pin(std::future::ready(false))
    }

    /// Whether `runner` can be shuffled by seed: `Ok(true)` when our own plugin does it
    /// (no flags), `Ok(false)` when flags do, or why not (one sentence for the summary).
    fn shuffle(&self, runner: Runner, shuffler_installed: bool) -> Result<bool, String>;

    /// The flags that shuffle `runner`'s order with `seed`.
    fn shuffle_flags(
        &self,
        runner: Runner,
        plugin: bool,
        seed: u64,
        argv: &[String],
    ) -> Vec<String>;

    /// The build-once step for `ctx.argv`, when this language translates that command.
    fn build_once<'a>(
        &self,
        _ctx: &'a BuildContext<'a>,
    ) -> Option<Pending<'a, Result<BuiltRuns, String>>> {
        None
    }

    /// Whether build-once would run a build step for `argv` in the checkout itself.
    fn builds_in_checkout(&self, _argv: &[String]) -> bool {
        false
    }
}

pub use super::ADAPTERS;

/// The adapter that installs and seeds `framework`; `None` for [`Framework::Unknown`].
pub fn adapter_for_framework(framework: Framework) -> Option<&'static dyn Adapter> {
    ADAPTERS
        .iter()
        .copied()
        .find(|adapter| adapter.frameworks().contains(&framework))
}

/// The adapter of a runner found in a command.
pub fn adapter_for_runner(runner: Runner) -> &'static dyn Adapter {
    ADAPTERS
        .iter()
        .copied()
        .find(|adapter| adapter.runners().contains(&runner))
        .expect("every runner is listed by one adapter (checked by a test)")
}

/// The runner in `argv` and its adapter, when the command starts a runner we recognise.
pub fn adapter_for_argv(argv: &[String]) -> Option<(&'static dyn Adapter, RunnerAt)> {
    RunnerAt::find(argv).map(|at| (adapter_for_runner(at.runner), at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runner_name_and_known_framework_has_exactly_one_adapter() {
        let runners: Vec<Runner> = ADAPTERS.iter().flat_map(|a| a.runners()).copied().collect();
        for runner in &runners {
            let names = runners.iter().filter(|r| r.name() == runner.name()).count();
            assert_eq!(names, 1, "two runners are called {runner:?}");
        }
        for framework in Framework::ALL {
            let count = ADAPTERS
                .iter()
                .filter(|a| a.frameworks().contains(&framework))
                .count();
            let expected = usize::from(framework != Framework::Unknown);
            assert_eq!(count, expected, "{framework:?}");
        }
    }
}
