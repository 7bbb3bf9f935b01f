//! `submit --shards K` against a local `serve` running the shards at once: one summary of
//! the same shape as a single job's, counts equal to the sum, no seed run twice, and the
//! per-test figures recomputed over all the runs (a pytest suite keyed on TEST_SEED, so
//! which seeds fail is known).

use crate::support::http as ci_support;
use crate::support::runpod as support;

use ci_support::{cli, stderr, stdout};
use flaky_detector::analysis::stats::{round3, wilson};
use serde_json::Value;
use support::fixture;
use support::server::Server;

const SUITE: &str = r#"
import os

SEED = int(os.environ["TEST_SEED"])


def test_stable():
    pass


def test_every_third():
    assert SEED % 3 != 0, f"seed {SEED} is a multiple of 3"


def test_every_fifth():
    assert SEED % 5 != 0, f"seed {SEED} is a multiple of 5"
"#;

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn summary_of(output: &std::process::Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).expect("the summary is JSON")
}

fn seeds(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_u64().expect("a seed"))
        .collect()
}

#[tokio::test]
async fn four_shards_make_one_summary_with_per_test_figures_over_all_runs() {
    let server = Server::start(&["--allow-local-repos", "--concurrency", "4"]).await;
    let repo = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(repo.path().join("tests")).expect("mkdir");
    std::fs::write(repo.path().join("tests/test_seeded.py"), SUITE).expect("write the suite");
    let dir = tempfile::tempdir().expect("temp dir");
    let all: Vec<u64> = (1..=40).collect();
    let seed_list: Vec<String> = all.iter().map(u64::to_string).collect();
    let seed_list = seed_list.join(",");
    let args = [
        "submit",
        "--url",
        &server.base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "pytest -q -p no:cacheprovider tests",
        "--seed",
        &seed_list,
        "-p",
        "2",
        "--shards",
        "4",
        "--no-confirm",
        "--poll-interval",
        "0.2",
        "--json",
    ];
    let summary = summary_of(&cli(dir.path(), &args, &[]).await);

    // Counts are the sum of the four shards; every seed ran once, in order.
    let third: Vec<u64> = all.iter().copied().filter(|s| s % 3 == 0).collect();
    let fifth: Vec<u64> = all.iter().copied().filter(|s| s % 5 == 0).collect();
    let failing: Vec<u64> = all
        .iter()
        .copied()
        .filter(|s| s % 3 == 0 || s % 5 == 0)
        .collect();
    assert_eq!(summary["total_runs"], 40);
    assert_eq!(summary["runs_requested"], 40);
    assert_eq!(summary["failures"], failing.len());
    assert_eq!(seeds(&summary["failing_seeds"]), failing);
    let results = summary["results"].as_array().expect("results");
    let ran: Vec<u64> = results
        .iter()
        .map(|r| r["seed"].as_u64().expect("seed"))
        .collect();
    assert_eq!(ran, all, "each seed once, in the drawn order");
    let attempts: Vec<u64> = results
        .iter()
        .map(|r| r["attempt"].as_u64().expect("attempt"))
        .collect();
    assert_eq!(attempts, (0..40).collect::<Vec<u64>>());
    for result in results {
        let seed = result["seed"].as_u64().expect("seed");
        assert_eq!(
            result["passed"],
            seed % 3 != 0 && seed % 5 != 0,
            "seed {seed}"
        );
    }

    // Figures recomputed over 40 runs, not taken from a shard of 10.
    let interval = wilson(failing.len() as u32, 40);
    assert_eq!(summary["ci_low"], round3(interval.low));
    assert_eq!(summary["ci_high"], round3(interval.high));
    assert_eq!(summary["verdict"], "flaky");
    assert_eq!(summary["severity"], "medium");
    let test = |name: &str| {
        summary["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .find(|t| t["name"].as_str().is_some_and(|n| n.ends_with(name)))
            .unwrap_or_else(|| panic!("no test {name} in {}", summary["tests"]))
            .clone()
    };
    for (name, expected) in [("test_every_third", &third), ("test_every_fifth", &fifth)] {
        let t = test(name);
        let interval = wilson(expected.len() as u32, 40);
        assert_eq!(t["runs"], 40, "{t}");
        assert_eq!(t["failures"], expected.len(), "{t}");
        assert_eq!(seeds(&t["failing_seeds"]), *expected, "{t}");
        assert_eq!(t["failure_rate"], round3(expected.len() as f64 / 40.0));
        assert_eq!(
            (t["ci_low"].clone(), t["ci_high"].clone()),
            (round3(interval.low).into(), round3(interval.high).into())
        );
        assert_eq!(t["verdict"], "flaky");
    }
    assert_eq!(test("test_stable")["failures"], 0);
    assert_eq!(test("test_stable")["runs"], 40);
    assert!(
        summary["reproduce"]
            .as_str()
            .is_some_and(|r| r.contains("TEST_SEED=3 ")),
        "{}",
        summary["reproduce"]
    );

    // The server ran four jobs.
    let (_, health) = server.get("/health").await;
    assert_eq!(health["jobs"]["completed"], 4, "{health}");
}

#[tokio::test]
async fn drawn_seeds_are_split_without_repeats_over_several_servers() {
    let servers = [
        Server::start(&["--allow-local-repos"]).await,
        Server::start(&["--allow-local-repos"]).await,
    ];
    let repo = fixture::odd_seeds_fail("0");
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "submit",
        "--url",
        &servers[0].base,
        "--url",
        &servers[1].base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "sh test.sh",
        "-n",
        "60",
        "-p",
        "4",
        "--shards",
        "4",
        "--no-confirm",
        "--poll-interval",
        "0.1",
        "--json",
    ];
    let summary = summary_of(&cli(dir.path(), &args, &[]).await);
    let ran: Vec<u64> = summary["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["seed"].as_u64().expect("seed"))
        .collect();
    let mut distinct = ran.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!((ran.len(), distinct.len()), (60, 60), "a seed ran twice");
    let odd: Vec<u64> = ran.iter().copied().filter(|s| s % 2 == 1).collect();
    assert_eq!(seeds(&summary["failing_seeds"]), odd);
    assert_eq!(summary["failures"], odd.len());
    // Shards 1 and 3 went to the first server, 2 and 4 to the second.
    for server in &servers {
        let (_, health) = server.get("/health").await;
        assert_eq!(health["jobs"]["completed"], 2, "{health}");
    }
}
