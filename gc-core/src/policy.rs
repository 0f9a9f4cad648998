//! Layer 7: when to collect (CPython's `_PyObject_GC_Link` and `gc_collect_generations`).
//!
//! Invariant owned here (DESIGN 4, CPython's rule): every allocation of a tracked object
//! counts toward generation 0 first; when the count exceeds threshold 0 (collection
//! enabled, threshold 0 not 0, none running), the oldest generation whose count exceeds its
//! threshold is collected, before the new object exists; generation 2 only when the
//! long-lived objects pending since the last full collection are at least a quarter of
//! those that survived it (which keeps large heaps linear). The byte trigger, off by
//! default, adds a second reason to collect and changes none of these rules.

use crate::collect::gc_collect_with_callback;
use crate::heap::GcHeap;
use crate::types::NUM_GENERATIONS;

/// Counts an allocation of `bytes` (tracked or not) and runs the collection it calls for:
/// by CPython's count of tracked allocations, or by the opt-in byte trigger
/// (`set_memory_threshold`), which collects as if count 0 had passed its threshold.
#[inline]
pub(crate) fn count_allocation(heap: &GcHeap, tracked: bool, bytes: usize) {
    let by_count = tracked && heap.count_tracked_allocation();
    let by_bytes = heap.count_allocated_bytes(bytes);
    if by_count || by_bytes {
        collect_due(heap, by_bytes);
    }
}

/// The collection an allocation called for: [`collect_generations`], or generation 0 when
/// only the byte trigger fired and no older generation is due.
#[cold]
fn collect_due(heap: &GcHeap, by_bytes: bool) {
    if collect_generations(heap).is_none() && by_bytes {
        gc_collect_with_callback(heap, 0);
    }
}

/// Collects the oldest generation whose count exceeds its threshold, with the 25% rule for
/// the oldest generation: a full collection runs only when the objects promoted into
/// generation 2 since the last one are at least a quarter of those that survived it, and
/// there are some. (CPython's heap is never empty; without the "some", an empty heap would
/// run a pointless full collection every eleventh middle collection and CPython's own
/// 131/11 figures for 100k cyclic allocations would become 130/11/1.)
/// Returns the collection's result, or `None` when no generation was due.
#[cold]
pub(crate) fn collect_generations(heap: &GcHeap) -> Option<usize> {
    let counts = heap.counts();
    let thresholds = heap.thresholds();
    for g in (0..NUM_GENERATIONS).rev() {
        if counts[g] > thresholds[g] {
            let (total, pending) = heap.long_lived();
            if g == NUM_GENERATIONS - 1 && (pending < total / 4 || pending == 0) {
                continue;
            }
            return Some(gc_collect_with_callback(heap, g));
        }
    }
    None
}
