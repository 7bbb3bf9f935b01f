//! Whether runs forked from a shared server saw what fresh processes see ([`check`]).
//!
//! A fork server fixes some things when it starts: its hash seed, its address layout, and
//! whatever the modules it imported drew then (a value from `random`, a private
//! `random.Random()`, `os.urandom`). Every run forked from it shares them, where a fresh
//! process would draw them anew. A test whose outcome follows that state passes or fails
//! with the server rather than with the run: its runs agree within a server and differ
//! across servers, or differ from the fresh processes run beside them as a control.
//!
//! The check treats each server as one cluster and each fresh process as a cluster of its
//! own, and asks, per subject (the command and each test that both passed and failed),
//! whether outcomes cluster more than chance allows: a permutation test of the between-
//! cluster spread of failures, at [`LEVEL`] for the whole job (Bonferroni over subjects).
//! Outcomes that do not depend on the server are exchangeable across runs, so under that
//! hypothesis every permutation is as likely as the one observed.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::per_test::{Ignore, outcomes, run_failed};
use crate::runner::RunRecord;

/// The chance, for the whole job, of calling a faithful fork server unfaithful.
pub const LEVEL: f64 = 0.01;
/// Permutations per subject: p-values resolve to 1 in 2,000, below `LEVEL` over 20 subjects.
const PERMUTATIONS: u32 = 1999;

/// One run of a subject: the server it was forked from (`None`: a fresh process), and
/// whether the subject failed in it.
type SubjectRun = (Option<u32>, bool);

/// A subject whose forked runs did not behave like fresh processes.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// `the command` or a test's name.
    pub subject: String,
    /// Failures and runs among the forked runs, and how many servers ran them.
    pub forked: (u32, u32),
    pub servers: u32,
    /// Failures and runs among the fresh processes.
    pub fresh: (u32, u32),
    pub p_value: f64,
    /// How many subjects were tested (the level each one was held to is `LEVEL / tested`).
    pub tested: u32,
}

impl Disagreement {
    /// One sentence for the summary.
    pub fn sentence(&self) -> String {
        format!(
            "{} failed {} of {} runs forked from {} server(s) and {} of {} fresh processes; \
             outcomes clustered by server (permutation test, p = {:.4}, below {:.4})",
            self.subject,
            self.forked.0,
            self.forked.1,
            self.servers,
            self.fresh.0,
            self.fresh.1,
            self.p_value,
            LEVEL / f64::from(self.tested.max(1)),
        )
    }
}

/// The subject whose outcomes cluster by server most clearly, when any does at [`LEVEL`];
/// `None` when the forked runs look like fresh processes, or when there is nothing to
/// compare (no server ran two runs, or nothing both passed and failed).
pub fn check(records: &[RunRecord], ignore: &Ignore) -> Option<Disagreement> {
    if !records.iter().any(|r| r.server.is_some()) {
        return None;
    }
    let mut subjects: Vec<(String, Vec<SubjectRun>)> = Vec::new();
    let command: Vec<SubjectRun> = records
        .iter()
        .map(|r| (r.server, run_failed(r, ignore)))
        .collect();
    subjects.push(("the command".to_string(), command));
    let mut per_test: BTreeMap<&str, Vec<SubjectRun>> = BTreeMap::new();
    for record in records {
        for (name, failure) in outcomes(record, ignore) {
            per_test
                .entry(name)
                .or_default()
                .push((record.server, failure.is_some()));
        }
    }
    subjects.extend(per_test.into_iter().map(|(n, o)| (n.to_string(), o)));
    subjects.retain(|(_, runs)| {
        let failures = runs.iter().filter(|(_, f)| *f).count();
        failures > 0 && failures < runs.len() && has_a_shared_cluster(runs)
    });
    let tested = subjects.len() as u32;
    let level = LEVEL / f64::from(tested.max(1));
    subjects
        .iter()
        .map(|(subject, runs)| (subject, runs, p_value(runs)))
        .filter(|(_, _, p)| *p < level)
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(subject, runs, p_value)| {
            let count = |forked: bool| {
                let of: Vec<_> = runs.iter().filter(|(s, _)| s.is_some() == forked).collect();
                let failures = of.iter().filter(|(_, f)| *f).count() as u32;
                (failures, of.len() as u32)
            };
            let mut servers: Vec<u32> = runs.iter().filter_map(|(s, _)| *s).collect();
            servers.sort_unstable();
            servers.dedup();
            Disagreement {
                subject: subject.clone(),
                forked: count(true),
                servers: servers.len() as u32,
                fresh: count(false),
                p_value,
                tested,
            }
        })
}

fn has_a_shared_cluster(runs: &[SubjectRun]) -> bool {
    let mut seen = std::collections::HashSet::new();
    runs.iter()
        .filter_map(|(s, _)| *s)
        .any(|server| !seen.insert(server))
}

/// The permutation p-value of `runs` (cluster, failed): how often outcomes shuffled across
/// runs spread over the clusters at least as unevenly as observed. The statistic is
/// Σ failures² / size over clusters, which for a fixed number of failures grows with the
/// between-cluster variance. Seeded, so the same runs always give the same p-value.
fn p_value(runs: &[SubjectRun]) -> f64 {
    // Cluster sizes, in a fixed order; a fresh process is a cluster of its own.
    let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
    let mut singles = 0;
    for (server, _) in runs {
        match server {
            Some(server) => *sizes.entry(*server).or_default() += 1,
            None => singles += 1,
        }
    }
    let mut layout: Vec<usize> = sizes.values().copied().collect();
    layout.extend(std::iter::repeat_n(1, singles));
    // The observed outcomes laid out cluster by cluster, in the same order.
    let mut by_cluster: BTreeMap<u32, Vec<bool>> = BTreeMap::new();
    let mut fresh = Vec::new();
    for (server, failed) in runs {
        match server {
            Some(server) => by_cluster.entry(*server).or_default().push(*failed),
            None => fresh.push(*failed),
        }
    }
    let mut outcomes: Vec<bool> = by_cluster.into_values().flatten().collect();
    outcomes.extend(fresh);
    let statistic = |outcomes: &[bool]| {
        let mut at = 0;
        let mut sum = 0.0;
        for &size in &layout {
            let failures = outcomes[at..at + size].iter().filter(|f| **f).count() as f64;
            sum += failures * failures / size as f64;
            at += size;
        }
        sum
    };
    let observed = statistic(&outcomes);
    let mut rng = StdRng::seed_from_u64(0x5eed_f00d);
    let mut shuffled = outcomes.clone();
    let mut as_extreme = 0u32;
    for _ in 0..PERMUTATIONS {
        shuffled.shuffle(&mut rng);
        if statistic(&shuffled) >= observed - 1e-9 {
            as_extreme += 1;
        }
    }
    f64::from(1 + as_extreme) / f64::from(1 + PERMUTATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::results::test_result::TestReport;
    use crate::process::RunOutcome;
    use rand::Rng;

    fn run(attempt: u32, server: Option<u32>, failed: bool) -> RunRecord {
        RunRecord {
            attempt,
            seed: u64::from(attempt),
            outcome: if failed {
                RunOutcome::Failed { exit_code: 1 }
            } else {
                RunOutcome::Passed
            },
            duration: std::time::Duration::ZERO,
            hash_seed: None,
            server,
            stdout: Default::default(),
            stderr: Default::default(),
            tests: TestReport::NotRequested,
        }
    }

    /// Runs laid out as the pipeline lays them: every fourth a fresh process, the others on
    /// servers of six runs; `fails(server)` says whether a run of that server (or, for
    /// `None`, a fresh process) fails.
    fn job(runs: u32, fails: &mut dyn FnMut(Option<u32>) -> bool) -> Vec<RunRecord> {
        let mut forked = 0;
        (0..runs)
            .map(|attempt| {
                let server = (attempt % 4 != 3).then(|| {
                    forked += 1;
                    (forked - 1) / 6
                });
                run(attempt, server, fails(server))
            })
            .collect()
    }

    #[test]
    fn a_test_that_follows_its_server_is_caught() {
        // Servers 0 and 2 fail every run, 1 and 3 never do; fresh processes half the time.
        let mut coin = StdRng::seed_from_u64(7);
        let records = job(40, &mut |server| match server {
            Some(s) => s % 2 == 0,
            None => coin.random_bool(0.5),
        });
        let found = check(&records, &Ignore::new(&[])).expect("caught");
        assert_eq!(found.subject, "the command");
        assert!(found.p_value < LEVEL, "{found:?}");
        assert!(found.sentence().contains("clustered by server"));
    }

    #[test]
    fn servers_that_all_pass_while_fresh_processes_fail_are_caught() {
        let records = job(60, &mut |server| server.is_none());
        let found = check(&records, &Ignore::new(&[])).expect("caught");
        assert_eq!(found.forked.0, 0);
        assert_eq!(found.fresh, (15, 15));
    }

    /// The level holds: a test that fails at random, whatever the server, is called
    /// unfaithful in at most about `LEVEL` of jobs (here 400 jobs at p = 0.5 and 0.2).
    #[test]
    fn a_faithful_server_is_rarely_blamed() {
        let mut coin = StdRng::seed_from_u64(11);
        for p in [0.5, 0.2] {
            let blamed = (0..400)
                .filter(|_| {
                    let records = job(40, &mut |_| coin.random_bool(p));
                    check(&records, &Ignore::new(&[])).is_some()
                })
                .count();
            assert!(blamed <= 12, "p = {p}: blamed in {blamed} of 400 jobs");
        }
    }

    #[test]
    fn plain_jobs_and_steady_outcomes_have_nothing_to_compare() {
        let plain: Vec<RunRecord> = (0..10).map(|i| run(i, None, i % 2 == 0)).collect();
        assert_eq!(check(&plain, &Ignore::new(&[])), None);
        let steady = job(40, &mut |_| false);
        assert_eq!(check(&steady, &Ignore::new(&[])), None);
    }
}
