//! How a seed reaches a run: the seed project's environment variables per framework, plus
//! `FLAKY_SEED` and `TEST_SEED` everywhere so a suite of any language can read one name.

use super::Framework;

/// Variables that carry `seed` into a run of `framework`. The same list builds the reproduce
/// line, so a replay sets exactly what the failing run had.
pub fn seed_env(framework: Framework, seed: u64) -> Vec<(&'static str, String)> {
    let value = seed.to_string();
    let mut vars = vec![("FLAKY_SEED", value.clone()), ("TEST_SEED", value.clone())];
    match framework {
        // PYTHONHASHSEED fixes set and dict-of-str iteration order, a common hidden input.
        Framework::Python => vars.push(("PYTHONHASHSEED", (seed % 4_294_967_296).to_string())),
        Framework::Go => vars.push(("GO_TEST_SEED", value)),
        Framework::TypescriptJest => vars.push(("JEST_SEED", value)),
        Framework::TypescriptVitest => vars.push(("VITE_TEST_SEED", value)),
        Framework::JavascriptMocha => vars.push(("MOCHA_SEED", value)),
        Framework::Rust | Framework::Unknown => {}
    }
    vars
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

    #[test]
    fn each_node_runner_gets_its_own_name() {
        assert!(seed_env(Framework::TypescriptJest, 7).contains(&("JEST_SEED", "7".into())));
        assert!(seed_env(Framework::TypescriptVitest, 7).contains(&("VITE_TEST_SEED", "7".into())));
        assert!(seed_env(Framework::JavascriptMocha, 7).contains(&("MOCHA_SEED", "7".into())));
        assert!(seed_env(Framework::Go, 7).contains(&("GO_TEST_SEED", "7".into())));
    }
}
