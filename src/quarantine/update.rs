//! The rules that turn history into the quarantine file ([`update`]): a flaky test whose rate
//! over the window reaches the team's threshold, over at least `min_runs` runs, comes in; a
//! test that is `broken` is never in (a real failure must keep blocking) and a `fixed` one
//! leaves; the figures of the others are refreshed while what people wrote is kept.

use chrono::{DateTime, Utc};

use super::file::{Entry, QuarantineFile};
use crate::config::quarantine::QuarantineRules;
use crate::history::{RunId, Standing, Status, TestHistory, standing};

/// What an update did to one test, for the command's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: String,
    pub kind: ChangeKind,
    /// The status with its strength ("fixed: ≤ 1 % after 299 clean runs").
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    /// Still quarantined, figures refreshed.
    Kept,
    /// Still listed, but no job in the window ran it: left as it was.
    Unseen,
}

/// How to fill the fields history does not hold.
pub struct Lookups<'a> {
    /// The owners of a test (CODEOWNERS), for a new entry or one without an owner.
    pub owner: &'a dyn Fn(&TestHistory) -> Option<String>,
    /// A job's page on the dashboard, when its address is known.
    pub link: &'a dyn Fn(RunId) -> Option<String>,
}

/// The file after applying `rules` to `tests` (one repository's tests over the window),
/// and what changed, in the file's order.
pub fn update(
    old: &QuarantineFile,
    tests: &[TestHistory],
    rules: &QuarantineRules,
    lookups: &Lookups<'_>,
) -> (QuarantineFile, Vec<Change>) {
    let mut new = QuarantineFile::default();
    let mut changes = Vec::new();
    let judged: Vec<(&TestHistory, Standing)> = tests
        .iter()
        .filter(|t| !t.whole_command)
        .map(|t| (t, standing(&t.jobs, rules.fixed_below)))
        .collect();
    let find = |id: &str, framework| {
        judged
            .iter()
            .find(|(t, _)| t.name == id && t.framework == framework)
    };
    for entry in &old.tests {
        let Some((test, s)) = find(&entry.id, entry.framework) else {
            new.tests.push(entry.clone());
            changes.push(Change {
                id: entry.id.clone(),
                kind: ChangeKind::Unseen,
                why: format!("no job in the last {} days ran it", rules.window_days),
            });
            continue;
        };
        let why = format!("{}: {}", s.status, s.strength());
        let leaves = match s.status {
            Status::Broken | Status::Fixed => true,
            // No failure in the window, over enough runs to have earned `fixed`.
            Status::Stable => s.clean_runs >= u64::from(s.needed),
            Status::Flaky | Status::FixedUnproven => false,
        };
        if leaves {
            changes.push(Change {
                id: entry.id.clone(),
                kind: ChangeKind::Removed,
                why,
            });
            continue;
        }
        let mut refreshed = fresh_entry(test, s, lookups);
        refreshed.first_seen = refreshed.first_seen.min(entry.first_seen);
        if entry.owner.is_some() {
            refreshed.owner = entry.owner.clone();
        }
        refreshed.extra = entry.extra.clone();
        if s.last_failing_job.is_none() {
            refreshed.job = entry.job;
            refreshed.link = entry.link.clone();
        }
        new.tests.push(refreshed);
        changes.push(Change {
            id: entry.id.clone(),
            kind: ChangeKind::Kept,
            why,
        });
    }
    for (test, s) in &judged {
        let listed = old
            .tests
            .iter()
            .any(|e| e.id == test.name && e.framework == test.framework);
        if listed || !qualifies(s, rules) {
            continue;
        }
        new.tests.push(fresh_entry(test, s, lookups));
        changes.push(Change {
            id: test.name.clone(),
            kind: ChangeKind::Added,
            why: format!("{}: {}", s.status, s.strength()),
        });
    }
    new.sort();
    (new, changes)
}

/// The rules for a test not yet listed: flaky now, its rate at or above the threshold,
/// over at least `min_runs` runs (all within the window, which the history read chose).
pub fn qualifies(s: &Standing, rules: &QuarantineRules) -> bool {
    s.status == Status::Flaky
        && s.rate >= rules.rate_threshold
        && s.runs >= u64::from(rules.min_runs)
}

fn fresh_entry(test: &TestHistory, s: &Standing, lookups: &Lookups<'_>) -> Entry {
    let job = s.last_failing_job;
    Entry {
        id: test.name.clone(),
        framework: test.framework,
        status: s.status,
        first_seen: s
            .first_seen
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .date_naive(),
        rate: s.rate,
        interval: [s.ci_low, s.ci_high],
        runs: s.runs,
        owner: (lookups.owner)(test),
        job: job.map(|j| j.0),
        link: job.and_then(|j| (lookups.link)(j)),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Framework;
    use crate::history::TestJob;
    use crate::history::columns::timestamp;

    fn history(name: &str, jobs: &[(u32, u32)]) -> TestHistory {
        TestHistory {
            repo: "r".into(),
            name: name.into(),
            whole_command: false,
            framework: Framework::Python,
            jobs: jobs
                .iter()
                .enumerate()
                .map(|(i, &(runs, failures))| TestJob {
                    job: RunId(i as i64 + 1),
                    recorded_at: timestamp(1_764_547_200 + i as i64 * 86_400),
                    runs,
                    failures,
                    commit: None,
                })
                .collect(),
        }
    }

    fn rules() -> QuarantineRules {
        QuarantineRules {
            rate_threshold: 0.05,
            min_runs: 10,
            window_days: 30,
            fixed_below: 0.2,
        }
    }

    fn lookups() -> Lookups<'static> {
        Lookups {
            owner: &|t: &TestHistory| Some(format!("@owner-of-{}", t.name)),
            link: &|j: RunId| Some(format!("http://dash/jobs/{j}")),
        }
    }

    fn ids(file: &QuarantineFile) -> Vec<&str> {
        file.tests.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn flaky_over_the_rules_comes_in_and_broken_never_does() {
        let tests = [
            history("flaky", &[(10, 3)]),
            history("rare", &[(100, 1)]),
            history("few", &[(4, 2)]),
            history("broken", &[(10, 10)]),
            history("stable", &[(10, 0)]),
        ];
        let (file, changes) = update(&QuarantineFile::default(), &tests, &rules(), &lookups());
        assert_eq!(ids(&file), ["flaky"]);
        let entry = &file.tests[0];
        assert_eq!(entry.owner.as_deref(), Some("@owner-of-flaky"));
        assert_eq!(entry.link.as_deref(), Some("http://dash/jobs/1"));
        assert_eq!((entry.rate, entry.runs), (0.3, 10));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Added);
    }

    #[test]
    fn fixed_and_broken_leave_and_hand_edits_stay() {
        let (mut old, _) = update(
            &QuarantineFile::default(),
            &[
                history("a", &[(10, 3)]),
                history("b", &[(10, 3)]),
                history("c", &[(10, 3)]),
                history("gone", &[(10, 3)]),
            ],
            &rules(),
            &lookups(),
        );
        assert_eq!(ids(&old), ["a", "b", "c", "gone"]);
        old.tests[0].owner = Some("@alice".into());
        old.tests[0]
            .extra
            .insert("issue".into(), serde_norway::Value::String("#12".into()));
        let later = [
            history("a", &[(10, 3), (10, 2)]),
            history("b", &[(10, 3), (14, 0)]),
            history("c", &[(10, 3), (5, 5)]),
        ];
        let (new, changes) = update(&old, &later, &rules(), &lookups());
        assert_eq!(ids(&new), ["a", "gone"]);
        assert_eq!(new.tests[0].owner.as_deref(), Some("@alice"));
        assert!(new.tests[0].extra.contains_key("issue"));
        assert_eq!(new.tests[0].runs, 20);
        let kinds: Vec<(&str, ChangeKind)> =
            changes.iter().map(|c| (c.id.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a", ChangeKind::Kept),
                ("b", ChangeKind::Removed),
                ("c", ChangeKind::Removed),
                ("gone", ChangeKind::Unseen),
            ]
        );
        assert_eq!(changes[1].why, "fixed: ≤ 20 % after 14 clean runs");
        assert!(changes[2].why.starts_with("broken: "), "{}", changes[2].why);
    }

    #[test]
    fn the_same_history_gives_the_same_file() {
        let tests = [history("z", &[(10, 3)]), history("a", &[(10, 5)])];
        let (once, _) = update(&QuarantineFile::default(), &tests, &rules(), &lookups());
        let (twice, changes) = update(&once, &tests, &rules(), &lookups());
        assert_eq!(once.render(), twice.render());
        assert!(changes.iter().all(|c| c.kind == ChangeKind::Kept));
        assert_eq!(ids(&once), ["a", "z"]);
    }
}
