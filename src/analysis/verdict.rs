//! [`Verdict`]: what a set of runs says about a command or a test case.

pub use crate::wire::figures::Verdict;
