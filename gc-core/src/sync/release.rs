//! The free path of the thread-safe flavour: what happens when an object's strong count
//! reaches zero, on whichever thread dropped the last handle (CPython's `_Py_Dealloc`).
//!
//! Invariant owned here: an object's value is dropped exactly once, after its finalizer ran
//! (at most once, PEP 442) and after weak references stopped upgrading and their callbacks
//! ran; the block is freed once the value is gone, the object is off every list and no weak
//! reference remains. Nested frees past a small depth are queued and run iteratively, so a
//! long chain does not overflow the stack; a panic in user code (`Drop`, finalizer,
//! callback) is caught, the free completes, and the first panic is raised again once the
//! outermost free is done.

use super::header::{RC_DEC, RC_INC, STRONG_MASK, SyncHeader, flags, header, weak_release};
use super::home::unlink_for_release;
use super::panics::{guarded, raise_kept_panic};
use super::prim::Ordering;
use super::state::heap;
use super::state::thread_home;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

/// Frees nested deeper than this are queued.
const MAX_DEPTH: u32 = 16;

struct Pending(Vec<NonNull<SyncHeader>>);

super::prim::sync_thread_local! {
    static DEPTH: Cell<u32> = Cell::new(0);
    static PENDING: RefCell<Pending> = RefCell::new(Pending(Vec::new()));
}

/// Takes one strong reference off; the last one frees the object.
///
/// # Safety
/// The caller owns one strong reference of the live object `obj` and gives it up.
#[inline]
pub(crate) unsafe fn dec_strong(obj: NonNull<SyncHeader>) {
    // SAFETY: live while the caller's reference is (caller).
    let old = unsafe { header(obj) }
        .rc
        .fetch_add(RC_DEC, Ordering::SeqCst);
    if old & STRONG_MASK == 1 {
        // SAFETY: that was the last strong reference.
        unsafe { release(obj) };
    }
}

/// The strong count reached zero: unlink (or hand the release to a collection holding the
/// object), finalize, clear weak references, drop, free.
///
/// # Safety
/// The caller took the object's strong count to zero (so no handle is left) and the block
/// is live.
#[cold]
pub(crate) unsafe fn release(obj: NonNull<SyncHeader>) {
    // SAFETY: forwarded (caller).
    if unsafe { unlink_for_release(obj) } {
        // SAFETY: off every list, and the release is ours.
        unsafe { release_unlinked(obj) };
    }
}

/// The release of an object that is on no list and whose release the caller owns (its
/// count reached zero): finalizer, weak callbacks, value, block. Nested releases past a
/// small depth are queued.
///
/// # Safety
/// The caller owns the object's release; the object is on no list (`home` `UNTRACKED`)
/// and its block is live.
pub(crate) unsafe fn release_unlinked(obj: NonNull<SyncHeader>) {
    let Ok(depth) = DEPTH.try_with(Cell::get) else {
        // Thread teardown: no queue; free right here.
        // SAFETY: forwarded (caller).
        unsafe { release_one(obj) };
        return;
    };
    if depth >= MAX_DEPTH {
        let queued = PENDING.try_with(|p| p.borrow_mut().0.push(obj)).is_ok();
        if !queued {
            // Thread teardown destroyed the queue: free right here.
            // SAFETY: forwarded (caller).
            unsafe { release_one(obj) };
        }
        return;
    }
    DEPTH.with(|d| d.set(depth + 1));
    // SAFETY: forwarded (caller).
    unsafe { release_one(obj) };
    if depth == 0 {
        while let Some(next) = PENDING.try_with(|p| p.borrow_mut().0.pop()).ok().flatten() {
            // SAFETY: queued by `release_unlinked` above with the same contract.
            unsafe { release_one(next) };
        }
    }
    DEPTH.with(|d| d.set(depth));
    if depth == 0 && !super::state::in_collection() {
        raise_kept_panic();
    }
}

/// # Safety
/// As [`release_unlinked`].
unsafe fn release_one(obj: NonNull<SyncHeader>) {
    // SAFETY: live (caller).
    let hdr = unsafe { header(obj) };
    let word = hdr.flags.load(Ordering::Acquire);
    if word & flags::DROPPED == 0 {
        if word & flags::FINALIZED == 0 {
            hdr.flags.fetch_or(flags::FINALIZED, Ordering::AcqRel);
            // The object lives again while its finalizer runs (PEP 442): back on this
            // thread's young list *before* its count leaves zero (no other thread can get
            // a handle before then, so none can start a second release of an object on no
            // list), then one reference for the finalizer, given up through the normal
            // path: if it was the last, that release finds FINALIZED and goes on from here.
            if word & flags::TRACKED != 0 {
                // SAFETY: tracked and on no list (caller); with its count at zero no other
                // thread can reach it.
                unsafe { thread_home().push_new(obj) };
            }
            hdr.rc.fetch_add(RC_INC, Ordering::SeqCst);
            if let Some(finalize) = hdr.vtable.finalize {
                // SAFETY: the value is in place (not DROPPED) and we hold a reference.
                guarded(|| unsafe { finalize(obj) });
            }
            // SAFETY: the finalizer's reference, taken above.
            unsafe { dec_strong(obj) };
            return;
        }
        if hdr.flags.load(Ordering::Acquire) & flags::HAS_CALLBACKS != 0 {
            run_weak_callbacks(obj, None);
        }
        hdr.flags
            .fetch_or(flags::DEAD | flags::DROPPED, Ordering::AcqRel);
        // SAFETY: the value is in place and this is its only drop (DROPPED was clear, and
        // the release is ours alone).
        guarded(|| unsafe { (hdr.vtable.drop_value)(obj) });
    }
    // SAFETY: the value is gone and the object on no list: the strong side's weak
    // reference, given up now.
    unsafe { weak_release(obj) };
}

/// Runs the callbacks of the weak references to `obj` that are still alive (once each).
/// `in_garbage` counts, per callback slot, the clones of its weak reference that a
/// collection's garbage holds: a callback all of whose clones are garbage is dropped
/// uncalled.
pub(crate) fn run_weak_callbacks(
    obj: NonNull<SyncHeader>,
    in_garbage: Option<&HashMap<usize, usize>>,
) {
    let entries = heap()
        .weak_callbacks
        .lock()
        .remove(&(obj.as_ptr() as usize));
    for slot in entries.into_iter().flatten() {
        if let Some(slot) = slot.upgrade() {
            let callback = slot.0.lock().take();
            let held_by_garbage = in_garbage
                .and_then(|counts| counts.get(&(Arc::as_ptr(&slot) as usize)))
                .is_some_and(|&n| n + 1 >= Arc::strong_count(&slot));
            if let Some(callback) = callback {
                if held_by_garbage {
                    guarded(move || drop(callback));
                } else {
                    guarded(callback);
                }
            }
        }
    }
}
