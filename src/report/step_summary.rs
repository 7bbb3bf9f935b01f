//! GitHub Actions' own surfaces: the job's step summary ([`append`], the Markdown body added
//! to the `GITHUB_STEP_SUMMARY` file) and workflow-command annotations ([`annotations`],
//! `::warning`/`::error` lines that the runner turns into marks on the run).

use std::io::Write;
use std::path::Path;

use super::send::ReportError;
use crate::analysis::Verdict;
use crate::analysis::triage::TriageVerdict;
use crate::summary::Summary;
use crate::summary::wording::also_line;

/// GitHub's limit on one step's summary.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;
/// Annotations printed at most; GitHub shows ten of each kind per step.
const MAX_ANNOTATIONS: usize = 10;

/// Appends `markdown` (already fitted) to the step summary file.
pub fn append(path: &Path, markdown: &str) -> Result<(), ReportError> {
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(markdown.as_bytes())?;
        file.write_all(b"\n")
    };
    write().map_err(|source| ReportError::StepSummary {
        path: path.to_path_buf(),
        source,
    })
}

/// One annotation per failing test case (`::warning` for a flaky one, `::error` for one
/// that always failed), or one for the whole command when there is no per-test report;
/// a `::notice` when nothing failed.
pub fn annotations(summary: &Summary) -> Vec<String> {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let seeds = |seeds: &[u64]| {
        let shown: Vec<String> = seeds.iter().take(5).map(u64::to_string).collect();
        shown.join(", ")
    };
    let mut lines = Vec::new();
    // A triage answers for the red run's failures: the change's fault is an error, a
    // failure that is not its fault a warning, one that could not be reproduced a notice.
    if let Some(triage) = &summary.triage {
        for test in &triage.tests {
            let (kind, title) = match test.verdict {
                TriageVerdict::Regression => ("error", "Regression"),
                TriageVerdict::NewFlake => ("error", "New flake"),
                TriageVerdict::FlakyBefore => ("warning", "Flaky before this change"),
                TriageVerdict::BrokenAtBase => ("warning", "Broken at base too"),
                TriageVerdict::CouldNotReproduce | TriageVerdict::NotFound => {
                    ("notice", test.verdict.label())
                }
            };
            lines.push(command(
                kind,
                &format!("{title}: {}", test.test),
                &test.evidence,
            ));
            if lines.len() == MAX_ANNOTATIONS {
                return lines;
            }
        }
        return lines;
    }
    for test in summary.tests.iter().filter(|t| t.failures > 0) {
        let (kind, title) = match test.verdict {
            Verdict::AlwaysFailing => ("error", "Failing test"),
            _ => ("warning", "Flaky test"),
        };
        let message = format!(
            "{} failed {} of {} runs ({}, 95% CI {}-{}); failing seeds {}",
            test.name,
            test.failures,
            test.runs,
            pct(test.failure_rate),
            pct(test.ci_low),
            pct(test.ci_high),
            seeds(&test.failing_seeds)
        );
        lines.push(command(kind, &format!("{title}: {}", test.name), &message));
        if lines.len() == MAX_ANNOTATIONS {
            return lines;
        }
    }
    // The tests may all pass while the command still fails (a coverage gate, a crash after
    // the tests): CI is red for that reason, so it gets a mark of its own.
    if let Some(also) = also_line(summary) {
        let kind = match summary.command_failure.as_ref() {
            Some(f) if f.runs >= summary.total_runs => "error",
            _ => "warning",
        };
        let also = also.strip_prefix("the command also ").unwrap_or(&also);
        lines.push(command(
            kind,
            "Command failure",
            &format!("`{}` {also}", summary.test_command),
        ));
    }
    if !lines.is_empty() {
        return lines;
    }
    let what = format!("`{}`", summary.test_command);
    let line = match summary.verdict {
        Verdict::Flaky => command(
            "warning",
            "Flaky tests",
            &format!(
                "{what} failed {} of {} runs ({}, 95% CI {}-{}), severity {}; failing seeds {}",
                summary.failures,
                summary.total_runs,
                pct(summary.repro_rate),
                pct(summary.ci_low),
                pct(summary.ci_high),
                summary.severity,
                seeds(&summary.failing_seeds)
            ),
        ),
        Verdict::AlwaysFailing => command(
            "error",
            "Always failing",
            &format!(
                "{what} failed all {} runs: a real failure, not a flake",
                summary.total_runs
            ),
        ),
        Verdict::Stable => command(
            "notice",
            "Stable",
            &format!(
                "{what} passed all {} runs (failure rate below {} at 95% confidence)",
                summary.total_runs,
                pct(summary.ci_high)
            ),
        ),
        Verdict::Inconclusive => command("warning", "Inconclusive", "no run finished"),
        Verdict::InstallFailed => command(
            "error",
            "Install failed",
            &format!(
                "{what} was not run: {}",
                summary
                    .first_error
                    .as_deref()
                    .unwrap_or("the dependencies did not install")
            ),
        ),
    };
    vec![line]
}

/// `::kind title=…::message`, escaped as the runner expects: `%`, CR and LF everywhere,
/// and `:` and `,` in property values.
fn command(kind: &str, title: &str, message: &str) -> String {
    let data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
    format!("::{kind} title={}::{}", property(title), data(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(
            command("warning", "Flaky test: a::b, c", "50% of runs\nfailed"),
            "::warning title=Flaky test%3A a%3A%3Ab%2C c::50%25 of runs%0Afailed"
        );
    }
}
