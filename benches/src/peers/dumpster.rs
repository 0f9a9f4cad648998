//! `dumpster` 2.1, its thread-local `unsync` flavour: `Gc<T>` is reference counted, and a
//! handle dropped while its object stays alive marks the object "dirty"; `collect()`
//! searches from the dirty objects for garbage cycles and reports no count.
//!
//! By default a drop starts a collection once more `Gc`s were dropped since the last one
//! than exist (`default_collect_condition`); `set_collect_condition` turns that off.

use crate::harness::{Handles, count_drop};
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

impl Handles for Peer {
    type Ring = Gc<Node>;
    type Tree = Gc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = true;
    const HAS_AUTO_COLLECT: bool = true;

    fn node(next: Option<Gc<Node>>) -> Gc<Node> {
        Gc::new(Node {
            next: RefCell::new(next),
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
        collect();
        None
    }

    fn set_auto_collect(on: bool) {
        set_collect_condition(if on { default_collect_condition } else { never });
    }
}
