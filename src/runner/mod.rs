//! Seeded runs of the test command: one process per run (spawned by [`crate::process`]), at
//! most `parallelism` at once ([`fan_out`]), each with its own directory and environment
//! ([`run`], [`isolation`]). The runner executes the runs it is given; which seeds to replay
//! and which orders to try are decided above it, in [`crate::detect`](mod@crate::detect).

pub mod fan_out;
pub mod isolation;
pub mod run;

/// What a [`RunRecord`] carries, and why a run could not start: re-exported where records
/// are made, so their readers need not know the process layer.
pub use crate::process::{Captured, RunOutcome, RunnerError};
pub use fan_out::run_all;
pub use run::{RunRecord, RunRequest, RunTemplate};
