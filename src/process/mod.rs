//! One child process from spawn to outcome ([`spawn`]): its own process group, a deadline,
//! bounded output ([`capture`]), the environment it may see ([`env`]), and, for isolated
//! runs, the namespaces it enters before `exec` ([`enter`]). The lowest layer that starts
//! anything: test runs (`runner`) and installs and builds (`framework`) both go through it.

pub mod capture;
pub mod enter;
pub mod env;
pub mod spawn;

pub use crate::runner::isolation::HeldOverlay;
pub use capture::Captured;
pub use spawn::{
    ProcessOutput, ProcessSpec, RunOutcome, RunnerError, run_process, run_process_teeing,
};
