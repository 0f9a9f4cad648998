//! The [`Job`]s as every Rust contender runs them, each written once against
//! [`Collector`]: our `Gc` ([`ours`]), `std::rc::Rc` ([`rc`], cycles broken by hand) and
//! the peer crates ([`crate::peers`]).
//!
//! Every figure is timed with the clock chosen by `--clock` ([`crate::clock`]). Node types
//! count their own drops ([`crate::harness::dropped`]), so every report can be checked
//! against the number of objects the job created. Ours-only probes (collections per
//! generation seen through callbacks, pause samples, outstanding garbage, the `mixed`
//! workload) live in [`ours`]; churn and mixed there also record a [`Sample`] per
//! collection for `--svg`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Stamp;
use crate::graphs;
use crate::harness::{Collector, collect_until, dropped};
use crate::jobs::{ChurnResult, Job, JobResult, LiveResult, RingsResult, TreesResult};
use crate::rss::current_rss_bytes;

pub mod ours;
pub mod rc;

/// One collection seen by a collection callback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the collection started, in ms since the timed loop began.
    pub at_ms: f64,
    /// How long it paused the program, in µs.
    pub pause_us: f64,
    /// The generation collected.
    pub generation: usize,
    /// Objects it collected.
    pub collected: usize,
    /// Objects alive right after it (the workload's own count).
    pub live_objects: u64,
    /// Objects that were garbage but not yet collected, right before it.
    pub outstanding_garbage: u64,
}

/// What a child process prints for a Rust contender: the result and, for churn and mixed
/// with ours, one [`Sample`] per collection of the timed phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeOutput {
    /// The job's result.
    pub result: JobResult,
    /// Collections of the run, in order (churn and mixed with ours).
    #[serde(default)]
    pub timeline: Vec<Sample>,
}

impl NativeOutput {
    /// A result with no timeline.
    pub fn plain(result: JobResult) -> NativeOutput {
        NativeOutput {
            result,
            timeline: Vec::new(),
        }
    }
}

/// Runs `job` on the calling thread with a fresh `C`. `Err` says why the job does not
/// apply (`Rc` has no collector to time in `live`; only ours has the generations `mixed`
/// measures) or why its sizes cannot run.
pub fn run_with<C: Collector>(job: &Job) -> Result<JobResult, String> {
    let mut c = C::new();
    match *job {
        Job::Rings { nodes, ring_size } => rings(&mut c, nodes, ring_size).map(JobResult::Rings),
        Job::Live {
            nodes,
            ring_size,
            reps,
        } => live(&mut c, nodes, ring_size, reps).map(JobResult::Live),
        Job::Trees { depth } => trees(&mut c, depth).map(JobResult::Trees),
        Job::Churn { cycles } => Ok(JobResult::Churn(churn(&mut c, cycles))),
        Job::Mixed { .. } => {
            Err("the mixed workload measures generations, which only ours and CPython have".into())
        }
    }
}

/// The number of rings, or why `nodes` objects cannot be laid out in rings of `ring_size`.
pub fn ring_count(nodes: usize, ring_size: usize) -> Result<usize, String> {
    if ring_size == 0 || nodes < ring_size || nodes % ring_size != 0 {
        return Err(format!(
            "{nodes} nodes cannot be cut into rings of {ring_size} (nodes must be a positive \
             multiple of the ring size)"
        ));
    }
    Ok(nodes / ring_size)
}

fn per_obj(time: Duration, objects: usize) -> f64 {
    time.as_nanos() as f64 / objects as f64
}

fn rss_now() -> u64 {
    current_rss_bytes().map_or(0, |b| b as u64)
}

/// Best time of `reps` calls of `f`, and the sum of what they reported.
fn time_best(reps: usize, mut f: impl FnMut() -> Option<u64>) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut total = 0;
    for _ in 0..reps {
        let start = Stamp::now();
        total += f().unwrap_or(0);
        best = best.min(start.elapsed());
    }
    (best, total)
}

/// [`Job::Rings`]: build the rings with automatic collection off, drop every handle (for
/// `Rc`: break each ring by hand), then collect until every node is freed.
pub fn rings<C: Collector>(
    c: &mut C,
    nodes: usize,
    ring_size: usize,
) -> Result<RingsResult, String> {
    let count = ring_count(nodes, ring_size)?;
    // Untimed: start from an empty heap. Automatic collection off: the timed collection
    // does all the work.
    c.collect();
    c.set_auto_collect(false);
    let base = dropped();

    let rss_before = rss_now();
    let start = Stamp::now();
    c.build_rings(count, ring_size);
    let alloc = start.elapsed();
    let peak = rss_now().saturating_sub(rss_before);

    let start = Stamp::now();
    c.release_rings();
    let drop_time = start.elapsed();

    let (collect, reported) = if C::HAS_COLLECTOR {
        collect_until(c, base + nodes as u64)
    } else {
        (Duration::ZERO, None)
    };
    let freed = dropped() - base;
    c.set_auto_collect(true);

    Ok(RingsResult {
        alloc_ns_per_obj: per_obj(alloc, nodes),
        drop_ns_per_obj: per_obj(drop_time, nodes),
        collect_ns_per_obj: per_obj(collect, nodes),
        dropped: freed,
        reported_collected: reported,
        peak_rss_bytes: peak,
    })
}

/// [`Job::Live`]: the best of `reps` full collections over `nodes` live objects (and,
/// where there are generations, young collections with and without that old heap).
pub fn live<C: Collector>(
    c: &mut C,
    nodes: usize,
    ring_size: usize,
    reps: usize,
) -> Result<LiveResult, String> {
    if !C::HAS_COLLECTOR {
        return Err("no collector to time (Rc frees by reference counting alone)".into());
    }
    let count = ring_count(nodes, ring_size)?;
    if reps == 0 {
        return Err("reps must be at least 1".into());
    }
    c.set_auto_collect(false);
    c.collect();
    // The same young collection with nothing behind it, for comparison.
    let young_empty = C::HAS_GENERATIONS.then(|| time_best(reps, || c.young_collect()).0);

    c.build_rings(count, ring_size);
    let base = dropped();
    // Two untimed full collections (which move the rings to the oldest generation where
    // there are generations). Candidate-root collectors only look at objects whose count
    // was decremented since the last collection: every ring is made such a candidate
    // (untimed) before each collection, so the collection has to prove the whole live heap
    // alive, as a full collection of ours (or of `gcmodule` and `gc`) does.
    for _ in 0..2 {
        c.prepare_full_collection();
        c.collect();
    }
    let mut best = Duration::MAX;
    let mut reported = 0;
    for _ in 0..reps {
        c.prepare_full_collection();
        let start = Stamp::now();
        reported += c.collect().unwrap_or(0);
        best = best.min(start.elapsed());
    }
    let young = C::HAS_GENERATIONS.then(|| time_best(reps, || c.young_collect()));
    let young_reported = young.map_or(0, |y| y.1);
    let collected = (dropped() - base).max(reported + young_reported);

    c.release_rings();
    collect_until(c, base + collected + nodes as u64);
    c.set_auto_collect(true);

    let ns = |d: Duration| d.as_nanos() as f64;
    Ok(LiveResult {
        full_collect_ns_per_obj: per_obj(best, nodes),
        collected,
        young_collect_ns: young.map(|y| ns(y.0)),
        young_collect_empty_ns: young_empty.map(ns),
    })
}

/// [`Job::Trees`]: the whole binary-trees program ([`graphs::binary_trees`]), timed, with
/// the contender's automatic collection at its defaults.
pub fn trees<C: Collector>(c: &mut C, depth: u32) -> Result<TreesResult, String> {
    if depth > 24 {
        return Err(format!("depth {depth} is too large (at most 24)"));
    }
    let start = Stamp::now();
    let checksum = graphs::binary_trees(c, depth);
    let total_ms = start.elapsed_ms();
    // Untimed clean-up: a tracing collector leaves its last trees for the next collection.
    c.collect();
    Ok(TreesResult {
        total_ms,
        checksum: checksum as u64,
    })
}

/// Makes and lets go of `cycles` 2-node garbage cycles, pacing after each; the time in ms.
fn churn_loop<C: Collector>(c: &mut C, cycles: usize) -> f64 {
    let start = Stamp::now();
    for _ in 0..cycles {
        c.garbage_cycle();
        c.pace();
    }
    start.elapsed_ms()
}

/// [`Job::Churn`]: `cycles` short-lived garbage cycles with the contender's default
/// automatic collection (what a program pays), then the same loop with automatic
/// collection off where there is one to switch off. Pauses are ours-only
/// ([`ours::pause_run`]).
pub fn churn<C: Collector>(c: &mut C, cycles: usize) -> ChurnResult {
    c.collect();
    c.set_auto_collect(true);
    let base = dropped();
    let before = c.generation_collections();
    let total_ms = churn_loop(c, cycles);
    let after = c.generation_collections();
    // Untimed: whatever the automatic policy left behind.
    collect_until(c, base + 2 * cycles as u64);
    let freed = dropped() - base;

    // The same loop with automatic collection off, for contenders that have one to switch
    // off (the others never collect on their own, so `total_ms` already is that figure);
    // the garbage piles up and is freed afterwards.
    let total_ms_gc_off = C::HAS_AUTO_COLLECT.then(|| {
        c.set_auto_collect(false);
        let base = dropped();
        let ms = churn_loop(c, cycles);
        c.set_auto_collect(true);
        collect_until(c, base + 2 * cycles as u64);
        ms
    });

    ChurnResult {
        total_ms,
        dropped: freed,
        total_ms_gc_off,
        collections: before
            .zip(after)
            .map(|(b, a)| [0, 1, 2].map(|g| a[g] - b[g])),
        pauses_us: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Rooted;
    use crate::jobs::trees_checksum;

    #[test]
    fn rings_must_divide_evenly() {
        let job = Job::Rings {
            nodes: 25,
            ring_size: 10,
        };
        assert!(
            run_with::<Rooted<ours::Ours>>(&job)
                .unwrap_err()
                .contains("multiple")
        );
    }

    #[test]
    fn rc_frees_rings_by_hand_and_has_nothing_to_collect() {
        let job = Job::Rings {
            nodes: 100,
            ring_size: 10,
        };
        let Ok(JobResult::Rings(r)) = run_with::<Rooted<rc::RcHeap>>(&job) else {
            panic!("rc rings failed");
        };
        assert_eq!((r.dropped, r.collect_ns_per_obj), (100, 0.0));
        let live = Job::Live {
            nodes: 10,
            ring_size: 10,
            reps: 1,
        };
        assert!(run_with::<Rooted<rc::RcHeap>>(&live).is_err());
    }

    #[test]
    fn ours_and_rc_agree_on_trees_and_churn() {
        for depth in [4, 7] {
            for r in [
                run_with::<Rooted<ours::Ours>>(&Job::Trees { depth }),
                run_with::<Rooted<rc::RcHeap>>(&Job::Trees { depth }),
            ] {
                let Ok(JobResult::Trees(t)) = r else {
                    panic!("trees failed")
                };
                assert_eq!(t.checksum, trees_checksum(depth));
            }
        }
        let Ok(JobResult::Churn(c)) = run_with::<Rooted<rc::RcHeap>>(&Job::Churn { cycles: 50 })
        else {
            panic!("rc churn failed")
        };
        assert_eq!((c.dropped, c.total_ms_gc_off), (100, None));
    }
}
