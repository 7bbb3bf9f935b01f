//! One child process from spawn to outcome ([`spawn`]): its own process group, a deadline,
//! bounded output ([`capture`]), the environment it may see ([`env`](mod@env)), and, for isolated
//! runs, the namespaces it enters before `exec` ([`held`], [`enter`]); and, once at start, what
//! keeps runs out of the detector itself ([`seal`]). The lowest layer that starts
//! anything: test runs (`runner`) and installs and builds (`framework`) both go through it.

pub mod capture;
pub mod enter;
pub mod env;
pub mod held;
pub mod seal;
pub mod spawn;

pub use capture::Captured;
pub use held::HeldOverlay;
pub use spawn::{
    ProcessOutput, ProcessSpec, RunOutcome, RunnerError, run_process, run_process_teeing,
};
