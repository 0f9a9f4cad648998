//! The header every object starts with: strong count, flag bits and the type's layout.
//!
//! Invariant owned here: the strong count and the flag bits are written by the methods of
//! [`Header`] only (every other module calls them), and the count never wraps (an increment
//! that would overflow aborts, as `Rc` does). CPython keeps the same state in `ob_refcnt` and
//! in the low bits of `_gc_prev`.
//!
//! # Flags by phase (CPython's "`_gc_prev` values" block)
//!
//! | where the object is                         | TRACKED | COLLECTING | UNREACHABLE | `Links::prev` |
//! |---------------------------------------------|---------|------------|-------------|---------------|
//! | a generation, the permanent generation, `pending` | set | clear | clear | list pointer |
//! | `young`, from `update_refs` to its visit in `move_unreachable` | set | set | clear | `gc_refs` |
//! | `young`, kept by `move_unreachable`         | set     | clear      | clear       | list pointer  |
//! | `unreachable`, after `move_unreachable`     | set     | set        | set         | list pointer  |
//! | `unreachable`, after `handle_weakrefs`      | set     | clear      | set         | list pointer  |
//! | dead (value dropped) or freeing             | clear   | clear      | clear       | unlinked      |
//!
//! `collect::validate` checks the table between passes in debug builds.

use super::layout::TypeLayout;
use std::cell::Cell;
use std::ptr::NonNull;

/// Flag bits of [`Header`].
pub(crate) mod flags {
    /// Always set: the first word of every object's allocation is either a header (this
    /// bit set, the flag word being first) or a tracked object's `next` link (a pointer
    /// aligned to 8, so this bit clear). `object_at` tells them apart by it.
    pub const HEADER_MARK: u32 = 1 << 0;
    /// On a generation list (or the permanent generation, or a collection's work list).
    pub const TRACKED: u32 = 1 << 1;
    /// The finalizer ran (or started and panicked): it never runs again.
    pub const FINALIZED: u32 = 1 << 2;
    /// The value was dropped; only the memory remains until the last handle goes.
    pub const DEAD: u32 = 1 << 3;
    /// Weak references to the object exist (listed in the heap's weak table).
    pub const HAS_WEAK: u32 = 1 << 4;
    /// The strong count reached zero and the object is being (or queued to be) freed.
    pub const FREEING: u32 = 1 << 5;
    /// In the set a collection is examining; `Links::prev` holds `gc_refs` until the
    /// object's visit in `move_unreachable`.
    pub const COLLECTING: u32 = 1 << 6;
    /// Tentatively unreachable in the current collection.
    pub const UNREACHABLE: u32 = 1 << 7;
    /// Allocated outside the pools (large, over-aligned, or a slice).
    pub const LARGE: u32 = 1 << 8;
    /// Of a tracked type but off the lists while `Gc::get_mut` lends out its value; it
    /// rejoins generation 0 when its handle is next used or reported by a trace.
    pub const RETRACK: u32 = 1 << 9;
    /// The value is being built (`Gc::new_cyclic`): no handle may be made to it.
    pub const CONSTRUCTING: u32 = 1 << 10;
    /// A strong count of the object went down to a value other than zero since a
    /// collection last found it reachable: it may be part of a garbage cycle (a *candidate*
    /// root, in Bacon and Rajan's terms). See `collect::unreachable`.
    pub const CANDIDATE: u32 = 1 << 11;
    /// A raw pointer to the value escaped (`Gc::as_ptr`, `Gc::into_raw`): handles may move
    /// through it in ways no count shows, so the object always counts as a candidate.
    pub const ESCAPED: u32 = 1 << 14;
    /// The generation a tracked object was last promoted into (2 bits), kept so that an
    /// old object dying by refcounting can be taken off the long-lived counts; the oldest
    /// generation's tag is carried exactly by the objects on its list (see
    /// `GcHeap::oldest_len`); frozen objects carry `UNLISTED`.
    pub const GEN_SHIFT: u32 = 12;
    pub const GEN_MASK: u32 = 0b11 << GEN_SHIFT;
    /// The tag of the oldest generation.
    pub const OLDEST: u32 = ((crate::types::NUM_GENERATIONS - 1) as u32) << GEN_SHIFT;
    /// The generation tag of an object on no generation list (the permanent generation).
    pub const UNLISTED: usize = 3;
}

thread_local! {
    /// Set when an object tagged with the oldest generation becomes a candidate or escapes:
    /// the heap's record that no object of its oldest generation is one may be out of date.
    /// (Handles never leave their thread, so the thread is the heap.)
    static OLDEST_MARKED: Cell<bool> = const { Cell::new(false) };
}

/// Whether an object of the oldest generation became a candidate since the last call;
/// clears the record.
pub(crate) fn take_oldest_marked() -> bool {
    OLDEST_MARKED.with(|m| m.replace(false))
}

#[cold]
#[inline(never)]
fn note_oldest_marked() {
    OLDEST_MARKED.with(|m| m.set(true));
}

/// The part of every object the collector and the handles share (16 bytes). The flag word
/// comes first, so that the low bits of the object's first word are its flags (see
/// `flags::HEADER_MARK`; on a big-endian target the count comes first instead).
#[repr(C)]
pub struct Header {
    #[cfg(target_endian = "little")]
    flags: Cell<u32>,
    /// Strong handles (`Gc`, `GcAny`, the collector's temporary ones).
    refcount: Cell<u32>,
    #[cfg(target_endian = "big")]
    flags: Cell<u32>,
    /// The type's layout: the first field of its `VTable` (trace layer). A raw pointer, so
    /// that it keeps the provenance of the whole vtable for the cast back.
    layout: NonNull<TypeLayout>,
}

const _: () = assert!(size_of::<Header>() == 16);

impl Header {
    /// Writes a header with one strong reference and the given flags at `at`.
    ///
    /// # Safety
    /// `at` is valid for a write of a `Header` and 16-aligned (a fresh block).
    #[inline]
    pub(crate) unsafe fn init(at: *mut Header, layout: NonNull<TypeLayout>, flags: u32) {
        // Field by field with scalar stores: the free path soon reads the count and flags
        // back, and a load forwarded from one wide vector store would stall.
        // SAFETY: `at` points at a valid block (caller): field addresses stay in it.
        let refcount = unsafe { &raw mut (*at).refcount };
        // SAFETY: `at` points at a valid block (caller): the field address stays in it.
        let flag_word = unsafe { &raw mut (*at).flags };
        // SAFETY: `at` points at a valid block (caller): the field address stays in it.
        let layout_slot = unsafe { &raw mut (*at).layout };
        // SAFETY: valid for writes (caller); each field is written once.
        unsafe { refcount.write_volatile(Cell::new(1)) };
        // SAFETY: valid for writes (caller).
        unsafe { flag_word.write_volatile(Cell::new(flags | flags::HEADER_MARK)) };
        // SAFETY: valid for writes (caller).
        unsafe { layout_slot.write(layout) };
    }

    /// The layout of the object's type.
    #[inline]
    pub(crate) fn layout(&self) -> &'static TypeLayout {
        // SAFETY: layouts live in `static` vtables, never freed or written.
        unsafe { self.layout.as_ref() }
    }

    /// The layout pointer, with the provenance of the vtable that starts with it.
    #[inline]
    pub(crate) fn layout_ptr(&self) -> NonNull<TypeLayout> {
        self.layout
    }

    /// The strong count.
    #[inline]
    pub(crate) fn strong(&self) -> u32 {
        self.refcount.get()
    }

    /// Adds a strong reference; aborts the process if the count would wrap (a wrapped count
    /// would free a live object), as `Rc` does.
    #[inline(always)]
    pub(crate) fn inc_strong(&self) {
        let rc = self.refcount.get().wrapping_add(1);
        self.refcount.set(rc);
        if rc == 0 {
            std::process::abort();
        }
    }

    /// Drops a strong reference; true when it was the last (the caller then frees). A count
    /// left above zero marks the object a candidate (`flags::CANDIDATE`); the first mark on
    /// an object of the oldest generation is also recorded for the heap.
    #[inline(always)]
    pub(crate) fn dec_strong(&self) -> bool {
        let rc = self.refcount.get() - 1;
        self.refcount.set(rc);
        if rc == 0 {
            return true;
        }
        if self.flags.get() & flags::CANDIDATE == 0 {
            self.become_candidate();
        }
        false
    }

    /// Out of line: the first decrement of an object that leaves it alive (later ones find
    /// it a candidate already), kept off the inlined drop path.
    #[inline(never)]
    fn become_candidate(&self) {
        let word = self.flags.get();
        if word & flags::GEN_MASK == flags::OLDEST {
            note_oldest_marked();
        }
        self.flags.set(word | flags::CANDIDATE);
    }

    /// Marks the object `ESCAPED` (a raw pointer to it escaped), recording it for the heap
    /// as `dec_strong` does a candidate.
    #[inline]
    pub(crate) fn mark_escaped(&self) {
        let word = self.flags.get();
        if word & (flags::ESCAPED | flags::GEN_MASK) == flags::OLDEST {
            note_oldest_marked();
        }
        self.flags.set(word | flags::ESCAPED);
    }

    /// Sets the generation tag alone.
    #[inline]
    pub(crate) fn set_generation(&self, generation: usize) {
        let kept = self.flags.get() & !flags::GEN_MASK;
        self.flags
            .set(kept | ((generation as u32) << flags::GEN_SHIFT));
    }

    /// The flag word.
    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        self.flags.get()
    }

    /// Replaces the flag word (callers pass a word they read and changed, which saves
    /// re-reading it on hot paths).
    #[inline]
    pub(crate) fn set_flags(&self, word: u32) {
        debug_assert!(
            word & flags::HEADER_MARK != 0,
            "the header mark is never cleared"
        );
        self.flags.set(word);
    }

    /// Whether the first word of an allocation, read as the low half of a `u64`, is a
    /// header's (as opposed to a tracked object's `next` link).
    #[inline]
    pub(crate) fn word_is_header(first_word: u64) -> bool {
        first_word as u32 & flags::HEADER_MARK != 0
    }

    #[inline]
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags.get() & flag != 0
    }

    #[inline]
    pub(crate) fn set(&self, flag: u32) {
        self.flags.set(self.flags.get() | flag);
    }

    #[inline]
    pub(crate) fn clear(&self, flag: u32) {
        self.flags.set(self.flags.get() & !flag);
    }

    /// The generation the object was last promoted into.
    #[inline]
    pub(crate) fn generation(&self) -> usize {
        ((self.flags.get() & flags::GEN_MASK) >> flags::GEN_SHIFT) as usize
    }

    /// Leaves a collection as a survivor promoted into `generation`.
    #[inline]
    pub(crate) fn survive_into(&self, generation: usize) {
        let kept = self.flags.get() & !(flags::COLLECTING | flags::UNREACHABLE | flags::GEN_MASK);
        self.flags
            .set(kept | ((generation as u32) << flags::GEN_SHIFT));
    }

    /// Whether the object has a finalizer that has not run yet.
    #[inline]
    pub(crate) fn finalizer_pending(&self) -> bool {
        self.layout().has_finalizer && !self.has(flags::FINALIZED)
    }
}
