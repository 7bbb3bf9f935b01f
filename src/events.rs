//! Progress of a job as [`Event`]s: the only thing a front end observes while a job runs.
//! Stages send, front ends render (a progress bar, RunPod progress posts, SSE).

use serde::Serialize;
use tokio::sync::mpsc;

use crate::framework::{Framework, InstallReport};

/// One step of a job. Serialised as the `output` of RunPod progress updates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Event {
    Fetching {
        repo: String,
    },
    Fetched {
        commit: Option<String>,
        duration_ms: u64,
    },
    Installing {
        framework: Framework,
    },
    /// Boxed: a failed install's report (step, package, reason, way out) is the largest
    /// thing an event carries.
    Installed {
        install: Box<InstallReport>,
    },
    Running {
        runs: u32,
        parallelism: u32,
        command: String,
    },
    RunFinished {
        attempt: u32,
        seed: u64,
        passed: bool,
        timed_out: bool,
        done: u32,
        total: u32,
        failures: u32,
    },
    Confirming {
        seeds: Vec<u64>,
    },
}

impl Event {
    /// A short human line, the same for a RunPod progress post and a log.
    pub fn message(&self) -> String {
        match self {
            Event::Fetching { repo } => format!("fetching {repo}"),
            Event::Fetched { commit, .. } => match commit {
                Some(commit) => format!("cloned at {}", short(commit)),
                None => "copied".to_string(),
            },
            Event::Installing { framework } => format!("installing {framework} dependencies"),
            Event::Installed { install } => format!("install {}", install.status),
            Event::Running {
                runs, parallelism, ..
            } => format!("running {runs} runs, {parallelism} at once"),
            Event::RunFinished {
                done,
                total,
                failures,
                ..
            } => format!(
                "{done}/{total} runs, {failures} failure{}",
                if *failures == 1 { "" } else { "s" }
            ),
            Event::Confirming { seeds } => {
                format!("replaying {} failing seed(s) to confirm", seeds.len())
            }
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Where a stage sends events. Cloning is cheap; a dropped receiver is not an error, since a
/// front end that stops listening must not stop the job.
#[derive(Debug, Clone, Default)]
pub struct Events(Option<mpsc::UnboundedSender<Event>>);

impl Events {
    /// A sink and the receiver a front end reads from.
    pub fn channel() -> (Events, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Events(Some(tx)), rx)
    }

    /// A sink that drops everything, for callers that only want the summary.
    pub fn none() -> Events {
        Events(None)
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(event);
        }
    }
}
