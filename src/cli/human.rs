//! The summary as a person reads it on a terminal in five seconds: verdict and rate first,
//! then failing seeds and the line that reproduces one.

use std::fmt::Write;

use crate::analysis::Verdict;
use crate::summary::wording::{also_line, cause, name_of};
use crate::summary::{Classification, Summary};

/// The summary as text: the headline, what was tested, what failed, how the runs went,
/// and what to do next, in that order.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    if let Some(triage) = &summary.triage {
        write_triage(&mut out, triage);
        let _ = writeln!(out, "\nthe runs at head, as a job:");
    }
    let _ = writeln!(out, "{}", headline(summary));
    write_context(&mut out, summary);
    write_failures(&mut out, summary);
    write_how_it_ran(&mut out, summary);
    write_next_steps(&mut out, summary);
    let _ = writeln!(out, "  took {:.1} s", summary.duration_seconds);
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The first line: verdict and rate, then the tests behind it and anything else found.
fn headline(summary: &Summary) -> String {
    let headline = match summary.verdict {
        Verdict::Stable => format!(
            "STABLE: 0 of {} runs failed (95% CI: failure rate below {})",
            summary.total_runs,
            pct(summary.ci_high)
        ),
        Verdict::Flaky => format!(
            "FLAKY: {} of {} runs failed ({}, 95% CI {}-{}), severity {}",
            summary.failures,
            summary.total_runs,
            pct(summary.repro_rate),
            pct(summary.ci_low),
            pct(summary.ci_high),
            summary.severity
        ),
        Verdict::AlwaysFailing => match summary.classification {
            Some(
                c @ (Classification::CollectionError
                | Classification::MissingDependency
                | Classification::UsageError),
            ) => {
                format!(
                    "ALWAYS FAILING: all {} runs failed before any test ran ({}); not a flake",
                    summary.total_runs,
                    name_of(c)
                )
            }
            _ => format!(
                "ALWAYS FAILING: all {} runs failed; this is a real failure, not a flake",
                summary.total_runs
            ),
        },
        Verdict::Inconclusive => "INCONCLUSIVE: no run finished".to_string(),
        Verdict::InstallFailed => format!(
            "INSTALL FAILED: the dependencies did not install; the {} runs were not started (1 probe run); not a flake",
            summary.runs_requested
        ),
    };
    match (tests_headline(summary), also_line(summary)) {
        (Some(tests), Some(also)) => format!("{headline}: {tests}; {also}"),
        (Some(tests), None) => format!("{headline}: {tests}"),
        (None, Some(also)) => format!("{headline}; {also}"),
        (None, None) => headline,
    }
}

/// Why (note, cause, first error) and what was tested: repository, command, install.
fn write_context(out: &mut String, summary: &Summary) {
    if let Some(note) = &summary.severity_note {
        let _ = writeln!(out, "  note:       {note}");
    }
    if let Some(classification) = summary.classification {
        let _ = writeln!(out, "  cause:      {}", cause(classification));
    }
    if let Some(error) = &summary.first_error {
        let _ = writeln!(out, "  error:      {error}");
    }
    let commit = summary
        .commit
        .as_deref()
        .map(|c| format!(" @ {}", c.get(..12).unwrap_or(c)))
        .unwrap_or_default();
    let _ = writeln!(out, "  repo:       {}{commit}", summary.repo);
    let _ = writeln!(
        out,
        "  command:    {}  ({}, {} at once)",
        summary.test_command, summary.framework, summary.parallelism
    );
    write_install(out, summary);
    if summary.timeouts > 0 {
        let _ = writeln!(
            out,
            "  timeouts:   {} run(s) hit the timeout",
            summary.timeouts
        );
    }
}

/// The install's status; when it failed, what failed (unless the error line said it), the
/// toolchain, what the probe run met and the way out.
fn write_install(out: &mut String, summary: &Summary) {
    let install = &summary.install;
    let sentence = install.failure_sentence();
    let line = match (&sentence, install.failed_step.as_deref()) {
        (Some(sentence), _) if summary.first_error.as_ref() != Some(sentence) => {
            format!("failed: {sentence}")
        }
        (Some(_), Some(step)) => format!("failed at {step}"),
        _ => match &install.detail {
            Some(detail) => format!("{}: {detail}", install.status),
            None => install.status.to_string(),
        },
    };
    let _ = writeln!(out, "  install:    {line}");
    if sentence.is_none() {
        return;
    }
    if let Some(probe) = &install.probe_error {
        let _ = writeln!(out, "  probe run:  {probe}");
    }
    if let Some(way_out) = &install.way_out {
        let _ = writeln!(out, "  way out:    {way_out}");
    }
}

/// The failing seeds and the failing tests, ten of each at most.
fn write_failures(out: &mut String, summary: &Summary) {
    if !summary.failing_seeds.is_empty() {
        let shown: Vec<String> = summary
            .failing_seeds
            .iter()
            .take(10)
            .map(u64::to_string)
            .collect();
        let more = summary.failing_seeds.len().saturating_sub(10);
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        let _ = writeln!(out, "  failing seeds: {}{more}", shown.join(", "));
    }
    let shown_tests: Vec<_> = summary
        .tests
        .iter()
        .filter(|t| t.failures > 0)
        .take(10)
        .collect();
    if !shown_tests.is_empty() {
        let _ = writeln!(out, "  failing tests:");
        for test in shown_tests {
            let mut line = format!(
                "    {} {}: {} of {} runs ({}, 95% CI {}-{})",
                test.verdict,
                test.name,
                test.failures,
                test.runs,
                pct(test.failure_rate),
                pct(test.ci_low),
                pct(test.ci_high)
            );
            if let Some(classification) = test.classification {
                let _ = write!(line, ", {}", name_of(classification));
            }
            let _ = writeln!(out, "{line}");
            if let Some(message) = &test.first_failure {
                let _ = writeln!(out, "      {message}");
            }
        }
    }
}

/// How the runs went: the confirmation, isolation, how they started, order dependence and
/// an early stop.
fn write_how_it_ran(out: &mut String, summary: &Summary) {
    if let Some(confirmation) = &summary.confirmation {
        let _ = writeln!(
            out,
            "  confirmed:  {} seed(s) replayed: {} of {} failed alone, {} of {} under load ({} of at most {} replays)",
            confirmation.seeds.len(),
            confirmation.alone_failures,
            confirmation.alone_runs,
            confirmation.load_failures,
            confirmation.load_runs,
            confirmation.alone_runs + confirmation.load_runs,
            confirmation.budget
        );
    }
    if let Some(mechanism) = summary.isolation_mechanism {
        let _ = writeln!(out, "  isolation:  {mechanism}");
    }
    // Which way the runs started (a fork server, a test binary built once, or plain runs and
    // why): a person comparing timings with their own loop needs to know.
    if let Some(mode) = &summary.build_once {
        let _ = writeln!(out, "  runs:       {mode}");
    }
    for finding in &summary.order_dependence {
        let _ = writeln!(out, "  order:      {}", finding.sentence);
        if let Some(line) = &finding.reproduce {
            let _ = writeln!(out, "              {line}");
        }
    }
    if summary.runs_saved > 0 {
        let _ = writeln!(
            out,
            "  early stop: {} of {} runs were enough; {} saved",
            summary.total_runs, summary.runs_requested, summary.runs_saved
        );
    }
}

/// The reproduce line, how much a stable verdict is worth, and what the figures leave out.
fn write_next_steps(out: &mut String, summary: &Summary) {
    if let Some(reproduce) = &summary.reproduce {
        let _ = writeln!(out, "  reproduce:  {reproduce}");
    }
    if summary.verdict == Verdict::Stable {
        let _ = writeln!(
            out,
            "  note:       {} runs catch a flake at the `low` severity threshold with 95% probability",
            summary.runs_needed
        );
    }
    if summary.cancelled {
        let _ = writeln!(out, "  cancelled:  figures cover the runs that finished");
    }
    for warning in &summary.warnings {
        let _ = writeln!(out, "  warning:    {warning}");
    }
}

/// "1 flaky test" (or "2 flaky tests, 1 always failing") when the runs reported test cases.
fn tests_headline(summary: &Summary) -> Option<String> {
    let count = |verdict: Verdict| {
        summary
            .tests
            .iter()
            .filter(|t| t.verdict == verdict)
            .count()
    };
    let (flaky, always) = (count(Verdict::Flaky), count(Verdict::AlwaysFailing));
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match (flaky, always) {
        (0, 0) => None,
        (f, 0) => Some(format!("{f} flaky test{}", plural(f))),
        (0, a) => Some(format!("{a} test{} failing every run", plural(a))),
        (f, a) => Some(format!(
            "{f} flaky test{}, {a} failing every run",
            plural(f)
        )),
    }
}

/// A triage's verdicts first: what the user asked ("did my change break it?").
fn write_triage(out: &mut String, triage: &crate::summary::triage::TriageReport) {
    let short = |commit: &str| commit.chars().take(12).collect::<String>();
    let _ = writeln!(
        out,
        "TRIAGE: head {} ({}) against base {} ({})",
        triage.head.git_ref,
        short(&triage.head.commit),
        triage.base.git_ref,
        short(&triage.base.commit)
    );
    for test in &triage.tests {
        let _ = writeln!(
            out,
            "  {:<26} {}{}",
            test.verdict.label(),
            test.test,
            if test.new_at_head {
                "  (new at head)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "  {:<26} {}", "", test.evidence);
        if let Some(history) = &test.history {
            let _ = writeln!(out, "  {:<26} {history}", "");
        }
    }
    let _ = writeln!(
        out,
        "  runs: {} at head, {} at base (at most {} a side); {}",
        triage.head_runs, triage.base_runs, triage.max_runs, triage.stopped
    );
}
