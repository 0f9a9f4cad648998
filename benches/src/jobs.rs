//! The measurement jobs `gc-stress` hands to a contender, and what each one reports.
//!
//! Every contender (our `Gc`, `std::rc::Rc`, each peer crate, CPython) runs one job in
//! its own process, so thread-local collector state, allocator caches and RSS do not
//! leak from one contender into the next. A job and its result travel as JSON: the
//! parent passes the [`Job`] to the child, the child prints one [`JobResult`] line.
//! `benches/python/workloads.py` prints the same field names.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One measurement, with its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "snake_case")]
pub enum Job {
    /// Build `nodes` objects as rings of `ring_size`, drop every handle, collect.
    Rings {
        /// Objects in all (a multiple of `ring_size`).
        nodes: usize,
        /// Objects per ring.
        ring_size: usize,
    },
    /// Keep `nodes` objects (rings of `ring_size`) alive and time full collections
    /// over them (and, where the contender has generations, young ones).
    Live {
        /// Live objects.
        nodes: usize,
        /// Objects per ring.
        ring_size: usize,
        /// Timed collections; the best is kept.
        reps: usize,
    },
    /// Benchmarks-Game binary-trees.
    Trees {
        /// Maximum depth (the program's argument).
        depth: u32,
    },
    /// `cycles` short-lived 2-object garbage cycles with the contender's automatic
    /// collection on.
    Churn {
        /// Garbage cycles created.
        cycles: usize,
    },
    /// A long-lived heap of `old_objects` (rings of `ring_size`) plus `young_cycles`
    /// 2-object garbage cycles, automatic collection on; also run without the old heap.
    /// Ours and CPython only (it measures generations).
    Mixed {
        /// Long-lived objects.
        old_objects: usize,
        /// Objects per ring of the long-lived heap.
        ring_size: usize,
        /// Garbage cycles created after the old heap is built.
        young_cycles: usize,
        /// Outstanding garbage is sampled every this many cycles (and after each collection).
        sample_every: usize,
    },
}

impl Job {
    /// The workload's name (`rings`, `live`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Job::Rings { .. } => "rings",
            Job::Live { .. } => "live",
            Job::Trees { .. } => "trees",
            Job::Churn { .. } => "churn",
            Job::Mixed { .. } => "mixed",
        }
    }
}

/// The binary-trees checksum for `depth`: the nodes of the stretch tree, the long-lived
/// tree and every checked tree.
pub fn trees_checksum(depth: u32) -> u64 {
    let nodes = |d: u32| (1u64 << (d + 1)) - 1;
    let mut total = nodes(depth + 1) + nodes(depth);
    let mut d = 4;
    while d <= depth {
        total += (1u64 << (depth - d + 4)) * nodes(d);
        d += 2;
    }
    total
}

/// What a contender measured for a [`Job`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "workload", rename_all = "snake_case")]
pub enum JobResult {
    /// Result of [`Job::Rings`].
    Rings(RingsResult),
    /// Result of [`Job::Live`].
    Live(LiveResult),
    /// Result of [`Job::Trees`].
    Trees(TreesResult),
    /// Result of [`Job::Churn`].
    Churn(ChurnResult),
    /// Result of [`Job::Mixed`].
    Mixed(MixedResult),
}

/// [`Job::Rings`], per object unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingsResult {
    /// Building the rings.
    pub alloc_ns_per_obj: f64,
    /// Dropping the handles (for `Rc`: breaking each ring by hand, which frees it).
    pub drop_ns_per_obj: f64,
    /// The collection that frees the rings (0 for `Rc`).
    pub collect_ns_per_obj: f64,
    /// Objects whose destructor ran by the end (counted by the node type itself).
    pub dropped: u64,
    /// What the collector reported as collected, where it reports a count.
    pub reported_collected: Option<u64>,
    /// Resident set size with all rings alive, minus the size before building them.
    pub peak_rss_bytes: u64,
}

impl RingsResult {
    /// Dropping plus collecting: the cost of getting the memory back.
    pub fn reclaim_ns_per_obj(&self) -> f64 {
        self.drop_ns_per_obj + self.collect_ns_per_obj
    }
}

/// [`Job::Live`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResult {
    /// Best full collection over the live heap, per live object.
    pub full_collect_ns_per_obj: f64,
    /// Objects the full collections freed (must be 0: everything is alive).
    pub collected: u64,
    /// Best generation-0 collection with the live heap in the old generation, in ns
    /// (contenders with generations only).
    pub young_collect_ns: Option<f64>,
    /// The same generation-0 collection with no old heap at all, in ns.
    pub young_collect_empty_ns: Option<f64>,
}

/// [`Job::Trees`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreesResult {
    /// Time of the whole program (on the `--clock` chosen, wall time by default).
    pub total_ms: f64,
    /// The program's checksum (total nodes checked), equal for every contender.
    pub checksum: u64,
}

/// [`Job::Churn`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnResult {
    /// Time of creating and dropping every cycle, automatic collection included.
    pub total_ms: f64,
    /// Objects (2 per cycle) whose destructor ran by the end, after a final collection.
    pub dropped: u64,
    /// The same loop with automatic collection off (contenders that can switch it off).
    #[serde(default)]
    pub total_ms_gc_off: Option<f64>,
    /// Collections per generation (contenders with generations).
    #[serde(default)]
    pub collections: Option<[u64; 3]>,
    /// Collection pauses, measured in a separate run (contenders with callbacks).
    #[serde(default)]
    pub pauses_us: Option<PauseSummary>,
}

/// Percentiles of a set of pauses, in microseconds (all 0 when empty).
///
/// Computed with an HDR histogram ([`pause_histogram`]): nearest-rank percentiles of the
/// pauses recorded in nanoseconds to three significant digits, so each figure is the
/// exact one rounded up by at most 0.1%. CPython's script computes exact nearest ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PauseSummary {
    /// Pauses measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

/// Significant decimal digits pauses are recorded to.
pub const PAUSE_SIGNIFICANT_DIGITS: u8 = 3;

/// An HDR histogram of pauses given in µs, recorded in nanoseconds (its range grows as
/// needed).
pub fn pause_histogram(pauses_us: impl IntoIterator<Item = f64>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(PAUSE_SIGNIFICANT_DIGITS)
        .expect("3 significant digits is a valid histogram precision");
    for us in pauses_us {
        let ns = (us * 1e3).round().max(0.0) as u64;
        // `record` grows the histogram as needed; only a value past what any histogram can
        // hold fails, and that one is clamped.
        if h.record(ns).is_err() {
            h.saturating_record(ns);
        }
    }
    h
}

impl PauseSummary {
    /// p50, p99 and the longest pause of a histogram from [`pause_histogram`].
    pub fn from_histogram(h: &Histogram<u64>) -> PauseSummary {
        if h.is_empty() {
            return PauseSummary::default();
        }
        let us = |ns: u64| ns as f64 / 1e3;
        PauseSummary {
            count: h.len(),
            p50: us(h.value_at_quantile(0.50)),
            p99: us(h.value_at_quantile(0.99)),
            max: us(h.max()),
        }
    }

    /// The summary of pauses given in µs.
    pub fn from_pauses_us(pauses_us: impl IntoIterator<Item = f64>) -> PauseSummary {
        PauseSummary::from_histogram(&pause_histogram(pauses_us))
    }
}

/// [`Job::Mixed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixedResult {
    /// Generation-0 pauses with the old heap present.
    pub young_pauses_us: PauseSummary,
    /// Generation-0 pauses of the same garbage with no old heap.
    pub young_pauses_empty_us: PauseSummary,
    /// Most objects that were garbage (unreachable) but not yet collected at any sample.
    pub max_outstanding_garbage: u64,
    /// Collections per generation during the young phase with the old heap.
    pub collections: [u64; 3],
    /// Time of the young phase with the old heap.
    pub total_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 1e-3 + 1e-9
    }

    #[test]
    fn percentiles_are_nearest_rank_to_a_tenth_of_a_percent() {
        let s = PauseSummary::from_pauses_us((1..=100).map(f64::from));
        assert_eq!(s.count, 100);
        assert!(close(s.p50, 50.0), "{s:?}");
        assert!(close(s.p99, 99.0), "{s:?}");
        assert!(close(s.max, 100.0), "{s:?}");
        assert_eq!(PauseSummary::from_pauses_us([]), PauseSummary::default());
        let one = PauseSummary::from_pauses_us([7.0]);
        assert!(close(one.p50, 7.0) && close(one.p99, 7.0) && close(one.max, 7.0));
        // Sub-microsecond pauses keep their nanoseconds.
        let tiny = PauseSummary::from_pauses_us([0.25, 0.5, 0.75]);
        assert!(close(tiny.p50, 0.5) && close(tiny.max, 0.75), "{tiny:?}");
    }

    #[test]
    fn checksum_counts_every_tree() {
        // depth 4: stretch tree of depth 5 (63), long-lived depth 4 (31), 16 trees of 31.
        assert_eq!(trees_checksum(4), 63 + 31 + 16 * 31);
    }
}
