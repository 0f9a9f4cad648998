//! Layer 8: the raw object operations gc-api's handles are built on (CPython's
//! `PyObject_GC_New`, `Py_INCREF`/`Py_DECREF`, `PyWeakref_NewRef`) (the lock_api shape:
//! unsafe operations here, the safe typed handles `Gc`, `GcAny` and `Weak` in gc-api). Every
//! function works on the calling thread's heap.
//!
//! Invariant owned here: a strong reference is created only for an object the heap may hand
//! out (`GcHeap::may_hand_out`: not freeing, dead, or under a collection's verdict), and
//! dropped only by [`dec_strong`], which frees the object through the free path when it
//! was the last.

use crate::dealloc::release;
use crate::heap::GcHeap;
use crate::heap::weak::{WEAK_CELL_VTABLE, WeakCell, cell_value};
use crate::object::{Obj, flags};
use crate::policy::count_tracked_allocation;
use crate::thread::{heap, heap_if_alive};
use crate::trace::vtable::VTableOf;
use crate::trace::{Finalize, Trace, VTable};
use crate::types::GcError;
use std::any::TypeId;
use std::cell::{Cell, RefCell};

pub use crate::heap::WeakCallback;
pub use crate::object::Obj as Object;

/// Allocates an object holding `value`, with one strong reference that the caller owns.
/// Objects of a type whose `Trace` may reach a handle are tracked: the allocation counts
/// toward generation 0 first and may run a collection (before the new object exists, as in
/// CPython). On failure `value` is dropped.
#[inline]
pub fn new_object<T: Trace + Finalize + 'static>(value: T) -> Result<Obj, GcError> {
    let vtable = VTableOf::<T>::VTABLE;
    let obj = alloc(heap(), vtable).ok_or(GcError::OutOfMemory)?;
    // SAFETY: a fresh, live object.
    let slot = unsafe { obj.value_ptr() }.cast::<T>();
    // SAFETY: the value slot of `T`'s vtable: allocated, aligned for `T` and uninitialised;
    // no user code has run since allocation.
    unsafe { slot.write(value) };
    Ok(obj)
}

#[inline]
fn alloc(heap: &GcHeap, vtable: &'static VTable) -> Option<Obj> {
    if vtable.layout.tracked {
        count_tracked_allocation(heap);
    }
    heap.alloc_object(vtable.layout_ptr())
}

/// The layout size and alignment of `T`'s objects (for `handle_alloc_error`).
pub fn object_layout<T: Trace + Finalize + 'static>() -> std::alloc::Layout {
    let layout = &VTableOf::<T>::VTABLE.layout;
    std::alloc::Layout::from_size_align(layout.size, layout.align)
        .unwrap_or(std::alloc::Layout::new::<T>())
}

/// Adds a strong reference; aborts the process if the count would overflow.
///
/// # Safety
/// `obj` is live: the caller holds a strong reference to it.
#[inline(always)]
pub unsafe fn inc_strong(obj: Obj) {
    // SAFETY: live (caller).
    unsafe { obj.header() }.inc_strong();
}

/// Drops a strong reference the caller owned; the last one frees the object (after its
/// finalizer).
///
/// # Safety
/// The caller owns one strong reference to `obj` and gives it up.
#[inline(always)]
pub unsafe fn dec_strong(obj: Obj) {
    // SAFETY: live while the caller's reference exists.
    if unsafe { obj.header() }.dec_strong() {
        release_slow(obj);
    }
}

#[cold]
#[inline(never)]
fn release_slow(obj: Obj) {
    // After this thread's heap was torn down the object is leaked, never freed under
    // anything that might still point at it.
    if let Some(heap) = heap_if_alive() {
        // SAFETY: the count just reached zero; the object is live until released.
        unsafe { release(heap, obj) };
    }
}

/// Adds a strong reference if the heap may hand one out now (the object is not being
/// freed, not dead, and not under a running collection's verdict). Returns whether it did.
///
/// # Safety
/// `obj`'s memory is live (a handle, a weak cell's target, or the allocator vouches).
pub unsafe fn try_inc_strong(obj: Obj) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    let may = heap_if_alive().is_some_and(|heap| heap.may_hand_out(hdr));
    if may {
        hdr.inc_strong();
    }
    may
}

/// The strong count.
///
/// # Safety
/// `obj` is live.
pub unsafe fn strong_count(obj: Obj) -> usize {
    // SAFETY: live (caller).
    unsafe { obj.header() }.strong() as usize
}

/// Whether the collector dropped the value (the object outlived its garbage set).
///
/// # Safety
/// `obj` is live.
#[inline]
pub unsafe fn is_dead(obj: Obj) -> bool {
    // SAFETY: live (caller).
    unsafe { obj.header() }.has(flags::DEAD)
}

/// Whether the object is on the collector's lists.
///
/// # Safety
/// `obj` is live.
pub unsafe fn is_tracked(obj: Obj) -> bool {
    // SAFETY: live (caller).
    unsafe { obj.header() }.has(flags::TRACKED)
}

/// Whether the object's finalizer has run.
///
/// # Safety
/// `obj` is live.
pub unsafe fn is_finalized(obj: Obj) -> bool {
    // SAFETY: live (caller).
    unsafe { obj.header() }.has(flags::FINALIZED)
}

/// The value, unless the collector dropped it.
///
/// # Safety
/// `obj` is live for `'a` (the caller's handle outlives the borrow) and holds a `T`.
#[inline]
pub unsafe fn value<'a, T>(obj: Obj) -> Option<&'a T> {
    // SAFETY: live (caller).
    if unsafe { is_dead(obj) } {
        return None;
    }
    // SAFETY: live (caller).
    let value = unsafe { obj.value_ptr() }.cast::<T>();
    // SAFETY: not DEAD, so the value is initialised, and it is a `T` (caller). A value is
    // dropped while handles exist only by the collector, for a garbage set that its final
    // check found closed: every handle to a member is owned by a member (exact when `Trace`
    // impls keep their rule 2, which `unsafe impl Trace` promises). A handle outside the
    // set, like the caller's with a borrow through it, makes the check keep the whole set.
    Some(unsafe { &*value })
}

/// The Rust type name of the value.
///
/// # Safety
/// `obj` is live.
pub unsafe fn type_name(obj: Obj) -> &'static str {
    // SAFETY: live (caller).
    (unsafe { obj.header() }.layout().type_name)()
}

/// The `TypeId` of the value.
///
/// # Safety
/// `obj` is live.
pub unsafe fn type_id(obj: Obj) -> TypeId {
    // SAFETY: live (caller).
    (unsafe { obj.header() }.layout().type_id)()
}

/// A new weak reference cell (a tracked object, owned strong reference returned) for
/// `target`, with an optional callback. A target whose value is already dead gets a cell
/// born dead: nothing would clear it when the memory goes.
///
/// # Safety
/// `target` is live (the caller holds a handle to it).
pub unsafe fn new_weak_cell(target: Obj, callback: Option<Box<dyn WeakCallback>>) -> Obj {
    // SAFETY: live (caller).
    let alive = !unsafe { is_dead(target) };
    let cell = WeakCell {
        target: Cell::new(alive.then_some(target)),
        callback: RefCell::new(callback),
    };
    let heap = heap();
    let Some(obj) = alloc(heap, &WEAK_CELL_VTABLE) else {
        std::alloc::handle_alloc_error(
            std::alloc::Layout::from_size_align(
                WEAK_CELL_VTABLE.layout.size,
                WEAK_CELL_VTABLE.layout.align,
            )
            .expect("valid layout"),
        );
    };
    // SAFETY: a fresh, live object.
    let slot = unsafe { obj.value_ptr() }.cast::<WeakCell>();
    // SAFETY: the value slot of the weak cell vtable: allocated, aligned, uninitialised.
    unsafe { slot.write(cell) };
    if alive {
        // SAFETY: live and not dead (checked; the allocation above may have collected, but
        // the caller's handle keeps the target reachable).
        unsafe { heap.register_weak(target, obj) };
    }
    obj
}

/// The target of a weak cell, while it is alive.
///
/// # Safety
/// `cell` is live and was made by [`new_weak_cell`].
pub unsafe fn weak_target(cell: Obj) -> Option<Obj> {
    // SAFETY: live (caller).
    if unsafe { is_dead(cell) } {
        // Only a `Weak` smuggled out of collected garbage sees its cell dead.
        return None;
    }
    // SAFETY: a live weak cell, not DEAD.
    unsafe { cell_value(cell) }.target.get()
}

/// The state flags of an object, for heap pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectState {
    /// Tentatively unreachable in the collection now running.
    pub unreachable: bool,
    /// The finalizer has run.
    pub finalized: bool,
    /// The value was dropped.
    pub dead: bool,
}

/// The state flags of `obj`.
///
/// # Safety
/// `obj` is live.
pub unsafe fn object_state(obj: Obj) -> ObjectState {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    ObjectState {
        unreachable: hdr.has(flags::UNREACHABLE),
        finalized: hdr.has(flags::FINALIZED),
        dead: hdr.has(flags::DEAD),
    }
}
