//! Running only some tests of a command (`tests` in a job input, `--test` on the command
//! line): the runner's own way to choose tests by name, so a job can rerun the one test a CI
//! run saw fail without running the whole suite. The job names tests as its reports name
//! them (`file::name`, `package::TestName`); each runner gets them in its own syntax:
//!
//! - pytest: our order plugin with the names in its variable; a name absent from the
//!   checkout is left out, not an error (triage runs the same names at a base commit that
//!   may not have a test yet);
//! - `go test`, Jest, Vitest, Mocha: their name filters ([`NameFilter`]);
//! - nextest: a filter expression, `-E 'test(=a) | test(=b)'`.

use std::path::Path;

use super::command::{Runner, RunnerAt, argv_sets, insert_flags};
use super::name_filter::NameFilter;
use super::order::OrderSetup;
use super::python::pytest_order::{ORDER_VAR, PytestOrderPlugin};

/// How a run is limited to the chosen tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Arguments given to the runner, after its name.
    Args(Vec<String>),
    /// Our pytest plugin, told the names through its order variable.
    PytestPlugin(Vec<String>),
}

/// Why the tests could not be chosen. One sentence each, naming what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "`tests` needs a runner that can run tests by name (pytest, go test, jest, vitest, mocha or cargo nextest); this command's runner was not recognised"
    )]
    UnknownRunner,
    #[error(
        "`tests` cannot be combined with a command that already chooses tests by name ({0}); drop that option from the command"
    )]
    AlreadyFiltered(&'static str),
    #[error(
        "`tests` needs the pytest order plugin, which could not be written to {dir}: {reason}; check that the cache directory (FLAKY_CACHE_DIR) is writable"
    )]
    Plugin { dir: String, reason: String },
}

impl Selection {
    /// The selection of `tests` for the command `argv`.
    pub fn for_tests(tests: &[String], argv: &[String]) -> Result<Selection, SelectError> {
        let at = RunnerAt::find(argv).ok_or(SelectError::UnknownRunner)?;
        match at.runner {
            Runner::PYTEST => Ok(Selection::PytestPlugin(tests.to_vec())),
            Runner::NEXTEST => {
                if argv_sets(argv, &["-E", "--filter-expr", "--filterset"]) {
                    return Err(SelectError::AlreadyFiltered("-E"));
                }
                Ok(Selection::Args(nextest_filter(tests)))
            }
            runner => NameFilter::for_runner(runner, argv)
                .map(|filter| Selection::Args(filter.args(tests)))
                .ok_or(SelectError::AlreadyFiltered(match runner {
                    Runner::GO_TEST => "-run",
                    Runner::MOCHA => "--grep",
                    _ => "-t",
                })),
        }
    }

    /// `argv` with the selection's arguments after the runner's name.
    pub fn argv(&self, argv: &[String]) -> Vec<String> {
        match (self, RunnerAt::find(argv)) {
            (Selection::Args(args), Some(at)) => insert_flags(argv, at.insert_at, args),
            _ => argv.to_vec(),
        }
    }

    /// The names our pytest plugin is given, one per line; `None` for the other runners.
    pub fn plugin_order(&self) -> Option<String> {
        match self {
            Selection::PytestPlugin(tests) => Some(tests.join("\n")),
            Selection::Args(_) => None,
        }
    }

    /// For pytest, our plugin (written to `cache_dir` unless the job's order setup already
    /// has it) and its variables over `env`, added to the variables every run and the
    /// reproduce line get. The plugin's explicit order outranks its shuffle: the second
    /// value says so when the job asked for a shuffle.
    pub async fn setup(
        &self,
        order: &mut OrderSetup,
        env: &[(String, String)],
        cache_dir: &Path,
        shuffled: bool,
    ) -> Result<Option<String>, SelectError> {
        let Some(names) = self.plugin_order() else {
            return Ok(None);
        };
        let plugin = match &order.plugin {
            Some(plugin) => plugin.clone(),
            None => {
                let dir = cache_dir.to_path_buf();
                tokio::task::spawn_blocking(move || PytestOrderPlugin::install(&dir))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|written| written)
                    .map_err(|error| SelectError::Plugin {
                        dir: cache_dir.display().to_string(),
                        reason: crate::errors::one_line(&error),
                    })?
            }
        };
        let mut vars = plugin.env(env);
        vars.push((ORDER_VAR.into(), names));
        for (name, value) in vars {
            order.run_env.retain(|(k, _)| *k != name);
            order.run_env.push((name, value));
        }
        order.plugin = Some(plugin);
        Ok(shuffled.then(|| {
            "shuffle: the chosen tests (`tests`) run in the order given, so pytest's order was not shuffled".to_string()
        }))
    }
}

/// nextest's filter expression for exact test names (`binary::path::name` as its JUnit
/// report names them: the test's path is the part after the binary's id).
fn nextest_filter(tests: &[String]) -> Vec<String> {
    let names: Vec<String> = tests
        .iter()
        .map(|test| {
            let name = test
                .split_once("::")
                .map_or(test.as_str(), |(_, name)| name);
            format!("test(={name})")
        })
        .collect();
    vec!["-E".into(), names.join(" | ")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn each_runner_gets_its_own_filter_after_its_name() {
        let tests = vec!["example.com/m::TestA".to_string()];
        let argv = words("go test -count=1 ./...");
        let selection = Selection::for_tests(&tests, &argv).unwrap();
        assert_eq!(
            selection.argv(&argv),
            words("go test -run ^(TestA)$ -count=1 ./...")
        );

        let tests = vec!["a.test.js::sum › adds".to_string()];
        let argv = words("npx jest --ci");
        let selection = Selection::for_tests(&tests, &argv).unwrap();
        assert_eq!(
            selection.argv(&argv),
            ["npx", "jest", "-t", "^(sum adds)$", "--ci"]
        );

        let tests = vec!["crate::tests::adds".to_string()];
        let argv = words("cargo nextest run");
        let selection = Selection::for_tests(&tests, &argv).unwrap();
        assert_eq!(
            selection.argv(&argv),
            ["cargo", "nextest", "run", "-E", "test(=tests::adds)"]
        );
    }

    #[test]
    fn pytest_keeps_its_command_and_names_the_tests_to_the_plugin() {
        let tests = vec![
            "tests.test_a::test_x".to_string(),
            "tests.test_b::test_y".to_string(),
        ];
        let argv = words("python -m pytest -q tests");
        let selection = Selection::for_tests(&tests, &argv).unwrap();
        assert_eq!(selection.argv(&argv), argv);
        assert_eq!(
            selection.plugin_order().as_deref(),
            Some("tests.test_a::test_x\ntests.test_b::test_y")
        );
    }

    #[test]
    fn a_command_that_already_filters_or_an_unknown_runner_is_refused() {
        let tests = vec!["m::TestA".to_string()];
        assert_eq!(
            Selection::for_tests(&tests, &words("go test -run TestB ./...")),
            Err(SelectError::AlreadyFiltered("-run"))
        );
        assert_eq!(
            Selection::for_tests(&tests, &words("make test")),
            Err(SelectError::UnknownRunner)
        );
    }
}
