//! Where a test runner sits in a command ([`RunnerAt`]): which runner it is, looking past
//! launchers such as `npx` or `python -m`, and where flags for it can be inserted
//! ([`insert_flags`]) without landing after a `--` meant for something else. Each language's
//! adapter recognises its own runners ([`super::adapter::Adapter::runner_at`]).

use super::adapter::{ADAPTERS, adapter_for_runner};

/// A test runner we recognise in a command, by name. Each language's adapter defines its
/// runners as constants in its own folder (`Runner::PYTEST` in `python/`), so a new
/// language adds its runners there and nothing here changes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Runner(&'static str);

impl Runner {
    /// The runner called `name` (its usual spelling in a command, for messages).
    pub const fn named(name: &'static str) -> Runner {
        Runner(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Runner {
    /// True when `argv` already chooses this runner's report file or reporter (a CI
    /// command with `--junitxml=report.xml`, `--reporter spec`).
    pub fn sets_own_report(self, argv: &[String]) -> bool {
        adapter_for_runner(self).sets_own_report(self, argv)
    }
}

/// True when `argv` has one of `options`, alone or as `option=value`.
pub fn argv_sets(argv: &[String], options: &[&str]) -> bool {
    argv.iter().any(|word| {
        options
            .iter()
            .any(|o| word == o || word.starts_with(&format!("{o}=")))
    })
}

/// Where in a command a runner sits: flags for it are inserted at `insert_at`, right after
/// its name (and subcommand), so they never land after a `--` meant for something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerAt {
    pub runner: Runner,
    pub insert_at: usize,
}

/// Words that may come before the runner's name: package-manager launchers and wrappers.
const LAUNCHERS: [&str; 15] = [
    "npx", "pnpm", "yarn", "bunx", "npm", "exec", "run", "--", "poetry", "uv", "pipenv", "pdm",
    "hatch", "node", "-m",
];

impl RunnerAt {
    /// Finds the runner in `argv`, looking past launchers such as `npx`, `poetry run` or
    /// `python -m`. `make test` or `sh -c '…'` are not recognised: we cannot know where
    /// flags would go.
    pub fn find(argv: &[String]) -> Option<RunnerAt> {
        // `node node_modules/jest/bin/jest.js` starts Jest: compare names without the script
        // extension.
        let words: Vec<&str> = argv
            .iter()
            .map(|w| {
                let base = w.rsplit('/').next().unwrap_or(w);
                [".js", ".cjs", ".mjs"]
                    .iter()
                    .find_map(|ext| base.strip_suffix(ext))
                    .unwrap_or(base)
            })
            .collect();
        for (i, word) in words.iter().enumerate().take(6) {
            let found = ADAPTERS
                .iter()
                .find_map(|adapter| adapter.runner_at(&words, i));
            if let Some((runner, insert_at)) = found {
                return Some(RunnerAt { runner, insert_at });
            }
            if !(LAUNCHERS.contains(word) || word.starts_with("python")) {
                return None;
            }
        }
        None
    }
}

/// `argv` with `flags` inserted at `at` (clamped to the end).
pub fn insert_flags(argv: &[String], at: usize, flags: &[String]) -> Vec<String> {
    let at = at.min(argv.len());
    let mut out = Vec::with_capacity(argv.len() + flags.len());
    out.extend_from_slice(&argv[..at]);
    out.extend_from_slice(flags);
    out.extend_from_slice(&argv[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    fn found(command: &str) -> Option<(Runner, usize)> {
        RunnerAt::find(&argv(command)).map(|at| (at.runner, at.insert_at))
    }

    #[test]
    fn recognises_runners_behind_launchers() {
        assert_eq!(found("pytest -q"), Some((Runner::PYTEST, 1)));
        assert_eq!(found("python3 -m pytest tests"), Some((Runner::PYTEST, 3)));
        assert_eq!(found("poetry run pytest"), Some((Runner::PYTEST, 3)));
        assert_eq!(found(".venv/bin/pytest"), Some((Runner::PYTEST, 1)));
        assert_eq!(found("go test ./..."), Some((Runner::GO_TEST, 2)));
        assert_eq!(found("npx jest --ci"), Some((Runner::JEST, 2)));
        assert_eq!(found("npx vitest run"), Some((Runner::VITEST, 3)));
        assert_eq!(found("pnpm vitest"), Some((Runner::VITEST, 2)));
        assert_eq!(
            found("node_modules/.bin/mocha test"),
            Some((Runner::MOCHA, 1))
        );
        assert_eq!(found("cargo nextest run -E x"), Some((Runner::NEXTEST, 3)));
    }

    #[test]
    fn does_not_guess_inside_other_commands() {
        assert_eq!(found("make test"), None);
        assert_eq!(found("npm test"), None);
        assert_eq!(found("sh -c 'pytest -q'"), None);
        assert_eq!(found("cargo test"), None);
        assert_eq!(found("go vet ./..."), None);
        assert_eq!(found("./run-tests.sh pytest"), None);
    }

    #[test]
    fn flags_go_right_after_the_runner() {
        let words = argv("npx vitest run -- --foo");
        let at = RunnerAt::find(&words).expect("vitest found");
        let out = insert_flags(&words, at.insert_at, &["--x".to_string()]);
        assert_eq!(out, argv("npx vitest run --x -- --foo"));
    }
}
