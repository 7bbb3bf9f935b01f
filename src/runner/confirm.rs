//! The confirmation phase's runs ([`replay`]): failing seeds replayed in rounds, each seed
//! once alone (one run at a time, nothing else running) and then once under load (at the
//! job's parallelism, with filler runs of passing seeds when there are fewer replays than
//! slots, so the machine is as busy as it was when the seed failed). Replays count against
//! the job's budget, and the phase stops as soon as more of them cannot change a class. The
//! judgement is `analysis::classify`'s.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::fan_out::run_all;
use super::process::RunnerError;
use super::run::{RunRequest, RunTemplate};
use crate::analysis::assess::Assessment;
use crate::analysis::classify::{REPLAYS_PER_SEED, Replay};
use crate::errors::one_line;
use crate::events::{Event, Events};

/// The confirmation phase of a job: replays the seeds `assessment` asks for (if any, if the
/// job was not cancelled, and if the budget allows a replay) and hands the replays back to
/// it. A replay that cannot start becomes a warning: the first phase's summary is never lost
/// to the confirmation.
pub async fn confirm(
    assessment: &mut Assessment,
    template: Arc<RunTemplate>,
    parallelism: u32,
    first_attempt: u32,
    budget: Option<u32>,
    events: &Events,
    cancel: &CancellationToken,
) {
    let budget = budget.unwrap_or_else(|| assessment.default_budget());
    let mut seeds = assessment.seeds_to_confirm();
    // As many seeds as the budget gives [`REPLAYS_PER_SEED`] rounds each (alone, and under
    // load when runs run in parallel), and at least one when it allows any replay.
    let per_round = if parallelism > 1 { 2 } else { 1 };
    let rounds = per_round * REPLAYS_PER_SEED;
    seeds.truncate((budget / rounds).max(u32::from(budget > 0)) as usize);
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
    let plan = ReplayPlan {
        seeds: &seeds,
        fillers: &fillers,
        parallelism,
        first_attempt,
        budget,
    };
    let settled = |replays: &[Replay]| assessment.settled(replays);
    match replay(template, &plan, &settled, cancel).await {
        Ok(_) if cancel.is_cancelled() => {}
        Ok(replays) => assessment.confirm(&seeds, &replays, budget),
        Err(error) => assessment.warn(format!(
            "the confirmation phase was skipped: {}",
            one_line(&error)
        )),
    }
}

/// What to replay and within which limits.
#[derive(Debug, Clone, Copy)]
pub struct ReplayPlan<'a> {
    pub seeds: &'a [u64],
    /// Seeds of passing runs that keep `parallelism` slots busy during loaded replays; their
    /// own results are dropped and they do not count as replays.
    pub fillers: &'a [u64],
    pub parallelism: u32,
    /// Attempt numbers start here, so run directories never clash with the first phase's.
    pub first_attempt: u32,
    /// Most replays (alone and under load together).
    pub budget: u32,
}

/// Replays `plan.seeds` in rounds: each seed once alone, then each once under load. Stops
/// after a round when `settled` says the replays so far decide every class, or when the
/// next round does not fit in the budget (a last round alone only when that still fits).
/// Cancelled replays are left out.
pub async fn replay(
    template: Arc<RunTemplate>,
    plan: &ReplayPlan<'_>,
    settled: &(dyn Fn(&[Replay]) -> bool + Sync),
    cancel: &CancellationToken,
) -> Result<Vec<Replay>, RunnerError> {
    let mut attempt = plan.first_attempt;
    let mut next = |seed: u64| {
        attempt += 1;
        RunRequest {
            attempt: attempt - 1,
            seed,
        }
    };
    let quiet = Events::none();
    let seeds = plan.seeds;
    let mut out: Vec<Replay> = Vec::new();
    loop {
        let left = (plan.budget as usize).saturating_sub(out.len());
        if seeds.is_empty() || left < seeds.len() || cancel.is_cancelled() {
            break;
        }
        let alone: Vec<RunRequest> = seeds.iter().map(|&seed| next(seed)).collect();
        let records = run_all(template.clone(), alone, 1, &quiet, cancel, &mut |_| false).await?;
        out.extend(records.into_iter().map(|record| Replay {
            alone: true,
            record,
        }));
        let left = left - seeds.len();
        if plan.parallelism <= 1 || left < seeds.len() || cancel.is_cancelled() {
            if settled(&out) {
                break;
            }
            continue;
        }
        // Interleave replays with fillers so every slot is busy from the start.
        let filler_seeds = if plan.fillers.is_empty() {
            seeds
        } else {
            plan.fillers
        };
        let filler_count = (plan.parallelism as usize).saturating_sub(seeds.len());
        let mut fill = filler_seeds.iter().cycle().take(filler_count);
        let mut loaded = Vec::new();
        let mut filler_attempts = Vec::new();
        for &seed in seeds {
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
        let records = run_all(
            template.clone(),
            loaded,
            plan.parallelism,
            &quiet,
            cancel,
            &mut |_| false,
        )
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
        if settled(&out) {
            break;
        }
    }
    Ok(out)
}
