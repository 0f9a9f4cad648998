//! Steps 6-8 of a collection: CPython's `handle_weakrefs`, `finalize_garbage` and
//! `handle_resurrected_objects`. They run user code (weak callbacks, finalizers), so the
//! garbage list may change under them; each step says how it stays correct.

use super::unreachable::{Deduced, Pass, deduce_unreachable, restore_unreachable};
use super::validate::{Expect, validate_list};
use crate::dealloc::{call_user, decref, detach_weakrefs, run_weak_callback};
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::{Links, Obj, flags};
use crate::trace::VTable;

/// Step 6, in one pass over `unreachable`: weak references to unreachable objects die
/// before any finalizer runs; then the callbacks of those weak references that are not
/// garbage themselves run (CPython 3.12's rule; "Headache time" in gcmodule.c explains why
/// a callback of trash must not run). Returns how many unreachable objects still need their
/// finalizer.
///
/// # Safety
/// `unreachable` is the list `move_unreachable` left (members `COLLECTING | UNREACHABLE`).
pub(super) unsafe fn handle_weakrefs(heap: &GcHeap, unreachable: &Links) -> usize {
    let mut callbacks = Vec::new();
    let mut to_finalize = 0;
    let detach = |obj: Obj| {
        // SAFETY: objects on the list are live.
        let hdr = unsafe { obj.header() };
        hdr.clear(flags::COLLECTING);
        if hdr.has(flags::HAS_WEAK) {
            // SAFETY: live.
            unsafe { detach_weakrefs(heap, obj, &mut callbacks) };
        }
        to_finalize += usize::from(hdr.finalizer_pending());
    };
    // SAFETY: a well-formed list of live tracked objects (caller); `detach` unlinks nothing.
    unsafe { list::for_each(unreachable, detach) };
    // SAFETY: `COLLECTING` was just cleared on every member.
    unsafe { validate_list(unreachable, Expect::Unreachable { collecting: false }) };
    for cell in callbacks {
        // SAFETY: handed out by `detach_weakrefs` with a reference.
        unsafe { run_weak_callback(heap, cell) };
    }
    to_finalize
}

/// Step 7: every unreachable object with a finalizer not yet run gets it run, once, while
/// all of the garbage is intact. The list may change under finalizers (objects freed by
/// refcounting leave it), so each object moves to `seen` before its finalizer runs, and
/// the collector holds a reference to it while it runs.
///
/// # Safety
/// `collectable` is a well-formed list of the heap's live tracked objects.
pub(super) unsafe fn finalize_garbage(heap: &GcHeap, collectable: &Links) {
    let outer = heap.phase();
    heap.set_phase(CollectorPhase::Finalizing);
    let seen = Links::unlinked();
    list::init(&seen);
    while !list::is_empty(collectable) {
        let node = collectable.next.get();
        // SAFETY: the first node of a non-empty list of tracked objects.
        let obj = unsafe { Obj::from_links(node) };
        // SAFETY: `node` is on a well-formed list.
        unsafe { list::remove(node) };
        // SAFETY: `node` is live and on no list now; `seen` is well formed.
        unsafe { list::append(node, &seen) };
        // SAFETY: live: it was on the list.
        let hdr = unsafe { obj.header() };
        if let Some(finalize) = VTable::of(hdr).finalize
            && !hdr.has(flags::FINALIZED)
        {
            hdr.set(flags::FINALIZED);
            hdr.inc_strong();
            let interrupted = heap.begin_finalizer(obj);
            // SAFETY: an unreachable object is live and not DEAD: its value is initialised,
            // of the vtable's type.
            call_user(heap, || unsafe { finalize(obj) });
            heap.end_finalizer(interrupted);
            // SAFETY: the reference taken above.
            unsafe { decref(heap, obj) };
        }
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge(&seen, collectable) };
    heap.set_phase(outer);
}

/// Step 8: recompute reachability inside `unreachable`; objects a finalizer made reachable
/// again (and what they reach) survive into `old` (generation `old_generation`). Returns
/// how many objects are still unreachable, left on `still_unreachable`.
///
/// # Safety
/// `unreachable` is a well-formed list of the heap's tracked objects after
/// `finalize_garbage`; `still_unreachable` an empty list; `old` a generation list.
pub(super) unsafe fn handle_resurrected_objects(
    heap: &GcHeap,
    unreachable: &Links,
    still_unreachable: &Links,
    old: &Links,
    old_generation: usize,
) -> usize {
    // SAFETY: `unreachable` is a well-formed list of tracked objects and
    // `still_unreachable` an empty one (caller).
    let Deduced {
        unreachable: mut count,
        poisoned,
        ..
    } = unsafe {
        deduce_unreachable(
            heap,
            unreachable,
            still_unreachable,
            old_generation,
            Pass::Resurrection,
        )
    };
    if poisoned {
        // SAFETY: both lists are well formed after the deduction.
        unsafe { restore_unreachable(still_unreachable, unreachable) };
        count = 0;
    }
    // SAFETY: both are well-formed lists.
    unsafe { list::merge_front(unreachable, old) };
    count
}
