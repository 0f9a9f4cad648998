//! The one harness every Rust contender runs in: two small traits, the drop counter, and
//! the adapter between them.
//!
//! * [`Collector`] is what the workloads in [`crate::native`] are written against, once:
//!   a heap holding a root set (rings, one long-lived tree) and the units of work the jobs
//!   are made of (build rings, make a garbage cycle, build and check a tree, collect).
//!   After each unit the workloads call [`Collector::pace`], where a collector that is
//!   driven from outside does its share of collection work (`gc-arena`'s
//!   `collect_debt`).
//! * [`Handles`] is the easier trait for a memory manager whose handles are ordinary Rust
//!   values: how to make and link one ring node or tree node, and how to collect. Our
//!   `gc_api::Gc` ([`crate::native::ours`]), `std::rc::Rc` ([`crate::native::rc`]) and the
//!   five handle-based peer crates ([`crate::peers`]) implement it, and [`Rooted`] turns any
//!   of them into a [`Collector`]. `gc-arena`, whose `Gc<'gc, T>` cannot leave an arena
//!   mutation, implements [`Collector`] directly.
//!
//! Destructor runs are counted by the ring-node types themselves (a thread-local counter,
//! [`dropped`]), so every report can be checked against the objects the job created.

use std::cell::Cell;
use std::time::Duration;

use crate::clock::Stamp;

thread_local! {
    /// Destructor runs of ring nodes on this thread.
    static DROPPED: Cell<u64> = const { Cell::new(0) };
}

/// Counts one destructor run; called from each contender's ring-node `Drop`.
#[inline]
pub fn count_drop() {
    DROPPED.with(|d| d.set(d.get() + 1));
}

/// Ring-node destructor runs on this thread so far.
#[inline]
pub fn dropped() -> u64 {
    DROPPED.with(Cell::get)
}

/// A zero-sized field that counts its own drop, for node types that may not implement
/// `Drop` themselves (`rust-cc` and `gc` write it in their derive, `gc-arena` forbids it).
/// It holds no handle, so leaving it out of tracing is sound.
#[derive(Debug, Default)]
pub struct DropCount;

impl Drop for DropCount {
    fn drop(&mut self) {
        count_drop();
    }
}

/// A memory manager measured by `gc-stress`, seen as a heap with a root set and the units
/// of work the jobs are made of. Every workload of [`crate::native`] is written once
/// against this trait.
pub trait Collector {
    /// Whether it has a collector at all (`Rc` does not: its rings are broken by hand and
    /// its `collect` does nothing).
    const HAS_COLLECTOR: bool = true;

    /// Whether it collects on its own, so that [`Collector::set_auto_collect`] can switch
    /// that off.
    const HAS_AUTO_COLLECT: bool;

    /// Whether it has generations ([`Collector::young_collect`] and
    /// [`Collector::generation_collections`] answer).
    const HAS_GENERATIONS: bool = false;

    /// An empty heap with an empty root set.
    fn new() -> Self
    where
        Self: Sized;

    /// Builds `rings` rings of `size` nodes (see [`crate::graphs::ring`]) and holds one
    /// handle per ring in the root set.
    fn build_rings(&mut self, rings: usize, size: usize);

    /// Lets go of every ring handle in the root set (for `Rc`: breaks each ring by hand,
    /// which frees it).
    fn release_rings(&mut self);

    /// Untimed preparation before a full collection over the live rings: a collector that
    /// only examines buffered candidate roots gets every ring buffered as one, so it has to
    /// prove the whole live heap alive as a full collection of ours does.
    fn prepare_full_collection(&mut self) {}

    /// A full collection; the number of objects it reports freed, where it reports one.
    fn collect(&mut self) -> Option<u64>;

    /// A collection of the youngest generation only (`None`: no generations).
    fn young_collect(&mut self) -> Option<u64> {
        None
    }

    /// Collections run so far per generation (`None`: no generations).
    fn generation_collections(&self) -> Option<[u64; 3]> {
        None
    }

    /// Switches automatic collection off (`false`) or back to its default policy (`true`).
    fn set_auto_collect(&mut self, on: bool);

    /// One unit of churn: a 2-node garbage cycle made and let go of (for `Rc`: broken by
    /// hand).
    fn garbage_cycle(&mut self);

    /// Builds a complete binary tree of `depth` levels below the root, counts its nodes
    /// and lets go of it.
    fn checked_tree(&mut self, depth: u32) -> usize;

    /// Builds a tree of `depth` levels and holds it in the root set.
    fn hold_tree(&mut self, depth: u32);

    /// Nodes of the tree held by [`Collector::hold_tree`] (0 if none).
    fn check_held_tree(&mut self) -> usize;

    /// Lets go of the held tree.
    fn release_tree(&mut self);

    /// Called after every unit of work: where a collector is driven from outside, its share
    /// of collection work (if automatic collection is on).
    #[inline]
    fn pace(&mut self) {}
}

/// A memory manager whose handles are plain Rust values: our `Gc`, `Rc` and the
/// handle-based peer crates. [`Rooted`] makes it a [`Collector`].
pub trait Handles {
    /// A handle to a ring node.
    type Ring: Clone;
    /// A handle to a binary-tree node.
    type Tree;

    /// See [`Collector::HAS_COLLECTOR`].
    const HAS_COLLECTOR: bool = true;

    /// Whether a collection only examines objects the crate has buffered as possible cycle
    /// roots (handles dropped while their object stayed alive), rather than every object.
    /// For such a crate a collection over a live heap nobody touched does nothing at all,
    /// so [`Collector::prepare_full_collection`] first makes every ring a candidate.
    const CANDIDATE_ROOTS_ONLY: bool;

    /// See [`Collector::HAS_AUTO_COLLECT`].
    const HAS_AUTO_COLLECT: bool;

    /// See [`Collector::HAS_GENERATIONS`].
    const HAS_GENERATIONS: bool = false;

    /// A new ring node pointing at `next`.
    fn node(next: Option<Self::Ring>) -> Self::Ring;

    /// Points `node` at `next` (closing a ring).
    fn set_next(node: &Self::Ring, next: Self::Ring);

    /// A new tree node with these children.
    fn tree_node(left: Option<Self::Tree>, right: Option<Self::Tree>) -> Self::Tree;

    /// A tree node's children.
    fn children(tree: &Self::Tree) -> [Option<&Self::Tree>; 2];

    /// Lets go of a ring through its first node. The default drops the handle; `Rc`
    /// breaks the ring by hand first.
    #[inline]
    fn release_ring(first: Self::Ring) {
        drop(first);
    }

    /// See [`Collector::collect`].
    fn collect() -> Option<u64>;

    /// See [`Collector::young_collect`].
    fn young_collect() -> Option<u64> {
        None
    }

    /// See [`Collector::generation_collections`].
    fn generation_collections() -> Option<[u64; 3]> {
        None
    }

    /// See [`Collector::set_auto_collect`]; a no-op for crates without automatic
    /// collection.
    fn set_auto_collect(on: bool);
}

/// Makes a live ring a possible cycle root for a [`Handles::CANDIDATE_ROOTS_ONLY`] crate:
/// dropping a clone decrements the count without reaching zero, which is exactly what
/// buffers an object as a candidate in these collectors.
fn touch<R: Clone>(ring: &R) {
    drop(ring.clone());
}

/// A [`Handles`] memory manager with its root set: the [`Collector`] the workloads run.
pub struct Rooted<H: Handles> {
    rings: Vec<H::Ring>,
    tree: Option<H::Tree>,
}

impl<H: Handles> std::fmt::Debug for Rooted<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooted")
            .field("rings", &self.rings.len())
            .field("tree", &self.tree.is_some())
            .finish()
    }
}

impl<H: Handles> Rooted<H> {
    /// The ring handles held (one per ring).
    pub fn rings(&self) -> &[H::Ring] {
        &self.rings
    }

    /// Takes the ring handles out of the root set.
    pub fn take_rings(&mut self) -> Vec<H::Ring> {
        std::mem::take(&mut self.rings)
    }
}

impl<H: Handles> Collector for Rooted<H> {
    const HAS_COLLECTOR: bool = H::HAS_COLLECTOR;
    const HAS_AUTO_COLLECT: bool = H::HAS_AUTO_COLLECT;
    const HAS_GENERATIONS: bool = H::HAS_GENERATIONS;

    fn new() -> Self {
        Rooted {
            rings: Vec::new(),
            tree: None,
        }
    }

    fn build_rings(&mut self, rings: usize, size: usize) {
        self.rings.reserve_exact(rings);
        for _ in 0..rings {
            self.rings.push(crate::graphs::ring::<H>(size));
        }
    }

    fn release_rings(&mut self) {
        for first in std::mem::take(&mut self.rings) {
            H::release_ring(first);
        }
    }

    fn prepare_full_collection(&mut self) {
        if H::CANDIDATE_ROOTS_ONLY {
            self.rings.iter().for_each(touch);
        }
    }

    fn collect(&mut self) -> Option<u64> {
        H::collect()
    }

    fn young_collect(&mut self) -> Option<u64> {
        H::young_collect()
    }

    fn generation_collections(&self) -> Option<[u64; 3]> {
        H::generation_collections()
    }

    fn set_auto_collect(&mut self, on: bool) {
        H::set_auto_collect(on);
    }

    /// [`crate::graphs::ring`] of 2, unrolled.
    #[inline]
    fn garbage_cycle(&mut self) {
        let first = H::node(None);
        let second = H::node(Some(first.clone()));
        H::set_next(&first, second);
        H::release_ring(first);
    }

    #[inline]
    fn checked_tree(&mut self, depth: u32) -> usize {
        crate::graphs::check::<H>(&crate::graphs::tree::<H>(depth))
    }

    fn hold_tree(&mut self, depth: u32) {
        self.tree = Some(crate::graphs::tree::<H>(depth));
    }

    fn check_held_tree(&mut self) -> usize {
        self.tree.as_ref().map_or(0, crate::graphs::check::<H>)
    }

    fn release_tree(&mut self) {
        self.tree = None;
    }
}

/// Calls the full collection until `target` destructors have run in all (counted by
/// [`dropped`]) or a call frees nothing more; returns the time of all calls and the sum of
/// the reported counts.
pub fn collect_until<C: Collector>(c: &mut C, target: u64) -> (Duration, Option<u64>) {
    let start = Stamp::now();
    let mut reported: Option<u64> = None;
    loop {
        let before = dropped();
        if let Some(n) = c.collect() {
            *reported.get_or_insert(0) += n;
        }
        let after = dropped();
        if after >= target || after == before {
            break;
        }
    }
    (start.elapsed(), reported)
}
