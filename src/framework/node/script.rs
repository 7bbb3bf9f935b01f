//! `npm test`, `yarn test`, `pnpm test` (and `… run test`) resolved through the checkout's
//! `package.json` to the runner its `test` script starts ([`ScriptRunner::find`]), so the
//! runner's report flags can be passed through the package manager.

use std::path::Path;

use crate::framework::command::{Runner, RunnerAt};

/// A Node runner behind a package manager's `test` script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptRunner {
    pub runner: Runner,
    /// The package manager needs a `--` before arguments meant for the script (npm), and
    /// the command has none yet.
    pub separator: bool,
}

/// Words in a script that make appended arguments land somewhere other than the runner.
const SHELL_OPERATORS: [&str; 6] = ["&&", "||", ";", "|", ">", "<"];

impl ScriptRunner {
    /// The runner of `argv`'s `test` script, when `argv` is `npm|yarn|pnpm [run] test` (or
    /// `npm t`) and the script is a single Jest, Vitest or Mocha command: arguments the
    /// package manager appends then reach that runner. `None` for anything else (a script
    /// that chains commands, a script we cannot read).
    pub fn find(argv: &[String], checkout: &Path) -> Option<ScriptRunner> {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let manager = words.first()?.rsplit('/').next()?;
        let rest = match words.get(1..)? {
            ["run" | "run-script", rest @ ..] => rest,
            rest => rest,
        };
        let script = match (manager, rest) {
            ("npm", ["test" | "t", ..]) | ("yarn" | "pnpm", ["test", ..]) => "test",
            _ => return None,
        };
        let text = std::fs::read_to_string(checkout.join("package.json")).ok()?;
        let package: serde_json::Value = serde_json::from_str(&text).ok()?;
        let line = package.get("scripts")?.get(script)?.as_str()?;
        let script_words = shlex::split(line)?;
        if script_words
            .iter()
            .any(|w| SHELL_OPERATORS.contains(&w.as_str()))
        {
            return None;
        }
        // `cross-env CI=1 jest`: variable assignments before the runner are fine.
        let start = script_words
            .iter()
            .position(|w| !w.contains('=') && w != "cross-env")
            .unwrap_or(0);
        let RunnerAt { runner, .. } = RunnerAt::find(&script_words[start..])?;
        if !matches!(runner, Runner::JEST | Runner::VITEST | Runner::MOCHA) {
            return None;
        }
        Some(ScriptRunner {
            runner,
            separator: manager == "npm" && !words.contains(&"--"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(command: &str, script: &str) -> Option<ScriptRunner> {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = serde_json::json!({ "scripts": { "test": script } });
        std::fs::write(dir.path().join("package.json"), package.to_string()).expect("write");
        let argv = shlex::split(command).expect("splits");
        ScriptRunner::find(&argv, dir.path())
    }

    #[test]
    fn resolves_the_test_script_of_each_package_manager() {
        let jest = Some(ScriptRunner {
            runner: Runner::JEST,
            separator: true,
        });
        assert_eq!(found("npm test", "jest --ci"), jest);
        assert_eq!(found("npm run test", "jest"), jest);
        assert_eq!(
            found("npm test -- --silent", "jest"),
            Some(ScriptRunner {
                runner: Runner::JEST,
                separator: false
            })
        );
        assert_eq!(
            found("yarn test", "vitest run").map(|s| (s.runner, s.separator)),
            Some((Runner::VITEST, false))
        );
        assert_eq!(
            found("pnpm test", "cross-env NODE_ENV=test mocha test/").map(|s| s.runner),
            Some(Runner::MOCHA)
        );
    }

    #[test]
    fn leaves_scripts_it_cannot_follow() {
        assert_eq!(found("npm test", "tsc && jest"), None);
        assert_eq!(found("npm test", "node run-tests.js"), None);
        assert_eq!(found("npm run lint", "jest"), None);
        assert_eq!(found("make test", "jest"), None);
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            ScriptRunner::find(&["npm".into(), "test".into()], dir.path()),
            None
        );
    }
}
