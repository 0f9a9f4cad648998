//! Step 9 of a collection, the final check (no CPython counterpart: CPython trusts its
//! `tp_traverse` functions; here `trace` is user code). Nothing is dropped unless, at one
//! moment after every finalizer ran, the members' strong counts sum to the number of edges
//! the members report into the set.
//!
//! Why that suffices: `Trace`'s contract forbids reporting a handle the value does not own,
//! so each member's count is at least the edges reported to it, and equal sums mean each is
//! exactly that: no stack, no reachable object, no thread-local holds a handle to the set.
//! A trace that reports too few edges (in any pass, or moving its handle out while traced)
//! can only make the check fail, which keeps the set for one collection.

use super::walk::{guarded_pass, trace_object};
use crate::dealloc::run_deferred_frees;
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::{Links, Obj, flags};
use crate::trace::Tracer;
use crate::types::NUM_GENERATIONS;
use std::cell::Cell;
use std::ptr;

/// Whether no handle from outside `garbage` reaches it: sums the members' strong counts,
/// read now, and counts the edges their traces report into the set (one more trace each).
/// Hidden edges or a panicking trace fail the check.
///
/// # Safety
/// `garbage` is a well-formed list of the heap's live tracked objects, all `UNREACHABLE`,
/// none DEAD, and no other object of the heap is `UNREACHABLE`.
pub(super) unsafe fn garbage_is_closed(heap: &GcHeap, garbage: &Links) -> bool {
    // A trace may allocate or drop handles: frees wait until the walk is done.
    let outer = heap.phase();
    heap.set_phase(CollectorPhase::Walking);
    let mut tracer = Tracer::count_garbage_edges();
    let mut hidden = false;
    let mut strong = 0usize;
    let node = Cell::new(garbage.next.get());
    let poisoned = guarded_pass(
        heap,
        || {
            while !ptr::eq(node.get(), garbage) {
                // SAFETY: a node of the list: a live tracked object.
                let obj = unsafe { Obj::from_links(node.get()) };
                // SAFETY: live.
                let hdr = unsafe { obj.header() };
                debug_assert!(hdr.has(flags::UNREACHABLE) && !hdr.has(flags::DEAD));
                // An object being freed counts as referenced, as in `update_refs`.
                strong += if hdr.has(flags::FREEING) {
                    1
                } else {
                    hdr.strong() as usize
                };
                // SAFETY: live and not DEAD.
                unsafe { trace_object(obj, &mut tracer) };
                hidden |= tracer.hidden_edges();
                tracer.reset_hidden();
                // SAFETY: live and tracked.
                node.set(unsafe { obj.links() }.next.get());
            }
        },
        // A trace panicked: the check has failed; stop the walk.
        || node.set(garbage),
    );
    heap.set_phase(outer);
    // Frees a trace deferred may run user code, but only after the sums were taken: a
    // handle that code hands out sees its object dead, like one a `Drop` smuggles out.
    run_deferred_frees(heap);
    !poisoned && !hidden && strong == tracer.garbage_edges()
}

/// The final check failed: the garbage set survives this collection as if reachable, in
/// `old` (generation `old_generation`) with the survivors of a collection of `generation`.
///
/// # Safety
/// `garbage` and `old` are well-formed lists of the heap's live tracked objects.
pub(super) unsafe fn keep_garbage(
    heap: &GcHeap,
    garbage: &Links,
    old: &Links,
    old_generation: usize,
    generation: usize,
) {
    let mut kept = 0;
    let survive = |obj: Obj| {
        // SAFETY: members of the list are live.
        unsafe { obj.header() }.survive_into(old_generation);
        kept += 1;
    };
    // SAFETY: well formed (caller).
    unsafe { list::for_each(garbage, survive) };
    if generation == NUM_GENERATIONS - 2 {
        heap.add_long_lived_pending(kept);
    } else if generation == NUM_GENERATIONS - 1 {
        heap.add_long_lived_total(kept);
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge(garbage, old) };
}
