//! Fan-out of a job's runs ([`run_all`]): a `JoinSet` with a semaphore sized by `parallelism`,
//! progress events as runs finish, an early stop when the caller has seen enough, and every
//! child reaped before returning.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::run::{RunRecord, RunRequest, RunTemplate};
use crate::events::{Event, Events};
use crate::process::capture::finished_run_keep;
use crate::process::{RunOutcome, RunnerError};

/// Runs every request, at most `parallelism` at once, and returns the finished records in
/// attempt order. `enough` sees the records so far after each run; once it says `true` no
/// new run starts (runs already started finish). Cancelled runs are left out of the result.
///
/// A finished run's output is trimmed at once to what the summary can show of it
/// ([`finished_run_keep`]), so memory is bounded by `parallelism` captures in flight plus a
/// fixed budget, not by runs × `output_limit_bytes`.
///
/// A run that cannot start (the command does not exist) stops the job: the other runs are
/// cancelled and reaped, then the error is returned.
pub async fn run_all(
    template: Arc<RunTemplate>,
    requests: Vec<RunRequest>,
    parallelism: u32,
    events: &Events,
    cancel: &CancellationToken,
    enough: &mut (dyn FnMut(&[RunRecord]) -> bool + Send),
) -> Result<Vec<RunRecord>, RunnerError> {
    let total = requests.len() as u32;
    let semaphore = Arc::new(Semaphore::new(parallelism.max(1) as usize));
    let runs_cancel = cancel.child_token();
    let mut pending = requests.into_iter();
    // Each run hands its permit back with its record, so a slot frees only once `enough`
    // has seen the run that ended there: a stop at the first failure (verify-fix) with
    // one slot then starts no run after the failing one.
    let mut set: JoinSet<(Result<RunRecord, RunnerError>, OwnedSemaphorePermit)> = JoinSet::new();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut failures = 0;
    let mut with_output = 0;
    let mut first_error = None;
    let mut launching = true;

    loop {
        tokio::select! {
            biased;
            joined = set.join_next(), if !set.is_empty() => {
                let Some(joined) = joined else { continue };
                let (joined, permit) = match joined {
                    Ok((result, permit)) => (Ok(result), Some(permit)),
                    Err(join_error) => (Err(join_error), None),
                };
                match joined {
                    Ok(Ok(record)) if record.outcome == RunOutcome::Cancelled => {}
                    Ok(Ok(mut record)) => {
                        if record.has_output() {
                            with_output += 1;
                            record.trim_output(finished_run_keep(with_output));
                        }
                        if !record.outcome.passed() {
                            failures += 1;
                        }
                        events.emit(Event::RunFinished {
                            attempt: record.attempt,
                            seed: record.seed,
                            passed: record.outcome.passed(),
                            timed_out: record.outcome == RunOutcome::TimedOut,
                            done: records.len() as u32 + 1,
                            total,
                            failures,
                        });
                        records.push(record);
                        if launching && enough(&records) {
                            launching = false;
                        }
                    }
                    Ok(Err(error)) => {
                        first_error.get_or_insert(error);
                        launching = false;
                        runs_cancel.cancel();
                    }
                    Err(join_error) if join_error.is_panic() => {
                        std::panic::resume_unwind(join_error.into_panic())
                    }
                    Err(_) => {}
                }
                drop(permit);
            }
            () = runs_cancel.cancelled(), if launching => launching = false,
            permit = semaphore.clone().acquire_owned(), if launching => {
                let Some(request) = pending.next() else {
                    launching = false;
                    continue;
                };
                let permit = permit.expect("the semaphore is never closed");
                let template = template.clone();
                let cancel = runs_cancel.clone();
                set.spawn(async move { (template.run(request, &cancel).await, permit) });
            }
            else => break,
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    records.sort_by_key(|r| r.attempt);
    Ok(records)
}
