//! What the collector knows about a type, built once per type as a promoted constant
//! (CPython's type slots `tp_traverse`, `tp_dealloc` and `tp_finalize`).
//!
//! Invariant owned here: every header's layout pointer points at the `layout` field of a
//! `static` [`VTable`] (headers are only written by the heap's allocation from a vtable),
//! so [`VTable::of`] can step from a header to its vtable.

use super::{Finalize, Trace, Tracer};
use crate::object::{Header, TypeLayout, allocation_align, value_offset};
use std::any::TypeId;
use std::ptr::{self, NonNull};

/// A type's layout and the erased entry points of its `Trace`, `Drop` and `Finalize`.
#[repr(C)]
pub struct VTable {
    /// First, so a header's layout pointer is a pointer to the whole vtable.
    pub(crate) layout: TypeLayout,
    /// Calls `Trace::trace` on the value at the given address.
    pub(crate) trace: unsafe fn(*const u8, &mut Tracer<'_>),
    /// Drops the value at the given address in place.
    pub(crate) drop_value: unsafe fn(*mut u8),
    /// Calls `Finalize::finalize`, for types that have a finalizer.
    pub(crate) finalize: Option<unsafe fn(*const u8)>,
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
    /// The vtable of `T` (`is_weak_cell`: the heap's weak reference cell type).
    pub(crate) const fn new<T: Trace + Finalize + 'static>(is_weak_cell: bool) -> VTable {
        let tracked = T::MAY_CONTAIN_GC;
        let offset = value_offset(tracked, align_of::<T>());
        VTable {
            layout: TypeLayout {
                type_name: std::any::type_name::<T>,
                type_id: TypeId::of::<T>,
                tracked,
                needs_drop: std::mem::needs_drop::<T>(),
                has_finalizer: T::HAS_FINALIZER,
                is_weak_cell,
                value_offset: offset,
                size: offset + size_of::<T>(),
                align: allocation_align(align_of::<T>()),
            },
            trace: trace_erased::<T>,
            drop_value: drop_erased::<T>,
            finalize: if T::HAS_FINALIZER {
                Some(finalize_erased::<T>)
            } else {
                None
            },
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

/// The vtable of `T`, as a promoted constant.
pub(crate) struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + Finalize + 'static> VTableOf<T> {
    pub(crate) const VTABLE: &'static VTable = &VTable::new::<T>(false);
}

/// # Safety
/// `value` points at a live, initialised `T`.
unsafe fn trace_erased<T: Trace>(value: *const u8, tracer: &mut Tracer<'_>) {
    // SAFETY: a live, initialised `T` (caller).
    unsafe { (*value.cast::<T>()).trace(tracer) }
}

/// # Safety
/// `value` points at a live, initialised `T` that is never used again.
unsafe fn drop_erased<T>(value: *mut u8) {
    // SAFETY: a live `T` never used again (caller).
    unsafe { ptr::drop_in_place(value.cast::<T>()) }
}

/// # Safety
/// `value` points at a live, initialised `T`.
unsafe fn finalize_erased<T: Finalize>(value: *const u8) {
    // SAFETY: a live, initialised `T` (caller).
    unsafe { (*value.cast::<T>()).finalize() }
}
