//! RunPod's local test mode (runpod-protocol.md §7.1): one job from `--test_input '<json>'`
//! or `./test_input.json`, the result JSON on stdout, exit 1 on error.

use serde_json::{Value, json};

use super::error::LocalTestError;
use crate::config::policy::JobPolicy;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
use crate::events::Events;
use crate::job::{JobInput, RepoPolicy};

/// Runs the job and prints the result JSON (`{"output": …}` or `{"error": …}`) on stdout.
/// `test_input` is the JSON text itself, as with the SDK's flag, not a path.
pub async fn run(test_input: Option<String>, deps: &Deps) -> Result<(), LocalTestError> {
    let text = match test_input {
        Some(text) => text,
        None => {
            std::fs::read_to_string("test_input.json").map_err(|_| LocalTestError::NoInputFile)?
        }
    };
    let document: Value = serde_json::from_str(&text).map_err(LocalTestError::NotJson)?;
    let id = document
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("local_test")
        .to_string();
    let input = match document.get("input") {
        Some(Value::Null) | None if document.get("repo").is_some() => {
            // The seed project's test_input.json holds the input itself; accept it.
            eprintln!(
                "INFO   | test input has no `input` key; using the whole document as the input"
            );
            document.clone()
        }
        Some(Value::Null) | None => return Err(LocalTestError::NoInput),
        Some(input) => input.clone(),
    };
    let job = JobInput::from_value(input)
        .and_then(|input| input.validate(RepoPolicy { allow_local: true }));
    let job = match job {
        Ok(job) => job,
        Err(error) => return Err(failed(id, &error)),
    };
    eprintln!("INFO   | {id} | Started.");
    let cancel = super::cancel_on_signals();
    // The worker's own mode: the same policy as on the server.
    let deps = &Deps {
        policy: JobPolicy::server_from_env(),
        ..deps.clone()
    };
    match detect(job, deps, &Events::none(), &cancel).await {
        Ok(summary) => {
            println!("{}", json!({ "output": summary }));
            eprintln!("INFO   | Job {id} completed successfully.");
            eprintln!("INFO   | Local testing complete, exiting.");
            Ok(())
        }
        Err(error) => Err(failed(id, &error)),
    }
}

/// Prints the job's error as its result on stdout, as the SDK does; the caller prints the
/// log line.
fn failed(id: String, error: &(dyn std::error::Error + 'static)) -> LocalTestError {
    let message = one_line(error);
    println!("{}", json!({ "error": message }));
    LocalTestError::Failed { id, message }
}
