//! The RunPod front ends. Both translate to and from the core's `Job`, `Summary` and
//! `Event` and call `detect()`; neither holds detection logic.
//!
//! - The serverless worker ([`worker`]): [`platform`] (URLs, key, client), [`take`] (the
//!   job-take long poll), [`handler`] (one job to its result), [`progress`] and [`post`]
//!   (job-done), [`spool`] (results that could not be posted), [`ping`] (heartbeat),
//!   [`stop`] (the job-stop poll), [`board`] (jobs in progress).
//! - The local endpoint API: [`api`] (routes, `router()`), [`jobs`] (the job table),
//!   [`webhook`], [`serve`] (listener and executors).
//! - [`log`]: RunPod's log lines (the `worker` and `serve` subcommands are in `cli::worker` and `cli::serve`).
//! - The client side, for `submit`: [`client`] (an endpoint's public API), [`remote`] (a
//!   job there as seen from here) and [`shards`] (one request split over several jobs).

pub mod api;
pub mod board;
pub mod client;
pub mod handler;
pub mod jobs;
pub mod log;
pub mod ping;
pub mod platform;
pub mod post;
pub mod progress;
pub mod remote;
pub mod serve;
pub mod shards;
pub mod spool;
pub mod stop;
pub mod take;
pub mod webhook;
pub mod worker;
