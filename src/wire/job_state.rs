//! A RunPod job's state (§8) as it goes over the wire, one definition for both sides: the
//! local endpoint API (`serve`) writes it in `/run`, `/status`, `/stream` and webhook
//! bodies, and `submit`'s client reads it back from RunPod's endpoints or a `serve`.

use serde::{Deserialize, Serialize};

/// A job's state, written as RunPod spells it (`IN_QUEUE`, `IN_PROGRESS`, …). RunPod's
/// newer docs say `RUNNING` where the API says `IN_PROGRESS`; both are read, and only
/// `IN_PROGRESS` is written, so a `serve` answers as the API does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Whether the job is over: nothing will change its state or output any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::InQueue | JobState::InProgress)
    }

    /// The wire name, for messages (`last status IN_PROGRESS`) without going through serde.
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

#[cfg(test)]
mod tests {
    use super::JobState;

    const ALL: [JobState; 6] = [
        JobState::InQueue,
        JobState::InProgress,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
        JobState::TimedOut,
    ];

    #[test]
    fn the_wire_names_are_runpods_and_read_back() {
        let written: Vec<String> = ALL
            .iter()
            .map(|state| serde_json::to_value(state).expect("a unit variant serialises"))
            .map(|value| value.as_str().expect("a string").to_string())
            .collect();
        assert_eq!(
            written,
            [
                "IN_QUEUE",
                "IN_PROGRESS",
                "COMPLETED",
                "FAILED",
                "CANCELLED",
                "TIMED_OUT"
            ]
        );
        for state in ALL {
            assert_eq!(
                serde_json::to_value(state).expect("serialises"),
                state.name()
            );
            let read: JobState =
                serde_json::from_value(state.name().into()).expect("its own name reads back");
            assert_eq!(read, state);
        }
        let running: JobState = serde_json::from_value("RUNNING".into()).expect("alias");
        assert_eq!(running, JobState::InProgress);
    }

    #[test]
    fn only_queued_and_running_jobs_are_not_over() {
        let open: Vec<JobState> = ALL.into_iter().filter(|s| !s.is_terminal()).collect();
        assert_eq!(open, [JobState::InQueue, JobState::InProgress]);
    }
}
