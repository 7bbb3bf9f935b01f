//! Shared test support: a fake RunPod platform ([`platform`]), the real binary as a worker
//! or server process ([`process`], [`server`], [`worker`]), and tiny seeded fixture
//! repositories ([`fixture`]).
//! Each test binary uses part of it.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

pub mod fixture;
pub mod platform;
pub mod process;
pub mod server;
pub mod worker;

use std::time::Duration;

/// Bound for waits on events that normally take milliseconds: generous, since CI shares two
/// cores with other jobs. A test only waits this long when it is about to fail.
pub const PATIENCE: Duration = Duration::from_secs(60);
