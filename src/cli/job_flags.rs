//! The job flags that `run` and `submit` share ([`JobFlags`]): everything of a job input but
//! the repository and the per-run timeout, whose flags differ between the two.

use std::collections::BTreeMap;

use clap::Args;

use super::error::FlagValueError;
use crate::config::Isolation;
use crate::framework::Framework;
use crate::framework::build_once::BuildOnce;
use crate::job::{JobInput, Knobs};

#[derive(Debug, Clone, Args)]
pub struct JobFlags {
    /// Test command, split with shell rules and run without a shell
    /// [default: `test_command` of the repository's .flaky-detector.yml].
    #[arg(long, short = 'c', visible_alias = "test-command")]
    pub command: Option<String>,
    /// How many times to run the command (1-1000; with `submit --shards`, in all)
    /// [default: 10, or the repository's config].
    #[arg(long, short = 'n')]
    pub runs: Option<u32>,
    /// How many runs at once (1-50; with `submit`, on each worker) [default: 4, or the
    /// repository's config].
    #[arg(long, short = 'p')]
    pub parallelism: Option<u32>,
    /// Branch, tag or commit SHA to test (in CI, the commit that failed) [default: the
    /// default branch, or for a local directory its working tree as it is].
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Replay these seeds instead of drawing new ones (repeat or comma-separate).
    #[arg(long = "seed", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Run only this test, named as the summary names tests (repeatable): the runner's own
    /// filter (pytest node via our plugin, go test -run, jest/vitest -t, mocha --grep,
    /// nextest -E).
    #[arg(long = "test", value_name = "TEST")]
    pub tests: Vec<String>,
    /// Extra variable for the runs, NAME=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Force the framework instead of detecting it.
    #[arg(long, value_parser = parse_framework)]
    pub framework: Option<Framework>,
    /// Where each run works: its own view of the checkout (run: an overlay mount where the
    /// machine allows it, else a copy per run where the filesystem clones files, else a copy
    /// per slot reset between runs; the summary names the mechanism, and
    /// FLAKY_ISOLATION_MECHANISM=overlay|copy|slot forces one), one copy per slot (slot), or
    /// one shared checkout (shared, the seed project's behaviour).
    #[arg(long, value_parser = parse_isolation)]
    pub isolation: Option<Isolation>,
    /// Shuffle test order with each run's seed (pytest, go test, jest, vitest).
    #[arg(long)]
    pub shuffle: bool,
    /// Build `go test` / `cargo test` binaries once and start them per run (auto), or run
    /// the plain command every time (off) [default: auto, or the repository's config].
    #[arg(long, value_enum)]
    pub build_once: Option<BuildOnce>,
    /// Stop starting runs once more runs cannot change the verdict or severity.
    #[arg(long)]
    pub stop_early: bool,
    /// Skip the confirmation phase (replaying failing seeds alone and under load).
    #[arg(long)]
    pub no_confirm: bool,
    /// Most replays of failing seeds the confirmation phase may run [default: 10 % of the
    /// runs, or enough to tell each flaky test's failure from chance, at least 6 and one
    /// replay alone and one under load per flaky test; or the repository's config].
    #[arg(long, value_name = "REPLAYS")]
    pub confirm_budget: Option<u32>,
}

impl JobFlags {
    /// The job input these flags describe, for `repo` with `timeout` seconds per run.
    pub fn into_input(self, repo: String, timeout: Option<f64>) -> JobInput {
        JobInput {
            repo,
            knobs: Knobs {
                test_command: self.command,
                runs: self.runs,
                parallelism: self.parallelism,
                timeout,
                isolation: self.isolation,
                shuffle: self.shuffle.then_some(true),
                build_once: self.build_once,
                confirm: self.no_confirm.then_some(false),
                confirm_budget: self.confirm_budget,
                stop_early: self.stop_early.then_some(true),
            },
            framework: self.framework,
            git_ref: self.git_ref,
            seeds: (!self.seeds.is_empty()).then_some(self.seeds),
            tests: (!self.tests.is_empty()).then_some(self.tests),
            env: (!self.env.is_empty()).then(|| self.env.into_iter().collect::<BTreeMap<_, _>>()),
            ..JobInput::default()
        }
    }
}

pub(crate) fn parse_env(text: &str) -> Result<(String, String), FlagValueError> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| FlagValueError::NotNameValue(text.to_string()))
}

pub(crate) fn parse_framework(text: &str) -> Result<Framework, FlagValueError> {
    Framework::ALL
        .into_iter()
        .find(|f| f.name() == text)
        .ok_or_else(|| FlagValueError::NotOneOf(Framework::ALL.iter().map(|f| f.name()).collect()))
}

fn parse_isolation(text: &str) -> Result<Isolation, FlagValueError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| FlagValueError::NotOneOf(vec!["run", "slot", "shared"]))
}
