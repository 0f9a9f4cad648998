//! Object-graph workloads for the collector, each in a `Gc` form and an `Rc` form so the
//! two run side by side: rings of nodes, a live heap, and Benchmarks-Game binary-trees.

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use gc_api::{Finalize, Gc, Trace};
use std::cell::RefCell;
use std::rc::Rc;

/// A ring node on the collected heap.
#[derive(Trace, Finalize)]
pub struct GcNode {
    pub next: RefCell<Option<Gc<GcNode>>>,
}

/// The same node with `Rc`; rings must be broken by hand.
pub struct RcNode {
    pub next: RefCell<Option<Rc<RcNode>>>,
}

/// `rings` rings of `size` nodes; returns one handle per ring.
pub fn gc_rings(rings: usize, size: usize) -> Vec<Gc<GcNode>> {
    (0..rings)
        .map(|_| {
            let first = Gc::new(GcNode {
                next: RefCell::new(None),
            });
            let mut prev = first.clone();
            for _ in 1..size {
                prev = Gc::new(GcNode {
                    next: RefCell::new(Some(prev)),
                });
            }
            *first.next.borrow_mut() = Some(prev);
            first
        })
        .collect()
}

/// `rings` rings of `size` `Rc` nodes; returns one handle per ring.
pub fn rc_rings(rings: usize, size: usize) -> Vec<Rc<RcNode>> {
    (0..rings)
        .map(|_| {
            let first = Rc::new(RcNode {
                next: RefCell::new(None),
            });
            let mut prev = first.clone();
            for _ in 1..size {
                prev = Rc::new(RcNode {
                    next: RefCell::new(Some(prev)),
                });
            }
            *first.next.borrow_mut() = Some(prev);
            first
        })
        .collect()
}

/// Frees `Rc` rings the only way `Rc` can: by breaking each cycle by hand.
pub fn rc_drop_rings(rings: Vec<Rc<RcNode>>) {
    for first in rings {
        first.next.borrow_mut().take();
    }
}

/// A binary-trees node on the collected heap.
#[derive(Trace, Finalize)]
pub struct GcTree {
    pub left: Option<Gc<GcTree>>,
    pub right: Option<Gc<GcTree>>,
}

/// A binary-trees node with `Rc`.
pub struct RcTree {
    pub left: Option<Rc<RcTree>>,
    pub right: Option<Rc<RcTree>>,
}

/// A complete tree of `depth` levels below the root.
pub fn gc_tree(depth: u32) -> Gc<GcTree> {
    if depth == 0 {
        Gc::new(GcTree {
            left: None,
            right: None,
        })
    } else {
        Gc::new(GcTree {
            left: Some(gc_tree(depth - 1)),
            right: Some(gc_tree(depth - 1)),
        })
    }
}

/// A complete `Rc` tree of `depth` levels below the root.
pub fn rc_tree(depth: u32) -> Rc<RcTree> {
    if depth == 0 {
        Rc::new(RcTree {
            left: None,
            right: None,
        })
    } else {
        Rc::new(RcTree {
            left: Some(rc_tree(depth - 1)),
            right: Some(rc_tree(depth - 1)),
        })
    }
}

/// Nodes of a `Gc` tree.
pub fn gc_check(t: &GcTree) -> usize {
    1 + t.left.as_deref().map_or(0, gc_check) + t.right.as_deref().map_or(0, gc_check)
}

/// Nodes of an `Rc` tree.
pub fn rc_check(t: &RcTree) -> usize {
    1 + t.left.as_deref().map_or(0, rc_check) + t.right.as_deref().map_or(0, rc_check)
}

/// The Benchmarks-Game binary-trees program with `Gc` nodes; returns the total checksum.
pub fn gc_binary_trees(max_depth: u32) -> usize {
    let mut total = gc_check(&gc_tree(max_depth + 1));
    let long_lived = gc_tree(max_depth);
    let mut depth = 4;
    while depth <= max_depth {
        let iterations = 1usize << (max_depth - depth + 4);
        for _ in 0..iterations {
            total += gc_check(&gc_tree(depth));
        }
        depth += 2;
    }
    total + gc_check(&long_lived)
}

/// The Benchmarks-Game binary-trees program with `Rc` nodes; returns the total checksum.
pub fn rc_binary_trees(max_depth: u32) -> usize {
    let mut total = rc_check(&rc_tree(max_depth + 1));
    let long_lived = rc_tree(max_depth);
    let mut depth = 4;
    while depth <= max_depth {
        let iterations = 1usize << (max_depth - depth + 4);
        for _ in 0..iterations {
            total += rc_check(&rc_tree(depth));
        }
        depth += 2;
    }
    total + rc_check(&long_lived)
}
