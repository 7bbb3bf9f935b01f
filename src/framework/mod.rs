//! Which test framework a repository uses ([`Framework`]), how its dependencies are
//! installed and cached ([`install`]), how a seed reaches a run ([`seed`]), how a run is
//! told to write a per-test report ([`runner_report`]) and how that report is read
//! ([`results`]), seeded order shuffling ([`shuffle`]) and putting a shuffled job's runs back
//! in order ([`order`]). Children (installs, builds, probes) are started
//! through [`crate::process`]; the enum [`Framework`] itself is the job's ([`crate::job`]).
//!
//! Each language's side of all these lives in its own folder ([`python`], [`node`], [`go`],
//! [`rust`]) behind one trait, [`adapter::Adapter`]; the modules above ask the table
//! [`adapter::ADAPTERS`] rather than match on languages (README, "Adding a language").

pub mod adapter;
pub mod build_once;
pub mod command;
pub mod install;
pub mod install_failure;
pub mod junit_paths;
pub mod name_filter;
pub mod order;
pub mod quarantine_args;
pub mod recognise;
pub mod results;
pub mod runner_report;
pub mod select;
pub use node::script;
pub mod seed;
pub mod shipped;
pub mod shuffle;
pub mod test_location;

pub use crate::job::Framework;

/// Declares each language's folder and lists its adapter in [`ADAPTERS`], so that adding a
/// language is its folder and one line here.
macro_rules! languages {
    ($($folder:ident::$adapter:ident),* $(,)?) => {
        $(pub mod $folder;)*

        /// Every language. The order is the precedence of detection from files: a checkout
        /// with a `go.mod` and a `package.json` is Go.
        pub static ADAPTERS: &[&dyn adapter::Adapter] = &[$(&$folder::$adapter),*];
    };
}

languages! {
    go::Go,
    node::Node,
    rust::Rust,
    python::Python,
}
pub use install::{InstallReport, InstallStatus, Prepared};
