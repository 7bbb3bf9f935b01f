//! The fork server's control ([`check`]): after the first phase, the forked runs are held
//! against the fresh processes run beside them (`analysis::frozen`). When their outcomes
//! cluster by server, the forked runs are run again as fresh processes, with the same
//! attempts and seeds, and replace the forked ones: every figure of the job then describes
//! fresh processes, which is what the reproduce line runs.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::analysis::frozen;
use crate::analysis::per_test::Ignore;
use crate::config::Settings;
use crate::events::Events;
use crate::runner::{RunRecord, RunRequest, RunTemplate, run_all};

/// Forked runs that did not behave like fresh processes, run again as fresh ones.
pub(super) struct FreshReruns {
    /// What the forked runs shared a process through, as the warning names it.
    pub(super) server: &'static str,
    /// The disagreement's sentence, and whether the reruns could start.
    pub(super) note: String,
}

/// Checks `records` (the first phase's) when `template` forks its runs from shared
/// servers; on a disagreement, reruns the forked ones as fresh processes in place and
/// returns the disagreement's sentence. A rerun that cannot start keeps the forked runs
/// and says so.
pub(super) async fn check(
    template: &Arc<RunTemplate>,
    records: &mut [RunRecord],
    ignore: &Ignore,
    settings: &Settings,
    cancel: &CancellationToken,
) -> Option<FreshReruns> {
    let server = template.build.as_ref()?.shared_process()?;
    let disagreement = frozen::check(records, ignore)?;
    let requests: Vec<RunRequest> = records
        .iter()
        .filter(|r| r.server.is_some())
        .map(|r| RunRequest {
            attempt: r.attempt,
            seed: r.seed,
        })
        .collect();
    let fresh = Arc::new(template.fresh_processes());
    let rerun = run_all(
        fresh,
        requests,
        settings.parallelism,
        &Events::none(),
        cancel,
        &mut |_| false,
    )
    .await;
    let sentence = disagreement.sentence();
    match rerun {
        Ok(reruns) => {
            for rerun in reruns {
                if let Some(slot) = records.iter_mut().find(|r| r.attempt == rerun.attempt) {
                    *slot = rerun;
                }
            }
            Some(FreshReruns {
                server,
                note: sentence,
            })
        }
        Err(error) => {
            tracing::warn!(error = %crate::errors::one_line(&error), "fresh reruns could not start");
            Some(FreshReruns {
                server,
                note: format!(
                    "{sentence}; the fresh reruns could not start, so the forked runs are kept"
                ),
            })
        }
    }
}
