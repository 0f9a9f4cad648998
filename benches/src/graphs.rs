//! The object graphs every contender builds, written once: rings of nodes and
//! Benchmarks-Game binary-trees. The builders are generic over [`Handles`] (our `Gc`,
//! `Rc`, the handle-based peer crates); the binary-trees program is generic over
//! [`Collector`], so `gc-arena` runs it too. `gc-stress`, the criterion benches and the
//! profiling examples all use these.
//!
//! ```
//! use gc_bench::graphs::{binary_trees, rings};
//! use gc_bench::harness::{Collector, Rooted};
//! use gc_bench::native::{ours::Ours, rc::RcHeap};
//!
//! let ours = rings::<Ours>(10, 10); // 10 rings of 10 `Gc` nodes
//! drop(ours);
//! assert_eq!(gc_api::collect(), 100);
//! assert_eq!(
//!     binary_trees(&mut Rooted::<Ours>::new(), 6),
//!     binary_trees(&mut Rooted::<RcHeap>::new(), 6)
//! );
//! ```

use crate::harness::{Collector, Handles};

/// Builds one ring of `size` nodes and returns its first node: the first node, a chain of
/// `size - 1` nodes each pointing at the previous one, then `first.next = last`.
#[inline]
pub fn ring<H: Handles>(size: usize) -> H::Ring {
    let first = H::node(None);
    let mut prev = first.clone();
    for _ in 1..size {
        prev = H::node(Some(prev));
    }
    H::set_next(&first, prev);
    first
}

/// `rings` rings of `size` nodes; one handle per ring.
pub fn rings<H: Handles>(rings: usize, size: usize) -> Vec<H::Ring> {
    (0..rings).map(|_| ring::<H>(size)).collect()
}

/// Lets go of rings the way the contender must: dropped (for `Rc`: broken by hand).
pub fn release_rings<H: Handles>(rings: Vec<H::Ring>) {
    for first in rings {
        H::release_ring(first);
    }
}

/// A complete tree of `depth` levels below the root, built recursively.
pub fn tree<H: Handles>(depth: u32) -> H::Tree {
    if depth == 0 {
        H::tree_node(None, None)
    } else {
        H::tree_node(Some(tree::<H>(depth - 1)), Some(tree::<H>(depth - 1)))
    }
}

/// Nodes in a tree.
pub fn check<H: Handles>(tree: &H::Tree) -> usize {
    let [left, right] = H::children(tree);
    1 + left.map_or(0, check::<H>) + right.map_or(0, check::<H>)
}

/// The Benchmarks-Game binary-trees program: a stretch tree of `max_depth + 1`, a
/// long-lived tree of `max_depth` held throughout, and `2^(max_depth - d + 4)` trees of
/// each even depth `d` from 4, each built, checked and dropped; returns the checksum (total
/// nodes checked, [`crate::jobs::trees_checksum`]). Each tree is one unit of work
/// ([`Collector::pace`] after it).
pub fn binary_trees<C: Collector>(c: &mut C, max_depth: u32) -> usize {
    let mut total = c.checked_tree(max_depth + 1);
    c.pace();
    c.hold_tree(max_depth);
    c.pace();
    let mut depth = 4;
    while depth <= max_depth {
        let iterations = 1usize << (max_depth - depth + 4);
        for _ in 0..iterations {
            total += c.checked_tree(depth);
            c.pace();
        }
        depth += 2;
    }
    total += c.check_held_tree();
    c.release_tree();
    total
}
