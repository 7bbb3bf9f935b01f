//! Node's adapter code (Jest, Vitest, Mocha): reading Jest's JSON report ([`results`]).

pub mod install;
pub mod results;
