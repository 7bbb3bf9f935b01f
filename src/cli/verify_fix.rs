//! `flaky-detector verify-fix --test ID`: is a flaky test fixed? Runs that test alone for
//! exactly the clean runs that earn `fixed` (n from `quarantine.fixed_below`: 299 for 1 %),
//! stopping at the first failure, records the job in history, rewrites the quarantine file,
//! and says "fixed: ≤ 1 % after 299 clean runs" or "not fixed: failed at run 17 (seed …),
//! reproduce: …".

use std::path::PathBuf;

use clap::Args;

use super::error::{CliError, Ended};
use super::history::{DbArg, store_for_jobs};
use crate::config::FileConfig;
use crate::detect::Deps;
use crate::framework::Framework;
use crate::history::status::percent;
use crate::job::{JobInput, Knobs, RepoPolicy};
use crate::quarantine::{ChangeKind, QuarantineError, refresh};
use crate::summary::Summary;

#[derive(Debug, Args)]
pub struct VerifyFixArgs {
    /// The test, named as history and the quarantine file name it
    /// (`tests.test_a::test_x`, `example.com/m::TestA`, `a.test.js::suite › name`).
    #[arg(long = "test", value_name = "ID")]
    pub test: String,
    /// Repository: a local directory (copied first) or an https:// or git@host:path URL.
    #[arg(long, default_value = ".")]
    pub repo: String,
    /// The folder whose `.flaky-detector.yml` (rules) and `.flaky-detector/quarantine.yml`
    /// are used [default: --repo when it is a local directory, else the current one].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Test command [default: `test_command` of the repository's .flaky-detector.yml].
    #[arg(long, short = 'c')]
    pub command: Option<String>,
    /// How many runs at once [default: 4, or the repository's config]; runs already started
    /// when one fails still finish.
    #[arg(long, short = 'p')]
    pub parallelism: Option<u32>,
    /// Branch, tag or commit SHA to test (the fix).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Use these seeds, cycled, instead of drawing new ones.
    #[arg(long = "seed", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Extra variable for the runs, NAME=VALUE (repeatable).
    #[arg(long = "env", value_parser = super::job_flags::parse_env)]
    pub env: Vec<(String, String)>,
    /// Force the framework instead of detecting it.
    #[arg(long, value_parser = super::job_flags::parse_framework)]
    pub framework: Option<Framework>,
    /// Seconds per run before its whole process group is killed [default: 300].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// The dashboard's address, for the quarantine file's links.
    #[arg(long, env = "FLAKY_DASHBOARD_URL", value_name = "URL")]
    pub dashboard_url: Option<String>,
    #[command(flatten)]
    pub history: DbArg,
}

/// What the runs showed about the fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// `needed` clean runs in a row.
    Fixed { runs: u32, bound: f64 },
    /// The first failing run, in attempt order.
    NotFixed {
        run: u32,
        seed: u64,
        reproduce: Option<String>,
    },
    /// Fewer clean runs than needed (the job was interrupted).
    Unproven { runs: u32, needed: u32 },
}

impl Verdict {
    pub fn sentence(&self) -> String {
        match self {
            Verdict::Fixed { runs, bound } => {
                format!("fixed: ≤ {} after {runs} clean runs", percent(*bound))
            }
            Verdict::NotFixed {
                run,
                seed,
                reproduce,
            } => format!(
                "not fixed: failed at run {run} (seed {seed}){}",
                reproduce
                    .as_deref()
                    .map(|line| format!(", reproduce: {line}"))
                    .unwrap_or_default()
            ),
            Verdict::Unproven { runs, needed } => {
                format!("not proven: {runs} clean runs of the {needed} that `fixed` needs")
            }
        }
    }
}

/// The verdict of `summary` (a job of `needed` runs of `test` alone), or an error when no
/// run's report names the test (a name the runner does not know, which the runner may
/// treat as a pass or as a failure, must read as neither).
pub fn judge(summary: &Summary, test: &str, needed: u32, bound: f64) -> Result<Verdict, CliError> {
    let reported = summary
        .tests
        .iter()
        .find(|t| t.name == test)
        .map_or(0, |t| t.runs);
    if reported == 0 {
        return Err(CliError::TestDidNotRun {
            test: test.to_string(),
        });
    }
    if let Some(run) = summary.results.iter().find(|r| !r.passed) {
        return Ok(Verdict::NotFixed {
            run: run.attempt + 1,
            seed: run.seed,
            reproduce: summary.reproduce.clone(),
        });
    }
    if summary.total_runs >= needed && reported == summary.total_runs {
        Ok(Verdict::Fixed {
            runs: summary.total_runs,
            bound,
        })
    } else {
        Ok(Verdict::Unproven {
            runs: reported,
            needed,
        })
    }
}

pub async fn run(args: VerifyFixArgs, deps: &Deps) -> Result<Ended, CliError> {
    let local = std::path::Path::new(&args.repo).is_dir();
    let dir = args.dir.clone().unwrap_or_else(|| {
        if local {
            PathBuf::from(&args.repo)
        } else {
            PathBuf::from(".")
        }
    });
    let rules = FileConfig::load(&dir)
        .map_err(QuarantineError::from)?
        .quarantine_rules();
    let needed = rules.clean_runs_for_fixed();
    let input = JobInput {
        repo: args.repo.clone(),
        git_ref: args.git_ref.clone(),
        knobs: Knobs {
            test_command: args.command.clone(),
            runs: Some(needed),
            parallelism: args.parallelism,
            timeout: args.timeout,
            // Exactly the runs `fixed` needs: no replays, no shuffle, no early verdict.
            confirm: Some(false),
            shuffle: Some(false),
            stop_early: Some(false),
            ..Knobs::default()
        },
        framework: args.framework,
        seeds: (!args.seeds.is_empty()).then(|| args.seeds.clone()),
        tests: Some(vec![args.test.clone()]),
        env: (!args.env.is_empty()).then(|| args.env.iter().cloned().collect()),
        ..JobInput::default()
    };
    let mut job = input.validate(RepoPolicy { allow_local: true })?;
    job.overrides.stop_at_first_failure = true;
    let repo_name = job.repo.display();
    let store = store_for_jobs(&args.history)?;
    let deps = &Deps {
        history: store.clone(),
        ..deps.clone()
    };
    let summary = super::run::detect_with_progress(job, deps).await?;
    if summary.cancelled {
        return Ok(Ended::Interrupted);
    }
    let verdict = judge(&summary, &args.test, needed, rules.fixed_below)?;
    println!("{}: {}", args.test, verdict.sentence());
    if let Some(store) = store.filter(|_| summary.run_id.is_some()) {
        let refreshed = refresh(
            &dir,
            &store,
            Some(&repo_name),
            args.dashboard_url.as_deref(),
        )?;
        let change = refreshed.changes.iter().find(|c| c.id == args.test);
        let said = match change.map(|c| c.kind) {
            Some(ChangeKind::Removed) => "left the quarantine",
            Some(ChangeKind::Kept) => "stays quarantined",
            Some(ChangeKind::Added) => "was quarantined",
            _ => "is not quarantined",
        };
        println!(
            "{} {said} ({})",
            args.test,
            super::quarantine::shown(&refreshed.path).display()
        );
    }
    Ok(match verdict {
        Verdict::Fixed { .. } => Ended::Done,
        _ => Ended::SeverityReached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentences_state_the_bound_or_the_failure() {
        let fixed = Verdict::Fixed {
            runs: 299,
            bound: 0.01,
        };
        assert_eq!(fixed.sentence(), "fixed: ≤ 1 % after 299 clean runs");
        let not = Verdict::NotFixed {
            run: 17,
            seed: 4242,
            reproduce: Some("TEST_SEED=4242 pytest".into()),
        };
        assert_eq!(
            not.sentence(),
            "not fixed: failed at run 17 (seed 4242), reproduce: TEST_SEED=4242 pytest"
        );
    }
}
