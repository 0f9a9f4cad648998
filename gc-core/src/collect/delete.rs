//! Step 10 of a collection, CPython's `delete_garbage`: the values of the garbage are
//! dropped in place (CPython's `tp_clear`), or the garbage is saved under `SAVEALL`.
//!
//! Invariant: memory is released only by refcounting. Each object is held by a temporary
//! reference while its value drops, so its memory outlives the drop; objects the drops free
//! by refcounting leave the list and are freed by the free path.

use crate::dealloc::{decref, drain_free_queue, kill};
use crate::heap::GcHeap;
use crate::list;
use crate::object::{Links, Obj, flags};

/// Drops the values of `collectable` (or saves it in `garbage()` under `save_all`, into
/// `old`).
///
/// # Safety
/// `collectable` is the final garbage list (the check passed); `old` a generation list.
pub(super) unsafe fn delete_garbage(
    heap: &GcHeap,
    collectable: &Links,
    old: &Links,
    save_all: bool,
) {
    if save_all {
        let save = |obj: Obj| {
            // SAFETY: objects on the list are live.
            let hdr = unsafe { obj.header() };
            hdr.clear(flags::COLLECTING | flags::UNREACHABLE);
            hdr.inc_strong();
            heap.save_garbage(obj);
        };
        // SAFETY: a well-formed list (caller); `save` unlinks nothing.
        unsafe { list::for_each(collectable, save) };
        // SAFETY: both are well-formed lists.
        unsafe { list::merge(collectable, old) };
        return;
    }
    let depth = heap.frees.depth();
    heap.frees.set_depth(depth + 1);
    while !list::is_empty(collectable) {
        // SAFETY: the first node of a non-empty list of tracked objects.
        let obj = unsafe { Obj::from_links(collectable.next.get()) };
        // SAFETY: objects on the list are live.
        let hdr = unsafe { obj.header() };
        if hdr.has(flags::FREEING) {
            // An object already queued for freeing is freed by the queue; it only leaves
            // the list here.
            // SAFETY: live and on a well-formed list.
            unsafe { heap.untrack(obj) };
            continue;
        }
        debug_assert!(
            hdr.strong() > 0,
            "delete_garbage: garbage with no reference"
        );
        debug_assert!(
            !hdr.has(flags::DEAD),
            "delete_garbage: garbage already dead"
        );
        hdr.inc_strong();
        // SAFETY: live, not DEAD (garbage values are intact until now).
        unsafe { kill(heap, obj) };
        // SAFETY: the reference taken above keeps it live until here.
        unsafe { decref(heap, obj) };
        drain_free_queue(heap);
    }
    heap.frees.set_depth(depth);
}
