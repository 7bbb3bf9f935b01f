//! Issue 21, finding 4: the pytest fork server's socket is private to the detector's user
//! whatever the umask (a 0700 job folder, a 0600 socket) and the server serves only peers of
//! its own uid (SO_PEERCRED). Real binary, real fork server, a real second user.

use serde_json::Value;

use crate::support::{Sandbox, path_str, project};

/// A pytest test that, as root inside a fork server's run, tries the job's fork-server sockets
/// as another user (65534): straight, and through a world-writable hard link (so that only the
/// server's own peer check stands), writing what happened to `$REPORT`.
const OTHER_USER_CLIENT: &str = r#"import glob, os, socket


def attempt(path):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
            except OSError as error:
                message = "refused-at-connect:" + type(error).__name__
            else:
                s.settimeout(5)
                try:
                    message = "closed" if s.recv(1) == b"" else "answered"
                except socket.timeout:
                    message = "waited-for-a-request"
        except BaseException as error:
            message = "error:" + repr(error)
        os.write(w, message.encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    return os.read(r, 1000).decode()


def test_another_user_tries_the_fork_server():
    sockets = glob.glob(os.environ["WORK"] + "/flaky-job-*/**/server-*.sock", recursive=True)
    lines = ["sockets %d" % len(sockets)]
    for n, path in enumerate(sockets):
        lines.append("direct " + attempt(path))
        link = os.path.join(os.environ["OPEN_DIR"], "link-%d" % n)
        os.link(path, link)
        os.chmod(link, 0o777)
        lines.append("linked " + attempt(link))
    with open(os.environ["REPORT"], "w") as report:
        report.write("\n".join(lines) + "\n")
"#;

/// Issue 21, finding 4: with umask 000 the job folder and the fork server's socket were open
/// to every local user, and the server ran whatever a client sent as the detector's user.
#[test]
#[cfg_attr(
    not(has_root),
    ignore = "needs root: the test becomes another user (65534) to try the socket"
)]
fn under_umask_000_another_user_can_neither_reach_nor_use_the_fork_server() {
    use std::os::unix::fs::PermissionsExt;
    let repo = project(&[("tests/test_x.py", OTHER_USER_CLIENT)]);
    let sandbox = Sandbox::new();
    let open_dir = sandbox.root.path().join("open");
    std::fs::create_dir(&open_dir).expect("open dir");
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let report = sandbox.root.path().join("report.txt");
    let output = std::process::Command::new("sh")
        .env("FLAKY_CACHE_DIR", sandbox.cache_dir())
        .env("FLAKY_WORK_DIR", sandbox.work_dir())
        .env_remove("RUNPOD_WEBHOOK_GET_JOB")
        .env("FLAKY_DB", sandbox.root.path().join("history.db"))
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(crate::support::BIN)
        .args(["run", "--json", "--repo", path_str(repo.path())])
        .args(["--command", "pytest -q tests", "--runs", "1"])
        .args(["--env", &format!("WORK={}", sandbox.work_dir().display())])
        .args(["--env", &format!("OPEN_DIR={}", open_dir.display())])
        .args(["--env", &format!("REPORT={}", report.display())])
        .output()
        .expect("runs");
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        summary["build_once"]
            .as_str()
            .is_some_and(|mode| mode.starts_with("pytest fork server")),
        "{summary}"
    );
    let report = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("the test wrote no report: {summary}"));
    assert!(!report.starts_with("sockets 0"), "{report}");
    for line in report.lines().skip(1) {
        let (how, outcome) = line.split_once(' ').expect("two words");
        let expected = match how {
            "direct" => "refused-at-connect:PermissionError",
            _ => "closed",
        };
        assert_eq!(outcome, expected, "{how}: {report}");
    }
}
