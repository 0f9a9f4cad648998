//! Layer 8: the raw object operations gc-api's handles are built on (CPython's
//! `PyObject_GC_New`, `Py_INCREF`/`Py_DECREF`, `PyWeakref_NewRef`) (the lock_api shape:
//! unsafe operations here, the safe typed handles `Gc`, `GcAny` and `Weak` in gc-api). Every
//! function works on the calling thread's heap.
//!
//! Invariant owned here: a strong reference is created only for an object the heap may hand
//! out (`GcHeap::may_hand_out`: not freeing, dead, being built, lent out, or under a
//! collection's verdict), and dropped only by [`dec_strong`], which frees the object through
//! the free path when it was the last.

use crate::dealloc::{clear_weakrefs, release};
use crate::heap::weak::{WEAK_CELL_VTABLE, WeakCell, cell_value};
use crate::heap::{CollectorPhase, GcHeap};
use crate::object::{Header, Obj, flags, value_offset};
use crate::policy::count_allocation;
use crate::thread::{heap, heap_if_alive};
use crate::trace::vtable::{STR_VTABLE, SliceVTableOf, VTableOf};
use crate::trace::{Finalize, Trace, VTable};
use crate::types::GcError;
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};

pub use crate::heap::WeakCallback;

/// An object as a typed handle sees it: the header, then the value (the `value` field sits
/// at the same offset as in the object's allocation, tracked or not). Handles hold a
/// `NonNull<GcBox<T>>`: for an unsized `T` (`dyn Trait`, `[T]`, `str`) the pointer carries
/// the value's metadata.
#[repr(C)]
pub struct GcBox<T: ?Sized> {
    header: Header,
    value: T,
}

impl<T> GcBox<T> {
    /// The typed pointer of `obj`, an object whose value is a `T`.
    #[inline(always)]
    pub fn from_obj(obj: Obj) -> NonNull<GcBox<T>> {
        obj.as_nonnull().cast()
    }
}

impl<T: ?Sized> std::fmt::Debug for GcBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcBox")
    }
}

impl<T: ?Sized> GcBox<T> {
    /// The object `ptr` points at.
    #[inline(always)]
    pub fn obj(ptr: NonNull<GcBox<T>>) -> Obj {
        Obj::from_header(ptr.cast())
    }

    /// The address of the value (which may be dead: read it only through [`value`]).
    ///
    /// # Safety
    /// `ptr` points at a live object whose value is a `T` (with `T`'s metadata).
    #[inline(always)]
    pub unsafe fn value_ptr(ptr: NonNull<GcBox<T>>) -> *const T {
        // SAFETY: a live object (caller): the field place is inside its allocation.
        unsafe { &raw const (*ptr.as_ptr()).value }
    }

    /// The object whose value is at `value` (the inverse of [`GcBox::value_ptr`]).
    ///
    /// For a sized `T`, see also [`GcBox::from_obj`].
    ///
    /// # Safety
    /// `value` is the value pointer of a live object of `T`.
    pub unsafe fn from_value_ptr(value: *const T) -> NonNull<GcBox<T>> {
        // SAFETY: a live value (caller): its alignment is readable from its metadata.
        let align = align_of_val(unsafe { &*value });
        // SAFETY: the header lies `value_offset` bytes before the value, in the allocation.
        let header = unsafe { value.cast::<u8>().sub(value_offset(align)) };
        let boxed = value.with_addr(header.addr()) as *mut GcBox<T>;
        // SAFETY: derived from a non-null pointer into an allocation.
        unsafe { NonNull::new_unchecked(boxed) }
    }
}

/// Allocates an object holding `value`, with one strong reference that the caller owns.
/// Objects of a type whose `Trace` may reach a handle are tracked: the allocation counts
/// toward generation 0 first and may run a collection (before the new object exists, as in
/// CPython). On failure `value` is dropped.
#[inline]
pub fn new_object<T: Trace + Finalize + 'static>(value: T) -> Result<NonNull<GcBox<T>>, GcError> {
    let vtable = VTableOf::<T>::get();
    let obj = alloc(heap(), vtable, vtable.layout.size, true).ok_or(GcError::OutOfMemory)?;
    let ptr: NonNull<GcBox<T>> = obj.as_nonnull().cast();
    // SAFETY: a fresh object: the field place is inside its allocation.
    let slot = unsafe { &raw mut (*ptr.as_ptr()).value };
    // SAFETY: the value slot of `T`'s vtable: allocated, aligned for `T` and uninitialised;
    // no user code has run since allocation.
    unsafe { slot.write(value) };
    Ok(ptr)
}

#[inline]
fn alloc(heap: &GcHeap, vtable: &'static VTable, size: usize, track: bool) -> Option<Obj> {
    count_allocation(heap, vtable.layout.tracked, size);
    heap.alloc_object(vtable.layout_ptr(), size, track)
}

/// The layout size and alignment of `T`'s objects (for `handle_alloc_error`).
pub fn object_layout<T: Trace + Finalize + 'static>() -> std::alloc::Layout {
    let layout = &VTableOf::<T>::get().layout;
    std::alloc::Layout::from_size_align(layout.size, layout.align)
        .unwrap_or(std::alloc::Layout::new::<T>())
}

/// Allocates the object `Gc::new_cyclic` builds: one strong reference (the construction's),
/// on no list and marked as being built, so that no handle can be made to it (weak
/// references to it do not upgrade) and no collection traces its uninitialised value.
pub fn begin_object<T: Trace + Finalize + 'static>() -> Result<NonNull<GcBox<T>>, GcError> {
    let vtable = VTableOf::<T>::get();
    let obj = alloc(heap(), vtable, vtable.layout.size, false).ok_or(GcError::OutOfMemory)?;
    // SAFETY: a fresh object.
    unsafe { obj.header() }.set(flags::CONSTRUCTING);
    Ok(obj.as_nonnull().cast())
}

/// Gives the object [`begin_object`] made its value: it joins generation 0 (if tracked) and
/// handles may be made to it.
///
/// # Safety
/// `ptr` comes from [`begin_object`] and was neither finished nor abandoned.
pub unsafe fn finish_object<T: Trace + Finalize + 'static>(ptr: NonNull<GcBox<T>>, value: T) {
    // SAFETY: a live object (caller): the field place is inside its allocation.
    let slot = unsafe { &raw mut (*ptr.as_ptr()).value };
    // SAFETY: the value slot of a fresh `T` object (caller), uninitialised.
    unsafe { slot.write(value) };
    let obj = GcBox::obj(ptr);
    // SAFETY: live: the construction holds its reference.
    let hdr = unsafe { obj.header() };
    hdr.clear(flags::CONSTRUCTING);
    if hdr.layout().tracked {
        // SAFETY: a tracked type on no list, its value now initialised.
        unsafe { heap().track_young(obj) };
    }
}

/// The construction of a [`begin_object`] object failed (its closure panicked): weak
/// references made to it die without their callbacks, and its memory goes.
///
/// # Safety
/// `ptr` comes from [`begin_object`] and was neither finished nor abandoned.
pub unsafe fn abandon_object<T: ?Sized>(ptr: NonNull<GcBox<T>>) {
    let obj = GcBox::obj(ptr);
    let heap = heap();
    // SAFETY: live: the construction holds its reference.
    let hdr = unsafe { obj.header() };
    if hdr.has(flags::HAS_WEAK) {
        // SAFETY: live.
        for cell in unsafe { heap.take_weak_cells(obj) } {
            // SAFETY: a registered cell is live and not DEAD.
            unsafe { cell_value(cell) }.target.set(None);
        }
    }
    // No value to drop: the object is dead from the start.
    hdr.set(flags::DEAD);
    if hdr.dec_strong() {
        // SAFETY: the count just reached zero; DEAD, so only the memory goes.
        unsafe { release(heap, obj) };
    }
}

/// Allocates a slice object holding the items of `items` (moved out; `items` is left
/// empty), with one strong reference that the caller owns.
pub fn new_slice<T: Trace + 'static>(items: &mut Vec<T>) -> Result<NonNull<GcBox<[T]>>, GcError> {
    let vtable = SliceVTableOf::<T>::get();
    let len = items.len();
    let size = len
        .checked_mul(size_of::<T>())
        .and_then(|bytes| bytes.checked_add(vtable.layout.size))
        .ok_or(GcError::OutOfMemory)?;
    let obj = alloc(heap(), vtable, size, true).ok_or(GcError::OutOfMemory)?;
    // SAFETY: a fresh, live object.
    let start = unsafe { obj.allocation() };
    // SAFETY: a fresh slice object: its length word is the first of its allocation.
    unsafe { start.cast::<usize>().write(len) };
    let boxed = ptr::slice_from_raw_parts_mut(obj.as_ptr().cast::<T>(), len) as *mut GcBox<[T]>;
    // SAFETY: derived from the object's non-null header.
    let ptr = unsafe { NonNull::new_unchecked(boxed) };
    // SAFETY: the item slots of a fresh object, `len` `T`s, uninitialised.
    let slots = unsafe { &raw mut (*ptr.as_ptr()).value }.cast::<T>();
    // SAFETY: `items` holds `len` initialised `T`s, moved into the object's slots, which do
    // not overlap them; the vector forgets them right after.
    unsafe { ptr::copy_nonoverlapping(items.as_ptr(), slots, len) };
    // SAFETY: the items were moved out.
    unsafe { items.set_len(0) };
    Ok(ptr)
}

/// Allocates a `str` object holding a copy of `s`, with one strong reference that the
/// caller owns.
pub fn new_str(s: &str) -> Result<NonNull<GcBox<str>>, GcError> {
    let len = s.len();
    let size = STR_VTABLE
        .layout
        .size
        .checked_add(len)
        .ok_or(GcError::OutOfMemory)?;
    let obj = alloc(heap(), &STR_VTABLE, size, true).ok_or(GcError::OutOfMemory)?;
    // SAFETY: a fresh, live object.
    let start = unsafe { obj.allocation() };
    // SAFETY: a fresh slice object: its length word is the first of its allocation.
    unsafe { start.cast::<usize>().write(len) };
    let boxed = ptr::slice_from_raw_parts_mut(obj.as_ptr().cast::<u8>(), len) as *mut GcBox<str>;
    // SAFETY: derived from the object's non-null header.
    let ptr = unsafe { NonNull::new_unchecked(boxed) };
    // SAFETY: the byte slots of a fresh object, `len` of them.
    let slots = unsafe { &raw mut (*ptr.as_ptr()).value }.cast::<u8>();
    // SAFETY: `s` is `len` valid bytes that do not overlap the fresh object.
    unsafe { ptr::copy_nonoverlapping(s.as_ptr(), slots, len) };
    Ok(ptr)
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

/// The number of `Weak` handles to the object (over all its weak references).
///
/// # Safety
/// `obj` is live.
pub unsafe fn weak_count(obj: Obj) -> usize {
    // SAFETY: live (caller).
    if !unsafe { obj.header() }.has(flags::HAS_WEAK) {
        return 0;
    }
    let Some(heap) = heap_if_alive() else {
        return 0;
    };
    heap.weak_cells(obj)
        .into_iter()
        // SAFETY: cells in the weak table are live.
        .map(|cell| unsafe { cell.header() }.strong() as usize)
        .sum()
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
    unsafe { obj.header() }.has(flags::TRACKED | flags::RETRACK)
}

/// Whether the object's finalizer has run.
///
/// # Safety
/// `obj` is live.
pub unsafe fn is_finalized(obj: Obj) -> bool {
    // SAFETY: live (caller).
    unsafe { obj.header() }.has(flags::FINALIZED)
}

/// The flags `value` checks before it hands out the value: the value is dropped, or it
/// is lent out by `Gc::get_mut` and the loan just ended.
const VALUE_SLOW: u32 = flags::DEAD | flags::RETRACK;

/// The value, unless the collector dropped it. Using a handle ends a `Gc::get_mut` loan.
///
/// # Safety
/// `ptr` points at a live object holding a `T`, for `'a` (the caller's handle outlives the
/// borrow), and no `&mut` to the value is in use.
#[inline(always)]
pub unsafe fn value<'a, T: ?Sized>(ptr: NonNull<GcBox<T>>) -> Option<&'a T> {
    // SAFETY: live (caller).
    if unsafe { GcBox::obj(ptr).header() }.flags() & VALUE_SLOW != 0 {
        // SAFETY: guaranteed by the caller.
        return unsafe { value_slow(ptr) };
    }
    // SAFETY: live, holding a `T` (caller).
    let value = unsafe { GcBox::value_ptr(ptr) };
    // SAFETY: not DEAD, so the value is initialised, and it is a `T` (caller). A value is
    // dropped while handles exist only by the collector, for a garbage set that its final
    // check found closed: every handle to a member is owned by a member (exact when `Trace`
    // impls keep their rule 2, which `unsafe impl Trace` promises). A handle outside the
    // set, like the caller's with a borrow through it, makes the check keep the whole set.
    Some(unsafe { &*value })
}

#[cold]
#[inline(never)]
unsafe fn value_slow<'a, T: ?Sized>(ptr: NonNull<GcBox<T>>) -> Option<&'a T> {
    let obj = GcBox::obj(ptr);
    // SAFETY: live (caller).
    unsafe { end_loan(obj) };
    // SAFETY: live (caller).
    if unsafe { is_dead(obj) } {
        return None;
    }
    // SAFETY: live, holding a `T` (caller).
    let value = unsafe { GcBox::value_ptr(ptr) };
    // SAFETY: not DEAD: initialised, and kept by the caller's handle (as in `value`).
    Some(unsafe { &*value })
}

/// A raw pointer to the value escapes (`Gc::as_ptr`, `Gc::into_raw`): handles may move
/// through it without any count showing it, so the object is a candidate for good.
///
/// # Safety
/// `obj` is live.
pub unsafe fn mark_escaped(obj: Obj) {
    // SAFETY: live (caller).
    unsafe { obj.header() }.mark_escaped();
}

/// A handle to the object is in use again: a `Gc::get_mut` loan of it is over, and it
/// rejoins the collector's lists.
///
/// # Safety
/// `obj` is live and no `&mut` to its value is in use.
#[inline]
pub unsafe fn end_loan(obj: Obj) {
    // SAFETY: live (caller).
    if unsafe { obj.header() }.has(flags::RETRACK)
        && let Some(heap) = heap_if_alive()
    {
        // SAFETY: live, loan over (caller).
        unsafe { crate::dealloc::retrack(heap, obj) };
    }
}

/// Lends the value out for a `&mut` borrow, if `obj` has exactly one strong reference (the
/// caller's), no weak reference, a live value, and no collection is running. A tracked
/// object leaves the collector's lists for the loan (so no collection reads the value under
/// the `&mut`); it comes back when a handle to it is next used or a trace reports it.
/// Returns whether the loan was made.
///
/// # Safety
/// `obj` is live and the caller holds its only strong reference, borrowed mutably for the
/// loan.
pub unsafe fn lend_exclusive(obj: Obj) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    let busy = flags::DEAD
        | flags::HAS_WEAK
        | flags::CONSTRUCTING
        | flags::COLLECTING
        | flags::UNREACHABLE
        | flags::FREEING;
    let Some(heap) = heap_if_alive() else {
        return false;
    };
    if hdr.strong() != 1 || hdr.has(busy) || heap.phase() != CollectorPhase::Idle {
        return false;
    }
    // SAFETY: live; no collection walks the lists (Idle).
    unsafe { heap.lend(obj) };
    true
}

/// Moves the value out of an object whose only strong reference is the caller's (no
/// collection looking at it): its weak references die (their callbacks run), and the
/// memory goes with the caller's reference. `None` (nothing changed) otherwise.
///
/// # Safety
/// `ptr` points at a live object holding a `T`, and the caller owns one strong reference,
/// which it gives up when this returns `Some`.
pub unsafe fn take_value<T>(ptr: NonNull<GcBox<T>>) -> Option<T> {
    let obj = GcBox::obj(ptr);
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    let busy =
        flags::DEAD | flags::CONSTRUCTING | flags::COLLECTING | flags::UNREACHABLE | flags::FREEING;
    let heap = heap_if_alive()?;
    if hdr.strong() != 1 || hdr.has(busy) {
        return None;
    }
    if hdr.has(flags::HAS_WEAK) {
        // SAFETY: live.
        unsafe { clear_weakrefs(heap, obj) };
    }
    if hdr.strong() != 1 || hdr.has(busy) {
        // A weak callback made a handle: the object stays.
        return None;
    }
    // SAFETY: live; its list (if any) is well formed, and `take_value` is not called from
    // a walk (the caller holds a handle it owns and consumes).
    unsafe { heap.untrack(obj) };
    hdr.clear(flags::RETRACK);
    hdr.set(flags::DEAD);
    // SAFETY: live, holding a `T` (caller).
    let slot = unsafe { GcBox::value_ptr(ptr) };
    // SAFETY: a live, initialised `T`, never read or dropped again (DEAD).
    let value = unsafe { slot.read() };
    // SAFETY: the caller's reference, given up; DEAD, so only the memory goes.
    unsafe { dec_strong(obj) };
    Some(value)
}

/// The object whose finalizer is running, if `value` is its value (`self` in
/// `Finalize::finalize`), with a new strong reference the caller owns.
pub fn finalizing_object<T: 'static>(value: &T) -> Option<NonNull<GcBox<T>>> {
    let heap = heap_if_alive()?;
    let obj = heap.finalizing()?;
    // SAFETY: the object whose finalizer runs is live (the finalizer holds a reference).
    let hdr = unsafe { obj.header() };
    if (hdr.layout().type_id)() != TypeId::of::<T>() {
        return None;
    }
    let ptr: NonNull<GcBox<T>> = obj.as_nonnull().cast();
    // SAFETY: live and holding a `T` (checked).
    if !ptr::eq(unsafe { GcBox::value_ptr(ptr) }, value) || !heap.may_hand_out(hdr) {
        return None;
    }
    hdr.inc_strong();
    Some(ptr)
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
    let layout = &WEAK_CELL_VTABLE.layout;
    let Some(obj) = alloc(heap, &WEAK_CELL_VTABLE, layout.size, true) else {
        std::alloc::handle_alloc_error(
            std::alloc::Layout::from_size_align(layout.size, layout.align).expect("valid layout"),
        );
    };
    // SAFETY: a fresh, live object.
    let slot = unsafe { obj.value_ptr() }.cast::<WeakCell>();
    // SAFETY: the value slot of the weak cell vtable: allocated, aligned, uninitialised.
    unsafe { slot.write(cell) };
    // The allocation may have run a collection; the caller's handle kept the target alive,
    // but its value may have died if the handle was dead already (checked above).
    // SAFETY: live (caller).
    if alive && !unsafe { is_dead(target) } {
        // SAFETY: live and not dead.
        unsafe { heap.register_weak(target, obj) };
    } else if alive {
        // SAFETY: a fresh cell, not DEAD.
        unsafe { cell_value(obj) }.target.set(None);
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
