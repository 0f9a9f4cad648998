//! Panics in user code in the thread-safe flavour: a panic in `Drop`, in a finalizer, in
//! a weak callback or in a collection callback propagates out of the `collect()` (or the
//! drop of the last handle) that ran it, leaves every value dropped once and every
//! finalizer run once, and later collections still work, on this thread and on others.
//!
//! A collection runs whatever garbage there is, whoever made it, so a panicking object in
//! one test could panic in another test's `collect()`: this file is a binary of its own
//! and its tests hold `SERIAL`.

use gc_api::sync::{self, Gc, GcMutex, Weak};
use gc_api::{Finalize, Phase, Trace};
use gc_tests::panic_of;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    sync::disable();
    sync::set_threshold([700, 10, 10]);
    sync::collect();
    guard
}

const N: usize = 16;

#[derive(Default)]
struct Log {
    drops: [AtomicUsize; N],
    finalized: [AtomicUsize; N],
}

impl Log {
    fn drops(&self, id: usize) -> usize {
        self.drops[id].load(SeqCst)
    }
    fn finalized(&self, id: usize) -> usize {
        self.finalized[id].load(SeqCst)
    }
    fn total_drops(&self) -> usize {
        self.drops.iter().map(|d| d.load(SeqCst)).sum()
    }
}

#[derive(Clone, Copy, Default)]
struct Faults {
    panic_in_drop: bool,
    panic_in_finalize: bool,
}

#[derive(Trace)]
struct Victim {
    id: usize,
    name: String,
    next: GcMutex<Option<Gc<Victim>>>,
    #[gc(skip)]
    faults: Faults,
    #[gc(skip)]
    log: Arc<Log>,
}

impl Finalize for Victim {
    fn finalize(&self) {
        self.log.finalized[self.id].fetch_add(1, SeqCst);
        if self.faults.panic_in_finalize {
            panic!("finalizer {} panicked on purpose", self.id);
        }
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        self.log.drops[self.id].fetch_add(1, SeqCst);
        if self.faults.panic_in_drop {
            panic!("drop {} panicked on purpose", self.id);
        }
    }
}

fn victim(id: usize, faults: Faults, log: &Arc<Log>) -> Gc<Victim> {
    Gc::new(Victim {
        id,
        name: format!("victim-{id}"),
        next: GcMutex::new(None),
        faults,
        log: log.clone(),
    })
}

/// A ring of the ids in `ids`, with the faults `faults` gives each.
fn ring(ids: std::ops::Range<usize>, faults: impl Fn(usize) -> Faults, log: &Arc<Log>) {
    let nodes: Vec<Gc<Victim>> = ids.map(|id| victim(id, faults(id), log)).collect();
    for i in 0..nodes.len() {
        *nodes[i].next.lock() = Some(nodes[(i + 1) % nodes.len()].clone());
    }
}

/// The heap still collects exactly what it should, here and on another thread.
fn check_heap_still_works() {
    let log = Arc::new(Log::default());
    ring(0..5, |_| Faults::default(), &log);
    assert_eq!(sync::collect(), 5);
    assert_eq!(log.total_drops(), 5);
    assert!((0..5).all(|id| log.drops(id) == 1 && log.finalized(id) == 1));
    let log2 = log.clone();
    let collected = std::thread::spawn(move || {
        ring(5..8, |_| Faults::default(), &log2);
        sync::collect()
    })
    .join()
    .unwrap();
    assert_eq!(collected, 3);
    let keep = victim(9, Faults::default(), &log);
    assert_eq!(sync::collect(), 0);
    assert_eq!(keep.name, "victim-9");
    drop(keep);
    assert_eq!(log.total_drops(), 9);
}

#[test]
fn panic_in_drop_during_a_collection_propagates_and_the_heap_stays_consistent() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let before = sync::get_stats()[2];
    // Two values panic: the first panic propagates, the second must not abort.
    ring(
        0..6,
        |id| Faults {
            panic_in_drop: id == 2 || id == 4,
            ..Faults::default()
        },
        &log,
    );
    let msg = panic_of(sync::collect).expect("the panic in Drop must propagate out of collect");
    assert!(msg.contains("panicked on purpose"), "{msg:?}");
    for id in 0..6 {
        assert_eq!(log.drops(id), 1, "value {id} dropped once");
        assert_eq!(log.finalized(id), 1);
    }
    let after = sync::get_stats()[2];
    assert_eq!(after.collections, before.collections + 1);
    assert_eq!(after.collected, before.collected + 6);
    assert_eq!(sync::collect(), 0);
    check_heap_still_works();
}

#[test]
fn panic_in_drop_during_a_refcount_free_propagates_out_of_the_drop() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let nodes: Vec<Gc<Victim>> = (0..4)
        .map(|id| {
            let faults = Faults {
                panic_in_drop: id == 1,
                ..Faults::default()
            };
            victim(id, faults, &log)
        })
        .collect();
    for i in 0..3 {
        *nodes[i].next.lock() = Some(nodes[i + 1].clone());
    }
    let head = nodes[0].clone();
    drop(nodes);
    let msg = panic_of(move || drop(head)).expect("the panic in Drop must propagate");
    assert!(msg.contains("drop 1 panicked on purpose"), "{msg:?}");
    for id in 0..4 {
        assert_eq!(log.drops(id), 1, "value {id} dropped once");
        assert_eq!(log.finalized(id), 1);
    }
    check_heap_still_works();
}

#[test]
fn panic_in_drop_on_another_thread_leaves_the_heap_usable_everywhere() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let x = victim(
        0,
        Faults {
            panic_in_drop: true,
            ..Faults::default()
        },
        &log,
    );
    let joined = std::thread::spawn(move || drop(x)).join();
    let err = joined.expect_err("the thread that dropped it panicked");
    let msg = gc_tests::panic_message(err.as_ref());
    assert!(msg.contains("drop 0 panicked on purpose"), "{msg:?}");
    assert_eq!(log.drops(0), 1);
    check_heap_still_works();
}

#[test]
fn panic_in_finalizer_during_a_collection_counts_as_run() {
    let _s = serial();
    let log = Arc::new(Log::default());
    ring(
        0..4,
        |id| Faults {
            panic_in_finalize: id == 1,
            ..Faults::default()
        },
        &log,
    );
    let msg = panic_of(sync::collect).expect("the panic in a finalizer must propagate");
    assert!(msg.contains("finalizer 1 panicked on purpose"), "{msg:?}");
    for id in 0..4 {
        assert_eq!(log.finalized(id), 1);
        assert_eq!(log.drops(id), 1);
    }
    assert_eq!(sync::collect(), 0, "nothing left over, nothing run twice");
    assert!((0..4).all(|id| log.finalized(id) == 1));
    check_heap_still_works();
}

#[test]
fn panic_in_finalizer_during_a_refcount_free_counts_as_run() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let x = victim(
        0,
        Faults {
            panic_in_finalize: true,
            ..Faults::default()
        },
        &log,
    );
    let msg = panic_of(move || drop(x)).expect("the panic in a finalizer must propagate");
    assert!(msg.contains("finalizer 0 panicked on purpose"), "{msg:?}");
    assert_eq!(log.finalized(0), 1);
    assert_eq!(log.drops(0), 1, "the object is still freed");
    check_heap_still_works();
}

#[test]
fn panic_in_weak_callback_during_a_collection_is_contained() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let a = victim(0, Faults::default(), &log);
    let b = victim(1, Faults::default(), &log);
    *a.next.lock() = Some(b.clone());
    *b.next.lock() = Some(a.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let w_panics = Weak::with_callback(&a, move || {
        c.fetch_add(1, SeqCst);
        panic!("weak callback panicked on purpose");
    });
    let c = calls.clone();
    let w_counts = Weak::with_callback(&b, move || {
        c.fetch_add(10, SeqCst);
    });
    drop((a, b));
    let msg = panic_of(sync::collect).expect("the panic in a weak callback must propagate");
    assert!(msg.contains("weak callback panicked on purpose"), "{msg:?}");
    assert_eq!(
        calls.load(SeqCst),
        11,
        "each callback ran once, the other one too"
    );
    assert_eq!(log.total_drops(), 2);
    assert!(w_panics.upgrade().is_none());
    assert!(w_counts.upgrade().is_none());
    drop((w_panics, w_counts));
    assert_eq!(sync::collect(), 0);
    assert_eq!(calls.load(SeqCst), 11);
    check_heap_still_works();
}

#[test]
fn panic_in_weak_callback_during_a_refcount_free_propagates_out_of_the_drop() {
    let _s = serial();
    let log = Arc::new(Log::default());
    let x = victim(0, Faults::default(), &log);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let w = Weak::with_callback(&x, move || {
        c.fetch_add(1, SeqCst);
        panic!("weak callback panicked on purpose");
    });
    let msg = panic_of(move || drop(x)).expect("the panic must propagate");
    assert!(msg.contains("weak callback panicked on purpose"), "{msg:?}");
    assert_eq!(calls.load(SeqCst), 1);
    assert_eq!(log.finalized(0), 1);
    assert_eq!(log.drops(0), 1);
    assert!(w.upgrade().is_none());
    check_heap_still_works();
}

#[test]
fn panic_in_collection_callback_is_contained() {
    for panic_phase in [Phase::Start, Phase::Stop] {
        let _s = serial();
        let log = Arc::new(Log::default());
        let seen: Arc<Mutex<Vec<(Phase, usize, usize)>>> = Arc::default();
        let armed = Arc::new(AtomicBool::new(true));
        let a = armed.clone();
        let id1 = sync::add_callback(move |phase, _info| {
            if phase == panic_phase && a.swap(false, SeqCst) {
                panic!("collection callback panicked on purpose at {phase:?}");
            }
        });
        let s = seen.clone();
        let id2 = sync::add_callback(move |phase, info| {
            s.lock()
                .unwrap()
                .push((phase, info.generation, info.collected))
        });
        ring(0..3, |_| Faults::default(), &log);
        let msg = panic_of(sync::collect).expect("the callback's panic must propagate");
        assert!(
            msg.contains("collection callback panicked on purpose"),
            "{msg:?}"
        );
        assert_eq!(log.total_drops(), 3, "the collection still ran to the end");
        assert_eq!(
            *seen.lock().unwrap(),
            [(Phase::Start, 2, 0), (Phase::Stop, 2, 3)],
            "the other callback saw Start and Stop"
        );
        ring(10..12, |_| Faults::default(), &log);
        assert_eq!(sync::collect(), 2, "not armed any more");
        assert!(sync::remove_callback(id1));
        assert!(sync::remove_callback(id2));
        check_heap_still_works();
    }
}
