//! The dashboard router through `Router::oneshot`: every route's status and content against
//! a history filled by real jobs and hostile per-test data, HTML escaping of everything a
//! repository controls, filters, paging, errors, and links under a `/dashboard` prefix.

use crate::support::jobs as common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use flaky_detector::history::{RunId, Store};
use flaky_detector::summary::reproduce_line;
use flaky_detector::web::{mounted, router};
use tempfile::TempDir;
use tower::ServiceExt;

use common::*;

const HOSTILE_TEST: &str = "suite::<script>alert('test')</script>";
const HOSTILE_MESSAGE: &str = "<img src=x onerror=alert(2)>";
const HOSTILE_OUTPUT: &str = "</pre><script>alert(3)</script>";
const HOSTILE_REPO: &str = "https://example.com/<b>repo</b>";

struct Fixture {
    _dir: TempDir,
    store: Arc<Store>,
    flaky: RunId,
    hostile: RunId,
    flaky_command: String,
}

/// Two real jobs (a flaky one failing for seeds ending in 3 or 7, and a stable one) plus a
/// job with hostile per-test data recorded on 2026-02-10.
async fn fixture() -> Fixture {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("h.db")).expect("opens"));
    let deps = deps(dir.path(), Some(Arc::clone(&store)));
    let repo = fixture_repo(dir.path(), "repo");
    let seeds: Vec<u64> = (1..=20).collect();
    let flaky_command = command_failing_on_digits("37", "boom");
    let flaky = real_job(&deps, &repo, &flaky_command, &seeds).await;
    real_job(
        &deps,
        &repo,
        &command_failing_on_digits("", ""),
        &seeds[..5],
    )
    .await;

    let mut hostile = with_runs(&flaky, &seeds, &[5, 9]);
    hostile.repo = HOSTILE_REPO.to_string();
    hostile.results[4].stderr = HOSTILE_OUTPUT.to_string();
    let mut test = test_case(HOSTILE_TEST, 20, &[5, 9]);
    test.first_failure = Some(HOSTILE_MESSAGE.to_string());
    hostile.tests = vec![test, test_case("suite::fine", 20, &[])];
    let at = Utc.with_ymd_and_hms(2026, 2, 10, 9, 30, 0).unwrap();
    let hostile_id = store.record_at(&hostile, at).expect("records");
    Fixture {
        _dir: dir,
        store,
        flaky: RunId(flaky.run_id.expect("recorded")),
        hostile: hostile_id,
        flaky_command,
    }
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .expect("the body reads");
    let text = String::from_utf8(body.to_vec()).expect("pages are UTF-8");
    if status.is_success() {
        assert!(
            content_type.starts_with("text/html"),
            "{uri}: {content_type}"
        );
    }
    (status, text)
}

/// The text as the page shows it (askama escapes these five characters).
fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// No hostile string reached the page as markup; each one that is shown is shown as text.
fn assert_escaped(uri: &str, html: &str) {
    for hostile in [HOSTILE_TEST, HOSTILE_MESSAGE, HOSTILE_OUTPUT, HOSTILE_REPO] {
        assert!(
            !html.contains(hostile),
            "{uri} carries raw markup: {hostile}"
        );
    }
    for tag in ["<script>alert", "<img src=x", "<b>repo"] {
        assert!(!html.contains(tag), "{uri} carries `{tag}`");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_answers_with_the_recorded_figures_and_escapes_repository_data() {
    let f = fixture().await;
    let app = router(Arc::clone(&f.store));

    let (status, html) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped("/", &html);
    assert!(html.contains(r#"<meta name="viewport""#));
    assert!(html.contains(r#"id="stat-jobs">3<"#), "3 jobs");
    assert!(html.contains(r#"id="stat-runs">45<"#), "20 + 5 + 20 runs");
    assert!(
        html.contains(r#"id="stat-failures">6<"#),
        "4 + 0 + 2 failed runs"
    );
    assert!(
        html.contains(r#"id="stat-flaky-tests">2<"#),
        "the flaky command and the hostile test"
    );
    // Mean of 20%, 0% and 10%.
    assert!(html.contains(r#"id="stat-mean-rate">10.0%<"#));
    assert!(html.contains("<svg class=\"chart trend\""));
    assert!(html.contains("<svg class=\"chart severity\""));
    assert!(unescape(&html).contains(HOSTILE_TEST), "shown as text");

    let (status, html) = get(&app, "/trend?days=7").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped("/trend", &html);
    let today = Utc::now().date_naive();
    assert!(
        html.contains(&format!(
            r#"<tr id="day-{today}"><td>{today}</td><td class="num day-jobs">2<"#
        )),
        "today's two real jobs"
    );
    assert!(!html.contains("day-2026-02-10"), "outside the 7-day window");
    let (_, html) = get(&app, "/trend?from=2026-02-01&to=2026-02-28").await;
    assert!(html.contains(r#"id="day-2026-02-10""#));

    let (status, html) = get(&app, "/tests").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped("/tests", &html);
    assert!(html.contains(r#"<span id="tests-total">2</span>"#));
    let shown = unescape(&html);
    assert!(shown.contains(HOSTILE_TEST));
    assert!(
        shown.contains(&f.flaky_command),
        "the command stands in as a test"
    );
    assert!(
        !shown.contains("suite::fine"),
        "a stable test is not listed"
    );

    let (status, html) = get(&app, "/severity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<span id="severity-total">3</span>"#));
    assert!(
        html.contains(r#"id="severity-medium"><td><a href="/jobs?severity=medium">"#),
        "20% and 10% are medium, linked to the filtered job list"
    );
    let medium = html
        .split(r#"id="severity-medium""#)
        .nth(1)
        .expect("a medium row");
    assert!(medium.contains(r#"class="num severity-jobs">2<"#));

    let (status, html) = get(&app, "/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped("/jobs", &html);
    assert!(html.contains(r#"<span id="jobs-total">3</span>"#));
    for id in [f.flaky, f.hostile] {
        assert!(html.contains(&format!(r#"href="/jobs/{id}""#)));
    }
    assert!(unescape(&html).contains(HOSTILE_REPO));

    let (status, html) = get(&app, &format!("/jobs/{}", f.hostile)).await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped("/jobs/hostile", &html);
    let shown = unescape(&html);
    for text in [HOSTILE_TEST, HOSTILE_MESSAGE, HOSTILE_OUTPUT, HOSTILE_REPO] {
        assert!(shown.contains(text), "the job page shows {text} as text");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_page_lists_each_failing_seed_with_its_own_reproduce_command() {
    let f = fixture().await;
    let app = router(Arc::clone(&f.store));
    let (status, html) = get(&app, &format!("/jobs/{}", f.flaky)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<span id="job-runs">20</span>"#));
    assert!(html.contains(r#"<span id="job-failing-runs">4</span>"#));
    let shown = unescape(&html);
    let argv = shlex::split(&f.flaky_command).expect("the command splits");
    for seed in [3, 7, 13, 17] {
        let command = reproduce_line(
            flaky_detector::framework::Framework::Unknown,
            seed,
            &Default::default(),
            &argv,
        );
        assert!(
            shown.contains(&format!(r#"id="seed-{seed}"><pre><code>{command}</code>"#)),
            "seed {seed} has `{command}`"
        );
    }
    assert!(!html.contains(r#"id="seed-4""#), "seed 4 passed");
    assert!(shown.contains("boom 13"), "the error excerpt of seed 13");
    assert_eq!(
        html.matches("class=\"fail\"").count(),
        4,
        "one red cell per failed run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_jobs_and_bad_parameters_get_a_400_naming_them() {
    let f = fixture().await;
    let app = router(Arc::clone(&f.store));
    let hostile_repo: String =
        url::form_urlencoded::byte_serialize(HOSTILE_REPO.as_bytes()).collect();

    let (_, html) = get(&app, &format!("/jobs?repo={hostile_repo}")).await;
    assert!(html.contains(r#"<span id="jobs-total">1</span>"#));
    assert!(html.contains(&format!(r#"id="job-{}""#, f.hostile)));
    let (_, html) = get(&app, "/jobs?severity=none").await;
    assert!(
        html.contains(r#"<span id="jobs-total">1</span>"#),
        "the stable job"
    );
    let (_, html) = get(&app, "/jobs?from=2026-02-10&to=2026-02-10").await;
    assert!(html.contains(r#"<span id="jobs-total">1</span>"#));
    let (_, html) = get(&app, "/jobs?from=2026-02-11&to=2026-02-11").await;
    assert!(html.contains(r#"<span id="jobs-total">0</span>"#));
    assert!(html.contains("No job matches."));
    let (_, html) = get(&app, "/jobs?test=script").await;
    assert!(
        html.contains(r#"<span id="jobs-total">1</span>"#),
        "by test name"
    );
    let (_, html) = get(&app, "/jobs?repo=&severity=&from=&to=&test=").await;
    assert!(
        html.contains(r#"<span id="jobs-total">3</span>"#),
        "empty form fields"
    );
    let (_, html) = get(&app, "/?severity=none").await;
    assert!(
        html.contains(r#"id="stat-jobs">1<"#),
        "the overview filters too"
    );

    for (uri, name) in [
        ("/jobs?severity=awful", "severity"),
        ("/jobs?from=yesterday", "from"),
        ("/jobs?from=2026-03-02&to=2026-03-01", "to"),
        ("/trend?days=0", "days"),
        ("/jobs?page=-1", "page"),
        // Year 1 to 60000 once cost 5.6 s and hundreds of MB: dates and spans are bounded.
        ("/trend?from=0001-01-01&to=2026-01-01", "from"),
        ("/trend?from=2026-01-01&to=%2B60000-01-01", "to"),
        ("/?from=1970-01-01&to=9999-12-31", "from"),
    ] {
        let (status, html) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            html.contains(&format!("invalid `{name}` parameter")),
            "{uri}: {html}"
        );
    }
    for uri in ["/jobs/999999", "/jobs/abc", "/no-such-page"] {
        let (status, html) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(html.contains("Not found"), "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_pages_through_many_jobs() {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("h.db")).expect("opens"));
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let base = real_job(&deps, &repo, "true", &[1]).await;
    for minute in 0..60 {
        let at = Utc.with_ymd_and_hms(2026, 4, 1, 10, minute, 0).unwrap();
        store.record_at(&base, at).expect("records");
    }
    let app = router(store);
    let (_, first) = get(&app, "/jobs?severity=none").await;
    assert_eq!(first.matches(r#"<tr id="job-"#).count(), 50);
    assert!(first.contains(r#"id="job-60""#), "newest first");
    assert!(
        first.contains(r#"<a href="/jobs?severity=none&amp;page=2" rel="next">"#)
            || first.contains(r#"<a href="/jobs?severity=none&#38;page=2" rel="next">"#),
        "{first}"
    );
    let (_, second) = get(&app, "/jobs?severity=none&page=2").await;
    assert_eq!(second.matches(r#"<tr id="job-"#).count(), 10);
    assert!(second.contains(r#"id="job-1""#));
    assert!(second.contains(r#"rel="prev""#));
    assert!(!second.contains(r#"rel="next""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_prefix_every_link_keeps_the_prefix() {
    let f = fixture().await;
    let app = Router::new().nest("/dashboard", router(Arc::clone(&f.store)));
    for uri in [
        "/dashboard",
        "/dashboard/trend",
        "/dashboard/tests",
        "/dashboard/severity",
        "/dashboard/jobs",
    ] {
        let (status, html) = get(&app, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {html}");
        for href in html.split("href=\"").skip(1) {
            let href = href.split('"').next().unwrap_or_default();
            assert!(
                href == "/dashboard" || href.starts_with("/dashboard/") || href.starts_with('?'),
                "{uri} links to {href}"
            );
        }
    }
    let (status, html) = get(&app, &format!("/dashboard/jobs/{}", f.flaky)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<a class="brand" href="/dashboard">"#));
    let (status, html) = get(&app, "/dashboard/jobs/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains(r#"href="/dashboard">Back to the overview"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_redirects_the_trailing_slash_form_of_the_prefix() {
    let f = fixture().await;
    let app = mounted("/dashboard/", Arc::clone(&f.store));
    let response = app
        .clone()
        .oneshot(
            Request::get("/dashboard/")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("the router answers");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/dashboard")
    );
    let (status, html) = get(&app, "/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="stat-jobs">3<"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_fault_is_a_500_with_a_generic_message() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("h.db");
    let store = Arc::new(Store::open(&path).expect("opens"));
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch("DROP TABLE test_case_totals;"))
        .expect("the table drops");
    let (status, html) = get(&router(store), "/").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        html.contains("the history database could not be read"),
        "{html}"
    );
    assert!(
        !html.contains("test_case_totals"),
        "internals stay in the log"
    );
}
