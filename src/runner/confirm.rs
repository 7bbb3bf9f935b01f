//! The confirmation phase's runs ([`replay`]): each failing seed replayed
//! [`REPLAYS_PER_SEED`] times alone (one run at a time, nothing else running), then as many
//! times again under load (at the job's parallelism, among filler runs of passing seeds, so
//! the machine is as busy as it was when the seed failed). The judgement is
//! `analysis::classify`'s.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::fan_out::run_all;
use super::process::RunnerError;
use super::run::{RunRequest, RunTemplate};
use crate::analysis::assess::Assessment;
use crate::analysis::classify::{REPLAYS_PER_SEED, Replay};
use crate::errors::one_line;
use crate::events::{Event, Events};

/// The confirmation phase of a job: replays the seeds `assessment` asks for (if any, and if
/// the job was not cancelled) and hands the replays back to it. A replay that cannot start
/// becomes a warning: the first phase's summary is never lost to the confirmation.
pub async fn confirm(
    assessment: &mut Assessment,
    template: Arc<RunTemplate>,
    parallelism: u32,
    first_attempt: u32,
    events: &Events,
    cancel: &CancellationToken,
) {
    let seeds = assessment.seeds_to_confirm();
    if seeds.is_empty() || cancel.is_cancelled() {
        return;
    }
    events.emit(Event::Confirming {
        seeds: seeds.clone(),
    });
    let fillers = assessment.passing_seeds();
    // A seed that hung gets a shorter timeout per replay, so replaying a hang costs about
    // one timeout rather than one per replay.
    let timeout = assessment.replay_timeout(template.timeout);
    let template = if timeout < template.timeout {
        let mut shorter = (*template).clone();
        shorter.timeout = timeout;
        Arc::new(shorter)
    } else {
        template
    };
    match replay(
        template,
        &seeds,
        &fillers,
        parallelism,
        first_attempt,
        cancel,
    )
    .await
    {
        Ok(_) if cancel.is_cancelled() => {}
        Ok(replays) => assessment.confirm(&seeds, &replays),
        Err(error) => assessment.warn(format!(
            "the confirmation phase was skipped: {}",
            one_line(&error)
        )),
    }
}

/// Replays `seeds` alone and then under load. `fillers` are seeds of passing runs that keep
/// `parallelism` slots busy during the loaded replays; their own results are dropped.
/// Attempt numbers start at `first_attempt`, so run directories never clash with the first
/// phase's. Cancelled replays are left out.
pub async fn replay(
    template: Arc<RunTemplate>,
    seeds: &[u64],
    fillers: &[u64],
    parallelism: u32,
    first_attempt: u32,
    cancel: &CancellationToken,
) -> Result<Vec<Replay>, RunnerError> {
    let mut attempt = first_attempt;
    let mut next = |seed: u64| {
        attempt += 1;
        RunRequest {
            attempt: attempt - 1,
            seed,
        }
    };
    let replays: Vec<u64> = (0..REPLAYS_PER_SEED)
        .flat_map(|_| seeds.iter().copied())
        .collect();

    let alone: Vec<RunRequest> = replays.iter().map(|&seed| next(seed)).collect();
    let quiet = Events::none();
    let mut out: Vec<Replay> = run_all(template.clone(), alone, 1, &quiet, cancel, &mut |_| false)
        .await?
        .into_iter()
        .map(|record| Replay {
            alone: true,
            record,
        })
        .collect();
    if parallelism <= 1 || cancel.is_cancelled() {
        return Ok(out);
    }

    // Interleave replays with fillers so every batch of `parallelism` starts holds both,
    // and the run is at least two batches long.
    let filler_count = (2 * parallelism as usize).saturating_sub(replays.len());
    let filler_seeds: Vec<u64> = if fillers.is_empty() {
        seeds.to_vec()
    } else {
        fillers.to_vec()
    };
    let mut loaded = Vec::new();
    let mut filler_attempts = Vec::new();
    let mut fill = filler_seeds.iter().cycle().take(filler_count);
    for &seed in &replays {
        loaded.push(next(seed));
        if let Some(&filler) = fill.next() {
            let request = next(filler);
            filler_attempts.push(request.attempt);
            loaded.push(request);
        }
    }
    for &filler in fill {
        let request = next(filler);
        filler_attempts.push(request.attempt);
        loaded.push(request);
    }
    let records = run_all(template, loaded, parallelism, &quiet, cancel, &mut |_| {
        false
    })
    .await?;
    out.extend(
        records
            .into_iter()
            .filter(|r| !filler_attempts.contains(&r.attempt))
            .map(|record| Replay {
                alone: false,
                record,
            }),
    );
    Ok(out)
}
