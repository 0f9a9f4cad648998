//! `gc-stress threads --pause`: how long a mutator thread waits while another thread runs
//! a full `gc_api::sync::collect()` over a big live heap.
//!
//! The main thread builds `live` objects in rings (edges in `GcMutex`), switches automatic
//! collection off (only the timed full collections run), and starts a mutator thread that
//! loops over three operations on its own objects, timing each one: a `Gc` clone+drop, a
//! `GcMutex` lock+unlock, a `Gc::new`+drop. Then the main thread runs `reps` full
//! collections, with a short gap between them. Each operation's latency goes to an HDR
//! histogram: those that overlapped a collection (by a counter the collecting thread bumps
//! before and after) in one, the others (the same operations with no collection running)
//! in another. Before each timed collection every ring is made a candidate (a clone of its
//! handle dropped, untimed), so the collection has the whole live heap to prove alive.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gc_api::{Finalize, Trace};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::threads::gsync::{self, Gc, GcMutex};

/// A ring node of the live heap (and the mutator's objects).
#[derive(Trace, Finalize)]
struct Node {
    next: GcMutex<Option<Gc<Node>>>,
    payload: u64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("payload", &self.payload)
            .finish()
    }
}

fn node(next: Option<Gc<Node>>, payload: u64) -> Gc<Node> {
    Gc::new(Node {
        next: GcMutex::new(next),
        payload,
    })
}

/// One ring of `size` nodes; its first node.
fn ring(size: usize) -> Gc<Node> {
    let first = node(None, 0);
    let mut prev = first.clone();
    for i in 1..size {
        prev = node(Some(prev), i as u64);
    }
    *first.next.lock() = Some(prev);
    first
}

/// The probe's sizes.
#[derive(Debug, Clone, Serialize)]
pub struct PauseConfig {
    /// Live objects.
    pub live: usize,
    /// Objects per ring.
    pub ring_size: usize,
    /// Full collections timed.
    pub reps: usize,
}

/// Latency percentiles of one kind of operation, in ns.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Operations timed.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Longest.
    pub max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The operations the mutator times, in order.
pub const OPS: [&str; 4] = ["clone+drop", "lock+unlock", "new+drop", "all"];

/// What the probe measured.
#[derive(Debug, Clone, Serialize)]
pub struct PauseReport {
    /// The sizes.
    pub config: PauseConfig,
    /// Each full collection's time, ms.
    pub collect_ms: Vec<f64>,
    /// The best full collection per live object, ns.
    pub collect_ns_per_obj: f64,
    /// Objects the full collections freed (must be 0: all alive).
    pub collected: usize,
    /// Per operation of [`OPS`]: latency while a collection ran.
    pub during: [Latency; 4],
    /// Per operation of [`OPS`]: latency while none ran.
    pub outside: [Latency; 4],
}

fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// The mutator: loops over the three operations until `stop`, timing each one.
fn mutate(epoch: &AtomicU64, stop: &AtomicBool) -> [[Histogram<u64>; 4]; 2] {
    let mut hist: [[Histogram<u64>; 4]; 2] =
        std::array::from_fn(|_| std::array::from_fn(|_| histogram()));
    let mine = node(Some(node(None, 1)), 0);
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let op = k % 3;
        let before = epoch.load(Ordering::SeqCst);
        let t0 = Instant::now();
        match op {
            0 => drop(std::hint::black_box(mine.clone())),
            1 => {
                let guard = mine.next.lock();
                std::hint::black_box(guard.is_some());
                drop(guard);
            }
            _ => drop(std::hint::black_box(node(None, k as u64))),
        }
        let ns = t0.elapsed().as_nanos() as u64;
        let after = epoch.load(Ordering::SeqCst);
        let during = usize::from(before % 2 == 1 || after != before);
        hist[during][op].saturating_record(ns);
        hist[during][3].saturating_record(ns);
        k += 1;
    }
    hist
}

/// Runs the probe (ours only: `gc_api::sync`).
pub fn run(cfg: &PauseConfig) -> Result<PauseReport, String> {
    if cfg.ring_size == 0 || cfg.live < cfg.ring_size || cfg.reps == 0 {
        return Err("live must be at least one ring, and reps at least 1".into());
    }
    gsync::collect();
    gsync::disable();
    let rings: Vec<Gc<Node>> = (0..cfg.live / cfg.ring_size)
        .map(|_| ring(cfg.ring_size))
        .collect();
    let live = rings.len() * cfg.ring_size;
    // Untimed: move the live heap to the oldest generation.
    gsync::collect();
    gsync::collect();

    let epoch = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let mut collect_ms = Vec::new();
    let mut collected = 0;
    let hist = std::thread::scope(|s| {
        let mutator = s.spawn(|| mutate(&epoch, &stop));
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..cfg.reps {
            for r in &rings {
                drop(r.clone());
            }
            epoch.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            collected += gsync::collect();
            collect_ms.push(start.elapsed().as_secs_f64() * 1e3);
            epoch.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        mutator.join()
    })
    .map_err(|_| "the mutator thread panicked".to_owned())?;
    gsync::enable();
    drop(rings);
    gsync::collect();

    let best = collect_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let [outside, during] = hist;
    Ok(PauseReport {
        config: cfg.clone(),
        collect_ns_per_obj: best * 1e6 / live as f64,
        collect_ms,
        collected,
        during: [0, 1, 2, 3].map(|i| Latency::of(&during[i])),
        outside: [0, 1, 2, 3].map(|i| Latency::of(&outside[i])),
    })
}

impl PauseReport {
    /// Prints the figures.
    pub fn print(&self) {
        println!(
            "pause probe: a full gc_api::sync::collect() over {} live objects (rings of {}) \
             on one thread, {} times; another thread times its own operations meanwhile",
            self.config.live, self.config.ring_size, self.config.reps
        );
        let ms: Vec<String> = self.collect_ms.iter().map(|m| format!("{m:.1}")).collect();
        println!(
            "full collections: {} ms; best {:.1} ns per live object; {} objects freed",
            ms.join(", "),
            self.collect_ns_per_obj,
            self.collected
        );
        println!();
        println!(
            "mutator latency, ns     {:>9} {:>8} {:>8} {:>8} {:>12}",
            "ops", "p50", "p99", "p99.9", "max"
        );
        for (label, lat) in [("during", &self.during), ("no collection", &self.outside)] {
            for (i, op) in OPS.iter().enumerate() {
                let l = lat[i];
                println!(
                    "  {:<13} {:<11} {:>8} {:>8} {:>8} {:>8} {:>12}",
                    label, op, l.count, l.p50, l.p99, l.p999, l.max
                );
            }
        }
    }
}
