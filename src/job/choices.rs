//! What a job input may choose by name ([`Framework`], [`Isolation`], [`BuildOnce`]): the
//! job's vocabulary, defined here where the input is, so `config` (the repository's file) and
//! the later stages that act on a choice all depend on the job and never the other way.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Defines [`Framework`] from one line per name, so that a new language's frameworks are
/// one line each here: the variant, its spelling in inputs and summaries, [`Framework::ALL`]
/// and [`Framework::name`] all follow from it.
macro_rules! frameworks {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// A test framework we know how to install for and seed. The names are the seed
        /// project's, so its inputs keep working.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
        pub enum Framework {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Framework {
            pub const ALL: [Framework; [$($name),*].len()] = [$(Framework::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Framework::$variant => $name,)*
                }
            }
        }
    };
}

frameworks! {
    Python = "python",
    Go = "go",
    TypescriptJest = "typescript-jest",
    TypescriptVitest = "typescript-vitest",
    JavascriptMocha = "javascript-mocha",
    Rust = "rust",
    Unknown = "unknown",
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much each run is kept apart from the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Every run in its own copy of the prepared checkout.
    #[default]
    Run,
    /// One copy per parallel slot, reset between runs.
    Slot,
    /// Every run in the one checkout, as the seed project does.
    Shared,
}

/// Whether a job may build its test binaries once (`build_once` in the file and job input).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BuildOnce {
    /// Build once when the command is one we can translate; plain runs otherwise.
    #[default]
    Auto,
    /// Always plain runs.
    Off,
}
