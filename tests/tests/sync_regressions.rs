//! Defects a review of the thread-safe flavour found, each pinned by the test that failed
//! before its fix (the first runs its garbage in blocks of the system allocator, so that
//! AddressSanitizer sees a write after free: `scripts/sanitize.sh asan`).

use gc_api::sync::{self, AtomicGc, Gc, GcMutex};
use gc_api::{Finalize, Trace, Tracer};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

/// The sync heap is the process's: tests of this file that collect run one at a time (the
/// panicking trace would otherwise panic out of another test's collection).
fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A node bigger than the small-object limit (512 bytes): its block comes from the system
/// allocator, where AddressSanitizer sees every access after free.
#[derive(Trace, Finalize)]
struct Big {
    next: GcMutex<Option<Gc<Big>>>,
    #[gc(skip)]
    payload: [u8; 4096],
}

#[test]
fn a_collection_touches_no_garbage_block_after_freeing_it() {
    let _alone = alone();
    for _ in 0..50 {
        let a = Gc::new(Big {
            next: GcMutex::new(None),
            payload: [7; 4096],
        });
        let b = Gc::new(Big {
            next: GcMutex::new(Some(a.clone())),
            payload: [9; 4096],
        });
        *a.next.lock() = Some(b.clone());
        assert_eq!(a.payload[4095] + b.payload[0], 16);
        let watch = Gc::downgrade(&a);
        drop((a, b));
        sync::collect();
        assert!(watch.upgrade().is_none(), "the cycle is freed");
    }
}

/// Reports no handle; its `trace` panics.
struct PanickyTrace;

// SAFETY: holds no handle; a panicking trace breaks no rule of `Trace` (the collector
// catches it and treats what it examined as reachable).
unsafe impl Trace for PanickyTrace {
    fn trace(&self, _tracer: &mut Tracer) {
        panic!("trace panicked on purpose");
    }
}

impl Finalize for PanickyTrace {
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn a_panicking_trace_inside_a_gc_mutex_leaves_the_mutex_unlocked() {
    let _alone = alone();
    let g = Gc::new(GcMutex::new(PanickyTrace));
    let outcome = std::panic::catch_unwind(sync::collect);
    assert!(outcome.is_err(), "the trace's panic comes out of collect");
    assert!(!g.is_locked(), "the collector let go of the lock");
    let other = g.clone();
    std::thread::spawn(move || drop(other.lock()))
        .join()
        .expect("another thread takes the lock");
    assert!(g.try_lock().is_some());
}

thread_local! {
    static KEPT: RefCell<Option<Gc<u64>>> = const { RefCell::new(None) };
}

#[test]
fn a_sync_gc_dropped_during_thread_teardown_is_released_without_aborting() {
    let dropped = std::thread::spawn(|| {
        // KEPT's destructor is registered before the free path's own thread-locals, so it
        // runs after they are gone.
        KEPT.with(|k| *k.borrow_mut() = Some(Gc::new(1)));
        drop(Gc::new(2)); // a release: the free path's thread-locals come to life
        let kept = KEPT.with(|k| k.borrow().clone()).unwrap();
        Gc::downgrade(&kept)
    })
    .join()
    .expect("the thread exits cleanly");
    assert!(dropped.upgrade().is_none(), "freed at thread exit");
}

#[derive(Trace, Finalize)]
struct Ring {
    next: GcMutex<Option<Gc<Ring>>>,
    #[gc(skip)]
    magic: u64,
}

#[test]
fn an_atomic_gc_load_never_returns_a_handle_into_a_collected_cycle() {
    let _alone = alone();
    // Readers load from slots whose cycles a writer keeps making garbage and collecting.
    let slots: Arc<Vec<AtomicGc<Ring>>> = Arc::new((0..8).map(|_| AtomicGc::new(None)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let dead_loads = Arc::new(AtomicUsize::new(0));
    let loads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (slots, stop, dead_loads, loads) = (
                slots.clone(),
                stop.clone(),
                dead_loads.clone(),
                loads.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(SeqCst) {
                    for slot in slots.iter() {
                        if let Some(g) = slot.load() {
                            loads.fetch_add(1, SeqCst);
                            match Gc::try_deref(&g) {
                                Some(ring) => assert_eq!(ring.magic, 0xABCD),
                                None => {
                                    dead_loads.fetch_add(1, SeqCst);
                                }
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // At least 400 rounds, and on until the readers have loaded a good number of handles
    // (a bounded number of rounds more: they may be slow to get a core).
    let mut round = 0;
    while round < 400 || (loads.load(SeqCst) < 1000 && round < 100_000) {
        round += 1;
        for slot in slots.iter() {
            let a = Gc::new(Ring {
                next: GcMutex::new(None),
                magic: 0xABCD,
            });
            let b = Gc::new(Ring {
                next: GcMutex::new(Some(a.clone())),
                magic: 0xABCD,
            });
            *a.next.lock() = Some(b);
            slot.store(Some(a));
        }
        for slot in slots.iter() {
            slot.store(None); // the cycle it held is garbage now
        }
        if round % 2 == 0 {
            sync::collect();
        }
    }
    stop.store(true, SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    assert!(loads.load(SeqCst) > 0, "the readers loaded handles");
    assert_eq!(dead_loads.load(SeqCst), 0, "a load returned a dead handle");
}
