//! A job on an endpoint as `submit` follows it: what a look at it shows ([`Progress`], its
//! [`JobState`] as `serve` also writes it), and when waiting for it ends ([`Deadline`]).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runpod::job_state::JobState;

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
