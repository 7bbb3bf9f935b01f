//! Issue 12 (hardening), the data-shaped findings, through the real binary: hostile reports
//! and repository files, output floods, and what a repository may decide on a shared server.
//! Each test is named after its finding.

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::wait::ends_blocking;
use support::{Sandbox, path_str, project};

/// A JUnit document nested `depth` suites deep, with one failing case at the bottom.
fn nested_junit(depth: usize) -> String {
    let mut xml = "<testsuite name='s'>".repeat(depth);
    xml.push_str("<testcase name='deep'><failure message='no'/></testcase>");
    xml.push_str(&"</testsuite>".repeat(depth));
    xml
}

fn warnings(summary: &Value) -> Vec<String> {
    summary["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Finding 3: a report nested 3,000 (and 100,000) deep aborted the whole process with a stack
/// overflow. Now the run is reported, with a warning naming the report.
#[test]
fn issue_12_finding_3_a_deeply_nested_junit_report_is_a_warning_not_an_abort() {
    for depth in [3_000, 100_000] {
        let repo = project(&[
            ("deep.xml", &nested_junit(depth)),
            (
                ".flaky-detector.yml",
                "junit_paths: [\"out/*.xml\"]\nconfirm: false\n",
            ),
        ]);
        let sandbox = Sandbox::new();
        let command = "sh -c 'mkdir -p out && cp deep.xml out/report.xml && exit 1'";
        let (output, summary) = sandbox.run(&[
            "--repo",
            path_str(repo.path()),
            "--command",
            command,
            "--runs",
            "2",
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code().is_some(),
            "depth {depth}: killed by a signal: {:?}\n{stderr}",
            output.status
        );
        let summary = summary.unwrap_or_else(|| panic!("depth {depth}: no summary: {stderr}"));
        assert_eq!(summary["failures"], 2);
        let warnings = warnings(&summary);
        assert!(
            warnings.iter().any(|w| w.contains("more than 64 deep")),
            "depth {depth}: {warnings:?}"
        );
    }
}

/// Runs `command` until it exits, sampling the peak resident memory (`VmHWM`) of the
/// process itself from /proc; returns its output and the largest peak seen, in KiB. The
/// peak is a high-water mark, so the last sample before exit covers everything but the
/// final printing of the summary.
fn run_measuring_peak(mut command: std::process::Command) -> (std::process::Output, u64) {
    use std::io::Read;
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kib);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().expect("wait");
    let output = std::process::Output {
        status,
        stdout: out.join().expect("reader"),
        stderr: err.join().expect("reader"),
    };
    (output, peak)
}

/// Finding 5: 40 failing runs that print 16 MiB each, with the repository's
/// `output_limit_bytes` at its 16 MiB maximum, reached 754 MiB: every finished run kept its
/// whole capture until the summary was built. Finished runs are now trimmed as they finish.
#[test]
fn issue_12_finding_5_memory_stays_bounded_when_many_runs_flood_their_output() {
    let repo = project(&[(
        ".flaky-detector.yml",
        "output_limit_bytes: 16777216\nconfirm: false\n",
    )]);
    let sandbox = Sandbox::new();
    let mut command = sandbox.command();
    command.args([
        "run",
        "--json",
        "--repo",
        path_str(repo.path()),
        "--command",
        "sh -c 'yes flood | head -c 16777216; exit 1'",
        "--runs",
        "40",
        "--parallelism",
        "4",
        "--isolation",
        "shared",
    ]);
    let (output, peak_kib) = run_measuring_peak(command);
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(summary["failures"], 40);
    assert!(
        peak_kib > 0,
        "no VmHWM sample was read from /proc for the child"
    );
    assert!(
        peak_kib < 300 * 1024,
        "peak RSS {} MiB with 40 runs of 16 MiB output",
        peak_kib / 1024
    );
    // The summary still carries each failing run's tail.
    let results = summary["results"].as_array().expect("results");
    assert!(results.iter().all(|r| {
        r["stdout"]
            .as_str()
            .is_some_and(|s| s.contains("flood\nflood"))
    }));
}

/// Finding 5: a `.flaky-detector.yml` that is a symlink to /dev/zero was read without end.
#[test]
fn issue_12_finding_5_a_config_symlinked_to_dev_zero_is_a_quick_one_line_error() {
    let repo = project(&[("README", "x\n")]);
    std::os::unix::fs::symlink("/dev/zero", repo.path().join(".flaky-detector.yml"))
        .expect("symlink");
    let sandbox = Sandbox::new();
    let repo_path = path_str(repo.path()).to_string();
    let (output, summary) =
        ends_blocking("the run with a config symlinked to /dev/zero", move || {
            sandbox.run(&["--repo", &repo_path, "--command", "true", "--runs", "1"])
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(summary.is_none(), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(".flaky-detector.yml") && lines[0].contains("not a regular file"),
        "{stderr}"
    );
}

/// Finding 5: a report matched by `junit_paths` that is a symlink to /dev/zero was read
/// without end; now it is an unreadable report, named in a warning.
#[test]
fn issue_12_finding_5_a_report_symlinked_to_dev_zero_is_a_warning() {
    let repo = project(&[(
        ".flaky-detector.yml",
        "junit_paths: [\"out/*.xml\"]\nconfirm: false\n",
    )]);
    let sandbox = Sandbox::new();
    let command = "sh -c 'mkdir -p out && ln -sf /dev/zero out/report.xml && exit 1'";
    let summary = sandbox.summary(&[
        "--repo",
        path_str(repo.path()),
        "--command",
        command,
        "--runs",
        "1",
    ]);
    let warnings = warnings(&summary);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("out/report.xml") && w.contains("not a regular file")),
        "{warnings:?}"
    );
}

/// One job through RunPod's local test mode (the worker's own policy); the `output` object.
fn worker_job(sandbox: &Sandbox, input: Value, allow_keep: bool) -> Value {
    let mut command = sandbox.command();
    command
        .arg("--test_input")
        .arg(serde_json::json!({ "input": input }).to_string())
        .env_remove("FLAKY_MAX_OUTPUT_LIMIT_BYTES");
    if allow_keep {
        command.env("FLAKY_ALLOW_REPO_KEEP_DIRS", "1");
    } else {
        command.env_remove("FLAKY_ALLOW_REPO_KEEP_DIRS");
    }
    let output = command.output().expect("the binary starts");
    let document: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no result: {}", String::from_utf8_lossy(&output.stderr)));
    document["output"].clone()
}

/// Finding 9: `preserve_temp_dir` and `cleanup_on_failure: false` from the repository's own
/// file kept checkouts on a shared server for good, and its `output_limit_bytes` had no
/// server-side ceiling. Under the worker they are ignored with a warning unless the
/// operator allows them.
#[test]
fn issue_12_finding_9_the_repository_cannot_keep_directories_on_a_server() {
    let repo = project(&[(
        ".flaky-detector.yml",
        "preserve_temp_dir: true\ncleanup_on_failure: false\noutput_limit_bytes: 16777216\nconfirm: false\n",
    )]);
    let input = serde_json::json!({
        "repo": path_str(repo.path()),
        "test_command": "sh -c 'exit 1'",
        "runs": 1,
    });
    let sandbox = Sandbox::new();
    let summary = worker_job(&sandbox, input.clone(), false);
    assert!(summary["temp_dir"].is_null(), "{summary}");
    let warnings = warnings(&summary);
    for expected in [
        "`preserve_temp_dir` from the repository was ignored",
        "`cleanup_on_failure: false` from the repository was ignored",
        "`output_limit_bytes` was lowered from 16777216 to this server's ceiling of 1048576",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(expected)),
            "{warnings:?}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(sandbox.work_dir())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "scratch left behind: {left:?}");

    // The operator may allow it.
    let allowed = worker_job(&sandbox, input, true);
    let kept = allowed["temp_dir"].as_str().expect("kept when allowed");
    assert!(std::path::Path::new(kept).is_dir());
}

/// Finding 9: a secret given in a job's `env` reached the stored reproduce line.
#[test]
fn issue_12_finding_9_a_secret_in_the_job_env_is_masked_in_the_reproduce_line() {
    let repo = project(&[(".flaky-detector.yml", "confirm: false\n")]);
    let sandbox = Sandbox::new();
    let summary = sandbox.summary(&[
        "--repo",
        path_str(repo.path()),
        "--command",
        "sh -c 'exit 1'",
        "--runs",
        "1",
        "--env",
        "DATABASE_URL=postgres://app:hunter2@db/app",
        "--env",
        "MODE=fast",
    ]);
    let reproduce = summary["reproduce"].as_str().expect("reproduce line");
    assert!(!reproduce.contains("hunter2"), "{reproduce}");
    assert!(reproduce.contains("DATABASE_URL=***"), "{reproduce}");
    assert!(reproduce.contains("MODE=fast"), "{reproduce}");
}
