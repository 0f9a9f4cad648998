//! The measurement jobs `gc-stress` hands to a contender, and what each one reports.
//!
//! Every contender (our `Gc`, `std::rc::Rc`, each peer crate, CPython) runs one job in
//! its own process, so thread-local collector state, allocator caches and RSS do not
//! leak from one contender into the next. A job and its result travel as JSON: the
//! parent passes the [`Job`] to the child, the child prints one [`JobResult`] line.
//! `benches/python/workloads.py` prints the same field names.

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
    /// Wall time of the whole program.
    pub total_ms: f64,
    /// The program's checksum (total nodes checked), equal for every contender.
    pub checksum: u64,
}

/// [`Job::Churn`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnResult {
    /// Wall time of creating and dropping every cycle, automatic collection included.
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

/// Percentiles of a set of pauses, in microseconds (nearest rank; all 0 when empty).
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
    /// Wall time of the young phase with the old heap.
    pub total_ms: f64,
}
