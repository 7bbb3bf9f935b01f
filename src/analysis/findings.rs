//! The findings of an analysis, as the summary carries them: defined in [`crate::wire`].

pub use crate::wire::findings::*;
