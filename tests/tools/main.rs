//! Integration tests that drive tools beyond git, `sh`, python3 and pytest: Go, Node, cargo-nextest,
//! make, Chromium, PostgreSQL, openssl, pytest-cov, the runpod Python SDK and actionlint. A test whose tool is
//! missing on this machine is ignored with the reason (the `has_*` cfgs come from
//! `build.rs`); with `FLAKY_REQUIRE_TOOLS=1`, as in CI, every test runs and a missing tool
//! fails it.

#[path = "../support/mod.rs"]
mod support;

mod command_failure;
mod dashboard_browser;
mod faithful;
mod history_postgres;
mod history_sealed;
mod install_failure;
mod order;
mod order_languages;
mod per_test;
mod quarantine_languages;
mod quarantine_postgres;
mod report_workflows;
mod serve_sdk;
mod shuffle;
mod triage_languages;
