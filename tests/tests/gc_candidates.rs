//! Candidate roots: a collection whose set holds no object whose count went down to a
//! value above zero (and no object whose raw pointer escaped) finds no garbage cycle and
//! only promotes the set, without calling any `trace`. Every way of building a garbage
//! cycle in safe code leaves a candidate in it; these tests build cycles in unusual ways
//! and check that each is still collected, and that a candidate-free set costs no trace.

use gc_api::{DebugFlags, Finalize, Gc, Trace, Tracer, Weak};
use gc_tests::{blocks_in_use, reset_heap};
use std::cell::{Cell, RefCell};

thread_local! {
    static TRACE_CALLS: Cell<usize> = const { Cell::new(0) };
}

fn trace_calls() -> usize {
    TRACE_CALLS.with(Cell::get)
}

/// A node that counts the calls of its `trace`.
struct Counted {
    next: RefCell<Option<Gc<Counted>>>,
    slot: Cell<Option<Gc<Counted>>>,
}

// SAFETY: reports both of its handles once each (the `Cell` by take-and-restore).
unsafe impl Trace for Counted {
    fn trace(&self, tracer: &mut Tracer) {
        TRACE_CALLS.with(|c| c.set(c.get() + 1));
        self.next.trace(tracer);
        self.slot.trace(tracer);
    }
}

impl Finalize for Counted {
    fn has_finalizer() -> bool {
        false
    }
}

fn counted() -> Gc<Counted> {
    Gc::new(Counted {
        next: RefCell::new(None),
        slot: Cell::new(None),
    })
}

#[test]
fn a_set_without_candidates_is_collected_without_any_trace() {
    let baseline = reset_heap();
    // A chain built by moves only: no count ever goes down.
    let mut head = counted();
    for _ in 0..100 {
        let next = counted();
        *next.next.borrow_mut() = Some(head);
        head = next;
    }
    let before = trace_calls();
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(trace_calls(), before, "no candidate: no trace");
    assert_eq!(
        gc_api::get_stats()[2].collections,
        2,
        "the collection still counts"
    );
    // One clone dropped makes a candidate: the next collection runs its passes.
    drop(head.clone());
    assert_eq!(gc_api::collect(), 0);
    assert!(
        trace_calls() >= before + 2 * 101,
        "subtract_refs and move_unreachable"
    );
    // Found reachable: a candidate no more.
    let after = trace_calls();
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(trace_calls(), after);
    drop(head);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_cycle_closed_by_moving_handles_between_cells_is_collected() {
    let baseline = reset_heap();
    // A root holds both nodes; their handles move between cells with `swap`, `take` and
    // `set`, which change no count. Closing the cycle needs a second way to reach a node
    // (here a clone, dropped after): borrowck refuses to move a handle through itself.
    let root = counted();
    root.next.replace(Some(counted()));
    root.slot.set(Some(counted()));
    {
        let guard = root.next.borrow();
        let x = guard.as_ref().unwrap();
        x.slot.swap(&root.slot); // y moves from the root into x
    }
    let x = root.next.take().unwrap(); // x moves out of the root
    let x_again = x.clone();
    let y = x_again.slot.take().unwrap();
    *y.next.borrow_mut() = Some(x); // y -> x
    x_again.slot.set(Some(y)); // x -> y
    drop(x_again);
    drop(root);
    assert_eq!(gc_api::collect(), 2, "the two-node cycle");
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_cycle_closed_through_raw_pointers_is_collected() {
    let baseline = reset_heap();
    let a = counted();
    let b = counted();
    let pa = Gc::as_ptr(&a);
    let pb = Gc::as_ptr(&b);
    // SAFETY: both objects are alive (held by `a` and `b`) when their values are reached
    // through the pointers, and each handle is moved exactly once.
    unsafe {
        (*pa).next.replace(Some(b));
        (*pb).next.replace(Some(a));
    }
    // No count ever went down: only the escaped pointers make these objects candidates.
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn finalizers_and_resurrection_keep_their_cycles_collectable() {
    thread_local! {
        static KEPT: RefCell<Option<Gc<Phoenix>>> = const { RefCell::new(None) };
    }
    struct Phoenix {
        me: RefCell<Option<Gc<Phoenix>>>,
        rises: Cell<u32>,
    }
    // SAFETY: reports its one handle once.
    unsafe impl Trace for Phoenix {
        fn trace(&self, tracer: &mut Tracer) {
            self.me.trace(tracer)
        }
    }
    impl Finalize for Phoenix {
        fn finalize(&self) {
            self.rises.set(self.rises.get() + 1);
            KEPT.with(|k| *k.borrow_mut() = Gc::finalizing(self));
        }
    }
    let baseline = reset_heap();
    let p = Gc::new(Phoenix {
        me: RefCell::new(None),
        rises: Cell::new(0),
    });
    *p.me.borrow_mut() = Some(p.clone());
    drop(p);
    assert_eq!(gc_api::collect(), 0, "resurrected");
    let p = KEPT.with(|k| k.borrow_mut().take()).unwrap();
    assert_eq!(p.rises.get(), 1);
    drop(p);
    // Let go again: a garbage cycle once more, and a candidate (its count went down).
    assert_eq!(gc_api::collect(), 1);
    assert!(
        KEPT.with(|k| k.borrow().is_none()),
        "no second finalizer call"
    );
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_young_collection_keeps_the_candidates_an_older_object_reaches() {
    let baseline = reset_heap();
    let old = counted();
    gc_api::collect(); // `old` now lives in the oldest generation
    let young = counted();
    *old.next.borrow_mut() = Some(young.clone());
    *young.next.borrow_mut() = Some(old); // moved: `old` never becomes a candidate
    drop(young); // the one candidate of the cycle
    // The young set reaches `young` from outside (from `old`), so it survives; whether
    // `old` is garbage is not this collection's to know, so `young` stays a candidate.
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::collect_generation(1), Ok(0));
    assert_eq!(gc_api::collect(), 2, "the cycle across generations");
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_cycle_through_a_frozen_object_is_collected_after_unfreeze() {
    let baseline = reset_heap();
    let frozen = counted();
    gc_api::freeze();
    let young = counted();
    *frozen.next.borrow_mut() = Some(young.clone());
    *young.next.borrow_mut() = Some(frozen); // moved: no count goes down
    drop(young);
    // Reached from the permanent generation, which a full collection leaves out.
    assert_eq!(gc_api::collect(), 0);
    gc_api::unfreeze();
    assert_eq!(gc_api::collect(), 2, "the cycle through the thawed object");
    assert_eq!(blocks_in_use(), baseline);
}

/// A two-node cycle held from outside by `a` only, settled into the oldest generation by
/// full collections until one finds no candidate there (the next one then skips the
/// oldest objects altogether).
fn settled_cycle() -> Gc<Counted> {
    let a = counted();
    let b = counted();
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop(b);
    for _ in 0..3 {
        assert_eq!(gc_api::collect(), 0);
    }
    a
}

#[test]
fn a_cycle_of_old_objects_let_go_after_a_clean_full_collection_is_collected() {
    let baseline = reset_heap();
    let a = settled_cycle();
    let before = trace_calls();
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(
        trace_calls(),
        before,
        "a clean oldest generation is not traced"
    );
    drop(a); // an old object becomes a candidate
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn an_old_cycle_closed_through_a_raw_pointer_is_collected() {
    let baseline = reset_heap();
    let a = counted();
    let b = counted();
    gc_api::collect();
    gc_api::collect(); // both old, no candidate
    let pa = Gc::as_ptr(&a); // escapes: a candidate for good
    // SAFETY: `a` is alive while its value is reached through the pointer; `b` moves once.
    unsafe { (*pa).next.replace(Some(b.clone())) };
    // SAFETY: as above; `a`'s handle moves into `b` (no count changes).
    unsafe { (*Gc::as_ptr(&b)).slot.set(Some(a)) };
    drop(b);
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_candidate_promoted_into_a_clean_oldest_generation_makes_the_next_full_collection_trace() {
    let baseline = reset_heap();
    let keep = settled_cycle(); // the oldest generation is now recorded clean
    let a = counted();
    let b = counted();
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop(b); // a candidate
    // Two younger collections carry the candidate into the oldest generation.
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::collect_generation(1), Ok(0));
    let before = trace_calls();
    assert_eq!(gc_api::collect(), 0);
    assert!(trace_calls() > before, "the promoted candidate is traced");
    drop(a);
    assert_eq!(gc_api::collect(), 2);
    drop(keep);
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn an_old_object_lent_by_get_mut_rejoins_the_young_and_is_collected() {
    let baseline = reset_heap();
    let keep = settled_cycle();
    let mut a = counted();
    gc_api::collect();
    gc_api::collect(); // `a` old, the oldest generation clean
    let b = counted();
    // The loan takes `a` off the oldest generation; the move closes a cycle.
    *Gc::get_mut(&mut a).unwrap().next.get_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a);
    drop(b);
    // The lent object comes back when a trace reports it: one or two collections (as
    // `Gc::get_mut` documents).
    let first = gc_api::collect();
    assert_eq!(first + gc_api::collect(), 2);
    drop(keep);
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn freezing_and_thawing_a_clean_heap_keeps_its_cycles_collectable() {
    let baseline = reset_heap();
    let a = settled_cycle();
    gc_api::freeze();
    assert_eq!(gc_api::collect(), 0);
    drop(a); // a frozen object becomes a candidate: not the oldest generation's concern
    assert_eq!(gc_api::collect(), 0, "frozen objects are left alone");
    gc_api::unfreeze();
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn saved_garbage_that_joins_the_oldest_generation_after_a_freeze_in_a_weak_callback_is_collected() {
    let baseline = reset_heap();
    gc_api::set_debug(DebugFlags::SAVEALL);
    let a = counted();
    let b = counted();
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    // Runs in the middle of the collection, before the garbage is saved into the oldest
    // generation.
    let watch = Weak::with_callback(&a, gc_api::freeze);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2, "found and saved");
    gc_api::set_debug(DebugFlags::empty());
    gc_api::clear_garbage(); // counts go down on objects that are candidates already
    assert_eq!(gc_api::collect(), 2, "the saved cycle, now let go");
    drop(watch);
    gc_api::unfreeze();
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(blocks_in_use(), baseline);
}

thread_local! {
    static RISEN: RefCell<Option<Gc<Riser>>> = const { RefCell::new(None) };
}

/// A node whose finalizer freezes the heap and resurrects itself.
struct Riser {
    next: RefCell<Option<Gc<Riser>>>,
}

// SAFETY: reports its one handle once.
unsafe impl Trace for Riser {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

impl Finalize for Riser {
    fn finalize(&self) {
        gc_api::freeze();
        RISEN.with(|r| *r.borrow_mut() = Gc::finalizing(self));
    }
}

fn resurrected_after_a_freeze(collection: impl FnOnce() -> usize) {
    let baseline = reset_heap();
    let a = Gc::new(Riser {
        next: RefCell::new(None),
    });
    let b = Gc::new(Riser {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b);
    drop(a);
    assert_eq!(collection(), 0, "resurrected into the oldest generation");
    let a = RISEN
        .with(|r| r.borrow_mut().take())
        .expect("a finalizer kept its object");
    drop(a); // the cycle is garbage again; its objects are candidates already
    assert_eq!(gc_api::collect(), 2);
    RISEN.with(|r| r.borrow_mut().take());
    gc_api::unfreeze();
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn objects_resurrected_into_the_oldest_generation_after_a_freeze_in_a_finalizer_are_collected() {
    resurrected_after_a_freeze(gc_api::collect);
}

#[test]
fn objects_a_generation_1_collection_resurrects_after_a_freeze_are_collected() {
    resurrected_after_a_freeze(|| gc_api::collect_generation(1).unwrap());
}
