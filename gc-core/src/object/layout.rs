//! What the object layer knows about a type: where the value sits in the allocation and
//! which kinds of user code its death runs (CPython's `tp_basicsize`, `Py_TPFLAGS_HAVE_GC`
//! and the presence of `tp_finalize`). The trace layer puts a [`TypeLayout`] at the
//! start of each type's `VTable`, so a header reaches both through one pointer.
//!
//! Invariant owned here: `value_offset`, `size` and `align` describe one allocation,
//! `[Header][Links, if tracked][value]`, with the value aligned for its type.

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
    /// The type has a finalizer (`Finalize::HAS_FINALIZER`).
    pub(crate) has_finalizer: bool,
    /// The value is a weak reference cell, which the free path unregisters.
    pub(crate) is_weak_cell: bool,
    /// Offset of the value from the header.
    pub(crate) value_offset: usize,
    /// Bytes of the whole allocation.
    pub(crate) size: usize,
    /// Alignment of the whole allocation.
    pub(crate) align: usize,
}
