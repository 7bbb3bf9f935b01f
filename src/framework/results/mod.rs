//! Reading what a test runner wrote about its test cases: the common shape ([`test_result`])
//! and one reader per format ([`junit`], [`jest`], [`go_test`], and the console output as a
//! fallback, [`console`]). Pure functions from text to [`test_result::TestReport`] values,
//! kept with the framework that writes the reports, so the runner can read a run's report
//! before its directory goes and `analysis` counts the results without naming the runner.

pub mod console;
pub use super::go::results as go_test;
pub use super::node::results as jest;
pub mod junit;
pub mod test_result;
