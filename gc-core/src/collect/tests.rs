//! Unit tests of the collector's passes, on hand-built graphs of the calling thread's heap
//! (each test runs on its own thread, so on its own heap).
#![allow(clippy::multiple_unsafe_ops_per_block)]

use super::check::garbage_is_closed;
use super::refs::{subtract_refs, update_refs};
use super::unreachable::{Pass, deduce_unreachable};
use super::validate::{Expect, check_list};
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::{Links, Obj, flags};
use crate::raw::{self, GcBox};
use crate::thread::heap;
use crate::trace::{Finalize, Trace, Tracer};
use std::cell::RefCell;

/// An owned strong reference, as a handle holds one.
struct Edge(Obj);

impl Drop for Edge {
    fn drop(&mut self) {
        // SAFETY: the edge owns one reference.
        unsafe { raw::dec_strong(self.0) };
    }
}

/// A tracked test object with any number of edges.
struct Node {
    edges: RefCell<Vec<Edge>>,
}

// SAFETY: reports each owned edge once.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        for e in self.edges.borrow().iter() {
            // SAFETY: the edge keeps its target live.
            unsafe { tracer.visit(e.0) };
        }
    }
}

impl Finalize for Node {
    fn has_finalizer() -> bool {
        false
    }
}

/// A fresh heap with automatic collection off; `n` nodes, newest first on generation 0.
fn nodes(n: usize) -> (&'static GcHeap, Vec<Edge>) {
    let h = heap();
    h.set_enabled(false);
    let made = (0..n)
        .map(|_| {
            Edge(GcBox::obj(
                raw::new_object(Node {
                    edges: RefCell::new(Vec::new()),
                })
                .expect("memory"),
            ))
        })
        .collect();
    (h, made)
}

/// Adds the edge `from -> to` (a new reference to `to`).
fn link(from: &Edge, to: &Edge) {
    // SAFETY: `to` holds its object live.
    unsafe { raw::inc_strong(to.0) };
    // SAFETY: `from` holds a live `Node`.
    let node = unsafe { raw::value::<Node>(GcBox::from_obj(from.0)) }.expect("alive");
    node.edges.borrow_mut().push(Edge(to.0));
}

fn gc_refs(e: &Edge) -> usize {
    // SAFETY: live and tracked.
    unsafe { e.0.links() }.gc_refs()
}

fn has(e: &Edge, flag: u32) -> bool {
    // SAFETY: live.
    unsafe { e.0.header() }.has(flag)
}

#[test]
fn update_and_subtract_refs_leave_the_references_from_outside() {
    let (h, n) = nodes(3);
    // 0 <-> 1 is a cycle; 2 -> 0; every node is also held by `n`.
    link(&n[0], &n[1]);
    link(&n[1], &n[0]);
    link(&n[2], &n[0]);
    let young = h.generation(0);
    // SAFETY: generation 0 is a well-formed list of live objects.
    assert_eq!(unsafe { check_list(young, Expect::Listed) }, Ok(3));
    h.set_phase(CollectorPhase::Walking);
    // SAFETY: generation 0 is a well-formed list of live tracked objects.
    assert_eq!(unsafe { update_refs(young) }, 3);
    assert_eq!([gc_refs(&n[0]), gc_refs(&n[1]), gc_refs(&n[2])], [3, 2, 1]);
    assert!(n.iter().all(|e| has(e, flags::COLLECTING)));
    // SAFETY: `update_refs` just ran on it.
    let (poisoned, lent) = unsafe { subtract_refs(h, young) };
    assert!(!poisoned && lent.is_empty());
    // Only the handles in `n` are left: one each.
    assert_eq!([gc_refs(&n[0]), gc_refs(&n[1]), gc_refs(&n[2])], [1, 1, 1]);
    h.set_phase(CollectorPhase::Idle);
    // Restore the list before the handles go (a real collection does it in
    // move_unreachable): rebuild it from scratch.
    list::init(young);
    for e in n.iter().rev() {
        // SAFETY: live, tracked, on no list now (the list was reset).
        unsafe {
            list::prepend(e.0.links_ptr(), young);
            e.0.header().clear(flags::COLLECTING);
        }
    }
    // SAFETY: the list was rebuilt from live tracked objects.
    assert_eq!(unsafe { check_list(young, Expect::Listed) }, Ok(3));
    drop(n);
    assert_eq!(crate::control::collect(2), Ok(2), "the cycle is garbage");
}

#[test]
fn deduce_unreachable_separates_garbage_and_restores_the_list() {
    let (h, n) = nodes(4);
    // 0 -> 1 -> 2 -> 1 (1 and 2 reachable from 0); 3 <-> 3 garbage once `n` lets go.
    link(&n[0], &n[1]);
    link(&n[1], &n[2]);
    link(&n[2], &n[1]);
    link(&n[3], &n[3]);
    let keep0 = Edge(n[0].0);
    // SAFETY: `n[0]` is live.
    unsafe { raw::inc_strong(keep0.0) };
    let ids: Vec<Obj> = n.iter().map(|e| e.0).collect();
    let garbage_id = ids[3];
    drop(n);
    h.set_phase(CollectorPhase::Running);
    let young = h.generation(0);
    let unreachable = Links::unlinked();
    list::init(&unreachable);
    // SAFETY: generation 0 is well formed; `unreachable` empty.
    let found = unsafe { deduce_unreachable(h, young, &unreachable, 1, Pass::Young) };
    assert_eq!((found.examined, found.unreachable), (4, 1));
    assert!(!found.poisoned && !found.freed_during_walk);
    // SAFETY: both lists are well formed after the deduction.
    assert_eq!(unsafe { check_list(young, Expect::Reachable) }, Ok(3));
    // SAFETY: `move_unreachable` leaves `unreachable` well formed.
    let checked = unsafe { check_list(&unreachable, Expect::Unreachable { collecting: true }) };
    assert_eq!(checked, Ok(1));
    let mut on_unreachable = Vec::new();
    // SAFETY: `unreachable` is well formed; the closure unlinks nothing.
    unsafe { list::for_each(&unreachable, |o| on_unreachable.push(o)) };
    assert_eq!(on_unreachable, [garbage_id]);
    // The kept objects are tagged with their next generation.
    // SAFETY: live (held by keep0 or its edges).
    let generation = |o: &Obj| unsafe { o.header() }.generation();
    assert!(ids[..3].iter().all(|o| generation(o) == 1));
    // The final check agrees that the set is closed.
    // SAFETY: the list just left by move_unreachable.
    assert!(unsafe { garbage_is_closed(h, &unreachable) });
    // Give the garbage back to the heap so that the next collection frees it.
    // SAFETY: both are well-formed lists.
    unsafe {
        super::unreachable::restore_unreachable(&unreachable, young);
    }
    h.set_phase(CollectorPhase::Idle);
    assert_eq!(crate::control::collect(2), Ok(1));
    drop(keep0);
    assert_eq!(crate::control::collect(2), Ok(2), "1 <-> 2 once 0 is gone");
}

#[test]
fn the_final_check_fails_when_a_handle_from_outside_reaches_the_set() {
    let (h, n) = nodes(2);
    link(&n[0], &n[1]);
    link(&n[1], &n[0]);
    let ids: Vec<Obj> = n.iter().map(|e| e.0).collect();
    let outside = Edge(ids[1]);
    // SAFETY: live.
    unsafe { raw::inc_strong(outside.0) };
    drop(n);
    // Put both on a garbage list by hand, as if a lying trace had made them look
    // unreachable.
    let garbage = Links::unlinked();
    list::init(&garbage);
    for &o in &ids {
        // SAFETY: live and tracked, on generation 0.
        unsafe {
            list::remove(o.links_ptr());
            list::append(o.links_ptr(), &garbage);
            o.header().set(flags::UNREACHABLE);
        }
    }
    h.set_phase(CollectorPhase::Running);
    // SAFETY: a well-formed list, all UNREACHABLE.
    let closed = unsafe { garbage_is_closed(h, &garbage) };
    assert!(!closed, "`outside` reaches it");
    drop(outside);
    // SAFETY: a well-formed list, all UNREACHABLE.
    assert!(unsafe { garbage_is_closed(h, &garbage) }, "now closed");
    // Hand them back.
    // SAFETY: well-formed lists.
    unsafe { super::unreachable::restore_unreachable(&garbage, h.generation(0)) };
    h.set_phase(CollectorPhase::Idle);
    assert_eq!(crate::control::collect(2), Ok(2));
}

#[test]
fn validate_finds_a_broken_flag() {
    let (h, n) = nodes(2);
    // SAFETY: live.
    unsafe { n[1].0.header() }.set(flags::COLLECTING);
    // SAFETY: generation 0 is a well-formed list of live objects.
    let err = unsafe { check_list(h.generation(0), Expect::Listed) }.unwrap_err();
    assert!(err.contains("object 0"), "{err}");
    // SAFETY: live.
    unsafe { n[1].0.header() }.clear(flags::COLLECTING);
    // SAFETY: generation 0 is a well-formed list of live objects.
    let checked = unsafe { check_list(h.generation(0), Expect::Listed) };
    assert_eq!(checked, Ok(2));
}

#[test]
fn a_collection_of_nothing_changes_nothing() {
    let (_h, n) = nodes(3);
    link(&n[0], &n[1]);
    assert_eq!(crate::control::collect(0), Ok(0));
    assert_eq!(crate::control::collect(2), Ok(0));
    // SAFETY: live.
    assert!(n.iter().all(|e| unsafe { e.0.header() }.generation() == 2));
    assert_eq!(crate::control::get_count(), [0, 0, 0]);
}
