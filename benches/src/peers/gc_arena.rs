//! `gc-arena` 0.7: an incremental mark-and-sweep collector inside an `Arena`. No reference
//! counts; a `Gc<'gc, T>` is a plain pointer branded with the arena's lifetime, so it can
//! only live inside the arena's root (its "rootable") or on the stack of one
//! `Arena::mutate` call. Everything not reachable from the root when a mutation returns
//! is garbage.
//!
//! Nothing is collected during a mutation. The program drives the collector between
//! mutations, as the crate intends: every allocation adds "debt", and `collect_debt()`
//! after each unit of work (one ring, one garbage cycle, one tree) does a share of
//! marking or sweeping proportional to it (the crate's default `Pacing`). That is this
//! contender's automatic collection; switching it off means not paying the debt.
//! `finish_cycle()` runs a collection cycle to its end; from the sleeping phase it is a
//! full collection, so a full collection here finishes any cycle already under way first.
//!
//! So the workloads are arena mutations: the rings and the long-lived tree sit in the
//! root, a churn cycle or a checked tree is built (and checked) inside one mutation and
//! is garbage once it returns. Nodes are `RefLock`s (gc-arena's `RefCell`, with the write
//! barrier) as the other crates use `RefCell`; drops are counted by a [`DropCount`] field,
//! since a `Collect` type may not implement `Drop`.

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use gc_arena::arena::CollectionPhase;
use gc_arena::{Arena, Collect, Gc, Mutation, RefLock, Rootable};

use crate::harness::{Collector, DropCount};

/// A handle to a ring node.
type Ring<'gc> = Gc<'gc, RefLock<Node<'gc>>>;

/// A ring node.
#[derive(Collect)]
#[collect(no_drop)]
pub(super) struct Node<'gc> {
    next: Option<Ring<'gc>>,
    // Holds no `Gc`: nothing to trace.
    #[collect(require_static)]
    _count: DropCount,
}

/// A binary-trees node (immutable once built, so no lock).
#[derive(Collect)]
#[collect(no_drop)]
pub(super) struct Tree<'gc> {
    left: Option<Gc<'gc, Tree<'gc>>>,
    right: Option<Gc<'gc, Tree<'gc>>>,
}

/// The arena's root: the live rings and the long-lived tree.
#[derive(Collect)]
#[collect(no_drop)]
pub(super) struct Roots<'gc> {
    rings: Vec<Ring<'gc>>,
    tree: Option<Gc<'gc, Tree<'gc>>>,
}

fn node<'gc>(mc: &Mutation<'gc>, next: Option<Ring<'gc>>) -> Ring<'gc> {
    Gc::new(
        mc,
        RefLock::new(Node {
            next,
            _count: DropCount,
        }),
    )
}

/// One ring of `size` nodes, built as [`crate::graphs::ring`] builds it.
fn ring<'gc>(mc: &Mutation<'gc>, size: usize) -> Ring<'gc> {
    let first = node(mc, None);
    let mut prev = first;
    for _ in 1..size {
        prev = node(mc, Some(prev));
    }
    first.borrow_mut(mc).next = Some(prev);
    first
}

fn tree<'gc>(mc: &Mutation<'gc>, depth: u32) -> Gc<'gc, Tree<'gc>> {
    let (left, right) = if depth == 0 {
        (None, None)
    } else {
        (Some(tree(mc, depth - 1)), Some(tree(mc, depth - 1)))
    };
    Gc::new(mc, Tree { left, right })
}

fn check(t: &Tree<'_>) -> usize {
    1 + t.left.as_deref().map_or(0, check) + t.right.as_deref().map_or(0, check)
}

/// The `gc-arena` contender: one arena, and whether the debt is paid after each unit.
pub(super) struct Heap {
    arena: Arena<Rootable![Roots<'_>]>,
    pay_debt: bool,
}

impl Collector for Heap {
    const HAS_AUTO_COLLECT: bool = true;

    fn new() -> Self {
        Heap {
            arena: Arena::new(|_| Roots {
                rings: Vec::new(),
                tree: None,
            }),
            pay_debt: true,
        }
    }

    fn build_rings(&mut self, rings: usize, size: usize) {
        self.arena
            .mutate_root(|_, root| root.rings.reserve_exact(rings));
        for _ in 0..rings {
            self.arena
                .mutate_root(|mc, root| root.rings.push(ring(mc, size)));
            self.pace();
        }
    }

    fn release_rings(&mut self) {
        self.arena.mutate_root(|_, root| root.rings = Vec::new());
    }

    /// A full collection: the cycle under way (if any) is finished, then a whole new one
    /// runs from the root. Reports the `Gc`s it freed (the arena's count before minus
    /// after).
    fn collect(&mut self) -> Option<u64> {
        let before = self.arena.metrics().total_gc_count();
        if self.arena.collection_phase() != CollectionPhase::Sleeping {
            self.arena.finish_cycle();
        }
        self.arena.finish_cycle();
        let after = self.arena.metrics().total_gc_count();
        Some(before.saturating_sub(after) as u64)
    }

    fn set_auto_collect(&mut self, on: bool) {
        self.pay_debt = on;
    }

    #[inline]
    fn garbage_cycle(&mut self) {
        // A ring of 2, unrolled: garbage once the mutation returns.
        self.arena.mutate(|mc, _| {
            let first = node(mc, None);
            first.borrow_mut(mc).next = Some(node(mc, Some(first)));
        });
    }

    fn checked_tree(&mut self, depth: u32) -> usize {
        self.arena.mutate(|mc, _| check(&tree(mc, depth)))
    }

    fn hold_tree(&mut self, depth: u32) {
        self.arena
            .mutate_root(|mc, root| root.tree = Some(tree(mc, depth)));
    }

    fn check_held_tree(&mut self) -> usize {
        self.arena
            .mutate(|_, root| root.tree.as_deref().map_or(0, check))
    }

    fn release_tree(&mut self) {
        self.arena.mutate_root(|_, root| root.tree = None);
    }

    /// The crate's intended pacing: pay the allocation debt after each unit of work.
    #[inline]
    fn pace(&mut self) {
        if self.pay_debt {
            self.arena.collect_debt();
        }
    }
}
