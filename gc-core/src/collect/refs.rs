//! Steps 2 and 3 of a collection: `update_refs` and `subtract_refs` (CPython's names).
//! Afterwards each object of the collected set holds in `gc_refs` the number of references
//! to it from outside the set.
//!
//! Invariant: from `update_refs` until its visit in `move_unreachable`, an object of the
//! set is `COLLECTING` and its `Links::prev` holds `gc_refs`, not a pointer.

use super::walk::{guarded_pass, trace_object};
use crate::heap::GcHeap;
use crate::list;
use crate::object::{Links, Obj, flags};
use crate::trace::Tracer;
use std::cell::Cell;
use std::ptr;

/// `gc_refs` = strong count for every object of `containers` (an object being freed counts
/// as referenced: its release is queued and must find it intact). Returns how many there
/// are.
///
/// # Safety
/// `containers` is a well-formed list of the heap's tracked objects.
pub(super) unsafe fn update_refs(containers: &Links) -> usize {
    let mut n = 0;
    let update = |obj: Obj| {
        // SAFETY: objects on a list are live.
        let hdr = unsafe { obj.header() };
        let refs = if hdr.has(flags::FREEING) {
            1
        } else {
            hdr.strong() as usize
        };
        debug_assert!(refs > 0, "update_refs: a tracked object with no reference");
        // SAFETY: live and tracked.
        unsafe { obj.links() }.set_gc_refs(refs);
        hdr.set_flags((hdr.flags() | flags::COLLECTING) & !flags::UNREACHABLE);
        n += 1;
    };
    // SAFETY: a well-formed list of tracked objects (caller); `update` unlinks nothing.
    unsafe { list::for_each(containers, update) };
    n
}

/// Every edge from an object of `containers` to an object of `containers` takes one off the
/// target's `gc_refs`; what remains counts references from outside. An object whose trace
/// hides edges counts as referenced from outside. Returns whether a `trace` panicked, and
/// the objects lent out by `Gc::get_mut` that a trace reported (their loan is over).
///
/// # Safety
/// `containers` is a list of the heap's tracked objects on which `update_refs` just ran
/// (singly linked by `next`; `prev` holds `gc_refs`).
pub(super) unsafe fn subtract_refs(heap: &GcHeap, containers: &Links) -> (bool, Vec<Obj>) {
    let mut tracer = Tracer::subtract_refs();
    let node = Cell::new(containers.next.get());
    let poisoned = guarded_pass(
        heap,
        || {
            while !ptr::eq(node.get(), containers) {
                // SAFETY: nodes of the list are links of live tracked objects.
                let obj = unsafe { Obj::from_links(node.get()) };
                tracer.reset_hidden();
                // SAFETY: objects on a collection's list are live and not DEAD (dead
                // objects are untracked).
                unsafe { trace_object(obj, &mut tracer) };
                // SAFETY: live and tracked.
                let links = unsafe { obj.links() };
                if tracer.hidden_edges() {
                    // Hidden edges: count the object as referenced from outside.
                    links.set_gc_refs(links.gc_refs() + 1);
                }
                node.set(links.next.get());
            }
        },
        // SAFETY: the panicking object's node is live; skip it.
        || node.set(unsafe { (*node.get()).next.get() }),
    );
    (poisoned, tracer.take_lent())
}
