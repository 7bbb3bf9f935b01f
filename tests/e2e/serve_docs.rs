//! The curl examples of README.md and docs/serve.md, run as written against `flaky-detector serve`: each
//! tested block is taken from the document, the port and the sample repository (which needs
//! the network) are swapped for the test's own, and the block is run with `sh`.

use crate::support::runpod as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::PATIENCE;
use support::fixture::odd_seeds_fail;
use support::server::Server;

const SERVE_DOC: &str = include_str!("../../docs/serve.md");
const README: &str = include_str!("../../README.md");
const KEY: &str = "docs-key-9";

/// The first ```sh block after `<!-- tested: NAME -->` in `doc`.
fn block(doc: &'static str, name: &str) -> &'static str {
    let marker = format!("<!-- tested: {name} -->");
    let after = &doc[doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in the document"))..];
    let start = after.find("```sh\n").expect("a sh block after the marker") + "```sh\n".len();
    let len = after[start..].find("```").expect("the block ends");
    &after[start..start + len]
}

/// Runs `name`'s block with the server's address and `repo` in place of the sample ones.
async fn run_block(
    server: &Server,
    doc: &'static str,
    name: &str,
    repo: &std::path::Path,
    job_id: &str,
) -> Value {
    let addr = server.base.trim_start_matches("http://");
    let script = block(doc, name)
        .replace("127.0.0.1:8000", addr)
        .replace(
            "https://github.com/runpod/testflake",
            &repo.display().to_string(),
        )
        .replace("pytest tests/test_flaky.py", "sh test.sh");
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("FLAKY_API_KEY", KEY)
        .env("JOB_ID", job_id)
        .output()
        .await
        .expect("sh runs");
    assert!(output.status.success(), "{name} failed: {output:?}");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{name} printed no JSON: {output:?}"))
}

/// Queues a slow job with the `run` block, polls it with `status` until it runs, and
/// cancels it with `cancel`.
async fn run_status_cancel(doc: &'static str) {
    let server = Server::start(&["--api-key", KEY, "--allow-local-repos"]).await;
    let slow = odd_seeds_fail("600");

    let queued = run_block(&server, doc, "run", slow.path(), "").await;
    assert_eq!(queued["status"], "IN_QUEUE", "{queued}");
    let id = queued["id"].as_str().expect("an id").to_string();

    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = run_block(&server, doc, "status", slow.path(), &id).await;
        assert_eq!(status["id"], id.as_str());
        if status["status"] == "IN_PROGRESS" {
            break;
        }
        assert_eq!(status["status"], "IN_QUEUE", "{status}");
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let cancelled = run_block(&server, doc, "cancel", slow.path(), &id).await;
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
}

#[tokio::test]
async fn the_curl_examples_in_the_readme_work_as_written() {
    run_status_cancel(README).await;
}

#[tokio::test]
async fn the_curl_examples_in_docs_serve_md_work_as_written() {
    run_status_cancel(SERVE_DOC).await;
    let server = Server::start(&["--api-key", KEY, "--allow-local-repos"]).await;
    let fast = odd_seeds_fail("0");
    let done = run_block(&server, SERVE_DOC, "runsync", fast.path(), "").await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["output"]["total_runs"], 50);
    assert!(done["output"]["failures"].as_u64().is_some_and(|f| f > 0));
}
