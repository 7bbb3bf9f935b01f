//! History at scale, as figures: fills a database with 10,000 jobs holding 1,000,000 run
//! rows (and per-test results), then times each dashboard page through the router and the
//! recording of a 1,000-run job. Targets: overview page <= 100 ms, recording <= 50 ms.
//!
//! Run with `scripts/bench-history.sh` (a release build), which measures SQLite and then
//! PostgreSQL and prints them side by side. Options: `--jobs N`, `--runs-per-job N`,
//! `--db PATH` (keep the database; default a temp dir), or `--db postgres://…` to measure
//! the PostgreSQL store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use flaky_detector::analysis::{Severity, Verdict, wilson};
use flaky_detector::history::postgres::is_postgres_url;
use flaky_detector::history::{JobFilter, Store};
use flaky_detector::summary::TestCaseStats;
use flaky_detector::{Deps, Events, JobInput, Knobs, RepoPolicy, Summary, detect};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

struct Options {
    jobs: usize,
    runs_per_job: usize,
    db: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        jobs: 10_000,
        runs_per_job: 100,
        db: None,
    };
    // `cargo bench` appends `--bench` to the arguments; it is not one of ours.
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--jobs" => options.jobs = number()?,
            "--runs-per-job" => options.runs_per_job = number()?,
            "--db" => options.db = Some(PathBuf::from(&value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// One real job (the pipeline on an empty directory) whose summary is the template.
async fn template(dir: &std::path::Path) -> Summary {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("a fixture dir");
    let mut deps = Deps::from_env();
    deps.work_dir = dir.join("work");
    deps.cache_dir = dir.join("cache");
    std::fs::create_dir_all(&deps.work_dir).expect("a work dir");
    let job = JobInput {
        repo: repo.display().to_string(),
        knobs: Knobs {
            test_command: Some("sh -c 'echo ok; test $TEST_SEED -ne 2'".into()),
            runs: Some(2),
            ..Knobs::default()
        },
        seeds: Some(vec![1, 2]),
        ..JobInput::default()
    }
    .validate(RepoPolicy { allow_local: true })
    .expect("the template job is valid");
    detect(job, &deps, &Events::none(), &CancellationToken::new())
        .await
        .expect("the template job runs")
}

/// A job of `runs` runs failing at `rate`, with five per-test results from its repo's pool.
fn synthetic(base: &Summary, rng: &mut StdRng, runs: usize, repo: usize) -> Summary {
    let mut s = base.clone();
    let rate = [0.0, 0.0, 0.0, 0.02, 0.05, 0.1, 0.3, 0.6, 1.0][rng.random_range(0..9)];
    let passed = base
        .results
        .iter()
        .find(|r| r.passed)
        .expect("a passing run");
    let failed = base
        .results
        .iter()
        .find(|r| !r.passed)
        .expect("a failing run");
    s.results = (0..runs)
        .map(|attempt| {
            let fail = rng.random_bool(rate);
            let mut run = if fail { failed.clone() } else { passed.clone() };
            run.attempt = attempt as u32;
            run.seed = rng.random();
            run
        })
        .collect();
    let failures = s.results.iter().filter(|r| !r.passed).count() as u32;
    let n = runs as u32;
    let interval = wilson(failures, n);
    s.repo = format!("https://github.com/example/service-{repo:02}");
    s.total_runs = n;
    s.failures = failures;
    s.repro_rate = f64::from(failures) / f64::from(n.max(1));
    s.ci_low = interval.low;
    s.ci_high = interval.high;
    s.verdict = Verdict::of(failures, n);
    s.severity = Severity::of(s.repro_rate, &Default::default());
    s.failing_seeds = s
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.seed)
        .collect();
    s.tests = (0..5)
        .map(|_| {
            let test = rng.random_range(0..40);
            let fails = if rng.random_bool(0.3) {
                rng.random_range(1..n.max(2))
            } else {
                0
            };
            let interval = wilson(fails, n);
            let rate = f64::from(fails) / f64::from(n.max(1));
            TestCaseStats {
                name: format!("tests/test_module_{}.py::test_case_{test}", test % 7),
                runs: n,
                failures: fails,
                failure_rate: rate,
                ci_low: interval.low,
                ci_high: interval.high,
                failing_seeds: vec![],
                verdict: Verdict::of(fails, n),
                severity: Severity::of(rate, &Default::default()),
                classification: None,
                first_failure: None,
                severity_note: None,
                classname: None,
                failing_attempts: Vec::new(),
                mean_seconds: None,
            }
        })
        .collect::<Vec<_>>();
    s.tests.sort_by(|a, b| a.name.cmp(&b.name));
    s.tests.dedup_by(|a, b| a.name == b.name);
    s
}

struct Timing(Vec<Duration>);

impl Timing {
    fn line(&self, what: &str, target_ms: Option<f64>) -> String {
        let mut d = self.0.clone();
        d.sort();
        let ms = |x: Duration| x.as_secs_f64() * 1000.0;
        let median = ms(d[d.len() / 2]);
        let p90 = ms(d[(d.len() * 9 / 10).min(d.len() - 1)]);
        let verdict = match target_ms {
            Some(t) if median <= t => format!("  (target <= {t} ms: met)"),
            Some(t) => format!("  (target <= {t} ms: MISSED)"),
            None => String::new(),
        };
        format!(
            "{what:<34} median {median:>7.1} ms  p90 {p90:>7.1} ms  max {:>7.1} ms  (n={}){verdict}",
            ms(d[d.len() - 1]),
            d.len()
        )
    }
}

async fn time_page(app: &axum::Router, uri: &str, n: usize) -> Timing {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 2 {
        let started = Instant::now();
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
            .await
            .expect("the router answers");
        assert!(
            response.status().is_success(),
            "{uri}: {}",
            response.status()
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert!(!body.is_empty());
        if i >= 2 {
            times.push(started.elapsed());
        }
    }
    Timing(times)
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::TempDir::new().expect("a temp dir");
    let path = options
        .db
        .clone()
        .unwrap_or_else(|| dir.path().join("bench.db"));
    let base = template(dir.path()).await;
    let store = match path.to_str().filter(|p| is_postgres_url(p)) {
        Some(url) => Store::connect(url),
        None => Store::open(&path),
    };
    let store = Arc::new(store.expect("the database opens"));
    let mut rng = StdRng::seed_from_u64(7);

    let have = store.count_jobs(&JobFilter::default()).expect("reads") as usize;
    let started = Instant::now();
    let now = Utc::now();
    for i in have..options.jobs {
        let summary = synthetic(&base, &mut rng, options.runs_per_job, i % 20);
        let age = chrono::Duration::seconds(rng.random_range(0..365 * 86_400));
        store.record_at(&summary, now - age).expect("a job records");
    }
    let fill = started.elapsed();
    // Every job stores each of its runs, so the jobs' run totals count the run rows.
    let runs = store.overview(&JobFilter::default()).expect("counts").runs;
    // A PostgreSQL database has no file here to measure.
    let size = std::fs::metadata(&path)
        .map(|m| format!(" ({:.1} MiB)", m.len() as f64 / 1048576.0))
        .unwrap_or_default();
    println!(
        "history bench: {} jobs, {runs} run rows in {}{size}",
        options.jobs,
        store.path().display(),
    );
    if options.jobs > have {
        println!(
            "filled {} jobs in {:.1} s ({:.2} ms per {}-run job)",
            options.jobs - have,
            fill.as_secs_f64(),
            fill.as_secs_f64() * 1000.0 / (options.jobs - have) as f64,
            options.runs_per_job
        );
    }

    let app = flaky_detector::web::router(Arc::clone(&store));
    let repo = "https%3A%2F%2Fgithub.com%2Fexample%2Fservice-03";
    println!(
        "{}",
        time_page(&app, "/", 30)
            .await
            .line("overview page", Some(100.0))
    );
    for (what, uri) in [
        ("overview, one repository", format!("/?repo={repo}")),
        ("trend page (30 days)", "/trend".to_string()),
        ("trend page (365 days)", "/trend?days=365".to_string()),
        ("flakiest tests page", "/tests".to_string()),
        ("severity page", "/severity".to_string()),
        ("job list, first page", "/jobs".to_string()),
        (
            "job list, severity + repo",
            format!("/jobs?severity=high&repo={repo}"),
        ),
        ("job list, page 100", "/jobs?page=100".to_string()),
        ("job detail (100 runs)", "/jobs/1".to_string()),
    ] {
        println!("{}", time_page(&app, &uri, 10).await.line(what, None));
    }

    let big = synthetic(&base, &mut rng, 1000, 0);
    let mut times = Vec::new();
    let mut id = None;
    for _ in 0..30 {
        let started = Instant::now();
        id = Some(store.record(&big).expect("a 1,000-run job records"));
        times.push(started.elapsed());
    }
    println!(
        "{}",
        Timing(times).line("record a 1,000-run job", Some(50.0))
    );
    if let Some(id) = id {
        let uri = format!("/jobs/{id}");
        println!(
            "{}",
            time_page(&app, &uri, 10)
                .await
                .line("job detail (1,000 runs)", None)
        );
    }
}
