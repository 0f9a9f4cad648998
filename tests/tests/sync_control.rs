//! The `gc`-module surface of the thread-safe flavour: exact counts, thresholds,
//! enable/disable, statistics, collection callbacks, invalid generations and what
//! `collect()` returns.
//!
//! This state is one per process, so this file is a test binary of its own and every test
//! in it holds `SERIAL` for its whole run: nothing else allocates or collects meanwhile.

use gc_api::sync::{self, AtomicGc, Gc, GcMutex, GcRwLock};
use gc_api::{CallbackInfo, Finalize, GcError, Phase, Trace};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the lock and puts the heap in a known state: collection off, default
/// thresholds, no garbage pending.
fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    sync::disable();
    sync::set_threshold([700, 10, 10]);
    sync::collect();
    guard
}

#[derive(Trace, Finalize)]
struct Node {
    next: GcMutex<Option<Gc<Node>>>,
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

fn node(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    Gc::new(Node {
        next: GcMutex::new(None),
        drops: drops.clone(),
    })
}

/// A garbage ring of `n` nodes (n tracked allocations, no frees).
fn garbage_ring(n: usize, drops: &Arc<AtomicUsize>) {
    let nodes: Vec<Gc<Node>> = (0..n).map(|_| node(drops)).collect();
    for i in 0..n {
        *nodes[i].next.lock() = Some(nodes[(i + 1) % n].clone());
    }
}

fn collections() -> [usize; 3] {
    sync::get_stats().map(|s| s.collections)
}

#[test]
fn collect_returns_exactly_the_garbage_it_freed() {
    let _s = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    assert_eq!(sync::collect(), 0, "nothing pending after the reset");
    garbage_ring(2, &drops);
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(SeqCst), 2);
    garbage_ring(1, &drops);
    garbage_ring(3, &drops);
    garbage_ring(50, &drops);
    let live = node(&drops);
    *live.next.lock() = Some(live.clone());
    assert_eq!(sync::collect(), 54);
    assert_eq!(drops.load(SeqCst), 56);
    assert_eq!(sync::collect(), 0);
    live.next.lock().take();
    drop(live);
    assert_eq!(drops.load(SeqCst), 57);
    assert_eq!(sync::collect(), 0);
}

#[test]
fn collect_counts_garbage_made_on_other_threads() {
    let _s = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| garbage_ring(4, &drops));
        }
    });
    assert_eq!(sync::collect(), 12);
    assert_eq!(drops.load(SeqCst), 12);
    let d2 = drops.clone();
    let from_other = std::thread::spawn(move || {
        garbage_ring(5, &d2);
        sync::collect()
    })
    .join()
    .unwrap();
    assert_eq!(
        from_other, 5,
        "a collection on another thread sees the whole heap"
    );
    assert_eq!(drops.load(SeqCst), 17);
}

#[test]
fn invalid_generation_is_an_error() {
    let _s = serial();
    assert_eq!(
        sync::collect_generation(3),
        Err(GcError::InvalidGeneration(3))
    );
    assert!(sync::collect_generation(usize::MAX).is_err());
    let drops = Arc::new(AtomicUsize::new(0));
    garbage_ring(2, &drops);
    assert_eq!(sync::collect_generation(0), Ok(2));
    assert_eq!(sync::collect_generation(1), Ok(0));
    assert_eq!(sync::collect_generation(2), Ok(0));
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn enable_disable_and_is_enabled() {
    let _s = serial();
    assert!(!sync::is_enabled());
    sync::enable();
    assert!(sync::is_enabled());
    sync::enable();
    assert!(sync::is_enabled());
    sync::disable();
    assert!(!sync::is_enabled());
    let seen_elsewhere = std::thread::spawn(sync::is_enabled).join().unwrap();
    assert!(!seen_elsewhere, "the setting is the whole heap's");
    std::thread::spawn(sync::enable).join().unwrap();
    assert!(sync::is_enabled());
    sync::disable();
}

#[test]
fn thresholds_round_trip_and_are_process_wide() {
    let _s = serial();
    assert_eq!(sync::get_threshold(), [700, 10, 10]);
    sync::set_threshold([100, 5, 3]);
    assert_eq!(sync::get_threshold(), [100, 5, 3]);
    let elsewhere = std::thread::spawn(sync::get_threshold).join().unwrap();
    assert_eq!(elsewhere, [100, 5, 3]);
    sync::set_threshold([0, 0, 0]);
    assert_eq!(sync::get_threshold(), [0, 0, 0]);
    sync::set_threshold([700, 10, 10]);
    assert_eq!(sync::get_threshold(), [700, 10, 10]);
}

#[test]
fn tracked_allocations_count_and_collections_move_the_counts() {
    let _s = serial();
    assert_eq!(sync::get_count(), [0, 0, 0]);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut kept: Vec<Gc<Node>> = (0..5).map(|_| node(&drops)).collect();
    assert_eq!(sync::get_count(), [5, 0, 0]);
    kept.truncate(3);
    assert_eq!(
        sync::get_count(),
        [3, 0, 0],
        "a free of a young object takes one off"
    );
    let untracked = (Gc::new(1u64), Gc::new(String::from("x")));
    assert_eq!(
        sync::get_count(),
        [3, 0, 0],
        "untracked objects do not count"
    );
    drop(untracked);
    assert_eq!(sync::collect_generation(0), Ok(0));
    assert_eq!(sync::get_count(), [0, 1, 0]);
    let other: Vec<Gc<Node>> = std::thread::spawn({
        let drops = drops.clone();
        move || (0..4).map(|_| node(&drops)).collect()
    })
    .join()
    .unwrap();
    assert_eq!(
        sync::get_count(),
        [4, 1, 0],
        "allocations on every thread count"
    );
    assert_eq!(sync::collect_generation(1), Ok(0));
    assert_eq!(sync::get_count(), [0, 0, 1]);
    assert_eq!(sync::collect(), 0);
    assert_eq!(sync::get_count(), [0, 0, 0]);
    drop((kept, other));
    assert_eq!(sync::get_count(), [0, 0, 0], "counts never go below zero");
    assert_eq!(drops.load(SeqCst), 9);
}

#[test]
fn a_disabled_collector_runs_no_automatic_collection() {
    let _s = serial();
    sync::set_threshold([10, 2, 2]);
    let before = sync::get_stats();
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        garbage_ring(2, &drops);
    }
    assert_eq!(
        sync::get_stats(),
        before,
        "no automatic collection while disabled"
    );
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(sync::collect(), 2_000, "explicit collection still works");
    assert_eq!(drops.load(SeqCst), 2_000);
}

#[test]
fn threshold0_of_zero_turns_automatic_collection_off() {
    let _s = serial();
    sync::enable();
    sync::set_threshold([0, 10, 10]);
    let before = sync::get_stats();
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        garbage_ring(2, &drops);
    }
    let after = sync::get_stats();
    sync::disable();
    assert_eq!(after, before, "no automatic collection with threshold 0");
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(sync::collect(), 2_000);
}

#[test]
fn an_enabled_collector_frees_garbage_cycles_automatically() {
    let _s = serial();
    sync::set_threshold([50, 5, 5]);
    sync::enable();
    let before = collections();
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..5_000 {
        garbage_ring(2, &drops);
    }
    let after = collections();
    let freed = drops.load(SeqCst);
    sync::disable();
    assert!(
        after[0] > before[0] + 50,
        "young collections ran: {before:?} -> {after:?}"
    );
    assert!(after[1] > before[1], "{before:?} -> {after:?}");
    assert!(freed >= 10_000 - 2 * 51, "dropped {freed} of 10000");
    sync::collect();
    assert_eq!(drops.load(SeqCst), 10_000);
}

#[test]
fn automatic_collections_happen_for_allocations_on_any_thread() {
    let _s = serial();
    sync::set_threshold([20, 5, 5]);
    sync::enable();
    let before = collections();
    let drops = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    garbage_ring(3, &drops);
                }
            });
        }
    });
    let after = collections();
    sync::disable();
    assert!(after[0] > before[0], "{before:?} -> {after:?}");
    assert!(drops.load(SeqCst) > 0);
    sync::collect();
    assert_eq!(drops.load(SeqCst), 6_000);
}

#[test]
fn stats_count_collections_and_collected_objects_per_generation() {
    let _s = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let s0 = sync::get_stats();
    garbage_ring(2, &drops);
    assert_eq!(sync::collect_generation(0), Ok(2));
    let s1 = sync::get_stats();
    assert_eq!(s1[0].collections, s0[0].collections + 1);
    assert_eq!(s1[0].collected, s0[0].collected + 2);
    assert_eq!(s1[0].uncollectable, 0);
    assert_eq!(s1[1], s0[1]);
    assert_eq!(s1[2], s0[2]);
    garbage_ring(4, &drops);
    assert_eq!(sync::collect_generation(1), Ok(4));
    let s2 = sync::get_stats();
    assert_eq!(s2[0], s1[0]);
    assert_eq!(s2[1].collections, s1[1].collections + 1);
    assert_eq!(s2[1].collected, s1[1].collected + 4);
    garbage_ring(3, &drops);
    assert_eq!(sync::collect(), 3);
    let s3 = sync::get_stats();
    assert_eq!(s3[0], s2[0]);
    assert_eq!(s3[1], s2[1]);
    assert_eq!(s3[2].collections, s2[2].collections + 1);
    assert_eq!(s3[2].collected, s2[2].collected + 3);
    assert_eq!(s3[2].uncollectable, 0);
    assert_eq!(drops.load(SeqCst), 9);
}

type Calls = Arc<Mutex<Vec<(&'static str, Phase, usize, usize)>>>;

fn recorder(
    calls: &Calls,
    name: &'static str,
) -> impl Fn(Phase, &CallbackInfo) + Send + Sync + 'static {
    let calls = calls.clone();
    move |phase, info| {
        calls
            .lock()
            .unwrap()
            .push((name, phase, info.generation, info.collected))
    }
}

#[test]
fn callbacks_run_in_registration_order_with_start_and_stop_info() {
    let _s = serial();
    let calls: Calls = Arc::default();
    let first = sync::add_callback(recorder(&calls, "first"));
    let second = sync::add_callback(recorder(&calls, "second"));
    assert_ne!(first, second);
    let drops = Arc::new(AtomicUsize::new(0));
    garbage_ring(2, &drops);
    assert_eq!(sync::collect(), 2);
    assert_eq!(
        *calls.lock().unwrap(),
        [
            ("first", Phase::Start, 2, 0),
            ("second", Phase::Start, 2, 0),
            ("first", Phase::Stop, 2, 2),
            ("second", Phase::Stop, 2, 2),
        ]
    );
    calls.lock().unwrap().clear();
    assert_eq!(sync::collect_generation(1), Ok(0));
    let gens: Vec<usize> = calls.lock().unwrap().iter().map(|c| c.2).collect();
    assert_eq!(gens, [1, 1, 1, 1]);
    assert!(sync::remove_callback(first));
    assert!(!sync::remove_callback(first), "already removed");
    calls.lock().unwrap().clear();
    // A collection on another thread calls the callbacks too.
    std::thread::spawn(sync::collect).join().unwrap();
    let names: Vec<&str> = calls.lock().unwrap().iter().map(|c| c.0).collect();
    assert_eq!(names, ["second", "second"]);
    assert!(sync::remove_callback(second));
    calls.lock().unwrap().clear();
    sync::collect();
    assert!(calls.lock().unwrap().is_empty());
}

#[test]
fn callbacks_run_for_automatic_collections() {
    let _s = serial();
    let calls: Calls = Arc::default();
    let id = sync::add_callback(recorder(&calls, "auto"));
    sync::set_threshold([5, 10, 10]);
    sync::enable();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut kept = Vec::new();
    for _ in 0..6 {
        kept.push(node(&drops));
    }
    sync::disable();
    assert!(sync::remove_callback(id));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!((calls[0].1, calls[0].2), (Phase::Start, 0));
    assert_eq!((calls[1].1, calls[1].2), (Phase::Stop, 0));
}

#[derive(Trace, Finalize)]
struct Holder {
    rw: GcRwLock<Vec<Gc<Holder>>>,
    at: AtomicGc<Holder>,
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

#[test]
fn collect_counts_cycles_through_rwlock_and_atomic_cells() {
    let _s = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let mk = || {
        Gc::new(Holder {
            rw: GcRwLock::new(Vec::new()),
            at: AtomicGc::new(None),
            drops: drops.clone(),
        })
    };
    let (a, b, c) = (mk(), mk(), mk());
    a.rw.write().push(b.clone());
    b.at.store(Some(c.clone()));
    c.rw.write().push(a.clone());
    drop((a, b, c));
    assert_eq!(sync::collect(), 3);
    assert_eq!(drops.load(SeqCst), 3);
}
