//! `bacon_rajan_cc` 0.4: `Cc<T>` with the Bacon–Rajan synchronous cycle collector.
//!
//! A decrement that leaves a count above zero buffers the object as a possible cycle root;
//! `collect_cycles()` runs trial deletion from the buffered roots only and reports no
//! count. The crate never collects on its own (the roots buffer grows until the program
//! calls `collect_cycles`). It has no derive: `Trace` is implemented by hand.

use crate::harness::{Handles, count_drop};
use ::bacon_rajan_cc::{Cc, Trace, Tracer, collect_cycles};
use std::cell::RefCell;

/// A ring node.
pub(super) struct Node {
    next: RefCell<Option<Cc<Node>>>,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        count_drop();
    }
}

/// A binary-trees node.
pub(super) struct Tree {
    left: Option<Cc<Tree>>,
    right: Option<Cc<Tree>>,
}

impl Trace for Tree {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }
}

/// The `bacon_rajan_cc` peer.
pub(super) struct Peer;

impl Handles for Peer {
    type Ring = Cc<Node>;
    type Tree = Cc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = true;
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
        collect_cycles();
        None
    }

    fn set_auto_collect(_on: bool) {}
}
