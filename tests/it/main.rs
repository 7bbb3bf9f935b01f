//! The fast integration tests, as one binary so the crate (libgit2, OpenSSL, SQLite, axum,
//! reqwest) is linked once rather than once per file: the history store, the dashboard,
//! reports, the runner, fetching and bad input, none of which runs many whole jobs.
//! `cargo test --lib --bins --test it` is the contributor's loop (README, "Contributing").
//! Whole jobs through the pipeline, the worker and serve are in `tests/e2e`; suites that need
//! tools beyond git, python3 and pytest in `tests/tools` and `tests/languages`. Each module
//! was a test binary of its own before issue 13.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod dashboard;
mod dashboard_status;
mod fuzz_inputs;
mod history;
mod history_cli;
mod history_folder;
mod history_sealed;
mod report_channels;
mod report_markdown;
mod runner;
mod workspace;
