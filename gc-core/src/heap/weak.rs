//! Weak references (CPython's `Objects/weakrefobject.c`). Each `Weak` handle is a strong handle to a *weak cell*: a small tracked
//! object holding the target and the optional callback. Being an object of its own, the
//! cell takes part in collections, which is how the collector knows whether a weak
//! reference is itself garbage (CPython 3.12: its callback then never runs).
//!
//! Invariant owned here: a cell's `target` is `Some` exactly while the cell is listed in
//! the heap's weak table under that target; the table entry goes (and `target` becomes
//! `None`) before the target's value dies or its memory goes. Cells are unregistered by the
//! free path when they die (`dealloc`), not by a `Drop` impl, so no code here needs to find
//! the heap.

use crate::object::Obj;
use crate::trace::{Finalize, Trace, Tracer, VTable};
use std::cell::{Cell, RefCell};

/// A weak reference's callback (gc-api wraps closures in it).
pub trait WeakCallback {
    /// Reports the handles the callback holds (none for a plain closure).
    fn trace(&self, tracer: &mut Tracer);
    /// Runs the callback, consuming it.
    fn call(self: Box<Self>);
}

/// The value of a weak cell object.
pub(crate) struct WeakCell {
    pub(crate) target: Cell<Option<Obj>>,
    pub(crate) callback: RefCell<Option<Box<dyn WeakCallback>>>,
}

// SAFETY: reports only what the owned callback reports (the target is weak, not reported).
unsafe impl Trace for WeakCell {
    // Tracked (`may_contain_gc` keeps its default), so that collections can tell whether
    // the cell itself is garbage.
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
    fn has_finalizer() -> bool {
        false
    }
}

/// The vtable of weak cells: the free path recognises them by it.
pub(crate) static WEAK_CELL_VTABLE: VTable = VTable::new::<WeakCell>(true, false, true);

/// The weak-cell value of a cell object.
///
/// # Safety
/// `cell` is a live weak cell object that is not DEAD, for `'a`.
pub(crate) unsafe fn cell_value<'a>(cell: Obj) -> &'a WeakCell {
    // SAFETY: live (caller).
    let value = unsafe { cell.value_ptr() }.cast::<WeakCell>();
    // SAFETY: a live, not DEAD weak cell holds an initialised `WeakCell` (caller).
    unsafe { &*value }
}
