//! The raw operations gc-api's `sync::Gc` and `sync::Weak` are built on.
//!
//! Invariant owned here: each function's contract says which reference (strong or weak) it
//! takes or gives up; the handles above own exactly the references these calls account.

use super::header::{
    CLAIMED, RC_INC, STRONG_MASK, SyncHeader, SyncVTable, check_overflow, flags, header, strong_of,
};
use super::prim::Ordering;
use super::state::{WeakCallbackSlot, heap, thread_home};
use crate::trace::{Finalize, Trace};
use std::ptr::NonNull;
use std::sync::Arc;

pub use super::header::{type_name, value_ptr};

/// A new object holding `value`, with one strong reference for the caller. Tracked types
/// go on the calling thread's young list (which may start a young collection of it).
pub fn alloc<T: Trace + Finalize + Send + Sync + 'static>(value: T) -> NonNull<SyncHeader> {
    let vtable = SyncVTable::of::<T>();
    let Some(obj) = super::header::allocate(value, vtable) else {
        std::alloc::handle_alloc_error(vtable.layout)
    };
    if vtable.tracked {
        // SAFETY: new, tracked, on no list, not shared yet.
        let young = unsafe { thread_home().push_new(obj) };
        super::control::after_allocation(young);
    }
    obj
}

/// One more strong reference (a clone).
///
/// # Safety
/// The caller holds a strong reference to `obj`.
#[inline(always)]
pub unsafe fn inc_strong(obj: NonNull<SyncHeader>) {
    // SAFETY: live (caller).
    let old = unsafe { header(obj) }
        .rc
        .fetch_add(RC_INC, Ordering::SeqCst);
    check_overflow(old);
}

/// Gives up a strong reference; the last one frees the object.
///
/// # Safety
/// The caller owns a strong reference to `obj` and gives it up.
#[inline(always)]
pub unsafe fn dec_strong(obj: NonNull<SyncHeader>) {
    // SAFETY: forwarded.
    unsafe { super::release::dec_strong(obj) }
}

/// Whether the collector dropped the object's value (a handle smuggled out of garbage).
///
/// # Safety
/// The caller holds a reference to `obj`.
#[inline(always)]
pub unsafe fn is_dead(obj: NonNull<SyncHeader>) -> bool {
    // SAFETY: live (caller).
    unsafe { header(obj) }.flags.load(Ordering::Acquire) & flags::DEAD != 0
}

/// The strong count (racy by nature: other threads may change it any time).
///
/// # Safety
/// The caller holds a reference to `obj`.
pub unsafe fn strong_count(obj: NonNull<SyncHeader>) -> usize {
    // SAFETY: live (caller).
    strong_of(unsafe { header(obj) }.rc.load(Ordering::SeqCst)) as usize
}

/// One more weak reference.
///
/// # Safety
/// The caller holds a strong or weak reference to `obj`.
pub unsafe fn inc_weak(obj: NonNull<SyncHeader>) {
    // SAFETY: live (caller).
    let old = unsafe { header(obj) }.weak.fetch_add(1, Ordering::Relaxed);
    if old >= u32::MAX / 2 {
        std::process::abort();
    }
}

/// Gives up a weak reference; the last reference of any kind frees the block.
///
/// # Safety
/// The caller owns a weak reference to `obj` and gives it up.
pub unsafe fn dec_weak(obj: NonNull<SyncHeader>) {
    // SAFETY: forwarded.
    unsafe { super::header::weak_release(obj) }
}

/// The weak epoch a new weak reference to `obj` records.
///
/// # Safety
/// The caller holds a strong reference to `obj`.
pub unsafe fn weak_epoch(obj: NonNull<SyncHeader>) -> u32 {
    // SAFETY: live (caller).
    unsafe { header(obj) }.weak_epoch.load(Ordering::Acquire)
}

/// A strong reference from a weak one made at `epoch`, unless the object died, a
/// collection claimed it as garbage, or a collection cleared weak references made before
/// it survived.
///
/// Lock-free unless the object is claimed: a claim sets `CLAIMED` on a whole garbage set
/// under the weak lock's write side, each with a compare-exchange against the word the
/// collection validated, so an upgrade that gets in first makes that claim fail (and the
/// set lives), and one that finds `CLAIMED` waits on the read side until the claim is
/// decided: no upgrade ever sees part of a set claimed.
///
/// # Safety
/// The caller holds a weak reference to `obj`.
pub unsafe fn upgrade(obj: NonNull<SyncHeader>, epoch: u32) -> bool {
    // SAFETY: allocated while the weak reference is (caller).
    let hdr = unsafe { header(obj) };
    let mut word = hdr.rc.load(Ordering::SeqCst);
    if word & CLAIMED != 0 {
        let _claims = heap().weak_lock.read();
        word = hdr.rc.load(Ordering::SeqCst);
        return try_upgrade(hdr, word, epoch);
    }
    try_upgrade(hdr, word, epoch)
}

/// The compare-exchange loop of [`upgrade`]. The epoch is read after the word: a survival
/// bumps the epoch before it clears `CLAIMED`, so a word seen unclaimed after a survival
/// comes with the new epoch.
fn try_upgrade(hdr: &SyncHeader, mut word: u64, epoch: u32) -> bool {
    loop {
        if word & CLAIMED != 0
            || word & STRONG_MASK == 0
            || hdr.weak_epoch.load(Ordering::SeqCst) != epoch
        {
            return false;
        }
        check_overflow(word);
        match hdr.rc.compare_exchange_weak(
            word,
            word.wrapping_add(RC_INC),
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return true,
            Err(now) => word = now,
        }
    }
}

/// Whether a weak reference made at `epoch` can no longer be upgraded (the object is
/// dead, dying or claimed, or its weak references were cleared since).
///
/// # Safety
/// The caller holds a weak reference to `obj`.
pub unsafe fn weak_is_dead(obj: NonNull<SyncHeader>, epoch: u32) -> bool {
    // SAFETY: allocated while the weak reference is (caller).
    let hdr = unsafe { header(obj) };
    let mut word = hdr.rc.load(Ordering::SeqCst);
    let _claims = if word & CLAIMED != 0 {
        // A claim may be under way: wait until it is decided (see `upgrade`).
        let guard = heap().weak_lock.read();
        word = hdr.rc.load(Ordering::SeqCst);
        Some(guard)
    } else {
        None
    };
    word & CLAIMED != 0 || word & STRONG_MASK == 0 || hdr.weak_epoch.load(Ordering::SeqCst) != epoch
}

/// Registers a weak reference's callback, called once when `obj` dies if `slot` is still
/// alive then (the registry holds it weakly).
///
/// # Safety
/// The caller holds a strong reference to `obj`.
pub unsafe fn register_callback(obj: NonNull<SyncHeader>, slot: &Arc<WeakCallbackSlot>) {
    let heap = heap();
    let mut registry = heap.weak_callbacks.lock();
    registry
        .entry(obj.as_ptr() as usize)
        .or_default()
        .push(Arc::downgrade(slot));
    // SAFETY: live (caller).
    unsafe { header(obj) }
        .flags
        .fetch_or(flags::HAS_CALLBACKS, Ordering::SeqCst);
}

/// A new callback slot for [`register_callback`].
pub fn callback_slot(callback: Box<dyn FnOnce() + Send>) -> Arc<WeakCallbackSlot> {
    Arc::new(WeakCallbackSlot(super::prim::Mutex::new(Some(callback))))
}

/// Whether `obj` is on a generation list (its type may hold a `Gc`).
///
/// # Safety
/// The caller holds a reference to `obj`.
pub unsafe fn is_tracked(obj: NonNull<SyncHeader>) -> bool {
    // SAFETY: live (caller).
    unsafe { header(obj) }.flags.load(Ordering::Relaxed) & flags::TRACKED != 0
}

/// Sync objects whose blocks are allocated and not yet freed, in debug builds (`None` in
/// release builds, which do not count). Blocks of objects once stored in an `AtomicGc` are
/// freed through an epoch: [`flush_deferred_frees`] first.
pub fn live_objects() -> Option<usize> {
    #[cfg(debug_assertions)]
    {
        Some(super::header::LIVE_BLOCKS.load(std::sync::atomic::Ordering::Relaxed))
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// Runs the frees that wait for the epoch (blocks of objects once stored in an `AtomicGc`),
/// as far as no thread is pinned: advances the epoch and collects, a bounded number of
/// times.
pub fn flush_deferred_frees() {
    #[cfg(not(loom))]
    for _ in 0..256 {
        crossbeam_epoch::pin().flush();
    }
}
