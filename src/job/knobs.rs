//! The knobs a job may set in more than one place ([`Knobs`]): its input (and so the command
//! line's flags, which build an input) and the repository's `.flaky-detector.yml`. Each knob's
//! doc, type, bounds and check are written here once; the input and the file both flatten this
//! struct, `Settings::resolve` merges the two with [`Knobs::or`] and gives the defaults, and the
//! JSON schema is generated from it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{BuildOnce, Isolation, MAX_PARALLELISM, MAX_RUNS, MAX_TIMEOUT_SECONDS, Problem};

/// Each `None` when not given, so a job input can leave a knob to the repository's file and
/// the file can leave it to the default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct Knobs {
    /// Split with shell rules and run without a shell. Optional when the repository's
    /// .flaky-detector.yml sets test_command.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub test_command: Option<String>,
    /// How many times to run the command (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_RUNS), extend("default" = 10))]
    pub runs: Option<u32>,
    /// How many runs at once (default 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_PARALLELISM), extend("default" = 4))]
    pub parallelism: Option<u32>,
    /// Seconds per run before its process group is killed (default 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_TIMEOUT_SECONDS), extend("exclusiveMinimum" = 0))]
    pub timeout: Option<f64>,
    /// Where each run works: its own copy of the checkout (run, the default), one copy per
    /// parallel slot reset between runs (slot), or the one checkout (shared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// Shuffle test order with the run's seed where the runner supports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<bool>,
    /// Build go test / cargo test binaries once and start them per run (auto, the default),
    /// or run the plain command every time (off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_once: Option<BuildOnce>,
    /// Replay failing seeds to classify the flake (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<bool>,
    /// Most replays of failing seeds the confirmation phase may run (default 10% of runs, or
    /// enough to tell each flaky test's failure from chance, at least 6 and one replay alone
    /// and one under load per flaky test).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_budget: Option<u32>,
    /// Stop launching runs once more runs cannot change the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_early: Option<bool>,
}

impl Knobs {
    /// Each knob from `self`, or from `other` where `self` leaves it unset: the job input
    /// over the repository's file.
    pub fn or(self, other: Knobs) -> Knobs {
        Knobs {
            test_command: self.test_command.or(other.test_command),
            runs: self.runs.or(other.runs),
            parallelism: self.parallelism.or(other.parallelism),
            timeout: self.timeout.or(other.timeout),
            isolation: self.isolation.or(other.isolation),
            shuffle: self.shuffle.or(other.shuffle),
            build_once: self.build_once.or(other.build_once),
            confirm: self.confirm.or(other.confirm),
            confirm_budget: self.confirm_budget.or(other.confirm_budget),
            stop_early: self.stop_early.or(other.stop_early),
        }
    }

    /// What a type alone cannot refuse, the same for the job input and the file: one problem
    /// per knob, in field order.
    pub fn check(&self, problems: &mut Vec<Problem>) {
        if let Some(command) = &self.test_command
            && let Err(problem) = super::check_command(command)
        {
            problems.push(problem);
        }
        check_range(problems, "runs", self.runs, 1, MAX_RUNS);
        check_range(
            problems,
            "parallelism",
            self.parallelism,
            1,
            MAX_PARALLELISM,
        );
        if let Some(timeout) = self.timeout {
            check_seconds(problems, "timeout", timeout);
        }
    }
}

fn check_range(
    problems: &mut Vec<Problem>,
    field: &'static str,
    value: Option<u32>,
    min: u32,
    max: u32,
) {
    if let Some(value) = value
        && !(min..=max).contains(&value)
    {
        problems.push(Problem::new(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
}

/// A duration in seconds as every timeout knob takes it: above zero, at most a day.
pub fn check_seconds(problems: &mut Vec<Problem>, field: &'static str, seconds: f64) {
    if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS) {
        problems.push(Problem::new(
            field,
            format!("must be more than 0 and at most {MAX_TIMEOUT_SECONDS} seconds, got {seconds}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_wins_knob_by_knob() {
        let input = Knobs {
            runs: Some(5),
            ..Knobs::default()
        };
        let file = Knobs {
            runs: Some(50),
            stop_early: Some(true),
            ..Knobs::default()
        };
        let merged = input.or(file);
        assert_eq!((merged.runs, merged.stop_early), (Some(5), Some(true)));
    }
}
