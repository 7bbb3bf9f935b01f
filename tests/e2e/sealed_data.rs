//! Issue 21 (a second security review), the data-side findings, through the real binary:
//! local directories whose git metadata lives elsewhere, `serve`'s origin check and secrets
//! read from files. Each test is named after what it proves.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{Sandbox, path_str};

/// `git args…` in `dir`, with an identity and no user or system config; panics on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@localhost")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@localhost")
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A repository `main` in `root` with one commit on `main`.
fn main_repo(root: &Path) -> std::path::PathBuf {
    let main = root.join("main");
    std::fs::create_dir_all(&main).expect("mkdir");
    git(&main, &["init", "-q", "-b", "main"]);
    std::fs::write(main.join("t.sh"), "exit 0\n").expect("write");
    git(&main, &["add", "t.sh"]);
    git(&main, &["commit", "-q", "-m", "one"]);
    main
}

/// Everything of the git directory `git_dir` a run could change: every ref, every object
/// file, every index (the main one and each worktree's) and HEAD, as sorted lines.
fn git_state(git_dir: &Path) -> Vec<String> {
    let mut state = Vec::new();
    let mut stack = vec![git_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                state.push(format!(
                    "{} {:x}",
                    path.strip_prefix(git_dir).expect("inside").display(),
                    bytes.len() as u64
                        ^ bytes
                            .iter()
                            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b))
                ));
            }
        }
    }
    state.sort();
    state
}

/// A run command that fails (exit 3) when it finds a change staged by an earlier run, then
/// stages a file, commits it and tags the commit, failing (exit 2) when git refuses.
const COMMITTING_RUN: &str = "sh -c 'git diff --cached --quiet || exit 3; \
    echo x > new.txt && git add new.txt && \
    git -c user.name=t -c user.email=t@localhost commit -qm run && \
    git tag run-$FLAKY_RUN_INDEX || exit 2'";

/// Runs [`COMMITTING_RUN`] twice over `tree` and checks that both runs committed in a
/// repository of their own: no failure, and `main`'s git directory unchanged.
fn runs_commit_privately(tree: &Path, main: &Path) {
    let before = git_state(&main.join(".git"));
    let refs_before = git(main, &["for-each-ref"]);
    let sandbox = Sandbox::new();
    let summary = sandbox.summary(&[
        "--repo",
        path_str(tree),
        "--command",
        COMMITTING_RUN,
        "--runs",
        "2",
        "--parallelism",
        "1",
    ]);
    assert_eq!(
        summary["failures"], 0,
        "every run committed on a clean index: {summary}"
    );
    assert_eq!(
        git(main, &["for-each-ref"]),
        refs_before,
        "no branch moved, no tag added"
    );
    assert_eq!(
        git_state(&main.join(".git")),
        before,
        "no object, ref or index changed"
    );
    assert!(
        !tree.join("new.txt").exists(),
        "the tree itself is untouched"
    );
}

/// Finding 2: a linked worktree (`.git` is a file) was written through: runs moved its branch,
/// added tags and objects to the main repository and left a staged change for the next run.
#[test]
fn issue_21_finding_2_runs_in_a_linked_worktree_never_write_to_the_main_repository() {
    let root = tempfile::tempdir().expect("tempdir");
    let main = main_repo(root.path());
    let tree = root.path().join("wt");
    git(
        &main,
        &["worktree", "add", "-q", path_str(&tree), "-b", "wtbranch"],
    );
    assert!(tree.join(".git").is_file(), "a linked worktree");
    runs_commit_privately(&tree, &main);
}

/// Finding 2, for a submodule: its `.git` file points into the superproject's
/// `.git/modules`, whose config names the user's tree as `core.worktree`.
#[test]
fn issue_21_finding_2_runs_in_a_submodule_never_write_to_its_git_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let library = main_repo(root.path());
    let superproject = root.path().join("super");
    std::fs::create_dir_all(&superproject).expect("mkdir");
    git(&superproject, &["init", "-q", "-b", "main"]);
    git(
        &superproject,
        &["submodule", "add", "-q", path_str(&library), "lib"],
    );
    git(&superproject, &["commit", "-q", "-m", "with lib"]);
    let tree = superproject.join("lib");
    assert!(tree.join(".git").is_file(), "a submodule");
    // The submodule's git directory is the repository a run could write through.
    let modules = superproject.join(".git/modules/lib");
    let before = git_state(&modules);
    let refs_before = git(&tree, &["for-each-ref"]);
    runs_commit_privately(&tree, &superproject);
    assert_eq!(git(&tree, &["for-each-ref"]), refs_before);
    assert_eq!(git_state(&modules), before);
}

/// Finding 10: keyless `serve` took bodiless POSTs (`/purge-queue`, `/cancel/{id}`) from any
/// `http://localhost:<port>` origin, so any local web page could change its state. Now a page
/// of another origin is refused with a one-line reason; programs (no `Origin`) and the
/// server's own pages still get through.
#[tokio::test]
async fn issue_21_finding_10_keyless_serve_takes_state_changes_only_from_its_own_origin() {
    let server = support::runpod::server::Server::start(&[]).await;
    let own = server.base.trim_end_matches('/').to_string();
    let client = reqwest::Client::new();
    for path in ["/purge-queue", "/cancel/nope"] {
        let url = format!("{own}{path}");
        let refused = client
            .post(&url)
            .header("Origin", "http://localhost:31337")
            .send()
            .await
            .expect("answers");
        assert_eq!(refused.status(), 403, "{path}");
        let body: serde_json::Value = refused.json().await.expect("a JSON error");
        let message = body["error"].as_str().expect("an error message");
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("another origin"), "{message}");
        for origin in [None, Some(own.as_str())] {
            let mut request = client.post(&url);
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            let status = request.send().await.expect("answers").status();
            assert_ne!(status, 403, "{path} from {origin:?}");
        }
    }
}

/// Finding 11 (secrets from files): `serve --api-key-file` (or `FLAKY_API_KEY_FILE`) and
/// `submit --api-key-file` (or `RUNPOD_API_KEY_FILE`) read the key from a file, so it is
/// not in the command line `ps` shows.
#[tokio::test]
async fn issue_21_finding_11_the_api_key_can_come_from_a_file_for_serve_and_submit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "file-key-1\n").expect("key file");
    let key_path = path_str(&key_file).to_string();
    let server = support::runpod::server::Server::start(&[
        "--allow-local-repos",
        "--api-key-file",
        &key_path,
    ])
    .await;
    let client = reqwest::Client::new();
    let purge = format!("{}/purge-queue", server.base.trim_end_matches('/'));
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(client.post(&purge).send().await.expect("answers")),
        401,
        "a key is required"
    );
    assert_eq!(
        status(
            client
                .post(&purge)
                .bearer_auth("file-key-1")
                .send()
                .await
                .expect("answers")
        ),
        200,
        "the file's key, without its newline"
    );
    let cmdline = std::fs::read_to_string(format!("/proc/{}/cmdline", server.process.pid()))
        .expect("cmdline");
    assert!(!cmdline.contains("file-key-1"), "{cmdline}");

    let repo = support::runpod::fixture::odd_seeds_fail("0");
    for (flag, env) in [(true, false), (false, true)] {
        let mut args = vec![
            "submit",
            "--url",
            &server.base,
            "--repo",
            path_str(repo.path()),
            "-c",
            "sh test.sh",
            "--seed",
            "2,4",
            "--no-confirm",
            "--poll-interval",
            "0.1",
            "--json",
        ];
        if flag {
            args.extend(["--api-key-file", &key_path]);
        }
        let envs: Vec<(&str, &str)> = if env {
            vec![("RUNPOD_API_KEY_FILE", key_path.as_str())]
        } else {
            Vec::new()
        };
        let output = support::http::cli(dir.path(), &args, &envs).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "flag {flag} env {env}: {}",
            support::http::stderr(&output)
        );
    }
}
