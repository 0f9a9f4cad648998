//! The operations the interpreter runs, decoded from bytes with `arbitrary` (by
//! libFuzzer in the fuzz targets, by proptest in the test suite).

use arbitrary::{Arbitrary, Unstructured};

/// Edge slots per node.
pub const SLOTS: usize = 4;

/// Operations per input, at most.
pub const MAX_OPS: usize = 400;

/// What kind of object an allocation makes, and what its finalizer or `Drop` does.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A node whose finalizer only records that it ran.
    Quiet,
    /// A node whose finalizer searches its own edges for a way back to itself and, if
    /// it finds one, stores that handle (resurrecting itself and all it reaches).
    ResurrectSelf,
    /// A node whose finalizer stores clones of all its edges (resurrecting its
    /// neighbours).
    ResurrectEdges,
    /// A node whose finalizer panics.
    PanicFinalize,
    /// A node whose `Drop` panics.
    PanicDrop,
    /// An untracked leaf (its type holds no `Gc`): pure refcounting.
    Untracked,
}

/// One step of a graph program. Handle and slot numbers are taken modulo the number of
/// handles or slots there are; an operation on an empty list does nothing.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// `Gc::new`: a node with edges to the objects of these handles (or a leaf).
    Alloc {
        /// What to make.
        kind: Kind,
        /// Handle numbers for the edge slots.
        edges: [Option<u8>; SLOTS],
    },
    /// Clones a strong handle.
    Clone {
        /// Handle number.
        h: u8,
    },
    /// Drops a strong handle.
    Drop {
        /// Handle number.
        h: u8,
    },
    /// Points a node's slot at the object of another handle.
    SetEdge {
        /// Handle number of the node.
        h: u8,
        /// Slot.
        slot: u8,
        /// Handle number of the target.
        target: u8,
    },
    /// Empties a node's slot.
    ClearEdge {
        /// Handle number of the node.
        h: u8,
        /// Slot.
        slot: u8,
    },
    /// `Gc::downgrade`, or `Weak::with_callback` with a callback that records its run.
    Downgrade {
        /// Handle number.
        h: u8,
        /// Whether to register a callback.
        callback: bool,
    },
    /// Clones a weak handle.
    CloneWeak {
        /// Weak handle number.
        w: u8,
    },
    /// Stores a clone of a weak handle in a node's weak slot (so weak references can be
    /// garbage themselves).
    StoreWeak {
        /// Handle number of the node.
        h: u8,
        /// Weak handle number.
        w: u8,
    },
    /// Empties a node's weak slot.
    ClearWeak {
        /// Handle number of the node.
        h: u8,
    },
    /// Drops a weak handle.
    DropWeak {
        /// Weak handle number.
        w: u8,
    },
    /// `Weak::upgrade`; a strong handle is kept when it succeeds.
    Upgrade {
        /// Weak handle number.
        w: u8,
    },
    /// `collect_generation(generation)` (3 and above are invalid; 255 is `collect()`).
    Collect {
        /// Generation.
        generation: u8,
    },
    /// `set_threshold` with small values, so automatic collections are frequent.
    SetThreshold {
        /// Thresholds, taken modulo 24, 6 and 6.
        t: [u8; 3],
    },
    /// `enable()`.
    Enable,
    /// `disable()`.
    Disable,
    /// `freeze()`.
    Freeze,
    /// `unfreeze()`.
    Unfreeze,
    /// `set_debug(SAVEALL)` or `set_debug(empty)`.
    SaveAll {
        /// On or off.
        on: bool,
    },
    /// `clear_garbage()`.
    ClearGarbage,
    /// Drops what finalizers stored to resurrect.
    ReleaseSaved,
}

/// A whole program: the heap's starting settings and the operations.
#[derive(Clone, Debug)]
pub struct Program {
    /// Start with automatic collection enabled.
    pub enabled: bool,
    /// Starting thresholds (small).
    pub thresholds: [usize; 3],
    /// The operations.
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Program {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let enabled = u.arbitrary()?;
        let t: [u8; 3] = u.arbitrary()?;
        let mut ops = Vec::new();
        while ops.len() < MAX_OPS && !u.is_empty() {
            ops.push(u.arbitrary()?);
        }
        Ok(Program {
            enabled,
            thresholds: small_thresholds(t),
            ops,
        })
    }
}

impl Program {
    /// Decodes a program from raw bytes (whatever bytes: short input gives short
    /// programs).
    pub fn from_bytes(data: &[u8]) -> Program {
        let mut u = Unstructured::new(data);
        Program::arbitrary(&mut u).unwrap_or(Program {
            enabled: false,
            thresholds: [700, 10, 10],
            ops: Vec::new(),
        })
    }
}

/// Thresholds small enough that automatic collections of every generation happen.
pub fn small_thresholds(t: [u8; 3]) -> [usize; 3] {
    [
        usize::from(t[0] % 24),
        usize::from(t[1] % 6),
        usize::from(t[2] % 6),
    ]
}
