//! The confirmation phase's runs ([`replay`]): failing seeds replayed in rounds, each seed
//! once alone (one run at a time, nothing else running) and then once under load (at the
//! job's parallelism, with filler runs of passing seeds when there are fewer replays than
//! slots, so the machine is as busy as it was when the seed failed, and the replays started
//! in the middle of the fillers' runs, as the failing run started among running runs).
//! Replays count against
//! the job's budget, and the phase stops as soon as more of them cannot change a class. The
//! judgement is `analysis::classify`'s.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::analysis::assess::Assessment;
use crate::analysis::classify::{REPLAYS_PER_SEED, Replay};
use crate::errors::one_line;
use crate::events::{Event, Events};
use crate::process::RunnerError;
use crate::runner::{RunRequest, RunTemplate, run_all};

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
    let choice = assessment.seeds_to_confirm();
    // Every covering seed, so no flaky subject is left without a class; further seeds only
    // as far as the budget gives each the replays a covering seed needs to tell its
    // failures from chance (at least [`REPLAYS_PER_SEED`] rounds, alone and under load when
    // runs run in parallel). A budget smaller than the covering seeds is spent on the
    // first of them.
    let per_round = if parallelism > 1 { 2 } else { 1 };
    let rounds = (per_round * REPLAYS_PER_SEED).max(assessment.replays_per_seed(&choice.rates));
    let mut seeds = choice.seeds;
    seeds.truncate(choice.covering.max((budget / rounds.max(1)) as usize));
    seeds.truncate(budget as usize);
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
        lead: assessment.filler_lead(),
    };
    let open = |replays: &[Replay]| assessment.seeds_to_replay(&seeds, replays);
    match replay(template, &plan, &open, cancel).await {
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
    /// How long a loaded round's fillers run before its replays start.
    pub lead: Duration,
}

/// Replays `plan.seeds` in rounds: each seed once alone, then each once under load. Before
/// each half round, `open` says which seeds are still worth replaying after the replays so
/// far (those of subjects whose class is not settled); the phase stops when none is, or when
/// the budget is spent. A half round that does not fit in what is left of the budget
/// replays the first seeds that fit. Cancelled replays are left out.
pub async fn replay(
    template: Arc<RunTemplate>,
    plan: &ReplayPlan<'_>,
    open: &(dyn Fn(&[Replay]) -> Vec<u64> + Sync),
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
    let budget = plan.budget as usize;
    let mut out: Vec<Replay> = Vec::new();
    let pending = |out: &[Replay]| {
        let mut seeds = if out.is_empty() {
            plan.seeds.to_vec()
        } else {
            open(out)
        };
        seeds.truncate(budget.saturating_sub(out.len()));
        seeds
    };
    loop {
        let seeds = pending(&out);
        if seeds.is_empty() || cancel.is_cancelled() {
            break;
        }
        let alone: Vec<RunRequest> = seeds.iter().map(|&seed| next(seed)).collect();
        let records = run_all(template.clone(), alone, 1, &quiet, cancel, &mut |_| false).await?;
        out.extend(records.into_iter().map(|record| Replay {
            alone: true,
            record,
        }));
        if plan.parallelism <= 1 {
            continue;
        }
        let seeds = pending(&out);
        if seeds.is_empty() || cancel.is_cancelled() {
            break;
        }
        let (fillers, loaded) = loaded_round(&seeds, plan, &mut next);
        let filler_slots = fillers.len() as u32;
        // The fillers start first and the replays `lead` later, in the middle of the
        // fillers' runs (see `Assessment::filler_lead`); both share the template's slots.
        let fill = async {
            if fillers.is_empty() {
                return Ok(Vec::new());
            }
            run_all(
                template.clone(),
                fillers,
                filler_slots,
                &quiet,
                cancel,
                &mut |_| false,
            )
            .await
        };
        let replays = async {
            if filler_slots > 0 {
                tokio::select! {
                    () = tokio::time::sleep(plan.lead) => {}
                    () = cancel.cancelled() => {}
                }
            }
            let slots = plan.parallelism.saturating_sub(filler_slots).max(1);
            run_all(template.clone(), loaded, slots, &quiet, cancel, &mut |_| {
                false
            })
            .await
        };
        let (filled, records) = tokio::join!(fill, replays);
        filled?;
        out.extend(records?.into_iter().map(|record| Replay {
            alone: false,
            record,
        }));
    }
    Ok(out)
}

/// One round of replays under load: as many filler runs as fill the slots that `seeds`'
/// replays leave, and the replays. With no passing seed to fill with, the failing seeds fill;
/// a filler's own result is dropped.
fn loaded_round(
    seeds: &[u64],
    plan: &ReplayPlan<'_>,
    next: &mut impl FnMut(u64) -> RunRequest,
) -> (Vec<RunRequest>, Vec<RunRequest>) {
    let filler_seeds = if plan.fillers.is_empty() {
        seeds
    } else {
        plan.fillers
    };
    let filler_count = (plan.parallelism as usize).saturating_sub(seeds.len());
    let fillers = filler_seeds
        .iter()
        .cycle()
        .take(filler_count)
        .map(|&seed| next(seed))
        .collect();
    let replays = seeds.iter().map(|&seed| next(seed)).collect();
    (fillers, replays)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan<'a>(seeds: &'a [u64], fillers: &'a [u64], parallelism: u32) -> ReplayPlan<'a> {
        ReplayPlan {
            seeds,
            fillers,
            parallelism,
            first_attempt: 0,
            budget: 30,
            lead: Duration::ZERO,
        }
    }

    type Requests = Vec<(u32, u64)>;

    fn round(seeds: &[u64], plan: &ReplayPlan<'_>) -> (Requests, Requests) {
        let mut attempt = 10;
        let mut next = |seed| {
            attempt += 1;
            RunRequest {
                attempt: attempt - 1,
                seed,
            }
        };
        let (fillers, replays) = loaded_round(seeds, plan, &mut next);
        let pairs =
            |requests: Vec<RunRequest>| requests.iter().map(|r| (r.attempt, r.seed)).collect();
        (pairs(fillers), pairs(replays))
    }

    #[test]
    fn a_loaded_round_fills_the_slots_its_replays_leave_with_passing_seeds() {
        let plan = plan(&[7], &[1, 2], 4);
        let (fillers, replays) = round(&[7], &plan);
        assert_eq!(fillers, vec![(10, 1), (11, 2), (12, 1)]);
        assert_eq!(replays, vec![(13, 7)]);
    }

    #[test]
    fn without_passing_seeds_the_failing_seeds_fill_and_a_full_round_has_no_filler() {
        let plan = plan(&[7, 8], &[], 3);
        let (fillers, replays) = round(&[7, 8], &plan);
        assert_eq!(fillers, vec![(10, 7)]);
        assert_eq!(replays, vec![(11, 7), (12, 8)]);
        let plan = ReplayPlan {
            parallelism: 2,
            ..plan
        };
        let (fillers, replays) = round(&[7, 8], &plan);
        assert!(fillers.is_empty());
        assert_eq!(replays, vec![(10, 7), (11, 8)]);
    }
}
