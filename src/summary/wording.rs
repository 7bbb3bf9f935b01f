//! Sentences about a summary that every front end and report channel words the same way:
//! the name and meaning of a classification, and the line about a command that fails beyond
//! its tests. They live here, below both `cli` and `report`, so neither imports the other.

use super::{Classification, Summary};

/// "the command also fails on every run: <cause>" when runs failed beyond their tests.
pub fn also_line(summary: &Summary) -> Option<String> {
    let failure = summary.command_failure.as_ref()?;
    let how_often = if failure.runs >= summary.total_runs {
        "on every run".to_string()
    } else {
        format!("in {} of {} runs", failure.runs, summary.total_runs)
    };
    Some(format!(
        "the command also fails {how_often} ({}): {}",
        failure.kind.name(),
        failure.cause
    ))
}

pub fn name_of(classification: Classification) -> &'static str {
    match classification {
        Classification::SeedDependent => "seed-dependent",
        Classification::Nondeterministic => "nondeterministic",
        Classification::ContentionDependent => "contention-dependent",
        Classification::NotSettled => "not-settled",
        Classification::AlwaysFailing => "always-failing",
        Classification::Timeout => "timeout",
        Classification::CollectionError => "collection-error",
        Classification::MissingDependency => "missing-dependency",
        Classification::UsageError => "usage-error",
        Classification::OrderDependent => "order-dependent",
    }
}

/// What a classification means for the person reading, in one line.
pub fn cause(classification: Classification) -> String {
    let meaning = match classification {
        Classification::SeedDependent => "the failing seeds fail again on every replay",
        Classification::Nondeterministic => {
            "replays of the same seed pass and fail: timing, concurrency or environment"
        }
        Classification::ContentionDependent => {
            "fails only when other runs execute at the same time, never alone"
        }
        Classification::NotSettled => {
            "the replays allowed did not decide between the seed, chance and load at 99 %; \
             a larger confirm_budget would"
        }
        Classification::AlwaysFailing => "fails every run: a real bug, not a flake",
        Classification::Timeout => "hangs: a failing seed hit the timeout again on replay",
        Classification::CollectionError => {
            "the tests could not be loaded (a collection or build error), not a flake"
        }
        Classification::MissingDependency => {
            "a module the tests import is not installed, not a flake"
        }
        Classification::UsageError => {
            "the test runner refused its options (an unknown option, or a plugin that is not \
             installed): fix the command or the runner's config, not a flake"
        }
        Classification::OrderDependent => {
            "its failing test order fails again, the file order passes"
        }
    };
    format!("{} ({meaning})", name_of(classification))
}
