//! One taken job from input to delivered result ([`handle`]): validate the input into a
//! `Job`, run `detect()` with its progress posted, then post `{"output": summary}` or
//! `{"error": "<the CLI's one-line message>"}` to job-done, spooling it if that fails.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::board::Board;
use super::platform::Platform;
use super::post::{PostOutcome, PostPolicy, post_json};
use super::spool::{Spool, SpooledResult};
use super::take::TakenJob;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
use crate::events::Events;
use crate::job::{Job, JobInput, RepoPolicy};
use crate::runpod::progress::{ProgressTarget, post_updates};
use crate::summary::Summary;

/// Bound on one progress post.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(10);

/// What every job of a worker shares.
pub struct HandlerContext {
    pub client: reqwest::Client,
    pub platform: Arc<Platform>,
    pub deps: Deps,
    pub policy: RepoPolicy,
    pub retry: PostPolicy,
    pub spool: Spool,
    pub board: Board,
}

/// Runs `job` and delivers its result; `cancel` is the job's token on the board (a stop
/// order or the end of the shutdown grace). A stopped job posts nothing.
pub async fn handle(ctx: Arc<HandlerContext>, job: TakenJob, cancel: CancellationToken) {
    let id = job.id.clone();
    tracing::info!("job taken");
    let result = match validate(job, ctx.policy) {
        Ok(job) => run(&ctx, &id, job, &cancel).await,
        Err(message) => Err(message),
    };
    if ctx.board.was_stopped(&id) {
        tracing::info!("job stopped by the platform; nothing posted");
        ctx.board.remove(&id);
        return;
    }
    let body = match &result {
        Ok(summary) => {
            tracing::info!(
                runs = summary.total_runs,
                failures = summary.failures,
                severity = ?summary.severity,
                cancelled = summary.cancelled,
                "job finished"
            );
            json!({ "output": summary })
        }
        Err(message) => {
            tracing::warn!("job failed: {message}");
            json!({ "error": message })
        }
    };
    deliver(&ctx, &id, body.to_string()).await;
    ctx.board.remove(&id);
}

/// The job input turned into a `Job`, or the same one-line message the CLI prints.
fn validate(job: TakenJob, policy: RepoPolicy) -> Result<Job, String> {
    let Some(input) = job.input else {
        return Err("invalid job input: the job has no `input` object".into());
    };
    JobInput::from_value(input)
        .and_then(|input| input.validate(policy))
        .map_err(|e| one_line(&e))
}

/// Runs the pipeline with progress posted alongside. Progress stops before this returns, so
/// the final result is the last thing posted for the job.
async fn run(
    ctx: &HandlerContext,
    id: &str,
    job: Job,
    cancel: &CancellationToken,
) -> Result<Summary, String> {
    let (events, receiver) = Events::channel();
    let finished = CancellationToken::new();
    let url = ctx.platform.done_url(id, false);
    // A progress post in flight is awaited before the result is posted (so they arrive in
    // order); a short bound keeps a hung one from holding the result back.
    let retry = PostPolicy {
        timeout: PROGRESS_TIMEOUT,
        ..ctx.retry.clone()
    };
    let progress = post_updates(
        ProgressTarget {
            client: &ctx.client,
            url: &url,
            job_id: id,
            retry: &retry,
        },
        receiver,
        finished.clone(),
    );
    let pipeline = async {
        let result = detect(job, &ctx.deps, &events, cancel).await;
        finished.cancel();
        result
    };
    let (result, ()) = tokio::join!(pipeline, progress);
    result.map_err(|e| one_line(&e))
}

/// Posts the final result; if job-done will not take it, writes it to the spool.
async fn deliver(ctx: &HandlerContext, id: &str, body: String) {
    let url = ctx.platform.done_url(id, false);
    let why = match post_json(&ctx.client, &url, id, &body, &ctx.retry, None).await {
        PostOutcome::Delivered => {
            tracing::info!("result delivered");
            return;
        }
        PostOutcome::Refused(status) => format!("job-done refused the result with HTTP {status}"),
        PostOutcome::Failed(why) => why,
        PostOutcome::Aborted => "the post was aborted".to_string(),
    };
    let spooled = SpooledResult {
        job_id: id.to_string(),
        url,
        body,
        spooled_at: chrono::Utc::now(),
    };
    match ctx.spool.store(&spooled) {
        Ok(path) => tracing::warn!(
            "failed to return job results ({why}); spooled to {} for a later retry",
            path.display()
        ),
        Err(e) => tracing::error!(
            "failed to return job results ({why}) and cannot spool them: {}",
            one_line(&e)
        ),
    }
}
