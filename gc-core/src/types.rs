//! Layer 0: the value types of the control surface (Python's `gc` module: `get_stats()`
//! entries, `gc.callbacks` phases and info, `DEBUG_*` flags), shared by every layer above
//! and by any flavour of heap. Plain data: no invariant beyond each type's own.

use std::fmt;

/// Generations of the collector (CPython's `NUM_GENERATIONS`).
pub const NUM_GENERATIONS: usize = 3;

/// The thresholds a new heap starts with (`gc.get_threshold()` of a fresh interpreter).
pub const DEFAULT_THRESHOLDS: [usize; NUM_GENERATIONS] = [700, 10, 10];

/// Per-generation statistics (`gc.get_stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerationStats {
    /// Collections of this generation.
    pub collections: usize,
    /// Objects those collections found unreachable and freed (or saved).
    pub collected: usize,
    /// Objects found uncollectable (always 0: there are no legacy finalizers).
    pub uncollectable: usize,
}

/// When a collection callback is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before the collection.
    Start,
    /// After the collection.
    Stop,
}

/// What a collection callback is told (`info` of Python's `gc.callbacks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackInfo {
    /// The generation being collected.
    pub generation: usize,
    /// Objects collected (0 at `Phase::Start`).
    pub collected: usize,
    /// Objects found uncollectable (always 0).
    pub uncollectable: usize,
}

/// Names a registered collection callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(crate) u64);

bitflags::bitflags! {
    /// Debugging flags (`gc.set_debug`). Output goes to `tracing` events with target `"gc"`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct DebugFlags: u32 {
        /// Statistics at the start and end of each collection.
        const STATS = 1;
        /// Each collectable object found.
        const COLLECTABLE = 2;
        /// Each uncollectable object found (none exist here; kept for parity).
        const UNCOLLECTABLE = 4;
        /// Unreachable objects go to `garbage()` instead of being freed.
        const SAVEALL = 32;
        /// `COLLECTABLE | UNCOLLECTABLE | SAVEALL`, as Python's `DEBUG_LEAK`.
        const LEAK = 2 | 4 | 32;
    }
}

/// Errors of the control functions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GcError {
    /// A generation number outside `0..=2`.
    InvalidGeneration(usize),
    /// The allocator could not provide memory.
    OutOfMemory,
}

impl fmt::Display for GcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcError::InvalidGeneration(g) => {
                write!(f, "invalid generation {g}: generations are 0, 1 and 2")
            }
            GcError::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

impl std::error::Error for GcError {}

/// `Ok` for a generation number in `0..NUM_GENERATIONS`.
pub fn check_generation(generation: usize) -> Result<usize, GcError> {
    if generation < NUM_GENERATIONS {
        Ok(generation)
    } else {
        Err(GcError::InvalidGeneration(generation))
    }
}
