//! The object of the thread-safe flavour: header, reference-count word, flags, vtable, and
//! the block that holds them with the value.
//!
//! Invariant owned here: the reference-count word `rc` is `modcount:32 | CLAIMED:1 |
//! strong:31`, and every change of the strong count (clone, drop, upgrade, the collector's
//! own reference) adds one to `modcount` in the same atomic operation, so a word read twice
//! with the same value was not modified in between (SYNC-DESIGN 3.4; ABA needs 2^32 changes
//! of one object inside one collection). `CLAIMED` is set by the collector's claim; it is
//! cleared again only if the claimed set survives (resurrected by a finalizer), together
//! with a bump of `weak_epoch`, so weak references made before the claim never upgrade
//! again while new ones do.
//!
//! The header has no counterpart in CPython 3.11; it is closest to the free-threaded
//! build's `ob_ref_shared` with the GC's `PyGC_Head` links.

use super::prim::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use crate::alloc::GlobalHeap;
use crate::trace::{Finalize, Trace, Tracer};
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Adds one strong reference (low half) and one modification (high half).
pub(crate) const RC_INC: u64 = (1 << 32) | 1;
/// Takes one strong reference off (low half, borrowing nothing while strong >= 1) and adds
/// one modification (the carry into the high half).
pub(crate) const RC_DEC: u64 = (1 << 32) - 1;
/// The strong count's bits.
pub(crate) const STRONG_MASK: u64 = 0x7FFF_FFFF;
/// Set by the collector's claim: weak references no longer upgrade.
pub(crate) const CLAIMED: u64 = 0x8000_0000;

/// What an object's `home` points at: a generation list (`super::home::ListHome`, which
/// owns the protocol) or one of the markers below. Opaque here, so that the header does not
/// depend on the lists.
#[derive(Debug)]
pub(crate) enum HomeTag {}

/// `home` of an object detached by a running collection.
pub(crate) const COLLECTING: *mut HomeTag = std::ptr::without_provenance_mut(8);
/// `home` of a detached object whose count reached zero meanwhile: its release is the
/// collection's.
pub(crate) const RELEASED: *mut HomeTag = std::ptr::without_provenance_mut(16);
/// `home` of an object on no list.
pub(crate) const UNTRACKED: *mut HomeTag = std::ptr::without_provenance_mut(24);

/// The strong count of a word.
#[inline(always)]
pub(crate) fn strong_of(word: u64) -> u64 {
    word & STRONG_MASK
}

/// Flag bits of [`SyncHeader::flags`].
pub(crate) mod flags {
    /// On a generation list (the type may hold a `Gc`).
    pub(crate) const TRACKED: u32 = 1;
    /// The finalizer ran (or the type has none): never call it again.
    pub(crate) const FINALIZED: u32 = 1 << 1;
    /// The value was dropped by the collector, or is being dropped: handles are dead.
    pub(crate) const DEAD: u32 = 1 << 2;
    /// The value is gone (dropped): a later release only frees the block.
    pub(crate) const DROPPED: u32 = 1 << 3;
    /// Weak references with callbacks point here (`super::weak`'s registry has entries).
    pub(crate) const HAS_CALLBACKS: u32 = 1 << 4;
    /// Stored in an `AtomicGc` once: the block is freed through an epoch, since a `load`
    /// may still read the header after the last handle went.
    pub(crate) const PUBLISHED: u32 = 1 << 5;
}

/// The list links of an object, first in its header so that a list sentinel is a bare
/// `Links`. Written only under the lock of the list the object is on, or by the collector
/// while the object is detached (`home` is `COLLECTING`).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Links {
    pub(crate) next: Cell<*mut Links>,
    pub(crate) prev: Cell<*mut Links>,
}

impl Links {
    pub(crate) const fn unlinked() -> Links {
        Links {
            next: Cell::new(ptr::null_mut()),
            prev: Cell::new(ptr::null_mut()),
        }
    }
}

/// A type's erased entry points and layout (CPython's type slots).
#[derive(Debug)]
pub struct SyncVTable {
    pub(crate) trace: unsafe fn(NonNull<SyncHeader>, &mut Tracer<'_>),
    pub(crate) drop_value: unsafe fn(NonNull<SyncHeader>),
    pub(crate) finalize: Option<unsafe fn(NonNull<SyncHeader>)>,
    pub(crate) tracked: bool,
    pub(crate) layout: Layout,
    pub(crate) type_name: fn() -> &'static str,
}

/// Where a value of `T` sits after the header.
const fn value_offset_of<T>() -> usize {
    let align = align_of::<T>();
    size_of::<SyncHeader>().div_ceil(align) * align
}

/// The block layout of an object of `T`.
const fn layout_of<T>() -> Layout {
    let align = if align_of::<T>() > align_of::<SyncHeader>() {
        align_of::<T>()
    } else {
        align_of::<SyncHeader>()
    };
    let size = value_offset_of::<T>() + size_of::<T>();
    match Layout::from_size_align(size, align) {
        Ok(layout) => layout,
        Err(_) => panic!("a sync object's layout overflows"),
    }
}

/// # Safety
/// `obj` is a live object of type `T` whose value was not dropped.
unsafe fn trace_erased<T: Trace>(obj: NonNull<SyncHeader>, tracer: &mut Tracer<'_>) {
    // SAFETY: an object of `T` (caller).
    let value = unsafe { value_ptr::<T>(obj) };
    // SAFETY: live, with its value in place (caller).
    unsafe { value.as_ref() }.trace(tracer)
}

/// # Safety
/// `obj` is an object of type `T` whose value is in place and is dropped only here, once.
unsafe fn drop_erased<T>(obj: NonNull<SyncHeader>) {
    // SAFETY: an object of `T` (caller).
    let value = unsafe { value_ptr::<T>(obj) };
    // SAFETY: the value is in place and dropped once (caller).
    unsafe { ptr::drop_in_place(value.as_ptr()) }
}

/// # Safety
/// `obj` is a live object of type `T` whose value was not dropped.
unsafe fn finalize_erased<T: Finalize>(obj: NonNull<SyncHeader>) {
    // SAFETY: an object of `T` (caller).
    let value = unsafe { value_ptr::<T>(obj) };
    // SAFETY: live, with its value in place (caller).
    unsafe { value.as_ref() }.finalize()
}

impl SyncVTable {
    const fn new<T: Trace + Finalize + 'static>(tracked: bool, has_finalizer: bool) -> SyncVTable {
        SyncVTable {
            trace: trace_erased::<T>,
            drop_value: drop_erased::<T>,
            finalize: if has_finalizer {
                Some(finalize_erased::<T>)
            } else {
                None
            },
            tracked,
            layout: layout_of::<T>(),
            type_name: std::any::type_name::<T>,
        }
    }

    /// The `'static` vtable of `T` (one per combination of tracked and finalizer, chosen by
    /// `T`'s answers, which fold to constants).
    #[inline(always)]
    pub fn of<T: Trace + Finalize + 'static>() -> &'static SyncVTable {
        match (T::may_contain_gc(), T::has_finalizer()) {
            (true, true) => VTables::<T>::TRACKED_FINALIZED,
            (true, false) => VTables::<T>::TRACKED,
            (false, true) => VTables::<T>::FINALIZED,
            (false, false) => VTables::<T>::PLAIN,
        }
    }
}

/// The four vtables a type can have.
struct VTables<T>(std::marker::PhantomData<T>);

impl<T: Trace + Finalize + 'static> VTables<T> {
    const TRACKED_FINALIZED: &'static SyncVTable = &SyncVTable::new::<T>(true, true);
    const TRACKED: &'static SyncVTable = &SyncVTable::new::<T>(true, false);
    const FINALIZED: &'static SyncVTable = &SyncVTable::new::<T>(false, true);
    const PLAIN: &'static SyncVTable = &SyncVTable::new::<T>(false, false);
}

/// The header of a sync object. The value follows at `vtable.value_offset`.
#[repr(C)]
#[derive(Debug)]
pub struct SyncHeader {
    /// First: see [`Links`].
    pub(crate) links: Links,
    /// `modcount:32 | CLAIMED:1 | strong:31` (module docs).
    pub(crate) rc: AtomicU64,
    /// [`flags`] bits.
    pub(crate) flags: AtomicU32,
    /// Weak handles, plus one for the strong side until the value is gone and the object
    /// unlinked; the block is freed when this reaches 0.
    pub(crate) weak: AtomicU32,
    /// Bumped when a claimed set survives its collection (a finalizer resurrected it): weak
    /// references made before stay cleared, new ones upgrade.
    pub(crate) weak_epoch: AtomicU32,
    /// The list the object is on (`super::home`), or one of its markers.
    pub(crate) home: AtomicPtr<HomeTag>,
    pub(crate) vtable: &'static SyncVTable,
    /// The collectors' own: `collection id << 32 | index + 1` while a collection examines
    /// the object (its index in that collection's work set), 0 otherwise. Written only by
    /// the collection that detached the object; other collections running at the same time
    /// (young collections of other threads) read it to tell their members from its.
    pub(crate) slot: AtomicU64,
}

// SAFETY: every field other threads touch is atomic; `links` are guarded by the list lock
// or the collection (module docs of `super::home`).
unsafe impl Send for SyncHeader {}
// SAFETY: as for `Send`.
unsafe impl Sync for SyncHeader {}

/// The value of an object of `T`.
///
/// # Safety
/// `obj` is an object whose vtable is `T`'s (its block is live).
#[inline(always)]
pub unsafe fn value_ptr<T>(obj: NonNull<SyncHeader>) -> NonNull<T> {
    // SAFETY: the value sits `value_offset_of::<T>()` bytes into the live block (caller).
    unsafe { obj.byte_add(value_offset_of::<T>()).cast() }
}

/// The value of any object, untyped, at its vtable's offset.
///
/// # Safety
/// `obj`'s block is live.
#[inline(always)]
pub(crate) unsafe fn header<'a>(obj: NonNull<SyncHeader>) -> &'a SyncHeader {
    // SAFETY: a live block starts with its header (caller); headers are only accessed
    // through shared references (every mutable field is atomic or an `UnsafeCell`).
    unsafe { obj.as_ref() }
}

/// Sync objects allocated and not yet freed, counted in debug builds only (a shared counter
/// would cost every allocation a contended atomic operation), for tests that check memory
/// comes back.
#[cfg(debug_assertions)]
pub(crate) static LIVE_BLOCKS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Allocates the block of a new object of `T` with one strong reference, not yet on any
/// list (`home` is [`UNTRACKED`]), and moves `value` in. `None` when out of memory.
pub(crate) fn allocate<T: Trace + Finalize + 'static>(
    value: T,
    vtable: &'static SyncVTable,
) -> Option<NonNull<SyncHeader>> {
    let layout = vtable.layout;
    // SAFETY: the layout has a non-zero size (the header).
    let block = unsafe { GlobalHeap.alloc(layout) };
    let obj = NonNull::new(block.cast::<SyncHeader>())?;
    #[cfg(debug_assertions)]
    LIVE_BLOCKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let initial_flags = if vtable.finalize.is_none() {
        flags::FINALIZED
    } else {
        0
    } | if vtable.tracked { flags::TRACKED } else { 0 };
    // SAFETY: a fresh block of the layout, aligned for the header and the value.
    unsafe {
        obj.as_ptr().write(SyncHeader {
            links: Links::unlinked(),
            rc: AtomicU64::new(1),
            flags: AtomicU32::new(initial_flags),
            weak: AtomicU32::new(1),
            weak_epoch: AtomicU32::new(0),
            home: AtomicPtr::new(UNTRACKED),
            vtable,
            slot: AtomicU64::new(0),
        })
    };
    // SAFETY: the block is laid out for `T`.
    let place = unsafe { value_ptr::<T>(obj) };
    // SAFETY: the value's place in the fresh block, aligned for `T`.
    unsafe { place.as_ptr().write(value) };
    Some(obj)
}

/// Frees the block.
///
/// # Safety
/// `obj`'s value is gone, it is on no list, no handle of any kind refers to it, and no
/// thread can still read its header (for a `PUBLISHED` object: once the epoch passed).
unsafe fn free_block_now(obj: NonNull<SyncHeader>) {
    // SAFETY: live until now (caller).
    let layout = unsafe { header(obj) }.vtable.layout;
    #[cfg(loom)]
    // SAFETY: loom models the header's atomics; they are dropped before the block goes.
    unsafe {
        ptr::drop_in_place(obj.as_ptr())
    };
    // SAFETY: the block came from `GlobalHeap.alloc` with this layout (allocate).
    unsafe { GlobalHeap.dealloc(obj.as_ptr().cast(), layout) };
    #[cfg(debug_assertions)]
    LIVE_BLOCKS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// A block pointer that may cross to the epoch's deferred-free thread.
#[cfg(not(loom))]
struct SendBlock(NonNull<SyncHeader>);
// SAFETY: nothing but the final free uses it, on whichever thread runs the deferred call.
#[cfg(not(loom))]
unsafe impl Send for SendBlock {}

/// Takes one weak reference off (a `Weak` dropped, or the strong side's one after the value
/// is gone and the object unlinked); the last frees the block.
///
/// # Safety
/// The caller owns one weak reference of the live block `obj` and gives it up.
pub(crate) unsafe fn weak_release(obj: NonNull<SyncHeader>) {
    // SAFETY: live while the caller's weak reference is (caller).
    let hdr = unsafe { header(obj) };
    // A count of 1 is the caller's own: with the strong count at zero no new weak reference
    // can appear (one is made from a strong handle or cloned from another weak one), so the
    // block is ours without a read-modify-write.
    if hdr.weak.load(Ordering::Acquire) != 1 && hdr.weak.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    let published = hdr.flags.load(Ordering::Acquire) & flags::PUBLISHED != 0;
    #[cfg(not(loom))]
    if published {
        let block = SendBlock(obj);
        let guard = crossbeam_epoch::pin();
        // SAFETY: after the epoch passes, no `AtomicGc::load` that could have read this
        // object's address is still pinned, so nothing reads the header any more.
        let free = move || {
            let block = block;
            // SAFETY: the epoch passed; this was the last reference of any kind.
            unsafe { free_block_now(block.0) }
        };
        // SAFETY: see above; `free` owns only the block's address.
        unsafe { guard.defer_unchecked(free) };
        return;
    }
    let _ = published;
    // SAFETY: the last reference of any kind is gone and no load can be reading it.
    unsafe { free_block_now(obj) }
}

/// The name of an object's type (for messages).
///
/// # Safety
/// `obj`'s block is live.
pub unsafe fn type_name(obj: NonNull<SyncHeader>) -> &'static str {
    // SAFETY: live (caller).
    (unsafe { header(obj) }.vtable.type_name)()
}

/// Aborts when one more strong reference would overflow the count (as `Arc` does: a
/// program that leaks 2^31 handles cannot go on safely).
#[inline(always)]
pub(crate) fn check_overflow(old_word: u64) {
    // Half the range: threads racing past the limit at once still cannot carry into
    // `CLAIMED` before one of them aborts.
    if strong_of(old_word) >= MAX_STRONG {
        std::process::abort();
    }
}

/// The most strong references an object may have.
const MAX_STRONG: u64 = 1 << 30;
