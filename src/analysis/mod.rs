//! Pure, synchronous functions from run records to figures: rates with Wilson intervals
//! ([`stats`]), severity bands ([`severity`]) and the verdict ([`verdict`]); per-test
//! results read from the runners' reports (by [`crate::framework::results`]) counted per test
//! case ([`per_test`]); the confirmation phase's judgement ([`classify`]), early
//! stop ([`early_stop`]), whether forked runs behaved like fresh processes ([`frozen`]), and
//! the whole job's [`assess::Assessment`].

pub mod assess;
pub mod classify;
pub mod command_failure;
pub mod early_stop;
pub mod findings;
pub mod frozen;
pub mod per_test;
pub mod polluter;
pub mod severity;
pub mod stats;
pub mod triage;
pub mod verdict;

pub use severity::Severity;
pub use stats::{Interval, wilson};
pub use verdict::Verdict;
