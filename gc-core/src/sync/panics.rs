//! Panics in user code (`Drop`, finalizers, weak callbacks, collection callbacks,
//! `trace`) during a free or a collection: caught, kept, and raised again once the free or
//! collection is complete, so that the heap is never left half-updated.
//!
//! Invariant owned here: at most one panic is kept per thread (the first), and it is raised
//! only by the outermost free or collection of the thread.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

super::prim::sync_thread_local! {
    static PANIC: RefCell<Option<Box<dyn Any + Send>>> = RefCell::new(None);
}

/// Keeps the first panic of a free (or a collection) to raise once it is complete.
pub(crate) fn keep_panic(payload: Box<dyn Any + Send>) {
    let _ = PANIC.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(payload);
        }
    });
}

/// Raises a kept panic, if any.
pub(crate) fn raise_kept_panic() {
    if let Ok(Some(payload)) = PANIC.try_with(|slot| slot.borrow_mut().take()) {
        resume_unwind(payload);
    }
}

/// Runs `f`, keeping its panic instead of unwinding.
pub(crate) fn guarded(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        keep_panic(payload);
    }
}
