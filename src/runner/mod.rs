//! Seeded runs of the test command: one process per run ([`crate::process`]), at most `parallelism`
//! at once ([`fan_out`]), each with its own directory and environment ([`run`],
//! [`isolation`]); failing seeds replayed alone and under load ([`confirm`]); test order and
//! polluters ([`order`]).

pub mod confirm;
pub mod fan_out;
pub mod isolation;
pub mod order;
pub mod run;

pub use crate::process::Captured;
pub use crate::process::{
    ProcessOutput, ProcessSpec, RunOutcome, RunnerError, run_process, run_process_teeing,
};
pub use fan_out::run_all;
pub use run::{RunRecord, RunRequest, RunTemplate};
