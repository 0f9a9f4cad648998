//! Layer 8: the current thread's heap, created on first use and torn down at thread exit
//! (CPython keeps one `gcstate` per interpreter; here it is one per thread). The only
//! module that knows heaps are per thread.
//!
//! Invariant owned here: the pointer in `HEAP` is null (no heap yet), `EXITED` (torn down),
//! or a heap that lives until the thread-exit guard frees it, which it does only when no
//! object of the heap is left (so no handle can reach it any more).

use crate::collect::gc_collect_with_callback;
use crate::dealloc::clear_garbage;
use crate::heap::GcHeap;
use crate::types::NUM_GENERATIONS;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// The state of the thread-local heap pointer once the thread's heap was torn down.
const EXITED: *const GcHeap = ptr::dangling();

thread_local! {
    /// No destructor, so it stays readable during every other thread-local destructor.
    static HEAP: Cell<*const GcHeap> = const { Cell::new(ptr::null()) };
    /// Tears the heap down at thread exit.
    static HEAP_GUARD: HeapGuard = const { HeapGuard };
}

struct HeapGuard;

impl Drop for HeapGuard {
    fn drop(&mut self) {
        let heap = HEAP.with(Cell::get);
        if heap.is_null() || heap == EXITED {
            return;
        }
        // SAFETY: a heap of this thread, leaked in `new_heap`, not yet freed (only this
        // guard frees it, once).
        let h = unsafe { &*heap };
        // A last full collection runs the finalizers of the thread's garbage.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            clear_garbage(h);
            gc_collect_with_callback(h, NUM_GENERATIONS - 1);
        }));
        // Anything still referenced (say, from another thread-local not yet destroyed)
        // keeps the heap: it is leaked, never freed under a live handle.
        if h.is_empty() {
            HEAP.with(|c| c.set(EXITED));
            // SAFETY: leaked from a `Box` in `new_heap`; no object is left, so nothing
            // refers to the heap any more.
            drop(unsafe { Box::from_raw(heap.cast_mut()) });
        }
    }
}

/// The current thread's heap, created on first use.
#[inline]
pub(crate) fn heap() -> &'static GcHeap {
    let p = HEAP.with(Cell::get);
    if !p.is_null() && p != EXITED {
        // SAFETY: a live heap of this thread; it is only freed by the thread-exit guard
        // once no object (and so no caller holding a handle) uses it.
        return unsafe { &*p };
    }
    new_heap()
}

#[cold]
fn new_heap() -> &'static GcHeap {
    let exited = HEAP.with(Cell::get) == EXITED;
    let heap: &'static GcHeap = Box::leak(Box::new(GcHeap::new()));
    heap.init_lists();
    HEAP.with(|c| c.set(heap));
    if !exited {
        // Registers the guard's destructor; during thread teardown this may fail, and the
        // heap is then simply leaked.
        let _ = HEAP_GUARD.try_with(|_| ());
    }
    heap
}

/// The current thread's heap if it has one that can still free objects.
#[inline]
pub(crate) fn heap_if_alive() -> Option<&'static GcHeap> {
    let p = HEAP.try_with(Cell::get).ok()?;
    if p.is_null() || p == EXITED {
        None
    } else {
        // SAFETY: as in `heap()`.
        Some(unsafe { &*p })
    }
}
