//! Reports of a finished job: one body ([`markdown`]) shown on every channel: the pull
//! request comment that edits itself ([`github`]), Slack ([`slack`]), Discord
//! ([`discord`]), and the Actions step summary and annotations ([`step_summary`]); and the
//! JUnit document with every run as an attempt ([`junit`]), which CI dashboards read.
//! [`deliver`] sends to the channels asked for; a failed delivery is reported, never
//! allowed to change the job's result. [`send`] holds the retrying sender and the errors.

pub mod body;
pub mod discord;
pub mod github;
pub mod junit;
pub mod markdown;
pub mod send;
pub mod slack;
pub mod step_summary;

use std::path::PathBuf;

use secrecy::SecretString;

pub use send::{ReportError, Sender, delivery_retries, webhook_url};

use crate::summary::Summary;
use github::{Github, pr_from_event};
use markdown::{Body, GITHUB, fit};

/// GitHub's limit on a comment body.
pub const COMMENT_LIMIT: usize = 65_536;

/// Where the GitHub comment goes, from flags or the Actions environment.
pub struct GithubSettings {
    /// `GITHUB_API_URL`, default `https://api.github.com`.
    pub api: String,
    /// `GITHUB_TOKEN`.
    pub token: Option<SecretString>,
    /// `OWNER/NAME` (`--github-repository`, `GITHUB_REPOSITORY`).
    pub repository: Option<String>,
    /// `--pr`: wins over the summary's `pr_number` and the event's pull request.
    pub pr: Option<u64>,
    /// `GITHUB_EVENT_PATH`.
    pub event_path: Option<PathBuf>,
}

/// The channels asked for.
#[derive(Default)]
pub struct Targets {
    pub github: Option<GithubSettings>,
    pub slack: Option<SecretString>,
    pub discord: Option<SecretString>,
    /// `--step-summary`, and `GITHUB_STEP_SUMMARY` (the file to append to) if set.
    pub step_summary: bool,
    pub step_summary_path: Option<PathBuf>,
}

/// How one channel's delivery went: what was done, or why not.
#[derive(Debug)]
pub struct ChannelDelivery {
    pub channel: &'static str,
    pub result: Result<String, ReportError>,
}

/// Sends `summary` to every channel in `targets`, one after the other: the step summary,
/// GitHub, Slack, Discord. Never fails as a whole; each channel's outcome is returned.
pub async fn deliver(
    summary: &Summary,
    targets: &Targets,
    sender: &Sender,
) -> Vec<ChannelDelivery> {
    let body = Body::of(summary);
    let mut deliveries = Vec::new();
    if targets.step_summary {
        let result = match &targets.step_summary_path {
            Some(path) => {
                let markdown = fit(&body, GITHUB, step_summary::STEP_SUMMARY_LIMIT);
                step_summary::append(path, &markdown).map(|()| "appended".to_string())
            }
            None => Err(ReportError::NoStepSummary),
        };
        deliveries.push(ChannelDelivery {
            channel: "step summary",
            result,
        });
    }
    if let Some(settings) = &targets.github {
        let markdown = fit(&body, GITHUB, COMMENT_LIMIT);
        deliveries.push(ChannelDelivery {
            channel: "GitHub comment",
            result: comment(summary, settings, sender, &markdown).await,
        });
    }
    if let Some(url) = &targets.slack {
        let result = match webhook_url(secrecy::ExposeSecret::expose_secret(url), "Slack webhook") {
            Ok(url) => slack::post(sender, &url, &slack::payload(&body))
                .await
                .map(|()| "posted".to_string()),
            Err(error) => Err(error),
        };
        deliveries.push(ChannelDelivery {
            channel: "Slack",
            result,
        });
    }
    if let Some(url) = &targets.discord {
        let result = match webhook_url(secrecy::ExposeSecret::expose_secret(url), "Discord webhook")
        {
            Ok(url) => discord::post(sender, &url, &discord::payload(&body))
                .await
                .map(|()| "posted".to_string()),
            Err(error) => Err(error),
        };
        deliveries.push(ChannelDelivery {
            channel: "Discord",
            result,
        });
    }
    deliveries
}

/// Finds the pull request (`--pr`, the summary's `pr_number`, the event's, else the open
/// pull request of the tested commit) and upserts the comment on it.
async fn comment(
    summary: &Summary,
    settings: &GithubSettings,
    sender: &Sender,
    markdown: &str,
) -> Result<String, ReportError> {
    let token = settings.token.clone().ok_or(ReportError::NoToken)?;
    let repository = settings
        .repository
        .as_deref()
        .ok_or(ReportError::NoRepository)?;
    let github = Github::new(&settings.api, token, repository)?;
    let mut pr = settings
        .pr
        .or(summary.pr_number)
        .or_else(|| settings.event_path.as_deref().and_then(pr_from_event));
    if pr.is_none()
        && let Some(sha) = summary.commit_sha.as_deref().or(summary.commit.as_deref())
    {
        pr = github.pr_for_commit(sender, sha).await?;
    }
    let pr = pr.ok_or(ReportError::NoPullRequest)?;
    let done = github.upsert_comment(sender, pr, markdown).await?;
    Ok(format!("{done} on pull request #{pr}"))
}
