//! Criterion benchmarks of `Gc` against `Rc` in the same groups: handle clone+drop,
//! allocation+drop, reclaiming ring garbage, full and young collections, binary-trees.
//! Collection groups report time per object (`Throughput::Elements`).
//!
//! Rings and trees are the `gc-stress` graphs ([`gc_bench::graphs`]), built by the same
//! code for ours ([`Ours`]) and `Rc` ([`RcHeap`]); their ring nodes count their drops, as
//! in `gc-stress`. The allocation micro-benchmark keeps plain nodes of its own.

// Debug output of a ring would never end.
#![allow(missing_debug_implementations)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gc_api::{Finalize, Gc, Trace};
use gc_bench::graphs::{binary_trees as trees_program, release_rings, rings as build_rings};
use gc_bench::harness::{Collector, Handles, Rooted};
use gc_bench::native::{ours::Ours, rc::RcHeap};
use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A tracked node with no destructor, for the allocation micro-benchmark.
#[derive(Trace, Finalize)]
struct GcNode {
    _next: RefCell<Option<Gc<GcNode>>>,
}

/// The same node with `Rc`.
struct RcNode {
    _next: RefCell<Option<Rc<RcNode>>>,
}

const RING_NODES: usize = 1_000_000;
const RING_SIZE: usize = 10;

fn configure() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
}

fn handles(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone_drop");
    group.throughput(Throughput::Elements(1));
    let g = Gc::new(7u64);
    group.bench_function("Gc", |b| b.iter(|| drop(black_box(g.clone()))));
    let r = Rc::new(7u64);
    group.bench_function("Rc", |b| b.iter(|| drop(black_box(r.clone()))));
    group.finish();

    let mut group = c.benchmark_group("new_drop");
    group.throughput(Throughput::Elements(1));
    group.bench_function("Gc untracked u64", |b| {
        b.iter(|| drop(black_box(Gc::new(black_box(7u64)))))
    });
    group.bench_function("Rc u64", |b| {
        b.iter(|| drop(black_box(Rc::new(black_box(7u64)))))
    });
    group.bench_function("Gc tracked node", |b| {
        b.iter(|| {
            drop(black_box(Gc::new(GcNode {
                _next: RefCell::new(None),
            })))
        })
    });
    group.bench_function("Rc node", |b| {
        b.iter(|| {
            drop(black_box(Rc::new(RcNode {
                _next: RefCell::new(None),
            })))
        })
    });
    group.finish();
}

fn rings(c: &mut Criterion) {
    let mut group = c.benchmark_group("rings_reclaim_1M");
    group.throughput(Throughput::Elements(RING_NODES as u64));
    group.sample_size(10);
    group.bench_function("Gc drop handles + collect", |b| {
        gc_api::disable();
        b.iter_batched(
            || build_rings::<Ours>(RING_NODES / RING_SIZE, RING_SIZE),
            |handles| {
                drop(handles);
                assert_eq!(gc_api::collect(), RING_NODES);
            },
            BatchSize::PerIteration,
        );
        gc_api::enable();
    });
    group.bench_function("Rc break by hand + drop", |b| {
        b.iter_batched(
            || build_rings::<RcHeap>(RING_NODES / RING_SIZE, RING_SIZE),
            release_rings::<RcHeap>,
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn live_heap(c: &mut Criterion) {
    let mut group = c.benchmark_group("collect_live_1M");
    group.throughput(Throughput::Elements(RING_NODES as u64));
    group.sample_size(10);
    gc_api::disable();
    let live = build_rings::<Ours>(RING_NODES / RING_SIZE, RING_SIZE);
    group.bench_function("full collection, no garbage", |b| {
        b.iter(|| assert_eq!(gc_api::collect(), 0));
    });
    // A young collection with 1M objects in the older generations...
    group.throughput(Throughput::Elements(1));
    group.bench_function("gen0 with 1M old", |b| {
        b.iter_custom(young_collections);
    });
    drop(live);
    gc_api::collect();
    // ...and with none.
    group.bench_function("gen0 with empty old", |b| {
        b.iter_custom(young_collections);
    });
    gc_api::enable();
    group.finish();
}

/// `iters` generation-0 collections, each over 100 fresh young objects.
fn young_collections(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let young: Vec<_> = (0..100).map(|_| Ours::node(None)).collect();
        let start = Instant::now();
        black_box(gc_api::collect_generation(0).expect("generation 0"));
        total += start.elapsed();
        drop(young);
    }
    total
}

fn binary_trees(c: &mut Criterion) {
    let mut group = c.benchmark_group("binary_trees_depth_16");
    group.sample_size(10);
    group.bench_function("Gc", |b| {
        b.iter(|| black_box(trees_program(&mut Rooted::<Ours>::new(), 16)))
    });
    group.bench_function("Rc", |b| {
        b.iter(|| black_box(trees_program(&mut Rooted::<RcHeap>::new(), 16)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = configure();
    targets = handles, rings, live_heap, binary_trees
}
criterion_main!(benches);
