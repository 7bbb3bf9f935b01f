//! `flaky-detector run`: one job from command-line flags, a progress bar, then the summary
//! (human or JSON) and an exit status.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use super::history::{DbArg, store_for_jobs};
use crate::analysis::Severity;
use crate::config::Isolation;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
use crate::events::Events;
use crate::framework::Framework;
use crate::job::{JobInput, RepoPolicy};
use crate::summary::Summary;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Repository: an https:// or git@host:path URL, or a local directory (copied first).
    #[arg(long)]
    pub repo: String,
    /// Test command, split with shell rules and run without a shell
    /// (default: `test_command` of the repository's .flaky-detector.yml).
    #[arg(long, short = 'c', visible_alias = "test-command")]
    pub command: Option<String>,
    /// How many times to run the command (1-1000) [default: 10, or the repository's config].
    #[arg(long, short = 'n')]
    pub runs: Option<u32>,
    /// How many runs at once (1-50) [default: 4, or the repository's config].
    #[arg(long, short = 'p')]
    pub parallelism: Option<u32>,
    /// Branch, tag or commit SHA to test (default: the default branch, or for a local
    /// directory its working tree as it is).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Seconds per run before its whole process group is killed [default: 300].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Replay these seeds instead of drawing new ones (repeat or comma-separate).
    #[arg(long = "seed", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Extra variable for the runs, NAME=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Force the framework instead of detecting it.
    #[arg(long, value_parser = parse_framework)]
    pub framework: Option<Framework>,
    /// Where each run works: its own copy (run), one copy per slot (slot), or one shared
    /// checkout (shared, the seed project's behaviour).
    #[arg(long, value_parser = parse_isolation)]
    pub isolation: Option<Isolation>,
    /// Shuffle test order with each run's seed (pytest-randomly, go test, jest, vitest).
    #[arg(long)]
    pub shuffle: bool,
    /// Stop starting runs once more runs cannot change the verdict or severity.
    #[arg(long)]
    pub stop_early: bool,
    /// Skip the confirmation phase (replaying failing seeds alone and under load).
    #[arg(long)]
    pub no_confirm: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary JSON to this file.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Exit with status 3 when the severity reaches this level.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub history: DbArg,
}

/// The severity from which a finished job makes the process exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
    Never,
}

impl FailOn {
    /// True when `severity` reaches this level.
    pub fn trips(self, severity: Severity) -> bool {
        let level = match self {
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
            FailOn::Never => return false,
        };
        severity >= level
    }
}

pub(crate) fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

pub(crate) fn parse_framework(text: &str) -> Result<Framework, String> {
    Framework::ALL
        .into_iter()
        .find(|f| f.name() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Framework::ALL.iter().map(|f| f.name()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

pub(crate) fn parse_isolation(text: &str) -> Result<Isolation, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| "expected one of run, slot, shared".to_string())
}

impl RunArgs {
    fn into_input(self) -> JobInput {
        JobInput {
            repo: self.repo,
            test_command: self.command,
            runs: self.runs,
            parallelism: self.parallelism,
            framework: self.framework,
            git_ref: self.git_ref,
            timeout: self.timeout,
            seeds: (!self.seeds.is_empty()).then_some(self.seeds),
            env: (!self.env.is_empty()).then(|| self.env.into_iter().collect::<BTreeMap<_, _>>()),
            isolation: self.isolation,
            shuffle: self.shuffle.then_some(true),
            stop_early: self.stop_early.then_some(true),
            confirm: self.no_confirm.then_some(false),
            ..JobInput::default()
        }
    }
}

/// Runs the job and returns the process exit status.
pub async fn run(args: RunArgs, deps: &Deps) -> i32 {
    let json = args.json;
    let output = args.output.clone();
    let fail_on = args.fail_on;
    let history = args.history.clone();
    let job = match args.into_input().validate(RepoPolicy { allow_local: true }) {
        Ok(job) => job,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            return exit::JOB_ERROR;
        }
    };
    let mut deps = deps.clone();
    match store_for_jobs(&history) {
        Ok(store) => deps.history = store,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::JOB_ERROR;
        }
    }
    let deps = &deps;
    let cancel = super::cancel_on_signals();
    let (events, receiver) = Events::channel();
    let bar = super::progress::spawn(receiver);
    let result = detect(job, deps, &events, &cancel).await;
    drop(events);
    let _ = bar.await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            return error.exit_code();
        }
    };
    if let Err(code) = emit(&summary, json, output.as_deref()) {
        return code;
    }
    if summary.cancelled {
        exit::INTERRUPTED
    } else if fail_on.trips(summary.severity) {
        exit::SEVERITY
    } else {
        exit::OK
    }
}

/// Prints the summary (JSON or human) and writes `--output`.
pub(crate) fn emit(
    summary: &Summary,
    json: bool,
    output: Option<&std::path::Path>,
) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(summary).map_err(|e| {
        eprintln!("error: cannot encode the summary: {e}");
        exit::JOB_ERROR
    })?;
    if let Some(path) = output {
        std::fs::write(path, format!("{text}\n")).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit::JOB_ERROR
        })?;
    }
    if json {
        println!("{text}");
    } else {
        print!("{}", super::human::render(summary));
    }
    Ok(())
}
