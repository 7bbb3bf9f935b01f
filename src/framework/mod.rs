//! Which test framework a repository uses ([`Framework`]), how its dependencies are
//! installed and cached ([`install`]), and how a seed reaches a run ([`seed`]).

pub mod detect;
pub mod install;
pub mod report;
pub mod seed;
pub mod shuffle;

pub use detect::Framework;
pub use install::{InstallReport, InstallStatus, Prepared};
