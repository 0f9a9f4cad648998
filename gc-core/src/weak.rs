//! Weak references. Each `Weak` handle is a strong handle to a *weak cell*: a small tracked
//! object holding the target and the optional callback. Being an object of its own, the
//! cell takes part in collections, which is how the collector knows whether a weak
//! reference is itself garbage (CPython 3.12: its callback then never runs).
//!
//! The heap's weak table maps each target with weak references to its cells, oldest
//! first; the `HAS_WEAK` flag says an entry exists.

use crate::gc_heap::{GcHeap, heap_if_alive};
use crate::object::{Finalize, Header, Trace, Tracer, VTableOf, flags};
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

/// A weak reference's callback.
pub(crate) trait Callback {
    /// Reports the handles the callback holds (none for a plain closure).
    fn trace(&self, tracer: &mut Tracer);
    /// Runs the callback, consuming it.
    fn call(self: Box<Self>);
}

/// A closure: opaque to the collector.
pub(crate) struct PlainCallback<F>(pub(crate) F);

impl<F: FnOnce()> Callback for PlainCallback<F> {
    fn trace(&self, _tracer: &mut Tracer) {}
    fn call(self: Box<Self>) {
        (self.0)()
    }
}

/// Traced state plus a function of it: the collector sees the state's handles.
pub(crate) struct TracedCallback<S, F> {
    pub(crate) state: S,
    pub(crate) f: F,
}

impl<S: Trace, F: FnOnce(S)> Callback for TracedCallback<S, F> {
    fn trace(&self, tracer: &mut Tracer) {
        self.state.trace(tracer)
    }
    fn call(self: Box<Self>) {
        let TracedCallback { state, f } = *self;
        f(state)
    }
}

/// The value of a weak cell object.
pub(crate) struct WeakCell {
    pub(crate) target: Cell<Option<NonNull<Header>>>,
    pub(crate) callback: RefCell<Option<Box<dyn Callback>>>,
}

// SAFETY: reports only what the owned callback reports (the target is weak, not reported).
unsafe impl Trace for WeakCell {
    // Tracked, so that collections can tell whether the cell itself is garbage. The target
    // is weak; a callback reports what it holds (nothing, for a plain closure).
    const MAY_CONTAIN_GC: bool = true;
    fn trace(&self, tracer: &mut Tracer) {
        match self.callback.try_borrow() {
            Ok(callback) => {
                if let Some(callback) = callback.as_ref() {
                    callback.trace(tracer)
                }
            }
            Err(_) => tracer.report_hidden_edges(),
        }
    }
}

impl Finalize for WeakCell {
    const HAS_FINALIZER: bool = false;
}

impl Drop for WeakCell {
    fn drop(&mut self) {
        // The last `Weak` of this cell is gone: the target forgets it.
        let Some(target) = self.target.take() else {
            return;
        };
        let Some(heap) = heap_if_alive() else {
            return;
        };
        let offset = VTableOf::<WeakCell>::VTABLE.value_offset;
        let me = (self as *mut WeakCell).cast::<u8>().wrapping_sub(offset) as usize;
        let mut table = heap.weak_table.borrow_mut();
        if let Some(cells) = table.get_mut(&(target.as_ptr() as usize)) {
            cells.retain(|c| c.as_ptr() as usize != me);
            if cells.is_empty() {
                table.remove(&(target.as_ptr() as usize));
                // SAFETY: a target with a non-empty weak list is live (the list is
                // detached before its value dies).
                unsafe { target.as_ref() }.clear(flags::HAS_WEAK);
            }
        }
    }
}

/// The weak-cell value of a cell object.
///
/// # Safety
/// `cell` is a live weak cell object that is not DEAD.
pub(crate) unsafe fn cell_value<'a>(cell: NonNull<Header>) -> &'a WeakCell {
    // SAFETY: guaranteed by the caller.
    unsafe { &*Header::value_ptr(cell).cast::<WeakCell>() }
}

/// Records `cell` as a weak reference to `target`.
pub(crate) fn register(heap: &GcHeap, target: NonNull<Header>, cell: NonNull<Header>) {
    heap.weak_table
        .borrow_mut()
        .entry(target.as_ptr() as usize)
        .or_default()
        .push(cell);
    // SAFETY: the caller holds a handle to `target`.
    unsafe { target.as_ref() }.set(flags::HAS_WEAK);
}

/// Clears every weak reference to `target` and pushes the cells whose callbacks should
/// run (most recent first; each with a reference held for the call) onto `to_call`.
/// A cell that is itself unreachable garbage, or whose handles are all gone, is skipped.
pub(crate) fn detach_weakrefs(
    heap: &GcHeap,
    target: NonNull<Header>,
    to_call: &mut Vec<NonNull<Header>>,
) {
    let cells = heap
        .weak_table
        .borrow_mut()
        .remove(&(target.as_ptr() as usize))
        .unwrap_or_default();
    // SAFETY: `target` is live (caller).
    unsafe { target.as_ref() }.clear(flags::HAS_WEAK);
    for &cell in &cells {
        // SAFETY: cells in the table are live and not DEAD (they leave it when dropped).
        unsafe { cell_value(cell) }.target.set(None);
    }
    for &cell in cells.iter().rev() {
        // SAFETY: as above.
        let hdr = unsafe { cell.as_ref() };
        let wanted = !hdr.has(flags::UNREACHABLE | flags::FREEING | flags::DEAD)
            && hdr.refcount.get() > 0
            // SAFETY: as above.
            && unsafe { cell_value(cell) }.callback.borrow().is_some();
        if wanted {
            heap.incref(cell);
            to_call.push(cell);
        }
    }
}

/// Runs (and consumes) a cell's callback, then drops the reference `detach_weakrefs` took.
pub(crate) fn run_callback(heap: &GcHeap, cell: NonNull<Header>) {
    // SAFETY: we hold a reference, so the cell is live; it is not DEAD (only the
    // collector kills objects, and a referenced cell is not garbage).
    let callback = unsafe { cell_value(cell) }.callback.borrow_mut().take();
    if let Some(callback) = callback {
        heap.call_user(|| callback.call());
    }
    heap.decref(cell);
}

/// `target` is dying: clear its weak references and run their callbacks.
pub(crate) fn clear_weakrefs(heap: &GcHeap, target: NonNull<Header>) {
    let mut to_call = Vec::new();
    detach_weakrefs(heap, target, &mut to_call);
    for cell in to_call {
        run_callback(heap, cell);
    }
}
