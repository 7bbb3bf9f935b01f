//! `flaky-detector report results.json` against local servers standing in for GitHub,
//! Slack and Discord: the exact requests each gets, the pull request comment that edits
//! itself, retries that honour `Retry-After`, the step summary and annotations, and
//! secrets that never show.

use crate::support::http as ci_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ci_support::{FakeServer, Reply, cli, github_api, stderr, stdout, summary};
use flaky_detector::Summary;
use flaky_detector::report::markdown::{Body, GITHUB, MARKER, fit};
use flaky_detector::report::{COMMENT_LIMIT, discord, slack};
use serde_json::json;
use tempfile::TempDir;

const TOKEN: &str = "gh-token-123";

fn results(dir: &TempDir, summary: &Summary) -> PathBuf {
    let path = dir.path().join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(summary).expect("JSON")).expect("write");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn github_env(api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_API_URL", api.to_string()),
        ("GITHUB_TOKEN", TOKEN.to_string()),
        ("GITHUB_REPOSITORY", "o/r".to_string()),
    ]
}

async fn report(
    dir: &TempDir,
    args: &[&str],
    env: &[(&'static str, String)],
) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cli(dir.path(), args, &env).await
}

#[tokio::test]
async fn a_second_report_edits_the_first_comment() {
    // 150 other comments on the pull request, so ours is looked for on a second page.
    let others = (0..150)
        .map(|i| (7, format!("review comment {i}")))
        .collect();
    let github = FakeServer::start(github_api(others)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let flaky = summary("flaky");
    let file = results(&dir, &flaky);
    let args = ["report", path_str(&file), "--github"];
    let env = github_env(&github.url);

    let first = report(&dir, &args, &env).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("created comment 5150 on pull request #7"),
        "{}",
        stderr(&first)
    );
    let body = fit(&Body::of(&flaky), GITHUB, COMMENT_LIMIT);
    let requests = github.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", "/repos/o/r/issues/7/comments?per_page=100"),
            ("GET", "/repos/o/r/issues/7/comments?per_page=100&page=2"),
            ("POST", "/repos/o/r/issues/7/comments"),
        ]
    );
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer gh-token-123"));
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("flaky-detector/"))
        );
    }
    assert_eq!(requests[2].header("content-type"), Some("application/json"));
    assert_eq!(requests[2].json(), json!({ "body": body }));

    // The job is run again and is now stable: the same comment changes.
    let stable = summary("stable");
    let file = results(&dir, &stable);
    let second = report(&dir, &["report", path_str(&file), "--github"], &env).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("updated comment 5150 on pull request #7"),
        "{}",
        stderr(&second)
    );
    let requests = github.requests();
    let edit = requests.last().expect("a request");
    assert_eq!(edit.method, "PATCH");
    assert_eq!(edit.path, "/repos/o/r/issues/comments/5150");
    assert_eq!(edit.header("authorization"), Some("Bearer gh-token-123"));
    assert_eq!(
        edit.json(),
        json!({ "body": fit(&Body::of(&stable), GITHUB, COMMENT_LIMIT) })
    );
    assert_eq!(
        requests.iter().filter(|r| r.method == "POST").count(),
        1,
        "a second comment was created"
    );
    for output in [&first, &second] {
        assert!(!stdout(output).contains(TOKEN) && !stderr(output).contains(TOKEN));
    }
}

#[tokio::test]
async fn the_pull_request_comes_from_the_flag_the_event_or_the_commit() {
    let github = FakeServer::start(github_api(Vec::new())).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut anonymous = summary("flaky");
    anonymous.pr_number = None;
    let file = results(&dir, &anonymous);
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({"workflow_run": {"pull_requests": [{"number": 12}]}}).to_string(),
    )
    .expect("write the event");
    let mut env = github_env(&github.url);
    env.push(("GITHUB_EVENT_PATH", path_str(&event).to_string()));
    let from_event = report(&dir, &["report", path_str(&file), "--github"], &env).await;
    assert!(
        stderr(&from_event).contains("on pull request #12"),
        "{}",
        stderr(&from_event)
    );
    let with_flag = report(
        &dir,
        &["report", path_str(&file), "--github", "--pr", "3"],
        &env,
    )
    .await;
    assert!(
        stderr(&with_flag).contains("on pull request #3"),
        "{}",
        stderr(&with_flag)
    );

    // A fork's workflow_run names no pull request; the tested commit leads to the open one.
    std::fs::write(
        &event,
        json!({"workflow_run": {"pull_requests": []}}).to_string(),
    )
    .expect("write");
    anonymous.commit_sha = Some("abc123def456abc123def456abc123def456abcd".into());
    let file = results(&dir, &anonymous);
    let from_commit = report(&dir, &["report", path_str(&file), "--github"], &env).await;
    assert!(
        stderr(&from_commit).contains("on pull request #9"),
        "{}",
        stderr(&from_commit)
    );
    assert!(github.requests().iter().any(|r| r.method == "GET"
        && r.path == "/repos/o/r/commits/abc123def456abc123def456abc123def456abcd/pulls"));
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let slack_hook = FakeServer::start(|_, earlier| {
        if earlier.is_empty() {
            Reply::text(429, "rate_limited").header("retry-after", "1")
        } else {
            Reply::text(200, "ok")
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let flaky = summary("flaky");
    let file = results(&dir, &flaky);
    let url = format!("{}/services/T000/B000/slack-secret-xyz", slack_hook.url);
    let output = report(&dir, &["report", path_str(&file), "--slack", &url], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("report: Slack: posted"),
        "{}",
        stderr(&output)
    );
    let requests = slack_hook.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/services/T000/B000/slack-secret-xyz");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.json(), slack::payload(&Body::of(&flaky)));
    }
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before Retry-After"
    );
    assert!(!stderr(&output).contains("slack-secret-xyz"));
}

#[tokio::test]
async fn a_long_retry_after_is_capped() {
    let discord_hook = FakeServer::start(|_, earlier| {
        if earlier.is_empty() {
            Reply::json(
                429,
                json!({"message": "You are being rate limited.", "retry_after": 3600.0}),
            )
            .header("retry-after", "3600")
        } else {
            Reply::text(204, "")
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let flaky = summary("flaky");
    let file = results(&dir, &flaky);
    let url = format!("{}/api/webhooks/1/discord-secret-xyz", discord_hook.url);
    let args = [
        "report",
        path_str(&file),
        "--discord",
        &url,
        "--retry-max-wait",
        "0.2",
    ];
    let output = report(&dir, &args, &[]).await;
    assert!(
        stderr(&output).contains("report: Discord: posted"),
        "{}",
        stderr(&output)
    );
    let requests = discord_hook.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/api/webhooks/1/discord-secret-xyz");
    let embed = &requests[1].json()["embeds"][0];
    assert_eq!(embed["color"], 0xDB6D28);
    assert_eq!(requests[1].json(), discord::payload(&Body::of(&flaky)));
}

#[tokio::test]
async fn a_failed_channel_is_reported_without_changing_the_exit_status() {
    let broken = FakeServer::start(|_, _| Reply::text(500, "internal error")).await;
    let github =
        FakeServer::start(|_, _| Reply::json(401, json!({"message": "Bad credentials"}))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = results(&dir, &summary("flaky"));
    let hook = format!("{}/services/T000/B000/slack-secret-xyz", broken.url);
    let args = [
        "report",
        path_str(&file),
        "--github",
        "--slack",
        &hook,
        "--retry-backoff",
        "0.05",
        "--fail-on",
        "medium",
    ];
    let output = report(&dir, &args, &github_env(&github.url)).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("warning: report to Slack not delivered: the Slack webhook still answered HTTP 500 after 3 attempts"), "{err}");
    assert!(err.contains("warning: report to GitHub comment not delivered: the GitHub API answered HTTP 401: Bad credentials"), "{err}");
    assert_eq!(broken.requests().len(), 3);
    assert!(
        !err.contains("slack-secret-xyz") && !err.contains(TOKEN),
        "{err}"
    );
}

#[tokio::test]
async fn the_step_summary_is_appended_and_failing_tests_are_annotated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flaky = summary("flaky");
    let file = results(&dir, &flaky);
    let step_summary = dir.path().join("step_summary.md");
    std::fs::write(&step_summary, "## Earlier step\n").expect("write");
    let env = vec![("GITHUB_STEP_SUMMARY", path_str(&step_summary).to_string())];
    let output = report(&dir, &["report", path_str(&file), "--step-summary"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(&step_summary).expect("read");
    let body = fit(&Body::of(&flaky), GITHUB, 1024 * 1024);
    assert_eq!(written, format!("## Earlier step\n{body}\n"));
    let annotations: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(
        annotations,
        [
            "::warning title=Flaky test%3A tests/test_api.py%3A%3Atest_retry::tests/test_api.py::test_retry failed 5 of 40 runs (12.5%25, 95%25 CI 5.5%25-26.1%25); failing seeds 3, 17, 23, 31, 38",
            "::warning title=Flaky test%3A tests/test_db.py%3A%3Atest_pool|size::tests/test_db.py::test_pool|size failed 2 of 40 runs (5.0%25, 95%25 CI 1.4%25-16.5%25); failing seeds 17, 29",
        ]
    );
    let failing = results(&dir, &summary("always-failing"));
    let output = report(
        &dir,
        &["report", path_str(&failing), "--step-summary"],
        &env,
    )
    .await;
    assert!(
        stdout(&output)
            .starts_with("::error title=Always failing::`pytest -q tests` failed all 10 runs"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn without_a_channel_the_markdown_is_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flaky = summary("flaky");
    // A RunPod /status answer is read too.
    let path = dir.path().join("status.json");
    std::fs::write(
        &path,
        json!({"id": "j1", "status": "COMPLETED", "output": flaky}).to_string(),
    )
    .expect("write");
    let output = report(&dir, &["report", path_str(&path)], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        flaky_detector::report::markdown::render(
            &Body::of(&flaky),
            GITHUB,
            flaky_detector::report::markdown::Level::Full
        )
    );

    std::fs::write(&path, "{\"total_runs\": 3}").expect("write");
    let output = report(&dir, &["report", path_str(&path)], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: "),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("is not a flaky-detector summary"),
        "{}",
        stderr(&output)
    );
}

/// Issue 12, finding 11: anyone could paste the hidden marker into a comment of theirs and
/// have the next report edit it. Only a marked comment the token's own user wrote is ours.
#[tokio::test]
async fn issue_12_finding_11_a_marker_planted_by_someone_else_is_not_edited() {
    let planted = format!("{MARKER}\nplanted by someone else");
    let github = FakeServer::start(github_api(vec![(7, planted)])).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = results(&dir, &summary("flaky"));
    let env = github_env(&github.url);
    let output = report(&dir, &["report", path_str(&file), "--github"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("created comment 5001 on pull request #7"),
        "{}",
        stderr(&output)
    );
    let requests = github.requests();
    assert!(
        requests.iter().all(|r| r.method != "PATCH"),
        "the planted comment was edited"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path == "/user")
    );

    // Our own comment is found and edited next time, past the planted one.
    let file = results(&dir, &summary("stable"));
    let again = report(&dir, &["report", path_str(&file), "--github"], &env).await;
    assert!(
        stderr(&again).contains("updated comment 5001 on pull request #7"),
        "{}",
        stderr(&again)
    );
}
