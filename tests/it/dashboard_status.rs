//! Issue 26, item 4: the dashboard's Status page through `Router::oneshot`, over a real
//! SQLite history: each test's status with its strength, the quarantine flag from the
//! repository's quarantine file, and its failure rate job by job.

use crate::support::jobs as common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use flaky_detector::history::Store;
use flaky_detector::web::status_page::QuarantineDir;
use flaky_detector::web::{router, router_with};
use tempfile::TempDir;
use tower::ServiceExt;

use common::*;

/// A history of three jobs over the last three hours: `suite::flaky` fails in each,
/// `suite::fixed` failed in the first and then ran 20 clean runs, `suite::broken` fails
/// every run, `suite::stable` never fails. The quarantine folder sets `fixed_below: 0.2`
/// (14 clean runs) and lists `suite::flaky`.
async fn fixture() -> (TempDir, Arc<Store>) {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("h.db")).expect("opens"));
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let seeds: Vec<u64> = (1..=20).collect();
    let base = real_job(
        &deps,
        &repo,
        &command_failing_on_digits("3", "boom"),
        &seeds,
    )
    .await;
    let framework = base.framework;
    for (hours_ago, flaky, fixed) in [
        (3, &[3u64, 13][..], &[5u64][..]),
        (2, &[7], &[]),
        (1, &[11], &[]),
    ] {
        let mut job = with_runs(&base, &seeds, flaky);
        job.tests = vec![
            test_case("suite::flaky", 20, flaky),
            test_case("suite::fixed", 20, fixed),
            test_case("suite::broken", 20, &seeds),
            test_case("suite::stable", 20, &[]),
        ];
        store
            .record_at(&job, Utc::now() - Duration::hours(hours_ago))
            .expect("records");
    }
    let repo_dir = dir.path().join("checkout");
    std::fs::create_dir_all(repo_dir.join(".flaky-detector")).expect("dirs");
    std::fs::write(
        repo_dir.join(".flaky-detector.yml"),
        "quarantine:\n  fixed_below: 0.2\n",
    )
    .expect("rules");
    std::fs::write(
        repo_dir.join(".flaky-detector/quarantine.yml"),
        format!(
            "tests:\n- id: suite::flaky\n  framework: {framework}\n  status: flaky\n  first_seen: 2026-12-01\n  rate: 0.067\n  interval: [0.02, 0.2]\n  runs: 60\n"
        ),
    )
    .expect("quarantine file");
    (dir, store)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The table row of `test`.
fn row<'a>(page: &'a str, test: &str) -> &'a str {
    let at = page
        .find(&format!(">{test}</a>"))
        .unwrap_or_else(|| panic!("{test} listed: {page}"));
    let end = page[at..].find("</tr>").map_or(page.len(), |e| at + e);
    &page[at..end]
}

#[tokio::test]
async fn the_status_page_shows_status_strength_quarantine_and_rate_per_job() {
    let (dir, store) = fixture().await;
    let app = router_with(
        store.clone(),
        QuarantineDir(Some(dir.path().join("checkout"))),
    );
    let (status, page) = get(&app, "/status").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("needs 14 clean runs"), "{page}");

    let flaky = row(&page, "suite::flaky");
    assert!(flaky.contains("status flaky\">flaky<"), "{flaky}");
    assert!(flaky.contains("4 of 60 runs failed"), "{flaky}");
    assert!(flaky.contains("quarantined"), "{flaky}");
    assert_eq!(
        flaky.matches("<circle").count(),
        3,
        "one dot per job: {flaky}"
    );
    assert_eq!(flaky.matches("class=\"fail\"").count(), 3, "{flaky}");

    let fixed = row(&page, "suite::fixed");
    assert!(fixed.contains(">fixed<"), "{fixed}");
    assert!(fixed.contains("≤ 20 % after 40 clean runs"), "{fixed}");
    assert!(!fixed.contains("quarantined"), "{fixed}");

    let broken = row(&page, "suite::broken");
    assert!(broken.contains(">broken<"), "{broken}");
    assert!(row(&page, "suite::stable").contains(">stable<"));
    assert!(page.contains("id=\"count-quarantined\">1<"), "{page}");
    // Worst first: flaky before broken before fixed before stable.
    let at = |t: &str| page.find(&format!(">{t}</a>")).expect("listed");
    assert!(at("suite::flaky") < at("suite::broken"));
    assert!(at("suite::broken") < at("suite::fixed"));
    assert!(at("suite::fixed") < at("suite::stable"));

    // Without a quarantine folder: the default rules (299 runs), no flag, and a hint.
    let (_, plain) = get(&router(store), "/status").await;
    assert!(plain.contains("needs 299 clean runs"), "{plain}");
    assert!(plain.contains("--quarantine-dir"), "{plain}");
    assert!(row(&plain, "suite::fixed").contains(">fixed?<"));
}
