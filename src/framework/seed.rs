//! How a seed reaches a run: the seed project's environment variables per framework, plus
//! `FLAKY_SEED` and `TEST_SEED` everywhere so a suite of any language can read one name
//! ([`seed_env`]), and the runner's own seed option where it has one ([`seed_args`]).

use super::Framework;
use super::adapter::{adapter_for_argv, adapter_for_framework};
use super::command::{RunnerAt, insert_flags};

/// The variable that fixes a run's hash seed. A run forked from a server has its server's,
/// not its seed's, so its reproduce line sets this to what the run really had.
pub const HASH_SEED_VAR: &str = "PYTHONHASHSEED";

/// Variables that carry `seed` into a run of `framework`. The same list builds the reproduce
/// line, so a replay sets exactly what the failing run had.
pub fn seed_env(framework: Framework, seed: u64) -> Vec<(&'static str, String)> {
    let value = seed.to_string();
    let mut vars = vec![("FLAKY_SEED", value.clone()), ("TEST_SEED", value)];
    if let Some(adapter) = adapter_for_framework(framework) {
        vars.extend(adapter.seed_vars(framework, seed));
    }
    vars
}

/// Arguments that hand `seed` to the test runner itself: Jest's `--seed=<n>` (29.2+, read in a
/// test with `jest.getSeed()`, also the order of `--randomize`) and Vitest's
/// `--sequence.seed=<n>` (the order of `--sequence.shuffle` and `describe.shuffle`). Only when
/// the command starts the runner directly (`npx jest`, `vitest run`, `node_modules/.bin/jest`):
/// behind `npm test` or `make` the arguments could land on another program, so there the
/// variables of [`seed_env`] carry the seed alone. A command that already gives the option
/// keeps its own.
///
/// pytest, `go test`, Mocha, `cargo test` and nextest have no option that seeds the tests
/// themselves (`go test -shuffle` only reorders them, a shuffle setting, not a seed), so they
/// get none.
pub fn seed_args(argv: &[String], seed: u64) -> Vec<String> {
    match adapter_for_argv(argv) {
        Some((adapter, at)) => adapter.seed_args(at.runner, argv, seed),
        None => Vec::new(),
    }
}

/// `argv` with [`seed_args`] right after the runner's name, as a run and its reproduce line
/// get it.
pub fn with_seed_args(argv: &[String], seed: u64) -> Vec<String> {
    match RunnerAt::find(argv) {
        Some(at) => insert_flags(argv, at.insert_at, &seed_args(argv, seed)),
        None => argv.to_vec(),
    }
}

/// The seed of each run: `explicit` cycled when given (a replay), else `runs` seeds drawn
/// from `range` without repeats where the range allows, so no two runs of a job (or of the
/// shards of one request) test the same seed.
pub fn plan_seeds(runs: u32, range: (u64, u64), explicit: Option<&[u64]>) -> Vec<u64> {
    if let Some(seeds) = explicit.filter(|s| !s.is_empty()) {
        return (0..runs as usize).map(|i| seeds[i % seeds.len()]).collect();
    }
    let (min, max) = range;
    let span = max.saturating_sub(min).saturating_add(1);
    let mut rng = rand::rng();
    let mut seen = std::collections::HashSet::new();
    let mut seeds = Vec::with_capacity(runs as usize);
    while seeds.len() < runs as usize {
        let seed = rand::Rng::random_range(&mut rng, min..=max);
        if span >= 2 * u64::from(runs) && !seen.insert(seed) {
            continue;
        }
        seeds.push(seed);
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_gets_the_seed_projects_variable_and_hash_seed() {
        let vars = seed_env(Framework::Python, 4242);
        assert!(vars.contains(&("TEST_SEED", "4242".into())));
        assert!(vars.contains(&("PYTHONHASHSEED", "4242".into())));
    }

    #[test]
    fn drawn_seeds_are_distinct_and_in_range() {
        let seeds = plan_seeds(500, (1, 1000), None);
        let distinct: std::collections::HashSet<_> = seeds.iter().collect();
        assert_eq!(distinct.len(), 500);
        assert!(seeds.iter().all(|s| (1..=1000).contains(s)));
    }

    #[test]
    fn explicit_seeds_are_cycled() {
        assert_eq!(plan_seeds(5, (1, 10), Some(&[7, 9])), vec![7, 9, 7, 9, 7]);
    }

    fn words(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn jest_and_vitest_get_their_own_seed_option() {
        assert_eq!(seed_args(&words("npx jest --ci"), 42), ["--seed=42"]);
        assert_eq!(
            seed_args(&words("node node_modules/jest/bin/jest.js"), 42),
            ["--seed=42"]
        );
        assert_eq!(
            seed_args(&words("pnpm exec vitest run"), 42),
            ["--sequence.seed=42"]
        );
        assert_eq!(
            seed_args(&words("./node_modules/.bin/vitest run"), 42),
            ["--sequence.seed=42"]
        );
    }

    #[test]
    fn the_seed_option_goes_right_after_the_runner() {
        assert_eq!(
            with_seed_args(&words("npx vitest run -- extra"), 9),
            words("npx vitest run --sequence.seed=9 -- extra")
        );
        assert_eq!(with_seed_args(&words("pytest -q"), 9), words("pytest -q"));
    }

    #[test]
    fn jest_seeds_wrap_into_its_32_bit_range() {
        assert_eq!(seed_args(&words("jest"), (1 << 31) + 5), ["--seed=5"]);
    }

    #[test]
    fn no_seed_option_behind_a_script_or_for_runners_without_one() {
        for command in [
            "npm test",
            "yarn test",
            "make test",
            "npx mocha",
            "pytest -q",
            "go test ./...",
            "cargo nextest run",
        ] {
            assert!(seed_args(&words(command), 7).is_empty(), "{command}");
        }
    }

    #[test]
    fn a_seed_the_command_gives_is_kept() {
        assert!(seed_args(&words("npx jest --seed=3"), 7).is_empty());
        assert!(seed_args(&words("npx jest --seed 3"), 7).is_empty());
        assert!(seed_args(&words("vitest run --sequence.seed=3"), 7).is_empty());
    }

    #[test]
    fn each_node_runner_gets_its_own_name() {
        assert!(seed_env(Framework::TypescriptJest, 7).contains(&("JEST_SEED", "7".into())));
        assert!(seed_env(Framework::TypescriptVitest, 7).contains(&("VITE_TEST_SEED", "7".into())));
        assert!(seed_env(Framework::JavascriptMocha, 7).contains(&("MOCHA_SEED", "7".into())));
        assert!(seed_env(Framework::Go, 7).contains(&("GO_TEST_SEED", "7".into())));
    }
}
