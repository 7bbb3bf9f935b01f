//! Whole jobs end to end, as one binary: the pipeline through the real binary (seeded flakes,
//! replays, hangs, floods, Ctrl-C), per-run isolation, classification and early stop on real
//! runs, the RunPod worker against a fake platform, `serve` and its documentation, `submit`,
//! and the output schemas checked on real summaries. They need git, `sh`, python3 and pytest.
//! Slower than `tests/it`, so not part of the contributor's fast loop; `cargo test` runs them.

#[path = "../support/mod.rs"]
mod support;

mod chosen_tests;
mod classify;
mod early_stop;
mod fork_server_socket;
mod hardening_data;
mod isolation;
mod junit_report;
mod outside_the_overlay;
mod pipeline;
mod quarantine;
mod runpod_image;
mod runpod_worker;
mod runpod_worker_lifecycle;
mod schemas;
mod sealed_data;
mod sealed_runs;
mod serve_api;
mod serve_docs;
mod submit;
mod submit_shards;
mod triage;
