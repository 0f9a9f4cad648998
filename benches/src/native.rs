//! The [`Job`]s run with our `Gc` and with `std::rc::Rc` (cycles broken by hand).
//!
//! Node types count their own drops, so every report can be checked against the number
//! of objects the job created. Churn and mixed also record a [`Sample`] per collection:
//! when it ran, how long it paused, and how many objects were alive, for `--svg`.

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use gc_api::{Finalize, Gc, Phase, Trace};
use serde::{Deserialize, Serialize};

use crate::graphs;
use crate::jobs::{
    ChurnResult, Job, JobResult, LiveResult, MixedResult, PauseSummary, RingsResult, TreesResult,
};
use crate::rss::current_rss_bytes;

thread_local! {
    static DROPPED: Cell<u64> = const { Cell::new(0) };
}

fn dropped() -> u64 {
    DROPPED.with(Cell::get)
}

fn count_drop() {
    DROPPED.with(|d| d.set(d.get() + 1));
}

/// A ring node on our heap that counts its drops.
#[derive(Trace, Finalize)]
pub struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        count_drop();
    }
}

/// The same node with `Rc`.
pub struct RcNode {
    next: RefCell<Option<Rc<RcNode>>>,
}

impl Drop for RcNode {
    fn drop(&mut self) {
        count_drop();
    }
}

fn gc_ring(size: usize) -> Gc<Node> {
    let first = Gc::new(Node {
        next: RefCell::new(None),
    });
    let mut prev = first.clone();
    for _ in 1..size {
        prev = Gc::new(Node {
            next: RefCell::new(Some(prev)),
        });
    }
    *first.next.borrow_mut() = Some(prev);
    first
}

fn rc_ring(size: usize) -> Rc<RcNode> {
    let first = Rc::new(RcNode {
        next: RefCell::new(None),
    });
    let mut prev = first.clone();
    for _ in 1..size {
        prev = Rc::new(RcNode {
            next: RefCell::new(Some(prev)),
        });
    }
    *first.next.borrow_mut() = Some(prev);
    first
}

fn gc_rings(nodes: usize, ring_size: usize) -> Vec<Gc<Node>> {
    (0..nodes / ring_size).map(|_| gc_ring(ring_size)).collect()
}

fn rc_rings(nodes: usize, ring_size: usize) -> Vec<Rc<RcNode>> {
    (0..nodes / ring_size).map(|_| rc_ring(ring_size)).collect()
}

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

/// What a child process prints for our contenders: the result and, for churn and mixed,
/// one [`Sample`] per collection of the timed phase with the old heap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeOutput {
    /// The job's result.
    pub result: JobResult,
    /// Collections of the run, in order (churn and mixed with `Ours`).
    #[serde(default)]
    pub timeline: Vec<Sample>,
}

/// Which of the two in-process contenders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Native {
    /// Our `gc_api::Gc`.
    Ours,
    /// `std::rc::Rc`, cycles broken by hand.
    Rc,
}

/// Runs `job` on the calling thread. `Err` says why a job does not apply (e.g. `Rc` has
/// no collector to time in `live`).
pub fn run(which: Native, job: &Job) -> Result<NativeOutput, String> {
    let plain = |result| NativeOutput {
        result,
        timeline: Vec::new(),
    };
    match (which, job) {
        (_, Job::Rings { nodes, ring_size }) => {
            check_rings(*nodes, *ring_size)?;
            Ok(plain(JobResult::Rings(match which {
                Native::Ours => ours_rings(*nodes, *ring_size),
                Native::Rc => rc_rings_job(*nodes, *ring_size),
            })))
        }
        (
            Native::Ours,
            Job::Live {
                nodes,
                ring_size,
                reps,
            },
        ) => {
            check_rings(*nodes, *ring_size)?;
            Ok(plain(JobResult::Live(ours_live(
                *nodes,
                *ring_size,
                (*reps).max(1),
            ))))
        }
        (Native::Rc, Job::Live { .. }) => Err("Rc has no collector to time".into()),
        (_, Job::Trees { depth }) => {
            if *depth > 24 {
                return Err(format!("depth {depth} is too large (at most 24)"));
            }
            let start = Instant::now();
            let checksum = match which {
                Native::Ours => graphs::gc_binary_trees(*depth),
                Native::Rc => graphs::rc_binary_trees(*depth),
            };
            Ok(plain(JobResult::Trees(TreesResult {
                total_ms: start.elapsed().as_secs_f64() * 1e3,
                checksum: checksum as u64,
            })))
        }
        (Native::Ours, Job::Churn { cycles }) => {
            let (result, timeline) = ours_churn(*cycles);
            Ok(NativeOutput {
                result: JobResult::Churn(result),
                timeline,
            })
        }
        (Native::Rc, Job::Churn { cycles }) => Ok(plain(JobResult::Churn(rc_churn(*cycles)))),
        (
            Native::Ours,
            Job::Mixed {
                old_objects,
                ring_size,
                young_cycles,
                sample_every,
            },
        ) => {
            check_rings(*old_objects, *ring_size)?;
            let (result, timeline) = ours_mixed(
                *old_objects,
                *ring_size,
                *young_cycles,
                (*sample_every).max(1),
            );
            Ok(NativeOutput {
                result: JobResult::Mixed(result),
                timeline,
            })
        }
        (Native::Rc, Job::Mixed { .. }) => Err("Rc has no generations to measure".into()),
    }
}

fn check_rings(nodes: usize, ring_size: usize) -> Result<(), String> {
    if ring_size == 0 || nodes < ring_size || nodes % ring_size != 0 {
        return Err(format!(
            "{nodes} nodes cannot be cut into rings of {ring_size} (nodes must be a positive \
             multiple of the ring size)"
        ));
    }
    Ok(())
}

fn per(ns: f64, n: usize) -> f64 {
    ns / n as f64
}

fn elapsed_ns(start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64
}

fn rss_now() -> u64 {
    current_rss_bytes().map_or(0, |b| b as u64)
}

fn ours_rings(nodes: usize, ring_size: usize) -> RingsResult {
    gc_api::collect();
    let was_enabled = gc_api::is_enabled();
    // Automatic collection off: the timed `collect` does all the work.
    gc_api::disable();
    let before_drops = dropped();
    let rss_before = rss_now();
    let start = Instant::now();
    let rings = gc_rings(nodes, ring_size);
    let alloc = elapsed_ns(start);
    let peak = rss_now().saturating_sub(rss_before);
    let start = Instant::now();
    drop(rings);
    let drop_ns = elapsed_ns(start);
    let start = Instant::now();
    let collected = gc_api::collect();
    let collect = elapsed_ns(start);
    if was_enabled {
        gc_api::enable();
    }
    RingsResult {
        alloc_ns_per_obj: per(alloc, nodes),
        drop_ns_per_obj: per(drop_ns, nodes),
        collect_ns_per_obj: per(collect, nodes),
        dropped: dropped() - before_drops,
        reported_collected: Some(collected as u64),
        peak_rss_bytes: peak,
    }
}

fn rc_rings_job(nodes: usize, ring_size: usize) -> RingsResult {
    let before_drops = dropped();
    let rss_before = rss_now();
    let start = Instant::now();
    let rings = rc_rings(nodes, ring_size);
    let alloc = elapsed_ns(start);
    let peak = rss_now().saturating_sub(rss_before);
    let start = Instant::now();
    for first in rings {
        first.next.borrow_mut().take();
    }
    let drop_ns = elapsed_ns(start);
    RingsResult {
        alloc_ns_per_obj: per(alloc, nodes),
        drop_ns_per_obj: per(drop_ns, nodes),
        collect_ns_per_obj: 0.0,
        dropped: dropped() - before_drops,
        reported_collected: None,
        peak_rss_bytes: peak,
    }
}

fn time_best(reps: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let mut total = 0;
    for _ in 0..reps {
        let start = Instant::now();
        total += f();
        best = best.min(elapsed_ns(start));
    }
    (best, total)
}

fn young_collection() -> usize {
    gc_api::collect_generation(0).unwrap_or(0)
}

fn ours_live(nodes: usize, ring_size: usize, reps: usize) -> LiveResult {
    gc_api::collect();
    // The same young collection with nothing behind it, for comparison.
    let (young_empty, _) = time_best(reps, young_collection);
    let rings = gc_rings(nodes, ring_size);
    // Two full collections move the rings to the oldest generation.
    gc_api::collect();
    gc_api::collect();
    let (full, collected) = time_best(reps, gc_api::collect);
    let (young, young_collected) = time_best(reps, young_collection);
    drop(rings);
    gc_api::collect();
    LiveResult {
        full_collect_ns_per_obj: per(full, nodes),
        collected: (collected + young_collected) as u64,
        young_collect_ns: Some(young),
        young_collect_empty_ns: Some(young_empty),
    }
}

/// Records one [`Sample`] per collection through a collection callback.
struct Recorder {
    samples: Rc<RefCell<Vec<Sample>>>,
    id: gc_api::CallbackId,
}

impl Recorder {
    /// At each collection, garbage still waiting = `garbage_made` (objects made garbage so
    /// far) minus the drops counted since `drops_base`.
    fn install(origin: Instant, garbage_made: Rc<Cell<u64>>, drops_base: u64) -> Recorder {
        let samples = Rc::new(RefCell::new(Vec::new()));
        let started = Cell::new(None::<(Instant, u64)>);
        let sink = samples.clone();
        let id = gc_api::add_callback(move |phase, info| match phase {
            Phase::Start => {
                let freed = dropped() - drops_base;
                let outstanding = garbage_made.get().saturating_sub(freed);
                started.set(Some((Instant::now(), outstanding)));
            }
            Phase::Stop => {
                if let Some((t0, outstanding)) = started.take() {
                    let now = Instant::now();
                    let freed = dropped() - drops_base;
                    sink.borrow_mut().push(Sample {
                        at_ms: (t0 - origin).as_secs_f64() * 1e3,
                        pause_us: (now - t0).as_secs_f64() * 1e6,
                        generation: info.generation,
                        collected: info.collected,
                        live_objects: garbage_made.get().saturating_sub(freed),
                        outstanding_garbage: outstanding,
                    });
                }
            }
        });
        Recorder { samples, id }
    }

    fn finish(self) -> Vec<Sample> {
        gc_api::remove_callback(self.id);
        self.samples.take()
    }
}

/// Nearest-rank percentiles of `values` (µs).
pub fn summarize(values: impl IntoIterator<Item = f64>) -> PauseSummary {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return PauseSummary::default();
    }
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let r = (p / 100.0 * v.len() as f64).ceil() as usize;
        v[r.clamp(1, v.len()) - 1]
    };
    PauseSummary {
        count: v.len() as u64,
        p50: rank(50.0),
        p99: rank(99.0),
        max: v[v.len() - 1],
    }
}

fn gc_pair() {
    let a = Gc::new(Node {
        next: RefCell::new(None),
    });
    let b = Gc::new(Node {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b);
}

fn generation_collections() -> [u64; 3] {
    gc_api::get_stats().map(|s| s.collections as u64)
}

fn ours_churn(cycles: usize) -> (ChurnResult, Vec<Sample>) {
    gc_api::collect();
    gc_api::enable();
    let drops_base = dropped();

    // Plain run: what a program pays.
    let before = generation_collections();
    let start = Instant::now();
    for _ in 0..cycles {
        gc_pair();
    }
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    let after = generation_collections();
    gc_api::collect();
    let dropped_first_run = dropped() - drops_base;

    // The same with automatic collection off (the garbage piles up; freed afterwards).
    gc_api::disable();
    let start = Instant::now();
    for _ in 0..cycles {
        gc_pair();
    }
    let total_ms_gc_off = start.elapsed().as_secs_f64() * 1e3;
    gc_api::enable();
    gc_api::collect();

    // Again with a callback timing every collection.
    let garbage_made = Rc::new(Cell::new(0u64));
    let origin = Instant::now();
    let recorder = Recorder::install(origin, garbage_made.clone(), dropped());
    for _ in 0..cycles {
        gc_pair();
        garbage_made.set(garbage_made.get() + 2);
    }
    let timeline = recorder.finish();
    gc_api::collect();

    let result = ChurnResult {
        total_ms,
        dropped: dropped_first_run,
        total_ms_gc_off: Some(total_ms_gc_off),
        collections: Some([0, 1, 2].map(|g| after[g] - before[g])),
        pauses_us: Some(summarize(timeline.iter().map(|s| s.pause_us))),
    };
    (result, timeline)
}

fn rc_churn(cycles: usize) -> ChurnResult {
    let drops_base = dropped();
    let start = Instant::now();
    for _ in 0..cycles {
        let a = Rc::new(RcNode {
            next: RefCell::new(None),
        });
        let b = Rc::new(RcNode {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b);
        // Break the cycle by hand, as an Rc program must.
        a.next.borrow_mut().take();
    }
    ChurnResult {
        total_ms: start.elapsed().as_secs_f64() * 1e3,
        dropped: dropped() - drops_base,
        total_ms_gc_off: None,
        collections: None,
        pauses_us: None,
    }
}

/// The young phase of `mixed`: `young_cycles` garbage pairs with automatic collection
/// on, sampling outstanding garbage every `sample_every` cycles.
fn young_phase(young_cycles: usize, sample_every: usize) -> (f64, Vec<Sample>, u64) {
    let garbage_made = Rc::new(Cell::new(0u64));
    let drops_base = dropped();
    let origin = Instant::now();
    let recorder = Recorder::install(origin, garbage_made.clone(), drops_base);
    let mut max_outstanding = 0;
    for i in 0..young_cycles {
        gc_pair();
        garbage_made.set(garbage_made.get() + 2);
        if i % sample_every == 0 {
            let outstanding = garbage_made.get() - (dropped() - drops_base);
            max_outstanding = max_outstanding.max(outstanding);
        }
    }
    let total_ms = origin.elapsed().as_secs_f64() * 1e3;
    let timeline = recorder.finish();
    let outstanding_at_end = garbage_made.get() - (dropped() - drops_base);
    let max_outstanding = timeline
        .iter()
        .map(|s| s.outstanding_garbage)
        .chain([max_outstanding, outstanding_at_end])
        .max()
        .unwrap_or(0);
    (total_ms, timeline, max_outstanding)
}

fn young_pauses(timeline: &[Sample]) -> PauseSummary {
    summarize(
        timeline
            .iter()
            .filter(|s| s.generation == 0)
            .map(|s| s.pause_us),
    )
}

fn ours_mixed(
    old_objects: usize,
    ring_size: usize,
    young_cycles: usize,
    sample_every: usize,
) -> (MixedResult, Vec<Sample>) {
    gc_api::collect();
    gc_api::enable();
    // A first, unmeasured run maps and faults in the memory the young garbage uses, so
    // the run without an old heap is not the one that pays for it.
    young_phase(young_cycles, sample_every);
    gc_api::collect();
    let (_, empty_timeline, _) = young_phase(young_cycles, sample_every);
    gc_api::collect();

    let old = gc_rings(old_objects, ring_size);
    gc_api::collect();
    let before = generation_collections();
    let (total_ms, mut timeline, max_outstanding) = young_phase(young_cycles, sample_every);
    let after = generation_collections();
    for s in &mut timeline {
        s.live_objects += old_objects as u64;
    }
    drop(old);
    gc_api::collect();

    let result = MixedResult {
        young_pauses_us: young_pauses(&timeline),
        young_pauses_empty_us: young_pauses(&empty_timeline),
        max_outstanding_garbage: max_outstanding,
        collections: [0, 1, 2].map(|g| after[g] - before[g]),
        total_ms,
    };
    (result, timeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let s = summarize((1..=100).map(f64::from));
        assert_eq!((s.count, s.p50, s.p99, s.max), (100, 50.0, 99.0, 100.0));
        assert_eq!(summarize([]), PauseSummary::default());
        let one = summarize([7.0]);
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn rings_must_divide_evenly() {
        let job = Job::Rings {
            nodes: 25,
            ring_size: 10,
        };
        assert!(run(Native::Ours, &job).unwrap_err().contains("multiple"));
    }
}
