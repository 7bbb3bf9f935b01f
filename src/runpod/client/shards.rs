//! `submit --shards K`: one request split into K jobs with disjoint seeds ([`plan`]), all
//! queued at once and followed together ([`run_shards`]) so the endpoint's workers run them
//! side by side. The caller joins the summaries with `Summary::merge`.

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{ClientError, Deadline, EndpointClient, Progress};
use crate::config::DEFAULT_SEED_RANGE;
use crate::framework::seed::plan_seeds;
use crate::job::{JobInput, MAX_RUNS};
use crate::summary::Summary;

/// Why a sharded request could not be planned or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(
        "--shards needs the number of runs (--runs, or --seed) to split them; the repository's config is only read on the workers"
    )]
    RunsUnknown,
    #[error(
        "a triage is one job (its two sides run together and stop when settled): drop --shards"
    )]
    Triage,
    #[error("cannot split {runs} run(s) into {shards} shards: each shard needs at least one run")]
    TooManyShards { runs: u32, shards: u32 },
    #[error("{runs} runs are more than {MAX_RUNS}, the most one job takes, times {shards} shards")]
    TooManyRuns { runs: u32, shards: u32 },
    #[error("cannot encode the job input")]
    Encode(#[source] serde_json::Error),
    #[error("shard {shard} of {of}")]
    Shard {
        shard: usize,
        of: usize,
        #[source]
        source: ClientError,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl ShardError {
    /// The endpoint error at the bottom, if any (to tell an interruption from a failure).
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            ShardError::Shard { source, .. } | ShardError::Client(source) => Some(source),
            _ => None,
        }
    }
}

/// The job inputs of `shards` jobs that together make the request `input`. One shard is
/// the input unchanged. More get the seeds drawn here (without repeats, from the default
/// range, or the request's own `seeds` cycled as a single job would) and split into
/// consecutive slices whose sizes differ by at most one; shard `i` runs slice `i` with an
/// explicit `seeds` list, so no seed runs twice and the merged attempts follow the drawn
/// order. `runs` above 1000 are allowed here as long as each shard stays within it.
pub fn plan(input: &JobInput, shards: u32) -> Result<Vec<JobInput>, ShardError> {
    if shards <= 1 {
        return Ok(vec![input.clone()]);
    }
    if input.triage.is_some() {
        return Err(ShardError::Triage);
    }
    let runs = input
        .knobs
        .runs
        .or_else(|| input.seeds.as_ref().map(|s| s.len() as u32))
        .ok_or(ShardError::RunsUnknown)?;
    if runs < shards {
        return Err(ShardError::TooManyShards { runs, shards });
    }
    if runs.div_ceil(shards) > MAX_RUNS {
        return Err(ShardError::TooManyRuns { runs, shards });
    }
    let seeds = plan_seeds(runs, DEFAULT_SEED_RANGE, input.seeds.as_deref());
    let (base, extra) = (runs / shards, runs % shards);
    let mut rest = seeds.as_slice();
    Ok((0..shards)
        .map(|i| {
            let size = (base + u32::from(i < extra)) as usize;
            let (slice, tail) = rest.split_at(size);
            rest = tail;
            let mut shard = input.clone();
            shard.knobs.runs = Some(size as u32);
            shard.seeds = Some(slice.to_vec());
            shard
        })
        .collect())
}

/// Queues every input (shard `i` on `clients[i % clients.len()]`), then waits for all of
/// them, sending `(shard, progress)` on `progress`. Returns the summaries in shard order.
/// When one shard fails, times out or `cancel` fires, the others are cancelled on their
/// endpoints and the first error is returned.
pub async fn run_shards(
    clients: &[EndpointClient],
    inputs: Vec<JobInput>,
    deadline: Deadline,
    cancel: &CancellationToken,
    progress: UnboundedSender<(usize, Progress)>,
) -> Result<Vec<Summary>, ShardError> {
    let of = inputs.len();
    let wrap = move |shard: usize, source: ClientError| {
        if of == 1 {
            ShardError::Client(source)
        } else {
            ShardError::Shard {
                shard: shard + 1,
                of,
                source,
            }
        }
    };
    let mut queued: Vec<(EndpointClient, String)> = Vec::with_capacity(of);
    for (shard, input) in inputs.iter().enumerate() {
        let client = clients[shard % clients.len()].clone();
        let value: Value = serde_json::to_value(input).map_err(ShardError::Encode)?;
        match client.run(&value).await {
            Ok(id) => {
                tracing::info!(shard = shard + 1, of, job = %id, "job queued");
                queued.push((client, id));
            }
            Err(error) => {
                for (client, id) in &queued {
                    client.cancel(id).await;
                }
                return Err(wrap(shard, error));
            }
        }
    }

    // A child token: a failed shard stops the others without touching the caller's.
    let stop = cancel.child_token();
    let mut waits = JoinSet::new();
    for (shard, (client, id)) in queued.into_iter().enumerate() {
        let (stop, progress) = (stop.clone(), progress.clone());
        waits.spawn(async move {
            let mut report = |seen: &Progress| {
                let _ = progress.send((shard, seen.clone()));
            };
            (shard, client.wait(&id, deadline, &stop, &mut report).await)
        });
    }
    let mut summaries: Vec<Option<Summary>> = (0..of).map(|_| None).collect();
    let mut first_error: Option<ShardError> = None;
    while let Some(joined) = waits.join_next().await {
        match joined {
            Ok((shard, Ok(summary))) => summaries[shard] = Some(summary),
            Ok((shard, Err(error))) => {
                // The others end as `Interrupted` once stopped; the cause is this one.
                if first_error.is_none() {
                    first_error = Some(wrap(shard, error));
                    stop.cancel();
                }
            }
            Err(join) => {
                tracing::error!("a shard's wait ended abnormally: {join}");
                stop.cancel();
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    summaries
        .into_iter()
        .enumerate()
        .map(|(shard, summary)| {
            summary.ok_or_else(|| {
                wrap(
                    shard,
                    ClientError::BadAnswer {
                        endpoint: "(local)".into(),
                        detail: "the shard's wait ended without a result".into(),
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Knobs;

    fn input(runs: Option<u32>, seeds: Option<Vec<u64>>) -> JobInput {
        JobInput {
            repo: "https://example.com/o/r".into(),
            knobs: Knobs {
                runs,
                ..Knobs::default()
            },
            seeds,
            ..JobInput::default()
        }
    }

    #[test]
    fn shards_split_the_runs_into_disjoint_slices() {
        let shards = plan(&input(Some(10), None), 4).expect("plannable");
        let sizes: Vec<u32> = shards.iter().map(|s| s.knobs.runs.expect("runs")).collect();
        assert_eq!(sizes, vec![3, 3, 2, 2]);
        let mut all: Vec<u64> = shards
            .iter()
            .flat_map(|s| s.seeds.clone().expect("seeds"))
            .collect();
        assert_eq!(all.len(), 10);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 10, "a seed was given to two shards");
        for shard in &shards {
            assert_eq!(shard.repo, "https://example.com/o/r");
            assert_eq!(
                shard.knobs.runs,
                Some(shard.seeds.as_ref().map_or(0, |s| s.len() as u32))
            );
        }
    }

    #[test]
    fn explicit_seeds_keep_their_order() {
        let shards = plan(&input(None, Some((1..=6).collect())), 3).expect("plannable");
        let slices: Vec<Vec<u64>> = shards
            .iter()
            .map(|s| s.seeds.clone().expect("seeds"))
            .collect();
        assert_eq!(slices, vec![vec![1, 2], vec![3, 4], vec![5, 6]]);
    }

    #[test]
    fn one_shard_is_the_request_unchanged() {
        let request = input(None, None);
        assert_eq!(plan(&request, 1).expect("one"), vec![request]);
    }

    #[test]
    fn refuses_what_cannot_be_split() {
        assert!(matches!(
            plan(&input(None, None), 2),
            Err(ShardError::RunsUnknown)
        ));
        assert!(matches!(
            plan(&input(Some(3), None), 4),
            Err(ShardError::TooManyShards { runs: 3, shards: 4 })
        ));
        assert!(matches!(
            plan(&input(Some(3000), None), 2),
            Err(ShardError::TooManyRuns { .. })
        ));
        assert_eq!(
            plan(&input(Some(3000), None), 3).expect("3 × 1000").len(),
            3
        );
    }
}
