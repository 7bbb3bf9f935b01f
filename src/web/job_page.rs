//! The job detail page ([`JobPage`]): the job's figures, its per-test table, every run as a
//! cell of a strip, failing seeds each with a copyable reproduce command, and the end of
//! the first failing runs' output.

use askama::Template;

use super::charts::{IntervalBar, percent};
use super::pages::{Chrome, revision};
use crate::framework::Framework;
use crate::framework::seed::seed_env;
use crate::history::{JobDetail, RunSummary};

/// Failing seeds listed with a reproduce command each; the rest are counted.
pub const SEEDS_SHOWN: usize = 50;

#[derive(Template)]
#[template(path = "job.html")]
pub struct JobPage {
    pub chrome: Chrome,
    pub id: i64,
    pub facts: Vec<(&'static str, String)>,
    pub severity: &'static str,
    pub verdict: &'static str,
    pub headline: String,
    pub bar: IntervalBar,
    pub warnings: Vec<String>,
    pub tests: Vec<JobTestRow>,
    pub runs: Vec<RunCell>,
    pub seeds: Vec<SeedItem>,
    pub more_seeds: usize,
    pub excerpts: Vec<ExcerptItem>,
    pub failing_runs: usize,
}

/// One test case's row in the job page's table of tests.
pub struct JobTestRow {
    pub name: String,
    pub whole_command: bool,
    pub runs: u32,
    pub failures: u32,
    pub rate: String,
    pub bar: IntervalBar,
    pub verdict: &'static str,
    pub severity: &'static str,
    pub classification: String,
    pub seeds: String,
    pub first_failure: String,
    pub note: String,
}

pub struct RunCell {
    pub class: &'static str,
    pub title: String,
}

pub struct SeedItem {
    pub seed: u64,
    pub command: String,
}

pub struct ExcerptItem {
    pub attempt: u32,
    pub seed: u64,
    pub stdout: String,
    pub stderr: String,
}

impl JobPage {
    pub fn new(chrome: Chrome, detail: JobDetail) -> JobPage {
        let job = &detail.job;
        let mut facts = vec![
            ("Repository", job.repo.clone()),
            ("Revision", revision(job)),
            ("Command", job.test_command.clone()),
            ("Framework", job.framework.name().to_string()),
            (
                "Recorded",
                job.recorded_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ),
            ("Took", format!("{:.1} s", job.duration_seconds)),
        ];
        if let Some(branch) = &job.branch {
            facts.push(("Branch", branch.clone()));
        }
        if let Some(pr) = job.pr_number {
            facts.push(("Pull request", format!("#{pr}")));
        }
        if let Some(sha) = &detail.commit_sha {
            facts.push(("Commit (given)", sha.clone()));
        }
        if let Some(classification) = detail.classification {
            facts.push(("Classification", name_of(&classification)));
        }
        let failing: Vec<&RunSummary> = detail.runs.iter().filter(|r| !r.passed).collect();
        let mut seeds: Vec<u64> = Vec::new();
        for run in &failing {
            if !seeds.contains(&run.seed) {
                seeds.push(run.seed);
            }
        }
        let more_seeds = seeds.len().saturating_sub(SEEDS_SHOWN);
        let seeds = seeds
            .into_iter()
            .take(SEEDS_SHOWN)
            .filter_map(|seed| {
                let line = detail.reproduce.as_deref()?;
                Some(SeedItem {
                    seed,
                    command: reproduce_for(line, job.framework, seed)
                        .unwrap_or_else(|| line.to_string()),
                })
            })
            .collect();
        JobPage {
            id: job.id.0,
            headline: if job.verdict == crate::analysis::Verdict::InstallFailed {
                "the dependencies did not install: the tests were not run (1 probe run)".into()
            } else {
                format!(
                    "{} of {} runs failed: {} (95% CI {} - {})",
                    job.failures,
                    job.total_runs,
                    percent(job.failure_rate),
                    percent(job.ci_low),
                    percent(job.ci_high)
                )
            },
            severity: job.severity.name(),
            verdict: job.verdict.name(),
            bar: IntervalBar::new(job.failure_rate, job.ci_low, job.ci_high),
            facts,
            warnings: detail.warnings.clone(),
            tests: detail.tests.iter().map(test_row).collect(),
            runs: detail.runs.iter().map(run_cell).collect(),
            failing_runs: failing.len(),
            seeds,
            more_seeds,
            excerpts: detail
                .excerpts
                .into_iter()
                .map(|e| ExcerptItem {
                    attempt: e.attempt,
                    seed: e.seed,
                    stdout: e.stdout,
                    stderr: e.stderr,
                })
                .collect(),
            chrome,
        }
    }
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

fn test_row(t: &crate::history::TestInJob) -> JobTestRow {
    let shown: Vec<String> = t
        .failing_seeds
        .iter()
        .take(10)
        .map(u64::to_string)
        .collect();
    let more = t.failing_seeds.len().saturating_sub(10);
    JobTestRow {
        name: t.name.clone(),
        whole_command: t.whole_command,
        runs: t.runs,
        failures: t.failures,
        rate: percent(t.failure_rate),
        bar: IntervalBar::new(t.failure_rate, t.ci_low, t.ci_high),
        verdict: t.verdict.name(),
        severity: t.severity.name(),
        classification: t.classification.as_ref().map(name_of).unwrap_or_default(),
        seeds: if more > 0 {
            format!("{} (+{more} more)", shown.join(", "))
        } else {
            shown.join(", ")
        },
        first_failure: t.first_failure.clone().unwrap_or_default(),
        note: t.severity_note.clone().unwrap_or_default(),
    }
}

fn run_cell(run: &RunSummary) -> RunCell {
    let (class, outcome) = if run.passed {
        ("pass", "passed".to_string())
    } else if run.timed_out {
        ("timeout", "timed out".to_string())
    } else if let Some(signal) = run.signal {
        ("fail", format!("killed by signal {signal}"))
    } else {
        (
            "fail",
            format!(
                "failed (exit {})",
                run.exit_code.map_or("?".into(), |c| c.to_string())
            ),
        )
    };
    RunCell {
        class,
        title: format!(
            "run {}, seed {}: {outcome} in {} ms",
            run.attempt, run.seed, run.duration_ms
        ),
    }
}

/// The recorded reproduce line (built for the first failing seed) rewritten for `seed`:
/// the seed variables that lead the line get `seed`'s values, the rest stays as it is.
/// `None` when the line has no seed variable to rewrite.
pub fn reproduce_for(line: &str, framework: Framework, seed: u64) -> Option<String> {
    let quote =
        |word: &str| shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned());
    let vars = seed_env(framework, seed);
    let mut replaced = false;
    let mut in_assignments = true;
    let mut out = Vec::new();
    for word in shlex::split(line)? {
        let assignment = word
            .split_once('=')
            .filter(|(name, _)| in_assignments && is_variable_name(name));
        match assignment {
            // Quoting the whole word would make it a command name, not an assignment.
            Some((name, value)) => {
                let value = match vars.iter().find(|(var, _)| *var == name) {
                    Some((_, value)) => {
                        replaced = true;
                        value.as_str()
                    }
                    None => value,
                };
                out.push(format!("{name}={}", quote(value)));
            }
            None => {
                in_assignments = false;
                out.push(quote(&word));
            }
        }
    }
    replaced.then(|| out.join(" "))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::reproduce_line;
    use std::collections::BTreeMap;

    #[test]
    fn a_reproduce_line_is_rewritten_for_another_seed() {
        let env = BTreeMap::from([("MODE".to_string(), "a b".to_string())]);
        let argv = ["pytest".to_string(), "TEST_SEED=7".to_string()];
        let first = reproduce_line(Framework::Python, 7, &env, &argv);
        let other = reproduce_for(&first, Framework::Python, 4_294_967_300)
            .expect("the line has seed variables");
        assert_eq!(
            other,
            reproduce_line(Framework::Python, 4_294_967_300, &env, &argv),
            "the same as building it for that seed; the argument `TEST_SEED=7` is untouched"
        );
    }

    #[test]
    fn a_line_without_seed_variables_is_not_rewritten() {
        assert_eq!(reproduce_for("make test", Framework::Unknown, 3), None);
        assert_eq!(reproduce_for("'unterminated", Framework::Unknown, 3), None);
    }
}
