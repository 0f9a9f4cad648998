//! Which heap owns an arena, keyed by arena address: a two-level radix tree shared by the
//! whole process (the idea of CPython 3.10's `arena_map`).
//!
//! Asking about any address never reads memory the allocator does not own: the lookup
//! touches only this table. An entry is set while the arena is mapped and cleared before
//! it is unmapped.
//!
//! An owner is opaque here (`*mut ()`): this module stores and compares it but never
//! dereferences it, so it depends on no heap type. The heap stores its root, cast to
//! `*mut ()`, and casts it back.

use super::ARENA_SIZE;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

const ARENA_BITS: u32 = ARENA_SIZE.trailing_zeros();
/// User-space addresses on x86-64 and AArch64 Linux fit in 47 bits.
const ADDRESS_BITS: u32 = 47;
const INDEX_BITS: u32 = ADDRESS_BITS - ARENA_BITS;
const LEAF_BITS: u32 = 14;
const ROOT_BITS: u32 = INDEX_BITS - LEAF_BITS;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const ROOT_LEN: usize = 1 << ROOT_BITS;

type Leaf = [AtomicPtr<()>; LEAF_LEN];

static ROOT: [AtomicPtr<Leaf>; ROOT_LEN] = [const { AtomicPtr::new(ptr::null_mut()) }; ROOT_LEN];

fn split(addr: usize) -> Option<(usize, usize)> {
    if addr >> ADDRESS_BITS != 0 {
        return None;
    }
    let index = addr >> ARENA_BITS;
    Some((index >> LEAF_BITS, index & (LEAF_LEN - 1)))
}

/// The owner recorded for the arena containing `addr`, or null if no live arena does.
#[inline]
pub(crate) fn owner_of(addr: usize) -> *mut () {
    let Some((root, leaf)) = split(addr) else {
        return ptr::null_mut();
    };
    let leaf_ptr = ROOT[root].load(Ordering::Acquire);
    if leaf_ptr.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: leaves are installed once and never freed, so a non-null root entry points
    // at a live, initialised leaf.
    unsafe { (*leaf_ptr)[leaf].load(Ordering::Acquire) }
}

/// Records `owner` (opaque, never dereferenced here) for the arena at `base`. Returns
/// false if the table could not grow.
pub(crate) fn set_owner(base: usize, owner: *mut ()) -> bool {
    let Some((root, leaf)) = split(base) else {
        return false;
    };
    let mut leaf_ptr = ROOT[root].load(Ordering::Acquire);
    if leaf_ptr.is_null() {
        let layout = Layout::new::<Leaf>();
        // SAFETY: the layout has non-zero size. An all-zero `Leaf` is a valid array of null
        // `AtomicPtr`s. The system allocator is used so this never re-enters our own heap.
        let fresh = unsafe { System.alloc_zeroed(layout) }.cast::<Leaf>();
        if fresh.is_null() {
            return false;
        }
        match ROOT[root].compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => leaf_ptr = fresh,
            Err(existing) => {
                // SAFETY: `fresh` came from `System.alloc_zeroed(layout)` above and was
                // never published.
                unsafe { System.dealloc(fresh.cast(), layout) };
                leaf_ptr = existing;
            }
        }
    }
    // SAFETY: leaves are never freed once published.
    unsafe { (*leaf_ptr)[leaf].store(owner, Ordering::Release) };
    true
}

/// Forgets the arena at `base` (it is about to be unmapped).
pub(crate) fn clear_owner(base: usize) {
    if let Some((root, leaf)) = split(base) {
        let leaf_ptr = ROOT[root].load(Ordering::Acquire);
        if !leaf_ptr.is_null() {
            // SAFETY: leaves are never freed once published.
            unsafe { (*leaf_ptr)[leaf].store(ptr::null_mut(), Ordering::Release) };
        }
    }
}
