//! Our `gc_api::Gc` as a [`Handles`] contender, and the probes only ours has: pause
//! samples and per-generation collection counts through `gc_api::add_callback`,
//! outstanding garbage, and the `mixed` workload (young pauses beside an old heap).

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gc_api::{Finalize, Gc, Phase, Trace};

use super::{NativeOutput, Sample, ring_count};
use crate::clock::Stamp;
use crate::graphs;
use crate::harness::{Collector, Handles, Rooted, count_drop, dropped};
use crate::jobs::{Job, JobResult, MixedResult, PauseSummary};

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

/// A binary-trees node on our heap.
#[derive(Trace, Finalize)]
pub struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

/// Our `gc_api::Gc`: refcounting plus CPython's generational cycle collector.
pub struct Ours;

impl Handles for Ours {
    type Ring = Gc<Node>;
    type Tree = Gc<Tree>;
    // A collection whose set holds no candidate (no count went down to a value above zero)
    // only promotes it: `live` makes every ring a candidate, so that the full collection it
    // times traces the whole heap.
    const CANDIDATE_ROOTS_ONLY: bool = true;
    const HAS_AUTO_COLLECT: bool = true;
    const HAS_GENERATIONS: bool = true;

    #[inline]
    fn node(next: Option<Gc<Node>>) -> Gc<Node> {
        Gc::new(Node {
            next: RefCell::new(next),
        })
    }

    #[inline]
    fn set_next(node: &Gc<Node>, next: Gc<Node>) {
        *node.next.borrow_mut() = Some(next);
    }

    #[inline]
    fn tree_node(left: Option<Gc<Tree>>, right: Option<Gc<Tree>>) -> Gc<Tree> {
        Gc::new(Tree { left, right })
    }

    #[inline]
    fn children(tree: &Gc<Tree>) -> [Option<&Gc<Tree>>; 2] {
        [tree.left.as_ref(), tree.right.as_ref()]
    }

    fn collect() -> Option<u64> {
        Some(gc_api::collect() as u64)
    }

    fn young_collect() -> Option<u64> {
        Some(gc_api::collect_generation(0).unwrap_or(0) as u64)
    }

    fn generation_collections() -> Option<[u64; 3]> {
        Some(gc_api::get_stats().map(|s| s.collections as u64))
    }

    fn set_auto_collect(on: bool) {
        if on {
            gc_api::enable();
        } else {
            gc_api::disable();
        }
    }
}

/// Runs `job` with ours: the shared workloads of [`super`], plus the pause run of churn
/// and the ours-only `mixed`.
pub fn run(job: &Job) -> Result<NativeOutput, String> {
    match *job {
        Job::Churn { cycles } => {
            let mut heap = Rooted::<Ours>::new();
            let mut result = super::churn(&mut heap, cycles);
            let timeline = pause_run(cycles);
            result.pauses_us = Some(PauseSummary::from_pauses_us(
                timeline.iter().map(|s| s.pause_us),
            ));
            Ok(NativeOutput {
                result: JobResult::Churn(result),
                timeline,
            })
        }
        Job::Mixed {
            old_objects,
            ring_size,
            young_cycles,
            sample_every,
        } => {
            let rings = ring_count(old_objects, ring_size)?;
            let (result, timeline) = mixed(rings, ring_size, young_cycles, sample_every.max(1));
            Ok(NativeOutput {
                result: JobResult::Mixed(result),
                timeline,
            })
        }
        _ => super::run_with::<Rooted<Ours>>(job).map(NativeOutput::plain),
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
    fn install(origin: Stamp, garbage_made: Rc<Cell<u64>>, drops_base: u64) -> Recorder {
        let samples = Rc::new(RefCell::new(Vec::new()));
        let started = Cell::new(None::<(Stamp, u64)>);
        let sink = samples.clone();
        let id = gc_api::add_callback(move |phase, info| match phase {
            Phase::Start => {
                let freed = dropped() - drops_base;
                let outstanding = garbage_made.get().saturating_sub(freed);
                started.set(Some((Stamp::now(), outstanding)));
            }
            Phase::Stop => {
                if let Some((t0, outstanding)) = started.take() {
                    let now = Stamp::now();
                    let freed = dropped() - drops_base;
                    sink.borrow_mut().push(Sample {
                        at_ms: t0.since(origin).as_secs_f64() * 1e3,
                        pause_us: now.since(t0).as_secs_f64() * 1e6,
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

#[inline]
fn pair() {
    drop(graphs::ring::<Ours>(2));
}

/// Churn's third run, ours only: the same garbage cycles with a callback timing every
/// collection (separate from the timed runs, since the callback costs a little).
pub fn pause_run(cycles: usize) -> Vec<Sample> {
    gc_api::enable();
    gc_api::collect();
    let garbage_made = Rc::new(Cell::new(0u64));
    let origin = Stamp::now();
    let recorder = Recorder::install(origin, garbage_made.clone(), dropped());
    for _ in 0..cycles {
        pair();
        garbage_made.set(garbage_made.get() + 2);
    }
    let timeline = recorder.finish();
    gc_api::collect();
    timeline
}

/// The young phase of `mixed`: `young_cycles` garbage pairs with automatic collection
/// on, sampling outstanding garbage every `sample_every` cycles.
fn young_phase(young_cycles: usize, sample_every: usize) -> (f64, Vec<Sample>, u64) {
    let garbage_made = Rc::new(Cell::new(0u64));
    let drops_base = dropped();
    let origin = Stamp::now();
    let recorder = Recorder::install(origin, garbage_made.clone(), drops_base);
    let mut max_outstanding = 0;
    for i in 0..young_cycles {
        pair();
        garbage_made.set(garbage_made.get() + 2);
        if i % sample_every == 0 {
            let outstanding = garbage_made.get() - (dropped() - drops_base);
            max_outstanding = max_outstanding.max(outstanding);
        }
    }
    let total_ms = origin.elapsed_ms();
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
    PauseSummary::from_pauses_us(
        timeline
            .iter()
            .filter(|s| s.generation == 0)
            .map(|s| s.pause_us),
    )
}

fn generation_collections() -> [u64; 3] {
    gc_api::get_stats().map(|s| s.collections as u64)
}

/// [`Job::Mixed`]: `young_cycles` young garbage cycles with no old heap, then beside
/// `rings` rings of `ring_size` long-lived objects.
fn mixed(
    rings: usize,
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

    let old = graphs::rings::<Ours>(rings, ring_size);
    gc_api::collect();
    let before = generation_collections();
    let (total_ms, mut timeline, max_outstanding) = young_phase(young_cycles, sample_every);
    let after = generation_collections();
    for s in &mut timeline {
        s.live_objects += (rings * ring_size) as u64;
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
