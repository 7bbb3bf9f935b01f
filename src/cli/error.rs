//! [`CliError`], why a subcommand stopped, and [`Ended`], how one that ran ended. Every
//! subcommand returns one of them; `main` alone prints the error (one line, via
//! [`CliError::message`]) and turns both into the process's exit status, so the statuses
//! documented in `--help` are decided in one place.

use std::net::IpAddr;
use std::path::PathBuf;

use super::exit;
use crate::detect::DetectError;
use crate::errors::one_line;
use crate::history::HistoryError;
use crate::job::JobError;
use crate::runpod::client::ClientError;
use crate::runpod::client::shards::ShardError;
use crate::runpod::serve::ServeError;
use crate::runpod::worker::WorkerError;
use crate::runpod::worker::platform::PlatformError;
use crate::summary::merge::MergeError;

/// How a subcommand that did its work ended; each has its own exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Done (and, with `--fail-on`, below the threshold).
    Done,
    /// The job's severity reached `--fail-on`.
    SeverityReached,
    /// The job stopped because its dependencies did not install (verdict `install-failed`):
    /// it could not run its tests, which exits as a job that cannot run does.
    CouldNotRun,
    /// Ctrl-C or SIGTERM stopped the job; the finished runs were still reported.
    Interrupted,
}

impl Ended {
    pub fn exit_code(self) -> i32 {
        match self {
            Ended::Done => exit::OK,
            Ended::SeverityReached => exit::SEVERITY,
            Ended::CouldNotRun => exit::JOB_ERROR,
            Ended::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// Why a subcommand stopped without doing its work. Each variant names what the user gave
/// us (a file, a flag, an address) or wraps the stage error that does.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The job could not run; its own exit status says whether it was cancelled.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// The job input (flags, `--input`, a shard) was refused before anything ran.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A history database the user named cannot be opened, read or written.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The quarantine file, its rules or the history it is written from.
    #[error(transparent)]
    Quarantine(#[from] crate::quarantine::QuarantineError),
    /// `verify-fix`: the runs passed, but no report named the test.
    #[error(
        "`{test}` did not run: no run's report names it, so its fix cannot be verified; check the name (`flaky-detector history --test`)"
    )]
    TestDidNotRun { test: String },
    /// A Go without `-skip`: the tests to run instead could not be listed.
    #[error("cannot list the Go tests in {} (go 1.19 has no -skip, so the others are run by name)", dir.display())]
    GoList {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--keep-days {days} reaches before the calendar's start")]
    KeepDaysTooFar { days: u32 },
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Checked before anything else is opened, so the refusal is the only line printed.
    #[error(
        "refusing to listen on {host} without an API key (anyone who reaches it could run commands here): set --api-key or FLAKY_API_KEY, or pass --allow-unauthenticated-remote"
    )]
    KeylessRemote { host: IpAddr },
    #[error("cannot listen on {host}:{port}")]
    Listen {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("the dashboard server stopped")]
    Dashboard(#[source] std::io::Error),
    /// `submit`: sending, following or splitting the job(s) on the endpoint.
    #[error(transparent)]
    Shards(#[from] ShardError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("name the endpoint: --endpoint ID (or RUNPOD_ENDPOINT_ID), or --url URL")]
    NoEndpoint,
    #[error("`{0}` is not an http:// or https:// URL")]
    NotHttpUrl(String),
    #[error("cannot set up the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A JSON file the user named (`report RESULTS.json`, `submit --input`).
    #[error(transparent)]
    File(#[from] FileError),
    #[error("cannot encode the {what}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write the JUnit report to {}", path.display())]
    WriteJunit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Standing for stdout; a reader that went away is not reported as this.
    #[error("cannot write the {what}")]
    Stdout {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot read {what} from {}: {reason}", path.display())]
    SecretFile {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{flag} and {flag}-file (or their environment variables) were both given; give one")]
    SecretTwice { flag: &'static str },
    /// The local test mode speaks RunPod's SDK log format, not `error: …`.
    #[error(transparent)]
    LocalTest(#[from] LocalTestError),
}

impl CliError {
    /// The process exit status: 130 for an interrupted job, 2 for a usage error, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Detect(error) => error.exit_code(),
            CliError::Shards(error)
                if matches!(error.client_error(), Some(ClientError::Interrupted { .. })) =>
            {
                exit::INTERRUPTED
            }
            CliError::KeylessRemote { .. } | CliError::SecretTwice { .. } => exit::USAGE,
            _ => exit::JOB_ERROR,
        }
    }

    /// What the user sees on stderr: `error: ` and the messages down the source chain on
    /// one line, or the SDK-style lines of the local test mode.
    pub fn message(&self) -> String {
        match self {
            CliError::LocalTest(error) => error.to_string(),
            _ => format!("error: {}", one_line(self)),
        }
    }
}

/// Why a JSON file the user named could not be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not JSON", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is not a flaky-detector summary", path.display())]
    NotSummary {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}", path.display())]
    NotJobInput {
        path: PathBuf,
        #[source]
        source: JobError,
    },
}

/// Why RunPod's local test mode stopped, in the lines the RunPod SDK prints (runpod-protocol.md
/// §7.1), which users of the seed project know.
#[derive(Debug, thiserror::Error)]
pub enum LocalTestError {
    #[error(
        "WARN   | test_input.json not found, exiting.\n        (run `flaky-detector --help` for the other commands)"
    )]
    NoInputFile,
    #[error("ERROR  | test input is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("ERROR  | Job has no input parameter. Unable to run.")]
    NoInput,
    /// The result JSON (`{"error": …}`) is already on stdout.
    #[error("ERROR  | Job {id} failed with error: {message}")]
    Failed { id: String, message: String },
}

/// Why a flag's value was refused; clap prints it after the flag's name and exits with
/// the usage status.
#[derive(Debug, thiserror::Error)]
pub enum FlagValueError {
    #[error("`{0}` is not a number of seconds")]
    NotSeconds(String),
    #[error("`{0}` is not a non-negative number of seconds")]
    NegativeSeconds(String),
    #[error("`{0}` is not NAME=VALUE")]
    NotNameValue(String),
    #[error("expected one of {}", .0.join(", "))]
    NotOneOf(Vec<&'static str>),
}
