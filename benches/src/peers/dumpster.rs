//! `dumpster` 2.1, its thread-local `unsync` flavour: `Gc<T>` is reference counted, and a
//! handle dropped while its object stays alive marks the object "dirty"; `collect()`
//! searches from the dirty objects for garbage cycles and reports no count.
//!
//! By default a drop starts a collection once more `Gc`s were dropped since the last one
//! than exist (`default_collect_condition`); `set_collect_condition` turns that off.

use super::{PeerGc, count_drop};
use ::dumpster::Trace;
use ::dumpster::unsync::{
    CollectInfo, Gc, collect, default_collect_condition, set_collect_condition,
};
use std::cell::RefCell;

/// A ring node.
#[derive(Trace)]
pub(super) struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

// `dumpster` allows `Drop` on traced types; this one touches no `Gc`.
impl Drop for Node {
    fn drop(&mut self) {
        count_drop();
    }
}

/// A binary-trees node.
#[derive(Trace)]
pub(super) struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

/// Collection condition that never starts a collection.
fn never(_: &CollectInfo) -> bool {
    false
}

/// The `dumpster` peer.
pub(super) struct Peer;

impl PeerGc for Peer {
    type Ring = Gc<Node>;
    type Tree = Gc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = true;
    const HAS_AUTO_COLLECT: bool = true;

    fn ring(size: usize) -> Gc<Node> {
        let first = Gc::new(Node {
            next: RefCell::new(None),
        });
        let mut prev = first.clone();
        for _ in 1..size {
            prev = Gc::new(Node {
                next: RefCell::new(Some(prev)),
            });
        }
        *first.next.borrow_mut() = Some(prev);
        first
    }

    fn tree(depth: u32) -> Gc<Tree> {
        if depth == 0 {
            Gc::new(Tree {
                left: None,
                right: None,
            })
        } else {
            Gc::new(Tree {
                left: Some(Self::tree(depth - 1)),
                right: Some(Self::tree(depth - 1)),
            })
        }
    }

    fn check(tree: &Gc<Tree>) -> usize {
        1 + tree.left.as_ref().map_or(0, Self::check) + tree.right.as_ref().map_or(0, Self::check)
    }

    fn collect() -> Option<u64> {
        collect();
        None
    }

    fn set_auto_collect(on: bool) {
        set_collect_condition(if on { default_collect_condition } else { never });
    }
}
