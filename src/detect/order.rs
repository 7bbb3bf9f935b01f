//! Test order after the confirmation phase: a test whose failing seed failed on every
//! replay of a shuffled job is run once more with that seed in file order; when it passes
//! there it is `order-dependent`, and when the runner can be given an explicit order
//! ([`OrderControl`]) the polluter search ([`crate::analysis::polluter`]) runs it after
//! chosen subsets of the tests that ran before it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::analysis::assess::Assessment;
use crate::analysis::findings::{Classification, OrderFinding, OrderRole};
use crate::analysis::per_test::{Ignore, outcomes};
use crate::analysis::polluter::{Found, PolluterSearch, sentence};
use crate::framework::order::{OrderControl, OrderSetup};
use crate::framework::results::test_result::TestStatus;
use crate::runner::{RunRecord, RunRequest, RunTemplate};

/// Most polluter searches per job (each costs up to `MAX_SEARCH_RUNS` runs). A victim
/// whose polluter an earlier search already found costs one run instead, and does not count.
pub const MAX_TESTS: usize = 3;
/// Most tests checked for order-dependence per job (each costs one file-order run per seed).
pub const MAX_CHECKED: usize = 50;

/// What the order search needs from the job.
pub struct OrderContext<'a> {
    /// The job's runs' template (its options say how the runs were shuffled).
    pub template: Arc<RunTemplate>,
    pub setup: &'a OrderSetup,
    pub ignore: &'a Ignore,
    /// Attempt number of the first run made here; higher than any earlier run's.
    pub first_attempt: u32,
    pub cancel: &'a CancellationToken,
}

/// Checks the seed-dependent tests of a shuffled job for order-dependence (marking them in
/// `assessment`) and, where the runner takes an explicit order, searches their polluters or
/// state-setters. `records` are
/// the first phase's runs, whose reports give the failing orders.
pub async fn find(
    assessment: &mut Assessment,
    records: &[RunRecord],
    cx: &OrderContext<'_>,
) -> Vec<OrderFinding> {
    let Some(shuffle) = cx.template.options.shuffle else {
        return Vec::new();
    };
    let candidates: Vec<(String, u64)> = assessment
        .tests()
        .iter()
        // A victim's failing order fails again on every replay: seed-dependent, or not yet
        // settled when the budget allowed fewer replays than tell it at the level. The
        // file-order run below decides.
        .filter(|t| {
            matches!(
                t.classification,
                Some(Classification::SeedDependent | Classification::NotSettled)
            )
        })
        .filter_map(|t| t.failing_seeds.first().map(|seed| (t.name.clone(), *seed)))
        .take(MAX_CHECKED)
        .collect();
    let control = cx.setup.control(&shuffle);
    let mut runner = Runs {
        cx,
        attempt: cx.first_attempt,
    };
    let file_order = runner.variant(&control.vars(&cx.template.env, None));
    let mut file_runs: HashMap<u64, Option<RunRecord>> = HashMap::new();
    let mut findings = Vec::new();
    let mut polluters: Vec<Found> = Vec::new();
    let mut searches = 0;
    for (name, seed) in candidates {
        if cx.cancel.is_cancelled() {
            break;
        }
        if let Entry::Vacant(slot) = file_runs.entry(seed) {
            slot.insert(runner.run(&file_order, seed).await);
        }
        let Some(Some(file_run)) = file_runs.get(&seed) else {
            continue;
        };
        if outcome(file_run, &name, cx.ignore) != Some(false) {
            continue;
        }
        assessment.mark_order_dependent(&name);
        if !control.explicit() {
            continue;
        }
        // Victims of one polluter are common (a registry never reset): a polluter found for
        // an earlier victim is tried first, in one run of just it and this test, once a run
        // of this test alone has passed (a brittle test fails alone, after anything).
        let passes_alone = !polluters.is_empty() && {
            let alone =
                runner.variant(&control.vars(&cx.template.env, Some(std::slice::from_ref(&name))));
            let record = runner.run(&alone, seed).await;
            record.is_some_and(|r| outcome(&r, &name, cx.ignore) == Some(false))
        };
        let mut known = None;
        let mut shortcut_runs = u32::from(!polluters.is_empty());
        for found in polluters.iter().filter(|_| passes_alone) {
            shortcut_runs += 1;
            let mut order = found.tests.clone();
            order.push(name.clone());
            let probe = runner.variant(&control.vars(&cx.template.env, Some(&order)));
            if let Some(record) = runner.run(&probe, seed).await
                && outcome(&record, &name, cx.ignore) == Some(true)
            {
                known = Some(found.clone());
                break;
            }
        }
        if let Some(found) = known {
            findings.push(OrderFinding {
                sentence: sentence(&name, &found),
                reproduce: reproduce(cx, &control, &name, &found),
                test: name,
                role: found.role,
                tests: found.tests,
                search_runs: shortcut_runs,
            });
            continue;
        }
        if searches >= MAX_TESTS {
            continue;
        }
        let failing = records
            .iter()
            .find(|r| r.seed == seed && outcome(r, &name, cx.ignore) == Some(true));
        let Some(failing) = failing else {
            continue;
        };
        searches += 1;
        let mut search = PolluterSearch::new(prefix(failing, &name), prefix(file_run, &name));
        while let Some(mut order) = search.next() {
            if cx.cancel.is_cancelled() {
                break;
            }
            order.push(name.clone());
            let probe = runner.variant(&control.vars(&cx.template.env, Some(&order)));
            let failed = match runner.run(&probe, seed).await {
                Some(record) => outcome(&record, &name, cx.ignore),
                None => None,
            };
            search.record(failed);
        }
        if let Some(found) = search.found() {
            if found.role == OrderRole::Polluter && !found.group {
                polluters.push(found.clone());
            }
            findings.push(OrderFinding {
                sentence: sentence(&name, &found),
                reproduce: reproduce(cx, &control, &name, &found),
                test: name,
                role: found.role,
                tests: found.tests,
                search_runs: search.runs(),
            });
        }
    }
    findings
}

/// Runs made by the search, numbered after every earlier run of the job.
struct Runs<'a> {
    cx: &'a OrderContext<'a>,
    attempt: u32,
}

impl Runs<'_> {
    /// The job's template without the shuffle, with `vars` set.
    fn variant(&self, vars: &[(String, String)]) -> RunTemplate {
        let mut template = (*self.cx.template).clone();
        template.options.shuffle = None;
        for (name, value) in vars {
            template.env.retain(|(k, _)| k != name);
            template.env.push((name.clone(), value.clone()));
        }
        template
    }

    /// One run; `None` when it could not start (or the job was cancelled).
    async fn run(&mut self, template: &RunTemplate, seed: u64) -> Option<RunRecord> {
        let request = RunRequest {
            attempt: self.attempt,
            seed,
        };
        self.attempt += 1;
        match template.run(request, self.cx.cancel).await {
            Ok(record) => Some(record),
            Err(error) => {
                tracing::warn!(error = %crate::errors::one_line(&error), "an order run could not start");
                None
            }
        }
    }
}

/// Whether `name` failed in `record` (`None` when it did not run there).
fn outcome(record: &RunRecord, name: &str, ignore: &Ignore) -> Option<bool> {
    outcomes(record, ignore)
        .get(name)
        .map(|failure| failure.is_some())
}

/// The tests that ran before `name` in `record`, in the order they ran (a report lists
/// test cases in the order they ran).
fn prefix(record: &RunRecord, name: &str) -> Vec<String> {
    let mut before: Vec<String> = Vec::new();
    for result in record.tests.results().unwrap_or_default() {
        if result.name == name {
            break;
        }
        if result.status != TestStatus::Skipped && !before.contains(&result.name) {
            before.push(result.name.clone());
        }
    }
    before
}

/// A command that runs just the finding's tests in the failing order: the polluters then
/// the test, or the brittle test alone.
fn reproduce(
    cx: &OrderContext<'_>,
    control: &OrderControl<'_>,
    name: &str,
    found: &Found,
) -> Option<String> {
    let mut order: Vec<String> = match found.role {
        OrderRole::Polluter => found.tests.clone(),
        OrderRole::StateSetter => Vec::new(),
    };
    order.push(name.to_string());
    control.reproduce(&cx.template.argv, &cx.template.checkout, &order)
}
