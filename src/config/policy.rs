//! What the operator lets a repository decide ([`JobPolicy`]). On a developer's machine
//! (`run`) the repository's `.flaky-detector.yml` is the user's own; under `worker` and
//! `serve` it comes from whoever submitted the job, so settings that keep files on the
//! shared disk or raise memory use are bounded by the operator.

use super::Settings;

/// The default ceiling on `output_limit_bytes` under `worker` and `serve`.
pub const SERVER_OUTPUT_LIMIT: usize = 1024 * 1024;
/// The ceiling on `output_limit_bytes` anywhere (the file's own maximum).
pub const MAX_OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

/// Operator limits on repository settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolicy {
    /// Honour `preserve_temp_dir` and `cleanup_on_failure: false` from the repository's file.
    /// Off on a shared server, where they would leave checkouts behind for good.
    pub repo_may_keep_dirs: bool,
    /// Highest `output_limit_bytes` a job gets; a higher value is lowered with a warning.
    /// Memory per job is about parallelism × 2 × this while runs are in flight.
    pub max_output_limit: usize,
}

impl Default for JobPolicy {
    /// A developer's own machine: the repository is trusted.
    fn default() -> Self {
        JobPolicy {
            repo_may_keep_dirs: true,
            max_output_limit: MAX_OUTPUT_LIMIT,
        }
    }
}

impl JobPolicy {
    /// A shared server (`worker`, `serve`, RunPod's local test mode):
    /// `FLAKY_ALLOW_REPO_KEEP_DIRS=1` lets repositories keep directories, and
    /// `FLAKY_MAX_OUTPUT_LIMIT_BYTES` sets the ceiling (default [`SERVER_OUTPUT_LIMIT`], at
    /// most [`MAX_OUTPUT_LIMIT`]).
    pub fn server_from_env() -> JobPolicy {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_lowercase());
        JobPolicy {
            repo_may_keep_dirs: var("FLAKY_ALLOW_REPO_KEEP_DIRS")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes" | "on")),
            max_output_limit: var("FLAKY_MAX_OUTPUT_LIMIT_BYTES")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(SERVER_OUTPUT_LIMIT)
                .clamp(1024, MAX_OUTPUT_LIMIT),
        }
    }

    /// Whether a failed job's directory is removed, given the file's `cleanup_on_failure`.
    pub fn cleanup_on_failure(&self, from_file: Option<bool>) -> bool {
        !self.repo_may_keep_dirs || from_file.unwrap_or(true)
    }

    /// Lowers what the repository asked beyond this policy, with a warning for each.
    pub fn apply(&self, settings: &mut Settings, warnings: &mut Vec<String>) {
        if !self.repo_may_keep_dirs {
            if settings.preserve_temp_dir {
                settings.preserve_temp_dir = false;
                warnings.push(
                    "`preserve_temp_dir` from the repository was ignored: this server does not let repositories keep directories".into(),
                );
            }
            if !settings.cleanup_on_failure {
                settings.cleanup_on_failure = true;
                warnings.push(
                    "`cleanup_on_failure: false` from the repository was ignored: this server does not let repositories keep directories".into(),
                );
            }
        }
        if settings.output_limit_bytes > self.max_output_limit {
            warnings.push(format!(
                "`output_limit_bytes` was lowered from {} to this server's ceiling of {}",
                settings.output_limit_bytes, self.max_output_limit
            ));
            settings.output_limit_bytes = self.max_output_limit;
        }
    }
}
