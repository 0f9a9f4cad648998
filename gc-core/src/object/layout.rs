//! What the object layer knows about a type: where the header and the value sit in the
//! allocation and which kinds of user code its death runs (CPython's `tp_basicsize`,
//! `tp_itemsize`, `Py_TPFLAGS_HAVE_GC` and the presence of `tp_finalize`). The trace layer
//! puts a [`TypeLayout`] at the start of each type's `VTable`, so a header reaches both
//! through one pointer.
//!
//! Invariant owned here: `header_offset`, `value_offset`, `size`, `item_size` and `align`
//! describe one allocation,
//!
//! ```text
//! [length, slices only][Links, tracked only][Header][value]
//! ^ allocation start    ^ header - 16        ^ header ^ header + value_offset
//! ```
//!
//! with the header `header_offset` bytes in and the value aligned for its type. The links
//! come before the header (as CPython's `PyGC_Head` comes before the object), so the value
//! is at the same offset from the header whether the object is tracked or not, and a handle
//! to an unsized value (`dyn Trait`, `[T]`, `str`) finds it from the header alone.

use std::any::TypeId;

/// Memory layout and death behaviour of one type of object.
#[derive(Debug)]
pub struct TypeLayout {
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) type_id: fn() -> TypeId,
    /// Objects of the type are on the generation lists and carry `Links`.
    pub(crate) tracked: bool,
    /// Dropping the value runs code (`std::mem::needs_drop`).
    pub(crate) needs_drop: bool,
    /// The type has a finalizer (`Finalize::has_finalizer`).
    pub(crate) has_finalizer: bool,
    /// The value is a weak reference cell, which the free path unregisters.
    pub(crate) is_weak_cell: bool,
    /// Offset of the header from the start of the allocation.
    pub(crate) header_offset: usize,
    /// Offset of the value from the header.
    pub(crate) value_offset: usize,
    /// Bytes of the whole allocation (for a slice: without its items).
    pub(crate) size: usize,
    /// For a slice (`[T]`, `str`): bytes per item, the item count being the first word of
    /// the allocation; 0 for a sized value.
    pub(crate) item_size: usize,
    /// Alignment of the whole allocation.
    pub(crate) align: usize,
}

/// Offset of the value from the header: the header's 16 bytes, rounded up to the value's
/// alignment (the offset of `value` in `#[repr(C)] struct { header: Header, value: T }`).
pub(crate) const fn value_offset(value_align: usize) -> usize {
    16usize.div_ceil(value_align) * value_align
}

/// Alignment of an allocation holding a value aligned to `value_align`.
pub(crate) const fn allocation_align(value_align: usize) -> usize {
    if value_align > 16 { value_align } else { 16 }
}

/// Offset of the header from the start of the allocation: room for the links of a tracked
/// object and the length of a slice, rounded up so that the value stays aligned.
pub(crate) const fn header_offset(tracked: bool, slice: bool, value_align: usize) -> usize {
    let raw: usize = if tracked { 16 } else { 0 } + if slice { 16 } else { 0 };
    let align = allocation_align(value_align);
    raw.div_ceil(align) * align
}
