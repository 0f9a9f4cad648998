//! `gcmodule` 0.3: `Cc<T>` with a CPython-style collector that scans every tracked object.
//!
//! It never collects on its own: cycles stay until `collect_thread_cycles()`, which returns
//! how many objects it freed. Its `#[derive(Trace)]` cannot be used on recursive types
//! (the derived `is_type_tracked` would recurse forever), so, as the crate's docs advise,
//! both node types implement `Trace` by hand and return `true` from `is_type_tracked`.

use crate::harness::{Handles, count_drop};
use ::gcmodule::{Cc, Trace, Tracer, collect_thread_cycles};
use std::cell::RefCell;

/// A ring node.
pub(super) struct Node {
    next: RefCell<Option<Cc<Node>>>,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        count_drop();
    }
}

/// A binary-trees node. Trees cannot form cycles, so `is_type_tracked` could return
/// `false` (making `Cc<Tree>` a plain refcount); it returns `true` as the crate's docs
/// tell recursive types to, which is also what our collector and CPython do with trees.
pub(super) struct Tree {
    left: Option<Cc<Tree>>,
    right: Option<Cc<Tree>>,
}

impl Trace for Tree {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

/// The `gcmodule` peer.
pub(super) struct Peer;

impl Handles for Peer {
    type Ring = Cc<Node>;
    type Tree = Cc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = false;
    const HAS_AUTO_COLLECT: bool = false;

    fn node(next: Option<Cc<Node>>) -> Cc<Node> {
        Cc::new(Node {
            next: RefCell::new(next),
        })
    }

    fn set_next(node: &Cc<Node>, next: Cc<Node>) {
        *node.next.borrow_mut() = Some(next);
    }

    fn tree_node(left: Option<Cc<Tree>>, right: Option<Cc<Tree>>) -> Cc<Tree> {
        Cc::new(Tree { left, right })
    }

    fn children(tree: &Cc<Tree>) -> [Option<&Cc<Tree>>; 2] {
        [tree.left.as_ref(), tree.right.as_ref()]
    }

    fn collect() -> Option<u64> {
        Some(collect_thread_cycles() as u64)
    }

    fn set_auto_collect(_on: bool) {}
}
