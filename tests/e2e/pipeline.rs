//! The whole pipeline through the real binary on real pytest projects made in temp dirs:
//! seeded flakes with known failing seeds, replay, hangs, stray grandchildren, floods of
//! output, secrets, config precedence and the RunPod-style local test mode.

use crate::support;

use std::time::{Duration, Instant};

use support::wait::{HANG, wait_until};
use support::{Sandbox, failing_seeds, path_str, project};

/// Fails exactly for seeds that are multiples of 3.
const SEEDED: &str = r#"
import os

SEED = int(os.environ["TEST_SEED"])


def test_stable():
    assert 1 + 1 == 2


def test_flaky_mod_3():
    assert SEED % 3 != 0, f"seed {SEED} is a multiple of 3"
"#;

/// `run --json` of the pytest suite in `repo`, with `extra` flags.
fn pytest_summary(
    sandbox: &Sandbox,
    repo: &tempfile::TempDir,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "--repo",
        path_str(repo.path()),
        "--command",
        "pytest -q -p no:cacheprovider tests",
    ];
    args.extend_from_slice(extra);
    sandbox.summary(&args)
}

fn seeds_1_to_12() -> Vec<String> {
    (1..=12).map(|s| s.to_string()).collect()
}

#[test]
fn a_seeded_flake_fails_for_exactly_its_seeds() {
    let repo = project(&[("tests/test_seeded.py", SEEDED)]);
    let sandbox = Sandbox::new();
    let seeds = seeds_1_to_12().join(",");
    let summary = pytest_summary(&sandbox, &repo, &["--seed", &seeds, "--parallelism", "4"]);
    assert_eq!(summary["total_runs"], 12);
    assert_eq!(summary["failures"], 4);
    assert_eq!(failing_seeds(&summary), vec![3, 6, 9, 12]);
    assert_eq!(summary["verdict"], "flaky");
    assert_eq!(summary["framework"], "python");
    assert_eq!(summary["repro_rate"], 0.333);
    let (low, high) = (
        summary["ci_low"].as_f64().expect("ci_low"),
        summary["ci_high"].as_f64().expect("ci_high"),
    );
    assert!(low < 0.333 && 0.333 < high, "interval {low}..{high}");
    for result in summary["results"].as_array().expect("results") {
        let seed = result["seed"].as_u64().expect("seed");
        assert_eq!(result["passed"], seed % 3 != 0, "{result}");
        assert_eq!(result["attempt"].as_u64(), Some(seed - 1));
        if seed % 3 == 0 {
            let stdout = result["stdout"].as_str().expect("stdout");
            assert!(
                stdout.contains(&format!("seed {seed} is a multiple of 3")),
                "{stdout}"
            );
        }
    }
}

#[test]
fn the_reproduce_line_replays_the_failure() {
    let repo = project(&[("tests/test_seeded.py", SEEDED)]);
    let sandbox = Sandbox::new();
    let summary = pytest_summary(&sandbox, &repo, &["--seed", "4,5,6"]);
    let line = summary["reproduce"].as_str().expect("a reproduce line");
    assert!(line.contains("TEST_SEED=6"), "{line}");
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(repo.path())
        .output()
        .expect("sh runs");
    assert!(!replay.status.success(), "the replay passed: {line}");
    assert!(String::from_utf8_lossy(&replay.stdout).contains("seed 6 is a multiple of 3"));

    // The detector's own replay: the failing seed alone, three times, fails three times.
    let again = pytest_summary(&sandbox, &repo, &["--seed", "6", "--runs", "3"]);
    assert_eq!(again["failures"], 3);
    assert_eq!(again["verdict"], "always-failing");
}

#[test]
fn a_hanging_test_is_killed_at_the_timeout_with_its_grandchild() {
    let pids = tempfile::tempdir().expect("tempdir");
    let pid_file = pids.path().join("grandchild.pid");
    let repo = project(&[(
        "tests/test_hang.py",
        r#"
import os, subprocess, time

def test_hangs():
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["PID_FILE"], "w") as f:
        f.write(str(child.pid))
    time.sleep(300)
    open(os.environ["PID_FILE"] + ".slept", "w").close()
"#,
    )]);
    let sandbox = Sandbox::new();
    let summary = pytest_summary(
        &sandbox,
        &repo,
        &[
            "--runs",
            "1",
            "--timeout",
            "10",
            "--env",
            &format!("PID_FILE={}", pid_file.display()),
        ],
    );
    assert!(
        !pids.path().join("grandchild.pid.slept").exists(),
        "the run ended after the test's `time.sleep(300)`, not at its 10 s timeout"
    );
    assert_eq!(summary["timeouts"], 1);
    let run = &summary["results"][0];
    assert_eq!(run["timed_out"], true);
    assert_eq!(run["passed"], false);
    assert!(run["exit_code"].is_null());
    let grandchild = support::read_pid(&pid_file);
    assert!(
        support::dies_within(grandchild, 5.0),
        "sleep {grandchild} outlived the timeout"
    );
}

#[test]
fn a_test_leaving_a_background_process_on_stdout_finishes_promptly() {
    let pids = tempfile::tempdir().expect("tempdir");
    let pid_file = pids.path().join("daemon.pid");
    let repo = project(&[(
        "tests/test_daemon.py",
        r#"
import os, subprocess

def test_starts_a_daemon_and_returns():
    # Inherits stdout and stderr; leaves a mark if it is allowed to sleep its 300 s out.
    child = subprocess.Popen(["sh", "-c", 'sleep 300; touch "$PID_FILE.slept"'])
    with open(os.environ["PID_FILE"], "w") as f:
        f.write(str(child.pid))
"#,
    )]);
    let sandbox = Sandbox::new();
    let summary = pytest_summary(
        &sandbox,
        &repo,
        &[
            "--runs",
            "1",
            "--env",
            &format!("PID_FILE={}", pid_file.display()),
        ],
    );
    assert!(
        !pids.path().join("daemon.pid.slept").exists(),
        "the run waited for a process holding stdout to sleep its 300 s out"
    );
    assert_eq!(summary["failures"], 0);
    let daemon = support::read_pid(&pid_file);
    assert!(
        support::dies_within(daemon, 5.0),
        "the stray daemon {daemon} was left running"
    );
}

#[test]
fn twenty_mib_of_output_per_run_leaves_memory_bounded() {
    let repo = project(&[(
        "tests/test_loud.py",
        r#"
import sys

def test_prints_twenty_mib_then_fails():
    line = "x" * 1023 + "\n"
    for _ in range(20 * 1024):
        sys.stdout.write(line)
    assert False, "loud failure"
"#,
    )]);
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command()
        .args(["run", "--json", "--repo", path_str(repo.path())])
        .args(["--command", "pytest -q -s -p no:cacheprovider tests"])
        .args(["--runs", "8", "--parallelism", "4"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let pid = child.id();
    let mut peak_kib = 0u64;
    let stdout = std::thread::spawn({
        let mut out = child.stdout.take().expect("piped");
        move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut out, &mut text).expect("reads stdout");
            text
        }
    });
    while child.try_wait().expect("polls").is_none() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = stdout.join().expect("reader joins");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary JSON");
    assert_eq!(summary["failures"], 8);
    // 8 runs x 20 MiB would be 160 MiB if kept; the bound keeps head and tail of each.
    assert!(peak_kib > 0, "no memory reading");
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    for run in summary["results"].as_array().expect("results") {
        assert!(run["stdout"].as_str().expect("stdout").len() <= 17 * 1024);
        assert!(run["output_truncated_bytes"].as_u64().expect("truncated") > 20_000_000);
    }
}

#[test]
fn the_runs_never_see_the_workers_secrets() {
    let repo = project(&[("README", "secrets test\n")]);
    let sandbox = Sandbox::new();
    let output = sandbox
        .command()
        .args(["run", "--json", "--repo", path_str(repo.path())])
        .args(["--command", "sh -c 'env; exit 1'", "--runs", "2"])
        .args(["--env", "JOB_VISIBLE=from-the-job"])
        .env("RUNPOD_AI_API_KEY", "sekrit-runpod-key")
        .env("RUNPOD_WEBHOOK_PING", "https://api.runpod.ai/ping/sekrit")
        .env("GITHUB_TOKEN", "sekrit-github-token")
        .env("GIT_TOKEN", "sekrit-git-token")
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/sekrit",
        )
        .env("DATABASE_PASSWORD", "sekrit-password")
        // Credentials whose names carry no marker: only an allow-list keeps them out.
        .env("DATABASE_URL", "postgres://app:sekrit-db@db/app")
        .env("REDIS_URL", "redis://:sekrit-redis@cache:6379")
        .env("MYSQL_PWD", "sekrit-mysql")
        .env("GH_PAT", "sekrit-gh-pat")
        .env("SENTRY_DSN", "https://sekrit-sentry@o1.ingest.sentry.io/1")
        .env("SSH_AUTH_SOCK", "/tmp/sekrit-agent.sock")
        .env("NPM_CONFIG__AUTH", "sekrit-npm")
        .env("CI_JOB_JWT", "sekrit-jwt")
        .env("ENCRYPTION_KEY", "sekrit-encryption")
        .env("DOCKER_AUTH_CONFIG", "{\"auths\":\"sekrit-docker\"}")
        .env("WORKER_UNLISTED", "sekrit-unlisted")
        // The operator's knob passes named extras.
        .env("FLAKY_PASS_ENV", "WORKER_VISIBLE")
        .env("WORKER_VISIBLE", "from-the-worker")
        .env("LC_TIME", "C")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("summary");
    let env_dump = summary["results"][0]["stdout"].as_str().expect("stdout");
    assert!(env_dump.contains("TEST_SEED="), "{env_dump}");
    assert!(env_dump.contains("WORKER_VISIBLE=from-the-worker"));
    assert!(env_dump.contains("JOB_VISIBLE=from-the-job"));
    assert!(env_dump.contains("LC_TIME=C"), "{env_dump}");
    assert!(env_dump.contains("\nPATH=") || env_dump.starts_with("PATH="));
    assert!(
        !stdout.contains("sekrit"),
        "a secret reached the runs: {env_dump}"
    );
    assert!(!stderr.contains("sekrit"));
}

#[test]
fn repository_config_applies_under_the_job_input() {
    let repo = project(&[
        (
            ".flaky-detector.yml",
            "runs: 5\nparallelism: 2\ntest_command: \"sh -c 'test $((TEST_SEED % 2)) = 1'\"\nmystery_key: 1\nrandom_seed_range:\n  min: 10\n  max: 20\n",
        ),
        ("README", "config test\n"),
    ]);
    let sandbox = Sandbox::new();
    let from_file = sandbox.summary(&["--repo", path_str(repo.path())]);
    assert_eq!(from_file["total_runs"], 5);
    assert_eq!(from_file["parallelism"], 2);
    assert_eq!(
        from_file["test_command"],
        "sh -c 'test $((TEST_SEED % 2)) = 1'"
    );
    for run in from_file["results"].as_array().expect("results") {
        let seed = run["seed"].as_u64().expect("seed");
        assert!((10..=20).contains(&seed));
        assert_eq!(run["passed"], seed % 2 == 1);
    }
    let warnings = from_file["warnings"].to_string();
    assert!(warnings.contains("mystery_key"), "{warnings}");

    let overridden = sandbox.summary(&["--repo", path_str(repo.path()), "--runs", "3"]);
    assert_eq!(overridden["total_runs"], 3);
}

#[test]
fn preserve_temp_dir_keeps_the_checkout() {
    let repo = project(&[
        (".flaky-detector.yml", "preserve_temp_dir: true\n"),
        ("marker.txt", "kept\n"),
    ]);
    let sandbox = Sandbox::new();
    let summary = sandbox.summary(&["--repo", path_str(repo.path()), "-c", "true", "-n", "1"]);
    let kept = summary["temp_dir"].as_str().expect("temp_dir is reported");
    let marker = std::path::Path::new(kept).join("checkout/marker.txt");
    assert_eq!(std::fs::read_to_string(marker).expect("kept"), "kept\n");
}

#[test]
fn the_local_test_mode_prints_the_result_json() {
    let repo = project(&[("tests/test_seeded.py", SEEDED)]);
    let sandbox = Sandbox::new();
    let input = serde_json::json!({
        "input": {
            "repo": path_str(repo.path()),
            "test_command": "pytest -q -p no:cacheprovider tests",
            "seeds": [1, 2, 3],
        }
    });
    let output = sandbox
        .command()
        .arg("--test_input")
        .arg(input.to_string())
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["output"]["failures"], 1);

    // The same job from ./test_input.json, as RunPod's SDK reads it.
    let cwd = tempfile::tempdir().expect("tempdir");
    std::fs::write(cwd.path().join("test_input.json"), input.to_string()).expect("write");
    let output = sandbox
        .command()
        .current_dir(cwd.path())
        .output()
        .expect("runs");
    assert!(output.status.success());
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["output"]["failing_seeds"], serde_json::json!([3]));

    // No input at all: the SDK's message and exit 1.
    let empty = tempfile::tempdir().expect("tempdir");
    let output = sandbox
        .command()
        .current_dir(empty.path())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("test_input.json not found"));
}

#[test]
fn a_reader_that_goes_away_does_not_crash_the_summary() {
    let repo = project(&[("README", "x\n")]);
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command()
        .args([
            "run",
            "--json",
            "--repo",
            path_str(repo.path()),
            "-c",
            "true",
            "-n",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("waits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

#[test]
fn a_second_ctrl_c_kills_runs_that_ignore_sigterm_before_exiting() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let repo = project(&[(
        "test.sh",
        "trap '' TERM\necho $$ > \"$PID_DIR/$TEST_SEED.pid\"\nsleep 300\n",
    )]);
    let pid_dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new();
    let stderr_path = sandbox.root.path().join("detector.stderr");
    let stderr_file = std::fs::File::create(&stderr_path).expect("a stderr file");
    let mut detector = sandbox
        .command()
        .args(["run", "--json", "--repo", path_str(repo.path())])
        .args([
            "--command",
            "sh test.sh",
            "--runs",
            "2",
            "--parallelism",
            "2",
        ])
        .arg("--env")
        .arg(format!("PID_DIR={}", pid_dir.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .expect("the detector starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let runs: Vec<i32> = loop {
        let pids: Vec<i32> = std::fs::read_dir(pid_dir.path())
            .expect("pid dir")
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|text| text.trim().parse().ok())
            .collect();
        if pids.len() == 2 {
            break pids;
        }
        assert!(Instant::now() < deadline, "the runs did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let detector_pid = Pid::from_raw(detector.id() as i32);
    kill(detector_pid, Signal::SIGINT).expect("first Ctrl-C");
    // The second Ctrl-C only counts as one once the first has been taken.
    wait_until(HANG, "the detector takes the first Ctrl-C", || {
        std::fs::read_to_string(&stderr_path)
            .is_ok_and(|text| text.contains("interrupted: stopping the runs"))
    });
    kill(detector_pid, Signal::SIGINT).expect("second Ctrl-C");
    let exit_deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = detector.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < exit_deadline, "the detector did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    // Nobody is left to send the SIGKILL once the detector is gone, so the runs (which would
    // sleep 300 s, ignoring SIGTERM) must die from the one it sent on its way out.
    // A minute each: far below their own 300 s.
    for pid in &runs {
        support::dies_within(*pid, 60.0);
    }
    let survivors: Vec<i32> = runs.iter().copied().filter(|pid| alive(*pid)).collect();
    for pid in &survivors {
        let _ = nix::sys::signal::killpg(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    assert!(
        survivors.is_empty(),
        "runs outlived the detector: {survivors:?}"
    );
}
