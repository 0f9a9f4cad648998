//! `rust-cc` 0.6: `Cc<T>`, reference counting plus trial deletion from buffered candidate
//! roots (objects whose count was decremented without reaching zero). `collect_cycles()`
//! reports no count.
//!
//! With the default `auto-collect` feature, `Cc::new` starts a collection once the bytes
//! allocated in `Cc`s pass a threshold that adapts to the heap;
//! `config::config(|c| c.set_auto_collect(false))` turns that off.
//!
//! The `Trace` derive also writes an empty `Drop` impl for the node (so a custom `Drop`
//! cannot touch a `Cc`), hence the destructor is counted by an ignored [`DropCount`] field.

use crate::harness::{DropCount, Handles};
use ::rust_cc::{Cc, Finalize, Trace, collect_cycles, config};
use std::cell::RefCell;

/// A ring node.
#[derive(Trace, Finalize)]
pub(super) struct Node {
    next: RefCell<Option<Cc<Node>>>,
    #[rust_cc(ignore)]
    _count: DropCount,
}

/// A binary-trees node.
#[derive(Trace, Finalize)]
pub(super) struct Tree {
    left: Option<Cc<Tree>>,
    right: Option<Cc<Tree>>,
}

/// The `rust-cc` peer.
pub(super) struct Peer;

impl Handles for Peer {
    type Ring = Cc<Node>;
    type Tree = Cc<Tree>;
    const CANDIDATE_ROOTS_ONLY: bool = true;
    const HAS_AUTO_COLLECT: bool = true;

    fn node(next: Option<Cc<Node>>) -> Cc<Node> {
        Cc::new(Node {
            next: RefCell::new(next),
            _count: DropCount,
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

    fn set_auto_collect(on: bool) {
        config::config(|c| c.set_auto_collect(on))
            .expect("rust-cc configuration is not in use on this thread");
    }
}
