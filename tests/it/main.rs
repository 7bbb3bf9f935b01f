//! The fast integration tests, as one binary so the crate (libgit2, OpenSSL, SQLite, axum,
//! reqwest) is linked once rather than once per file. They need git, `sh`, python3 and
//! pytest, nothing else; `cargo test --lib --bins --test it` is the contributor's loop
//! (README, "Contributing"). Suites that need more tools live in `tests/tools` and
//! `tests/languages`. Each module was a test binary of its own before issue 13.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod classify;
mod dashboard;
mod early_stop;
mod fuzz_inputs;
mod hardening_data;
mod history;
mod history_cli;
mod history_folder;
mod isolation;
mod pipeline;
mod report_channels;
mod report_markdown;
mod runner;
mod runpod_worker;
mod runpod_worker_lifecycle;
mod schemas;
mod serve_api;
mod serve_docs;
mod submit;
mod submit_shards;
mod workspace;
