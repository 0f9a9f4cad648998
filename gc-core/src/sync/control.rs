//! The `gc` module of the sync heap: thresholds, counts, stats, callbacks, and when an
//! allocation starts a collection (CPython's `collect_generations`). State is process-wide:
//! every thread sees the same values; the unsync flavour keeps its per-thread ones.
//!
//! Invariant owned here: an automatic collection never waits — when another thread is
//! collecting, the allocation goes on and the next one over the threshold tries again.

use super::collect::{Scope, collect};
use super::prim::Ordering;
use super::state::heap;
use crate::types::{CallbackId, CallbackInfo, GcError, GenerationStats, NUM_GENERATIONS, Phase};
use std::cell::Cell;
use std::sync::Arc;

/// A full collection of the sync heap, every thread's young objects included; waits for a
/// running collection to end first. Returns the number of objects freed (0 when called
/// from inside a collection, by a finalizer, callback or `Drop`).
pub fn collect_all() -> usize {
    collect(2, Scope::AllYoung, true).unwrap_or(0)
}

/// A collection of `generation` (every thread's young list, and the older lists up to
/// `generation`).
pub fn collect_generation(generation: usize) -> Result<usize, GcError> {
    if generation >= NUM_GENERATIONS {
        return Err(GcError::InvalidGeneration(generation));
    }
    Ok(collect(generation, Scope::AllYoung, true).unwrap_or(0))
}

/// `[young objects of every thread, collections of generation 0 since the last of 1,
/// collections of 1 since the last of 2]`, as `gc.get_count()`.
pub fn get_count() -> [usize; 3] {
    let heap = heap();
    let young = heap.young_homes().iter().map(|h| h.len()).sum();
    [
        young,
        heap.counts[0].load(Ordering::Relaxed),
        heap.counts[1].load(Ordering::Relaxed),
    ]
}

pub fn get_threshold() -> [usize; 3] {
    heap()
        .thresholds
        .each_ref()
        .map(|t| t.load(Ordering::Relaxed))
}

pub fn set_threshold(thresholds: [usize; 3]) {
    for (slot, value) in heap().thresholds.iter().zip(thresholds) {
        slot.store(value, Ordering::Relaxed);
    }
}

pub fn enable() {
    heap().enabled.store(true, Ordering::Relaxed);
}

pub fn disable() {
    heap().enabled.store(false, Ordering::Relaxed);
}

pub fn is_enabled() -> bool {
    heap().enabled.load(Ordering::Relaxed)
}

pub fn get_stats() -> [GenerationStats; 3] {
    *heap().stats.lock()
}

pub fn add_callback(f: impl Fn(Phase, &CallbackInfo) + Send + Sync + 'static) -> CallbackId {
    let heap = heap();
    let id = heap.next_callback.fetch_add(1, Ordering::Relaxed);
    heap.callbacks.lock().push((id, Arc::new(f)));
    CallbackId(id)
}

pub fn remove_callback(id: CallbackId) -> bool {
    let mut callbacks = heap().callbacks.lock();
    let before = callbacks.len();
    callbacks.retain(|(k, _)| *k != id.0);
    callbacks.len() != before
}

/// After a tracked allocation made the calling thread's young list `young_len` long:
/// CPython's `collect_generations` (the oldest generation over its threshold).
#[inline]
pub(crate) fn after_allocation(young_len: usize) {
    let heap = heap();
    if young_len <= heap.thresholds[0].load(Ordering::Relaxed) {
        return;
    }
    collect_generations(young_len);
}

// After an automatic collection could not run (another thread held the lock): the young
// length at which to try again, so that a busy lock is not hammered on every allocation.
super::prim::sync_thread_local! {
    static RETRY_AT: Cell<usize> = Cell::new(0);
}

#[cold]
fn collect_generations(young_len: usize) {
    let heap = heap();
    let threshold = heap.thresholds[0].load(Ordering::Relaxed);
    if threshold == 0 || !heap.enabled.load(Ordering::Relaxed) {
        return;
    }
    if young_len < RETRY_AT.try_with(Cell::get).unwrap_or(0) {
        return;
    }
    let mut due = 0;
    for generation in (1..NUM_GENERATIONS).rev() {
        let over = heap.counts[generation - 1].load(Ordering::Relaxed)
            > heap.thresholds[generation].load(Ordering::Relaxed);
        let full_waits = generation == 2
            && heap.long_lived_pending.load(Ordering::Relaxed)
                < heap.long_lived_total.load(Ordering::Relaxed) / 4;
        if over && !full_waits {
            due = generation;
            break;
        }
    }
    // An older generation runs alone; when other threads' young collections hold the lock,
    // this thread's young collection runs instead and the older one waits for a free lock.
    let ran = (due > 0 && collect(due, Scope::AllYoung, false).is_some())
        || collect(0, Scope::OwnYoung, false).is_some();
    let retry_at = if ran {
        0
    } else {
        young_len + threshold / 4 + 1
    };
    let _ = RETRY_AT.try_with(|r| r.set(retry_at));
}
