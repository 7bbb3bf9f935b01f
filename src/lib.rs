//! flaky-detector: runs a test command many times in parallel, one seed per run, and says
//! with numbers whether it is flaky.
//!
//! One pipeline, thin front ends. Data flows in this order:
//!
//! - [`job`]: the input schema ([`JobInput`]) validated into a [`Job`].
//! - [`workspace`]: the repository fetched (git2) or copied into a scratch directory.
//! - [`config`]: `.flaky-detector.yml` merged under the job input into [`config::Settings`].
//! - [`process`]: one child process from spawn to outcome, in its own process group with a
//!   deadline and bounded output; test runs, installs and builds all start children through it.
//! - [`framework`]: which test framework, its dependencies installed (cached), how a seed
//!   reaches a run, and how a run's report is read back.
//! - [`runner`]: seeded runs on a semaphore, each with its own view of the checkout, TMPDIR
//!   and HOME.
//! - [`analysis`]: pure functions from run records to rates, intervals and verdicts.
//! - [`summary`]: the output ([`Summary`]) built from the runs and the analysis; its types,
//!   and every other type that goes over the wire as data, are [`wire`]'s.
//! - [`history`]: every finished job in SQLite, and the queries behind `history` and the
//!   dashboard ([`web`]).
//! - [`detect()`]: wires the stages and makes the pipeline's decisions (which seeds to replay,
//!   which test orders to try); every front end (CLI, RunPod worker, local API) calls it and
//!   observes it through [`Event`]s.
//! - [`runpod`]: the RunPod serverless worker, the local endpoint API (`serve`), and the
//!   client `submit` uses, one submodule each.
//! - [`report`]: a finished job as a pull request comment, Slack and Discord messages, and
//!   the GitHub Actions step summary.
//! - [`quarantine`]: the reviewed file of flaky tests that may fail without blocking a merge,
//!   written from history.

pub mod analysis;
pub mod cli;
pub mod config;
pub mod detect;
pub mod errors;
pub mod events;
pub mod framework;
pub mod history;
pub mod http;
pub mod job;
#[cfg(test)]
mod layering;
pub mod process;
pub mod quarantine;
pub mod report;
pub mod runner;
pub mod runpod;
pub mod secrets;
pub mod summary;
pub mod web;
pub mod wire;
pub mod workspace;

pub use detect::{Deps, DetectError, detect};
pub use events::{Event, Events};
pub use job::{Job, JobInput, Knobs, RepoPolicy};
pub use summary::Summary;
