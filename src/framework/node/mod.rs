//! Node's adapter ([`Node`]) for Jest, Vitest and Mocha: detection from `package.json`'s
//! dependencies, `npm ci` ([`install`]), each runner's seed option, report and shuffle flags,
//! Jest's JSON report ([`results`]), and the runner behind `npm test` ([`script`]).

pub mod install;
pub mod mocha_order;
pub mod results;
pub mod script;

use std::path::{Path, PathBuf};

use super::Framework;
use super::adapter::{Adapter, Pending};
use super::command::{Runner, argv_sets};
use super::install::{InstallContext, Prepared};
use super::runner_report::{not_read, read_junit, readable, report_of};
use super::results::junit;
use super::results::test_result::TestReport;
use crate::errors::one_line;
use crate::process::capture::Captured;
use crate::workspace::read::{REPORT_CAP, read_capped};

/// Node with Jest, Vitest or Mocha.
pub struct Node;

/// This language's runners, the keys of [`Adapter::runners`].
impl Runner {
    /// Jest.
    pub const JEST: Runner = Runner::named("jest");
    /// Vitest.
    pub const VITEST: Runner = Runner::named("vitest");
    /// Mocha.
    pub const MOCHA: Runner = Runner::named("mocha");
}

impl Adapter for Node {
    fn frameworks(&self) -> &'static [Framework] {
        &[
            Framework::TypescriptJest,
            Framework::TypescriptVitest,
            Framework::JavascriptMocha,
        ]
    }

    fn runners(&self) -> &'static [Runner] {
        &[Runner::JEST, Runner::VITEST, Runner::MOCHA]
    }

    fn recognise_files(&self, dir: &Path) -> Option<Framework> {
        let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
        let package: serde_json::Value = serde_json::from_str(&text).ok()?;
        let has_dep = |name: &str| {
            ["dependencies", "devDependencies"]
                .iter()
                .any(|section| package.get(section).and_then(|s| s.get(name)).is_some())
        };
        if has_dep("jest") {
            Some(Framework::TypescriptJest)
        } else if has_dep("vitest") {
            Some(Framework::TypescriptVitest)
        } else if has_dep("mocha") {
            Some(Framework::JavascriptMocha)
        } else {
            None
        }
    }

    fn recognise_any_word(&self, words: &[&str]) -> Option<Framework> {
        let any = |name: &str| words.iter().take(4).any(|w| *w == name);
        if any("jest") {
            Some(Framework::TypescriptJest)
        } else if any("vitest") {
            Some(Framework::TypescriptVitest)
        } else if any("mocha") {
            Some(Framework::JavascriptMocha)
        } else {
            None
        }
    }

    fn install<'a>(&'a self, ctx: &'a InstallContext<'_>) -> Pending<'a, Prepared> {
        Box::pin(install::install(ctx))
    }

    fn seed_vars(&self, framework: Framework, seed: u64) -> Vec<(&'static str, String)> {
        let name = match framework {
            Framework::TypescriptJest => "JEST_SEED",
            Framework::TypescriptVitest => "VITE_TEST_SEED",
            _ => "MOCHA_SEED",
        };
        vec![(name, seed.to_string())]
    }

    fn runner_at(&self, words: &[&str], i: usize) -> Option<(Runner, usize)> {
        let next = words.get(i + 1).copied();
        match *words.get(i)? {
            "jest" => Some((Runner::JEST, i + 1)),
            "vitest" if next == Some("run") => Some((Runner::VITEST, i + 2)),
            "vitest" => Some((Runner::VITEST, i + 1)),
            "mocha" | "_mocha" => Some((Runner::MOCHA, i + 1)),
            _ => None,
        }
    }

    fn sets_own_report(&self, runner: Runner, argv: &[String]) -> bool {
        match runner {
            Runner::MOCHA => argv_sets(argv, &["--reporter", "-R", "--reporter-option", "-O"]),
            Runner::JEST => argv_sets(argv, &["--json", "--outputFile"]),
            _ => false,
        }
    }

    /// Jest's `--seed=<n>` and Vitest's `--sequence.seed=<n>`; see
    /// [`crate::framework::seed::seed_args`].
    fn seed_args(&self, runner: Runner, argv: &[String], seed: u64) -> Vec<String> {
        let has = |prefix: &str| argv_sets(argv, &[prefix]);
        match runner {
            // Jest takes a signed 32-bit seed; larger seeds wrap so every seed is accepted.
            Runner::JEST if !has("--seed") => vec![format!("--seed={}", seed % (1 << 31))],
            Runner::VITEST if !has("--sequence.seed") => {
                vec![format!("--sequence.seed={seed}")]
            }
            _ => Vec::new(),
        }
    }

    fn report_flags(
        &self,
        runner: Runner,
        run_dir: &Path,
        flags: &mut Vec<String>,
    ) -> std::io::Result<Option<PathBuf>> {
        let file = |name: &str| run_dir.join(name).display().to_string();
        match runner {
            Runner::JEST => {
                flags.push("--json".into());
                flags.push(format!("--outputFile={}", file("jest.json")));
            }
            Runner::VITEST => {
                // The default reporter keeps the run's output readable.
                flags.push("--reporter=default".into());
                flags.push("--reporter=junit".into());
                flags.push(format!("--outputFile.junit={}", file("junit.xml")));
            }
            _ => {
                flags.push("--reporter".into());
                flags.push("xunit".into());
                flags.push("--reporter-option".into());
                flags.push(format!("output={}", file("junit.xml")));
            }
        }
        Ok(None)
    }

    fn read_report(
        &self,
        runner: Runner,
        run_dir: &Path,
        _stdout_copy: Option<&Path>,
        cwd: &Path,
        output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        let read = |name: &str| read_capped(&run_dir.join(name), REPORT_CAP);
        match runner {
            Runner::JEST => match read("jest.json") {
                Ok(json) => (report_of(results::parse(&json, cwd)), None),
                Err(error) => (not_read("jest.json", &error), None),
            },
            // Mocha has one reporter at a time: with ours writing the file, its stdout is
            // empty, so the run's readable output is rebuilt from the report.
            Runner::MOCHA => match read("junit.xml").map(|xml| junit::parse(&xml)) {
                Ok(Ok(results)) => {
                    let text = readable(&results, output_limit);
                    (TestReport::Parsed(results), Some(text))
                }
                Ok(Err(error)) => (TestReport::Unreadable(one_line(&error)), None),
                Err(error) => (not_read("junit.xml", &error), None),
            },
            _ => (read_junit(run_dir), None),
        }
    }

    /// Mocha has no seeded shuffle: our own root hook does it ([`mocha_order`]).
    fn shuffle(&self, runner: Runner, _shuffler_installed: bool) -> Result<bool, String> {
        Ok(runner == Runner::MOCHA)
    }

    /// A seed option already in `argv` (from the command or [`Adapter::seed_args`]) is not
    /// repeated.
    fn shuffle_flags(
        &self,
        runner: Runner,
        _plugin: bool,
        seed: u64,
        argv: &[String],
    ) -> Vec<String> {
        let has = |prefix: &str| argv.iter().any(|w| w.starts_with(prefix));
        let int31 = seed % (1 << 31);
        let mut flags = Vec::new();
        match runner {
            Runner::JEST => {
                flags.push("--randomize".into());
                if !has("--seed") {
                    flags.push(format!("--seed={int31}"));
                }
            }
            Runner::VITEST => {
                flags.push("--sequence.shuffle".into());
                if !has("--sequence.seed") {
                    flags.push(format!("--sequence.seed={int31}"));
                }
            }
            _ => {}
        }
        flags
    }
}
