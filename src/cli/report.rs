//! `flaky-detector report results.json`: a summary written by `run` or `submit --output`
//! sent to the pull request, Slack, Discord and the Actions step summary ([`ReportFlags`],
//! shared with `submit`), or printed as Markdown when no channel is named. A channel that
//! fails is reported on stderr and never changes the exit status.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::error::{CliError, Ended, FileError};
use super::run::FailOn;
use super::seconds::parse_seconds;
use crate::report::markdown::{Body, GITHUB, render};
use crate::report::step_summary::annotations;
use crate::report::{GithubSettings, Sender, Targets, deliver, delivery_retries};
use crate::summary::Summary;

/// Where a report goes. Secrets come from the environment (`GITHUB_TOKEN`, and the
/// webhook variables), so they stay out of process listings and shell history.
#[derive(Debug, Clone, Args)]
pub struct ReportFlags {
    /// Post the report on the pull request, editing this tool's earlier comment if there is
    /// one (needs GITHUB_TOKEN; GITHUB_API_URL selects GitHub Enterprise).
    #[arg(long)]
    pub github: bool,
    /// Pull request to comment on [default: the summary's pr_number, else the pull request
    /// of the GitHub event (GITHUB_EVENT_PATH), else the open one of the tested commit].
    #[arg(long, value_name = "NUMBER", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: Option<u64>,
    /// Repository of the pull request.
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub github_repository: Option<String>,
    /// Post the report to this Slack incoming webhook.
    #[arg(
        long,
        env = "SLACK_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = secret
    )]
    pub slack: Option<SecretString>,
    /// Post the report to this Discord webhook.
    #[arg(
        long,
        env = "DISCORD_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = secret
    )]
    pub discord: Option<SecretString>,
    /// Append the report to the GitHub Actions step summary (GITHUB_STEP_SUMMARY) and print
    /// ::warning/::error annotations for the failing tests.
    #[arg(long)]
    pub step_summary: bool,
    /// Longest wait honoured from a Retry-After answer before retrying a delivery.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub retry_max_wait: Duration,
    /// Wait before retrying a delivery that named none (doubled each time).
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub retry_backoff: Duration,
}

/// A secret flag value (a key, a webhook URL), held so that no `Debug` shows it. Never
/// fails; clap's value parsers return a `Result`.
pub fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.trim().to_string()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ReportFlags {
    /// The channels asked for, with GitHub's settings from the Actions environment.
    pub fn targets(&self) -> Targets {
        // An unset Actions secret arrives as an empty value: nothing to post to.
        let secret =
            |value: &Option<SecretString>| value.clone().filter(|v| !v.expose_secret().is_empty());
        Targets {
            github: self.github.then(|| GithubSettings {
                api: env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
                token: env("GITHUB_TOKEN").map(SecretString::from),
                repository: self
                    .github_repository
                    .clone()
                    .filter(|r| !r.trim().is_empty()),
                pr: self.pr,
                event_path: env("GITHUB_EVENT_PATH").map(PathBuf::from),
            }),
            slack: secret(&self.slack),
            discord: secret(&self.discord),
            step_summary: self.step_summary,
            step_summary_path: env("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    /// True when at least one channel is asked for.
    pub fn any(&self) -> bool {
        let targets = self.targets();
        targets.github.is_some()
            || targets.slack.is_some()
            || targets.discord.is_some()
            || targets.step_summary
    }

    fn sender(&self) -> Sender {
        Sender::new(delivery_retries(self.retry_backoff, self.retry_max_wait))
    }
}

/// Sends `summary` to the channels of `flags`, prints the annotations (on stderr when
/// stdout carries JSON; the Actions runner reads both) and one line per channel on stderr.
pub async fn notify(summary: &Summary, flags: &ReportFlags, json_on_stdout: bool) {
    if flags.step_summary {
        for line in annotations(summary) {
            if json_on_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    for delivery in deliver(summary, &flags.targets(), &flags.sender()).await {
        match delivery.result {
            Ok(done) => eprintln!("report: {}: {done}", delivery.channel),
            Err(error) => eprintln!(
                "warning: report to {} not delivered: {}",
                delivery.channel,
                crate::errors::one_line(&error)
            ),
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Summary JSON (`run --output`, `submit --output`, or a RunPod /status answer).
    #[arg(value_name = "RESULTS.json")]
    pub results: PathBuf,
    #[command(flatten)]
    pub flags: ReportFlags,
    /// Write the summary as a JUnit XML report to this file (every run an attempt, in Maven
    /// Surefire's flaky/rerun schema) instead of printing the markdown.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Exit with status 3 when the summary's severity reaches this level.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
}

/// Reads the summary and reports it. An error only when the file cannot be read; the
/// outcome says whether `--fail-on` trips, whatever the channels did (a job stopped by a
/// failed install trips any level, as a job that could not run).
pub async fn run(args: ReportArgs) -> Result<Ended, CliError> {
    let summary = read_summary(&args.results)?;
    if args.flags.any() {
        notify(&summary, &args.flags, false).await;
    } else if args.junit.is_none() {
        print!(
            "{}",
            render(
                &Body::of(&summary),
                GITHUB,
                crate::report::markdown::Level::Full
            )
        );
    }
    if let Some(path) = &args.junit {
        super::run::write_junit(&summary, path)?;
    }
    let install_failed = summary.verdict == crate::analysis::Verdict::InstallFailed;
    Ok(if install_failed && args.fail_on != FailOn::Never {
        Ended::CouldNotRun
    } else if args.fail_on.trips(summary.severity) || args.fail_on.trips_triage(&summary) {
        Ended::SeverityReached
    } else {
        Ended::Done
    })
}

/// A summary from `path`: the summary itself, or an object whose `output` is one (a
/// RunPod `/status` answer, a local test result).
pub fn read_summary(path: &std::path::Path) -> Result<Summary, FileError> {
    let value = read_json(path)?;
    let value = match value.get("output") {
        Some(output) if value.get("total_runs").is_none() => output.clone(),
        _ => value,
    };
    serde_json::from_value(value).map_err(|source| FileError::NotSummary {
        path: path.to_path_buf(),
        source,
    })
}

/// The text of a file the user named (a JSON input, a JUnit report).
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The JSON document in a file the user named (shared with `submit --input`).
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value, FileError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| FileError::NotJson {
        path: path.to_path_buf(),
        source,
    })
}
