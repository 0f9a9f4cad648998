//! Layer 1: objects. One allocation per object:
//!
//! ```text
//! untracked:  [Header 16 B][value]
//! tracked:    [Header 16 B][Links 16 B][value]
//! ```
//!
//! - [`header`]: the strong count and flag bits (the only code that writes them), and the
//!   table of which flags hold in which phase of a collection;
//! - [`layout`]: where the value sits and what its death runs;
//! - [`links`]: the generation-list links, with `gc_refs` packed into `prev` during a walk.
//!
//! [`Obj`] is the address of an object as handles, lists and the allocator see it.

pub(crate) mod header;
pub(crate) mod layout;
pub(crate) mod links;

pub use header::Header;
pub(crate) use header::flags;
pub use layout::TypeLayout;
pub use links::Links;

use std::ptr::NonNull;

/// Bytes before the value: the header, and the links of a tracked object.
pub(crate) const fn value_offset(tracked: bool, value_align: usize) -> usize {
    let fixed = if tracked {
        size_of::<Header>() + size_of::<Links>()
    } else {
        size_of::<Header>()
    };
    fixed.div_ceil(value_align) * value_align
}

/// Alignment of an allocation holding a value aligned to `value_align`.
pub(crate) const fn allocation_align(value_align: usize) -> usize {
    if value_align > 16 { value_align } else { 16 }
}

/// The address of an object: its header, at the start of its allocation. Copyable and
/// unchecked: every method that reads through it is `unsafe` and names what keeps the
/// object live.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Obj(NonNull<Header>);

impl Obj {
    /// The object whose header is at `header`.
    #[inline]
    pub(crate) fn from_header(header: NonNull<Header>) -> Obj {
        Obj(header)
    }

    /// The raw header pointer (full provenance over the allocation).
    #[inline]
    pub(crate) fn as_ptr(self) -> *mut Header {
        self.0.as_ptr()
    }

    /// The address, Python's `id()`. Exposes the allocation's provenance: an id may come
    /// back through `object_at`, which turns it into a pointer again.
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr().expose_provenance()
    }

    /// The header.
    ///
    /// # Safety
    /// The object is live (its memory not yet released) for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn header<'a>(self) -> &'a Header {
        // SAFETY: live for 'a (caller); headers are initialised at allocation.
        unsafe { self.0.as_ref() }
    }

    /// The address of the value.
    ///
    /// # Safety
    /// The object is live.
    #[inline(always)]
    pub(crate) unsafe fn value_ptr(self) -> *mut u8 {
        // SAFETY: live (caller).
        let offset = unsafe { self.header() }.layout().value_offset;
        // SAFETY: the value lies `value_offset` bytes into the same allocation.
        unsafe { self.as_ptr().cast::<u8>().add(offset) }
    }

    /// The links of a tracked object, as a pointer that keeps the provenance of the whole
    /// allocation (lists store these, and [`Obj::from_links`] steps back to the header).
    ///
    /// # Safety
    /// The object is live and of a tracked type.
    #[inline(always)]
    pub(crate) unsafe fn links_ptr(self) -> *const Links {
        // SAFETY: a tracked object's links follow its header in the same allocation
        // (caller).
        unsafe { self.as_ptr().add(1).cast::<Links>() }
    }

    /// The links of a tracked object.
    ///
    /// # Safety
    /// The object is live for `'a` and of a tracked type.
    #[inline(always)]
    pub(crate) unsafe fn links<'a>(self) -> &'a Links {
        // SAFETY: live and tracked (caller).
        let links = unsafe { self.links_ptr() };
        // SAFETY: live for 'a (caller): the links are initialised memory for 'a.
        unsafe { &*links }
    }

    /// The object whose links are at `links`.
    ///
    /// # Safety
    /// `links` are the links of a tracked object (not a list sentinel).
    #[inline(always)]
    pub(crate) unsafe fn from_links(links: *const Links) -> Obj {
        // SAFETY: a tracked object's links sit right after its header (caller), so the
        // header is one `Header` before them, in the same allocation.
        let header = unsafe { links.cast::<Header>().cast_mut().sub(1) };
        // SAFETY: derived from a non-null pointer into an allocation.
        Obj(unsafe { NonNull::new_unchecked(header) })
    }
}
