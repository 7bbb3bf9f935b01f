//! Fetching a repository at a branch, a tag and a commit SHA, from a git repository built in
//! the test with git2: through the binary for a local path, and over git's smart protocol
//! (`git daemon` on 127.0.0.1) for the shallow fetch that https remotes get.

use crate::support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use flaky_detector::workspace::fetch::{FetchRequest, fetch_into};
use git2::{Oid, Repository, Signature};
use support::{Sandbox, path_str};

/// A repository with `main` (A then B), tag `v1` (annotated, at A) and branch `feature`
/// (A then C). The file `which` names the commit.
struct Fixture {
    dir: tempfile::TempDir,
    a: Oid,
    b: Oid,
    c: Oid,
}

fn commit(repo: &Repository, parent: Option<Oid>, which: &str, update_ref: Option<&str>) -> Oid {
    std::fs::write(repo.workdir().expect("workdir").join("which"), which).expect("write");
    let mut index = repo.index().expect("index");
    index.add_path(Path::new("which")).expect("add");
    index.write().expect("index write");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("find tree");
    let sig = Signature::now("Test", "test@example.com").expect("signature");
    let parents: Vec<git2::Commit> = parent
        .map(|p| repo.find_commit(p).expect("parent"))
        .into_iter()
        .collect();
    let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(update_ref, &sig, &sig, which, &tree, &parent_refs)
        .expect("commit")
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Repository::init(dir.path()).expect("init");
    repo.set_head("refs/heads/main").expect("head");
    let a = commit(&repo, None, "A", Some("HEAD"));
    let sig = Signature::now("Test", "test@example.com").expect("signature");
    repo.tag(
        "v1",
        &repo.find_object(a, None).expect("A"),
        &sig,
        "v1",
        false,
    )
    .expect("tag");
    let b = commit(&repo, Some(a), "B", Some("HEAD"));
    let c = commit(&repo, Some(a), "C", Some("refs/heads/feature"));
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("working tree back at main");
    let mut config = repo.config().expect("config");
    config
        .set_bool("uploadpack.allowReachableSHA1InWant", true)
        .expect("config");
    Fixture { dir, a, b, c }
}

#[test]
fn a_local_repository_is_tested_at_a_branch_a_tag_and_a_commit() {
    let fx = fixture();
    let sandbox = Sandbox::new();
    let a_short = fx.a.to_string()[..8].to_string();
    let cases = [
        (None, fx.b, "B"),
        (Some("main"), fx.b, "B"),
        (Some("feature"), fx.c, "C"),
        (Some("v1"), fx.a, "A"),
        (Some(&*fx.c.to_string()), fx.c, "C"),
        (Some(a_short.as_str()), fx.a, "A"),
    ];
    for (git_ref, expected, content) in cases {
        let command = format!("sh -c 'test \"$(cat which)\" = {content}'");
        let mut args = vec!["--repo", path_str(fx.dir.path()), "-c", &command, "-n", "1"];
        if let Some(git_ref) = git_ref {
            args.extend(["--ref", git_ref]);
        }
        let summary = sandbox.summary(&args);
        // Without a ref a local directory is copied as it is (HEAD is B).
        assert_eq!(summary["commit"], expected.to_string(), "ref {git_ref:?}");
        assert_eq!(
            summary["failures"], 0,
            "ref {git_ref:?}: wrong files checked out"
        );
        if let Some(git_ref) = git_ref {
            assert_eq!(summary["ref"], git_ref);
        }
    }
}

#[test]
fn a_ref_that_does_not_exist_is_a_clear_error() {
    let fx = fixture();
    let sandbox = Sandbox::new();
    let (output, _) = sandbox.run(&[
        "--repo",
        path_str(fx.dir.path()),
        "-c",
        "true",
        "--ref",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "error: ref `nope` not found in the repository: no branch or tag has that name"
    );
}

/// `git daemon` serving the fixture's parent directory; killed on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // `git daemon` runs `git-daemon` as a child: take the whole group down.
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn daemon(base: &Path) -> Daemon {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new("git")
        .args([
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .process_group(0)
        .spawn()
        .expect("git daemon starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "git daemon did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon { child, port }
}

#[test]
fn a_remote_is_fetched_shallow_at_a_branch_a_tag_and_exactly_a_commit() {
    let fx = fixture();
    let base = fx.dir.path().parent().expect("tempdir has a parent");
    let name = fx.dir.path().file_name().expect("name").to_string_lossy();
    let server = daemon(base);
    let url = format!("git://127.0.0.1:{}/{name}", server.port);
    let a = fx.a.to_string();
    for (git_ref, expected) in [
        (None, fx.b),
        (Some("feature"), fx.c),
        (Some("v1"), fx.a),
        (Some(a.as_str()), fx.a),
    ] {
        let dest = tempfile::tempdir().expect("tempdir");
        let request = FetchRequest {
            url: &url,
            shown: &url,
            git_ref,
            token: None,
            shallow: true,
            deadline: std::time::Instant::now() + Duration::from_secs(60),
        };
        let commit = fetch_into(&request, dest.path()).expect("fetches");
        assert_eq!(commit, expected.to_string(), "ref {git_ref:?}");
        let fetched = Repository::open(dest.path()).expect("opens");
        assert!(
            fetched.is_shallow(),
            "ref {git_ref:?} was not fetched shallow"
        );
        let which = std::fs::read_to_string(dest.path().join("which")).expect("checked out");
        assert_eq!(
            which,
            fetched
                .find_commit(expected)
                .expect("commit")
                .message()
                .expect("msg")
        );
    }
}

#[test]
fn an_unreachable_remote_fails_fast_with_a_redacted_url() {
    let dest = tempfile::tempdir().expect("tempdir");
    let request = FetchRequest {
        url: "https://user:sekrit@127.0.0.1:9/nope.git",
        shown: "https://127.0.0.1:9/nope.git",
        git_ref: None,
        token: None,
        shallow: true,
        deadline: std::time::Instant::now() + Duration::from_secs(30),
    };
    let error = fetch_into(&request, dest.path()).expect_err("nothing listens on port 9");
    let text = error.to_string();
    assert!(
        text.starts_with("cannot clone https://127.0.0.1:9/nope.git"),
        "{text}"
    );
    assert!(!text.contains("sekrit"), "{text}");
}

/// An HTTP server on 127.0.0.1 that answers every request with a 401 asking for Basic
/// credentials, and records the `Authorization` header of each request (empty if none).
fn refusing_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut authorization = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = value.trim().to_string();
                }
            }
            record.lock().expect("lock").push(authorization);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

#[test]
fn the_git_token_goes_only_to_the_hosts_it_belongs_to() {
    use flaky_detector::workspace::GitToken;
    use secrecy::SecretString;
    let (port, seen) = refusing_server();
    let url = format!("http://127.0.0.1:{port}/victim/repo.git");
    let fetch = |hosts: &[&str]| {
        let token = GitToken::new(
            SecretString::from("s3cret-token"),
            hosts.iter().map(|h| h.to_string()).collect(),
        );
        let dest = tempfile::tempdir().expect("tempdir");
        let request = FetchRequest {
            url: &url,
            shown: &url,
            git_ref: None,
            token: Some(&token),
            shallow: true,
            deadline: Instant::now() + Duration::from_secs(30),
        };
        fetch_into(&request, dest.path()).expect_err("the server refuses everyone")
    };

    // The default list (github.com) does not hold 127.0.0.1: asked for credentials, the
    // fetch gives up without sending the token.
    let error = fetch(&["github.com"]).to_string();
    assert!(error.contains("not for"), "{error}");
    let sent = seen.lock().expect("lock").clone();
    assert!(!sent.is_empty(), "git asked the server");
    assert!(sent.iter().all(String::is_empty), "token sent: {sent:?}");

    // Listed: the token goes there, as Basic x-access-token:<token>.
    seen.lock().expect("lock").clear();
    fetch(&["github.com", "127.0.0.1"]);
    let sent = seen.lock().expect("lock").clone();
    // base64("x-access-token:s3cret-token")
    let expected = "Basic eC1hY2Nlc3MtdG9rZW46czNjcmV0LXRva2Vu";
    assert!(sent.iter().any(|a| a == expected), "{sent:?}");
}
