//! `bacon_rajan_cc` 0.4: `Cc<T>` with the Bacon–Rajan synchronous cycle collector.
//!
//! A decrement that leaves a count above zero buffers the object as a possible cycle root;
//! `collect_cycles()` runs trial deletion from the buffered roots only and reports no
//! count. The crate never collects on its own (the roots buffer grows until the program
//! calls `collect_cycles`). It has no derive: `Trace` is implemented by hand.

use super::{PeerGc, count_drop};
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

impl PeerGc for Peer {
    type Ring = Cc<Node>;
    type Tree = Cc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = true;
    const HAS_AUTO_COLLECT: bool = false;

    fn ring(size: usize) -> Cc<Node> {
        let first = Cc::new(Node {
            next: RefCell::new(None),
        });
        let mut prev = first.clone();
        for _ in 1..size {
            prev = Cc::new(Node {
                next: RefCell::new(Some(prev)),
            });
        }
        *first.next.borrow_mut() = Some(prev);
        first
    }

    fn tree(depth: u32) -> Cc<Tree> {
        if depth == 0 {
            Cc::new(Tree {
                left: None,
                right: None,
            })
        } else {
            Cc::new(Tree {
                left: Some(Self::tree(depth - 1)),
                right: Some(Self::tree(depth - 1)),
            })
        }
    }

    fn check(tree: &Cc<Tree>) -> usize {
        1 + tree.left.as_ref().map_or(0, Self::check) + tree.right.as_ref().map_or(0, Self::check)
    }

    fn collect() -> Option<u64> {
        collect_cycles();
        None
    }

    fn set_auto_collect(_on: bool) {}
}
