//! The test-status page (`/status`): each test's status with its strength ("fixed: ≤ 1 %
//! after 299 clean runs"), whether the repository's quarantine file lists it, and its
//! failure rate job by job over the window as a small inline chart.

use std::path::{Path, PathBuf};

use askama::Template;
use chrono::{Days, Utc};

use super::charts::percent;
use super::pages::Chrome;
use crate::config::FileConfig;
use crate::config::quarantine::QuarantineRules;
use crate::history::{Standing, Status, TestHistory, TestJob, standing};
use crate::quarantine::QuarantineFile;

/// Most tests the page lists (worst status first).
pub const STATUS_ROWS: usize = 200;

/// The repository folder whose `.flaky-detector.yml` (rules) and quarantine file the page
/// reads (`dashboard --quarantine-dir`); `None`: default rules, nothing quarantined known.
#[derive(Debug, Clone, Default)]
pub struct QuarantineDir(pub Option<PathBuf>);

/// The rules and the quarantine the page applies, and a warning when they could not be read.
pub struct Quarantine {
    pub rules: QuarantineRules,
    pub file: QuarantineFile,
    pub warning: Option<String>,
}

impl Quarantine {
    /// Reads both from `dir`; what cannot be read becomes a warning on the page, with the
    /// default rules or no quarantine. Blocking.
    pub fn load(dir: Option<&Path>) -> Quarantine {
        let Some(dir) = dir else {
            return Quarantine {
                rules: QuarantineRules::default(),
                file: QuarantineFile::default(),
                warning: None,
            };
        };
        let mut warnings = Vec::new();
        let rules = match FileConfig::load(dir) {
            Ok(config) => config.quarantine_rules(),
            Err(e) => {
                warnings.push(crate::errors::one_line(&e));
                QuarantineRules::default()
            }
        };
        let file = QuarantineFile::load(dir).unwrap_or_else(|e| {
            warnings.push(crate::errors::one_line(&e));
            QuarantineFile::default()
        });
        Quarantine {
            rules,
            file,
            warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
        }
    }

    /// The start of the window the rules set.
    pub fn since(&self) -> chrono::DateTime<Utc> {
        Utc::now()
            .checked_sub_days(Days::new(u64::from(self.rules.window_days)))
            .unwrap_or_default()
    }
}

/// A row of the status table.
pub struct StatusItem {
    pub name: String,
    pub repo: String,
    pub jobs_href: String,
    pub status: &'static str,
    /// The status's CSS class (`fixed?` is not a class name).
    pub class: &'static str,
    pub strength: String,
    pub quarantined: bool,
    pub rate: String,
    pub runs: u64,
    pub failures: u64,
    pub spark: Spark,
}

/// A test's failure rate job by job: a polyline over a fixed 120 × 28 box.
pub struct Spark {
    pub points: String,
    pub dots: Vec<(String, String, bool)>,
    pub title: String,
}

const SPARK_W: f64 = 120.0;
const SPARK_H: f64 = 28.0;

impl Spark {
    pub fn new(jobs: &[TestJob]) -> Spark {
        let n = jobs.len();
        let x = |i: usize| {
            if n <= 1 {
                SPARK_W / 2.0
            } else {
                4.0 + (SPARK_W - 8.0) * i as f64 / (n - 1) as f64
            }
        };
        let y = |j: &TestJob| {
            let rate = if j.runs == 0 {
                0.0
            } else {
                f64::from(j.failures) / f64::from(j.runs)
            };
            SPARK_H - 3.0 - (SPARK_H - 6.0) * rate
        };
        let dots: Vec<(String, String, bool)> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                (
                    format!("{:.1}", x(i)),
                    format!("{:.1}", y(j)),
                    j.failures > 0,
                )
            })
            .collect();
        let points = dots
            .iter()
            .map(|(x, y, _)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ");
        let title = jobs
            .iter()
            .map(|j| {
                format!(
                    "{}: {}/{}",
                    j.recorded_at.format("%m-%d %H:%M"),
                    j.failures,
                    j.runs
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        Spark {
            points,
            dots,
            title,
        }
    }
}

#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub chrome: Chrome,
    pub rows: Vec<StatusItem>,
    pub total: usize,
    pub counts: Vec<(&'static str, &'static str, usize)>,
    pub needed: u32,
    pub fixed_below: String,
    pub window_days: u32,
    pub quarantine_known: bool,
    pub quarantined: usize,
    pub warning: Option<String>,
}

const ORDER: [Status; 5] = [
    Status::Flaky,
    Status::Broken,
    Status::FixedUnproven,
    Status::Fixed,
    Status::Stable,
];

fn class(status: Status) -> &'static str {
    match status {
        Status::FixedUnproven => "fixed-maybe",
        other => other.name(),
    }
}

impl StatusPage {
    /// The page for `tests` (those of the filter, over the rules' window), worst first:
    /// by status in [`ORDER`], then by failure rate.
    pub fn new(
        chrome: Chrome,
        tests: &[TestHistory],
        quarantine: Quarantine,
        quarantine_known: bool,
        name_contains: Option<&str>,
    ) -> StatusPage {
        let base = chrome.base.clone();
        let rules = quarantine.rules;
        let mut judged: Vec<(&TestHistory, Standing)> = tests
            .iter()
            .filter(|t| name_contains.is_none_or(|text| t.name.contains(text)))
            .map(|t| (t, standing(&t.jobs, rules.fixed_below)))
            .collect();
        judged.sort_by(|(a, sa), (b, sb)| {
            sa.status
                .cmp(&sb.status)
                .then(sb.rate.total_cmp(&sa.rate))
                .then_with(|| a.name.cmp(&b.name))
        });
        let counts = ORDER
            .iter()
            .map(|s| {
                (
                    s.name(),
                    class(*s),
                    judged.iter().filter(|(_, st)| st.status == *s).count(),
                )
            })
            .collect();
        let listed = |t: &TestHistory| {
            quarantine
                .file
                .tests
                .iter()
                .any(|e| e.id == t.name && e.framework == t.framework)
        };
        let rows = judged
            .iter()
            .take(STATUS_ROWS)
            .map(|(t, s)| StatusItem {
                name: t.name.clone(),
                repo: t.repo.clone(),
                jobs_href: format!(
                    "{base}/jobs{}",
                    super::params::query_string(
                        &crate::history::JobFilter {
                            repo: Some(t.repo.clone()),
                            test: Some(t.name.clone()),
                            ..Default::default()
                        },
                        &[]
                    )
                ),
                status: s.status.name(),
                class: class(s.status),
                strength: s.strength(),
                quarantined: listed(t),
                rate: percent(s.rate),
                runs: s.runs,
                failures: s.failures,
                spark: Spark::new(&t.jobs),
            })
            .collect();
        StatusPage {
            chrome,
            rows,
            total: judged.len(),
            counts,
            needed: rules.clean_runs_for_fixed(),
            fixed_below: crate::history::status::percent(rules.fixed_below),
            window_days: rules.window_days,
            quarantine_known,
            quarantined: quarantine.file.tests.len(),
            warning: quarantine.warning,
        }
    }
}
