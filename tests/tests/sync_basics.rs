//! The thread-safe flavour `gc_api::sync`: handles, the three cells, refcounting, cycles
//! through each kind of cell, dead handles, and handles crossing threads.
//!
//! The sync heap is one per process and the tests of this file run in parallel threads,
//! each of which may collect at any time: every assertion is about the test's own objects
//! (drop counters, weak references), never about global counts or what `collect()`
//! returns (`sync_control.rs` checks those, serialised, in a binary of its own). Tests
//! that check a free at the moment of the last drop, or an exact `strong_count`, run
//! alone (see `QUIET`).

use gc_api::sync::{self, AtomicGc, Gc, GcMutex, GcRwLock, Weak};
use gc_api::{Finalize, Trace};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};

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

/// Counts drops of the values that share it.
#[derive(Default, Debug)]
struct Drops(AtomicUsize);

impl Drops {
    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A node with one edge in each kind of cell.
#[derive(Trace, Finalize)]
struct Node {
    name: String,
    next: GcMutex<Option<Gc<Node>>>,
    side: GcRwLock<Vec<Gc<Node>>>,
    slot: AtomicGc<Node>,
    #[gc(skip)]
    drops: Arc<Drops>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, SeqCst);
    }
}

fn node(name: &str, drops: &Arc<Drops>) -> Gc<Node> {
    Gc::new(Node {
        name: name.to_string(),
        next: GcMutex::new(None),
        side: GcRwLock::new(Vec::new()),
        slot: AtomicGc::new(None),
        drops: drops.clone(),
    })
}

fn drops() -> Arc<Drops> {
    Arc::new(Drops::default())
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_and_cells_are_send_and_sync() {
    let _quiet = alongside_others();
    assert_send_sync::<Gc<Node>>();
    assert_send_sync::<Weak<Node>>();
    assert_send_sync::<GcMutex<Option<Gc<Node>>>>();
    assert_send_sync::<GcRwLock<Vec<Gc<Node>>>>();
    assert_send_sync::<AtomicGc<Node>>();
    assert_send_sync::<Gc<String>>();
}

#[test]
fn new_deref_clone_id_and_counts() {
    let _quiet = alone();
    let d = drops();
    let a = node("a", &d);
    assert_eq!(a.name, "a");
    let by_ref: &Node = &a;
    assert_eq!(by_ref.name, "a");
    assert_eq!(Gc::strong_count(&a), 1);
    let a2 = a.clone();
    assert_eq!(Gc::strong_count(&a), 2);
    assert!(Gc::ptr_eq(&a, &a2));
    assert_eq!(Gc::id(&a), Gc::id(&a2));
    let b = node("b", &d);
    assert!(!Gc::ptr_eq(&a, &b));
    assert_ne!(Gc::id(&a), Gc::id(&b));
    assert!(!Gc::is_dead(&a));
    assert_eq!(Gc::try_deref(&a).map(|n| n.name.as_str()), Some("a"));
    drop(a2);
    assert_eq!(Gc::strong_count(&a), 1);
    assert_eq!(d.get(), 0);
    drop(a);
    assert_eq!(d.get(), 1, "refcounting frees at once");
    drop(b);
    assert_eq!(d.get(), 2);
}

#[test]
fn untracked_values_are_refcounted() {
    let _quiet = alongside_others();
    let s = Gc::new(String::from("hello"));
    let n = Gc::new(42u64);
    let ws = Gc::downgrade(&s);
    assert_eq!(&*s, "hello");
    assert_eq!(*n, 42);
    assert_eq!(ws.upgrade().as_deref().map(String::as_str), Some("hello"));
    drop(s);
    assert!(ws.upgrade().is_none(), "freed by its last handle");
}

#[test]
fn refcounting_frees_an_acyclic_chain_through_every_cell_at_once() {
    let _quiet = alone();
    let d = drops();
    let a = node("a", &d);
    let b = node("b", &d);
    let c = node("c", &d);
    let e = node("e", &d);
    *a.next.lock() = Some(b.clone());
    b.side.write().push(c.clone());
    c.slot.store(Some(e.clone()));
    let w = Gc::downgrade(&e);
    drop((b, c, e));
    assert_eq!(d.get(), 0, "all reachable from a");
    assert_eq!(w.upgrade().map(|e| e.name.clone()).as_deref(), Some("e"));
    drop(a);
    assert_eq!(d.get(), 4, "the whole chain goes with its head");
    assert!(w.upgrade().is_none());
}

#[test]
fn weak_upgrade_downgrade_and_new() {
    let _quiet = alone();
    let d = drops();
    let a = node("a", &d);
    let w = Gc::downgrade(&a);
    let w2 = w.clone();
    let up = w.upgrade().expect("alive");
    assert!(Gc::ptr_eq(&up, &a));
    assert_eq!(Gc::strong_count(&a), 2);
    drop(up);
    assert_eq!(
        Gc::strong_count(&a),
        1,
        "a weak reference is not a strong one"
    );
    drop(a);
    assert!(w.upgrade().is_none());
    assert!(w2.upgrade().is_none());
    assert_eq!(d.get(), 1);
    let empty: Weak<Node> = Weak::new();
    assert!(empty.upgrade().is_none());
}

/// Makes the cycle `link` builds between two fresh nodes (and the nodes it makes itself,
/// whose number it returns) garbage, collects, and checks that all of them went
/// (whichever collection, ours or another test's, took them).
fn check_cycle_collected(link: impl FnOnce(&Gc<Node>, &Gc<Node>) -> usize) {
    let d = drops();
    let a = node("a", &d);
    let b = node("b", &d);
    let n = 2 + link(&a, &b);
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    sync::collect();
    assert_eq!(
        d.get(),
        n,
        "collect() must free a cycle made garbage before it"
    );
    assert!(wa.upgrade().is_none() && wb.upgrade().is_none());
    sync::collect();
    assert_eq!(d.get(), n, "no value is dropped twice");
}

#[test]
fn cycle_through_gc_mutex_is_collected() {
    let _quiet = alongside_others();
    check_cycle_collected(|a, b| {
        *a.next.lock() = Some(b.clone());
        *b.next.lock() = Some(a.clone());
        0
    });
}

#[test]
fn cycle_through_gc_rwlock_is_collected() {
    let _quiet = alongside_others();
    check_cycle_collected(|a, b| {
        a.side.write().push(b.clone());
        b.side.write().push(a.clone());
        0
    });
}

#[test]
fn cycle_through_atomic_gc_is_collected() {
    let _quiet = alongside_others();
    check_cycle_collected(|a, b| {
        a.slot.store(Some(b.clone()));
        assert!(b.slot.swap(Some(a.clone())).is_none());
        0
    });
}

#[test]
fn cycle_through_all_three_cells_is_collected() {
    let _quiet = alongside_others();
    check_cycle_collected(|a, b| {
        let c = node("c", &a.drops);
        *a.next.lock() = Some(c.clone());
        c.side.write().push(b.clone());
        b.slot.store(Some(a.clone()));
        1
    });
}

#[test]
fn self_cycles_in_each_cell_are_collected() {
    let _quiet = alongside_others();
    check_cycle_collected(|a, b| {
        *a.next.lock() = Some(a.clone());
        b.slot.store(Some(b.clone()));
        0
    });
    check_cycle_collected(|a, b| {
        a.side.write().push(a.clone());
        b.side.write().push(b.clone());
        0
    });
}

#[test]
fn a_live_cycle_survives_collection_until_released() {
    let _quiet = alongside_others();
    let d = drops();
    let a = node("a", &d);
    let b = node("b", &d);
    *a.next.lock() = Some(b.clone());
    *b.next.lock() = Some(a.clone());
    drop(b);
    for _ in 0..3 {
        sync::collect();
        assert_eq!(d.get(), 0, "a is held, so is b");
        let b = a.next.lock().clone().expect("edge");
        assert_eq!(b.name, "b");
        assert!(!Gc::is_dead(&b));
    }
    // Held only from a cell outside any object: still a root.
    let root = GcMutex::new(Some(a));
    sync::collect();
    assert_eq!(d.get(), 0);
    let a = root.into_inner().expect("kept");
    assert_eq!(a.name, "a");
    drop(a);
    sync::collect();
    assert_eq!(d.get(), 2);
}

#[test]
fn gc_mutex_lock_try_lock_get_mut_into_inner() {
    let _quiet = alone();
    let d = drops();
    let mut m = GcMutex::new(Some(node("a", &d)));
    {
        let guard = m.lock();
        assert_eq!(guard.as_ref().map(|n| n.name.as_str()), Some("a"));
        assert!(m.try_lock().is_none(), "locked");
    }
    {
        let mut g = m.try_lock().expect("unlocked");
        *g = Some(node("b", &d));
    }
    assert_eq!(d.get(), 1, "replacing the value drops the old handle");
    *m.get_mut() = None;
    assert_eq!(d.get(), 2);
    *m.get_mut() = Some(node("c", &d));
    let inner = m.into_inner().expect("c");
    assert_eq!(inner.name, "c");
    drop(inner);
    assert_eq!(d.get(), 3);
}

#[test]
fn gc_rwlock_read_write_try() {
    let _quiet = alone();
    let d = drops();
    let l = GcRwLock::new(vec![node("a", &d)]);
    {
        let r1 = l.read();
        let r2 = l.try_read().expect("readers share");
        assert_eq!(r1.len(), 1);
        assert_eq!(r2[0].name, "a");
        assert!(l.try_write().is_none(), "read-locked");
    }
    {
        let mut w = l.write();
        w.push(node("b", &d));
        assert!(l.try_read().is_none(), "write-locked");
        assert!(l.try_write().is_none(), "write-locked");
    }
    {
        let mut w = l.try_write().expect("unlocked");
        w.remove(0);
    }
    assert_eq!(d.get(), 1);
    assert_eq!(l.read()[0].name, "b");
    drop(l);
    assert_eq!(d.get(), 2);
}

#[test]
fn atomic_gc_load_store_swap_take() {
    let _quiet = alone();
    let d = drops();
    let cell: AtomicGc<Node> = AtomicGc::new(None);
    assert!(cell.load().is_none());
    assert!(cell.take().is_none());
    let a = node("a", &d);
    cell.store(Some(a.clone()));
    assert_eq!(Gc::strong_count(&a), 2);
    let loaded = cell.load().expect("stored");
    assert!(Gc::ptr_eq(&loaded, &a));
    assert_eq!(Gc::strong_count(&a), 3, "load returns a new strong handle");
    drop(loaded);
    let b = node("b", &d);
    let old = cell.swap(Some(b.clone())).expect("a was there");
    assert!(Gc::ptr_eq(&old, &a));
    drop(old);
    assert_eq!(Gc::strong_count(&a), 1);
    drop(a);
    assert_eq!(d.get(), 1);
    cell.store(None);
    assert_eq!(Gc::strong_count(&b), 1, "store drops the old handle");
    cell.store(Some(b.clone()));
    let taken = cell.take().expect("b");
    assert!(Gc::ptr_eq(&taken, &b));
    assert!(cell.load().is_none());
    drop((taken, b));
    assert_eq!(d.get(), 2);
    // A handle stored in a cell outside any object is released with the cell.
    let c = node("c", &d);
    let holder = AtomicGc::new(Some(c));
    assert_eq!(d.get(), 2);
    drop(holder);
    assert_eq!(d.get(), 3);
}

// ---------------------------------------------------------------------------------------
// Dead handles: a `Drop` impl that smuggles a handle out of garbage
// ---------------------------------------------------------------------------------------

static SMUGGLED: Mutex<Vec<Gc<Smuggler>>> = Mutex::new(Vec::new());

#[derive(Trace, Finalize)]
struct Smuggler {
    tag: u64,
    next: GcMutex<Option<Gc<Smuggler>>>,
    #[gc(skip)]
    drops: Arc<Drops>,
}

impl Drop for Smuggler {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, SeqCst);
        if let Some(n) = self.next.get_mut().take() {
            SMUGGLED.lock().unwrap().push(n);
        }
    }
}

#[test]
fn a_handle_smuggled_out_of_garbage_is_dead_and_deref_panics_clearly() {
    let _quiet = alongside_others();
    let d = drops();
    let tag = 0x5ade_0000 + std::process::id() as u64;
    let a = Gc::new(Smuggler {
        tag,
        next: GcMutex::new(None),
        drops: d.clone(),
    });
    let b = Gc::new(Smuggler {
        tag,
        next: GcMutex::new(Some(a.clone())),
        drops: d.clone(),
    });
    *a.next.lock() = Some(b.clone());
    let ids = [Gc::id(&a), Gc::id(&b)];
    drop((a, b));
    sync::collect();
    assert_eq!(d.get(), 2);
    let mine: Vec<Gc<Smuggler>> = {
        let mut all = SMUGGLED.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|g| ids.contains(&Gc::id(g)));
        *all = rest;
        mine
    };
    assert_eq!(mine.len(), 2, "each Drop smuggled its neighbour");
    for g in &mine {
        assert!(
            Gc::is_dead(g),
            "a handle smuggled out of garbage sees it dead"
        );
        assert!(Gc::try_deref(g).is_none());
        let err = catch_unwind(AssertUnwindSafe(|| g.tag))
            .expect_err("Deref of a dead handle must panic");
        let msg = gc_tests::panic_message(err.as_ref());
        assert!(
            msg.contains("dead") || msg.contains("dropped"),
            "unclear panic message: {msg:?}"
        );
        let c = g.clone();
        assert!(Gc::ptr_eq(&c, g) && Gc::is_dead(&c));
    }
    sync::collect();
    assert_eq!(d.get(), 2, "dead objects are never dropped again");
    drop(mine);
    assert_eq!(d.get(), 2);
}

// ---------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------

#[test]
fn clones_and_drops_from_many_threads_balance() {
    let _quiet = alone();
    let d = drops();
    let a = node("shared", &d);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut mine = Vec::new();
                for i in 0..2_000 {
                    mine.push(a.clone());
                    assert_eq!(mine.last().map(|n| n.name.as_str()), Some("shared"));
                    if i % 3 == 0 {
                        mine.pop();
                    }
                }
            });
        }
    });
    assert_eq!(Gc::strong_count(&a), 1);
    assert_eq!(d.get(), 0);
    drop(a);
    assert_eq!(d.get(), 1);
}

#[test]
fn threads_build_a_cross_thread_cycle_that_a_collection_frees() {
    let _quiet = alone();
    let d = drops();
    let hub = node("hub", &d);
    let weaks: Mutex<Vec<Weak<Node>>> = Mutex::new(vec![Gc::downgrade(&hub)]);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (hub, d, weaks) = (&hub, &d, &weaks);
            s.spawn(move || {
                for i in 0..50 {
                    // hub -> n -> hub, built by every thread at once.
                    let n = node(&format!("t{t}-{i}"), d);
                    *n.next.lock() = Some(hub.clone());
                    hub.side.write().push(n.clone());
                    weaks.lock().unwrap().push(Gc::downgrade(&n));
                }
            });
        }
    });
    assert_eq!(hub.side.read().len(), 200);
    assert_eq!(Gc::strong_count(&hub), 201);
    sync::collect();
    assert_eq!(d.get(), 0, "all reachable from the stack handle");
    drop(hub);
    sync::collect();
    assert_eq!(d.get(), 201);
    assert!(weaks.lock().unwrap().iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn handles_travel_through_channels_and_die_on_the_last_thread() {
    let _quiet = alone();
    let d = drops();
    let (tx, rx) = mpsc::channel::<Gc<Node>>();
    let (back_tx, back_rx) = mpsc::channel::<Weak<Node>>();
    let dropper = std::thread::spawn(move || {
        let mut n = 0;
        for g in rx {
            assert!(g.name.starts_with("sent-"));
            back_tx.send(Gc::downgrade(&g)).unwrap();
            n += 1;
            // The last handle of `g` dies on this thread.
        }
        n
    });
    for i in 0..100 {
        tx.send(node(&format!("sent-{i}"), &d)).unwrap();
    }
    drop(tx);
    assert_eq!(dropper.join().unwrap(), 100);
    assert_eq!(d.get(), 100, "dropped on the receiving thread at once");
    let weaks: Vec<Weak<Node>> = back_rx.iter().collect();
    assert_eq!(weaks.len(), 100);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn a_cycle_made_on_one_thread_and_dropped_on_another_is_collected_by_a_third() {
    let _quiet = alongside_others();
    let d = drops();
    let (tx, rx) = mpsc::channel::<(Gc<Node>, Gc<Node>)>();
    let d2 = d.clone();
    let maker = std::thread::spawn(move || {
        let a = node("a", &d2);
        let b = node("b", &d2);
        *a.next.lock() = Some(b.clone());
        b.slot.store(Some(a.clone()));
        let w = Gc::downgrade(&a);
        tx.send((a, b)).unwrap();
        w
    });
    let w = maker.join().unwrap();
    let dropper = std::thread::spawn(move || {
        let (a, b) = rx.recv().unwrap();
        assert_eq!(a.next.lock().as_ref().map(|b| b.name.as_str()), Some("b"));
        drop((a, b));
    });
    dropper.join().unwrap();
    std::thread::spawn(|| {
        sync::collect();
    })
    .join()
    .unwrap();
    assert_eq!(d.get(), 2);
    assert!(w.upgrade().is_none());
}

#[test]
fn weak_references_upgrade_on_other_threads() {
    let _quiet = alone();
    let d = drops();
    let a = node("a", &d);
    let w = Gc::downgrade(&a);
    std::thread::scope(|s| {
        for _ in 0..3 {
            let w = w.clone();
            s.spawn(move || {
                for _ in 0..500 {
                    let up = w.upgrade().expect("a is held by the main thread");
                    assert_eq!(up.name, "a");
                }
            });
        }
    });
    drop(a);
    let w2 = w.clone();
    let dead = std::thread::spawn(move || w2.upgrade().is_none())
        .join()
        .unwrap();
    assert!(dead);
    assert_eq!(d.get(), 1);
}

#[test]
fn gc_mutex_serialises_writers_on_different_threads() {
    let _quiet = alone();
    let d = drops();
    let list = Gc::new(Node {
        name: "list".into(),
        next: GcMutex::new(None),
        side: GcRwLock::new(Vec::new()),
        slot: AtomicGc::new(None),
        drops: d.clone(),
    });
    let counter = Arc::new(GcMutex::new(0u64));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    *counter.lock() += 1;
                    let mut side = list.side.write();
                    let n = node("x", &d);
                    side.push(n);
                    if side.len() > 10 {
                        side.remove(0);
                    }
                }
            });
        }
    });
    assert_eq!(*counter.lock(), 4_000);
    assert_eq!(list.side.read().len(), 10);
    assert_eq!(d.get(), 3_990);
    drop(list);
    assert_eq!(d.get(), 4_001);
}
