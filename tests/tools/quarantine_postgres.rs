//! Issue 26 on PostgreSQL: the per-test read behind the statuses, the quarantine file and the
//! Status page gives the same tests, jobs and statuses from a real PostgreSQL server as from
//! a SQLite file holding the same jobs, and `quarantine`'s rules write the same file from
//! either.

use crate::support::jobs as common;
use crate::support::pg as pg_support;

use chrono::{Duration, Utc};
use flaky_detector::history::{Status, Store, standing};
use flaky_detector::quarantine::refresh;
use tempfile::TempDir;

use common::*;
use pg_support::PgServer;

#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[test]
fn statuses_and_the_quarantine_file_are_the_same_on_postgresql_and_sqlite() {
    let server = PgServer::start();
    let pg = Store::connect(&server.url()).expect("connects");
    let dir = TempDir::new().expect("temp dir");
    let lite = Store::open(&dir.path().join("h.db")).expect("opens");
    let base = crate::support::summaries::summary("flaky");
    let seeds: Vec<u64> = (1..=20).collect();
    // Three jobs: `a` flaky throughout, `b` failing once then 40 clean runs (fixed at
    // fixed_below 0.2), `c` failing every run.
    for (hours_ago, a, b) in [
        (3, &[2u64, 9][..], &[4u64][..]),
        (2, &[5], &[]),
        (1, &[8], &[]),
    ] {
        let mut job = with_runs(&base, &seeds, a);
        job.tests = vec![
            test_case("suite::a", 20, a),
            test_case("suite::b", 20, b),
            test_case("suite::c", 20, &seeds),
        ];
        let at = Utc::now() - Duration::hours(hours_ago);
        pg.record_at(&job, at).expect("recorded in PostgreSQL");
        lite.record_at(&job, at).expect("recorded in SQLite");
    }
    let since = Utc::now() - Duration::days(1);
    let from_pg = pg.test_histories(None, since).expect("PostgreSQL reads");
    let from_lite = lite.test_histories(None, since).expect("SQLite reads");
    assert_eq!(from_pg, from_lite);
    let statuses: Vec<(String, Status)> = from_pg
        .iter()
        .map(|t| (t.name.clone(), standing(&t.jobs, 0.2).status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("suite::a".to_string(), Status::Flaky),
            ("suite::b".to_string(), Status::Fixed),
            ("suite::c".to_string(), Status::Broken),
        ]
    );
    assert_eq!(from_pg[0].jobs.len(), 3);

    let write = |store: &Store| {
        let repo = TempDir::new().expect("repo dir");
        std::fs::write(
            repo.path().join(".flaky-detector.yml"),
            "quarantine:\n  rate_threshold: 0.01\n  min_runs: 10\n  fixed_below: 0.2\n",
        )
        .expect("rules");
        refresh(repo.path(), store, None, None).expect("refreshed");
        std::fs::read_to_string(repo.path().join(".flaky-detector/quarantine.yml"))
            .expect("written")
    };
    let (pg_file, lite_file) = (write(&pg), write(&lite));
    assert_eq!(pg_file, lite_file);
    assert!(pg_file.contains("id: suite::a"), "{pg_file}");
    assert!(!pg_file.contains("suite::c"), "{pg_file}");
    assert!(!pg_file.contains("suite::b"), "{pg_file}");
}
