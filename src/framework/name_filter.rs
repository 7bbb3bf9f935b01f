//! Running just some tests of a shuffled job, in the order the shuffle gave them, with the
//! runner's own name filter ([`NameFilter`]): `go test -run '^(TestA|TestB)$'`, Jest's and
//! Vitest's `-t '^(a|b)$'`. A polluter search needs runs of a subset of the tests that ran
//! before a victim, in the order they ran; these runners shuffle the full list of a
//! package's (a file's) tests with the seed and only then skip the ones the filter leaves
//! out, so the same seed with a filter keeps the relative order of the failing run (checked
//! on go 1.19, Jest 29 and 30, Vitest 3). Without a shuffle flag they keep declaration
//! order, which is the order of the file-order run.
//!
//! Tests share state only inside one unit, a Go package's test binary or a Jest or Vitest
//! test file (each gets its own module registry), so only tests of the victim's unit are
//! candidates.

use super::command::Runner;
use super::python::pytest_order::SHUFFLE_VAR;

/// A runner's name filter, for the runners whose seeded shuffle survives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFilter {
    /// `-run` with an anchored alternation of top-level test names.
    GoRun,
    /// `-t` (`--testNamePattern`) with an anchored alternation of full test names.
    JestNames,
    /// Vitest's `-t`, the same, from names whose titles the JUnit report joins with ` > `.
    VitestNames,
    /// Mocha's `--grep` with an anchored alternation of full titles, under our order hook.
    MochaGrep,
}

impl NameFilter {
    /// The filter for `runner`, unless `argv` already filters by name (the command's own
    /// `-run` would win over ours, and the search would run tests it did not ask for).
    pub fn for_runner(runner: Runner, argv: &[String]) -> Option<NameFilter> {
        let given = |options: &[&str]| {
            argv.iter().any(|word| {
                options
                    .iter()
                    .any(|o| word == o || word.starts_with(&format!("{o}=")))
            })
        };
        match runner {
            Runner::GO_TEST if !given(&["-run", "--run", "-test.run"]) => Some(NameFilter::GoRun),
            Runner::JEST if !given(&["-t", "--testNamePattern", "--testNamePatterns"]) => {
                Some(NameFilter::JestNames)
            }
            Runner::VITEST if !given(&["-t", "--testNamePattern"]) => Some(NameFilter::VitestNames),
            Runner::MOCHA if !given(&["-g", "--grep", "-f", "--fgrep", "-i", "--invert"]) => {
                Some(NameFilter::MochaGrep)
            }
            _ => None,
        }
    }

    /// The arguments that run just `tests` (names as the job reports them).
    pub fn args(self, tests: &[String]) -> Vec<String> {
        match self {
            NameFilter::GoRun => {
                let mut names: Vec<&str> = Vec::new();
                for test in tests {
                    let name = go_top_level(test);
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                vec!["-run".into(), format!("^({})$", names.join("|"))]
            }
            NameFilter::JestNames | NameFilter::VitestNames => {
                let separator = match self {
                    NameFilter::VitestNames => " > ",
                    _ => " › ",
                };
                let names: Vec<String> = tests
                    .iter()
                    .map(|test| js_regex_escape(&full_name(test, separator)))
                    .collect();
                vec!["-t".into(), format!("^({})$", names.join("|"))]
            }
            NameFilter::MochaGrep => {
                let names: Vec<String> = tests
                    .iter()
                    .map(|test| js_regex_escape(&mocha_full_title(test)))
                    .collect();
                vec!["--grep".into(), format!("^({})$", names.join("|"))]
            }
        }
    }

    /// Variables that turn the shuffle on or off where our own hook shuffles (Mocha, which
    /// keeps its hook loaded for every run of a shuffled job); none for the others, whose
    /// shuffle is a flag.
    pub fn shuffle_vars(self, shuffled: bool) -> Vec<(String, String)> {
        match self {
            NameFilter::MochaGrep => {
                vec![(SHUFFLE_VAR.into(), if shuffled { "1" } else { "0" }.into())]
            }
            _ => Vec::new(),
        }
    }

    /// True when the shuffle's seed comes from `FLAKY_SEED` rather than a flag, so a line
    /// that replays a shuffled order must set it.
    pub fn seed_from_env(self) -> bool {
        self == NameFilter::MochaGrep
    }

    /// True when the runner's report lists tests in the order they ran. Vitest's reports
    /// list them as declared, whatever the shuffle did, so a failing order's prefix is not
    /// known: every test of the victim's file is a candidate (those that ran after it stay
    /// after it under the filter, so they cannot be blamed).
    pub fn report_keeps_run_order(self) -> bool {
        self != NameFilter::VitestNames
    }

    /// True when `test` can leave state behind for `victim`: both in one Go package or one
    /// Jest or Vitest file (the part of the name before `::`); any two tests under Mocha,
    /// which loads every file into one process.
    pub fn same_unit(self, test: &str, victim: &str) -> bool {
        if self == NameFilter::MochaGrep {
            return true;
        }
        let unit = |name: &str| name.split_once("::").map(|(unit, _)| unit.to_string());
        unit(test).is_some() && unit(test) == unit(victim)
    }
}

/// A Go test's top-level name: `pkg::TestA/sub` runs as `-run '^TestA$'` with its subtests.
/// Top-level names are Go identifiers, so they need no escaping.
pub(super) fn go_top_level(test: &str) -> &str {
    let name = test.split_once("::").map_or(test, |(_, name)| name);
    name.split('/').next().unwrap_or(name)
}

/// The name Jest and Vitest match `-t` against: the titles joined by spaces (the job names
/// a test `file::describe › title`, or `file::describe > title` from Vitest's JUnit).
pub(super) fn full_name(test: &str, separator: &str) -> String {
    let titles = test.split_once("::").map_or(test, |(_, titles)| titles);
    titles.split(separator).collect::<Vec<_>>().join(" ")
}

/// The full title Mocha's `--grep` matches: the suite titles and the test's, joined by
/// spaces (the job names a Mocha test `suite titles::title` from its xunit report).
pub(super) fn mocha_full_title(test: &str) -> String {
    match test.split_once("::") {
        Some(("", title)) => title.to_string(),
        Some((suites, title)) => format!("{suites} {title}"),
        None => test.to_string(),
    }
}

/// `text` as a JavaScript regular expression that matches it literally.
pub(super) fn js_regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.*+?()[]{}|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_runs_top_level_names_once_each() {
        let args = NameFilter::GoRun.args(&names(&[
            "example.com/m::TestA",
            "example.com/m::TestB/case_1",
            "example.com/m::TestB/case_2",
        ]));
        assert_eq!(args, ["-run", "^(TestA|TestB)$"]);
    }

    #[test]
    fn jest_names_are_full_names_escaped() {
        let args = NameFilter::JestNames.args(&names(&[
            "src/a.test.js::registry › adds (1+1)",
            "src/a.test.js::plain",
        ]));
        assert_eq!(args, ["-t", r"^(registry adds \(1\+1\)|plain)$"]);
    }

    #[test]
    fn vitest_names_come_from_its_junit_titles() {
        let args = NameFilter::VitestNames.args(&names(&["a.test.js::math > nested > adds"]));
        assert_eq!(args, ["-t", "^(math nested adds)$"]);
    }

    #[test]
    fn mocha_greps_full_titles_and_switches_its_hook_by_variable() {
        let args = NameFilter::MochaGrep.args(&names(&["registry::adds an entry", "::top"]));
        assert_eq!(args, ["--grep", "^(registry adds an entry|top)$"]);
        assert_eq!(
            NameFilter::MochaGrep.shuffle_vars(false),
            [("FLAKY_SHUFFLE".to_string(), "0".to_string())]
        );
        assert!(NameFilter::GoRun.shuffle_vars(true).is_empty());
    }

    #[test]
    fn a_command_that_filters_by_name_gets_no_filter() {
        let argv = names(&["go", "test", "-run", "TestX", "./..."]);
        assert_eq!(NameFilter::for_runner(Runner::GO_TEST, &argv), None);
        let argv = names(&["npx", "jest", "--testNamePattern=x"]);
        assert_eq!(NameFilter::for_runner(Runner::JEST, &argv), None);
        let argv = names(&["npx", "jest"]);
        assert_eq!(
            NameFilter::for_runner(Runner::JEST, &argv),
            Some(NameFilter::JestNames)
        );
        assert_eq!(NameFilter::for_runner(Runner::NEXTEST, &argv), None);
        let argv = names(&["npx", "mocha", "--grep", "x"]);
        assert_eq!(NameFilter::for_runner(Runner::MOCHA, &argv), None);
    }

    #[test]
    fn units_are_packages_or_files() {
        let f = NameFilter::GoRun;
        assert!(f.same_unit("m/a::TestA", "m/a::TestB"));
        assert!(!f.same_unit("m/a::TestA", "m/b::TestB"));
        assert!(!f.same_unit("m/a", "m/a::TestB"));
    }
}
