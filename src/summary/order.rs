//! What the polluter search found about an order-dependent test ([`OrderFinding`]).

use serde::{Deserialize, Serialize};

/// How the tests that ran before an order-dependent test decide whether it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderRole {
    /// It passes alone and fails when `tests` run first (they leave state behind).
    Polluter,
    /// It fails alone and passes only when `tests` run first (they set state up): a
    /// brittle test, failing whenever the order leaves them out.
    StateSetter,
}

/// One order-dependent test and the tests that decide its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFinding {
    /// The order-dependent test, as named in `tests[]`.
    pub test: String,
    pub role: OrderRole,
    /// The polluters or state-setters found; empty when the search could not narrow the
    /// tests that ran first down (then `sentence` says so).
    pub tests: Vec<String>,
    /// "`test_b` fails when `test_a` runs first", or "… fails when run without `test_s`".
    pub sentence: String,
    /// A command that runs just those tests in the failing order (it fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
    /// Runs the search took.
    pub search_runs: u32,
}
