//! RunPod's local test mode (runpod-protocol.md §7.1): one job from `--test_input '<json>'`
//! or `./test_input.json`, the result JSON on stdout, exit 1 on error.

use serde_json::{Value, json};

use super::exit;
use crate::config::policy::JobPolicy;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
use crate::events::Events;
use crate::job::{JobInput, RepoPolicy};

/// Runs the job and returns the exit status. `test_input` is the JSON text itself, as with
/// the SDK's flag, not a path.
pub async fn run(test_input: Option<String>, deps: &Deps) -> i32 {
    let text = match test_input {
        Some(text) => text,
        None => match std::fs::read_to_string("test_input.json") {
            Ok(text) => text,
            Err(_) => {
                eprintln!("WARN   | test_input.json not found, exiting.");
                eprintln!("        (run `flaky-detector --help` for the other commands)");
                return exit::JOB_ERROR;
            }
        },
    };
    let document: Value = match serde_json::from_str(&text) {
        Ok(document) => document,
        Err(e) => {
            eprintln!("ERROR  | test input is not valid JSON: {e}");
            return exit::JOB_ERROR;
        }
    };
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
        Some(Value::Null) | None => {
            eprintln!("ERROR  | Job has no input parameter. Unable to run.");
            return exit::JOB_ERROR;
        }
        Some(input) => input.clone(),
    };
    let job = JobInput::from_value(input)
        .and_then(|input| input.validate(RepoPolicy { allow_local: true }));
    let job = match job {
        Ok(job) => job,
        Err(error) => return failed(&id, &one_line(&error)),
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
            exit::OK
        }
        Err(error) => failed(&id, &one_line(&error)),
    }
}

fn failed(id: &str, message: &str) -> i32 {
    println!("{}", json!({ "error": message }));
    eprintln!("ERROR  | Job {id} failed with error: {message}");
    exit::JOB_ERROR
}
