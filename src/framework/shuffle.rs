//! Test-order shuffling keyed on the run's seed ([`Shuffle`], `shuffle: true`): an
//! order-dependent test then fails for some seeds and passes for others, and the failing
//! seed replays the failing order. Only runners that take a seed for their order are
//! shuffled; the reproduce line carries the same flags. pytest is shuffled by
//! pytest-randomly when the project installs it, else by our own plugin
//! ([`super::python::pytest_order`]), and Mocha, which has no shuffle, by our own root hook
//! ([`super::mocha_order`]); both read the seed from the run's environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::command::{Runner, RunnerAt};
use crate::process::{ProcessSpec, run_process};

/// Seeded order shuffling for one runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shuffle {
    at: RunnerAt,
    /// Shuffled by our own plugin (no flags; `FLAKY_SHUFFLE=1` and the plugin's variables
    /// in the runs' environment): pytest without pytest-randomly, and Mocha.
    plugin: bool,
}

impl Shuffle {
    /// The shuffle for `runner`, or why there is none (one sentence for the summary's
    /// warnings). `pytest_randomly` says whether the pytest-randomly plugin is importable
    /// in the runs' environment ([`pytest_randomly_installed`]); without it pytest is
    /// shuffled by our plugin.
    pub fn plan(runner: Option<RunnerAt>, pytest_randomly: bool) -> Result<Shuffle, String> {
        let Some(at) = runner else {
            return Err(
                "shuffle: the test command is not pytest, go test, jest, vitest or mocha, so test order was not shuffled (cargo test shuffles only on nightly: -Z unstable-options --shuffle-seed N)"
                    .into(),
            );
        };
        match at.runner {
            Runner::Pytest => Ok(Shuffle {
                at,
                plugin: !pytest_randomly,
            }),
            Runner::GoTest | Runner::Jest | Runner::Vitest => Ok(Shuffle { at, plugin: false }),
            Runner::Mocha => Ok(Shuffle { at, plugin: true }),
            Runner::Nextest => Err("shuffle: cargo-nextest has no seeded order shuffling, so test order was not shuffled".into()),
        }
    }

    /// True when our own plugin does the shuffling: the runs need its environment
    /// (`FLAKY_SHUFFLE=1`, and for pytest [`super::python::pytest_order::PytestOrderPlugin::env`];
    /// Mocha's hook is loaded by the job's command), not flags.
    pub fn uses_plugin(&self) -> bool {
        self.plugin
    }

    /// The runner being shuffled.
    pub fn runner(&self) -> Runner {
        self.at.runner
    }

    /// Where the flags go in the command.
    pub fn insert_at(&self) -> usize {
        self.at.insert_at
    }

    /// The flags that shuffle the order with `seed`. Runners' seed options take narrower
    /// integers than our `u64` seeds, so the seed is reduced to fit, the same way in the
    /// run and in the reproduce line. A seed option already in `argv` (from the command or
    /// the runner's own seed option) is not repeated.
    pub fn flags(&self, seed: u64, argv: &[String]) -> Vec<String> {
        let has = |prefix: &str| argv.iter().any(|w| w.starts_with(prefix));
        let int31 = seed % (1 << 31);
        let mut flags = Vec::new();
        match self.at.runner {
            Runner::Pytest | Runner::Mocha if self.plugin => {}
            Runner::Pytest => {
                flags.push("-p".into());
                flags.push("randomly".into());
                flags.push(format!("--randomly-seed={}", seed % (1 << 32)));
            }
            Runner::GoTest => flags.push(format!("-shuffle={}", seed % (1 << 63))),
            Runner::Jest => {
                flags.push("--randomize".into());
                if !has("--seed") {
                    flags.push(format!("--seed={int31}"));
                }
            }
            Runner::Vitest => {
                flags.push("--sequence.shuffle".into());
                if !has("--sequence.seed") {
                    flags.push(format!("--sequence.seed={int31}"));
                }
            }
            Runner::Mocha | Runner::Nextest => {}
        }
        flags
    }
}

/// Exits 0 when `pytest_randomly` can be found, without running it or anything of the
/// working directory.
const FIND_PYTEST_RANDOMLY: &str = "import sys, importlib.util\n\
sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n\
sys.exit(0 if importlib.util.find_spec('pytest_randomly') else 1)";

/// True when the pytest-randomly plugin is installed for the runs' interpreter: the one the
/// command names (`python -m pytest`, a relative path taken from `cwd`), else `python3` from
/// the runs' PATH. A probe that cannot start or times out counts as "not installed".
///
/// The probe runs outside any overlay, so it must execute nothing of the checkout (issue 21,
/// finding 3: a repository's `pytest_randomly.py` was imported, and ran, in the user's own
/// directory): it runs from `/`, drops the working directory from `sys.path`, and only
/// looks the module up (`importlib.util.find_spec`), never imports it.
pub async fn pytest_randomly_installed(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    cancel: &CancellationToken,
) -> bool {
    let python = argv
        .iter()
        .take(4)
        .find(|w| {
            w.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with("python"))
        })
        .map(
            |python| match python.contains('/') && !python.starts_with('/') {
                true => cwd.join(python).display().to_string(),
                false => python.clone(),
            },
        )
        .or_else(|| super::install::find_on_path(env, "python3"))
        .unwrap_or_else(|| "python3".into());
    let spec = ProcessSpec {
        program: python,
        arg0: None,
        args: vec!["-c".into(), FIND_PYTEST_RANDOMLY.into()],
        cwd: PathBuf::from("/"),
        env: env.to_vec(),
        timeout: Duration::from_secs(60),
        kill_grace: Duration::from_secs(1),
        output_limit: 4096,
        overlay: None,
    };
    matches!(run_process(&spec, cancel).await, Ok(out) if out.outcome.passed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    fn flags(command: &str, seed: u64) -> Result<Vec<String>, String> {
        let words = argv(command);
        Shuffle::plan(RunnerAt::find(&words), true).map(|s| s.flags(seed, &words))
    }

    #[test]
    fn each_runner_gets_its_seeded_shuffle() {
        assert_eq!(
            flags("pytest -q", 7).expect("pytest"),
            argv("-p randomly --randomly-seed=7")
        );
        assert_eq!(flags("go test ./...", 7).expect("go"), argv("-shuffle=7"));
        assert_eq!(
            flags("npx jest", 7).expect("jest"),
            argv("--randomize --seed=7")
        );
        assert_eq!(
            flags("npx vitest run", 7).expect("vitest"),
            argv("--sequence.shuffle --sequence.seed=7")
        );
    }

    #[test]
    fn seeds_are_reduced_to_what_the_runner_takes_and_not_repeated() {
        let big = (1u64 << 40) + 5;
        assert_eq!(
            flags("npx jest", big).expect("jest"),
            vec![
                "--randomize".to_string(),
                format!("--seed={}", big % (1 << 31))
            ]
        );
        assert_eq!(
            flags("npx jest --seed=3", 7).expect("jest"),
            argv("--randomize")
        );
    }

    #[test]
    fn runners_without_seeded_shuffle_say_so() {
        assert!(flags("cargo nextest run", 1).is_err());
        assert!(flags("make test", 1).is_err());
        // Mocha is shuffled by our hook, through the runs' environment.
        assert_eq!(flags("npx mocha", 1), Ok(Vec::new()));
    }

    #[test]
    fn pytest_without_pytest_randomly_is_shuffled_by_our_plugin() {
        let words = argv("python3 -m pytest -q");
        let shuffle = Shuffle::plan(RunnerAt::find(&words), false).expect("plugin shuffle");
        assert!(shuffle.uses_plugin());
        assert!(shuffle.flags(7, &words).is_empty());
        let randomly = Shuffle::plan(RunnerAt::find(&words), true).expect("randomly");
        assert!(!randomly.uses_plugin());
    }
}
