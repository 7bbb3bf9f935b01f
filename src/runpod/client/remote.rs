//! A job on an endpoint as `submit` follows it: its state ([`JobState`]), what a look at it
//! shows ([`Progress`]), and when waiting for it ends ([`Deadline`]).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// A job's state as the endpoint reports it. RunPod's newer docs say `RUNNING` where the
/// API says `IN_PROGRESS`; both are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    InQueue,
    #[serde(alias = "RUNNING")]
    InProgress,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::InQueue | JobState::InProgress)
    }

    pub fn name(self) -> &'static str {
        match self {
            JobState::InQueue => "IN_QUEUE",
            JobState::InProgress => "IN_PROGRESS",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
            JobState::TimedOut => "TIMED_OUT",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// When `submit` gives up waiting: `after` the start (`--timeout`), at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    pub after: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            after: timeout,
        }
    }
}

/// One look at a job: its state, and its progress while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub state: JobState,
    /// Runs finished, runs in all and failures so far, from the latest `run_finished`.
    pub done: Option<(u32, u32, u32)>,
    /// The latest progress line (`fetching …`, `37/100 runs, 5 failures`).
    pub message: Option<String>,
}

impl Progress {
    pub(super) fn state(state: JobState) -> Progress {
        Progress {
            state,
            done: None,
            message: None,
        }
    }

    /// Reads a progress update (`runpod::progress::update`'s shape) into `self`.
    pub(super) fn read(&mut self, update: &Value) {
        if let Some(message) = update.get("message").and_then(Value::as_str) {
            self.message = Some(message.to_string());
        }
        if update.get("stage").and_then(Value::as_str) == Some("run_finished") {
            let n = |key: &str| update.get(key).and_then(Value::as_u64).map(|v| v as u32);
            if let (Some(done), Some(total), Some(failures)) =
                (n("done"), n("total"), n("failures"))
            {
                self.done = Some((done, total, failures));
            }
        }
    }
}
