//! Layer 5: the free path, what happens when an object dies (CPython's `_Py_Dealloc`
//! with `PyObject_CallFinalizerFromDealloc`, `subtype_dealloc` and the trashcan).
//!
//! Four stages, in order: [`release`] (the strong count reached zero: free now or queue),
//! `free_object` (the finalizer, which may resurrect; then `kill`), [`kill`] (weak
//! references die, the object leaves its list, `DEAD` is set, the value is dropped in
//! place), and `GcHeap::free_block` (the memory goes back to the allocator).
//!
//! Invariants owned here:
//! - a value is dropped at most once: `DEAD` is set before its drop starts;
//! - memory is released only when the strong count is zero and the value is dead;
//! - frees nest at most `MAX_FREE_DEPTH` deep on the stack; deeper ones, and any that
//!   happen while the collector walks its lists, wait in the heap's queue, which the
//!   outermost free (or the collector) drains: a chain of any length, finalizers
//!   included, is freed with bounded stack;
//! - user code (`Drop`, finalizers, weak callbacks) runs under a guard: a panic is kept
//!   (the first one), the frees it cut short are finished, and it is re-raised once the
//!   heap is consistent again.

use crate::heap::state::MAX_FREE_DEPTH;
use crate::heap::weak::cell_value;
use crate::heap::{CollectorPhase, GcHeap};
use crate::object::{Obj, flags};
use crate::trace::VTable;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;

/// The strong count of `obj` reached zero: free it (after its finalizer, which may
/// resurrect it), or queue it when frees are nested `MAX_FREE_DEPTH` deep or the collector
/// walks its lists. The outermost free drains the queue.
///
/// # Safety
/// `obj` is a live object of `heap` whose strong count just reached zero.
#[inline(always)]
pub(crate) unsafe fn release(heap: &GcHeap, obj: Obj) {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    debug_assert!(
        hdr.strong() == 0,
        "release: the object still has references"
    );
    debug_assert!(
        !hdr.has(flags::FREEING),
        "release: the object is already being freed"
    );
    let object_flags = hdr.flags() | flags::FREEING;
    hdr.set_flags(object_flags);
    let frees = &heap.frees;
    let depth = frees.depth();
    if depth >= MAX_FREE_DEPTH || heap.phase() == CollectorPhase::Walking {
        frees.enqueue(obj);
        return;
    }
    let slot = depth + 1;
    frees.set_depth(slot);
    // The outermost free guards itself and the frees nested in it; a nested free guards
    // itself only while the thread unwinds (a second panic would abort).
    let layout = hdr.layout();
    let runs_user_code =
        layout.needs_drop || layout.has_finalizer || object_flags & flags::HAS_WEAK != 0;
    if !runs_user_code {
        // Nothing here can panic: no guard needed.
        // SAFETY: a live object with a zero count, FREEING, not freed before (caller).
        unsafe { free_object(heap, obj, object_flags) };
    } else if depth == 0 || std::thread::panicking() {
        // SAFETY: a live object with a zero count, FREEING, not freed before (caller).
        unsafe { free_guarded(heap, obj, object_flags, slot) };
    } else {
        // A panic in a `Drop` below unwinds to the guard of the outermost release (or of
        // the collector), which finishes the frees it cut short.
        frees.set_in_progress(slot, obj.as_ptr());
        // SAFETY: a live object with a zero count, FREEING, not freed before (caller).
        unsafe { free_object(heap, obj, object_flags) };
        frees.set_in_progress(slot, ptr::null_mut());
    }
    if depth == 0 {
        if frees.has_queued() {
            drain_free_queue(heap);
        }
        frees.set_depth(0);
        if heap.phase() == CollectorPhase::Idle {
            raise_pending_panic(heap);
        }
    } else {
        frees.set_depth(depth);
    }
}

/// Frees every queued object (the caller has raised the free depth, so frees nested in
/// these do not drain the queue themselves).
pub(crate) fn drain_free_queue(heap: &GcHeap) {
    while let Some(obj) = heap.frees.dequeue() {
        // SAFETY: queued objects have a zero count, are FREEING and not yet freed.
        let object_flags = unsafe { obj.header() }.flags();
        // SAFETY: a queued object: live, zero count, FREEING, not freed before.
        unsafe { free_guarded(heap, obj, object_flags, heap.frees.depth()) };
    }
}

/// After a walk: objects allocated during it join generation 0, and the frees it deferred
/// run. Returns whether any did (they ran `Drop`s and finalizers).
pub(crate) fn run_deferred_frees(heap: &GcHeap) -> bool {
    heap.adopt_pending();
    if !heap.frees.has_queued() {
        return false;
    }
    let depth = heap.frees.depth();
    heap.frees.set_depth(depth + 1);
    drain_free_queue(heap);
    heap.frees.set_depth(depth);
    true
}

/// `free_object` under a panic guard: a panic in a `Drop` (here or in a free nested below,
/// up to `slot`'s depth) is kept for later, and the frees it cut short are finished, so no
/// block is lost and no value dropped twice.
///
/// # Safety
/// As `free_object`; `slot` is the current free depth (at least 1).
unsafe fn free_guarded(heap: &GcHeap, obj: Obj, object_flags: u32, slot: u32) {
    heap.frees.set_in_progress(slot, obj.as_ptr());
    // SAFETY: a live object with a zero count, FREEING, not freed before (caller).
    let freeing = || unsafe { free_object(heap, obj, object_flags) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(freeing)) {
        heap.keep_panic(payload);
        finish_cut_short_frees(heap, slot);
    }
    heap.frees.set_in_progress(slot, ptr::null_mut());
}

/// After a panic from a `Drop` was caught at free depth `slot - 1`: finishes every free at
/// depth `slot` and deeper that the unwinding cut short, and restores the depth. Only a
/// value's drop can unwind out of `free_object` (finalizers and weak callbacks are
/// guarded), and it runs after `DEAD` is set and the object is off every list: what is
/// left of each cut-short free is returning the block.
fn finish_cut_short_frees(heap: &GcHeap, slot: u32) {
    for cut_short in heap.frees.take_in_progress_from(slot) {
        // SAFETY: a freed object with no handle, off every list, DEAD (recorded by the
        // free that the panic cut short).
        unsafe { heap.free_block(cut_short) };
    }
    heap.frees.set_depth(slot);
}

/// Runs the finalizer (once, PEP 442: the object alive, weak references still upgrading),
/// kills the object unless the finalizer resurrected it, and returns its memory.
///
/// # Safety
/// `obj` is a live object of `heap` with a zero count, marked FREEING, not freed before.
/// `object_flags` is its flag word, passed along by the caller that just wrote it (reading
/// it back at once can stall on store forwarding).
#[inline]
unsafe fn free_object(heap: &GcHeap, obj: Obj, object_flags: u32) {
    // SAFETY: live until `free_block` below (caller).
    let hdr = unsafe { obj.header() };
    if object_flags & flags::DEAD == 0 {
        if let Some(finalize) = VTable::of(hdr).finalize
            && object_flags & flags::FINALIZED == 0
        {
            hdr.set(flags::FINALIZED);
            hdr.clear(flags::FREEING);
            hdr.inc_strong();
            let interrupted = heap.begin_finalizer(obj);
            // SAFETY: live, and not DEAD: its value is initialised, of the vtable's type.
            call_user(heap, || unsafe { finalize(obj) });
            heap.end_finalizer(interrupted);
            if !hdr.dec_strong() {
                // Resurrected: a handle made in the finalizer keeps it.
                return;
            }
            hdr.set(flags::FREEING);
        }
        // A panic in `Drop` leaves this object's block unreturned (a leak, never a double
        // drop: DEAD is set first) and is caught by the outermost release.
        // SAFETY: live, not DEAD (checked above).
        unsafe { kill_with(heap, obj, false) };
    } else {
        // SAFETY: live (caller).
        unsafe { heap.untrack(obj) };
    }
    if hdr.has(flags::HAS_WEAK) {
        // Weak references made while the value died (from a weak callback or `Drop`) must
        // not outlive the memory.
        // SAFETY: live (caller).
        unsafe { clear_weakrefs(heap, obj) };
    }
    // SAFETY: no handle is left, the object is off every list and its value is dead.
    unsafe { heap.free_block(obj) };
}

/// Ends the value of `obj`: its weak references die (their callbacks run), it leaves the
/// generation lists, and its value is dropped in place. The memory stays until the last
/// handle goes; handles then see the object dead.
///
/// # Safety
/// `obj` is a live object of `heap` whose value is not DEAD.
#[inline]
pub(crate) unsafe fn kill(heap: &GcHeap, obj: Obj) {
    // SAFETY: a live object of `heap` whose value is not DEAD (caller).
    unsafe { kill_with(heap, obj, true) };
}

/// `kill`; with `guard` false a panic in `Drop` propagates to the caller's guard (the
/// outermost `release`), which saves one `catch_unwind` per freed object.
///
/// # Safety
/// As [`kill`].
#[inline(always)] // the free path's hot half: codegen-unit splits must not outline it
unsafe fn kill_with(heap: &GcHeap, obj: Obj, guard: bool) {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    debug_assert!(!hdr.has(flags::DEAD), "kill: the value is already dead");
    if hdr.has(flags::HAS_WEAK) {
        // SAFETY: live (caller).
        unsafe { clear_weakrefs(heap, obj) };
    }
    // SAFETY: live (caller).
    unsafe { heap.untrack(obj) };
    // A dead object is in no collection any more, whatever list it was taken from.
    hdr.set_flags((hdr.flags() | flags::DEAD) & !(flags::COLLECTING | flags::UNREACHABLE));
    let layout = hdr.layout();
    if layout.is_weak_cell {
        // SAFETY: a weak cell whose value is still initialised (DEAD was only just set).
        let cell = unsafe { cell_value(obj) };
        if let Some(target) = cell.target.take() {
            // SAFETY: a cell's recorded target is live (weak table invariant).
            unsafe { heap.forget_weak_cell(target, obj) };
        }
    }
    if !layout.needs_drop {
        return;
    }
    let drop_value = VTable::of(hdr).drop_value;
    // SAFETY: live, its value initialised until now; DEAD is set first, so nothing reads or
    // drops the value again.
    let dropping = || unsafe { drop_value(obj) };
    if guard {
        let depth = heap.frees.depth();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(dropping)) {
            heap.keep_panic(payload);
            finish_cut_short_frees(heap, depth + 1);
            heap.frees.set_depth(depth);
        }
    } else {
        dropping();
    }
}

/// Runs user code; a panic is caught and kept (the first one) to be re-raised once the
/// heap is consistent again.
pub(crate) fn call_user(heap: &GcHeap, f: impl FnOnce()) {
    let depth = heap.frees.depth();
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        heap.keep_panic(payload);
        // The user code may have been freeing objects when it panicked.
        finish_cut_short_frees(heap, depth + 1);
        heap.frees.set_depth(depth);
    }
}

/// Re-raises the first panic caught in user code, unless the thread is already unwinding
/// (a second panic would abort).
#[inline]
pub(crate) fn raise_pending_panic(heap: &GcHeap) {
    if heap.has_pending_panic() {
        raise_pending_panic_slow(heap);
    }
}

#[cold]
fn raise_pending_panic_slow(heap: &GcHeap) {
    if let Some(payload) = heap.take_panic()
        && !std::thread::panicking()
    {
        resume_unwind(payload);
    }
}

/// Drops a strong reference the heap itself held (the collector's temporary ones, saved
/// garbage, a weak callback's cell).
///
/// # Safety
/// `obj` is a live object of `heap`, and the heap owns one of its references.
pub(crate) unsafe fn decref(heap: &GcHeap, obj: Obj) {
    // SAFETY: live (caller).
    if unsafe { obj.header() }.dec_strong() {
        // SAFETY: the count just reached zero.
        unsafe { release(heap, obj) };
    }
}

/// Empties `garbage()`, dropping the heap's references.
pub(crate) fn clear_garbage(heap: &GcHeap) {
    for obj in heap.take_garbage() {
        // SAFETY: saved garbage is live and the heap held one reference to each.
        unsafe { decref(heap, obj) };
    }
}

/// Clears every weak reference to `target` and pushes the cells whose callbacks should run
/// (most recent first; each with a reference held for the call) onto `to_call`. A cell that
/// is itself unreachable garbage, being freed, dead, or whose handles are all gone, is
/// skipped.
///
/// # Safety
/// `target` is a live object of `heap`.
pub(crate) unsafe fn detach_weakrefs(heap: &GcHeap, target: Obj, to_call: &mut Vec<Obj>) {
    // SAFETY: live (caller).
    let cells = unsafe { heap.take_weak_cells(target) };
    for &cell in &cells {
        // SAFETY: cells in the table are live and not DEAD (they leave it when they die).
        unsafe { cell_value(cell) }.target.set(None);
    }
    for &cell in cells.iter().rev() {
        // SAFETY: cells taken off the table are live (they leave it when they die).
        let hdr = unsafe { cell.header() };
        // SAFETY: a cell taken off the table is live and not DEAD.
        let has_callback = unsafe { cell_value(cell) }.callback.borrow().is_some();
        let wanted = !hdr.has(flags::UNREACHABLE | flags::FREEING | flags::DEAD)
            && hdr.strong() > 0
            && has_callback;
        if wanted {
            hdr.inc_strong();
            to_call.push(cell);
        }
    }
}

/// Runs (and consumes) a cell's callback, then drops the reference `detach_weakrefs` took.
///
/// # Safety
/// `cell` is a weak cell of `heap` that `detach_weakrefs` handed out with a reference.
pub(crate) unsafe fn run_weak_callback(heap: &GcHeap, cell: Obj) {
    // SAFETY: the reference keeps the cell live; it is not DEAD (only the collector kills
    // objects that are in use, and a referenced cell was not garbage).
    let callback = unsafe { cell_value(cell) }.callback.borrow_mut().take();
    if let Some(callback) = callback {
        call_user(heap, || callback.call());
    }
    // SAFETY: the reference `detach_weakrefs` took.
    unsafe { decref(heap, cell) };
}

/// `target` is dying: clear its weak references and run their callbacks.
///
/// # Safety
/// `target` is a live object of `heap`.
pub(crate) unsafe fn clear_weakrefs(heap: &GcHeap, target: Obj) {
    let mut to_call = Vec::new();
    // SAFETY: live (caller).
    unsafe { detach_weakrefs(heap, target, &mut to_call) };
    for cell in to_call {
        // SAFETY: handed out by `detach_weakrefs` with a reference.
        unsafe { run_weak_callback(heap, cell) };
    }
}

/// A tracked object lent out by `Gc::get_mut` rejoins generation 0, if it still is lent
/// (its handle was used again, or a trace reported it: the loan is over).
///
/// # Safety
/// `obj` is a live object of `heap`, and no `&mut` to its value is in use.
pub(crate) unsafe fn retrack(heap: &GcHeap, obj: Obj) {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    if hdr.has(flags::RETRACK) {
        // While lent, handles may have moved in and out of its value unseen: a candidate.
        hdr.set_flags((hdr.flags() & !flags::RETRACK) | flags::CANDIDATE);
        // SAFETY: a tracked type off every list (lent), its value initialised.
        unsafe { heap.track_young(obj) };
    }
}
