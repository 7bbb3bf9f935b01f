//! Test-order shuffling keyed on the run's seed ([`Shuffle`], `shuffle: true`): an
//! order-dependent test then fails for some seeds and passes for others, and the failing
//! seed replays the failing order. Only runners that take a seed for their order are
//! shuffled; the reproduce line carries the same flags. pytest is shuffled by
//! pytest-randomly when the project installs it, else by our own plugin
//! ([`super::python::pytest_order`]), and Mocha, which has no shuffle, by our own root hook
//! ([`super::node::mocha_order`]); both read the seed from the run's environment.

use super::adapter::adapter_for_runner;
use super::command::{Runner, RunnerAt};
pub use super::python::shuffle::pytest_randomly_installed;

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
        let plugin = adapter_for_runner(at.runner).shuffle(at.runner, pytest_randomly)?;
        Ok(Shuffle { at, plugin })
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
        adapter_for_runner(self.at.runner).shuffle_flags(self.at.runner, self.plugin, seed, argv)
    }
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
        // Mocha is shuffled by our hook, through the runs' environment.
        assert_eq!(flags("npx mocha", 1), Ok(Vec::new()));
        assert!(flags("make test", 1).is_err());
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
