//! Criterion benchmarks: our heap vs our global allocator vs the system
//! allocator vs mimalloc, one group per allocation pattern.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gc_bench::allocators::Contender;
use gc_bench::kernels::{FreeOrder, Pattern};

/// Live blocks per iteration of the fifo / reverse / shuffle groups.
const LIVE_BLOCKS: usize = 100_000;
/// Block size of the fifo / reverse / shuffle groups.
const LIVE_SIZE: usize = 32;
const SEED: u64 = 0x5eed;

fn configure() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
}

/// Runs `pattern` for `iters` iterations on `contender`, returning the time
/// spent in the allocator. For LIFO one iteration is one alloc+free pair; for
/// the other patterns it is a whole allocate-N-then-free-N cycle.
fn run_iters(contender: &mut Contender, pattern: Pattern, size: usize, iters: u64) -> Duration {
    let mut ptrs = Vec::new();
    let result = match pattern {
        Pattern::Lifo | Pattern::LifoWarm => {
            let pairs = usize::try_from(iters).unwrap_or(usize::MAX);
            contender.run(pattern, size, pairs, SEED, &mut ptrs)
        }
        Pattern::Live(_) => (0..iters).try_fold(Duration::ZERO, |total, _| {
            contender
                .run(pattern, size, LIVE_BLOCKS, SEED, &mut ptrs)
                .map(|d| total + d)
        }),
    };
    match result {
        Ok(d) => d,
        Err(e) => panic!("benchmark allocation failed: {e}"),
    }
}

fn lifo_group(c: &mut Criterion, pattern: Pattern) {
    let mut group = c.benchmark_group(format!("{}_pair", pattern.name()));
    group.throughput(Throughput::Elements(1));
    let mut contenders = Contender::all();
    for size in [16, 64, 256] {
        for contender in &mut contenders {
            let id = BenchmarkId::new(contender.name(), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| run_iters(contender, pattern, size, iters));
            });
        }
    }
    group.finish();
}

/// Alloc+free pairs with nothing else of that size live.
fn lifo(c: &mut Criterion) {
    lifo_group(c, Pattern::Lifo);
}

/// Alloc+free pairs next to one live block of the same size.
fn lifo_warm(c: &mut Criterion) {
    lifo_group(c, Pattern::LifoWarm);
}

fn live(c: &mut Criterion, order: FreeOrder) {
    let pattern = Pattern::Live(order);
    let mut group = c.benchmark_group(format!("{}_free_{LIVE_BLOCKS}x{LIVE_SIZE}", pattern.name()));
    group.throughput(Throughput::Elements(LIVE_BLOCKS as u64));
    let mut contenders = Contender::all();
    for contender in &mut contenders {
        group.bench_function(contender.name(), |b| {
            b.iter_custom(|iters| run_iters(contender, pattern, LIVE_SIZE, iters));
        });
    }
    group.finish();
}

fn shuffle(c: &mut Criterion) {
    live(c, FreeOrder::Shuffle);
}

fn fifo(c: &mut Criterion) {
    live(c, FreeOrder::Fifo);
}

fn reverse(c: &mut Criterion) {
    live(c, FreeOrder::Reverse);
}

criterion_group! {
    name = benches;
    config = configure();
    targets = lifo, lifo_warm, shuffle, fifo, reverse
}
criterion_main!(benches);
