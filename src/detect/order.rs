//! Test order after the confirmation phase: a test whose failing seed failed on every
//! replay of a shuffled job is run once more with that seed in file order; when it passes
//! there it is `order-dependent`, and for pytest the polluter search
//! ([`crate::analysis::polluter`]) runs it after chosen subsets of the tests that ran
//! before it, in an explicit order given to our plugin ([`PytestOrderPlugin`]).
//!
//! Also where a job that shuffles pytest gets the plugin ([`setup`]).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::analysis::assess::Assessment;
use crate::analysis::findings::{Classification, OrderFinding, OrderRole};
use crate::analysis::per_test::{Ignore, outcomes};
use crate::analysis::polluter::{Found, PolluterSearch, sentence};
use crate::framework::command::{Runner, RunnerAt};
use crate::framework::pytest_order::{ORDER_VAR, PytestOrderPlugin, SHUFFLE_VAR, node_id};
use crate::framework::report::RunnerOptions;
use crate::framework::results::test_result::TestStatus;
use crate::runner::{RunRecord, RunRequest, RunTemplate};

/// Most polluter searches per job (each costs up to `MAX_SEARCH_RUNS` runs). A victim
/// whose polluter an earlier search already found costs one run instead, and does not count.
pub const MAX_TESTS: usize = 3;
/// Most tests checked for order-dependence per job (each costs one file-order run per seed).
pub const MAX_CHECKED: usize = 50;

/// What a job that may shuffle pytest needs for test order.
#[derive(Debug, Clone, Default)]
pub struct OrderSetup {
    /// Our pytest plugin, written to the cache, when the job shuffles pytest.
    pub plugin: Option<PytestOrderPlugin>,
    /// Variables every run of the job gets (the plugin and `FLAKY_SHUFFLE=1` when the
    /// plugin shuffles); the reproduce line carries them too.
    pub run_env: Vec<(String, String)>,
}

/// Writes our pytest plugin into `cache_dir` when `options` shuffle pytest. When the
/// plugin cannot be written, shuffling by the plugin is dropped from `options` and the
/// second value says why, for the summary's warnings.
pub async fn setup(
    options: &mut RunnerOptions,
    env: &[(String, String)],
    cache_dir: &Path,
) -> (OrderSetup, Option<String>) {
    let Some(shuffle) = options.shuffle else {
        return (OrderSetup::default(), None);
    };
    if shuffle.runner() != Runner::Pytest {
        return (OrderSetup::default(), None);
    }
    let dir = cache_dir.to_path_buf();
    let written = tokio::task::spawn_blocking(move || PytestOrderPlugin::install(&dir))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
    match written {
        Ok(plugin) if shuffle.uses_plugin() => {
            let mut run_env = plugin.env(env);
            run_env.push((SHUFFLE_VAR.into(), "1".into()));
            let setup = OrderSetup {
                plugin: Some(plugin),
                run_env,
            };
            (setup, None)
        }
        Ok(plugin) => {
            let setup = OrderSetup {
                plugin: Some(plugin),
                run_env: Vec::new(),
            };
            (setup, None)
        }
        Err(error) if shuffle.uses_plugin() => {
            options.shuffle = None;
            let warning = format!(
                "shuffle: the pytest order plugin could not be written to {} ({error}), so test order was not shuffled",
                cache_dir.display()
            );
            (OrderSetup::default(), Some(warning))
        }
        Err(error) => {
            let warning = format!(
                "the pytest order plugin could not be written to {} ({error}), so no polluter search",
                cache_dir.display()
            );
            (OrderSetup::default(), Some(warning))
        }
    }
}

impl OrderSetup {
    /// `env` with the variables the runs get, for the reproduce line.
    pub fn reproduce_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = env.clone();
        env.extend(self.run_env.iter().cloned());
        env
    }
}

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
/// `assessment`) and, for pytest, searches their polluters or state-setters. `records` are
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
    let pytest = shuffle.runner() == Runner::Pytest;
    let plugin = cx.setup.plugin.as_ref().filter(|_| pytest);
    let randomly = pytest && !shuffle.uses_plugin();
    let mut runner = Runs {
        cx,
        attempt: cx.first_attempt,
    };
    let file_order = runner.variant(&order_vars(cx, plugin, randomly, None));
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
        if plugin.is_none() {
            continue;
        }
        // Victims of one polluter are common (a registry never reset): a polluter found for
        // an earlier victim is tried first, in one run of just it and this test, once a run
        // of this test alone has passed (a brittle test fails alone, after anything).
        let passes_alone = !polluters.is_empty() && {
            let alone = runner.variant(&order_vars(
                cx,
                plugin,
                randomly,
                Some(std::slice::from_ref(&name)),
            ));
            let record = runner.run(&alone, seed).await;
            record.is_some_and(|r| outcome(&r, &name, cx.ignore) == Some(false))
        };
        let mut known = None;
        let mut shortcut_runs = u32::from(!polluters.is_empty());
        for found in polluters.iter().filter(|_| passes_alone) {
            shortcut_runs += 1;
            let mut order = found.tests.clone();
            order.push(name.clone());
            let probe = runner.variant(&order_vars(cx, plugin, randomly, Some(&order)));
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
                reproduce: reproduce(cx, plugin, randomly, &name, &found),
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
            let probe = runner.variant(&order_vars(cx, plugin, randomly, Some(&order)));
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
                reproduce: reproduce(cx, plugin, randomly, &name, &found),
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

/// Variables for a run in file order (`order` None) or in an explicit order: our plugin
/// loaded but not shuffling, and pytest-randomly (when the project has it) kept from
/// reordering.
fn order_vars(
    cx: &OrderContext<'_>,
    plugin: Option<&PytestOrderPlugin>,
    randomly: bool,
    order: Option<&[String]>,
) -> Vec<(String, String)> {
    let Some(plugin) = plugin else {
        return Vec::new();
    };
    let mut vars = plugin.env(&cx.template.env);
    if randomly {
        for (name, value) in &mut vars {
            if name == "PYTEST_ADDOPTS" {
                value.push_str(" -p no:randomly");
            }
        }
    }
    vars.push((SHUFFLE_VAR.into(), "0".into()));
    if let Some(order) = order {
        vars.push((ORDER_VAR.into(), order.join("\n")));
    }
    vars
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
/// the test, or the brittle test alone. Plain pytest with node ids (it keeps the order of
/// the command line), else our plugin with the order in its variable.
fn reproduce(
    cx: &OrderContext<'_>,
    plugin: Option<&PytestOrderPlugin>,
    randomly: bool,
    name: &str,
    found: &Found,
) -> Option<String> {
    let argv = &cx.template.argv;
    let at = RunnerAt::find(argv)?;
    let mut order: Vec<String> = match found.role {
        OrderRole::Polluter => found.tests.clone(),
        OrderRole::StateSetter => Vec::new(),
    };
    order.push(name.to_string());
    let mut words: Vec<String> = argv[..at.insert_at.min(argv.len())].to_vec();
    if randomly {
        words.extend(["-p".to_string(), "no:randomly".to_string()]);
    }
    let ids: Option<Vec<String>> = order
        .iter()
        .map(|test| node_id(test, &cx.template.checkout))
        .collect();
    let quote =
        |word: &str| shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned());
    let line = match ids {
        Some(ids) => words
            .iter()
            .chain(&ids)
            .map(|w| quote(w))
            .collect::<Vec<_>>(),
        None => {
            let plugin = plugin?;
            plugin
                .env(&[])
                .into_iter()
                .chain(std::iter::once((ORDER_VAR.to_string(), order.join("\n"))))
                .map(|(k, v)| format!("{k}={}", quote(&v)))
                .chain(words.iter().map(|w| quote(w)))
                .collect()
        }
    };
    Some(line.join(" "))
}
