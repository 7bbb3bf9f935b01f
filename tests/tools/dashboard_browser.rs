//! The dashboard in a real headless Chromium: a history filled by real jobs (the pipeline on
//! local fixture repositories, failing for chosen seeds), served on 127.0.0.1 under
//! `/dashboard`; every page's DOM compared with the database through independent SQL, and a
//! screenshot of each page (desktop and phone) saved under `target/dashboard-screenshots/`.
//!
//! Ignored with the reason where `build.rs` found no Chromium (`cfg(has_chromium)`); CI sets
//! `FLAKY_REQUIRE_TOOLS=1` after installing Debian's `chromium`, so there it always runs.

use crate::support::jobs as common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use flaky_detector::history::Store;
use flaky_detector::web::mounted;
use rusqlite::Connection;
use tempfile::TempDir;

use common::*;

const HOSTILE_OUTPUT: &str = "<script>document.title=1337</script><b>bold</b>";

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "chrome"];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs Chromium headless on `url` with `action` (`--dump-dom` or `--screenshot=...`) and
/// returns its stdout.
async fn chromium(binary: &Path, profile: &Path, size: &str, action: &str, url: &str) -> String {
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={size}"))
    .arg(action)
    .arg(url)
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    // Generous: two shared cores, and Chromium's first start warms its caches.
    let output = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish {action} {url} in 180 s"))
        .expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium {action} {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot dir can be made");
    dir
}

/// The text of the element with `id` in a DOM dump (the first text node after its tag).
fn text_of(dom: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no element #{id} in the page"));
    let rest = &dom[start..];
    let open_end = rest.find('>').expect("the tag closes") + 1;
    let text = &rest[open_end..];
    text[..text.find('<').expect("the text ends")].to_string()
}

fn query_i64(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Fills the history with real jobs: a flaky repository (3 of 20 seeds fail), a stable one,
/// one that always fails, and one whose failures print hostile markup; plus a job of the
/// flaky repository recorded two days ago with per-test figures.
async fn fill(dir: &Path, store: &Arc<Store>) {
    let deps = deps(dir, Some(Arc::clone(store)));
    let seeds: Vec<u64> = (1..=20).collect();
    let alpha = fixture_repo(dir, "alpha");
    let flaky = real_job(
        &deps,
        &alpha,
        &command_failing_on_digits("37", "AssertionError: expected 200, got 503 for seed"),
        &seeds,
    )
    .await;
    real_job(
        &deps,
        &fixture_repo(dir, "beta"),
        &command_failing_on_digits("", ""),
        &seeds[..10],
    )
    .await;
    real_job(
        &deps,
        &fixture_repo(dir, "gamma"),
        &command_failing_on_digits("0123456789", "ImportError: no module named db"),
        &seeds[..8],
    )
    .await;
    let hostile =
        format!("sh -c 'echo \"{HOSTILE_OUTPUT}\" >&2; case $TEST_SEED in *5) exit 1;; esac'");
    real_job(&deps, &fixture_repo(dir, "delta"), &hostile, &seeds).await;

    let mut earlier = flaky.clone();
    earlier.tests = vec![
        test_case("tests/test_api.py::test_retry_on_timeout", 20, &[3, 13]),
        test_case("tests/test_api.py::test_cache_eviction_order", 20, &[7]),
        test_case("tests/test_models.py::test_round_trip", 20, &[]),
    ];
    let two_days_ago = Utc::now() - chrono::Duration::days(2);
    let at = Utc
        .timestamp_opt(two_days_ago.timestamp(), 0)
        .single()
        .expect("a valid time");
    store.record_at(&earlier, at).expect("records");
}

#[cfg_attr(
    not(has_chromium),
    ignore = "needs chromium (apt-get install chromium)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_a_real_browser_shows_what_the_database_holds() {
    let chromium_bin =
        find_chromium().expect("no chromium on PATH and no CHROMIUM (apt-get install -y chromium)");
    let dir = TempDir::new().expect("temp dir");
    let db_path = dir.path().join("history.db");
    let store = Arc::new(Store::open(&db_path).expect("opens"));
    fill(dir.path(), &store).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port on 127.0.0.1");
    let addr = listener.local_addr().expect("an address");
    let app = mounted("/dashboard", Arc::clone(&store));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/dashboard");
    let profile = dir.path().join("chromium-profile");
    let shots = screenshot_dir();
    let db = Connection::open(&db_path).expect("a second connection for checks");

    let flaky_job = query_i64(
        &db,
        "SELECT id FROM jobs WHERE repo LIKE '%alpha' ORDER BY id LIMIT 1",
    );
    let hostile_job = query_i64(&db, "SELECT id FROM jobs WHERE repo LIKE '%delta'");
    let pages = [
        ("overview", String::new()),
        ("trend", "/trend".to_string()),
        ("tests", "/tests".to_string()),
        ("severity", "/severity".to_string()),
        ("jobs", "/jobs".to_string()),
        ("job-flaky", format!("/jobs/{flaky_job}")),
        ("job-hostile", format!("/jobs/{hostile_job}")),
    ];
    let mut doms = std::collections::HashMap::new();
    for (name, path) in &pages {
        let url = format!("{base}{path}");
        let dom = chromium(&chromium_bin, &profile, "1280,900", "--dump-dom", &url).await;
        assert!(dom.contains("flaky-detector"), "{name}: {dom}");
        let shot = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let action = format!("--screenshot={}", shot.display());
        chromium(&chromium_bin, &profile, "1280,2200", &action, &url).await;
        assert!(
            shot.is_file(),
            "{name}: no screenshot at {}",
            shot.display()
        );
        doms.insert(*name, dom);
    }
    for (name, path) in [
        ("overview", ""),
        ("job-flaky", &*format!("/jobs/{flaky_job}")),
    ] {
        let shot = shots.join(format!("{name}-phone.png"));
        let action = format!("--screenshot={}", shot.display());
        chromium(
            &chromium_bin,
            &profile,
            "390,1800",
            &action,
            &format!("{base}{path}"),
        )
        .await;
        assert!(shot.is_file());
    }
    server.abort();

    // Overview: each figure against its own SQL over the raw tables.
    let overview = &doms["overview"];
    assert_eq!(
        text_of(overview, "stat-jobs"),
        query_i64(&db, "SELECT count(*) FROM jobs").to_string()
    );
    assert_eq!(
        text_of(overview, "stat-runs"),
        query_i64(&db, "SELECT count(*) FROM runs").to_string()
    );
    assert_eq!(
        text_of(overview, "stat-failures"),
        query_i64(&db, "SELECT count(*) FROM runs WHERE passed = 0").to_string()
    );
    let flaky_tests = query_i64(
        &db,
        "SELECT count(DISTINCT test_case_id) FROM test_results WHERE verdict = 'flaky'",
    );
    assert_eq!(
        text_of(overview, "stat-flaky-tests"),
        flaky_tests.to_string()
    );
    let mean: f64 = db
        .query_row("SELECT avg(failure_rate) FROM jobs", [], |r| r.get(0))
        .expect("a mean");
    assert_eq!(
        text_of(overview, "stat-mean-rate"),
        format!("{:.1}%", mean * 100.0)
    );
    assert_eq!(
        text_of(overview, "stat-repos"),
        query_i64(&db, "SELECT count(DISTINCT repo) FROM jobs").to_string()
    );

    // Trend: today's row.
    let today = Utc::now().date_naive();
    let today_jobs = query_i64(
        &db,
        "SELECT count(*) FROM jobs WHERE date(recorded_at, 'unixepoch') = date('now')",
    );
    let trend = &doms["trend"];
    let row = &trend[trend
        .find(&format!("id=\"day-{today}\""))
        .expect("today's row")..];
    assert!(
        row.contains(&format!("<td class=\"num day-jobs\">{today_jobs}</td>")),
        "{row}"
    );

    // Flakiest tests: the count, and the top test by its own SQL.
    let tests = &doms["tests"];
    assert_eq!(text_of(tests, "tests-total"), flaky_tests.to_string());
    for name in [
        "tests/test_api.py::test_retry_on_timeout",
        "tests/test_api.py::test_cache_eviction_order",
    ] {
        assert!(tests.contains(name), "{name} listed");
    }
    assert!(
        !tests.contains("test_round_trip"),
        "a stable test is not listed"
    );

    // Severity: every band.
    let severity = &doms["severity"];
    for band in ["none", "low", "medium", "high", "critical"] {
        let jobs = query_i64(
            &db,
            &format!("SELECT count(*) FROM jobs WHERE severity = '{band}'"),
        );
        let row = &severity[severity
            .find(&format!("id=\"severity-{band}\""))
            .expect("a row")..];
        assert!(
            row.contains(&format!("<td class=\"num severity-jobs\">{jobs}</td>")),
            "{band}: {jobs}"
        );
    }

    // Jobs: the total and a row per job.
    let jobs = &doms["jobs"];
    let total = query_i64(&db, "SELECT count(*) FROM jobs");
    assert_eq!(text_of(jobs, "jobs-total"), total.to_string());
    for id in 1..=total {
        assert!(
            jobs.contains(&format!("id=\"job-{id}\"")),
            "job {id} listed"
        );
    }

    // The flaky job: runs, failures and one reproduce command per failing seed.
    let job = &doms["job-flaky"];
    let runs = query_i64(
        &db,
        &format!("SELECT count(*) FROM runs WHERE job_id = {flaky_job}"),
    );
    assert_eq!(text_of(job, "job-runs"), runs.to_string());
    let mut failing = db
        .prepare(&format!(
            "SELECT seed FROM runs WHERE job_id = {flaky_job} AND passed = 0 ORDER BY attempt"
        ))
        .expect("prepares");
    let failing: Vec<i64> = failing
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .expect("reads");
    assert_eq!(failing, vec![3, 7, 13, 17]);
    assert_eq!(text_of(job, "job-failing-runs"), "4");
    for seed in &failing {
        let at = job
            .find(&format!("id=\"seed-{seed}\""))
            .expect("a seed row");
        assert!(
            job[at..].contains(&format!("FLAKY_SEED={seed} TEST_SEED={seed} sh -c")),
            "seed {seed} reproduce command"
        );
    }

    // Hostile output stayed text: no element was injected and the script never ran.
    let hostile = &doms["job-hostile"];
    assert!(!hostile.contains("<b>bold</b>"), "markup was injected");
    assert!(
        hostile.contains("&lt;script&gt;document.title=1337"),
        "shown as text"
    );
    assert!(hostile.contains("&lt;b&gt;bold&lt;/b&gt;"), "shown as text");
    assert!(
        hostile.contains("<title>Job #"),
        "the title was not rewritten by a script"
    );
    eprintln!("screenshots in {}", shots.display());
}
