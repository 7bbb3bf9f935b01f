//! [`DetectError`], the one error a front end gets from [`crate::detect()`]: which stage
//! failed, whether the user is at fault, and the HTTP status and exit code that say so.

use crate::config::ConfigError;
use crate::framework::select::SelectError;
use crate::job::JobError;
use crate::runner::RunnerError;
use crate::workspace::WorkspaceError;

/// Why a job could not produce a summary. A failing test is never one of these.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Triage(#[from] super::TriageError),
    #[error("the job was cancelled before its runs finished")]
    Cancelled,
}

impl DetectError {
    /// True when what the user sent is at fault (HTTP 4xx), false for our faults and the
    /// network's (5xx).
    pub fn is_user_error(&self) -> bool {
        match self {
            DetectError::Job(_) | DetectError::Config(_) | DetectError::Triage(_) => true,
            DetectError::Select(e) => !matches!(e, SelectError::Plugin { .. }),
            DetectError::Workspace(e) => e.is_input_error(),
            DetectError::Runner(e) => matches!(
                e,
                RunnerError::NotFound { .. } | RunnerError::NotExecutable { .. }
            ),
            DetectError::Cancelled => false,
        }
    }

    /// The status a local API answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            DetectError::Job(_) => 400,
            _ if self.is_user_error() => 422,
            DetectError::Cancelled => 409,
            _ => 502,
        }
    }

    /// The CLI's exit status: 1 for a job that could not run, 130 for an interrupted one.
    pub fn exit_code(&self) -> i32 {
        match self {
            DetectError::Cancelled => 130,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::one_line;

    #[test]
    fn joins_the_source_chain_on_one_line() {
        let error = DetectError::Workspace(WorkspaceError::Copy {
            path: "/src/repo".into(),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied\nreally"),
        });
        assert_eq!(
            one_line(&error),
            "cannot copy local repository /src/repo: denied really"
        );
    }
}
