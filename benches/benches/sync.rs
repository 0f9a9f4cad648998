//! Criterion benchmarks of the thread-safe flavour `gc_api::sync` against its std
//! counterparts, on one thread: handle clone+drop (`sync::Gc` vs `std::sync::Arc`), lock
//! plus unlock (`GcMutex` vs `parking_lot::Mutex`), `Weak::upgrade` (vs
//! `std::sync::Weak::upgrade`), and reading through a handle (`sync::Gc` vs the
//! thread-local `gc_api::Gc`). Each group puts the pair side by side.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gc_api::sync::{Gc as SyncGc, GcMutex};

fn configure() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
}

fn clone_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_clone_drop");
    group.throughput(Throughput::Elements(1));
    let g = SyncGc::new(7u64);
    group.bench_function("sync::Gc", |b| b.iter(|| drop(black_box(g.clone()))));
    let a = Arc::new(7u64);
    group.bench_function("Arc", |b| b.iter(|| drop(black_box(a.clone()))));
    group.finish();
}

fn lock_unlock(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock_unlock");
    group.throughput(Throughput::Elements(1));
    let m = GcMutex::new(7u64);
    group.bench_function("GcMutex", |b| {
        b.iter(|| {
            let mut guard = black_box(&m).lock();
            *guard += 1;
        })
    });
    let p = parking_lot::Mutex::new(7u64);
    group.bench_function("parking_lot::Mutex", |b| {
        b.iter(|| {
            let mut guard = black_box(&p).lock();
            *guard += 1;
        })
    });
    group.finish();
}

fn weak_upgrade(c: &mut Criterion) {
    let mut group = c.benchmark_group("weak_upgrade");
    group.throughput(Throughput::Elements(1));
    let g = SyncGc::new(7u64);
    let w = SyncGc::downgrade(&g);
    group.bench_function("sync::Weak", |b| {
        b.iter(|| drop(black_box(black_box(&w).upgrade())))
    });
    let a = Arc::new(7u64);
    let aw = Arc::downgrade(&a);
    group.bench_function("std::sync::Weak", |b| {
        b.iter(|| drop(black_box(black_box(&aw).upgrade())))
    });
    group.finish();
    drop((g, a));
}

fn deref(c: &mut Criterion) {
    let mut group = c.benchmark_group("deref");
    group.throughput(Throughput::Elements(1));
    let s = SyncGc::new(7u64);
    group.bench_function("sync::Gc", |b| b.iter(|| **black_box(&s)));
    let u = gc_api::Gc::new(7u64);
    group.bench_function("unsync Gc", |b| b.iter(|| **black_box(&u)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = configure();
    targets = clone_drop, lock_unlock, weak_upgrade, deref
}
criterion_main!(benches);
