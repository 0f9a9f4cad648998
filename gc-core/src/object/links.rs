//! The links of a tracked object on the intrusive generation lists.
//!
//! Invariant owned here: while an object is on a list, `next` and `prev` point at its
//! neighbours (or the list's sentinel), except during a collection's walk, where `prev` of a
//! `COLLECTING` object holds `gc_refs` (CPython packs it into `_gc_prev` the same way). The
//! count is stored as a pointer without provenance, so no integer is ever turned back into
//! a pointer (strict provenance).

use std::cell::Cell;
use std::ptr;

/// Links of the intrusive, circular, doubly linked lists (16 bytes, right after the header
/// of a tracked object).
#[repr(C)]
pub struct Links {
    pub(crate) next: Cell<*const Links>,
    /// The previous node, or `gc_refs` while the object is in a collection's walk.
    pub(crate) prev: Cell<*const Links>,
}

const _: () = assert!(size_of::<Links>() == 16);

impl Links {
    /// An unlinked node (a list sentinel before `list::init`).
    pub(crate) const fn unlinked() -> Links {
        Links {
            next: Cell::new(ptr::null()),
            prev: Cell::new(ptr::null()),
        }
    }

    /// `gc_refs`, while `prev` holds it.
    #[inline]
    pub(crate) fn gc_refs(&self) -> usize {
        self.prev.get().addr()
    }

    /// Stores `gc_refs` in `prev` (the list pointer is rebuilt when the walk passes).
    #[inline]
    pub(crate) fn set_gc_refs(&self, refs: usize) {
        self.prev.set(ptr::without_provenance(refs));
    }
}
