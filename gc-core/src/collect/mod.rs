//! Layer 6: the cycle collector, CPython's `gc_collect_main`. Read [`gc_collect_main`] to
//! see how a collection works; each step has its module, with CPython's names:
//!
//! 1. merge the younger generations into the one collected (`young`);
//! 2. `update_refs` ([`refs`]): `gc_refs` = strong count, for each object of `young`;
//! 3. `subtract_refs` ([`refs`]): every edge inside `young` takes one off its target's
//!    `gc_refs`;
//! 4. `move_unreachable` ([`unreachable`]): objects with `gc_refs > 0`, and all they reach,
//!    stay; the rest move to `unreachable`;
//! 5. survivors move one generation up;
//! 6. `handle_weakrefs` ([`finalize`]): weak references to the unreachable die; callbacks
//!    of those not themselves unreachable run;
//! 7. `finalize_garbage` ([`finalize`]): PEP 442 finalizers, once per object;
//! 8. `handle_resurrected_objects` ([`finalize`]): steps 2-4 again on `unreachable`; what a
//!    finalizer made reachable survives;
//! 9. the final check ([`check`]): over exactly the set left, fresh strong counts against
//!    one more trace of each member; unless every handle to a member is owned by a member,
//!    the whole set survives this collection;
//! 10. `delete_garbage` ([`delete`]): the values of what is left are dropped (memory goes
//!     when the last handle does), or saved in `garbage()` under `SAVEALL`.
//!
//! No step recurses or allocates in proportion to the heap: the lists are intrusive, and
//! `gc_refs` lives in each object's `prev` link during the walk. While steps 2-4 and 9 walk
//! the lists the phase is `Walking`: frees are deferred, so the walk never sees a list
//! change. Debug builds check every list against the flag table ([`validate`]) between
//! passes.
//!
//! Invariant owned here: a collection leaves every list well formed and every object's
//! collection flags clear, whatever user code (traces, weak callbacks, finalizers, `Drop`s,
//! collection callbacks) does or panics with; the first panic is re-raised at the end.

mod check;
mod delete;
mod finalize;
mod refs;
mod unreachable;
pub(crate) mod validate;
mod walk;

#[cfg(test)]
mod tests;

use crate::dealloc::{call_user, raise_pending_panic};
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::Links;
use crate::types::{CallbackInfo, DebugFlags, NUM_GENERATIONS, Phase};
use check::{garbage_is_closed, keep_garbage};
use delete::delete_garbage;
use finalize::{finalize_garbage, handle_resurrected_objects, handle_weakrefs};
use std::ptr;
use std::time::Instant;
use unreachable::{CleanOldest, Deduced, Pass, deduce_unreachable, restore_unreachable};

/// Runs one collection of generations `0..=generation`, with the collection callbacks
/// around it (CPython's `gc_collect_with_callback`); returns the number of unreachable
/// objects found. Returns 0 at once if a collection is running.
pub(crate) fn gc_collect_with_callback(heap: &GcHeap, generation: usize) -> usize {
    if heap.phase() != CollectorPhase::Idle {
        return 0;
    }
    heap.set_phase(CollectorPhase::Running);
    // A `tracing` subscriber is user code too: if it panics where the lists are consistent
    // (span, start and end events), the heap must not stay in a collection.
    struct Running<'a>(&'a GcHeap);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.set_phase(CollectorPhase::Idle);
        }
    }
    let running = Running(heap);
    invoke_callbacks(heap, Phase::Start, generation, 0);
    let collected = gc_collect_main(heap, generation);
    invoke_callbacks(heap, Phase::Stop, generation, collected);
    drop(running);
    raise_pending_panic(heap);
    collected
}

/// Calls every collection callback, in registration order, on a snapshot of the list.
fn invoke_callbacks(heap: &GcHeap, phase: Phase, generation: usize, collected: usize) {
    if !heap.has_callbacks() {
        return;
    }
    let info = CallbackInfo {
        generation,
        collected,
        uncollectable: 0,
    };
    for cb in heap.callbacks() {
        call_user(heap, || cb(phase, &info));
    }
}

/// The main function: one collection of generations `0..=generation`. Returns the number of
/// objects found unreachable and deleted (or saved).
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
    let debug = heap.debug();
    if debug.contains(DebugFlags::STATS) {
        // SAFETY: generation lists are well formed (heap invariant).
        let sizes: Vec<usize> = (0..NUM_GENERATIONS)
            .map(|g| unsafe { list::len(heap.generation(g)) })
            .collect();
        tracing::info!(target: "gc", "gc: collecting generation {generation}...");
        tracing::info!(target: "gc", "gc: objects in each generation: {sizes:?}");
    }

    // Step 1. Counters first, as CPython: collecting g zeroes 0..=g and counts one for g+1.
    heap.count_collection(generation);
    let young = heap.generation(generation);
    let full = generation == NUM_GENERATIONS - 1;
    // The oldest objects come after the younger ones merged in front of them below.
    let clean_oldest = if full {
        let first = young.next.get();
        heap.take_oldest_clean()
            .map(|len| CleanOldest { first, len })
    } else {
        None
    };
    // Lists are kept newest first (objects mostly refer to older ones, so the walk of
    // `move_unreachable` then meets a referrer before what it refers to, and rarely has to
    // move an object back from `unreachable`): younger generations go in front.
    for g in (0..generation).rev() {
        // SAFETY: generation lists are well formed.
        unsafe { list::merge_front(heap.generation(g), young) };
    }
    let old_generation = (generation + 1).min(NUM_GENERATIONS - 1);
    let old = heap.generation(old_generation);

    // Steps 2-4.
    let pass = if full {
        Pass::Full(clean_oldest)
    } else {
        Pass::Young
    };
    let unreachable = Links::unlinked();
    list::init(&unreachable);
    // SAFETY: `young` is a well-formed generation list; `unreachable` is empty.
    let Deduced {
        examined,
        unreachable: mut unreachable_count,
        poisoned,
        freed_during_walk,
        traced,
    } = unsafe { deduce_unreachable(heap, young, &unreachable, old_generation, pass) };
    // What the oldest generation's list holds afterwards: a traced collection may leave
    // candidates (and resurrected or saved objects) in it.
    if full {
        if traced {
            heap.oldest_dirty();
        } else {
            heap.set_oldest_clean(examined);
        }
    } else if old_generation == NUM_GENERATIONS - 1 {
        heap.promote_into_oldest(examined - unreachable_count, traced);
    }
    if poisoned {
        // A `trace` panicked: what it would have shown is unknown, so everything survives.
        // SAFETY: both lists are well formed after the deduction.
        unsafe { restore_unreachable(&unreachable, young) };
        unreachable_count = 0;
    }

    // Step 5: survivors move up a generation.
    if !ptr::eq(young, old) {
        if generation == NUM_GENERATIONS - 2 {
            heap.add_long_lived_pending(examined - unreachable_count);
        }
        // SAFETY: both are well-formed lists.
        unsafe { list::merge_front(young, old) };
    } else {
        heap.reset_long_lived(examined - unreachable_count);
    }

    // Steps 6-8, skipped when nothing moved to `unreachable` had weak references or a
    // finalizer to run.
    let special = heap.special_unreachable() > 0;
    let to_finalize = if special {
        // SAFETY: the list `move_unreachable` left.
        unsafe { handle_weakrefs(heap, &unreachable) }
    } else {
        0
    };
    let final_unreachable = Links::unlinked();
    list::init(&final_unreachable);
    let collected = if to_finalize > 0 {
        // SAFETY: a well-formed list of live tracked objects.
        unsafe { finalize_garbage(heap, &unreachable) };
        // SAFETY: after `finalize_garbage`; `final_unreachable` is empty; `old` a generation.
        unsafe {
            handle_resurrected_objects(heap, &unreachable, &final_unreachable, old, old_generation)
        }
    } else {
        // No finalizer ran, so no user code could reach the garbage (weak callbacks see
        // only cleared references, and handles are not handed out to unreachable objects):
        // nothing can have been resurrected.
        // SAFETY: both are well-formed lists.
        unsafe { list::merge(&unreachable, &final_unreachable) };
        unreachable_count
    };

    // Step 9, the final check ([`check`]). When every object examined is garbage and no
    // user code but the traces of step 3 ran since (no weak callback, finalizer or deferred
    // free), steps 2-3 were that check already: one trace of each member of exactly this set
    // against counts read just before, and their sums agree (every `gc_refs` ended at 0;
    // with `Trace`'s rule 2 kept, none was clamped there).
    let checked_by_steps_2_3 = unreachable_count == examined && !special && !freed_during_walk;
    // SAFETY: the final garbage list: every member UNREACHABLE, no other object is.
    let collected = if collected > 0
        && !checked_by_steps_2_3
        && !unsafe { garbage_is_closed(heap, &final_unreachable) }
    {
        // SAFETY: well-formed lists of live tracked objects.
        unsafe { keep_garbage(heap, &final_unreachable, old, old_generation, generation) };
        0
    } else {
        collected
    };

    if debug.contains(DebugFlags::COLLECTABLE) {
        let report = |obj: crate::object::Obj| {
            // SAFETY: objects on the list are live.
            let name = (unsafe { obj.header() }.layout().type_name)();
            // The lists hang off this stack frame: a panicking subscriber must not unwind
            // through it.
            call_user(
                heap,
                || tracing::info!(target: "gc", "gc: collectable <{name} {:#x}>", obj.addr()),
            );
        };
        // SAFETY: a well-formed list; `report` unlinks nothing.
        unsafe { list::for_each(&final_unreachable, report) };
    }
    // Step 10.
    // SAFETY: the final garbage list, checked; `old` a generation list.
    unsafe {
        delete_garbage(
            heap,
            &final_unreachable,
            old,
            debug.contains(DebugFlags::SAVEALL),
        )
    };

    if traced && old_generation == NUM_GENERATIONS - 1 {
        // Resurrected, kept or saved objects joined the oldest generation, after user code
        // (a finalizer, a weak callback, a `Drop`) may have frozen the heap and with it
        // recorded an empty, clean oldest generation.
        heap.oldest_dirty();
    }
    heap.record_collection(generation, collected);
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
