//! The cycle collector: CPython's `gc_collect_main`, step by step, with its names.
//!
//! 1. merge the younger generations into the one collected (`young`);
//! 2. `update_refs`: `gc_refs` = strong count, for each object of `young`;
//! 3. `subtract_refs`: every edge inside `young` takes one off its target's `gc_refs`;
//! 4. `move_unreachable`: objects with `gc_refs > 0`, and all they reach, stay; the rest
//!    move to `unreachable`;
//! 5. survivors move one generation up;
//! 6. `handle_weakrefs`: weak references to the unreachable die; callbacks of those not
//!    themselves unreachable run;
//! 7. `finalize_garbage`: PEP 442 finalizers, once per object;
//! 8. `handle_resurrected_objects`: steps 2-4 again on `unreachable`; what a finalizer
//!    made reachable survives;
//! 9. the final check (`garbage_is_closed`): over exactly the set left, fresh strong counts
//!    against one more trace of each member; unless every handle to a member is owned by a
//!    member, the whole set survives this collection;
//! 10. `delete_garbage`: the values of what is left are dropped (memory goes when the last
//!     handle does), or saved in `garbage()` under `SAVEALL`.
//!
//! Why step 9: steps 3 and 4 trace each object separately, and a `trace` that reports an
//! owned edge in the first and omits it in the second (on alternate calls, by a counter, or
//! by moving the handle out while being traced) would have a reachable object's value
//! dropped under a live `&T`. The rule: nothing is dropped unless, at one moment after every
//! finalizer ran, the sum of the members' strong counts equals the number of edges the
//! members report into the set. `Trace`'s contract forbids reporting a handle the value does
//! not own, so each member's count is at least the edges reported to it, and equal sums mean
//! each is exactly that: no stack, no reachable object, no thread-local holds a handle to
//! the set. A trace that reports too few edges in any pass can only make the check fail,
//! which leaks for one collection and never frees. The check walks only the garbage: a
//! collection that finds none pays nothing.
//!
//! No step recurses or allocates in proportion to the heap: the lists are intrusive, and
//! `gc_refs` lives in each object's `prev` link while the object is `COLLECTING`.
//! While steps 2-4 walk the lists, frees are deferred so the walk never sees a list change.

use crate::control::{CallbackInfo, DebugFlags, Phase};
use crate::gc_heap::{GcHeap, NUM_GENERATIONS};
use crate::list;
use crate::object::{Header, Links, TraceMode, Tracer, flags};
use std::ptr::{self, NonNull};
use std::time::Instant;

/// Collects the oldest generation whose count exceeds its threshold (CPython's
/// `gc_collect_generations`), with the 25% rule for the oldest generation: a full
/// collection runs only when the objects promoted into generation 2 since the last one
/// are at least a quarter of those that survived it, and there are some. (CPython's heap
/// is never empty; without the "some", an empty heap would run a pointless full
/// collection every eleventh middle collection and CPython's own 131/11 figures for
/// 100k cyclic allocations would become 130/11/1.)
pub(crate) fn collect_generations(heap: &GcHeap) -> usize {
    for g in (0..NUM_GENERATIONS).rev() {
        if heap.counts[g].get() > heap.thresholds[g].get() {
            let pending = heap.long_lived_pending.get();
            if g == NUM_GENERATIONS - 1
                && (pending < heap.long_lived_total.get() / 4 || pending == 0)
            {
                continue;
            }
            return collect_main(heap, g);
        }
    }
    0
}

/// Runs one collection of generations `0..=generation` with callbacks; returns the number
/// of unreachable objects found. Returns 0 at once if a collection is running.
pub(crate) fn collect_main(heap: &GcHeap, generation: usize) -> usize {
    if heap.collecting.get() {
        return 0;
    }
    heap.collecting.set(true);
    // A `tracing` subscriber is user code too: if it panics where the lists are
    // consistent (span, start and end events), the heap must not stay "collecting".
    struct Collecting<'a>(&'a GcHeap);
    impl Drop for Collecting<'_> {
        fn drop(&mut self) {
            self.0.collecting.set(false);
        }
    }
    let collecting = Collecting(heap);
    heap.invoke_callbacks(
        Phase::Start,
        &CallbackInfo {
            generation,
            collected: 0,
            uncollectable: 0,
        },
    );
    let collected = gc_collect_main(heap, generation);
    heap.invoke_callbacks(
        Phase::Stop,
        &CallbackInfo {
            generation,
            collected,
            uncollectable: 0,
        },
    );
    drop(collecting);
    heap.raise_pending_panic();
    collected
}

fn gc_collect_main(heap: &GcHeap, generation: usize) -> usize {
    use tracing::field::Empty;
    let span = tracing::debug_span!(
        target: "gc",
        "collection",
        generation,
        examined = Empty,
        collected = Empty,
        uncollectable = 0u64,
        duration_ns = Empty
    );
    let _entered = span.enter();
    let started = Instant::now();
    let debug = heap.debug.get();
    if debug.contains(DebugFlags::STATS) {
        let sizes: Vec<usize> = (0..NUM_GENERATIONS)
            .map(|g| list::len(heap.generation(g)))
            .collect();
        tracing::info!(target: "gc", "gc: collecting generation {generation}...");
        tracing::info!(target: "gc", "gc: objects in each generation: {sizes:?}");
    }

    // Counters first, as CPython: collecting g zeroes 0..=g and counts one for g+1.
    if generation + 1 < NUM_GENERATIONS {
        let next = &heap.counts[generation + 1];
        next.set(next.get() + 1);
    }
    for g in 0..=generation {
        heap.counts[g].set(0);
    }

    let young = heap.generation(generation);
    // Lists are kept newest first (objects mostly refer to older ones, so the walk of
    // `move_unreachable` then meets a referrer before what it refers to, and rarely has
    // to move an object back from `unreachable`): younger generations go in front.
    for g in (0..generation).rev() {
        // SAFETY: generation lists are well formed.
        unsafe { list::merge_front(heap.generation(g), young) };
    }
    let old = if generation + 1 < NUM_GENERATIONS {
        heap.generation(generation + 1)
    } else {
        young
    };

    let unreachable = Links::unlinked();
    list::init(&unreachable);
    let promote_to = (generation + 1).min(NUM_GENERATIONS - 1);
    let Deduced {
        examined,
        unreachable: mut unreachable_count,
        poisoned,
        freed_during_walk,
    } = deduce_unreachable(heap, young, &unreachable, promote_to);
    if poisoned {
        // A `trace` panicked: what it would have shown is unknown, so everything survives.
        restore_unreachable(&unreachable, young);
        unreachable_count = 0;
    }

    // Survivors move up a generation.
    if !ptr::eq(young, old) {
        if generation == NUM_GENERATIONS - 2 {
            let survivors = examined - unreachable_count;
            let pending = heap.long_lived_pending.get() + survivors;
            heap.long_lived_pending.set(pending);
        }
        // SAFETY: both are well-formed lists.
        unsafe { list::merge_front(young, old) };
    } else {
        heap.long_lived_pending.set(0);
        heap.long_lived_total.set(examined - unreachable_count);
    }

    // The weak-reference and finalizer pass is skipped when nothing moved to
    // `unreachable` had weak references or a finalizer to run.
    let to_finalize = if heap.special_unreachable.get() > 0 {
        handle_weakrefs(heap, &unreachable)
    } else {
        0
    };
    let final_unreachable = Links::unlinked();
    list::init(&final_unreachable);
    let collected = if to_finalize > 0 {
        finalize_garbage(heap, &unreachable);
        handle_resurrected_objects(heap, &unreachable, &final_unreachable, old)
    } else {
        // No finalizer ran, so no user code could reach the garbage (weak callbacks see
        // only cleared references, and `object_at` refuses unreachable objects): nothing
        // can have been resurrected.
        // SAFETY: both are well-formed lists.
        unsafe { list::merge(&unreachable, &final_unreachable) };
        unreachable_count
    };

    // Step 9, the final check (module docs). When every object examined is garbage and no
    // user code but the traces of step 3 ran since (no weak callback, finalizer or deferred
    // free), steps 2-3 were that check already: one trace of each member of exactly this set
    // against counts read just before, and their sums agree (every `gc_refs` ended at 0;
    // with `Trace`'s rule 2 kept, none was clamped there).
    let checked_by_steps_2_3 =
        unreachable_count == examined && heap.special_unreachable.get() == 0 && !freed_during_walk;
    let collected =
        if collected > 0 && !checked_by_steps_2_3 && !garbage_is_closed(heap, &final_unreachable) {
            keep_garbage(heap, &final_unreachable, old, generation);
            0
        } else {
            collected
        };

    if debug.contains(DebugFlags::COLLECTABLE) {
        list::for_each(&final_unreachable, |h| {
            // SAFETY: objects on the list are live.
            let name = (unsafe { h.as_ref() }.vtable.type_name)();
            // The lists hang off this stack frame here: a panicking subscriber must not
            // unwind through it.
            heap.call_user(|| {
                tracing::info!(target: "gc", "gc: collectable <{name} {:#x}>", h.as_ptr() as usize)
            });
        });
    }
    delete_garbage(
        heap,
        &final_unreachable,
        old,
        debug.contains(DebugFlags::SAVEALL),
    );

    let stats = &heap.stats[generation];
    let mut s = stats.get();
    s.collections += 1;
    s.collected += collected;
    stats.set(s);

    let elapsed = started.elapsed();
    if debug.contains(DebugFlags::STATS) {
        tracing::info!(
            target: "gc",
            "gc: done, {collected} unreachable, 0 uncollectable, {:.4}s elapsed",
            elapsed.as_secs_f64()
        );
    }
    span.record("examined", examined);
    span.record("collected", collected);
    span.record("duration_ns", elapsed.as_nanos() as u64);
    collected
}

/// What `deduce_unreachable` found.
struct Deduced {
    /// Objects examined.
    examined: usize,
    /// Objects left on the unreachable list.
    unreachable: usize,
    /// A `trace` panicked.
    poisoned: bool,
    /// Frees deferred during the walk ran afterwards (user code: `Drop`s, finalizers).
    freed_during_walk: bool,
}

/// Steps 2-4 on `young`: afterwards `young` holds the reachable objects (flags cleared,
/// links restored) and `unreachable` the rest (still `COLLECTING | UNREACHABLE`).
fn deduce_unreachable(
    heap: &GcHeap,
    young: &Links,
    unreachable: &Links,
    promote_to: usize,
) -> Deduced {
    heap.defer_frees.set(true);
    heap.special_unreachable.set(0);
    let examined = update_refs(young);
    let mut poisoned = subtract_refs(heap, young);
    let (unreachable_count, panicked) = move_unreachable(heap, young, unreachable, promote_to);
    poisoned |= panicked;
    heap.defer_frees.set(false);
    let freed_during_walk = heap.run_deferred_frees();
    Deduced {
        examined,
        unreachable: unreachable_count,
        poisoned,
        freed_during_walk,
    }
}

/// `gc_refs` = strong count for every object of `containers` (an object being freed counts
/// as referenced: its release is queued and must find it intact).
fn update_refs(containers: &Links) -> usize {
    let mut n = 0;
    list::for_each(containers, |h| {
        // SAFETY: objects on the list are live.
        let hdr = unsafe { h.as_ref() };
        let refs = if hdr.has(flags::FREEING) {
            1
        } else {
            hdr.refcount.get() as usize
        };
        // SAFETY: a tracked object has links.
        unsafe { (*Header::links(h)).prev.set(refs) };
        hdr.flags
            .set((hdr.flags.get() | flags::COLLECTING) & !flags::UNREACHABLE);
        n += 1;
    });
    n
}

/// Runs an object's `trace` with `tracer` (a panic propagates to the pass's guard).
#[inline]
fn trace_object(h: NonNull<Header>, tracer: &mut Tracer) {
    // SAFETY: objects on a collection's lists are live and not DEAD (dead objects are
    // untracked), so the value is initialised.
    unsafe { (h.as_ref().vtable.trace)(Header::value_ptr(h), tracer) }
}

/// Runs `pass` until it completes; when it panics (a `trace` did), `resume` repairs the
/// state at the object being traced and the pass goes on from the next one. One guard per
/// pass instead of one per object keeps the loops tight. Returns whether any panic happened.
fn guarded_pass(heap: &GcHeap, mut pass: impl FnMut(), mut resume: impl FnMut()) -> bool {
    let mut poisoned = false;
    while let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut pass)) {
        heap.keep_panic(payload);
        poisoned = true;
        resume();
    }
    poisoned
}

/// Every edge from an object of `containers` to an object of `containers` takes one off
/// the target's `gc_refs`; what remains counts references from outside.
/// Returns whether a `trace` panicked.
fn subtract_refs(heap: &GcHeap, containers: &Links) -> bool {
    let mut tracer = Tracer::new(TraceMode::SubtractRefs);
    let node = std::cell::Cell::new(containers.next.get());
    guarded_pass(
        heap,
        || {
            while !ptr::eq(node.get(), containers) {
                let h = Header::from_links(node.get());
                tracer.opaque = false;
                trace_object(h, &mut tracer);
                if tracer.opaque {
                    // Hidden edges: count the object as referenced from outside.
                    // SAFETY: a tracked object has links, holding `gc_refs` now.
                    let links = unsafe { &*node.get() };
                    links.prev.set(links.prev.get() + 1);
                }
                // SAFETY: nodes of the list are live.
                node.set(unsafe { (*node.get()).next.get() });
            }
        },
        // SAFETY: the panicking object's node is live; skip it.
        || node.set(unsafe { (*node.get()).next.get() }),
    )
}

/// Called for each edge during `subtract_refs`.
///
/// # Safety
/// `target` is a live object.
#[inline]
pub(crate) unsafe fn visit_decref(target: NonNull<Header>) {
    // SAFETY: guaranteed by the caller.
    let hdr = unsafe { target.as_ref() };
    if hdr.has(flags::COLLECTING) {
        // SAFETY: a COLLECTING object is tracked and its `prev` holds `gc_refs`.
        let links = unsafe { &*Header::links(target) };
        // A trace that reports more edges than there are handles (breaking `Trace`'s
        // rule 2) cannot take it below 0.
        links.prev.set(links.prev.get().saturating_sub(1));
    }
}

/// CPython's `move_unreachable`: walks `young` once; an object with `gc_refs > 0` is
/// reachable and marks what it reaches reachable too (moving it back from `unreachable`
/// to the end of `young` if needed); one with `gc_refs == 0` moves to `unreachable` for
/// now. `young` is singly linked during the walk: `prev` links are restored behind it.
fn move_unreachable(
    heap: &GcHeap,
    young: &Links,
    unreachable: &Links,
    promote_to: usize,
) -> (usize, bool) {
    let generation_bits = (promote_to as u32) << flags::GEN_SHIFT;
    let mut tracer = Tracer::new(TraceMode::MarkReachable);
    // `prev` is the last node kept (or the sentinel); its `next` is the node to examine.
    let prev: std::cell::Cell<*const Links> = std::cell::Cell::new(young);
    let mut moved = 0usize;
    // A reachable node is done: its `prev` link comes back and the walk moves past it.
    // A kept object is tagged with the generation it is about to join.
    let keep = |node: *const Links| {
        // SAFETY: `node` is a live node of `young`.
        unsafe {
            (*node).prev.set(prev.get() as usize);
            let hdr = Header::from_links(node).as_ref();
            hdr.flags
                .set((hdr.flags.get() & !(flags::COLLECTING | flags::GEN_MASK)) | generation_bits);
        }
        prev.set(node);
    };
    let poisoned = guarded_pass(
        heap,
        || {
            // SAFETY: `young` is a list whose nodes are live; see `prev` above.
            unsafe {
                let mut node = (*prev.get()).next.get();
                while !ptr::eq(node, young) {
                    let h = Header::from_links(node);
                    if (*node).prev.get() > 0 {
                        tracer.opaque = false;
                        tracer.current = node;
                        trace_object(h, &mut tracer);
                        keep(node);
                    } else {
                        (*prev.get()).next.set((*node).next.get());
                        let last = unreachable.prev_node();
                        (*last).next.set(node);
                        (*node).prev.set(last as usize);
                        (*node).next.set(unreachable);
                        unreachable.prev.set(node as usize);
                        let hdr = h.as_ref();
                        hdr.set(flags::UNREACHABLE);
                        moved += 1;
                        if hdr.has(flags::HAS_WEAK)
                            || (hdr.vtable.finalize.is_some() && !hdr.has(flags::FINALIZED))
                        {
                            heap.special_unreachable
                                .set(heap.special_unreachable.get() + 1);
                        }
                    }
                    node = (*prev.get()).next.get();
                }
            }
        },
        // The trace of the node after `prev` panicked: keep it (it had gc_refs > 0).
        // SAFETY: that node is live.
        || keep(unsafe { (*prev.get()).next.get() }),
    );
    young.prev.set(prev.get() as usize);
    (moved - tracer.moved_back, poisoned)
}

/// Called for each edge of a reachable object during `move_unreachable`; returns whether
/// it moved `target` back from `unreachable`.
///
/// CPython appends such an object to the end of `young`; here it goes right after the
/// object being traced (`current`), so the walk takes it next: survivors end up in
/// traversal order, and the next collection of the same graph moves nothing.
///
/// # Safety
/// `target` is a live object; `current` is the node `move_unreachable` is tracing.
#[inline]
pub(crate) unsafe fn visit_reachable(target: NonNull<Header>, current: *const Links) -> bool {
    // SAFETY: guaranteed by the caller.
    let hdr = unsafe { target.as_ref() };
    if !hdr.has(flags::COLLECTING) {
        return false;
    }
    // SAFETY: a COLLECTING object is tracked; the lists involved are as the walk keeps
    // them (the unreachable list doubly linked, `young` singly linked ahead of `current`).
    unsafe {
        let links = Header::links(target);
        if hdr.has(flags::UNREACHABLE) {
            // Moved to `unreachable` earlier, reachable after all: back into `young`, right
            // after the object being traced, where the walk reaches it next.
            let prev = (*links).prev_node();
            let next = (*links).next.get();
            (*prev).next.set(next);
            (*next).prev.set(prev as usize);
            hdr.clear(flags::UNREACHABLE);
            (*links).next.set((*current).next.get());
            (*current).next.set(links);
            (*links).prev.set(1);
            true
        } else {
            if (*links).prev.get() == 0 {
                // Not yet examined: it will be kept when the walk reaches it.
                (*links).prev.set(1);
            }
            false
        }
    }
}

/// After a poisoned deduction: everything on `unreachable` goes back to `young`.
fn restore_unreachable(unreachable: &Links, young: &Links) {
    list::for_each(unreachable, |h| {
        // SAFETY: objects on the list are live.
        unsafe { h.as_ref() }.clear(flags::COLLECTING | flags::UNREACHABLE);
    });
    // SAFETY: both lists are well formed (move_unreachable keeps `unreachable` doubly
    // linked and restores `young`).
    unsafe { list::merge(unreachable, young) };
}

/// Step 6, in one pass over `unreachable`: weak references to unreachable objects die
/// before any finalizer runs; then the callbacks of those weak references that are not
/// garbage themselves run. Returns how many unreachable objects still need their finalizer.
fn handle_weakrefs(heap: &GcHeap, unreachable: &Links) -> usize {
    let mut callbacks = Vec::new();
    let mut to_finalize = 0;
    list::for_each(unreachable, |h| {
        // SAFETY: objects on the list are live.
        let hdr = unsafe { h.as_ref() };
        hdr.clear(flags::COLLECTING);
        if hdr.has(flags::HAS_WEAK) {
            crate::weak::detach_weakrefs(heap, h, &mut callbacks);
        }
        if hdr.vtable.finalize.is_some() && !hdr.has(flags::FINALIZED) {
            to_finalize += 1;
        }
    });
    for cell in callbacks {
        crate::weak::run_callback(heap, cell);
    }
    to_finalize
}

/// Step 7: every unreachable object with a finalizer not yet run gets it run, once, while
/// all of the garbage is intact. The list may change under finalizers (objects freed by
/// refcounting leave it), so each object moves to `seen` before its finalizer runs.
fn finalize_garbage(heap: &GcHeap, collectable: &Links) {
    heap.finalizing.set(true);
    let seen = Links::unlinked();
    list::init(&seen);
    while !list::is_empty(collectable) {
        let node = collectable.next.get();
        let h = Header::from_links(node);
        // SAFETY: `node` is on a well-formed list; `h` is live.
        unsafe {
            list::remove(node);
            list::append(node, &seen);
        }
        // SAFETY: `h` is live.
        let hdr = unsafe { h.as_ref() };
        if let Some(finalize) = hdr.vtable.finalize
            && !hdr.has(flags::FINALIZED)
        {
            hdr.set(flags::FINALIZED);
            heap.incref(h);
            let value = Header::value_ptr(h);
            // SAFETY: an unreachable object is live and not DEAD.
            heap.call_user(|| unsafe { finalize(value) });
            heap.decref(h);
        }
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge(&seen, collectable) };
    heap.finalizing.set(false);
}

/// Step 8: recompute reachability inside `unreachable`; objects a finalizer made
/// reachable again (and what they reach) survive into `old`. Returns how many objects are
/// still unreachable.
fn handle_resurrected_objects(
    heap: &GcHeap,
    unreachable: &Links,
    still_unreachable: &Links,
    old: &Links,
) -> usize {
    let promote_to = old_generation_of(heap, old);
    let Deduced {
        unreachable: mut count,
        poisoned,
        ..
    } = deduce_unreachable(heap, unreachable, still_unreachable, promote_to);
    if poisoned {
        restore_unreachable(still_unreachable, unreachable);
        count = 0;
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge_front(unreachable, old) };
    count
}

/// The number of the generation list `old`.
fn old_generation_of(heap: &GcHeap, old: &Links) -> usize {
    (0..NUM_GENERATIONS)
        .find(|&g| ptr::eq(heap.generation(g), old))
        .unwrap_or(NUM_GENERATIONS - 1)
}

/// Step 9: whether no handle from outside `garbage` reaches it. Sums the members' strong
/// counts, read now, and counts the edges their traces report into the set (members are
/// `UNREACHABLE`; one more trace each). With `Trace`'s rule 2 kept, each member's count is
/// at least the edges reported to it, so equal sums mean every handle to a member is owned
/// by a member. Hidden edges or a panicking trace fail the check.
fn garbage_is_closed(heap: &GcHeap, garbage: &Links) -> bool {
    // A trace may allocate or drop handles: frees wait until the walk is done.
    heap.defer_frees.set(true);
    let mut tracer = Tracer::new(TraceMode::CountGarbageEdges);
    let mut strong = 0usize;
    let node = std::cell::Cell::new(garbage.next.get());
    let poisoned = guarded_pass(
        heap,
        || {
            while !ptr::eq(node.get(), garbage) {
                let h = Header::from_links(node.get());
                // SAFETY: members of the garbage list are live and not DEAD.
                let hdr = unsafe { h.as_ref() };
                debug_assert!(hdr.has(flags::UNREACHABLE) && !hdr.has(flags::DEAD));
                // An object being freed counts as referenced, as in `update_refs`.
                strong += if hdr.has(flags::FREEING) {
                    1
                } else {
                    hdr.refcount.get() as usize
                };
                trace_object(h, &mut tracer);
                // SAFETY: the node is live; its `next` is a member or the sentinel.
                node.set(unsafe { (*node.get()).next.get() });
            }
        },
        // A trace panicked: the check has failed; stop the walk.
        || node.set(garbage),
    );
    heap.defer_frees.set(false);
    // Frees a trace deferred may run user code, but only after the sums were taken: a
    // handle that code hands out sees its object dead, like one a `Drop` smuggles out.
    heap.run_deferred_frees();
    !poisoned && !tracer.opaque && strong == tracer.garbage_edges
}

/// The final check failed: the garbage set survives this collection as if reachable, in
/// `old` with the survivors.
fn keep_garbage(heap: &GcHeap, garbage: &Links, old: &Links, generation: usize) {
    let generation_bits = (old_generation_of(heap, old) as u32) << flags::GEN_SHIFT;
    let mut kept = 0;
    list::for_each(garbage, |h| {
        // SAFETY: members of the garbage list are live.
        let hdr = unsafe { h.as_ref() };
        let cleared = hdr.flags.get() & !(flags::COLLECTING | flags::UNREACHABLE | flags::GEN_MASK);
        hdr.flags.set(cleared | generation_bits);
        kept += 1;
    });
    if generation == NUM_GENERATIONS - 2 {
        heap.long_lived_pending
            .set(heap.long_lived_pending.get() + kept);
    } else if generation == NUM_GENERATIONS - 1 {
        heap.long_lived_total
            .set(heap.long_lived_total.get() + kept);
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge(garbage, old) };
}

/// Step 10: drop the values of the garbage (or save it under `SAVEALL`). Each object is
/// held by a temporary handle while its value drops, so its memory outlives the drop;
/// objects the drops free by refcounting leave the list and are freed by the free loop.
fn delete_garbage(heap: &GcHeap, collectable: &Links, old: &Links, save_all: bool) {
    if save_all {
        list::for_each(collectable, |h| {
            // SAFETY: objects on the list are live.
            unsafe { h.as_ref() }.clear(flags::COLLECTING | flags::UNREACHABLE);
            heap.incref(h);
            heap.garbage.borrow_mut().push(h);
        });
        // SAFETY: both are well-formed lists.
        unsafe { list::merge(collectable, old) };
        return;
    }
    let depth = heap.free_depth.get();
    heap.free_depth.set(depth + 1);
    while !list::is_empty(collectable) {
        let h = Header::from_links(collectable.next.get());
        // SAFETY: objects on the list are live.
        if unsafe { h.as_ref() }.has(flags::FREEING) {
            // Defensive: an object already queued for freeing is freed by the queue; it
            // only leaves the list here.
            heap.untrack(h);
            continue;
        }
        heap.incref(h);
        heap.kill(h);
        // SAFETY: `h` is live: we hold a reference.
        let hdr = unsafe { h.as_ref() };
        let rc = hdr.refcount.get() - 1;
        hdr.refcount.set(rc);
        if rc == 0 {
            heap.release(h);
        }
        heap.drain_free_queue();
    }
    heap.free_depth.set(depth);
}
