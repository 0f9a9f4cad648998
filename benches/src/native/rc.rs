//! `std::rc::Rc` as a [`Handles`] contender: reference counting alone, no collector. A
//! ring (or a churn cycle) is freed by breaking it by hand ([`Handles::release_ring`]), as
//! an `Rc` program must.

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use std::cell::RefCell;
use std::rc::Rc;

use crate::harness::{Handles, count_drop};

/// A ring node with `Rc` that counts its drops.
pub struct Node {
    next: RefCell<Option<Rc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        count_drop();
    }
}

/// A binary-trees node with `Rc`.
pub struct Tree {
    left: Option<Rc<Tree>>,
    right: Option<Rc<Tree>>,
}

/// `std::rc::Rc`, cycles broken by hand.
pub struct RcHeap;

impl Handles for RcHeap {
    type Ring = Rc<Node>;
    type Tree = Rc<Tree>;
    const HAS_COLLECTOR: bool = false;
    const CANDIDATE_ROOTS_ONLY: bool = false;
    const HAS_AUTO_COLLECT: bool = false;

    #[inline]
    fn node(next: Option<Rc<Node>>) -> Rc<Node> {
        Rc::new(Node {
            next: RefCell::new(next),
        })
    }

    #[inline]
    fn set_next(node: &Rc<Node>, next: Rc<Node>) {
        *node.next.borrow_mut() = Some(next);
    }

    #[inline]
    fn tree_node(left: Option<Rc<Tree>>, right: Option<Rc<Tree>>) -> Rc<Tree> {
        Rc::new(Tree { left, right })
    }

    #[inline]
    fn children(tree: &Rc<Tree>) -> [Option<&Rc<Tree>>; 2] {
        [tree.left.as_ref(), tree.right.as_ref()]
    }

    /// Breaks the ring by hand: with its first node's link taken, the chain behind it and
    /// then the first node itself are freed by reference counting.
    #[inline]
    fn release_ring(first: Rc<Node>) {
        first.next.borrow_mut().take();
    }

    fn collect() -> Option<u64> {
        None
    }

    fn set_auto_collect(_on: bool) {}
}
