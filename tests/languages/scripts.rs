//! The Node examples run as `npm test` (issue 11): the package manager's `test` script is
//! followed to Jest, Vitest or Mocha, whose report flags then go through `npm test --`, so
//! each flaky test is named with the seeds that fail it.

use std::collections::BTreeSet;

use flaky_detector::analysis::Verdict;
use serde_json::json;

use super::examples::{Example, jest, mocha, require_tools, vitest};
use super::{sandbox, seeds_job};

/// Runs `example` as `npm test` and checks that every test has a per-test result and that
/// the flaky tests named in `exact` (those drawn from the seed's environment variable, which
/// reaches the runner through npm) fail for exactly the predicted seeds.
async fn behind_npm_test(example: Example, exact: &[&str]) {
    let example = Example {
        command: "npm test",
        ..example
    };
    require_tools(&example);
    let sandbox = sandbox(&example);
    let seeds: Vec<u64> = (1..=16).collect();
    let expected = (example.expect)(&seeds);
    let summary = seeds_job(&example, &sandbox, &seeds, json!({ "confirm": false })).await;
    let context = format!("{} behind npm test: {:#?}", example.dir, summary.tests);
    assert!(summary.tests.len() >= 3, "{context}");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    for name in exact {
        let test = summary
            .tests
            .iter()
            .find(|t| t.name.contains(name))
            .unwrap_or_else(|| panic!("{name} is named: {context}"));
        let predicted: BTreeSet<u64> = expected
            .iter()
            .filter(|(_, failing)| failing.contains(name))
            .map(|(seed, _)| *seed)
            .collect();
        let failing: BTreeSet<u64> = test.failing_seeds.iter().copied().collect();
        assert_eq!(failing, predicted, "{name}: {context}");
        assert_eq!(test.runs as usize, seeds.len(), "{name}: {context}");
        if !predicted.is_empty() {
            assert_eq!(test.verdict, Verdict::Flaky, "{name}: {context}");
        }
    }
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jest_behind_npm_test_names_each_test() {
    // "price sync" draws from `jest.getSeed()`, which `npm test` does not set.
    behind_npm_test(jest(), &["session token refresh"]).await;
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vitest_behind_npm_test_names_each_test() {
    behind_npm_test(vitest(), &["restock lands before the read"]).await;
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocha_behind_npm_test_names_each_test() {
    behind_npm_test(
        mocha(),
        &[
            "rate feed refresh beats the quote",
            "settlement webhook arrives in time",
        ],
    )
    .await;
}
