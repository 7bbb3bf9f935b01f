//! `flaky-detector history`: recent jobs, the flakiest tests and the per-day trend from the
//! history database, as text or JSON, with `--keep-days` retention; and [`DbArg`], how every
//! command finds that database.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Days, Utc};
use clap::Args;
use serde::Serialize;

use super::error::CliError;
use crate::analysis::stats::round3;
use crate::errors::one_line;
use crate::history::folder::worker_file_name;
use crate::history::pending::default_pending_dir;
use crate::history::postgres::{display_url, is_postgres_url};
use crate::history::read_only::WalRead;
use crate::history::{
    FlakyTest, HistoryError, JobFilter, JobRow, Store, TrendDay, VOLUME_HISTORY_DIR,
    default_db_path,
};

/// `--db`, shared by `run`, `history` and `dashboard`.
#[derive(Debug, Clone, Args)]
pub struct DbArg {
    /// History database: a SQLite file, a folder (an existing directory, or a path ending
    /// in `/`) holding one SQLite file per worker, or a PostgreSQL URL
    /// (postgres://user:password@host/db?sslmode=require) [default:
    /// /runpod-volume/flaky-detector/history/ when /runpod-volume exists, else
    /// ./flaky_test_history.db].
    #[arg(
        long,
        env = "FLAKY_DB",
        value_name = "PATH|URL",
        hide_env_values = true
    )]
    pub db: Option<PathBuf>,
    /// A file holding what --db would (a PostgreSQL URL with its password, say), so the
    /// password is not on the command line where `ps` shows it.
    #[arg(long, env = "FLAKY_DB_FILE", value_name = "FILE")]
    pub db_file: Option<PathBuf>,
}

impl DbArg {
    /// `--db` from `--db-file` when that was given; call once, before the store is opened.
    pub fn read_db_file(&mut self) -> Result<(), CliError> {
        let mut db = self.db.take().map(|p| p.to_string_lossy().into_owned());
        super::secret_file::from_file(
            &mut db,
            self.db_file.as_ref(),
            "--db",
            "the history database",
        )?;
        self.db = db.map(PathBuf::from);
        Ok(())
    }

    pub fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_db_path)
    }

    /// The PostgreSQL URL, when `--db` is one.
    pub fn postgres_url(&self) -> Option<String> {
        let db = self.db.as_ref()?.to_str()?;
        is_postgres_url(db).then(|| db.trim().to_string())
    }

    /// Whether history is a shared folder of per-worker files rather than one file.
    pub fn is_folder(&self) -> bool {
        if self.postgres_url().is_some() {
            return false;
        }
        let path = self.path();
        path.is_dir()
            || path == Path::new(VOLUME_HISTORY_DIR)
            || path.as_os_str().to_string_lossy().ends_with('/')
    }

    /// Opens the store jobs are recorded in. In a folder, this process writes
    /// `<pod id>.db` (`RUNPOD_POD_ID`, else `local`).
    pub fn open_for_jobs(&self) -> Result<Store, HistoryError> {
        if let Some(url) = self.postgres_url() {
            // A job finished while the database is down is kept and written later.
            let mut store = Store::connect(&url)?;
            store.keep_failed_writes_in(default_pending_dir());
            store.retry_pending();
            Ok(store)
        } else if self.is_folder() {
            Store::open_folder(&self.path(), Some(&worker_name()))
        } else {
            Store::open(&self.path())
        }
    }

    /// Opens the store for reading only, changing nothing in a SQLite file or folder (no
    /// migration, no journal switch; see [`crate::history::read_only`]); a file or folder
    /// that does not exist is an error, so a mistyped path does not show an empty history.
    pub fn open_for_reading(&self) -> Result<Store, HistoryError> {
        self.open_existing(|path| Store::open_read_only(path, WalRead::InPlace))
    }

    /// Opens the store to delete old jobs (`history --keep-days`): as for reading, but a
    /// file is opened to write, and migrated.
    pub fn open_for_retention(&self) -> Result<Store, HistoryError> {
        self.open_existing(Store::open_existing)
    }

    fn open_existing(
        &self,
        file: impl FnOnce(&Path) -> Result<Store, HistoryError>,
    ) -> Result<Store, HistoryError> {
        if let Some(url) = self.postgres_url() {
            return Store::connect(&url);
        }
        let path = self.path();
        if !path.exists() {
            return Err(HistoryError::Missing { path });
        }
        if self.is_folder() {
            Store::open_folder(&path, None)
        } else {
            file(&path)
        }
    }

    /// One line for a worker's log: which store jobs go to.
    pub fn describe(&self) -> String {
        if let Some(url) = self.postgres_url() {
            return format!("history: PostgreSQL {}", display_url(&url));
        }
        let path = self.path();
        if self.is_folder() {
            format!(
                "history: SQLite file {} (rollback journal, one file per worker) in the shared folder {}",
                worker_file_name(&worker_name()),
                path.display()
            )
        } else {
            format!("history: SQLite file {} (WAL)", path.display())
        }
    }
}

/// The name of this process's file in a shared history folder: the RunPod pod id, which is
/// unique among the pods sharing a volume.
fn worker_name() -> String {
    std::env::var("RUNPOD_POD_ID")
        .ok()
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| "local".to_string())
}

/// The store a job is recorded in. A database the user named (`--db`, `FLAKY_DB`) that
/// cannot be opened is an error, before anything runs; the default one only gets a
/// warning, so a read-only working directory does not stop a test run.
pub fn store_for_jobs(db: &DbArg) -> Result<Option<Arc<Store>>, HistoryError> {
    match db.open_for_jobs() {
        Ok(store) => Ok(Some(Arc::new(store))),
        Err(error) if db.db.is_some() => Err(error),
        Err(error) => {
            eprintln!(
                "warning: jobs are not recorded in history: {}",
                one_line(&error)
            );
            Ok(None)
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Only jobs of this repository (as recorded: the URL without credentials, or the path).
    #[arg(long)]
    pub repo: Option<String>,
    /// Only tests whose name contains this text, and the jobs that ran them.
    #[arg(long)]
    pub test: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many jobs and tests to list.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Trend window in days, ending today (UTC).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    /// Retention: first delete the jobs recorded more than this many days ago (at most
    /// 36500, a century).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub keep_days: Option<u32>,
}

/// What `history --json` prints.
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    pub db: PathBuf,
    pub filter: JobFilter,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_jobs: Option<usize>,
    pub total_jobs: u64,
    pub jobs: Vec<JobRow>,
    pub flakiest_tests: Vec<FlakyTest>,
    pub trend: Vec<TrendDay>,
}

/// Prints the report (text or JSON); the history is read only, except `--keep-days`.
pub fn run(args: HistoryArgs) -> Result<(), CliError> {
    let report = history_report(&args)?;
    let text = if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|source| CliError::Encode {
            what: "history report",
            source,
        })?;
        format!("{json}\n")
    } else {
        render(&report)
    };
    print(&text)
}

/// Writes to stdout; a closed pipe (`history | head`) is the reader's choice, not an error.
fn print(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Stdout {
            what: "history report",
            source: e,
        }),
        _ => Ok(()),
    }
}

fn history_report(args: &HistoryArgs) -> Result<HistoryReport, CliError> {
    let store = if args.keep_days.is_some() {
        args.db.open_for_retention()?
    } else {
        args.db.open_for_reading()?
    };
    let deleted_jobs = match args.keep_days {
        Some(days) => {
            let cutoff = Utc::now()
                .checked_sub_days(chrono::Days::new(u64::from(days)))
                .ok_or(CliError::KeepDaysTooFar { days })?;
            let deleted = store.delete_jobs_before(cutoff)?;
            if !args.json {
                eprintln!(
                    "deleted {deleted} job(s) recorded before {}",
                    cutoff.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Some(deleted)
        }
        None => None,
    };
    let filter = JobFilter {
        repo: args.repo.clone(),
        test: args.test.clone(),
        ..JobFilter::default()
    };
    let today = Utc::now().date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(args.days - 1)))
        .unwrap_or(today);
    Ok(HistoryReport {
        db: store.path().to_path_buf(),
        deleted_jobs,
        total_jobs: store.count_jobs(&filter)?,
        jobs: store.jobs(&filter, args.limit, 0)?,
        flakiest_tests: store.flakiest_tests(&filter, Some(args.limit))?,
        trend: store.trend(&filter, first, today)?,
        filter,
    })
}

fn pct(rate: f64) -> String {
    format!("{:.1}%", round3(rate) * 100.0)
}

/// The report as text: three short sections, newest first.
pub fn render(report: &HistoryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Recent jobs ({} of {}) in {}",
        report.jobs.len(),
        report.total_jobs,
        report.db.display()
    );
    if report.jobs.is_empty() {
        let _ = writeln!(out, "  none recorded");
    }
    for job in &report.jobs {
        let _ = writeln!(
            out,
            "  #{:<5} {}  {:<14} {:<8} {:>4}/{:<4} failed ({:>6})  {}  {}",
            job.id,
            job.recorded_at.format("%Y-%m-%d %H:%M"),
            job.verdict.name(),
            job.severity.name(),
            job.failures,
            job.total_runs,
            pct(job.failure_rate),
            job.repo,
            job.test_command
        );
    }
    let _ = writeln!(out, "\nFlakiest tests");
    if report.flakiest_tests.is_empty() {
        let _ = writeln!(out, "  none flaky");
    }
    for (rank, test) in report.flakiest_tests.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {}{}  {} (95% CI {} - {}), {}/{} runs failed, flaky in {} of {} jobs  [{}]",
            rank + 1,
            test.name,
            if test.whole_command { " (command)" } else { "" },
            pct(test.failure_rate),
            pct(test.ci_low),
            pct(test.ci_high),
            test.failures,
            test.runs,
            test.flaky_jobs,
            test.jobs,
            test.repo
        );
    }
    let days: Vec<&TrendDay> = report.trend.iter().filter(|d| d.jobs > 0).collect();
    let _ = writeln!(out, "\nTrend (last {} days, UTC)", report.trend.len());
    if days.is_empty() {
        let _ = writeln!(out, "  no jobs");
    }
    for day in days.iter().rev() {
        let _ = writeln!(
            out,
            "  {}  {:>4} job{}  mean failure rate {}",
            day.day,
            day.jobs,
            if day.jobs == 1 { " " } else { "s" },
            day.mean_failure_rate.map_or("-".into(), pct)
        );
    }
    out
}
