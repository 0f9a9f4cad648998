//! The thread-safe flavour (`gc_api::sync`): one heap shared by every thread, atomic
//! reference counts with a modification count, versioned cells, and a cycle collector that
//! never stops a mutator: it validates what it found instead (SYNC-DESIGN.md; the argument
//! is at the top of `collect`).
//!
//! Layers, each using only those above it in this list: `prim` (atomics and locks, loom's
//! under `cfg(loom)`), `panics` (user code's panics kept for later), `header` (the object
//! and its count word), `home` (generation lists and who owns an object's links), `state`
//! (the process-wide heap), `release` (the free path), `collect` (one collection),
//! `control` (the `gc` module and the trigger), `cells` (`GcMutex`, `GcRwLock`, the
//! `AtomicGc` slot) and `raw` (what gc-api's handles call).
//! Nothing outside this module depends on it except through `raw`, `cells`, `control`.

mod cells;
mod collect;
pub mod control;
mod header;
mod home;
mod panics;
mod prim;
pub mod raw;
mod release;
mod state;

pub use cells::{
    AtomicSlot, GcMutex, GcMutexGuard, GcRwLock, GcRwLockReadGuard, GcRwLockWriteGuard,
};
pub use header::{SyncHeader, SyncVTable};
pub use state::WeakCallbackSlot;
