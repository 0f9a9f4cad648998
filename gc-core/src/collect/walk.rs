//! What every walk of the collector shares: tracing one object, and running a pass under
//! one panic guard (a `trace` is user code and may panic).

use crate::heap::GcHeap;
use crate::object::Obj;
use crate::trace::{Tracer, VTable};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs an object's `trace` with `tracer` (a panic propagates to the pass's guard).
///
/// # Safety
/// `obj` is live and not DEAD (its value is initialised).
#[inline]
pub(super) unsafe fn trace_object(obj: Obj, tracer: &mut Tracer<'_>) {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    let trace = VTable::of(hdr).trace;
    // SAFETY: live and not DEAD, so its value is initialised, of the vtable's type.
    unsafe { trace(obj, tracer) }
}

/// Runs `pass` until it completes; when it panics (a `trace` did), `resume` repairs the
/// state at the object being traced and the pass goes on from the next one. One guard per
/// pass instead of one per object keeps the loops tight. Returns whether any panic happened.
pub(super) fn guarded_pass(
    heap: &GcHeap,
    mut pass: impl FnMut(),
    mut resume: impl FnMut(),
) -> bool {
    let mut poisoned = false;
    while let Err(payload) = catch_unwind(AssertUnwindSafe(&mut pass)) {
        heap.keep_panic(payload);
        poisoned = true;
        resume();
    }
    poisoned
}
