//! The RunPod image's worker, in its container, against the fake platform: the image's entry
//! point started without arguments as RunPod starts it, taking each bundled example as a job
//! and posting the verdict scripts/smoke-image.sh expects. There is no container engine in
//! the suite's runs, so this test is ignored there; scripts/image-check.sh builds the image
//! with podman and runs it with `FLAKY_IMAGE_WORKER` naming a program that starts the
//! container (sharing the host's network, so 127.0.0.1 is the fake platform).

use crate::support::runpod as support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::platform::FakePlatform;
use support::process::Process;
use support::worker::stop_worker;

/// How long one example's job may take in the container: its dependency install (`npm ci`
/// of Jest and TypeScript, a virtualenv) comes first, on a shared 2-core machine.
const JOB_PATIENCE: Duration = Duration::from_secs(600);

/// `(example, test command, "framework flaky seeds…")` as scripts/smoke-image.sh expects them
/// (tests/languages checks those against the examples' own formulas).
fn expectations() -> Vec<(String, String, String)> {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smoke-image.sh"),
    )
    .expect("read scripts/smoke-image.sh");
    script
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(") echo \"")?;
            let fields: Vec<&str> = rest.split('"').next()?.split('|').collect();
            let [framework, command, seeds] = fields[..] else {
                return None;
            };
            Some((
                name.to_string(),
                command.to_string(),
                format!("{framework} flaky {seeds}"),
            ))
        })
        .collect()
}

/// The first result the platform accepted for `job`, waiting up to [`JOB_PATIENCE`]; panics
/// with the worker's log if the worker exits first or the time runs out.
async fn result_of(platform: &FakePlatform, job: &str, worker: &mut Process) -> Value {
    let deadline = Instant::now() + JOB_PATIENCE;
    loop {
        if let Some(done) = platform.results(job).iter().find(|r| r.answered == 200) {
            return done.json();
        }
        if let Some(status) = worker.try_exit() {
            panic!(
                "the worker exited ({status}) before the result of {job}; stderr:\n{}",
                worker.stderr()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no result for {job} after {JOB_PATIENCE:?}; stderr:\n{}",
            worker.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the image and a container engine: scripts/image-check.sh runs it"]
async fn image_worker_takes_each_example_from_the_platform() {
    let program = std::env::var("FLAKY_IMAGE_WORKER").expect(
        "FLAKY_IMAGE_WORKER names a program that starts the image's entry point \
         (scripts/image-check.sh sets it)",
    );
    let examples = std::env::var("FLAKY_IMAGE_EXAMPLES").unwrap_or_else(|_| "python".into());
    let table = expectations();
    let platform = FakePlatform::start().await;
    let mut env = platform.env();
    env.push(("FLAKY_ALLOW_LOCAL_REPOS".into(), "1".into()));
    let mut worker = Process::spawn_program(&program, &[], &env);

    let seeds: Vec<u64> = (1..=20).collect();
    let mut wanted = Vec::new();
    for example in examples.split_whitespace() {
        let (_, command, want) = table
            .iter()
            .find(|(name, _, _)| name == example)
            .unwrap_or_else(|| panic!("scripts/smoke-image.sh expects nothing of {example}"));
        platform.push_job(
            example,
            json!({
                "repo": format!("/app/examples/{example}"),
                "test_command": command,
                "runs": 20,
                "parallelism": 4,
                "seeds": seeds,
                "timeout": 300,
            }),
        );
        wanted.push((example, want));
    }

    let mut failed = Vec::new();
    for (example, want) in wanted {
        let result = result_of(&platform, example, &mut worker).await;
        let output = &result["output"];
        let mut failing: Vec<u64> = output["failing_seeds"]
            .as_array()
            .map(|seeds| seeds.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        failing.sort_unstable();
        let failing: Vec<String> = failing.iter().map(u64::to_string).collect();
        let got = format!(
            "{} {} {}",
            output["framework"].as_str().unwrap_or("?"),
            output["verdict"].as_str().unwrap_or("?"),
            failing.join(" ")
        );
        let mechanism = output["isolation_mechanism"].as_str().unwrap_or("none");
        if got == *want {
            println!("ok      {example}: {got} (isolation: {mechanism})");
        } else {
            println!("FAILED  {example}: got `{got}`, want `{want}`: {result}");
            failed.push(example);
        }
    }
    let log = platform.requests();
    let pings = log.iter().filter(|r| r.is_ping()).count();
    let progress = log.iter().filter(|r| r.is_progress()).count();
    println!("worker: {pings} pings, {progress} progress updates, stopped by SIGTERM");
    assert!(pings > 0, "the worker never pinged from the container");
    stop_worker(worker).await;
    assert!(
        failed.is_empty(),
        "examples with a wrong result: {failed:?}"
    );
}
