//! The RunPod front ends, one submodule per role. Each translates to and from the core's
//! `Job`, `Summary` and `Event` and calls `detect()`; none holds detection logic.
//!
//! - [`worker`]: the serverless worker: [`worker::platform`] (URLs, key, client),
//!   [`worker::take`] (the job-take long poll), [`worker::handler`] (one job to its result),
//!   [`worker::post`] (job-done), [`worker::spool`] (results that could not be posted),
//!   [`worker::ping`] (heartbeat), [`worker::stop`] (the job-stop poll), [`worker::board`]
//!   (jobs in progress).
//! - [`serve`]: the local endpoint API: [`serve::api`] (routes, `router()`), [`serve::jobs`]
//!   (the job table), [`serve::webhook`], and the listener and executors.
//! - [`client`]: the client side, for `submit`: an endpoint's public API,
//!   [`client::remote`] (a job there as seen from here) and [`client::shards`] (one request
//!   split over several jobs).
//! - Shared by the worker and `serve`: [`progress`] (an event as RunPod shows it) and
//!   [`log`] (RunPod's log lines); by `serve` and the client: [`job_state`] (a job's state
//!   on the wire). The `worker` and `serve` subcommands are in `cli::worker`
//!   and `cli::serve`.

pub mod client;
pub use crate::wire::job_state;
pub mod log;
pub mod progress;
pub mod serve;
pub mod worker;
