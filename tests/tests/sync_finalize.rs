//! PEP 442 finalizers and weak references in the thread-safe flavour: a finalizer runs
//! once per object, also when it resurrects; weak references to garbage are cleared
//! before callbacks and finalizers run; `Weak::with_callback` calls back once when its
//! target dies, and never when the weak reference was dropped first.
//!
//! The tests run in parallel and any of them may run another's finalizers and callbacks
//! (a collection takes all the garbage there is): each test has its own counters and its
//! own global slot, and none of them panics (`sync_panics.rs` does, serialised). Tests
//! that check what happens at the moment of the last drop run alone (see `QUIET`).

use gc_api::sync::{self, AtomicGc, Gc, GcMutex, Weak};
use gc_api::{Finalize, Trace};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Tests that check what refcounting does at once, or exact strong counts, run alone: a
/// collection on another test's thread holds a reference on every object it examines
/// until it ends, which delays a free past the drop of the last handle and shows in
/// `strong_count`. All other tests run alongside each other.
static QUIET: RwLock<()> = RwLock::new(());

fn alone() -> RwLockWriteGuard<'static, ()> {
    QUIET.write().unwrap_or_else(PoisonError::into_inner)
}

fn alongside_others() -> RwLockReadGuard<'static, ()> {
    QUIET.read().unwrap_or_else(PoisonError::into_inner)
}

/// Where finalizers resurrect objects to: one slot per test.
static RISEN: LazyLock<[AtomicGc<Phoenix>; 8]> =
    LazyLock::new(|| std::array::from_fn(|_| AtomicGc::new(None)));

#[derive(Default, Debug)]
struct Log {
    finalized: [AtomicUsize; 8],
    dropped: [AtomicUsize; 8],
    /// Finalizers that found their weak reference dead.
    weak_dead: AtomicUsize,
    /// Finalizers that found their weak reference alive.
    weak_alive: AtomicUsize,
    /// The order of events, where a test looks at it.
    order: Mutex<Vec<String>>,
}

impl Log {
    fn finalized(&self, id: usize) -> usize {
        self.finalized[id].load(SeqCst)
    }
    fn dropped(&self, id: usize) -> usize {
        self.dropped[id].load(SeqCst)
    }
    fn total_dropped(&self) -> usize {
        self.dropped.iter().map(|d| d.load(SeqCst)).sum()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rise {
    Stay,
    /// The finalizer stores its `next` handle into `RISEN[slot]`.
    Next {
        slot: usize,
    },
}

#[derive(Trace)]
struct Phoenix {
    id: usize,
    data: Vec<u64>,
    next: GcMutex<Option<Gc<Phoenix>>>,
    peer: GcMutex<Option<Weak<Phoenix>>>,
    #[gc(skip)]
    rise: Rise,
    #[gc(skip)]
    log: Arc<Log>,
}

fn payload(id: usize) -> Vec<u64> {
    (0..16).map(|i| (id as u64) << 32 | i).collect()
}

impl Phoenix {
    fn new(id: usize, rise: Rise, log: &Arc<Log>) -> Gc<Phoenix> {
        Gc::new(Phoenix {
            id,
            data: payload(id),
            next: GcMutex::new(None),
            peer: GcMutex::new(None),
            rise,
            log: log.clone(),
        })
    }

    fn intact(&self) -> bool {
        self.data == payload(self.id)
    }
}

impl Finalize for Phoenix {
    fn finalize(&self) {
        assert!(self.intact(), "a finalizer sees its value intact");
        self.log.finalized[self.id].fetch_add(1, SeqCst);
        self.log
            .order
            .lock()
            .unwrap()
            .push(format!("finalize {}", self.id));
        if let Some(w) = self.peer.lock().as_ref() {
            if w.upgrade().is_some() {
                self.log.weak_alive.fetch_add(1, SeqCst);
            } else {
                self.log.weak_dead.fetch_add(1, SeqCst);
            }
        }
        if let Rise::Next { slot } = self.rise {
            let next = self.next.lock().clone();
            RISEN[slot].store(next);
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        self.log.dropped[self.id].fetch_add(1, SeqCst);
        if let Ok(mut order) = self.log.order.lock() {
            order.push(format!("drop {}", self.id));
        }
    }
}

fn ring(n: usize, rise0: Rise, log: &Arc<Log>) -> Vec<Gc<Phoenix>> {
    let nodes: Vec<Gc<Phoenix>> = (0..n)
        .map(|id| Phoenix::new(id, if id == 0 { rise0 } else { Rise::Stay }, log))
        .collect();
    for i in 0..n {
        *nodes[i].next.lock() = Some(nodes[(i + 1) % n].clone());
    }
    nodes
}

/// A counter and a callback that bumps it.
fn counter() -> (Arc<AtomicUsize>, impl FnOnce() + Send + 'static) {
    let c = Arc::new(AtomicUsize::new(0));
    let c2 = c.clone();
    (c, move || {
        c2.fetch_add(1, SeqCst);
    })
}

#[test]
fn finalizer_runs_once_when_refcounting_frees_the_object() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    let a = Phoenix::new(0, Rise::Stay, &log);
    let b = Phoenix::new(1, Rise::Stay, &log);
    *a.next.lock() = Some(b.clone());
    drop(b);
    drop(a);
    for id in 0..2 {
        assert_eq!(log.finalized(id), 1);
        assert_eq!(log.dropped(id), 1);
    }
    sync::collect();
    assert_eq!(log.finalized(0) + log.finalized(1), 2);
}

#[test]
fn finalizers_of_a_garbage_cycle_run_once_before_any_value_drops() {
    let _quiet = alongside_others();
    let log = Arc::new(Log::default());
    drop(ring(3, Rise::Stay, &log));
    sync::collect();
    for id in 0..3 {
        assert_eq!(log.finalized(id), 1, "finalizer of {id}");
        assert_eq!(log.dropped(id), 1, "drop of {id}");
    }
    sync::collect();
    assert_eq!(log.total_dropped(), 3);
    let order = log.order.lock().unwrap().clone();
    assert_eq!(order.len(), 6, "{order:?}");
    assert!(
        order[..3].iter().all(|e| e.starts_with("finalize")),
        "all finalizers run before the first value drops: {order:?}"
    );
    assert!(
        order[3..].iter().all(|e| e.starts_with("drop")),
        "{order:?}"
    );
}

#[test]
fn a_finalizer_that_resurrects_its_neighbour_keeps_the_cycle_and_runs_once() {
    let _quiet = alongside_others();
    const SLOT: usize = 0;
    let log = Arc::new(Log::default());
    drop(ring(3, Rise::Next { slot: SLOT }, &log));
    sync::collect();
    for id in 0..3 {
        assert_eq!(log.finalized(id), 1, "every member is finalized once");
    }
    assert_eq!(log.total_dropped(), 0, "resurrected, not dropped");
    let saved = RISEN[SLOT].load().expect("the finalizer stored node 1");
    assert_eq!(saved.id, 1);
    // The whole ring is back and intact.
    let mut cur = saved.clone();
    for expect in [2, 0, 1] {
        let next = cur.next.lock().clone().expect("ring edge");
        assert!(!Gc::is_dead(&next), "a resurrected object is alive");
        assert!(next.intact());
        assert_eq!(next.id, expect);
        cur = next;
    }
    drop(cur);
    drop(saved);
    // Reachable from the global: later collections keep it and finalize nothing again.
    sync::collect();
    sync::collect();
    assert_eq!(log.total_dropped(), 0);
    assert!((0..3).all(|id| log.finalized(id) == 1));
    // Released: freed without a second finalizer call.
    drop(RISEN[SLOT].take());
    sync::collect();
    for id in 0..3 {
        assert_eq!(log.finalized(id), 1, "finalizer of {id} ran again");
        assert_eq!(log.dropped(id), 1, "{id} dropped once");
    }
    assert!(RISEN[SLOT].load().is_none(), "not resurrected twice");
}

#[test]
fn a_resurrected_object_has_its_weak_references_cleared() {
    let _quiet = alongside_others();
    const SLOT: usize = 1;
    let log = Arc::new(Log::default());
    let nodes = ring(2, Rise::Next { slot: SLOT }, &log);
    let w1 = Gc::downgrade(&nodes[1]);
    let (calls, cb) = counter();
    let wcb = Weak::with_callback(&nodes[1], cb);
    drop(nodes);
    sync::collect();
    let saved = RISEN[SLOT].take().expect("resurrected");
    assert_eq!(saved.id, 1);
    assert!(!Gc::is_dead(&saved));
    assert!(w1.upgrade().is_none(), "cleared before the finalizer ran");
    assert!(wcb.upgrade().is_none());
    assert_eq!(calls.load(SeqCst), 1, "its callback ran");
    let fresh = Gc::downgrade(&saved);
    assert!(fresh.upgrade().is_some(), "a new weak reference works");
    drop(saved);
    sync::collect();
    assert!(fresh.upgrade().is_none());
    assert_eq!(log.total_dropped(), 2);
    assert_eq!(calls.load(SeqCst), 1);
}

#[test]
fn weak_references_to_garbage_are_dead_when_finalizers_run() {
    let _quiet = alongside_others();
    let log = Arc::new(Log::default());
    let nodes = ring(2, Rise::Stay, &log);
    *nodes[0].peer.lock() = Some(Gc::downgrade(&nodes[1]));
    *nodes[1].peer.lock() = Some(Gc::downgrade(&nodes[0]));
    drop(nodes);
    sync::collect();
    assert_eq!(log.total_dropped(), 2);
    assert_eq!(
        log.weak_dead.load(SeqCst),
        2,
        "each finalizer saw its peer dead"
    );
    assert_eq!(log.weak_alive.load(SeqCst), 0);
}

#[test]
fn weak_callback_runs_once_when_refcounting_frees_the_target() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    let a = Phoenix::new(0, Rise::Stay, &log);
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    let w2 = w.clone();
    assert_eq!(calls.load(SeqCst), 0);
    drop(a);
    assert_eq!(calls.load(SeqCst), 1, "once, with two clones alive");
    assert!(w.upgrade().is_none() && w2.upgrade().is_none());
    drop((w, w2));
    sync::collect();
    assert_eq!(calls.load(SeqCst), 1);
}

#[test]
fn weak_callback_runs_once_when_a_collection_frees_the_target() {
    let _quiet = alongside_others();
    let log = Arc::new(Log::default());
    let nodes = ring(2, Rise::Stay, &log);
    let (calls, cb) = counter();
    let w = Weak::with_callback(&nodes[0], cb);
    drop(nodes);
    sync::collect();
    assert_eq!(calls.load(SeqCst), 1);
    assert!(w.upgrade().is_none());
    sync::collect();
    assert_eq!(calls.load(SeqCst), 1);
}

#[test]
fn weak_callback_does_not_run_when_the_weak_reference_was_dropped_first() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    let a = Phoenix::new(0, Rise::Stay, &log);
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    drop(w);
    drop(a);
    assert_eq!(log.dropped(0), 1);
    assert_eq!(calls.load(SeqCst), 0, "refcount death");

    let nodes = ring(2, Rise::Stay, &log);
    let (calls, cb) = counter();
    drop(Weak::with_callback(&nodes[1], cb));
    drop(nodes);
    sync::collect();
    assert_eq!(log.dropped(1), 1);
    assert_eq!(calls.load(SeqCst), 0, "collector death");
}

#[test]
fn weak_callback_sees_its_weak_reference_already_dead() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    for collected in [false, true] {
        let nodes = ring(if collected { 2 } else { 1 }, Rise::Stay, &log);
        if !collected {
            nodes[0].next.lock().take();
        }
        let slot: Arc<Mutex<Option<Weak<Phoenix>>>> = Arc::default();
        let seen: Arc<Mutex<Option<bool>>> = Arc::default();
        let w = {
            let (slot, seen) = (slot.clone(), seen.clone());
            Weak::with_callback(&nodes[0], move || {
                let alive = slot.lock().unwrap().as_ref().and_then(Weak::upgrade);
                *seen.lock().unwrap() = Some(alive.is_some());
            })
        };
        *slot.lock().unwrap() = Some(w.clone());
        drop(nodes);
        if collected {
            sync::collect();
        }
        assert_eq!(*seen.lock().unwrap(), Some(false), "collected: {collected}");
        slot.lock().unwrap().take();
    }
}

#[test]
fn weak_callbacks_run_before_finalizers_in_a_collection() {
    let _quiet = alongside_others();
    let log = Arc::new(Log::default());
    let nodes = ring(2, Rise::Stay, &log);
    let _w = {
        let log = log.clone();
        Weak::with_callback(&nodes[0], move || {
            log.order.lock().unwrap().push("callback".to_string());
        })
    };
    drop(nodes);
    sync::collect();
    let order = log.order.lock().unwrap().clone();
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(order[0], "callback", "{order:?}");
    assert!(order[1].starts_with("finalize"), "{order:?}");
}

#[test]
fn callback_of_a_weak_reference_inside_the_garbage_never_runs() {
    let _quiet = alongside_others();
    // CPython 3.12: a weak reference that is itself garbage does not call back.
    let log = Arc::new(Log::default());
    let nodes = ring(2, Rise::Stay, &log);
    let (calls, cb) = counter();
    *nodes[0].peer.lock() = Some(Weak::with_callback(&nodes[1], cb));
    drop(nodes);
    sync::collect();
    assert_eq!(log.total_dropped(), 2);
    assert_eq!(calls.load(SeqCst), 0);
}

#[test]
fn callbacks_run_on_whichever_thread_frees_the_target() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    let a = Phoenix::new(0, Rise::Stay, &log);
    let ran_on: Arc<Mutex<Option<std::thread::ThreadId>>> = Arc::default();
    let w = {
        let ran_on = ran_on.clone();
        Weak::with_callback(&a, move || {
            *ran_on.lock().unwrap() = Some(std::thread::current().id());
        })
    };
    let other = std::thread::spawn(move || {
        drop(a);
        std::thread::current().id()
    });
    let other_id = other.join().unwrap();
    assert_eq!(*ran_on.lock().unwrap(), Some(other_id));
    assert!(w.upgrade().is_none());
    assert_eq!(log.finalized(0), 1);
    assert_eq!(log.dropped(0), 1);
}

#[test]
fn many_targets_many_callbacks() {
    let _quiet = alone();
    let log = Arc::new(Log::default());
    let total = Arc::new(AtomicUsize::new(0));
    let objs: Vec<Gc<Phoenix>> = (0..400)
        .map(|_| Phoenix::new(0, Rise::Stay, &log))
        .collect();
    let weaks: Vec<Weak<Phoenix>> = objs
        .iter()
        .map(|o| {
            let total = total.clone();
            Weak::with_callback(o, move || {
                total.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for (i, o) in objs.iter().enumerate() {
        if i % 2 == 0 {
            *o.next.lock() = Some(o.clone());
        }
    }
    drop(objs);
    assert_eq!(total.load(SeqCst), 200, "the acyclic half by refcounting");
    sync::collect();
    assert_eq!(total.load(SeqCst), 400);
    assert_eq!(log.finalized(0), 400);
    assert_eq!(log.dropped(0), 400);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}
