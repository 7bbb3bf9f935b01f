//! The official runpod Python SDK (`pip install runpod`) as a client of `flaky-detector
//! serve`: `Endpoint.run_sync`, `run` + `status` + `output`, `stream`, `cancel`, `health`,
//! through `RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:PORT/v2`.

use crate::support::runpod as support;

use serde_json::{Value, json};
use support::fixture::{input, odd_seeds_fail};
use support::server::Server;

#[cfg_attr(
    not(has_runpod_sdk),
    ignore = "needs the runpod Python SDK (pip install runpod==1.12.0)"
)]
#[tokio::test]
async fn the_runpod_sdk_runs_polls_streams_and_cancels_jobs() {
    let server = Server::start(&["--allow-local-repos", "--api-key", "sdk-key-1"]).await;
    let fast = odd_seeds_fail("0.2");
    let slow = odd_seeds_fail("600");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/serve_client.py");
    let home = tempfile::tempdir().expect("home for the SDK");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .env("HOME", home.path())
        .env("RUNPOD_ENDPOINT_BASE_URL", format!("{}/v2", server.base))
        .env("FLAKY_TEST_KEY", "sdk-key-1")
        .env("FAST_INPUT", input(fast.path(), &[1, 2, 3]).to_string())
        .env("SLOW_INPUT", input(slow.path(), &[2]).to_string())
        .output()
        .await
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK script failed (is the runpod package installed? `pip install runpod`):\n{stderr}"
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    for call in ["run_sync", "run_output"] {
        assert_eq!(seen[call]["failing_seeds"], json!([1, 3]), "{call}: {seen}");
        assert_eq!(seen[call]["total_runs"], 3);
    }
    assert!(
        ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
            .contains(&seen["run_first_status"].as_str().unwrap_or_default()),
        "{seen}"
    );
    assert_eq!(seen["run_final_status"], "COMPLETED");
    let stream: Vec<&str> = seen["stream"]
        .as_array()
        .expect("stream messages")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(stream.contains(&"copied"), "{stream:?}");
    // The last run count, then the confirmation phase. Of the two failing seeds only the one
    // that covers the flaky command is replayed: at 2 failures in 3 runs a seed needs more
    // replays to be told from chance than the budget (twice the runs) gives a second seed.
    assert_eq!(
        stream.iter().rev().find(|m| m.contains(" runs, ")),
        Some(&"3/3 runs, 2 failures"),
        "{stream:?}"
    );
    assert_eq!(
        stream.last(),
        Some(&"replaying 1 failing seed(s) to confirm"),
        "{stream:?}"
    );
    assert_eq!(seen["cancel"]["status"], "CANCELLED", "{seen}");
    assert_eq!(seen["cancelled_status"], "CANCELLED");
    assert_eq!(seen["health"]["jobs"]["completed"], 3, "{seen}");
}
