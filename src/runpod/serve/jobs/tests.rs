//! The queue's state machine: each status a job can reach, cancel in each of them, the
//! queue's `ttl` and the retention of finished jobs. Time is moved by backdating an entry's
//! instants (the table reads them with `elapsed()`), so no test waits on the clock.

use std::collections::BTreeMap;

use super::*;
use crate::config::{FileConfig, Settings};
use crate::framework::{Framework, InstallReport, InstallStatus};
use crate::job::{JobInput, Knobs, RepoPolicy};
use crate::summary::JobFacts;

const RETENTION: Duration = Duration::from_secs(60);

fn job() -> Job {
    JobInput {
        repo: "https://example.com/o/r".into(),
        knobs: Knobs {
            test_command: Some("pytest tests".into()),
            ..Knobs::default()
        },
        ..JobInput::default()
    }
    .validate(RepoPolicy { allow_local: false })
    .expect("a valid job")
}

fn submission(ttl: Option<Duration>, webhook: Option<&str>) -> Submission {
    Submission {
        job: job(),
        webhook: webhook.map(str::to_string),
        execution_timeout: Duration::from_secs(600),
        ttl,
    }
}

fn table(max_queue: usize) -> (JobTable, mpsc::UnboundedReceiver<(String, JobView)>) {
    JobTable::new(TableLimits {
        max_queue,
        retention: RETENTION,
        concurrency: 2,
    })
}

/// A summary of a job without runs, as an executor's `JobEnd::Finished` carries one.
fn summary() -> Summary {
    let job = job();
    let settings = Settings::resolve(&job, &FileConfig::default()).expect("settings");
    let env = BTreeMap::new();
    Summary::build(
        JobFacts {
            settings: &settings,
            framework: Framework::Python,
            install: InstallReport::new(InstallStatus::Skipped, Framework::Python, None),
            repo: "https://example.com/o/r".into(),
            git_ref: None,
            commit: None,
            meta: &job.meta,
            env: &env,
            warnings: Vec::new(),
            duration_seconds: 0.0,
        },
        Vec::new(),
    )
}

/// Moves `instant` `by` into the past, as if that much time had gone by since.
fn backdate(instant: &mut Instant, by: Duration) {
    *instant = instant
        .checked_sub(by)
        .expect("the monotonic clock reaches this far back");
}

fn status(table: &JobTable, id: &str) -> JobState {
    table.view(id).expect("the job is known").status
}

/// Submits a job and starts it, as an executor does.
fn running(table: &JobTable) -> Started {
    let id = table.submit(submission(None, None)).expect("queued").id;
    let started = table.pop().expect("the job starts");
    assert_eq!(started.id, id);
    started
}

#[test]
fn a_submitted_job_is_in_queue_until_an_executor_takes_it() {
    let (table, _webhooks) = table(4);
    let view = table.submit(submission(None, None)).expect("queued");
    assert_eq!(view.status, JobState::InQueue);
    assert_eq!((view.delay_time, view.execution_time), (None, None));
    assert_eq!(table.health().jobs.in_queue, 1);

    let started = table.pop().expect("the queued job");
    assert_eq!(started.id, view.id);
    assert_eq!(started.execution_timeout, Duration::from_secs(600));
    let view = table.view(&view.id).expect("known");
    assert_eq!(view.status, JobState::InProgress);
    assert!(view.delay_time.is_some() && view.execution_time.is_some());
    let health = table.health();
    assert_eq!((health.jobs.in_queue, health.jobs.in_progress), (0, 1));
    assert_eq!((health.workers.running, health.workers.idle), (1, 1));
    assert!(table.pop().is_none(), "a started job is handed out once");
}

#[test]
fn each_outcome_ends_in_its_status_and_calls_the_webhook_once() {
    let (table, mut webhooks) = table(4);
    let cases = [
        (JobEnd::Finished(Box::new(summary())), JobState::Completed),
        (JobEnd::Failed("install failed".into()), JobState::Failed),
        (
            JobEnd::TimedOut(Duration::from_millis(1500)),
            JobState::TimedOut,
        ),
    ];
    for (outcome, want) in cases {
        let id = table
            .submit(submission(None, Some("https://hooks.example/x")))
            .expect("queued")
            .id;
        let started = table.pop().expect("started");
        table.finish(&started.id, outcome);
        let view = table.view(&id).expect("known");
        assert_eq!(view.status, want);
        match want {
            JobState::Completed => {
                assert!(view.output.is_some() && view.error.is_none(), "{view:?}")
            }
            JobState::Failed => assert_eq!(view.error.as_deref(), Some("install failed")),
            _ => assert_eq!(
                view.error.as_deref(),
                Some("the job ran longer than its execution timeout of 1500 ms and was cancelled")
            ),
        }
        let (url, delivered) = webhooks.try_recv().expect("a webhook delivery");
        assert_eq!(url, "https://hooks.example/x");
        assert_eq!(delivered, view);
        assert!(webhooks.try_recv().is_err(), "one delivery per job");
    }
    let jobs = table.health().jobs;
    assert_eq!((jobs.completed, jobs.failed, jobs.in_progress), (1, 1, 0));
}

#[test]
fn a_queued_job_cancelled_is_never_handed_out() {
    let (table, mut webhooks) = table(4);
    let id = table
        .submit(submission(None, Some("https://hooks.example/x")))
        .expect("queued")
        .id;
    let mut changes = table.watch(&id).expect("known");
    let view = table.cancel(&id).expect("known");
    assert_eq!(view.status, JobState::Cancelled);
    assert_eq!(view.error.as_deref(), Some("cancelled by request"));
    assert_eq!(*changes.borrow_and_update(), JobState::Cancelled);
    assert_eq!(webhooks.try_recv().expect("a delivery").1, view);
    assert_eq!(table.health().jobs.in_queue, 0);
    assert!(table.pop().is_none());
}

#[test]
fn a_running_job_cancelled_stays_cancelled_whatever_its_executor_reports() {
    let (table, _webhooks) = table(4);
    let started = running(&table);
    assert!(!started.cancel.is_cancelled());
    let view = table.cancel(&started.id).expect("known");
    assert_eq!(view.status, JobState::Cancelled);
    assert!(
        started.cancel.is_cancelled(),
        "the executor is told to stop"
    );
    table.finish(&started.id, JobEnd::Failed("killed".into()));
    let view = table.view(&started.id).expect("known");
    assert_eq!(view.status, JobState::Cancelled);
    assert_eq!(view.error.as_deref(), Some("cancelled by request"));
}

#[test]
fn a_finished_job_is_left_as_it_is_by_cancel() {
    let (table, mut webhooks) = table(8);
    let outcomes = [
        JobEnd::Finished(Box::new(summary())),
        JobEnd::Failed("boom".into()),
        JobEnd::TimedOut(Duration::from_secs(1)),
    ];
    for outcome in outcomes {
        let started = running(&table);
        table.finish(&started.id, outcome);
        let before = table.view(&started.id).expect("known");
        let _ = webhooks.try_recv();
        assert_eq!(table.cancel(&started.id), Some(before.clone()));
        assert!(!started.cancel.is_cancelled(), "{:?}", before.status);
        assert!(webhooks.try_recv().is_err(), "no second delivery");
    }
    let id = table.submit(submission(None, None)).expect("queued").id;
    let cancelled = table.cancel(&id).expect("known");
    assert_eq!(table.cancel(&id), Some(cancelled));
    assert_eq!(table.cancel("no-such-job"), None);
}

#[test]
fn a_job_older_than_its_ttl_in_the_queue_times_out_instead_of_starting() {
    let (table, mut webhooks) = table(4);
    let ttl = Some(Duration::from_secs(30));
    let stale = table
        .submit(submission(ttl, Some("https://hooks.example/x")))
        .expect("queued")
        .id;
    let fresh = table.submit(submission(ttl, None)).expect("queued").id;
    if let Some(entry) = table.lock().jobs.get_mut(&stale) {
        backdate(&mut entry.submitted, Duration::from_secs(31));
    }

    let started = table.pop().expect("the fresh job starts");
    assert_eq!(started.id, fresh);
    let view = table.view(&stale).expect("known");
    assert_eq!(view.status, JobState::TimedOut);
    assert_eq!(
        view.error.as_deref(),
        Some("the job waited in the queue longer than its ttl")
    );
    assert_eq!(webhooks.try_recv().expect("a delivery").1, view);
    assert_eq!(status(&table, &fresh), JobState::InProgress);
}

#[test]
fn a_job_within_its_ttl_or_without_one_starts_however_long_it_waited() {
    let (table, _webhooks) = table(4);
    let within = table
        .submit(submission(Some(Duration::from_secs(30)), None))
        .expect("queued")
        .id;
    let without = table.submit(submission(None, None)).expect("queued").id;
    for id in [&within, &without] {
        if let Some(entry) = table.lock().jobs.get_mut(id.as_str()) {
            let waited = if *id == within { 29 } else { 3600 };
            backdate(&mut entry.submitted, Duration::from_secs(waited));
        }
    }
    assert_eq!(table.pop().expect("started").id, within);
    assert_eq!(table.pop().expect("started").id, without);
}

#[test]
fn finished_jobs_are_forgotten_after_the_retention_and_unfinished_ones_never() {
    let (table, _webhooks) = table(8);
    let old = running(&table);
    table.finish(&old.id, JobEnd::Failed("old".into()));
    let recent = running(&table);
    table.finish(&recent.id, JobEnd::Failed("recent".into()));
    let busy = running(&table);
    let queued = table.submit(submission(None, None)).expect("queued").id;
    {
        let mut inner = table.lock();
        for (id, entry) in inner.jobs.iter_mut() {
            backdate(&mut entry.submitted, RETENTION * 3);
            if let Some(started) = entry.started.as_mut() {
                backdate(started, RETENTION * 2);
            }
            if let Some(finished) = entry.finished.as_mut() {
                let age = if *id == old.id {
                    RETENTION * 2
                } else {
                    RETENTION / 2
                };
                backdate(finished, age);
            }
        }
    }
    assert_eq!(table.sweep(), 1);
    assert_eq!(table.view(&old.id), None);
    assert_eq!(status(&table, &recent.id), JobState::Failed);
    assert_eq!(status(&table, &busy.id), JobState::InProgress);
    assert_eq!(status(&table, &queued), JobState::InQueue);
    assert_eq!(table.sweep(), 0);
}

#[test]
fn a_full_queue_refuses_and_a_closed_table_cancels_everything() {
    let (table, _webhooks) = table(2);
    let busy = running(&table);
    let first = table.submit(submission(None, None)).expect("queued").id;
    let second = table.submit(submission(None, None)).expect("queued").id;
    assert!(matches!(
        table.submit(submission(None, None)),
        Err(SubmitError::QueueFull(2))
    ));

    table.close();
    for id in [&busy.id, &first, &second] {
        let view = table.view(id).expect("known");
        assert_eq!(view.status, JobState::Cancelled);
        assert_eq!(view.error.as_deref(), Some("the server shut down"));
    }
    assert!(busy.cancel.is_cancelled());
    assert!(matches!(
        table.submit(submission(None, None)),
        Err(SubmitError::ShuttingDown)
    ));
    assert!(table.pop().is_none());
}

#[tokio::test]
async fn next_queued_wakes_for_a_submission_and_ends_when_the_table_closes() {
    let (table, _webhooks) = table(4);
    let table = std::sync::Arc::new(table);
    let waiter = tokio::spawn({
        let table = table.clone();
        async move { table.next_queued().await.map(|started| started.id) }
    });
    tokio::task::yield_now().await;
    let id = table.submit(submission(None, None)).expect("queued").id;
    assert_eq!(waiter.await.expect("the waiter"), Some(id));

    let waiter = tokio::spawn({
        let table = table.clone();
        async move { table.next_queued().await.map(|started| started.id) }
    });
    tokio::task::yield_now().await;
    table.close();
    assert_eq!(waiter.await.expect("the waiter"), None);
}

#[test]
fn chunks_are_kept_while_running_and_streamed_once() {
    let (table, _webhooks) = table(4);
    let queued = table.submit(submission(None, None)).expect("queued").id;
    table.push_chunk(&queued, serde_json::json!("too early"));
    let started = table.pop().expect("started");
    table.push_chunk(&started.id, serde_json::json!(1));
    table.push_chunk(&started.id, serde_json::json!(2));
    let stream = table.stream(&started.id).expect("known");
    assert_eq!(stream.status, JobState::InProgress);
    let outputs: Vec<Value> = stream.stream.into_iter().map(|c| c.output).collect();
    assert_eq!(outputs, [serde_json::json!(1), serde_json::json!(2)]);
    assert!(table.stream(&started.id).expect("known").stream.is_empty());

    table.finish(&started.id, JobEnd::Failed("done".into()));
    table.push_chunk(&started.id, serde_json::json!("too late"));
    let stream = table.stream(&started.id).expect("known");
    assert_eq!(stream.status, JobState::Failed);
    assert!(stream.stream.is_empty());
    assert!(table.stream("no-such-job").is_none());
}

#[test]
fn purging_the_queue_forgets_queued_jobs_and_keeps_running_ones() {
    let (table, _webhooks) = table(4);
    let busy = running(&table);
    let queued = table.submit(submission(None, None)).expect("queued").id;
    let mut changes = table.watch(&queued).expect("known");
    assert_eq!(table.purge_queue(), 1);
    assert_eq!(table.view(&queued), None);
    assert_eq!(*changes.borrow_and_update(), JobState::Cancelled);
    assert_eq!(status(&table, &busy.id), JobState::InProgress);
}
