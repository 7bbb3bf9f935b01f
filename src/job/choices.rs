//! What a job input may choose by name ([`Framework`], [`Isolation`], [`BuildOnce`]): the
//! job's vocabulary, defined here where the input is, so `config` (the repository's file) and
//! the later stages that act on a choice all depend on the job and never the other way.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A test framework we know how to install for and seed. The names are the seed project's,
/// so its inputs keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    Python,
    Go,
    TypescriptJest,
    TypescriptVitest,
    JavascriptMocha,
    Rust,
    Unknown,
}

impl Framework {
    pub const ALL: [Framework; 7] = [
        Framework::Python,
        Framework::Go,
        Framework::TypescriptJest,
        Framework::TypescriptVitest,
        Framework::JavascriptMocha,
        Framework::Rust,
        Framework::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Framework::Python => "python",
            Framework::Go => "go",
            Framework::TypescriptJest => "typescript-jest",
            Framework::TypescriptVitest => "typescript-vitest",
            Framework::JavascriptMocha => "javascript-mocha",
            Framework::Rust => "rust",
            Framework::Unknown => "unknown",
        }
    }

    pub fn is_node(self) -> bool {
        matches!(
            self,
            Framework::TypescriptJest | Framework::TypescriptVitest | Framework::JavascriptMocha
        )
    }
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
