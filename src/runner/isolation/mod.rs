//! Hermetic runs: each run works in its own view of the prepared checkout (an overlay mount,
//! a copy of its own, or its slot's copy reset between runs; see [`Mechanism`]), with its own TMPDIR, cache folder, HOME, slot number and port
//! range, so concurrent runs of a test cannot make it fail by sharing files or ports.
//! `docs/isolation.md` is the user's guide; [`Places`] is the entry point.

pub mod home;
pub mod launch;
mod make;
pub mod mechanism;
mod namespace;
pub mod overlay;
pub mod place;
pub mod reset;
pub mod scratch;
pub mod slots;
pub mod tree;

pub use mechanism::Mechanism;
pub use overlay::HeldOverlay;
pub use place::{PlaceSpec, Places, RunPlace};
pub use reset::{ResetReport, SlotCopy};
pub use slots::{PORT_BASE, PORTS_PER_BLOCK, PortBlock, Slot, SlotPool};
pub use tree::{Manifest, Share};
