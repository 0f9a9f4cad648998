//! The per-edge halves of the collector's two walks (CPython's `visit_decref` and
//! `visit_reachable`), called by [`Tracer::visit`](super::Tracer::visit) for every edge a
//! `trace` reports. They read and write only header flags, links and list order, so they
//! sit below the heap; `collect::refs` and `collect::unreachable` drive them.
//!
//! Invariant they keep: during `subtract_refs` a `COLLECTING` object's `prev` holds its
//! `gc_refs`; during `move_unreachable` the unreachable list is doubly linked and `young`
//! is singly linked ahead of the object being traced (see `collect::unreachable`).

use crate::object::{Links, Obj, flags};

/// `subtract_refs`: an edge from inside the collected set takes one off its target's
/// `gc_refs`, if the target is in the set. A trace that reports more edges than there are
/// handles (breaking `Trace`'s rule 2) cannot take it below 0. Returns whether the target
/// is lent out by `Gc::get_mut` (`RETRACK`): a handle reporting it proves the loan is over,
/// so the collector puts it back on its lists.
///
/// # Safety
/// `target` is a live object.
#[inline(always)]
pub(crate) unsafe fn visit_decref(target: Obj) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { target.header() };
    let word = hdr.flags();
    if word & flags::COLLECTING != 0 {
        // SAFETY: a COLLECTING object is tracked; its `prev` holds `gc_refs` now.
        let links = unsafe { target.links() };
        links.set_gc_refs(links.gc_refs().saturating_sub(1));
        false
    } else {
        word & flags::RETRACK != 0
    }
}

/// `move_unreachable`: a reachable object's edge makes its target reachable. A target
/// already moved to the unreachable list comes back, right after `current` (the object
/// being traced) so the walk reaches it next; one not yet examined gets `gc_refs` 1 so the
/// walk keeps it. Returns whether the target moved back.
///
/// CPython appends such an object to the end of `young`; placing it after `current` keeps
/// survivors in traversal order, so the next collection of the same graph moves nothing.
///
/// # Safety
/// `target` is a live object; `current` is the links of the object `move_unreachable` is
/// tracing, on `young`.
#[inline(always)]
pub(crate) unsafe fn visit_reachable(target: Obj, current: *const Links) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { target.header() };
    if !hdr.has(flags::COLLECTING) {
        return false;
    }
    // SAFETY: a COLLECTING object is tracked.
    let links = unsafe { target.links() };
    if hdr.has(flags::UNREACHABLE) {
        // On the doubly linked unreachable list: unlink it there...
        let (prev, next) = (links.prev.get(), links.next.get());
        // SAFETY: neighbours on the unreachable list are live nodes or its sentinel.
        unsafe { (*prev).next.set(next) };
        // SAFETY: the next neighbour on the doubly linked unreachable list is a live node
        // or its sentinel.
        unsafe { (*next).prev.set(prev) };
        hdr.clear(flags::UNREACHABLE);
        // ...and link it into `young` after `current` (singly: `prev` holds gc_refs 1).
        // SAFETY: `current` is a live node of `young` (caller).
        let current = unsafe { &*current };
        links.next.set(current.next.get());
        // SAFETY: the target is live and tracked: its links keep the allocation's
        // provenance for the walk's later step back to the header.
        current.next.set(unsafe { target.links_ptr() });
        links.set_gc_refs(1);
        true
    } else {
        if links.gc_refs() == 0 {
            // Not yet examined: the walk keeps it when it gets there.
            links.set_gc_refs(1);
        }
        false
    }
}

/// The final garbage check: whether `target` is a member of the garbage set (members are
/// `UNREACHABLE`, and no other object is).
///
/// # Safety
/// `target` is a live object.
#[inline(always)]
pub(crate) unsafe fn in_garbage(target: Obj) -> bool {
    // SAFETY: live (caller).
    unsafe { target.header() }.has(flags::UNREACHABLE)
}
