//! Test-order control, the capability the pipeline's order search (`detect::order`) asks
//! for: how a shuffled job's runs are put back in file order, whether a run can be given an
//! explicit order (which a polluter search needs), and the command that replays a found
//! order. pytest takes any order, through our plugin ([`PytestOrderPlugin`]); `go test`,
//! Jest and Vitest take a subset of a run's tests in that run's order, through their name filters
//! ([`NameFilter`]); the other runners are put back in file order by dropping their shuffle
//! flags, and have no explicit order.
//!
//! Also where a job that shuffles pytest gets the plugin ([`setup`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::command::{Runner, RunnerAt, insert_flags};
use super::name_filter::NameFilter;
use super::node::mocha_order::MochaOrderHook;
use super::python::pytest_order::{ORDER_VAR, PytestOrderPlugin, SHUFFLE_VAR, node_id};
use super::runner_report::RunnerOptions;
use super::shuffle::Shuffle;

/// What a job that may shuffle pytest needs for test order.
#[derive(Debug, Clone, Default)]
pub struct OrderSetup {
    /// Our pytest plugin, written to the cache, when the job shuffles pytest.
    pub plugin: Option<PytestOrderPlugin>,
    /// Variables every run of the job gets (the plugin and `FLAKY_SHUFFLE=1` when the
    /// plugin shuffles); the reproduce line carries them too.
    pub run_env: Vec<(String, String)>,
    /// Arguments every run's command gets after the runner's name (`--require` of our Mocha
    /// hook); the reproduce line carries them too.
    pub run_args: Vec<String>,
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
    if shuffle.runner() == Runner::MOCHA {
        return setup_mocha(options, cache_dir).await;
    }
    if shuffle.runner() != Runner::PYTEST {
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
                run_args: Vec::new(),
            };
            (setup, None)
        }
        Ok(plugin) => {
            let setup = OrderSetup {
                plugin: Some(plugin),
                ..OrderSetup::default()
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

/// Writes our Mocha hook into `cache_dir` for a job that shuffles Mocha; when it cannot be
/// written, shuffling is dropped from `options` and the second value says why.
async fn setup_mocha(
    options: &mut RunnerOptions,
    cache_dir: &Path,
) -> (OrderSetup, Option<String>) {
    let dir = cache_dir.to_path_buf();
    let written = tokio::task::spawn_blocking(move || MochaOrderHook::install(&dir))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
    match written {
        Ok(hook) => {
            let setup = OrderSetup {
                plugin: None,
                run_env: vec![(SHUFFLE_VAR.into(), "1".into())],
                run_args: hook.args(),
            };
            (setup, None)
        }
        Err(error) => {
            options.shuffle = None;
            let warning = format!(
                "shuffle: the Mocha order hook could not be written to {} ({error}), so test order was not shuffled",
                cache_dir.display()
            );
            (OrderSetup::default(), Some(warning))
        }
    }
}

impl OrderSetup {
    /// The job's command as every run gets it: with [`OrderSetup::run_args`] after the
    /// runner's name.
    pub fn argv(&self, argv: &[String]) -> Vec<String> {
        match RunnerAt::find(argv) {
            Some(at) if !self.run_args.is_empty() => {
                insert_flags(argv, at.insert_at, &self.run_args)
            }
            _ => argv.to_vec(),
        }
    }

    /// `env` with the variables the runs get, for the reproduce line.
    pub fn reproduce_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = env.clone();
        env.extend(self.run_env.iter().cloned());
        env
    }

    /// How runs of a job shuffled by `shuffle` (its command `argv`) are put back in order:
    /// through our plugin for pytest when it was written, through the runner's name filter
    /// where it keeps a shuffled order, else by dropping the shuffle alone.
    pub fn control(&self, shuffle: &Shuffle, argv: &[String]) -> OrderControl<'_> {
        let pytest = shuffle.runner() == Runner::PYTEST;
        OrderControl {
            plugin: self.plugin.as_ref().filter(|_| pytest),
            randomly: pytest && !shuffle.uses_plugin(),
            filter: NameFilter::for_runner(shuffle.runner(), argv),
            shuffle: *shuffle,
        }
    }
}

/// Which run an order to replay was taken from: a run of the job in its shuffled order (the
/// same seed shuffles the same way), or the run of the same seed in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    Shuffled,
    FileOrder,
}

/// One run the order search makes: variables over the runs' environment, arguments for the
/// runner, and whether the job's seeded shuffle stays on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedRun {
    pub vars: Vec<(String, String)>,
    pub args: Vec<String>,
    pub shuffled: bool,
}

/// How the order search puts a shuffled job's runs in order ([`OrderSetup::control`]).
#[derive(Debug, Clone, Copy)]
pub struct OrderControl<'a> {
    plugin: Option<&'a PytestOrderPlugin>,
    /// pytest-randomly shuffles the runs (the project has it), so it must be kept from
    /// reordering a run given an order.
    randomly: bool,
    /// The runner's name filter, which runs a subset of a run's tests in that run's order.
    filter: Option<NameFilter>,
    shuffle: Shuffle,
}

impl OrderControl<'_> {
    /// True when a run can be given an explicit order, which a polluter search needs.
    pub fn explicit(&self) -> bool {
        self.plugin.is_some() || self.filter.is_some()
    }

    /// True when a run can be given any order; otherwise only a subset of the tests of a
    /// run, in that run's order.
    pub fn any_order(&self) -> bool {
        self.plugin.is_some()
    }

    /// True when the runs' reports list tests in the order they ran, so the tests before a
    /// test in a report are those that ran before it.
    pub fn report_keeps_run_order(&self) -> bool {
        self.filter.is_none_or(NameFilter::report_keeps_run_order)
    }

    /// True when `test` can leave state behind for `victim` in one run: always under
    /// pytest (one process), only in the same package or test file for a name filter.
    pub fn shares_state(&self, test: &str, victim: &str) -> bool {
        match (self.plugin, self.filter) {
            (None, Some(filter)) => filter.same_unit(test, victim),
            _ => true,
        }
    }

    /// The run of `order` (None: every test, in file order), taken from a run of `source`.
    pub fn run(
        &self,
        env: &[(String, String)],
        order: Option<&[String]>,
        source: OrderSource,
    ) -> OrderedRun {
        match (self.plugin, self.filter, order) {
            (Some(_), _, _) => OrderedRun {
                vars: self.vars(env, order),
                ..OrderedRun::default()
            },
            (None, Some(filter), order) => {
                let shuffled = order.is_some() && source == OrderSource::Shuffled;
                OrderedRun {
                    vars: filter.shuffle_vars(shuffled),
                    args: order.map(|order| filter.args(order)).unwrap_or_default(),
                    shuffled,
                }
            }
            _ => OrderedRun::default(),
        }
    }

    /// Variables, over the runs' `env`, for a run in file order (`order` None) or in an
    /// explicit order: our plugin loaded but not shuffling, and pytest-randomly (when the
    /// project has it) kept from reordering. None without our plugin: dropping the shuffle
    /// puts the run in file order.
    fn vars(&self, env: &[(String, String)], order: Option<&[String]>) -> Vec<(String, String)> {
        let Some(plugin) = self.plugin else {
            return Vec::new();
        };
        let mut vars = plugin.env(env);
        if self.randomly {
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

    /// A command that runs just `order`'s tests in that order, from the job's `argv` run in
    /// `checkout`; `order` was taken from a run of `source` with `seed`. Plain pytest with
    /// node ids (it keeps the order of the command line), else our plugin with the order in
    /// its variable; for a name filter, the filter and the seed's shuffle flags.
    pub fn reproduce(
        &self,
        argv: &[String],
        checkout: &Path,
        order: &[String],
        source: OrderSource,
        seed: u64,
    ) -> Option<String> {
        let at = RunnerAt::find(argv)?;
        let quote = |word: &str| {
            shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
        };
        if let (None, Some(filter)) = (self.plugin, self.filter) {
            let shuffled = source == OrderSource::Shuffled;
            let mut args = filter.args(order);
            // A shuffled order needs the seed's shuffle: flags, or for our hook its two
            // variables; a file order needs neither (a shell has no FLAKY_SHUFFLE set).
            let mut vars = Vec::new();
            if shuffled {
                args.extend(self.shuffle.flags(seed, argv));
                if filter.seed_from_env() {
                    vars.extend(filter.shuffle_vars(true));
                    vars.push(("FLAKY_SEED".to_string(), seed.to_string()));
                }
            }
            let words: Vec<String> = vars
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .chain(
                    insert_flags(argv, at.insert_at, &args)
                        .iter()
                        .map(|w| quote(w)),
                )
                .collect();
            return Some(words.join(" "));
        }
        let mut words: Vec<String> = argv[..at.insert_at.min(argv.len())].to_vec();
        if self.randomly {
            words.extend(["-p".to_string(), "no:randomly".to_string()]);
        }
        let ids: Option<Vec<String>> = order.iter().map(|test| node_id(test, checkout)).collect();
        let line = match ids {
            Some(ids) => words
                .iter()
                .chain(&ids)
                .map(|w| quote(w))
                .collect::<Vec<_>>(),
            None => {
                let plugin = self.plugin?;
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
}
