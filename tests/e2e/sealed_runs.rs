//! Issue 21, findings 1 and 11: a run's code, which runs as the detector's own user, cannot
//! read the detector's secrets through `/proc` (every `/proc/*/environ` it can open), and a
//! root run cannot write the borrowed directory through the detector's `/proc/PID/cwd` or
//! `/proc/PID/root`. Real binary, real runs, real `serve` on 127.0.0.1.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::runpod::process::Process;
use crate::support::runpod::server::Server;
use crate::support::{Sandbox, path_str, project};

/// A word no process on this machine has in its environment but the detector under test.
fn marker() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("sekrit{}x{nanos}", std::process::id())
}

/// The detector's credentials, each carrying `marker`, as RunPod and `serve` hold them.
fn secrets(marker: &str) -> Vec<(String, String)> {
    [
        ("GITHUB_TOKEN", format!("ghp_{marker}")),
        ("FLAKY_API_KEY", format!("key-{marker}")),
        ("RUNPOD_AI_API_KEY", format!("rpa_{marker}")),
        (
            "SLACK_WEBHOOK_URL",
            format!("https://hooks.slack.com/{marker}"),
        ),
        ("DATABASE_URL", format!("postgres://app:{marker}@db/app")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A run's command that reads every `/proc/*/environ` it may open, prints the lines holding
/// `marker`, and how many it could read (at least its own: the check must be able to fail).
fn environ_reader(marker: &str) -> String {
    format!(
        "sh -c 'n=0; for f in /proc/[0-9]*/environ; do \
         if tr \"\\0\" \"\\n\" < \"$f\" > /dev/null 2>&1; then n=$((n+1)); \
         tr \"\\0\" \"\\n\" < \"$f\" 2>/dev/null | grep -a {marker}; fi; done; \
         echo readable=$n; exit 1'"
    )
}

/// Every run read at least its own environment and found no `marker`.
fn assert_no_secret(summary: &Value, marker: &str) {
    let results = summary["results"].as_array().expect("results");
    assert!(!results.is_empty(), "{summary}");
    for result in results {
        let stdout = result["stdout"].as_str().expect("stdout");
        let readable: u32 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("readable="))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("the run did not report: {result}"));
        assert!(
            readable >= 1,
            "the run could not even read its own: {result}"
        );
        assert!(
            !stdout.contains(marker),
            "a run read the detector's secrets through /proc: {stdout}"
        );
    }
}

#[test]
fn a_runs_command_reads_every_proc_environ_and_finds_no_secret_of_run() {
    let marker = marker();
    let repo = project(&[("README", "sealed\n")]);
    for mechanism in ["", "copy"] {
        let sandbox = Sandbox::new();
        let output = sandbox
            .command()
            .args(["run", "--json", "--repo", path_str(repo.path())])
            .args(["--command", &environ_reader(&marker), "--runs", "3"])
            .args(["--env", &format!("FLAKY_ISOLATION_MECHANISM={mechanism}")])
            .envs(secrets(&marker))
            .output()
            .expect("runs");
        let summary: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
        if !mechanism.is_empty() {
            assert_eq!(summary["isolation_mechanism"], mechanism, "{summary}");
        }
        assert_no_secret(&summary, &marker);
    }
}

/// `serve` holding the secrets (its key among them), started by `program` with `args`.
async fn serve_with_secrets(marker: &str, program: &str, args: &[&str]) -> Server {
    let process = Process::spawn_program(program, args, &secrets(marker));
    let base = process.listening_url().await;
    Server {
        process,
        base,
        client: reqwest::Client::new(),
        key: Some(format!("key-{marker}")),
    }
}

/// Runs the environment reader as a job of `server`, with `mechanism` forced when not empty.
async fn job_through(server: &Server, repo: &Path, marker: &str, mechanism: &str) -> Value {
    let (code, done) = server
        .post(
            "/runsync",
            &json!({"input": {
                "repo": repo.display().to_string(),
                "test_command": environ_reader(marker),
                "runs": 3,
                "parallelism": 3,
                "env": {"FLAKY_ISOLATION_MECHANISM": mechanism},
            }}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "COMPLETED", "{done}");
    done["output"].clone()
}

#[tokio::test]
async fn a_runs_command_reads_every_proc_environ_and_finds_no_secret_of_serve() {
    let marker = marker();
    let server = serve_with_secrets(
        &marker,
        crate::support::BIN,
        &["serve", "--port", "0", "--allow-local-repos"],
    )
    .await;
    let repo = project(&[("README", "sealed\n")]);
    for mechanism in ["", "copy"] {
        let summary = job_through(&server, repo.path(), &marker, mechanism).await;
        if !mechanism.is_empty() {
            assert_eq!(summary["isolation_mechanism"], mechanism, "{summary}");
        }
        assert_no_secret(&summary, &marker);
    }
}

/// As in a container: the server is PID 1 of its own PID namespace, so it forks an init that
/// holds the same environment block as the detector.
#[tokio::test]
#[cfg_attr(
    not(has_pid_namespace),
    ignore = "needs `unshare -fp --mount-proc` (root, or a privileged container)"
)]
async fn a_runs_command_finds_no_secret_in_the_pid_1_init_of_serve() {
    let marker = marker();
    let server = serve_with_secrets(
        &marker,
        "unshare",
        &[
            "-fp",
            "--mount-proc",
            "--kill-child",
            crate::support::BIN,
            "serve",
            "--port",
            "0",
            "--allow-local-repos",
        ],
    )
    .await;
    let repo = project(&[("README", "sealed\n")]);
    for mechanism in ["", "copy"] {
        let summary = job_through(&server, repo.path(), &marker, mechanism).await;
        assert_no_secret(&summary, &marker);
    }
}

/// A root run keeps `CAP_SYS_ADMIN` (the pytest fork server needs it to enter runs' mount
/// namespaces), so it can unmount its overlay: what it cannot do is reach the borrowed
/// directory through the detector (its `/proc/PID/cwd` and `/proc/PID/root`).
#[test]
#[cfg_attr(
    not(has_root),
    ignore = "needs root: the test checks what a root run cannot do"
)]
fn a_root_run_cannot_write_the_borrowed_directory_through_the_detectors_proc_entries() {
    let repo = project(&[("README", "borrowed\n")]);
    let before = listing(repo.path());
    let attack = "sh -c '\
        echo x > /proc/$PPID/cwd/through-cwd && echo cwd-written; \
        echo x > \"/proc/$PPID/root$REPO/through-root\" && echo root-written; \
        for f in /proc/$PPID/fd/*; do readlink \"$f\"; done | grep -q . && echo fds-read; \
        echo tried; exit 1'";
    let sandbox = Sandbox::new();
    let output = sandbox
        .command()
        .current_dir(repo.path())
        .env("FLAKY_DB", sandbox.root.path().join("history.db"))
        .args(["run", "--json", "--repo", path_str(repo.path())])
        .args(["--command", attack, "--runs", "2"])
        .args(["--env", &format!("REPO={}", repo.path().display())])
        .output()
        .expect("runs");
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(summary["isolation_mechanism"], "overlay", "{summary}");
    for result in summary["results"].as_array().expect("results") {
        let stdout = result["stdout"].as_str().expect("stdout");
        assert!(stdout.contains("tried"), "{result}");
        for done in ["cwd-written", "root-written", "fds-read"] {
            assert!(!stdout.contains(done), "a run could get {done}: {result}");
        }
    }
    let after = listing(repo.path());
    assert!(
        after == before,
        "the borrowed directory changed: {:?}",
        after.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
}

/// A pytest test that checks, inside the run, that the process holds no `CAP_SYS_ADMIN` (in
/// its effective or bounding set) and cannot `umount` its checkout, and notes in `$MARKS`
/// whether it ran in a fork server's child (its parent is `python -c`) or fresh.
const CAPABILITY_TEST: &str = r#"import os, subprocess

def test_no_mount_rights():
    status = open("/proc/self/status").read().splitlines()
    caps = {l.split(":")[0]: int(l.split()[1], 16) for l in status if l.startswith("Cap")}
    parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\x00")
    forked = len(parent) > 1 and parent[1] == b"-c"
    open(os.path.join(os.environ["MARKS"], f"{os.getpid()}-{'forked' if forked else 'fresh'}"), "w").close()
    assert not caps["CapEff"] & (1 << 21), caps
    assert not caps["CapBnd"] & (1 << 21), caps
    unmounted = subprocess.run(["umount", os.getcwd()], capture_output=True)
    assert unmounted.returncode != 0, "the run unmounted its overlay"
"#;

/// Issue 21, finding 11: a root run, started plainly or forked by the pytest fork server,
/// holds no `CAP_SYS_ADMIN` and cannot unmount its overlay (which would let it write the
/// borrowed directory under it).
#[test]
#[cfg_attr(
    not(has_root),
    ignore = "needs root: the test checks what a root run cannot do"
)]
fn a_root_run_cannot_unmount_its_overlay_plain_or_forked() {
    let repo = project(&[("README", "borrowed\n"), ("test_caps.py", CAPABILITY_TEST)]);
    let before = listing(repo.path());
    let sandbox = Sandbox::new();
    let marks = tempfile::tempdir().expect("marks");
    let job = |command: &str, runs: &str| -> Value {
        let output = sandbox
            .command()
            .current_dir(repo.path())
            .env("FLAKY_DB", sandbox.root.path().join("history.db"))
            .args([
                "run",
                "--json",
                "--no-confirm",
                "--repo",
                path_str(repo.path()),
            ])
            .args(["--command", command, "--runs", runs])
            .args(["--env", &format!("MARKS={}", marks.path().display())])
            .output()
            .expect("runs");
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)))
    };
    let plain = job(
        "sh -c 'umount \"$PWD\" && echo unmounted; grep -q . README || echo gone; exit 0'",
        "2",
    );
    assert_eq!(plain["isolation_mechanism"], "overlay", "{plain}");
    for result in plain["results"].as_array().expect("results") {
        let stdout = result["stdout"].as_str().unwrap_or_default();
        assert!(!stdout.contains("unmounted"), "{result}");
    }
    let forked = job("python3 -m pytest -q -p no:cacheprovider test_caps.py", "8");
    assert_eq!(forked["isolation_mechanism"], "overlay", "{forked}");
    assert_eq!(forked["failures"], 0, "{forked}");
    let kinds: Vec<String> = std::fs::read_dir(marks.path())
        .expect("marks")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kinds.iter().any(|k| k.ends_with("-forked")),
        "no run went through the fork server, so the test checked nothing of it: {kinds:?}"
    );
    assert_eq!(
        listing(repo.path()),
        before,
        "the borrowed directory changed"
    );
}

/// Every file of `dir` with its content, sorted.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A detector run by an unprivileged user (65534): the user's runs are the same user, without
/// any capability, and find nothing either, overlays (in a user namespace) and copies alike.
#[test]
#[cfg_attr(not(has_root), ignore = "needs root to become another user (setpriv)")]
fn as_an_unprivileged_user_a_runs_command_finds_no_secret_of_the_detector() {
    use std::os::unix::fs::PermissionsExt;
    let marker = marker();
    let repo = project(&[("README", "sealed\n")]);
    let open = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    // The binary where the other user can reach it (the build folder may not be).
    let bin = open.path().join("flaky-detector");
    std::fs::copy(crate::support::BIN, &bin).expect("copy the binary");
    for mechanism in ["", "copy"] {
        let home = tempfile::tempdir_in(open.path()).expect("home");
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["run", "--json", "--repo", path_str(repo.path())])
            .args(["--command", &environ_reader(&marker), "--runs", "3"])
            .args(["--env", &format!("FLAKY_ISOLATION_MECHANISM={mechanism}")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("FLAKY_WORK_DIR", home.path().join("work"))
            .env("FLAKY_CACHE_DIR", home.path().join("cache"))
            .env("FLAKY_DB", home.path().join("history.db"))
            .envs(secrets(&marker))
            .current_dir(home.path())
            .output()
            .expect("runs");
        let summary: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
        if !mechanism.is_empty() {
            assert_eq!(summary["isolation_mechanism"], mechanism, "{summary}");
        }
        assert_no_secret(&summary, &marker);
    }
}

/// Defence in depth: even a process that may read the detector's `/proc` entries (here root,
/// with `CAP_SYS_PTRACE`) finds the names of its environment but none of the values.
#[tokio::test]
#[cfg_attr(
    not(has_root),
    ignore = "needs root: only a process with CAP_SYS_PTRACE may read a non-dumpable environ"
)]
async fn the_detectors_own_environ_shows_no_secret_value_even_to_root() {
    let marker = marker();
    let server = serve_with_secrets(
        &marker,
        crate::support::BIN,
        &["serve", "--port", "0", "--allow-local-repos"],
    )
    .await;
    let environ = std::fs::read(format!("/proc/{}/environ", server.process.pid()))
        .expect("root reads the detector's environ");
    let text = String::from_utf8_lossy(&environ);
    assert!(text.contains("GITHUB_TOKEN="), "the names stay: {text}");
    assert!(
        !text.contains(&marker),
        "a secret value is readable: {text}"
    );
}
