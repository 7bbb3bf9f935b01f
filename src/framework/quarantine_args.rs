//! How each runner is told, in its own terms, that quarantined tests must not fail the run
//! ([`ApplyRunner::apply`]), so a CI step applies the quarantine file without editing a test:
//! pytest runs them as `xfail(strict=False)` through our shipped plugin, `go test -skip`,
//! Jest's and Vitest's `-t` with a pattern that matches every other name, Mocha's inverted
//! `--grep`, nextest's filter expression and `cargo test -- --skip … --exact` leave them out.
//! Names are the ones history records (see [`super::name_filter`] for how they map to the
//! runners' own).

use std::path::{Path, PathBuf};

use super::Framework;
use super::name_filter::{full_name, go_top_level, js_regex_escape, mocha_full_title};
use super::shipped::write_shipped;

/// The plugin's source, written to the cache directory when it is applied.
const PYTEST_PLUGIN: &str = include_str!("python/pytest_quarantine.py");
/// The module name `-p` loads.
pub const PYTEST_MODULE: &str = "flaky_detector_quarantine";
/// The variable naming the plugin's list of tests, one per line.
pub const PYTEST_LIST_VAR: &str = "FLAKY_QUARANTINE_FILE";

/// A runner whose way of tolerating or skipping tests `quarantine --apply-args` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApplyRunner {
    /// Variables that load our plugin, which marks them `xfail(strict=False)`: they still
    /// run, and their failures do not fail the session.
    Pytest,
    /// `-skip '^(TestA|TestB)$'` (go 1.20 or later); before 1.20, which has no `-skip`,
    /// `-run` with every other top-level test (from `go test -list`).
    Go,
    /// `-t '^(?!(a|b)$)'`: every test whose full name is not a quarantined one.
    Jest,
    /// As Jest.
    Vitest,
    /// `--grep '^(a|b)$' --invert`.
    Mocha,
    /// `-E 'not (…)'`, a filter expression naming each test exactly.
    Nextest,
    /// `-- --skip a --skip b --exact`, after `cargo test`.
    Cargo,
}

/// What to add to the runner's command line: arguments after it, or variables before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Args(Vec<String>),
    Env(Vec<(String, String)>),
}

impl Applied {
    /// One shell line: `NAME=value …` to put before the command, or the words to put after
    /// it, each quoted for `sh` (so `eval "go test ./... $(…)"` keeps a pattern whole).
    pub fn shell_line(&self) -> String {
        let words: Vec<String> = match self {
            Applied::Args(args) => args.iter().map(|a| quote(a)).collect(),
            Applied::Env(vars) => vars
                .iter()
                .map(|(name, value)| format!("{name}={}", quote(value)))
                .collect(),
        };
        words.join(" ")
    }
}

fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.replace('\0', ""), |q| q.into_owned())
}

impl ApplyRunner {
    /// The framework whose tests this runner runs.
    pub fn framework(self) -> Framework {
        match self {
            ApplyRunner::Pytest => Framework::Python,
            ApplyRunner::Go => Framework::Go,
            ApplyRunner::Jest => Framework::TypescriptJest,
            ApplyRunner::Vitest => Framework::TypescriptVitest,
            ApplyRunner::Mocha => Framework::JavascriptMocha,
            ApplyRunner::Nextest | ApplyRunner::Cargo => Framework::Rust,
        }
    }

    /// The arguments or variables that keep `tests` (names as history records them) from
    /// failing the run; nothing when there are none. `cache_dir` is where pytest's plugin
    /// and its list are written, and `env` the caller's environment, whose PYTHONPATH and
    /// PYTEST_ADDOPTS are kept. `go_tests`: for a Go without `-skip`, every top-level test
    /// of the module, so that `-run` names the others. Blocking file work for pytest.
    pub fn apply(
        self,
        tests: &[String],
        cache_dir: &Path,
        env: &[(String, String)],
        go_tests: Option<&[String]>,
    ) -> std::io::Result<Applied> {
        if tests.is_empty() {
            return Ok(Applied::Args(Vec::new()));
        }
        let args = match self {
            ApplyRunner::Pytest => return pytest_env(tests, cache_dir, env).map(Applied::Env),
            ApplyRunner::Go => {
                let mut names: Vec<&str> = Vec::new();
                for name in tests.iter().map(|t| go_top_level(t)) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                match go_tests {
                    None => vec!["-skip".into(), format!("^({})$", names.join("|"))],
                    Some(all) => {
                        let others: Vec<&str> = all
                            .iter()
                            .map(String::as_str)
                            .filter(|t| !names.contains(t))
                            .collect();
                        vec!["-run".into(), format!("^({})$", others.join("|"))]
                    }
                }
            }
            ApplyRunner::Jest | ApplyRunner::Vitest => {
                let separator = if self == ApplyRunner::Vitest {
                    " > "
                } else {
                    " › "
                };
                let names: Vec<String> = tests
                    .iter()
                    .map(|t| js_regex_escape(&full_name(t, separator)))
                    .collect();
                vec!["-t".into(), format!("^(?!({})$)", names.join("|"))]
            }
            ApplyRunner::Mocha => {
                let names: Vec<String> = tests
                    .iter()
                    .map(|t| js_regex_escape(&mocha_full_title(t)))
                    .collect();
                vec![
                    "--grep".into(),
                    format!("^({})$", names.join("|")),
                    "--invert".into(),
                ]
            }
            ApplyRunner::Nextest => {
                let sets: Vec<String> = tests.iter().map(|t| nextest_set(t)).collect();
                vec!["-E".into(), format!("not ({})", sets.join(" | "))]
            }
            ApplyRunner::Cargo => {
                let mut args = vec!["--".to_string()];
                for test in tests {
                    args.push("--skip".into());
                    args.push(test.clone());
                }
                args.push("--exact".into());
                args
            }
        };
        Ok(Applied::Args(args))
    }
}

/// nextest's JUnit report names a test `binary-id::test::path`, and a binary id is
/// `crate`, or `crate::name` for an integration test or binary: the test path of both
/// readings, each exact. Not `binary_id(=…)`: nextest refuses an expression whose binary
/// id matches no binary, which one of the two readings never does. A name without `::` is
/// a test name alone.
fn nextest_set(test: &str) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace(')', "\\)");
    let splits: Vec<usize> = test.match_indices("::").map(|(i, _)| i).take(2).collect();
    let readings: Vec<String> = splits
        .iter()
        .filter(|&&at| at + 2 < test.len())
        .map(|&at| format!("test(={})", escape(&test[at + 2..])))
        .collect();
    match readings.len() {
        0 => format!("test(={})", escape(test)),
        1 => readings.concat(),
        _ => format!("({})", readings.join(" | ")),
    }
}

/// Our plugin and the list of tests written under `cache_dir` (each under a name that is a
/// hash of its text, so concurrent CI jobs never see a half-written one), and the variables
/// that load it.
fn pytest_env(
    tests: &[String],
    cache_dir: &Path,
    env: &[(String, String)],
) -> std::io::Result<Vec<(String, String)>> {
    let plugin = write_shipped(
        cache_dir,
        "pytest-quarantine",
        &format!("{PYTEST_MODULE}.py"),
        PYTEST_PLUGIN,
    )?;
    let dir = plugin.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut list = tests.join("\n");
    list.push('\n');
    let listed = write_shipped(cache_dir, "pytest-quarantine-list", "tests.txt", &list)?;
    let current = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let dir = dir.display().to_string();
    let python_path = match current("PYTHONPATH") {
        Some(rest) => format!("{dir}:{rest}"),
        None => dir,
    };
    let load = format!("-p {PYTEST_MODULE}");
    let addopts = match current("PYTEST_ADDOPTS") {
        Some(rest) if rest.contains(&load) => rest.to_string(),
        Some(rest) => format!("{rest} {load}"),
        None => load,
    };
    Ok(vec![
        ("PYTHONPATH".into(), python_path),
        ("PYTEST_ADDOPTS".into(), addopts),
        (PYTEST_LIST_VAR.into(), listed.display().to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn args(runner: ApplyRunner, tests: &[&str]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("a temp dir");
        match runner
            .apply(&names(tests), dir.path(), &[], None)
            .expect("applies")
        {
            Applied::Args(args) => args,
            Applied::Env(_) => panic!("{runner:?} gives variables"),
        }
    }

    #[test]
    fn go_skips_top_level_names_anchored() {
        assert_eq!(
            args(
                ApplyRunner::Go,
                &["m/p::TestA", "m/p::TestB/sub", "m/q::TestC"]
            ),
            ["-skip", "^(TestA|TestB|TestC)$"]
        );
    }

    #[test]
    fn a_go_without_skip_runs_every_other_test() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let all = names(&["TestA", "TestB", "ExampleC"]);
        let applied = ApplyRunner::Go
            .apply(&names(&["m::TestB/sub"]), dir.path(), &[], Some(&all))
            .expect("applies");
        assert_eq!(
            applied,
            Applied::Args(names(&["-run", "^(TestA|ExampleC)$"]))
        );
    }

    #[test]
    fn jest_and_vitest_match_every_other_name() {
        assert_eq!(
            args(
                ApplyRunner::Jest,
                &["a.test.js::math › adds (1+1)", "b.test.js::x"]
            ),
            ["-t", r"^(?!(math adds \(1\+1\)|x)$)"]
        );
        assert_eq!(
            args(ApplyRunner::Vitest, &["a.test.ts::math > flaky"]),
            ["-t", "^(?!(math flaky)$)"]
        );
    }

    #[test]
    fn mocha_inverts_its_grep() {
        assert_eq!(
            args(ApplyRunner::Mocha, &["suite::flaky one"]),
            ["--grep", "^(suite flaky one)$", "--invert"]
        );
    }

    #[test]
    fn nextest_names_each_test_exactly_and_cargo_skips_exactly() {
        assert_eq!(
            args(ApplyRunner::Nextest, &["proj::tests::bad", "solo"]),
            ["-E", "not ((test(=tests::bad) | test(=bad)) | test(=solo))"]
        );
        assert_eq!(
            args(ApplyRunner::Cargo, &["a::flaky", "b"]),
            ["--", "--skip", "a::flaky", "--skip", "b", "--exact"]
        );
    }

    #[test]
    fn nothing_quarantined_adds_nothing() {
        assert!(args(ApplyRunner::Go, &[]).is_empty());
    }

    #[test]
    fn pytest_gets_the_plugin_and_its_list_on_the_path_kept() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let env = vec![("PYTHONPATH".to_string(), "/mine".to_string())];
        let applied = ApplyRunner::Pytest
            .apply(
                &names(&["tests.test_a::test_flaky"]),
                dir.path(),
                &env,
                None,
            )
            .expect("written");
        let Applied::Env(vars) = &applied else {
            panic!("pytest gives variables");
        };
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .expect(name)
        };
        let path = get("PYTHONPATH");
        let (plugin_dir, rest) = path.split_once(':').expect("two entries");
        assert_eq!(rest, "/mine");
        assert!(
            Path::new(plugin_dir)
                .join("flaky_detector_quarantine.py")
                .is_file()
        );
        assert_eq!(get("PYTEST_ADDOPTS"), "-p flaky_detector_quarantine");
        let list = std::fs::read_to_string(get(PYTEST_LIST_VAR)).expect("the list");
        assert_eq!(list, "tests.test_a::test_flaky\n");
        assert!(applied.shell_line().starts_with("PYTHONPATH="));
    }
}
