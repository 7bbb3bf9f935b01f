//! The polluter search's judgement ([`PolluterSearch`]), as iDFlakies does it: for a test
//! that fails in one order and passes in another, which of the tests that ran before it
//! decide. Run alone, it either passes (then some test in its failing order pollutes it:
//! the tests before it there are halved until one is left) or fails (then it is brittle and
//! some test in its passing order sets state up for it: the tests before it there are
//! halved the same way, looking for a pass).
//!
//! The search is a state machine with no I/O: [`PolluterSearch::next`] says which tests to
//! run before the test, [`PolluterSearch::record`] takes what happened, so the runner
//! (`detect::order`) decides how runs are made and the logic is tested on its own.

use super::findings::OrderRole;

/// Most runs one search may take: enough to halve a prefix of a few thousand tests.
pub const MAX_SEARCH_RUNS: u32 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The test alone.
    Alone,
    /// All candidates, to check that they reproduce the outcome we look for.
    Check,
    /// The first half of `current`.
    FirstHalf,
    /// The second half of `current`.
    SecondHalf,
    Done,
}

/// One test's search. See the module's doc.
#[derive(Debug, Clone)]
pub struct PolluterSearch {
    failing_prefix: Vec<String>,
    passing_prefix: Vec<String>,
    role: Option<OrderRole>,
    current: Vec<String>,
    step: Step,
    runs: u32,
    /// False when the candidates could not be narrowed further: both halves are needed,
    /// or the run budget ran out.
    narrowed: bool,
    /// False when the failing (or passing) order did not reproduce when run explicitly.
    reproduced: bool,
}

/// What a finished search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub role: OrderRole,
    /// The polluters or state-setters, in the order they ran.
    pub tests: Vec<String>,
    /// True when `tests` could not be narrowed down further (a group, not one test).
    pub group: bool,
}

impl PolluterSearch {
    /// A search for the test whose failing order ran `failing_prefix` before it and whose
    /// passing order ran `passing_prefix` before it.
    pub fn new(failing_prefix: Vec<String>, passing_prefix: Vec<String>) -> PolluterSearch {
        PolluterSearch {
            failing_prefix,
            passing_prefix,
            role: None,
            current: Vec::new(),
            step: Step::Alone,
            runs: 0,
            narrowed: true,
            reproduced: true,
        }
    }

    /// The tests to run before the test next, in order; `None` when the search is over.
    pub fn next(&self) -> Option<Vec<String>> {
        if self.runs >= MAX_SEARCH_RUNS && self.step != Step::Done {
            return None;
        }
        let mid = self.current.len() / 2;
        match self.step {
            Step::Alone => Some(Vec::new()),
            Step::Check => Some(self.current.clone()),
            Step::FirstHalf => Some(self.current[..mid].to_vec()),
            Step::SecondHalf => Some(self.current[mid..].to_vec()),
            Step::Done => None,
        }
    }

    /// What the run asked for by [`PolluterSearch::next`] did: `Some(true)` when the test
    /// failed, `Some(false)` when it passed, `None` when it did not run (or the run said
    /// nothing about it). A run that says nothing ends the search.
    pub fn record(&mut self, failed: Option<bool>) {
        self.runs += 1;
        let Some(failed) = failed else {
            self.reproduced = self.role.is_some() && self.step != Step::Check;
            self.narrowed = false;
            self.step = Step::Done;
            return;
        };
        // Whether this run showed what the role looks for: a failure caused by polluters,
        // a pass made possible by state-setters.
        let shows = |role: Option<OrderRole>| match role {
            Some(OrderRole::Polluter) => failed,
            Some(OrderRole::StateSetter) => !failed,
            None => false,
        };
        match self.step {
            Step::Alone => {
                let (role, prefix) = if failed {
                    (OrderRole::StateSetter, &self.passing_prefix)
                } else {
                    (OrderRole::Polluter, &self.failing_prefix)
                };
                self.role = Some(role);
                self.current = prefix.clone();
                self.step = if self.current.is_empty() {
                    self.reproduced = false;
                    Step::Done
                } else {
                    Step::Check
                };
            }
            Step::Check => {
                if shows(self.role) {
                    self.step = self.halve();
                } else {
                    self.reproduced = false;
                    self.step = Step::Done;
                }
            }
            Step::FirstHalf => {
                if shows(self.role) {
                    self.current.truncate(self.current.len() / 2);
                    self.step = self.halve();
                } else {
                    self.step = Step::SecondHalf;
                }
            }
            Step::SecondHalf => {
                if shows(self.role) {
                    self.current.drain(..self.current.len() / 2);
                    self.step = self.halve();
                } else {
                    // Neither half alone does it: the candidates act together.
                    self.narrowed = false;
                    self.step = Step::Done;
                }
            }
            Step::Done => {}
        }
        if self.runs >= MAX_SEARCH_RUNS && self.step != Step::Done {
            self.narrowed = false;
            self.step = Step::Done;
        }
    }

    fn halve(&self) -> Step {
        if self.current.len() > 1 {
            Step::FirstHalf
        } else {
            Step::Done
        }
    }

    /// What the search looks for, once the test has run alone: polluters in the failing
    /// order, or state-setters in the passing one; `None` before.
    pub fn role(&self) -> Option<OrderRole> {
        self.role
    }

    /// Runs recorded so far.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// What was found once the search is over; `None` while it runs, or when the orders
    /// did not reproduce (the test is then not order-dependent in a way a search can pin).
    pub fn found(&self) -> Option<Found> {
        if self.step != Step::Done || !self.reproduced {
            return None;
        }
        Some(Found {
            role: self.role?,
            tests: self.current.clone(),
            group: !self.narrowed && self.current.len() > 1,
        })
    }
}

/// The finding in one sentence: "`test_b` fails when `test_a` runs first", "`test_b`
/// fails when run without `test_s` first".
pub fn sentence(test: &str, found: &Found) -> String {
    let names: Vec<String> = found.tests.iter().map(|t| format!("`{t}`")).collect();
    let list = names.join(", ");
    match (found.role, found.group) {
        (OrderRole::Polluter, false) => format!("`{test}` fails when {list} runs first"),
        (OrderRole::Polluter, true) => format!(
            "`{test}` fails when these {} tests run first, together (no one of them alone): {list}",
            names.len()
        ),
        (OrderRole::StateSetter, false) => {
            format!("`{test}` fails when run without {list} first")
        }
        (OrderRole::StateSetter, true) => format!(
            "`{test}` fails when run without these {} tests first: {list}",
            names.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Drives a search with `fails` deciding each run's outcome.
    fn drive(
        failing: &[&str],
        passing: &[&str],
        fails: impl Fn(&[String]) -> Option<bool>,
    ) -> (Option<Found>, u32) {
        let mut search = PolluterSearch::new(names(failing), names(passing));
        while let Some(before) = search.next() {
            search.record(fails(&before));
        }
        (search.found(), search.runs())
    }

    #[test]
    fn one_polluter_among_many_is_found_by_halving() {
        let prefix: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let (found, runs) = drive(&refs, &[], |before| Some(before.iter().any(|t| t == "t27")));
        let found = found.expect("found");
        assert_eq!(found.role, OrderRole::Polluter);
        assert_eq!(found.tests, ["t27"]);
        assert!(!found.group);
        // Alone, the whole prefix, then at most two runs per halving of 40.
        assert!(runs <= 2 + 2 * 6, "{runs}");
    }

    #[test]
    fn a_brittle_test_finds_its_state_setter_in_the_passing_order() {
        let (found, _) = drive(&["x", "y"], &["a", "setup", "b", "c"], |before| {
            Some(!before.iter().any(|t| t == "setup"))
        });
        let found = found.expect("found");
        assert_eq!(found.role, OrderRole::StateSetter);
        assert_eq!(found.tests, ["setup"]);
        assert_eq!(
            sentence("t", &found),
            "`t` fails when run without `setup` first"
        );
    }

    #[test]
    fn polluters_that_only_act_together_are_reported_as_a_group() {
        let (found, _) = drive(&["a", "p1", "b", "p2"], &[], |before| {
            Some(before.iter().any(|t| t == "p1") && before.iter().any(|t| t == "p2"))
        });
        let found = found.expect("found");
        assert!(found.group);
        assert_eq!(found.tests, ["a", "p1", "b", "p2"]);
    }

    #[test]
    fn an_order_that_does_not_fail_again_finds_nothing() {
        // Fails one time in two whatever the order: not order-dependent.
        let (found, runs) = drive(&["a", "b"], &[], |before| Some(before.is_empty()));
        assert_eq!(found, None);
        assert_eq!(runs, 1);
        let (found, _) = drive(&["a", "b"], &[], |_| Some(false));
        assert_eq!(found, None);
        let (found, _) = drive(&["a"], &[], |before| {
            if before.is_empty() { Some(false) } else { None }
        });
        assert_eq!(found, None);
    }

    #[test]
    fn the_sentence_names_the_polluter() {
        let found = Found {
            role: OrderRole::Polluter,
            tests: names(&["test_a"]),
            group: false,
        };
        assert_eq!(
            sentence("test_b", &found),
            "`test_b` fails when `test_a` runs first"
        );
    }

    #[test]
    fn the_budget_bounds_the_search() {
        // Every run says "failed": halving goes on as long as the budget allows.
        let prefix: Vec<String> = (0..1_000_000).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let (_, runs) = drive(&refs, &[], |before| Some(!before.is_empty()));
        assert!(runs <= MAX_SEARCH_RUNS, "{runs}");
    }
}
