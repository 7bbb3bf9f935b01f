//! Go's adapter code: building `go test`'s binaries once ([`build_once`]) and reading
//! `go test -json` ([`results`]).

pub mod build_once;
pub mod install;
pub mod results;
