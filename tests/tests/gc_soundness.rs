//! Soundness of the collector through the public API (DESIGN.md 3.3, 3.4 and 4):
//! `Drop` impls that look at their garbage neighbours, finalizers that resurrect, handles
//! smuggled out of garbage, `RefCell`s borrowed during a collection, very long chains and
//! cycles (no recursion), collections and allocations from inside user hooks, and a
//! property test against a plain reachability model.
//!
//! Every test runs on its own thread, so it has its own heap; tests that need exact
//! numbers start with `gc_api::collect()` and `gc_api::disable()`.

use gc_api::{Finalize, Gc, Phase, Trace, Weak};
use gc_tests::{Tally, blocks_in_use, fresh_heap, panic_message};
use proptest::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Instant;

fn payload_of(id: usize) -> Vec<u64> {
    (0..8).map(|i| (id as u64) * 1_000 + i).collect()
}

fn name_of(id: usize) -> String {
    format!("object-{id}")
}

// ---------------------------------------------------------------------------------------
// Drop impls that read a neighbour in their garbage cycle
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct PeerLog {
    drops: Tally,
    intact: Cell<usize>,
    dead: Cell<usize>,
    corrupt: Cell<usize>,
}

#[derive(Trace, Finalize)]
struct Peer {
    id: usize,
    name: String,
    data: Vec<u64>,
    next: RefCell<Option<Gc<Peer>>>,
    #[gc(skip)]
    log: Rc<PeerLog>,
}

impl Peer {
    fn new(id: usize, log: &Rc<PeerLog>) -> Gc<Peer> {
        Gc::new(Peer {
            id,
            name: name_of(id),
            data: payload_of(id),
            next: RefCell::new(None),
            log: log.clone(),
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.log.drops.hit(self.id);
        let next = self.next.borrow();
        if let Some(n) = next.as_ref() {
            match Gc::try_deref(n) {
                Some(v) => {
                    if !Gc::is_dead(n) && v.name == name_of(v.id) && v.data == payload_of(v.id) {
                        self.log.intact.set(self.log.intact.get() + 1);
                    } else {
                        self.log.corrupt.set(self.log.corrupt.get() + 1);
                    }
                }
                None => {
                    if Gc::is_dead(n) {
                        self.log.dead.set(self.log.dead.get() + 1);
                    } else {
                        self.log.corrupt.set(self.log.corrupt.get() + 1);
                    }
                }
            }
        }
    }
}

/// Builds a ring of `n` peers with ids `first..first + n`; returns the handles.
fn peer_ring(first: usize, n: usize, log: &Rc<PeerLog>) -> Vec<Gc<Peer>> {
    let nodes: Vec<Gc<Peer>> = (first..first + n).map(|id| Peer::new(id, log)).collect();
    for (i, node) in nodes.iter().enumerate() {
        *node.next.borrow_mut() = Some(nodes[(i + 1) % n].clone());
    }
    nodes
}

#[test]
fn drop_reading_its_garbage_neighbour_sees_it_intact_or_dead() {
    let baseline = fresh_heap();
    let log = Rc::new(PeerLog::default());
    const N: usize = 1_000;
    drop(peer_ring(0, N, &log));
    assert_eq!(log.drops.total(), 0, "a ring is not freed by refcounting");
    assert_eq!(gc_api::collect(), N);
    assert_eq!(log.drops.total(), N);
    assert_eq!(log.drops.max(), 1, "every value is dropped exactly once");
    assert_eq!(log.corrupt.get(), 0, "a Drop impl saw a dropped value");
    assert_eq!(log.intact.get() + log.dead.get(), N);
    // The last value dropped reads a neighbour that was dropped before it.
    assert!(
        log.dead.get() >= 1,
        "the last Drop must see its neighbour dead"
    );
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn drop_reading_neighbours_in_a_dense_garbage_clique_never_sees_a_dropped_value() {
    #[derive(Trace, Finalize)]
    struct Clique {
        id: usize,
        name: String,
        data: Vec<u64>,
        all: RefCell<Vec<Gc<Clique>>>,
        #[gc(skip)]
        log: Rc<PeerLog>,
    }
    impl Drop for Clique {
        fn drop(&mut self) {
            self.log.drops.hit(self.id);
            for n in self.all.borrow().iter() {
                match Gc::try_deref(n) {
                    Some(v) if v.name == name_of(v.id) && v.data == payload_of(v.id) => {
                        self.log.intact.set(self.log.intact.get() + 1)
                    }
                    None if Gc::is_dead(n) => self.log.dead.set(self.log.dead.get() + 1),
                    _ => self.log.corrupt.set(self.log.corrupt.get() + 1),
                }
            }
        }
    }
    let baseline = fresh_heap();
    let log = Rc::new(PeerLog::default());
    const N: usize = 40;
    let nodes: Vec<Gc<Clique>> = (0..N)
        .map(|id| {
            Gc::new(Clique {
                id,
                name: name_of(id),
                data: payload_of(id),
                all: RefCell::new(Vec::new()),
                log: log.clone(),
            })
        })
        .collect();
    for a in &nodes {
        a.all.borrow_mut().extend(nodes.iter().cloned());
    }
    drop(nodes);
    assert_eq!(gc_api::collect(), N);
    assert_eq!(log.drops.total(), N);
    assert_eq!(log.drops.max(), 1);
    assert_eq!(log.corrupt.get(), 0);
    assert_eq!(log.intact.get() + log.dead.get(), N * N);
    // Each Drop sees its own object dead (DEAD is set before the value drops).
    assert!(log.dead.get() >= N);
    assert_eq!(blocks_in_use(), baseline);
}

#[derive(Trace, Finalize)]
struct Greedy {
    name: String,
    next: RefCell<Option<Gc<Greedy>>>,
    #[gc(skip)]
    seen: Rc<RefCell<Vec<String>>>,
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Greedy {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if let Some(n) = self.next.borrow().as_ref() {
            // Plain `Deref`: panics if the neighbour's value is gone.
            let name = n.name.clone();
            self.seen.borrow_mut().push(name);
        }
    }
}

#[test]
fn drop_dereferencing_a_dead_neighbour_gets_a_clear_panic() {
    let baseline = fresh_heap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let drops = Rc::new(Cell::new(0));
    let make = |name: &str| {
        Gc::new(Greedy {
            name: name.to_string(),
            next: RefCell::new(None),
            seen: seen.clone(),
            drops: drops.clone(),
        })
    };
    let (a, b) = (make("greedy-a"), make("greedy-b"));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    let result = catch_unwind(AssertUnwindSafe(gc_api::collect));
    let payload = result.expect_err("the second Drop dereferences a dead value: must panic");
    let msg = panic_message(payload.as_ref());
    assert!(
        msg.contains("dereferenced a Gc") && msg.contains("dropped"),
        "unclear panic message: {msg:?}"
    );
    assert_eq!(drops.get(), 2, "both values dropped once");
    // Whatever a Drop did read was intact.
    for name in seen.borrow().iter() {
        assert!(name == "greedy-a" || name == "greedy-b", "read {name:?}");
    }
    assert_eq!(seen.borrow().len(), 1);
    assert_eq!(blocks_in_use(), baseline, "the memory of both went back");

    // The heap still works.
    let log = Rc::new(PeerLog::default());
    drop(peer_ring(0, 3, &log));
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(log.drops.total(), 3);
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// Finalizers that resurrect
// ---------------------------------------------------------------------------------------

thread_local! {
    static SAVED: RefCell<Vec<Gc<Phoenix>>> = const { RefCell::new(Vec::new()) };
}

fn saved_len() -> usize {
    SAVED.with(|s| s.borrow().len())
}

fn clear_saved() {
    let taken = SAVED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    drop(taken);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rise {
    /// No resurrection.
    Stay,
    /// Saves a handle to the `next` neighbour.
    Neighbour,
    /// Saves a handle to itself, found by walking the ring it is on.
    SelfViaRing,
    /// Saves a handle to itself from its own weak reference.
    SelfViaWeak,
}

#[derive(Default)]
struct PhoenixLog {
    finalized: Tally,
    drops: Tally,
    upgrade_failed: Cell<usize>,
}

#[derive(Trace)]
struct Phoenix {
    id: usize,
    name: String,
    data: Vec<u64>,
    next: RefCell<Option<Gc<Phoenix>>>,
    others: RefCell<Vec<Gc<Phoenix>>>,
    me: RefCell<Option<Weak<Phoenix>>>,
    #[gc(skip)]
    rise: Rise,
    #[gc(skip)]
    log: Rc<PhoenixLog>,
}

impl Phoenix {
    fn new(id: usize, rise: Rise, log: &Rc<PhoenixLog>) -> Gc<Phoenix> {
        let g = Gc::new(Phoenix {
            id,
            name: name_of(id),
            data: payload_of(id),
            next: RefCell::new(None),
            others: RefCell::new(Vec::new()),
            me: RefCell::new(None),
            rise,
            log: log.clone(),
        });
        if rise == Rise::SelfViaWeak {
            *g.me.borrow_mut() = Some(Gc::downgrade(&g));
        }
        g
    }

    fn intact(&self) -> bool {
        self.name == name_of(self.id) && self.data == payload_of(self.id)
    }
}

impl Finalize for Phoenix {
    fn finalize(&self) {
        self.log.finalized.hit(self.id);
        match self.rise {
            Rise::Stay => {}
            Rise::Neighbour => {
                if let Some(n) = self.next.borrow().clone() {
                    SAVED.with(|s| s.borrow_mut().push(n));
                }
            }
            Rise::SelfViaRing => {
                let mut cur = self.next.borrow().clone();
                while let Some(c) = cur {
                    if c.id == self.id {
                        SAVED.with(|s| s.borrow_mut().push(c));
                        break;
                    }
                    cur = c.next.borrow().clone();
                }
            }
            Rise::SelfViaWeak => match self.me.borrow().as_ref().and_then(Weak::upgrade) {
                Some(me) => SAVED.with(|s| s.borrow_mut().push(me)),
                None => self
                    .log
                    .upgrade_failed
                    .set(self.log.upgrade_failed.get() + 1),
            },
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        self.log.drops.hit(self.id);
    }
}

/// Walks everything reachable from `start` (through `next` and `others`); checks each
/// object is alive and intact; returns the ids seen.
fn walk_phoenixes(start: &Gc<Phoenix>) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start.clone()]);
    while let Some(g) = queue.pop_front() {
        assert!(!Gc::is_dead(&g), "a resurrected object is dead");
        let v = Gc::try_deref(&g).expect("a resurrected object must stay readable");
        assert!(v.intact(), "object {} was damaged", v.id);
        if seen.insert(v.id) {
            queue.extend(v.next.borrow().iter().cloned());
            queue.extend(v.others.borrow().iter().cloned());
        }
    }
    seen
}

/// Ring 0 -> 1 -> 2 -> 0; 1 also holds 3 and 4 (not on the ring). Node 0 rises as told.
fn phoenix_graph(rise0: Rise, log: &Rc<PhoenixLog>) {
    let ring: Vec<Gc<Phoenix>> = (0..3)
        .map(|id| Phoenix::new(id, if id == 0 { rise0 } else { Rise::Stay }, log))
        .collect();
    for i in 0..3 {
        *ring[i].next.borrow_mut() = Some(ring[(i + 1) % 3].clone());
    }
    let extra: Vec<Gc<Phoenix>> = (3..5).map(|id| Phoenix::new(id, Rise::Stay, log)).collect();
    ring[1].others.borrow_mut().extend(extra);
}

fn check_resurrection(rise0: Rise) {
    let baseline = fresh_heap();
    let log = Rc::new(PhoenixLog::default());
    phoenix_graph(rise0, &log);
    // An unrelated garbage ring that nothing resurrects.
    let other: Vec<Gc<Phoenix>> = (10..12)
        .map(|id| Phoenix::new(id, Rise::Stay, &log))
        .collect();
    *other[0].next.borrow_mut() = Some(other[1].clone());
    *other[1].next.borrow_mut() = Some(other[0].clone());
    drop(other);

    assert_eq!(
        gc_api::collect(),
        2,
        "only the unrelated ring is collected; resurrected objects are not counted"
    );
    assert_eq!(log.drops.get(10), 1);
    assert_eq!(log.drops.get(11), 1);
    for id in 0..5 {
        assert_eq!(log.finalized.get(id), 1, "finalizer of {id} runs once");
        assert_eq!(
            log.drops.get(id),
            0,
            "object {id} was resurrected, not dropped"
        );
    }
    assert_eq!(saved_len(), 1);
    let saved = SAVED.with(|s| s.borrow()[0].clone());
    let expected_id = if rise0 == Rise::Neighbour { 1 } else { 0 };
    assert_eq!(saved.id, expected_id);
    assert_eq!(walk_phoenixes(&saved), (0..5).collect::<HashSet<_>>());
    assert!(Gc::is_finalized(&saved));
    drop(saved);

    // A second collection keeps them: they are reachable from the thread-local.
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(log.drops.total(), 2);

    // Once released, they are collected without running a finalizer again.
    clear_saved();
    assert_eq!(gc_api::collect(), 5);
    for id in 0..5 {
        assert_eq!(log.finalized.get(id), 1, "finalizer of {id} ran again");
        assert_eq!(log.drops.get(id), 1, "object {id} dropped once");
    }
    assert_eq!(saved_len(), 0);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn finalizer_resurrecting_a_neighbour_keeps_it_and_all_it_reaches_alive() {
    check_resurrection(Rise::Neighbour);
}

#[test]
fn finalizer_resurrecting_itself_keeps_it_and_all_it_reaches_alive() {
    check_resurrection(Rise::SelfViaRing);
}

#[test]
fn finalizer_resurrecting_itself_through_a_weak_reference_on_refcount_free() {
    let baseline = fresh_heap();
    let log = Rc::new(PhoenixLog::default());
    let x = Phoenix::new(0, Rise::SelfViaWeak, &log);
    let y = Phoenix::new(1, Rise::Stay, &log);
    x.others.borrow_mut().push(y);
    let weak = Gc::downgrade(&x);
    drop(x);
    // The finalizer ran (weak references still upgrade during it) and saved the object.
    assert_eq!(log.finalized.get(0), 1);
    assert_eq!(log.upgrade_failed.get(), 0);
    assert_eq!(
        log.drops.total(),
        0,
        "nothing may be dropped: x was resurrected"
    );
    assert_eq!(saved_len(), 1);
    let again = weak.upgrade().expect("a resurrected object is alive");
    assert!(Gc::is_finalized(&again));
    assert_eq!(walk_phoenixes(&again), HashSet::from([0, 1]));
    drop(again);
    assert_eq!(gc_api::collect(), 0);

    clear_saved();
    assert_eq!(
        log.finalized.get(0),
        1,
        "the finalizer runs once in a lifetime"
    );
    assert_eq!(log.finalized.get(1), 1);
    assert_eq!(log.drops.get(0), 1);
    assert_eq!(log.drops.get(1), 1);
    assert!(weak.upgrade().is_none());
    drop(weak);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn weak_references_to_garbage_are_cleared_before_finalizers_run() {
    let baseline = fresh_heap();
    let log = Rc::new(PhoenixLog::default());
    let a = Phoenix::new(0, Rise::SelfViaWeak, &log);
    let b = Phoenix::new(1, Rise::SelfViaWeak, &log);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    // In a collection the weak references die first, so the upgrade fails and nothing is
    // resurrected. Collected: the two objects and their two weak cells (tracked objects,
    // garbage too, as Python's weakref objects are).
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(log.upgrade_failed.get(), 2);
    assert_eq!(log.finalized.total(), 2);
    assert_eq!(log.drops.total(), 2);
    assert_eq!(saved_len(), 0);
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// A Gc smuggled out of a Drop
// ---------------------------------------------------------------------------------------

thread_local! {
    static SMUGGLED: RefCell<Vec<Gc<Smuggler>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace, Finalize)]
struct Smuggler {
    name: String,
    data: Vec<u64>,
    next: RefCell<Option<Gc<Smuggler>>>,
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Smuggler {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if let Some(n) = self.next.borrow().clone() {
            SMUGGLED.with(|s| s.borrow_mut().push(n));
        }
    }
}

#[test]
fn gc_smuggled_out_of_drop_is_dead_but_memory_safe() {
    let baseline = fresh_heap();
    let drops = Rc::new(Cell::new(0));
    let make = |i: usize| {
        Gc::new(Smuggler {
            name: name_of(i),
            data: payload_of(i),
            next: RefCell::new(None),
            drops: drops.clone(),
        })
    };
    let (a, b) = (make(0), make(1));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let ids = [Gc::id(&a), Gc::id(&b)];
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);

    let smuggled: Vec<Gc<Smuggler>> = SMUGGLED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    assert_eq!(smuggled.len(), 2);
    assert!(
        blocks_in_use() > baseline,
        "smuggled handles keep the memory"
    );
    for g in &smuggled {
        assert!(ids.contains(&Gc::id(g)));
        assert!(Gc::is_dead(g), "a smuggled handle must see its object dead");
        assert!(Gc::try_deref(g).is_none());
        assert!(
            !Gc::is_tracked(g),
            "a dead object is not on the generation lists"
        );
        assert!(
            gc_api::object_at(Gc::id(g)).is_none(),
            "object_at must not revive it"
        );
        let err = catch_unwind(AssertUnwindSafe(|| g.name.len()))
            .expect_err("Deref of a dead handle must panic");
        let msg = panic_message(err.as_ref());
        assert!(
            msg.contains("dereferenced a Gc") && msg.contains("dropped"),
            "unclear panic message: {msg:?}"
        );
        let c = g.clone();
        assert!(Gc::ptr_eq(&c, g));
        assert!(Gc::is_dead(&c));
        assert_eq!(Gc::strong_count(g), 2);
        drop(c);
        assert_eq!(Gc::strong_count(g), 1);
    }
    // Collections leave dead objects alone.
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.get(), 2, "no value is dropped twice");

    drop(smuggled);
    assert_eq!(drops.get(), 2);
    assert_eq!(
        blocks_in_use(),
        baseline,
        "the last handle releases the memory"
    );
    for id in ids {
        assert!(gc_api::object_at(id).is_none());
    }
}

thread_local! {
    static SMUGGLED_WEAK: RefCell<Vec<Weak<WeakSmuggler>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace, Finalize)]
struct WeakSmuggler {
    next: RefCell<Option<Gc<WeakSmuggler>>>,
    weak_next: RefCell<Option<Weak<WeakSmuggler>>>,
    big: [u64; 80],
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for WeakSmuggler {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if let Some(w) = self.weak_next.borrow().clone() {
            SMUGGLED_WEAK.with(|s| s.borrow_mut().push(w));
        }
    }
}

#[test]
fn weak_smuggled_out_of_drop_is_dead_and_large_objects_stay_safe() {
    // Values over 512 bytes live outside the pools; their garbage must behave the same.
    fresh_heap();
    let drops = Rc::new(Cell::new(0));
    let make = || {
        Gc::new(WeakSmuggler {
            next: RefCell::new(None),
            weak_next: RefCell::new(None),
            big: [7; 80],
            drops: drops.clone(),
        })
    };
    let (a, b) = (make(), make());
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    *a.weak_next.borrow_mut() = Some(Gc::downgrade(&b));
    *b.weak_next.borrow_mut() = Some(Gc::downgrade(&a));
    let ids = [Gc::id(&a), Gc::id(&b)];
    assert!(gc_api::object_at(ids[0]).is_some());
    assert_eq!(a.big.iter().sum::<u64>(), 560);
    drop((a, b));
    // Two objects and their two weak cells.
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(drops.get(), 2);
    let weaks = SMUGGLED_WEAK.with(|s| std::mem::take(&mut *s.borrow_mut()));
    assert_eq!(weaks.len(), 2);
    for w in &weaks {
        assert!(w.upgrade().is_none());
        assert!(w.is_dead());
        assert_eq!(w.strong_count(), 0);
        let c = w.clone();
        assert!(Weak::ptr_eq(&c, w));
        drop(c);
    }
    drop(weaks);
    for id in ids {
        assert!(
            gc_api::object_at(id).is_none(),
            "freed large object still found"
        );
    }
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.get(), 2);
}

// ---------------------------------------------------------------------------------------
// Wrong Trace impls: never undefined behaviour
// ---------------------------------------------------------------------------------------

struct Liar {
    id: usize,
    name: String,
    next: RefCell<Option<Gc<Liar>>>,
    /// 0: reports nothing, 1: correct, 2: reports every edge twice.
    reports: usize,
    drops: Rc<Tally>,
}

// SAFETY: `reports` 1 keeps the contract; 0 (too few edges, only a leak) and 2 (too many:
// dead handles, with no `&Liar` held across the collection) break it on purpose.
unsafe impl Trace for Liar {
    fn trace(&self, tracer: &mut gc_api::Tracer) {
        for _ in 0..self.reports {
            self.next.trace(tracer);
        }
    }
}

impl Finalize for Liar {}

impl Drop for Liar {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

fn liar_pair(reports: usize, drops: &Rc<Tally>) -> (Gc<Liar>, Gc<Liar>) {
    let make = |id: usize| {
        Gc::new(Liar {
            id,
            name: name_of(id),
            next: RefCell::new(None),
            reports,
            drops: drops.clone(),
        })
    };
    let (a, b) = (make(0), make(1));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    (a, b)
}

#[test]
fn trace_reporting_too_few_edges_leaks_and_never_frees() {
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let (a, b) = liar_pair(0, &drops);
    let weak = Gc::downgrade(&a);
    drop((a, b));
    for _ in 0..3 {
        assert_eq!(
            gc_api::collect(),
            0,
            "an edge it cannot see keeps the cycle"
        );
    }
    assert_eq!(drops.total(), 0);
    let a = weak.upgrade().expect("leaked, so still alive");
    assert_eq!(a.name, name_of(0));
    // Breaking the cycle by hand frees it by refcounting.
    let b = a.next.borrow_mut().take().expect("edge");
    assert_eq!(b.name, name_of(1));
    drop((a, b, weak));
    assert_eq!(drops.total(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn trace_reporting_too_many_edges_makes_handles_see_dead_objects_not_freed_memory() {
    // Reporting an edge twice breaks `Trace`'s contract (rule 2), which no check inside the
    // collector can catch when the lie is the same in every pass: the collector may take a
    // still-referenced object for garbage; its handles then see it dead.
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let (a, b) = liar_pair(2, &drops);
    drop(a);
    // b's count is 2 (this handle and a's edge), and a reports that edge twice.
    let collected = gc_api::collect();
    assert_eq!(collected, 2);
    assert_eq!(drops.total(), 2);
    assert_eq!(drops.max(), 1);
    assert!(Gc::is_dead(&b));
    assert!(Gc::try_deref(&b).is_none());
    let msg = catch_unwind(AssertUnwindSafe(|| b.name.clone()))
        .map_err(|p| panic_message(p.as_ref()))
        .expect_err("Deref of a dead handle must panic");
    assert!(msg.contains("dereferenced a Gc"), "{msg:?}");
    assert!(
        blocks_in_use() > baseline,
        "b's memory stays while b exists"
    );
    drop(b);
    assert_eq!(blocks_in_use(), baseline);
    assert_eq!(drops.total(), 2);
}

// ---------------------------------------------------------------------------------------
// RefCell borrowed during a collection
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Node {
    id: usize,
    name: String,
    edges: RefCell<Vec<Gc<Node>>>,
    #[gc(skip)]
    drops: Rc<Tally>,
}

impl Node {
    fn new(id: usize, drops: &Rc<Tally>) -> Gc<Node> {
        Gc::new(Node {
            id,
            name: name_of(id),
            edges: RefCell::new(Vec::new()),
            drops: drops.clone(),
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

#[test]
fn mutably_borrowed_refcell_keeps_its_cycle_alive_during_a_collection() {
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    // a -> b -> c -> a, and c -> d <-> e (d and e only reachable through c's RefCell).
    let n: Vec<Gc<Node>> = (0..5).map(|id| Node::new(id, &drops)).collect();
    n[0].edges.borrow_mut().push(n[1].clone());
    n[1].edges.borrow_mut().push(n[2].clone());
    n[2].edges.borrow_mut().push(n[0].clone());
    n[2].edges.borrow_mut().push(n[3].clone());
    n[3].edges.borrow_mut().push(n[4].clone());
    n[4].edges.borrow_mut().push(n[3].clone());
    let a = n[0].clone();
    drop(n);
    {
        // Reach c from a through shared borrows and hold c's RefCell mutably.
        let a_edges = a.edges.borrow();
        let b = a_edges[0].clone();
        let b_edges = b.edges.borrow();
        let c = &b_edges[0];
        let mut c_edges = c.edges.borrow_mut();
        assert_eq!(gc_api::collect(), 0, "nothing is garbage while reachable");
        assert_eq!(drops.total(), 0);
        // Automatic collections while the borrow is held: no panic, nothing freed.
        gc_api::enable();
        gc_api::set_threshold([1, 1, 1]);
        for i in 0..50 {
            c_edges.push(Node::new(100 + i, &drops));
        }
        gc_api::set_threshold([700, 10, 10]);
        gc_api::disable();
        assert_eq!(gc_api::collect(), 0);
        assert_eq!(drops.total(), 0);
        // Take d -> e out of c while borrowed, and put it back.
        let d = c_edges.remove(1);
        assert_eq!(d.id, 3);
        assert_eq!(gc_api::collect(), 0);
        c_edges.insert(1, d);
        assert_eq!(c_edges.len(), 52);
        assert_eq!(c_edges[0].name, name_of(0));
    }
    assert_eq!(drops.total(), 0);
    // Released: the whole structure is garbage once `a` goes.
    drop(a);
    assert_eq!(gc_api::collect(), 55);
    assert_eq!(drops.total(), 55);
    assert_eq!(drops.max(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn refcell_borrowed_inside_a_finalizer_during_a_refcount_free_is_conservative() {
    // The only strong reference to `x` while its finalizer runs is the heap's own: a
    // collection started there must see `x`'s hidden edges (its RefCell is mutably
    // borrowed) as keeping the cycle x -> a <-> b alive.
    #[derive(Trace)]
    struct Holder {
        edges: RefCell<Vec<Gc<Node>>>,
        #[gc(skip)]
        result: Rc<Cell<Option<usize>>>,
    }
    impl Finalize for Holder {
        fn finalize(&self) {
            let mut edges = self.edges.borrow_mut();
            self.result.set(Some(gc_api::collect()));
            for e in edges.iter() {
                assert_eq!(e.name, name_of(e.id));
            }
            edges.truncate(2);
        }
    }
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let result = Rc::new(Cell::new(None));
    let a = Node::new(0, &drops);
    let b = Node::new(1, &drops);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a.clone());
    let x = Gc::new(Holder {
        edges: RefCell::new(vec![a, b]),
        result: result.clone(),
    });
    // Unrelated garbage, so the inner collection has something to find.
    let log = Rc::new(PeerLog::default());
    drop(peer_ring(10, 3, &log));
    drop(x);
    assert_eq!(
        result.get(),
        Some(3),
        "the inner collection finds only the peer ring"
    );
    assert_eq!(log.drops.total(), 3);
    assert_eq!(
        drops.total(),
        0,
        "a and b must survive the inner collection"
    );
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.total(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// No recursion: very long chains and cycles on a small stack
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct L {
    next: Option<Gc<L>>,
}

#[derive(Trace, Finalize)]
struct R {
    next: RefCell<Option<Gc<R>>>,
}

/// 10M nodes (measured in debug builds: about 12 s for the list and 15 s for the cycle,
/// run side by side); `GC_TESTS_LONG_LEN=<n>` overrides it.
fn long_len() -> usize {
    std::env::var("GC_TESTS_LONG_LEN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the small-stack thread failed (stack overflow aborts the process)");
}

#[test]
fn long_list_is_freed_by_refcounting_without_recursion() {
    on_small_stack(|| {
        let n = long_len();
        // Automatic collections would only slow the build down (they find nothing).
        gc_api::disable();
        let baseline = blocks_in_use();
        let t = Instant::now();
        let mut head: Option<Gc<L>> = None;
        for _ in 0..n {
            head = Some(Gc::new(L { next: head.take() }));
        }
        let built = t.elapsed();
        assert_eq!(blocks_in_use(), baseline + n);
        let t = Instant::now();
        drop(head);
        let freed = t.elapsed();
        assert_eq!(blocks_in_use(), baseline, "every node freed by refcounting");
        eprintln!("long list of {n}: built in {built:?}, freed in {freed:?}");
    });
}

/// Each one's finalizer makes the next (of its own type), which dies by refcounting and
/// runs its own finalizer: either at once, inside the finalizer, or when the maker's value
/// is dropped (the new object is stored in it).
#[derive(Trace)]
struct Spawner {
    remaining: usize,
    store_child: bool,
    child: RefCell<Option<Gc<Spawner>>>,
    #[gc(skip)]
    finalized: Rc<Cell<usize>>,
}

impl Finalize for Spawner {
    fn finalize(&self) {
        self.finalized.set(self.finalized.get() + 1);
        if self.remaining == 0 {
            return;
        }
        let child = Gc::new(Spawner {
            remaining: self.remaining - 1,
            store_child: self.store_child,
            child: RefCell::new(None),
            finalized: self.finalized.clone(),
        });
        if self.store_child {
            *self.child.borrow_mut() = Some(child);
        }
    }
}

#[test]
fn a_million_long_chain_of_finalizer_made_objects_runs_on_a_small_stack() {
    const CHAIN: usize = 1_000_000;
    for store_child in [false, true] {
        on_small_stack(move || {
            let baseline = blocks_in_use();
            let finalized = Rc::new(Cell::new(0));
            drop(Gc::new(Spawner {
                remaining: CHAIN,
                store_child,
                child: RefCell::new(None),
                finalized: finalized.clone(),
            }));
            assert_eq!(
                finalized.get(),
                CHAIN + 1,
                "every finalizer ran exactly once"
            );
            assert_eq!(blocks_in_use(), baseline);
        });
    }
    // The first one dies in a collection (a self-cycle): its finalizer runs from the
    // collector, the rest by refcounting.
    on_small_stack(|| {
        gc_api::disable();
        let baseline = blocks_in_use();
        let finalized = Rc::new(Cell::new(0));
        let first = Gc::new(Spawner {
            remaining: CHAIN,
            store_child: false,
            child: RefCell::new(None),
            finalized: finalized.clone(),
        });
        *first.child.borrow_mut() = Some(first.clone());
        drop(first);
        assert_eq!(gc_api::collect(), 1);
        assert_eq!(
            finalized.get(),
            CHAIN + 1,
            "every finalizer ran exactly once"
        );
        assert_eq!(blocks_in_use(), baseline);
    });
}

#[test]
fn long_cycle_is_collected_without_recursion() {
    on_small_stack(|| {
        let n = long_len();
        gc_api::disable();
        gc_api::collect();
        let baseline = blocks_in_use();
        let t = Instant::now();
        let tail = Gc::new(R {
            next: RefCell::new(None),
        });
        let mut head = tail.clone();
        for _ in 1..n {
            head = Gc::new(R {
                next: RefCell::new(Some(head)),
            });
        }
        *tail.next.borrow_mut() = Some(head);
        drop(tail);
        let built = t.elapsed();
        assert_eq!(blocks_in_use(), baseline + n);
        let t = Instant::now();
        let collected = gc_api::collect();
        let took = t.elapsed();
        assert_eq!(collected, n);
        assert_eq!(blocks_in_use(), baseline);
        eprintln!("long cycle of {n}: built in {built:?}, collected in {took:?}");
    });
}

// ---------------------------------------------------------------------------------------
// Collections and allocations from inside user hooks
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hook {
    Nothing,
    Collect,
    AllocateGarbageCycle,
    AllocateAndKeep,
}

thread_local! {
    static KEPT: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct HookLog {
    collect_results: RefCell<Vec<usize>>,
    drops: Tally,
    finalized: Tally,
    node_drops: Rc<Tally>,
}

#[derive(Trace)]
struct Hooked {
    id: usize,
    next: RefCell<Option<Gc<Hooked>>>,
    held: RefCell<Vec<Gc<Node>>>,
    #[gc(skip)]
    in_drop: Hook,
    #[gc(skip)]
    in_finalize: Hook,
    #[gc(skip)]
    log: Rc<HookLog>,
}

fn run_hook(hook: Hook, log: &HookLog, base_id: usize) {
    match hook {
        Hook::Nothing => {}
        Hook::Collect => {
            let n = gc_api::collect();
            log.collect_results.borrow_mut().push(n);
        }
        Hook::AllocateGarbageCycle => {
            let a = Node::new(base_id, &log.node_drops);
            let b = Node::new(base_id + 1, &log.node_drops);
            a.edges.borrow_mut().push(b.clone());
            b.edges.borrow_mut().push(a);
        }
        Hook::AllocateAndKeep => {
            let a = Node::new(base_id, &log.node_drops);
            a.edges.borrow_mut().push(a.clone());
            KEPT.with(|k| k.borrow_mut().push(a));
        }
    }
}

impl Finalize for Hooked {
    fn finalize(&self) {
        self.log.finalized.hit(self.id);
        run_hook(self.in_finalize, &self.log, 10_000 + 10 * self.id);
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        self.log.drops.hit(self.id);
        run_hook(self.in_drop, &self.log, 20_000 + 10 * self.id);
    }
}

fn hooked(id: usize, in_drop: Hook, in_finalize: Hook, log: &Rc<HookLog>) -> Gc<Hooked> {
    Gc::new(Hooked {
        id,
        next: RefCell::new(None),
        held: RefCell::new(Vec::new()),
        in_drop,
        in_finalize,
        log: log.clone(),
    })
}

fn hooked_ring(ids: std::ops::Range<usize>, in_drop: Hook, in_fin: Hook, log: &Rc<HookLog>) {
    let nodes: Vec<Gc<Hooked>> = ids.map(|id| hooked(id, in_drop, in_fin, log)).collect();
    for i in 0..nodes.len() {
        *nodes[i].next.borrow_mut() = Some(nodes[(i + 1) % nodes.len()].clone());
    }
}

#[test]
fn collect_inside_drop_or_finalizer_during_a_collection_returns_zero() {
    let baseline = fresh_heap();
    let log = Rc::new(HookLog::default());
    hooked_ring(0..3, Hook::Collect, Hook::Collect, &log);
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(*log.collect_results.borrow(), vec![0; 6]);
    assert_eq!(log.finalized.total(), 3);
    assert_eq!(log.drops.total(), 3);
    assert_eq!(log.drops.max(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn collect_inside_drop_during_a_refcount_free_works() {
    let baseline = fresh_heap();
    let log = Rc::new(HookLog::default());
    // Garbage waiting for a collection.
    let peers = Rc::new(PeerLog::default());
    drop(peer_ring(0, 4, &peers));
    // x holds a ring of its own, which stays reachable while x's Drop runs.
    let x = hooked(0, Hook::Collect, Hook::Nothing, &log);
    let a = Node::new(1, &log.node_drops);
    let b = Node::new(2, &log.node_drops);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a.clone());
    x.held.borrow_mut().extend([a, b]);
    drop(x);
    assert_eq!(*log.collect_results.borrow(), vec![4]);
    assert_eq!(peers.drops.total(), 4);
    assert_eq!(log.drops.get(0), 1);
    assert_eq!(
        log.node_drops.total(),
        0,
        "x's fields are still alive during its Drop"
    );
    assert_eq!(gc_api::collect(), 2, "x's ring is garbage afterwards");
    assert_eq!(log.node_drops.total(), 2);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn collect_inside_finalizer_during_a_refcount_free_works() {
    let baseline = fresh_heap();
    let log = Rc::new(HookLog::default());
    let peers = Rc::new(PeerLog::default());
    drop(peer_ring(0, 5, &peers));
    let x = hooked(0, Hook::Nothing, Hook::Collect, &log);
    let a = Node::new(1, &log.node_drops);
    a.edges.borrow_mut().push(a.clone());
    x.held.borrow_mut().push(a);
    drop(x);
    assert_eq!(*log.collect_results.borrow(), vec![5]);
    assert_eq!(log.finalized.get(0), 1);
    assert_eq!(log.drops.get(0), 1);
    assert_eq!(log.node_drops.total(), 0);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(log.node_drops.total(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn collect_inside_weak_and_collection_callbacks() {
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let results = Rc::new(RefCell::new(Vec::new()));
    // A collection callback: a collection is running, so it gets 0.
    let r = results.clone();
    let id = gc_api::add_callback(move |phase, _| r.borrow_mut().push((phase, gc_api::collect())));
    let peers = Rc::new(PeerLog::default());
    drop(peer_ring(0, 3, &peers));
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(*results.borrow(), vec![(Phase::Start, 0), (Phase::Stop, 0)]);
    assert!(gc_api::remove_callback(id));

    // A weak callback run by a refcount free: a collection from there works, and the
    // dying object's children are still referenced while its value is intact.
    drop(peer_ring(10, 4, &peers));
    let x = Node::new(0, &drops);
    let child = Node::new(1, &drops);
    child.edges.borrow_mut().push(child.clone());
    x.edges.borrow_mut().push(child);
    let r = results.clone();
    let w = Weak::with_callback(&x, move || {
        r.borrow_mut().push((Phase::Stop, gc_api::collect()))
    });
    drop(x);
    assert_eq!(results.borrow().last(), Some(&(Phase::Stop, 4)));
    assert_eq!(peers.drops.total(), 7);
    assert_eq!(drops.get(0), 1);
    assert_eq!(
        drops.get(1),
        0,
        "the child is garbage only after x's value dropped"
    );
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(drops.get(1), 1);
    drop(w);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn weak_reference_made_by_a_finalizer_to_garbage_dies_with_it() {
    thread_local! {
        static MADE: RefCell<Vec<Weak<Node>>> = const { RefCell::new(Vec::new()) };
    }
    #[derive(Trace)]
    struct Maker {
        target: Gc<Node>,
        me: RefCell<Option<Gc<Maker>>>,
        #[gc(skip)]
        calls: Rc<Cell<usize>>,
    }
    impl Finalize for Maker {
        fn finalize(&self) {
            let calls = self.calls.clone();
            let w = Weak::with_callback(&self.target, move || calls.set(calls.get() + 1));
            assert!(
                w.upgrade().is_some(),
                "the garbage is intact during finalizers"
            );
            MADE.with(|m| m.borrow_mut().push(w));
        }
    }
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let calls = Rc::new(Cell::new(0));
    let target = Node::new(0, &drops);
    target.edges.borrow_mut().push(target.clone());
    let make = || {
        Gc::new(Maker {
            target: target.clone(),
            me: RefCell::new(None),
            calls: calls.clone(),
        })
    };
    // `cyclic` is a self-loop: its finalizer runs inside the collection, after the weak
    // references to the garbage were cleared, and makes a new one to `target`.
    let cyclic = make();
    *cyclic.me.borrow_mut() = Some(cyclic.clone());
    // `plain` is freed by refcounting: its finalizer makes a weak reference at once.
    let plain = make();
    drop((target, cyclic, plain));
    assert_eq!(MADE.with(|m| m.borrow().len()), 1);
    assert_eq!(gc_api::collect(), 2, "target and cyclic");
    assert_eq!(MADE.with(|m| m.borrow().len()), 2);
    assert_eq!(drops.get(0), 1);
    assert_eq!(calls.get(), 2, "each weak reference's callback ran once");
    let made = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    assert!(made.iter().all(|w| w.upgrade().is_none()));
    drop(made);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn allocating_inside_drop_finalizers_and_callbacks_works() {
    let baseline = fresh_heap();
    let log = Rc::new(HookLog::default());

    // During a collection: finalizers and Drops allocate garbage cycles and kept objects.
    hooked_ring(
        0..4,
        Hook::AllocateGarbageCycle,
        Hook::AllocateAndKeep,
        &log,
    );
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(log.drops.total(), 4);
    assert_eq!(KEPT.with(|k| k.borrow().len()), 4);
    // The cycles made during that collection are collected by the next one.
    assert_eq!(gc_api::collect(), 8);
    assert_eq!(log.node_drops.total(), 8);
    for k in KEPT.with(|k| k.borrow().clone()) {
        assert!(!Gc::is_dead(&k));
        assert_eq!(k.name, name_of(k.id));
    }

    // During refcount frees: a chain whose Drops allocate.
    let first = hooked(10, Hook::AllocateGarbageCycle, Hook::AllocateAndKeep, &log);
    let second = hooked(11, Hook::AllocateGarbageCycle, Hook::AllocateAndKeep, &log);
    *first.next.borrow_mut() = Some(second);
    drop(first);
    assert_eq!(log.drops.total(), 6);
    assert_eq!(KEPT.with(|k| k.borrow().len()), 6);
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(log.node_drops.total(), 12);

    // Weak callbacks and collection callbacks allocate too.
    let target = Node::new(500, &log.node_drops);
    target.edges.borrow_mut().push(target.clone());
    let cb_log = log.clone();
    let weak = Weak::with_callback(&target, move || {
        run_hook(Hook::AllocateAndKeep, &cb_log, 600);
        run_hook(Hook::AllocateGarbageCycle, &cb_log, 700);
    });
    drop(target);
    let cb_log = log.clone();
    let id = gc_api::add_callback(move |phase, _info| {
        if phase == Phase::Stop {
            run_hook(Hook::AllocateGarbageCycle, &cb_log, 800);
        }
    });
    assert_eq!(gc_api::collect(), 1, "the self-loop 500");
    assert!(weak.upgrade().is_none());
    assert!(gc_api::remove_callback(id));
    assert_eq!(KEPT.with(|k| k.borrow().len()), 7);
    // The weak callback's cycle and the Stop callback's cycle.
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(log.node_drops.total(), 12 + 1 + 4);
    drop(weak);

    // Many allocations in one Drop, with automatic collection on: collections run from
    // inside the Drop (refcount free) and everything stays consistent.
    gc_api::enable();
    let drops_before = log.node_drops.total();
    {
        struct Burst(Rc<Tally>);
        impl Drop for Burst {
            fn drop(&mut self) {
                for i in 0..1_000 {
                    let a = Node::new(30_000 + 2 * i, &self.0);
                    let b = Node::new(30_001 + 2 * i, &self.0);
                    a.edges.borrow_mut().push(b.clone());
                    b.edges.borrow_mut().push(a);
                }
            }
        }
        #[derive(Trace, Finalize)]
        struct HasBurst {
            #[gc(skip)]
            _burst: Burst,
            next: Option<Gc<Node>>,
        }
        let x = Gc::new(HasBurst {
            _burst: Burst(log.node_drops.clone()),
            next: None,
        });
        assert!(Gc::is_tracked(&x));
        drop(x);
    }
    let stats_collections: usize = gc_api::get_stats().iter().map(|s| s.collections).sum();
    assert!(stats_collections > 0);
    gc_api::disable();
    gc_api::collect();
    assert_eq!(log.node_drops.total(), drops_before + 2_000);
    assert_eq!(log.node_drops.max(), 1);

    let kept = KEPT.with(|k| std::mem::take(&mut *k.borrow_mut()));
    drop(kept);
    assert_eq!(gc_api::collect(), 7, "the kept self-loops");
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// Random graphs against a reachability model
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Vertex {
    id: usize,
    label: String,
    edges: RefCell<Vec<Gc<Vertex>>>,
    #[gc(skip)]
    drops: Rc<Tally>,
}

impl Drop for Vertex {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

/// Nodes reachable from `starts` over `adj`.
fn bfs(adj: &[Vec<usize>], starts: impl IntoIterator<Item = usize>) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut queue: VecDeque<usize> = starts.into_iter().collect();
    while let Some(v) = queue.pop_front() {
        if seen.insert(v) {
            queue.extend(adj[v].iter().copied());
        }
    }
    seen
}

/// Nodes of `set` that lie on a cycle made of nodes of `set` only.
fn on_cycle_within(adj: &[Vec<usize>], set: &HashSet<usize>) -> HashSet<usize> {
    set.iter()
        .copied()
        .filter(|&v| {
            let succ = adj[v].iter().copied().filter(|w| set.contains(w));
            let restricted: Vec<Vec<usize>> = adj
                .iter()
                .map(|es| es.iter().copied().filter(|w| set.contains(w)).collect())
                .collect();
            bfs(&restricted, succ).contains(&v)
        })
        .collect()
}

fn check_random_graph(n: usize, edges: &[(usize, usize)], roots: &[usize]) {
    let baseline = fresh_heap();
    let drops = Rc::new(Tally::default());
    let nodes: Vec<Gc<Vertex>> = (0..n)
        .map(|id| {
            Gc::new(Vertex {
                id,
                label: name_of(id),
                edges: RefCell::new(Vec::new()),
                drops: drops.clone(),
            })
        })
        .collect();
    let mut adj = vec![Vec::new(); n];
    for &(from, to) in edges {
        let (from, to) = (from % n, to % n);
        nodes[from].edges.borrow_mut().push(nodes[to].clone());
        adj[from].push(to);
    }
    let roots: Vec<usize> = roots.iter().map(|r| r % n).collect();
    let root_handles: Vec<Gc<Vertex>> = roots.iter().map(|&r| nodes[r].clone()).collect();

    let reachable = bfs(&adj, roots.iter().copied());
    let garbage: HashSet<usize> = (0..n).filter(|v| !reachable.contains(v)).collect();
    // Refcounting frees garbage that no garbage cycle keeps alive.
    let cyclic = on_cycle_within(&adj, &garbage);
    let kept_by_cycles: HashSet<usize> = bfs(&adj, cyclic.iter().copied())
        .intersection(&garbage)
        .copied()
        .collect();

    drop(nodes);
    assert_eq!(
        drops.total(),
        garbage.len() - kept_by_cycles.len(),
        "refcounting frees exactly the acyclic garbage"
    );
    for &v in &reachable {
        assert_eq!(drops.get(v), 0);
    }

    let collected = gc_api::collect();
    assert_eq!(collected, kept_by_cycles.len());
    assert_eq!(drops.total(), garbage.len());
    for v in 0..n {
        let expected = usize::from(garbage.contains(&v));
        assert_eq!(
            drops.get(v),
            expected,
            "node {v} dropped the wrong number of times"
        );
    }

    // Everything reachable is alive, intact, and has exactly the modelled edges.
    let mut seen = HashSet::new();
    let mut queue: VecDeque<Gc<Vertex>> = root_handles.iter().cloned().collect();
    while let Some(g) = queue.pop_front() {
        let v = Gc::try_deref(&g).expect("a reachable node is dead");
        assert_eq!(v.label, name_of(v.id));
        if seen.insert(v.id) {
            let got: Vec<usize> = v.edges.borrow().iter().map(|e| e.id).collect();
            assert_eq!(got, adj[v.id]);
            queue.extend(v.edges.borrow().iter().cloned());
        }
    }
    assert_eq!(seen, reachable);
    assert_eq!(blocks_in_use(), baseline + reachable.len());

    drop(queue);
    drop(root_handles);
    gc_api::collect();
    assert_eq!(drops.total(), n);
    assert_eq!(drops.max(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graphs_match_a_reachability_model(
        n in 1usize..48,
        edges in proptest::collection::vec((0usize..48, 0usize..48), 0..120),
        roots in proptest::collection::vec(0usize..48, 0..6),
    ) {
        check_random_graph(n, &edges, &roots);
    }
}

#[test]
fn random_graph_model_handles_simple_shapes() {
    // Self-loop kept by a root, a garbage self-loop, a garbage chain hanging off a cycle.
    check_random_graph(1, &[(0, 0)], &[0]);
    check_random_graph(1, &[(0, 0)], &[]);
    check_random_graph(5, &[(0, 1), (1, 0), (1, 2), (2, 3)], &[4]);
    check_random_graph(4, &[(0, 1), (1, 2), (2, 3)], &[]);
}
