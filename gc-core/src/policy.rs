//! Layer 7: when to collect (CPython's `_PyObject_GC_Link` and `gc_collect_generations`).
//!
//! Invariant owned here (DESIGN 4, CPython's rule): every allocation of a tracked object
//! counts toward generation 0 first; when the count exceeds threshold 0 (collection
//! enabled, threshold 0 not 0, none running), the oldest generation whose count exceeds its
//! threshold is collected, before the new object exists; generation 2 only when the
//! long-lived objects pending since the last full collection are at least a quarter of
//! those that survived it (which keeps large heaps linear).

use crate::collect::gc_collect_with_callback;
use crate::heap::GcHeap;
use crate::types::NUM_GENERATIONS;

/// Counts the allocation of a tracked object and runs the collection it calls for.
#[inline]
pub(crate) fn count_tracked_allocation(heap: &GcHeap) {
    if heap.count_tracked_allocation() {
        collect_generations(heap);
    }
}

/// Collects the oldest generation whose count exceeds its threshold, with the 25% rule for
/// the oldest generation: a full collection runs only when the objects promoted into
/// generation 2 since the last one are at least a quarter of those that survived it, and
/// there are some. (CPython's heap is never empty; without the "some", an empty heap would
/// run a pointless full collection every eleventh middle collection and CPython's own
/// 131/11 figures for 100k cyclic allocations would become 130/11/1.)
#[cold]
pub(crate) fn collect_generations(heap: &GcHeap) -> usize {
    let counts = heap.counts();
    let thresholds = heap.thresholds();
    for g in (0..NUM_GENERATIONS).rev() {
        if counts[g] > thresholds[g] {
            let (total, pending) = heap.long_lived();
            if g == NUM_GENERATIONS - 1 && (pending < total / 4 || pending == 0) {
                continue;
            }
            return gc_collect_with_callback(heap, g);
        }
    }
    0
}
