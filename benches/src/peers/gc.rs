//! `gc` 0.5 (rust-gc): `Gc<T>` and `GcCell<T>` on a thread-local mark-and-sweep heap. No
//! reference counts: dropping a handle only unroots it, and every object, garbage or not,
//! waits for a collection; `force_collect()` marks from the rooted objects and sweeps the
//! whole heap, reporting no count.
//!
//! `Gc::new` starts a collection once the bytes allocated pass a threshold (100 bytes at
//! first, then raised so the heap stays at most 70% full after a collection). Turning it
//! off needs the crate's `unstable-config` feature, which `benches/Cargo.toml` enables:
//! the threshold is raised out of reach, then put back to the crate's default.
//!
//! The `Trace` derive writes the node's `Drop` impl itself, hence the destructor is counted
//! by a [`DropCount`] field left out of tracing.

// `gc_derive` 0.5.0 (the newest) wraps its impls in named `const _DERIVE_…` items, which
// rustc's `non_local_definitions` lint flags at every `#[derive]`.
#![allow(non_local_definitions)]

use crate::harness::{DropCount, Handles};
use ::gc::{Finalize, Gc, GcCell, GcConfig, Trace, configure, force_collect};

/// A ring node.
#[derive(Trace, Finalize)]
pub(super) struct Node {
    next: GcCell<Option<Gc<Node>>>,
    // Holds no `Gc`, so leaving it out of tracing is sound.
    #[unsafe_ignore_trace]
    _count: DropCount,
}

/// A binary-trees node.
#[derive(Trace, Finalize)]
pub(super) struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

/// The `gc` peer.
pub(super) struct Peer;

impl Handles for Peer {
    type Ring = Gc<Node>;
    type Tree = Gc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = false;
    const HAS_AUTO_COLLECT: bool = true;

    fn node(next: Option<Gc<Node>>) -> Gc<Node> {
        Gc::new(Node {
            next: GcCell::new(next),
            _count: DropCount,
        })
    }

    fn set_next(node: &Gc<Node>, next: Gc<Node>) {
        *node.next.borrow_mut() = Some(next);
    }

    fn tree_node(left: Option<Gc<Tree>>, right: Option<Gc<Tree>>) -> Gc<Tree> {
        Gc::new(Tree { left, right })
    }

    fn children(tree: &Gc<Tree>) -> [Option<&Gc<Tree>>; 2] {
        [tree.left.as_ref(), tree.right.as_ref()]
    }

    fn collect() -> Option<u64> {
        force_collect();
        None
    }

    fn set_auto_collect(on: bool) {
        let threshold = if on {
            GcConfig::default().threshold
        } else {
            usize::MAX
        };
        configure(|config| config.threshold = threshold);
    }
}
