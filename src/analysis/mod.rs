//! Pure, synchronous functions from run records to figures: rates with Wilson intervals
//! ([`stats`]), severity bands ([`severity`]) and the verdict ([`verdict`]).

pub mod severity;
pub mod stats;
pub mod verdict;

pub use severity::Severity;
pub use stats::{Interval, wilson};
pub use verdict::Verdict;
