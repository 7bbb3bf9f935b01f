//! Test order after the confirmation phase: a test whose failing seed failed on every
//! replay of a shuffled job is run again with that seed in file order; when it passes each time
//! there it is `order-dependent`, and when the runner can be given an explicit order
//! ([`OrderControl`]) the polluter search ([`crate::analysis::polluter`]) runs it after
//! chosen subsets of the tests that ran before it (those that can share state with it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::analysis::assess::Assessment;
use crate::analysis::findings::{Classification, OrderFinding, OrderRole};
use crate::analysis::per_test::{Ignore, outcomes};
use crate::analysis::polluter::{Found, PolluterSearch, sentence};
use crate::framework::command::{RunnerAt, insert_flags};
use crate::framework::order::{OrderControl, OrderSetup, OrderSource, OrderedRun};
use crate::framework::results::test_result::TestStatus;
use crate::runner::{RunRecord, RunRequest, RunTemplate};

/// Most polluter searches per job (each costs up to `MAX_SEARCH_RUNS` runs). A victim
/// whose polluter an earlier search already found costs one run instead, and does not count.
pub const MAX_TESTS: usize = 3;
/// Most tests checked for order-dependence per job (each costs [`FILE_ORDER_RUNS`] file-order
/// runs per seed).
pub const MAX_CHECKED: usize = 50;
/// Runs in file order of a failing seed; an order-dependent test passes in all of them.
/// Two, not one: a test that fails at random, one run in three, would pass one file-order
/// run two times in three, and be called order-dependent.
pub const FILE_ORDER_RUNS: usize = 2;

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
    let control = cx.setup.control(&shuffle, &cx.template.argv);
    let env = &cx.template.env;
    let mut runner = Runs {
        cx,
        attempt: cx.first_attempt,
    };
    let file_order = runner.variant(&control.run(env, None, OrderSource::FileOrder));
    let mut file_runs: HashMap<u64, Vec<RunRecord>> = HashMap::new();
    let mut findings = Vec::new();
    let mut polluters: Vec<Found> = Vec::new();
    let mut searches = 0;
    for (name, seed) in candidates {
        if cx.cancel.is_cancelled() {
            break;
        }
        if let Entry::Vacant(slot) = file_runs.entry(seed) {
            let mut runs = Vec::new();
            for _ in 0..FILE_ORDER_RUNS {
                runs.extend(runner.run(&file_order, seed).await);
            }
            slot.insert(runs);
        }
        let Some(runs) = file_runs.get(&seed) else {
            continue;
        };
        // Passing in file order every time, after failing in the shuffled order on every
        // replay: a test that fails by chance rarely does both.
        let passes = runs.len() == FILE_ORDER_RUNS
            && runs
                .iter()
                .all(|run| outcome(run, &name, cx.ignore) == Some(false));
        let Some(file_run) = runs.first().filter(|_| passes) else {
            continue;
        };
        assessment.mark_order_dependent(&name);
        if !control.explicit() {
            continue;
        }
        // Victims of one polluter are common (a registry never reset): a polluter found for
        // an earlier victim is tried first, in one run of just it and this test, once a run
        // of this test alone has passed (a brittle test fails alone, after anything).
        let failing = records
            .iter()
            .find(|r| r.seed == seed && outcome(r, &name, cx.ignore) == Some(true));
        let failing_prefix = failing
            .map(|r| match control.report_keeps_run_order() {
                true => prefix(r, &name, &control),
                false => unit(r, &name, &control),
            })
            .unwrap_or_default();
        // A runner that only keeps a run's order can replay a known polluter before this
        // test only when it ran before it in this test's failing order.
        let replayable = |found: &&Found| {
            control.any_order() || found.tests.iter().all(|t| failing_prefix.contains(t))
        };
        let shortcuts: Vec<&Found> = polluters.iter().filter(replayable).collect();
        let passes_alone = !shortcuts.is_empty() && {
            let only = std::slice::from_ref(&name);
            let alone = runner.variant(&control.run(env, Some(only), OrderSource::FileOrder));
            let record = runner.run(&alone, seed).await;
            record.is_some_and(|r| outcome(&r, &name, cx.ignore) == Some(false))
        };
        let mut known = None;
        let mut shortcut_runs = u32::from(!shortcuts.is_empty());
        for found in shortcuts.into_iter().filter(|_| passes_alone) {
            shortcut_runs += 1;
            let mut order = found.tests.clone();
            order.push(name.clone());
            let probe = runner.variant(&control.run(env, Some(&order), OrderSource::Shuffled));
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
                reproduce: reproduce(cx, &control, &name, &found, seed),
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
        if failing.is_none() {
            continue;
        }
        searches += 1;
        let mut search = PolluterSearch::new(failing_prefix, prefix(file_run, &name, &control));
        while let Some(mut order) = search.next() {
            if cx.cancel.is_cancelled() {
                break;
            }
            order.push(name.clone());
            // Polluters are looked for in the failing (shuffled) order, state-setters in
            // the file order that passed; the test alone needs no order.
            let source = match search.role() {
                Some(OrderRole::Polluter) => OrderSource::Shuffled,
                _ => OrderSource::FileOrder,
            };
            let probe = runner.variant(&control.run(env, Some(&order), source));
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
                reproduce: reproduce(cx, &control, &name, &found, seed),
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
    /// The job's template for `ordered`: its variables set, its arguments given to the
    /// runner, the shuffle dropped unless it keeps the job's order.
    fn variant(&self, ordered: &OrderedRun) -> RunTemplate {
        let mut template = (*self.cx.template).clone();
        if !ordered.shuffled {
            template.options.shuffle = None;
        }
        for (name, value) in &ordered.vars {
            template.env.retain(|(k, _)| k != name);
            template.env.push((name.clone(), value.clone()));
        }
        if !ordered.args.is_empty()
            && let Some(at) = RunnerAt::find(&template.argv)
        {
            template.argv = insert_flags(&template.argv, at.insert_at, &ordered.args);
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

/// The tests that ran before `name` in `record` and could share state with it, in the order
/// they ran (a report lists test cases in the order they ran).
fn prefix(record: &RunRecord, name: &str, control: &OrderControl<'_>) -> Vec<String> {
    let mut before: Vec<String> = Vec::new();
    for result in record.tests.results().unwrap_or_default() {
        if result.name == name {
            break;
        }
        if result.status != TestStatus::Skipped
            && control.shares_state(&result.name, name)
            && !before.contains(&result.name)
        {
            before.push(result.name.clone());
        }
    }
    before
}

/// Every other test of `record` that could share state with `name`, in report order: the
/// candidates when the report does not say which ran first.
fn unit(record: &RunRecord, name: &str, control: &OrderControl<'_>) -> Vec<String> {
    let mut tests: Vec<String> = Vec::new();
    for result in record.tests.results().unwrap_or_default() {
        if result.name != name
            && result.status != TestStatus::Skipped
            && control.shares_state(&result.name, name)
            && !tests.contains(&result.name)
        {
            tests.push(result.name.clone());
        }
    }
    tests
}

/// A command that runs just the finding's tests in the failing order of `seed`: the
/// polluters then the test, or the brittle test alone.
fn reproduce(
    cx: &OrderContext<'_>,
    control: &OrderControl<'_>,
    name: &str,
    found: &Found,
    seed: u64,
) -> Option<String> {
    let (mut order, source) = match found.role {
        OrderRole::Polluter => (found.tests.clone(), OrderSource::Shuffled),
        OrderRole::StateSetter => (Vec::new(), OrderSource::FileOrder),
    };
    order.push(name.to_string());
    control.reproduce(
        &cx.template.argv,
        &cx.template.checkout,
        &order,
        source,
        seed,
    )
}
