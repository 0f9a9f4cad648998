//! What the collector knows about a type, built once per type as a promoted constant
//! (CPython's type slots `tp_traverse`, `tp_dealloc` and `tp_finalize`).
//!
//! Invariant owned here: every header's layout pointer points at the `layout` field of a
//! `static` [`VTable`] (headers are only written by the heap's allocation from a vtable),
//! so [`VTable::of`] can step from a header to its vtable; and a vtable's entry points
//! expect exactly the value type (and, for slices, the layout) its layout describes.

use super::{Finalize, Trace, Tracer};
use crate::object::{Header, Obj, TypeLayout, allocation_align, header_offset, value_offset};
use std::any::TypeId;
use std::ptr::{self, NonNull};

/// A type's layout and the erased entry points of its `Trace`, `Drop` and `Finalize`.
#[repr(C)]
pub struct VTable {
    /// First, so a header's layout pointer is a pointer to the whole vtable.
    pub(crate) layout: TypeLayout,
    /// Calls `Trace::trace` on the value of the given object.
    pub(crate) trace: unsafe fn(Obj, &mut Tracer<'_>),
    /// Drops the value of the given object in place.
    pub(crate) drop_value: unsafe fn(Obj),
    /// Calls `Finalize::finalize` on the value, for types that have a finalizer.
    pub(crate) finalize: Option<unsafe fn(Obj)>,
}

impl std::fmt::Debug for VTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VTable")
            .field("type", &(self.layout.type_name)())
            .field("tracked", &self.layout.tracked)
            .field("size", &self.layout.size)
            .finish()
    }
}

impl VTable {
    /// The vtable of a sized `T`, tracked or not, with or without its finalizer, and
    /// `is_weak_cell` for the heap's weak reference cells.
    pub(crate) const fn new<T: Trace + Finalize + 'static>(
        tracked: bool,
        has_finalizer: bool,
        is_weak_cell: bool,
    ) -> VTable {
        let header_offset = header_offset(tracked, false, align_of::<T>());
        let value_offset = value_offset(align_of::<T>());
        VTable {
            layout: TypeLayout {
                type_name: std::any::type_name::<T>,
                type_id: TypeId::of::<T>,
                tracked,
                needs_drop: std::mem::needs_drop::<T>(),
                has_finalizer,
                is_weak_cell,
                header_offset,
                value_offset,
                size: header_offset + value_offset + size_of::<T>(),
                item_size: 0,
                align: allocation_align(align_of::<T>()),
            },
            trace: trace_erased::<T>,
            drop_value: drop_erased::<T>,
            finalize: if has_finalizer {
                Some(finalize_erased::<T>)
            } else {
                None
            },
        }
    }

    /// The vtable of a slice object of `T` items, tracked or not, named as the type `N`
    /// (`[T]`, or `str` for bytes).
    const fn slice<T: Trace + 'static, N: ?Sized + 'static, const TRACKED: bool>() -> VTable {
        let header_offset = header_offset(TRACKED, true, align_of::<T>());
        let value_offset = value_offset(align_of::<T>());
        VTable {
            layout: TypeLayout {
                type_name: std::any::type_name::<N>,
                type_id: TypeId::of::<N>,
                tracked: TRACKED,
                needs_drop: std::mem::needs_drop::<T>(),
                has_finalizer: false,
                is_weak_cell: false,
                header_offset,
                value_offset,
                size: header_offset + value_offset,
                item_size: size_of::<T>(),
                align: allocation_align(align_of::<T>()),
            },
            trace: trace_slice::<T>,
            drop_value: drop_slice::<T>,
            finalize: None,
        }
    }

    /// The layout pointer a header of this type stores (with the whole vtable's
    /// provenance).
    pub(crate) fn layout_ptr(&'static self) -> NonNull<TypeLayout> {
        NonNull::from(self).cast()
    }

    /// The vtable of the object whose header is `header`.
    #[inline(always)]
    pub(crate) fn of(header: &Header) -> &'static VTable {
        // SAFETY: the layout pointer points at the first field of a `static` vtable (module
        // invariant), with that vtable's provenance; `VTable` is `repr(C)`.
        unsafe { header.layout_ptr().cast::<VTable>().as_ref() }
    }
}

/// The vtables of `T`, as promoted constants: one per combination of tracked (the type may
/// hold a `Gc`) and has a finalizer. [`VTableOf::get`] picks the one the type's `Trace` and
/// `Finalize` call for; the choice folds to a constant.
pub(crate) struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + Finalize + 'static> VTableOf<T> {
    const TRACKED_FINALIZED: &'static VTable = &VTable::new::<T>(true, true, false);
    const TRACKED: &'static VTable = &VTable::new::<T>(true, false, false);
    const FINALIZED: &'static VTable = &VTable::new::<T>(false, true, false);
    const PLAIN: &'static VTable = &VTable::new::<T>(false, false, false);

    /// The vtable of `T`'s objects.
    #[inline(always)]
    pub(crate) fn get() -> &'static VTable {
        match (T::may_contain_gc(), T::has_finalizer()) {
            (true, true) => Self::TRACKED_FINALIZED,
            (true, false) => Self::TRACKED,
            (false, true) => Self::FINALIZED,
            (false, false) => Self::PLAIN,
        }
    }
}

/// The vtables of `[T]`.
pub(crate) struct SliceVTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + 'static> SliceVTableOf<T> {
    const TRACKED: &'static VTable = &VTable::slice::<T, [T], true>();
    const PLAIN: &'static VTable = &VTable::slice::<T, [T], false>();

    /// The vtable of `[T]`'s objects.
    #[inline(always)]
    pub(crate) fn get() -> &'static VTable {
        if T::may_contain_gc() {
            Self::TRACKED
        } else {
            Self::PLAIN
        }
    }
}

/// The vtable of `str` objects (bytes, untracked).
pub(crate) static STR_VTABLE: VTable = VTable::slice::<u8, str, false>();

/// The value of `obj`, a `T`.
///
/// # Safety
/// `obj` is live and holds an initialised `T` at the offset for `T`.
#[inline(always)]
unsafe fn value_of<T>(obj: Obj) -> *mut T {
    // SAFETY: the value lies `value_offset` bytes after the header, in the allocation.
    unsafe { obj.as_ptr().cast::<u8>().add(value_offset(align_of::<T>())) }.cast()
}

/// The items of the slice object `obj`, as a raw slice.
///
/// # Safety
/// `obj` is a live slice object of `[T]`.
#[inline]
unsafe fn items_of<T>(obj: Obj) -> *mut [T] {
    // SAFETY: live (caller).
    let start = unsafe { obj.allocation() };
    // SAFETY: a slice object's length is the first word of its allocation.
    let len = unsafe { start.cast::<usize>().read() };
    // SAFETY: the items start where a `T` value would (caller).
    ptr::slice_from_raw_parts_mut(unsafe { value_of::<T>(obj) }, len)
}

/// # Safety
/// `obj` is live and its value is an initialised `T`.
unsafe fn trace_erased<T: Trace>(obj: Obj, tracer: &mut Tracer<'_>) {
    // SAFETY: live (caller).
    let value = unsafe { value_of::<T>(obj) };
    // SAFETY: an initialised `T` (caller).
    let value = unsafe { &*value };
    value.trace(tracer)
}

/// # Safety
/// `obj` is live, its value an initialised `T` that is never used again.
unsafe fn drop_erased<T>(obj: Obj) {
    // SAFETY: live (caller).
    let value = unsafe { value_of::<T>(obj) };
    // SAFETY: a live `T` never used again (caller).
    unsafe { ptr::drop_in_place(value) }
}

/// # Safety
/// `obj` is live and its value is an initialised `T`.
unsafe fn finalize_erased<T: Finalize>(obj: Obj) {
    // SAFETY: live (caller).
    let value = unsafe { value_of::<T>(obj) };
    // SAFETY: an initialised `T` (caller).
    let value = unsafe { &*value };
    value.finalize()
}

/// # Safety
/// `obj` is a live slice object of `[T]` whose items are initialised.
unsafe fn trace_slice<T: Trace>(obj: Obj, tracer: &mut Tracer<'_>) {
    // SAFETY: a live slice object of `[T]` (caller).
    let items = unsafe { items_of::<T>(obj) };
    // SAFETY: initialised items (caller).
    let items = unsafe { &*items };
    items.iter().for_each(|item| item.trace(tracer))
}

/// # Safety
/// `obj` is a live slice object of `[T]`, its items initialised and never used again.
unsafe fn drop_slice<T>(obj: Obj) {
    // SAFETY: a live slice object of `[T]` (caller).
    let items = unsafe { items_of::<T>(obj) };
    // SAFETY: initialised items never used again (caller).
    unsafe { ptr::drop_in_place(items) }
}
