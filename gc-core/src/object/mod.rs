//! Layer 1: objects. One allocation per object:
//!
//! ```text
//! untracked:  [Header 16 B][value]
//! tracked:    [Links 16 B][Header 16 B][value]
//! slices:     [length 16 B][Links, if tracked][Header 16 B][items]
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
pub(crate) use header::{flags, take_oldest_marked};
pub use layout::TypeLayout;
pub use links::Links;

use std::ptr::NonNull;

pub(crate) use layout::{allocation_align, header_offset, value_offset};

/// The address of an object: its header (`header_offset` bytes into its allocation). Copyable and
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

    /// The header pointer.
    #[inline]
    pub(crate) fn as_nonnull(self) -> NonNull<Header> {
        self.0
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
        // SAFETY: a tracked object's links sit right before its header in the same
        // allocation (caller).
        unsafe { self.as_ptr().cast::<Links>().sub(1) }
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
        // SAFETY: a tracked object's header sits right after its links (caller), in the
        // same allocation.
        let header = unsafe { links.add(1) }.cast::<Header>().cast_mut();
        // SAFETY: derived from a non-null pointer into an allocation.
        Obj(unsafe { NonNull::new_unchecked(header) })
    }

    /// The start of the object's allocation.
    ///
    /// # Safety
    /// The object is live.
    #[inline]
    pub(crate) unsafe fn allocation(self) -> *mut u8 {
        // SAFETY: live (caller).
        let offset = unsafe { self.header() }.layout().header_offset;
        // SAFETY: the header lies `header_offset` bytes into the allocation.
        unsafe { self.as_ptr().cast::<u8>().sub(offset) }
    }

    /// Bytes of the object's allocation (a slice's size depends on its length, which is
    /// the first word of the allocation).
    ///
    /// # Safety
    /// The object is live.
    #[inline]
    pub(crate) unsafe fn allocation_size(self) -> usize {
        // SAFETY: live (caller).
        let layout = unsafe { self.header() }.layout();
        if layout.item_size == 0 {
            return layout.size;
        }
        // SAFETY: live (caller).
        let start = unsafe { self.allocation() };
        // SAFETY: a slice object's length is the first word of its allocation.
        let len = unsafe { start.cast::<usize>().read() };
        layout.size + len * layout.item_size
    }
}
