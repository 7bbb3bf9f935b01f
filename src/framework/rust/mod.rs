//! Rust's adapter code: building `cargo test`'s binaries once ([`build_once`]).

pub mod build_once;
pub mod install;
