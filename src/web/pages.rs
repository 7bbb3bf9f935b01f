//! The dashboard's pages as askama templates (compiled in, HTML-escaped) and the view
//! models they show: history rows turned into the strings a person reads.

use askama::Template;

use super::charts::{IntervalBar, SeverityChart, TrendChart, percent};
use super::params::query_string;
use crate::history::{FlakyTest, JobFilter, JobRow, Overview, SEVERITIES};

/// What every page's frame needs: where the dashboard is mounted, which tab is active, and
/// the filter form's current values.
pub struct Chrome {
    /// The path prefix the router is nested under (`""` at the root, `"/dashboard"` inside
    /// `serve`); every link starts with it.
    pub base: String,
    pub active: &'static str,
    pub form: FilterForm,
}

impl Chrome {
    /// The overview's address: `/` alone, or the prefix itself when nested, since axum
    /// routes `/dashboard` into a nested router but not `/dashboard/`.
    pub fn root(&self) -> &str {
        if self.base.is_empty() {
            "/"
        } else {
            &self.base
        }
    }
}

/// The filter form: which fields a page offers and their current values.
pub struct FilterForm {
    pub repos: Vec<RepoOption>,
    pub severities: Vec<SeverityOption>,
    pub from: String,
    pub to: String,
    pub test: String,
    pub days: String,
    pub show_severity: bool,
    pub show_dates: bool,
    pub show_test: bool,
    pub show_days: bool,
}

pub struct RepoOption {
    pub name: String,
    pub selected: bool,
}

pub struct SeverityOption {
    pub name: &'static str,
    pub selected: bool,
}

impl FilterForm {
    pub fn new(filter: &JobFilter, repos: Vec<String>, days: Option<u32>) -> FilterForm {
        FilterForm {
            repos: repos
                .into_iter()
                .map(|name| RepoOption {
                    selected: filter.repo.as_deref() == Some(name.as_str()),
                    name,
                })
                .collect(),
            severities: SEVERITIES
                .iter()
                .map(|s| SeverityOption {
                    name: s.name(),
                    selected: filter.severity == Some(*s),
                })
                .collect(),
            from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
            to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
            test: filter.test.clone().unwrap_or_default(),
            days: days.map(|d| d.to_string()).unwrap_or_default(),
            show_severity: false,
            show_dates: false,
            show_test: false,
            show_days: days.is_some(),
        }
    }
}

/// A job as a list row shows it.
pub struct JobItem {
    pub id: i64,
    pub href: String,
    pub when: String,
    pub repo: String,
    pub revision: String,
    pub command: String,
    pub runs: u32,
    pub failures: u32,
    pub rate: String,
    pub bar: IntervalBar,
    pub severity: &'static str,
    pub verdict: &'static str,
    pub flaky_tests: u32,
}

impl JobItem {
    pub fn new(base: &str, job: &JobRow) -> JobItem {
        JobItem {
            id: job.id.0,
            href: format!("{base}/jobs/{}", job.id),
            when: job.recorded_at.format("%Y-%m-%d %H:%M").to_string(),
            repo: job.repo.clone(),
            revision: revision(job),
            command: job.test_command.clone(),
            runs: job.total_runs,
            failures: job.failures,
            rate: percent(job.failure_rate),
            bar: IntervalBar::new(job.failure_rate, job.ci_low, job.ci_high),
            severity: job.severity.name(),
            verdict: job.verdict.name(),
            flaky_tests: job.flaky_tests,
        }
    }
}

/// Ref and short commit, whichever are known.
pub fn revision(job: &JobRow) -> String {
    let commit = job.commit.as_deref().map(|c| c.get(..10).unwrap_or(c));
    match (job.git_ref.as_deref(), commit) {
        (Some(r), Some(c)) => format!("{r} @ {c}"),
        (Some(r), None) => r.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => match &job.branch {
            Some(branch) => branch.clone(),
            None => "working tree".to_string(),
        },
    }
}

/// A test case as the flakiest list shows it.
pub struct TestItem {
    pub rank: usize,
    pub name: String,
    pub repo: String,
    pub whole_command: bool,
    pub jobs: u64,
    pub flaky_jobs: u64,
    pub runs: u64,
    pub failures: u64,
    pub rate: String,
    pub ci: String,
    pub bar: IntervalBar,
    pub last_seen: String,
    /// The job list filtered to this test.
    pub jobs_href: String,
}

impl TestItem {
    pub fn new(base: &str, rank: usize, test: &FlakyTest) -> TestItem {
        let filter = JobFilter {
            repo: Some(test.repo.clone()),
            test: (!test.whole_command).then(|| test.name.clone()),
            ..JobFilter::default()
        };
        TestItem {
            rank,
            name: test.name.clone(),
            repo: test.repo.clone(),
            whole_command: test.whole_command,
            jobs: test.jobs,
            flaky_jobs: test.flaky_jobs,
            runs: test.runs,
            failures: test.failures,
            rate: percent(test.failure_rate),
            ci: format!("{} - {}", percent(test.ci_low), percent(test.ci_high)),
            bar: IntervalBar::new(test.failure_rate, test.ci_low, test.ci_high),
            last_seen: test.last_seen.format("%Y-%m-%d").to_string(),
            jobs_href: format!("{base}/jobs{}", query_string(&filter, &[])),
        }
    }
}

/// The overview's headline figures, formatted.
pub struct Stats {
    pub jobs: u64,
    pub runs: u64,
    pub failures: u64,
    pub flaky_tests: u64,
    pub mean_failure_rate: String,
    pub repos: u64,
}

impl From<&Overview> for Stats {
    fn from(o: &Overview) -> Stats {
        Stats {
            jobs: o.jobs,
            runs: o.runs,
            failures: o.failures,
            flaky_tests: o.flaky_tests,
            mean_failure_rate: o.mean_failure_rate.map_or("-".into(), percent),
            repos: o.repos,
        }
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub chrome: Chrome,
    pub stats: Stats,
    pub trend: String,
    pub severity: String,
    pub tests: Vec<TestItem>,
    pub jobs: Vec<JobItem>,
    pub query: String,
}

/// A day of the trend table.
pub struct DayItem {
    pub day: String,
    pub jobs: u64,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "trend.html")]
pub struct TrendPage {
    pub chrome: Chrome,
    pub chart: String,
    pub first: String,
    pub last: String,
    pub days: Vec<DayItem>,
}

#[derive(Template)]
#[template(path = "tests.html")]
pub struct TestsPage {
    pub chrome: Chrome,
    pub tests: Vec<TestItem>,
    pub total: usize,
}

/// A row of the severity table.
pub struct SeverityItem {
    pub name: &'static str,
    pub jobs: u64,
    pub share: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "severity.html")]
pub struct SeverityPage {
    pub chrome: Chrome,
    pub chart: String,
    pub rows: Vec<SeverityItem>,
    pub total: u64,
}

#[derive(Template)]
#[template(path = "jobs.html")]
pub struct JobsPage {
    pub chrome: Chrome,
    pub jobs: Vec<JobItem>,
    pub total: u64,
    pub page: u32,
    pub pages: u32,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// A 400, 404 or 500 page.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub title: String,
    pub message: String,
}

/// Renders the severity chart for counts.
pub fn severity_chart(counts: &[(crate::analysis::Severity, u64)]) -> askama::Result<String> {
    SeverityChart::new(counts).render()
}

/// Renders the trend chart for days, `wide` for a full-width card.
pub fn trend_chart(days: &[crate::history::TrendDay], wide: bool) -> askama::Result<String> {
    let width = if wide {
        super::charts::WIDE
    } else {
        super::charts::NARROW
    };
    TrendChart::with_width(days, width).render()
}
