//! `flaky-detector submit`: one job sent to a RunPod endpoint (or a `serve`), or split over
//! `--shards K` jobs with disjoint seeds, followed until it ends, then printed, written,
//! recorded and reported like `run`'s summary, with the same exit statuses.
//!
//! The job flags mirror `run`'s, with two differences: `--timeout` bounds the whole wait
//! here (a run's own limit is `--run-timeout`), and `--input job.json` may replace them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc::UnboundedReceiver;

use super::error::{CliError, Ended, FileError};
use super::history::DbArg;
use super::job_flags::JobFlags;
use super::report::{ReportFlags, notify, read_json, read_text, secret};
use super::run::{FailOn, emit, outcome, write_junit};
use super::seconds::parse_seconds;
use crate::history::{HistoryError, Store, record_summary};
use crate::job::{JobInput, RepoPolicy, is_hex_sha};
use crate::runpod::client::shards::{plan, run_shards};
use crate::runpod::client::{ClientPolicy, Deadline, EndpointClient, Progress};
use crate::summary::Summary;

/// RunPod's public API (§8); `RUNPOD_ENDPOINT_BASE_URL` overrides it.
const RUNPOD_BASE: &str = "https://api.runpod.ai/v2";

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// RunPod endpoint id (its API is RUNPOD_ENDPOINT_BASE_URL/ID, by default
    /// https://api.runpod.ai/v2/ID).
    #[arg(long, env = "RUNPOD_ENDPOINT_ID", value_name = "ID")]
    pub endpoint: Option<String>,
    /// Base URL of an endpoint API, such as a `flaky-detector serve`; wins over --endpoint.
    /// Repeat it to spread the shards over several (shard i goes to URL i mod n).
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// API key, sent as `Authorization: Bearer <key>`.
    #[arg(
        long,
        env = "RUNPOD_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        value_parser = secret
    )]
    pub api_key: Option<SecretString>,
    /// A file holding the key for --api-key, so it is not on the command line where `ps`
    /// shows it.
    #[arg(long, env = "RUNPOD_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// The job input as JSON (`{...}` or `{"input": {...}}`) instead of the job flags.
    #[arg(long, value_name = "PATH", conflicts_with = "repo")]
    pub input: Option<PathBuf>,
    /// Repository: an https:// or git@host:path URL the workers can clone.
    #[arg(long, required_unless_present = "input")]
    pub repo: Option<String>,
    #[command(flatten)]
    pub job: JobFlags,
    /// Seconds per run before its process group is killed [default: 300].
    #[arg(long, value_name = "SECONDS")]
    pub run_timeout: Option<f64>,
    /// Branch the commit belongs to, for history and reports.
    #[arg(long)]
    pub branch: Option<String>,
    /// Commit SHA, for history and reports [default: --ref when it is a full SHA].
    #[arg(long)]
    pub commit_sha: Option<String>,
    /// Triage instead of a plain job: compare --ref with this base (see `flaky-detector
    /// triage`; with --triage-junit and no --triage-base, the merge base).
    #[arg(long, value_name = "REF")]
    pub triage_base: Option<String>,
    /// Triage the failed test cases of this JUnit report (the red CI run's).
    #[arg(long, value_name = "FILE")]
    pub triage_junit: Option<PathBuf>,
    /// Split the runs into this many jobs with disjoint seeds, run at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub shards: u32,
    /// Seconds to wait for the job(s) to finish; then they are cancelled.
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Seconds between status polls.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub poll_interval: Duration,
    /// Seconds to wait before each retry of a request that got no answer, a 429 or a 5xx.
    #[arg(long, value_name = "SECONDS,...", value_delimiter = ',', default_value = "1,2,4", value_parser = parse_seconds)]
    pub retry_waits: Vec<Duration>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary JSON to this file.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also write a JUnit XML report of the (merged) summary to this file: every run an
    /// attempt, in Maven Surefire's flaky/rerun schema.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Exit with status 3 when the severity reaches this level.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    /// Record the summary in this history database (nothing is recorded without it).
    #[command(flatten)]
    pub history: DbArg,
    #[command(flatten)]
    pub report: ReportFlags,
}

impl SubmitArgs {
    /// Reads `--api-key-file` and `--db-file`; call once, before anything uses them.
    pub fn read_secret_files(&mut self) -> Result<(), CliError> {
        self.history.read_db_file()?;
        let mut key = self.api_key.take().map(|k| k.expose_secret().to_string());
        super::secret_file::from_file(
            &mut key,
            self.api_key_file.as_ref(),
            "--api-key",
            "the API key",
        )?;
        self.api_key = key.map(SecretString::from);
        Ok(())
    }

    /// The job input from `--input` or the flags, with the pull request, branch and
    /// commit filled in for history and reports.
    fn job_input(&self) -> Result<JobInput, CliError> {
        let mut input = match &self.input {
            Some(path) => read_input(path)?,
            None => self
                .job
                .clone()
                .into_input(self.repo.clone().unwrap_or_default(), self.run_timeout),
        };
        if self.triage_base.is_some() || self.triage_junit.is_some() {
            let junit = self
                .triage_junit
                .as_deref()
                .map(read_text)
                .transpose()
                .map_err(CliError::File)?;
            let triage = input.triage.get_or_insert_with(Default::default);
            triage.base_ref = self.triage_base.clone().or(triage.base_ref.take());
            triage.junit = junit.or(triage.junit.take());
        }
        let event_pr = std::env::var_os("GITHUB_EVENT_PATH")
            .filter(|p| !p.is_empty())
            .and_then(|p| crate::report::github::pr_from_event(std::path::Path::new(&p)));
        input.pr_number = input.pr_number.or(self.report.pr).or(event_pr);
        input.branch = input.branch.or_else(|| self.branch.clone());
        input.commit_sha = input
            .commit_sha
            .or_else(|| self.commit_sha.clone())
            .or_else(|| {
                input
                    .git_ref
                    .clone()
                    .filter(|r| r.len() == 40 && is_hex_sha(r))
            });
        Ok(input)
    }

    /// One client per `--url`, else the RunPod endpoint's.
    fn clients(&self) -> Result<Vec<EndpointClient>, CliError> {
        let urls = if self.url.is_empty() {
            let id = self
                .endpoint
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .ok_or(CliError::NoEndpoint)?;
            let base = std::env::var("RUNPOD_ENDPOINT_BASE_URL")
                .ok()
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| RUNPOD_BASE.to_string());
            vec![format!("{}/{}", base.trim_end_matches('/'), id.trim())]
        } else {
            self.url.clone()
        };
        for url in &urls {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err(CliError::NotHttpUrl(url.clone())),
            }
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("flaky-detector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CliError::HttpClient)?;
        let key = self
            .api_key
            .clone()
            .filter(|k| !k.expose_secret().is_empty());
        let policy = ClientPolicy {
            retries: ClientPolicy::retries(self.retry_waits.clone()),
            poll_interval: self.poll_interval,
        };
        Ok(urls
            .iter()
            .map(|url| EndpointClient::new(http.clone(), url, key.clone(), policy.clone()))
            .collect())
    }
}

/// A job input file: the input object, or `{"input": {...}}` as `/run` takes it.
fn read_input(path: &std::path::Path) -> Result<JobInput, FileError> {
    let value = read_json(path)?;
    let value = match value.get("input") {
        Some(input) if value.get("repo").is_none() => input.clone(),
        _ => value,
    };
    JobInput::from_value(value).map_err(|source| FileError::NotJobInput {
        path: path.to_path_buf(),
        source,
    })
}

/// Sends the job, waits, prints and reports its summary.
pub async fn run(args: SubmitArgs) -> Result<Ended, CliError> {
    let shards = plan(&args.job_input()?, args.shards)?;
    for shard in &shards {
        shard.clone().validate(RepoPolicy { allow_local: true })?;
    }
    let clients = args.clients()?;
    let store = open_history(&args.history)?;
    let cancel = super::cancel_on_signals();
    let (progress, updates) = tokio::sync::mpsc::unbounded_channel();
    let shown = tokio::spawn(show_progress(updates, shards.len()));
    let result = run_shards(
        &clients,
        shards,
        Deadline::after(args.timeout),
        &cancel,
        progress,
    )
    .await;
    let _ = shown.await;
    let summaries = result?;
    let mut summary = if summaries.len() == 1 {
        summaries.into_iter().next().expect("one summary")
    } else {
        Summary::merge(summaries)?
    };
    if let Some(store) = &store {
        summary = record_summary(store, summary).await;
    }
    emit(&summary, args.json, args.output.as_deref())?;
    notify(&summary, &args.report, args.json).await;
    if let Some(path) = &args.junit {
        write_junit(&summary, path)?;
    }
    Ok(outcome(&summary, args.fail_on))
}

/// The history store when `--db` (or `FLAKY_DB`) names one: the endpoint's workers keep
/// their own history, so a local copy is only made when asked for.
fn open_history(db: &DbArg) -> Result<Option<std::sync::Arc<Store>>, HistoryError> {
    match &db.db {
        Some(_) => db
            .open_for_jobs()
            .map(|store| Some(std::sync::Arc::new(store))),
        None => Ok(None),
    }
}

/// Shows the jobs' progress on stderr: a bar on a terminal; in a log (CI), one line each
/// time a job changes state.
async fn show_progress(mut updates: UnboundedReceiver<(usize, Progress)>, shards: usize) {
    use std::io::IsTerminal;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} runs  {msg}  [{elapsed}]",
            )
            .expect("the template is valid"),
        );
        bar
    });
    let mut latest: Vec<Option<Progress>> = vec![None; shards];
    while let Some((shard, progress)) = updates.recv().await {
        let changed = latest[shard].as_ref().map(|p| p.state) != Some(progress.state);
        if changed && bar.is_none() {
            let who = if shards == 1 {
                "job".to_string()
            } else {
                format!("shard {}/{shards}", shard + 1)
            };
            eprintln!("{who}: {}", progress.state);
        }
        latest[shard] = Some(progress);
        if let Some(bar) = &bar {
            let (mut done, mut total, mut failures) = (0, 0, 0);
            for (d, t, f) in latest.iter().flatten().filter_map(|p| p.done) {
                done += d;
                total += t;
                failures += f;
            }
            bar.set_length(u64::from(total));
            bar.set_position(u64::from(done));
            let running = latest
                .iter()
                .flatten()
                .filter(|p| !p.state.is_terminal())
                .count();
            bar.set_message(format!(
                "{failures} failures, {running} of {shards} job(s) running"
            ));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
