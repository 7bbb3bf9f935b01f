//! The schema as an append-only list of numbered migrations ([`MIGRATIONS`]), applied by
//! [`migrate`] in one exclusive transaction and tracked by `PRAGMA user_version`.
//!
//! Never edit or reorder an entry: a database in the field has run it already. A change is
//! a new entry at the end, with a comment saying why.

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` (0-based) takes a database from `user_version` `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1
    "
    -- The first schema: one row per detector job, one per run of it, the test cases seen in
    -- each repository, and each test case's figures in a job. `jobs` keeps the figures the
    -- pages filter and sort on as columns, and `job_summaries` the rest of the summary as
    -- JSON, so history can give back the summary it was given without every scan of `jobs`
    -- reading kilobytes of JSON per row.
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        recorded_at INTEGER NOT NULL,            -- unix seconds, UTC
        repo TEXT NOT NULL,
        git_ref TEXT,
        checked_out_commit TEXT,                 -- the commit the runs tested
        commit_sha TEXT,                         -- the commit the caller named (job input)
        branch TEXT,
        pr_number INTEGER,
        test_command TEXT NOT NULL,
        framework TEXT NOT NULL,
        total_runs INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        failure_rate REAL NOT NULL,
        ci_low REAL NOT NULL,
        ci_high REAL NOT NULL,
        verdict TEXT NOT NULL,
        severity TEXT NOT NULL,
        classification TEXT,
        reproduce TEXT,
        duration_seconds REAL NOT NULL
    );
    CREATE TABLE job_summaries (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        summary TEXT NOT NULL                    -- the summary JSON without `results`
    );
    -- Runs keep their seed and output: the job page shows failing seeds and error excerpts.
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        seed INTEGER NOT NULL,                   -- the u64 seed's 64 bits
        passed INTEGER NOT NULL,
        exit_code INTEGER,
        signal INTEGER,
        timed_out INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        stdout TEXT NOT NULL,
        stderr TEXT NOT NULL,
        output_truncated_bytes INTEGER NOT NULL
    );
    -- Loading a job's runs, and the cascade when retention deletes a job, go by job.
    CREATE INDEX runs_by_job ON runs(job_id);
    -- A test case is a name within a repository; `whole_command` marks the stand-in for a
    -- job whose runner gave no per-test report, where the command is the only test known.
    CREATE TABLE test_cases (
        id INTEGER PRIMARY KEY,
        repo TEXT NOT NULL,
        name TEXT NOT NULL,
        whole_command INTEGER NOT NULL DEFAULT 0,
        UNIQUE (repo, name)
    );
    CREATE TABLE test_results (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        test_case_id INTEGER NOT NULL REFERENCES test_cases(id),
        runs INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        failure_rate REAL NOT NULL,
        ci_low REAL NOT NULL,
        ci_high REAL NOT NULL,
        verdict TEXT NOT NULL,
        severity TEXT NOT NULL,
        classification TEXT,
        failing_seeds TEXT NOT NULL,             -- JSON array of u64
        first_failure TEXT,
        severity_note TEXT,
        PRIMARY KEY (job_id, test_case_id)
    ) WITHOUT ROWID;
    ",
    // 2
    "
    -- The dashboard and `history` must stay fast at 10,000 jobs and a million runs: indexes
    -- for jobs by time, repository and severity (the time one covers the trend's columns);
    -- running totals per test case, so the all-time flakiest-tests ranking reads one row per
    -- test instead of every result; each test result gets its job's time, so a ranking over
    -- a date range reads one covering index instead of looking up a job per result; and a
    -- per-job count of flaky tests lets the job list show it without a join. Everything new
    -- is filled in from the rows recorded under schema 1.
    CREATE INDEX jobs_by_time ON jobs(recorded_at, total_runs, failure_rate);
    CREATE INDEX jobs_by_repo_time ON jobs(repo, recorded_at);
    CREATE INDEX jobs_by_severity_time ON jobs(severity, recorded_at);
    ALTER TABLE jobs ADD COLUMN flaky_tests INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET flaky_tests = (
        SELECT count(*) FROM test_results r WHERE r.job_id = jobs.id AND r.verdict = 'flaky'
    );
    ALTER TABLE test_results ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
    UPDATE test_results SET recorded_at = (
        SELECT j.recorded_at FROM jobs j WHERE j.id = test_results.job_id
    );
    CREATE INDEX test_results_by_case
        ON test_results(test_case_id, recorded_at, verdict, runs, failures);
    CREATE TABLE test_case_totals (
        test_case_id INTEGER PRIMARY KEY REFERENCES test_cases(id) ON DELETE CASCADE,
        jobs INTEGER NOT NULL,
        flaky_jobs INTEGER NOT NULL,
        runs INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    INSERT INTO test_case_totals (test_case_id, jobs, flaky_jobs, runs, failures, last_seen)
        SELECT test_case_id, count(*), sum(verdict = 'flaky'), sum(runs), sum(failures),
               max(recorded_at)
        FROM test_results GROUP BY test_case_id;
    ",
];

/// The schema version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// What [`migrate`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "schema version {found} is newer than this build knows ({known}); upgrade flaky-detector"
    )]
    TooNew { found: u32, known: u32 },
    #[error("migration {version} failed")]
    Step {
        version: u32,
        #[source]
        source: super::sql::DbError,
    },
    #[error("cannot start or commit the migration transaction")]
    Transaction(#[source] super::sql::DbError),
}

/// Applies the pending migrations of `list` in one exclusive transaction: a second process
/// opening the same file waits (busy timeout), then finds the work done. Public for tests
/// that build an older schema with a prefix of [`MIGRATIONS`].
pub fn migrate_with(conn: &mut Connection, list: &[&str]) -> Result<Migrated, MigrateError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(|e| MigrateError::Transaction(e.into()))?;
    let from: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| MigrateError::Transaction(e.into()))?;
    let known = list.len() as u32;
    if from > known {
        return Err(MigrateError::TooNew { found: from, known });
    }
    for (index, sql) in list.iter().enumerate().skip(from as usize) {
        let version = index as u32 + 1;
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", version))
            .map_err(|source| MigrateError::Step {
                version,
                source: source.into(),
            })?;
    }
    tx.commit()
        .map_err(|e| MigrateError::Transaction(e.into()))?;
    Ok(Migrated { from, to: known })
}

/// Brings `conn` to the latest schema.
pub fn migrate(conn: &mut Connection) -> Result<Migrated, MigrateError> {
    migrate_with(conn, MIGRATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_says_why() {
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            assert!(
                sql.trim_start().starts_with("--"),
                "migration {} opens without a comment",
                index + 1
            );
        }
    }

    #[test]
    fn a_fresh_database_reaches_the_latest_version_then_stays() {
        let mut conn = Connection::open_in_memory().expect("an in-memory database opens");
        let first = migrate(&mut conn).expect("migrations apply");
        assert_eq!(
            first,
            Migrated {
                from: 0,
                to: latest()
            }
        );
        let second = migrate(&mut conn).expect("a second migrate is a no-op");
        assert_eq!(
            second,
            Migrated {
                from: latest(),
                to: latest()
            }
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().expect("an in-memory database opens");
        conn.pragma_update(None, "user_version", latest() + 1)
            .expect("user_version is writable");
        let error = migrate(&mut conn).expect_err("a newer schema is refused");
        assert!(matches!(error, MigrateError::TooNew { .. }), "{error}");
    }
}
