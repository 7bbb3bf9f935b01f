//! The one report body ([`Body`]) every channel shows, worded once from a summary: a
//! verdict badge ([`Badge`]), the failure rate with its interval, the failing tests, failing
//! seeds with the commands that replay them, install and timeout notes, and details.
//! [`super::markdown`] writes it out for each channel.

use std::fmt::Write;

use crate::analysis::{Severity, Verdict};
use crate::framework::InstallStatus;
use crate::summary::wording::{also_line, cause, name_of};
use crate::summary::{Classification, Summary};

/// Test rows and seeds shown when there is room; the rest are counted.
pub(super) const MAX_TESTS: usize = 25;
pub(super) const MAX_SEEDS: usize = 20;
/// Lines of the first failing run's output shown in the details.
const OUTPUT_LINES: usize = 30;

/// The verdict at a glance: words, an emoji and a colour (Slack's bar, Discord's embed).
#[derive(Debug, Clone, PartialEq)]
pub struct Badge {
    pub label: &'static str,
    pub message: String,
    pub emoji: &'static str,
    /// `0xRRGGBB`, by severity: green, yellow, orange, red, dark red; grey when no run
    /// finished.
    pub colour: u32,
}

/// One failing test case.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingTestRow {
    pub name: String,
    pub verdict: String,
    pub failed: String,
    /// `12.5%`, and the 95 % interval `5.5%–26.1%`.
    pub rate: String,
    pub interval: String,
    pub seeds: String,
    pub first_failure: Option<String>,
}

/// One failing test's triage verdict (a triage job's report leads with these).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageRow {
    pub verdict: &'static str,
    pub test: String,
    /// `3/8` at head and at base (`new` when the test does not exist at base).
    pub head: String,
    pub base: String,
    pub evidence: String,
}

/// A collapsible section: lines, then an optional block of program output.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub title: String,
    pub lines: Vec<String>,
    pub output: Option<String>,
}

/// Everything a report says, already worded; channels only choose the markup.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub badge: Badge,
    /// `Flaky: 7 of 40 runs failed`.
    pub headline: String,
    /// Rate and interval (and severity), with `**bold**` marks a dialect rewrites.
    pub rate: String,
    /// Command, framework, repository and commit, pull request: code spans already marked.
    pub context: Vec<String>,
    pub notes: Vec<String>,
    pub tests: Vec<FailingTestRow>,
    /// Test cases that never failed, counted rather than listed.
    pub passing_tests: usize,
    pub seeds: Vec<u64>,
    pub reproduce: Option<String>,
    pub replay: Option<String>,
    pub details: Vec<Detail>,
    /// A triage job's comparison (`feature (abc123) against main (def456)`) and verdicts.
    pub triage: Option<(String, Vec<TriageRow>)>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A code span that survives any repository string: backticks become `'` (Slack has no
/// longer delimiters), and line breaks and other control characters spaces, so a span never
/// ends a table row or a list item.
pub fn code(text: &str) -> String {
    let inner: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    format!("`{inner}`")
}

pub(super) fn seed_list(seeds: &[u64], max: usize) -> String {
    let shown: Vec<String> = seeds.iter().take(max).map(u64::to_string).collect();
    let more = seeds.len().saturating_sub(max);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl Badge {
    pub fn of(summary: &Summary) -> Badge {
        if let Some(triage) = &summary.triage {
            return Badge::of_triage(triage);
        }
        let colour = match (summary.verdict, summary.severity) {
            (Verdict::Inconclusive, _) => 0x8C959F,
            (Verdict::InstallFailed, _) => 0x8250DF,
            (Verdict::Stable, _) => 0x2EA043,
            (_, Severity::None | Severity::Low) => 0xD4A72C,
            (_, Severity::Medium) => 0xDB6D28,
            (_, Severity::High) => 0xCF222E,
            (_, Severity::Critical) => 0x82071E,
        };
        let (label, emoji) = match summary.verdict {
            Verdict::Stable => ("stable", "🟢"),
            Verdict::Flaky if summary.severity >= Severity::High => ("flaky", "🔴"),
            Verdict::Flaky => ("flaky", "🟠"),
            Verdict::AlwaysFailing => ("always failing", "🔴"),
            Verdict::Inconclusive => ("inconclusive", "⚪"),
            Verdict::InstallFailed => ("install failed", "📦"),
        };
        let message = match summary.verdict {
            Verdict::Stable => format!("0 of {} failed", summary.total_runs),
            Verdict::Inconclusive => "no run finished".to_string(),
            Verdict::InstallFailed => "tests not run".to_string(),
            _ => format!("{} severity", summary.severity),
        };
        Badge {
            label,
            message,
            emoji,
            colour,
        }
    }

    /// A triage's badge: red when the change broke or destabilised a test, yellow when
    /// the failures are not its fault, green when none could be reproduced.
    fn of_triage(triage: &crate::summary::triage::TriageReport) -> Badge {
        use crate::analysis::triage::TriageVerdict as V;
        let count = |v: V| triage.tests.iter().filter(|t| t.verdict == v).count();
        let blamed = count(V::Regression) + count(V::NewFlake);
        let not_blamed = count(V::FlakyBefore) + count(V::BrokenAtBase);
        let (message, emoji, colour) = if blamed > 0 {
            (format!("{blamed} caused by this change"), "🔴", 0xCF222E)
        } else if not_blamed > 0 {
            (
                format!("{not_blamed} not caused by this change"),
                "🟡",
                0xD4A72C,
            )
        } else {
            ("nothing reproduced".to_string(), "🟢", 0x2EA043)
        };
        Badge {
            label: "triage",
            message,
            emoji,
            colour,
        }
    }

    /// A shields.io image URL for the badge.
    pub fn image_url(&self) -> String {
        let escape = |text: &str| {
            text.replace('-', "--")
                .replace('_', "__")
                .replace(' ', "_")
                .replace('%', "%25")
        };
        format!(
            "https://img.shields.io/badge/{}-{}-{:06x}",
            escape(self.label),
            escape(&self.message),
            self.colour
        )
    }
}

impl Body {
    pub fn of(summary: &Summary) -> Body {
        let s = summary;
        let (headline, rate) = match s.verdict {
            Verdict::Stable => (
                format!("Stable: 0 of {} runs failed", s.total_runs),
                format!(
                    "**Failure rate below {}** (95% CI upper bound)",
                    pct(s.ci_high)
                ),
            ),
            Verdict::Flaky => (
                format!("Flaky: {} of {} runs failed", s.failures, s.total_runs),
                format!(
                    "**Failure rate {}** (95% CI {}–{}), severity **{}**",
                    pct(s.repro_rate),
                    pct(s.ci_low),
                    pct(s.ci_high),
                    s.severity
                ),
            ),
            Verdict::AlwaysFailing => (
                format!("Always failing: all {} runs failed", s.total_runs),
                match s.classification {
                    Some(
                        c @ (Classification::CollectionError
                        | Classification::MissingDependency
                        | Classification::UsageError),
                    ) => format!(
                        "**Not a flake**: every run failed before any test ran ({})",
                        name_of(c)
                    ),
                    _ => "**A real failure, not a flake**: fix it before looking for flakiness"
                        .into(),
                },
            ),
            Verdict::InstallFailed => (
                "Install failed: the tests were not run".into(),
                format!(
                    "**Not a flake**: the dependencies did not install, so the {} runs were not started (1 probe run)",
                    s.runs_requested
                ),
            ),
            Verdict::Inconclusive => (
                "Inconclusive: no run finished".into(),
                "**No figures**: every run was stopped before it finished".into(),
            ),
        };
        let tests: Vec<FailingTestRow> = s
            .tests
            .iter()
            .filter(|t| t.failures > 0)
            .map(|t| FailingTestRow {
                name: t.name.clone(),
                verdict: match t.classification {
                    Some(c) if t.verdict == Verdict::Flaky || c == Classification::Timeout => {
                        format!("{}, {}", t.verdict, name_of(c))
                    }
                    _ => t.verdict.to_string(),
                },
                failed: format!("{} of {}", t.failures, t.runs),
                rate: pct(t.failure_rate),
                interval: format!("{}–{}", pct(t.ci_low), pct(t.ci_high)),
                seeds: seed_list(&t.failing_seeds, 10),
                first_failure: t.first_failure.clone(),
            })
            .collect();
        let headline = match &s.triage {
            Some(triage) => triage_headline(triage),
            None => headline,
        };
        Body {
            badge: Badge::of(s),
            headline,
            rate,
            context: context(s),
            notes: notes(s),
            passing_tests: s.tests.len() - tests.len(),
            tests,
            seeds: s.failing_seeds.clone(),
            reproduce: s.reproduce.clone(),
            replay: replay(s),
            details: details(s),
            triage: s.triage.as_ref().map(triage_rows),
        }
    }
}

/// `Triage: 1 regression, 2 flaky before this change` — counts per verdict, in order.
fn triage_headline(triage: &crate::summary::triage::TriageReport) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for test in &triage.tests {
        match counts
            .iter_mut()
            .find(|(label, _)| *label == test.verdict.label())
        {
            Some((_, n)) => *n += 1,
            None => counts.push((test.verdict.label(), 1)),
        }
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    format!("Triage: {}", parts.join(", "))
}

/// A triage's comparison line and its rows, regressions first (as the report orders them).
fn triage_rows(triage: &crate::summary::triage::TriageReport) -> (String, Vec<TriageRow>) {
    let short = |commit: &str| commit.chars().take(7).collect::<String>();
    let header = format!(
        "`{}` ({}) against `{}` ({}): {} runs at head, {} at base; {}",
        triage.head.git_ref,
        short(&triage.head.commit),
        triage.base.git_ref,
        short(&triage.base.commit),
        triage.head_runs,
        triage.base_runs,
        triage.stopped
    );
    let counts = |c: &crate::summary::triage::SideCounts| format!("{}/{}", c.failures, c.runs);
    let rows = triage
        .tests
        .iter()
        .map(|t| TriageRow {
            verdict: t.verdict.label(),
            test: t.test.clone(),
            head: counts(&t.head),
            base: if t.new_at_head {
                "new".into()
            } else {
                counts(&t.base)
            },
            evidence: match &t.history {
                Some(history) => format!("{}; {history}", t.evidence),
                None => t.evidence.clone(),
            },
        })
        .collect();
    (header, rows)
}

fn context(s: &Summary) -> Vec<String> {
    let mut context = vec![code(&s.test_command), s.framework.to_string()];
    let commit = s
        .commit
        .as_deref()
        .or(s.commit_sha.as_deref())
        .map(|c| format!(" @ {}", code(c.get(..12).unwrap_or(c))))
        .unwrap_or_default();
    context.push(format!("{}{commit}", code(&s.repo)));
    if let Some(pr) = s.pr_number {
        context.push(format!("PR #{pr}"));
    }
    context
}

fn notes(s: &Summary) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(note) = &s.severity_note {
        notes.push(format!("ℹ️ {note}"));
    }
    if let Some(classification) = s.classification {
        notes.push(format!("🔎 cause: {}", cause(classification)));
    }
    if let Some(error) = &s.first_error {
        notes.push(format!("❌ first error: {}", code(error)));
    }
    if let Some(probe) = &s.install.probe_error {
        notes.push(format!("🔎 the probe run met: {}", code(probe)));
    }
    if let (Some(way_out), true) = (
        &s.install.way_out,
        s.install.status == InstallStatus::Failed,
    ) {
        notes.push(format!("🛠️ way out: {way_out}"));
    }
    if let Some(also) = also_line(s) {
        notes.push(format!("⚠️ {also}"));
    }
    if !s.quarantined.is_empty() {
        let names: Vec<String> = s.quarantined.iter().map(|t| code(t)).collect();
        notes.push(format!(
            "🔒 quarantined (listed in {}, so they do not block): {}",
            code(".flaky-detector/quarantine.yml"),
            names.join(", ")
        ));
    }
    for finding in &s.order_dependence {
        let reproduce = finding
            .reproduce
            .as_deref()
            .map(|line| format!("; reproduce: {}", code(line)))
            .unwrap_or_default();
        notes.push(format!("🔀 order: {}{reproduce}", finding.sentence));
    }
    if s.install.status == InstallStatus::Failed && s.verdict != Verdict::InstallFailed {
        let sentence = s
            .install
            .failure_sentence()
            .unwrap_or_else(|| "no detail".into());
        notes.push(format!(
            "⚠️ dependency install failed ({}); the runs used what was already there",
            code(&sentence)
        ));
    }
    if s.timeouts > 0 {
        notes.push(format!(
            "⏱️ {} run(s) hit the per-run timeout and count as failures",
            s.timeouts
        ));
    }
    if s.cancelled {
        notes.push("⛔ cancelled: the figures cover the runs that finished".into());
    }
    if s.runs_saved > 0 {
        notes.push(format!(
            "⏩ early stop: {} of {} runs were enough",
            s.total_runs, s.runs_requested
        ));
    }
    if s.verdict == Verdict::Stable {
        notes.push(format!(
            "ℹ️ {} runs catch a flake at the `low` severity threshold with 95% probability",
            s.runs_needed
        ));
    }
    notes.extend(s.warnings.iter().map(|w| format!("⚠️ {w}")));
    notes
}

/// `flaky-detector run …` replaying the failing seeds on the commit that was tested.
fn replay(s: &Summary) -> Option<String> {
    if s.failing_seeds.is_empty() {
        return None;
    }
    let quote = |w: &str| shlex::try_quote(w).map_or_else(|_| w.to_string(), |q| q.into_owned());
    let mut line = format!("flaky-detector run --repo {}", quote(&s.repo));
    if let Some(at) = s.commit.as_deref().or(s.git_ref.as_deref()) {
        let _ = write!(line, " --ref {}", quote(at));
    }
    let seeds: Vec<String> = s
        .failing_seeds
        .iter()
        .take(10)
        .map(u64::to_string)
        .collect();
    let _ = write!(
        line,
        " --command {} --seed {}",
        quote(&s.test_command),
        seeds.join(",")
    );
    Some(line)
}

fn details(s: &Summary) -> Vec<Detail> {
    let mut lines = vec![format!(
        "{} of {} runs, {} at once, in {:.1} s",
        s.total_runs, s.runs_requested, s.parallelism, s.duration_seconds
    )];
    let install = &s.install;
    let mut line = format!("install: {}", install.status);
    if let Some(command) = &install.command {
        let _ = write!(line, " ({})", code(command));
    }
    let _ = write!(line, " in {:.1} s", install.duration_ms as f64 / 1000.0);
    lines.push(line);
    if let Some(c) = &s.confirmation {
        lines.push(format!(
            "confirmation: {} failing seed(s) replayed; {} of {} failed alone, {} of {} under load",
            c.seeds.len(),
            c.alone_failures,
            c.alone_runs,
            c.load_failures,
            c.load_runs
        ));
    }
    if let Some(branch) = &s.branch {
        lines.push(format!("branch: {}", code(branch)));
    }
    if s.failing_seeds.len() > MAX_SEEDS {
        lines.push(format!(
            "all failing seeds: {}",
            seed_list(&s.failing_seeds, 1000)
        ));
    }
    let mut details = vec![Detail {
        title: "Details".into(),
        lines,
        output: None,
    }];
    if let (Some(tail), InstallStatus::Failed) = (&s.install.output_tail, s.install.status) {
        let tail: Vec<&str> = tail.lines().rev().take(OUTPUT_LINES).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        details.push(Detail {
            title: "Output of the failed install".into(),
            lines: Vec::new(),
            output: Some(tail.join("\n")),
        });
    }
    if let Some(run) = s.results.iter().find(|r| !r.passed) {
        let text = if run.stderr.trim().is_empty() {
            &run.stdout
        } else {
            &run.stderr
        };
        let tail: Vec<&str> = text.lines().rev().take(OUTPUT_LINES).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        if !tail.is_empty() {
            details.push(Detail {
                title: format!("Output of the first failing run (seed {})", run.seed),
                lines: Vec::new(),
                output: Some(tail.join("\n")),
            });
        }
    }
    details
}
