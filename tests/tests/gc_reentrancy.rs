//! User code the collector runs calling back into the heap. `Trace` impls run while the
//! collector walks its lists: whatever they call back into (allocation, freeze,
//! introspection, dropping handles) must not disturb the walk. `Drop` impls, finalizers,
//! weak callbacks and collection callbacks may collect (a nested `collect()` returns 0
//! while a collection runs, and works during a refcount free), allocate garbage or kept
//! objects, and make weak references, during a collection or a refcount free.

use gc_api::{Finalize, Gc, Phase, Trace, Tracer, Weak};
use gc_tests::{IdNode, PeerLog, Tally, blocks_in_use, name_of, peer_ring, reset_heap};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

// ---------------------------------------------------------------------------------------
// Trace impls calling back into the heap while the collector walks its lists
// ---------------------------------------------------------------------------------------

thread_local! {
    static ALLOCATED_IN_TRACE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static MODE: Cell<u8> = const { Cell::new(0) };
}

struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

impl Finalize for Node {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: reports its one handle once; the side effects in the modes (allocating, freezing,
// introspecting, dropping other handles) never touch a handle of this value.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        match MODE.with(Cell::get) {
            1 => {
                // Allocate tracked objects mid-walk and keep them.
                let fresh = Gc::new(Node {
                    next: RefCell::new(None),
                });
                ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().push(fresh));
            }
            2 => gc_api::freeze(),
            3 => {
                // Introspection mid-walk.
                let _ = gc_api::get_objects(None).unwrap().len();
                let _ = gc_api::get_freeze_count();
            }
            4 => {
                // Drop handles mid-walk (frees are deferred until the walk is over).
                ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().clear());
            }
            _ => {}
        }
        self.next.trace(tracer);
    }
}

fn ring(n: usize) -> Gc<Node> {
    let first = Gc::new(Node {
        next: RefCell::new(None),
    });
    let mut prev = first.clone();
    for _ in 1..n {
        prev = Gc::new(Node {
            next: RefCell::new(Some(prev)),
        });
    }
    *first.next.borrow_mut() = Some(prev);
    first
}

#[test]
fn callbacks_into_the_heap_from_trace_leave_collections_correct() {
    let baseline = reset_heap();
    for mode in 1..=4u8 {
        let keep = ring(50);
        drop(ring(50));
        MODE.with(|m| m.set(mode));
        let found = gc_api::collect();
        MODE.with(|m| m.set(0));
        gc_api::unfreeze();
        assert_eq!(
            found, 50,
            "mode {mode}: the garbage ring is found, the live one kept"
        );
        // The live ring is intact.
        let mut n = 0;
        let mut cur = keep.next.borrow().clone();
        while let Some(c) = cur {
            n += 1;
            if Gc::ptr_eq(&c, &keep) {
                break;
            }
            cur = c.next.borrow().clone();
        }
        assert_eq!(n, 50, "mode {mode}");
        // Objects allocated during the walk are ordinary objects of generation 0 or older.
        let extra = ALLOCATED_IN_TRACE.with(|v| v.borrow().len());
        let tracked = gc_api::get_objects(None).unwrap().len();
        assert!(tracked >= 50 + extra, "mode {mode}: {tracked} tracked");
        ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().clear());
        drop(keep);
        gc_api::collect();
        assert_eq!(gc_api::get_objects(None).unwrap().len(), 0, "mode {mode}");
        assert_eq!(
            gc_api::malloc_stats().blocks_in_use(),
            baseline,
            "mode {mode}"
        );
    }
    gc_api::enable();
}

// ---------------------------------------------------------------------------------------
// Collections and allocations from inside Drop, finalizers and callbacks
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hook {
    Nothing,
    Collect,
    AllocateGarbageCycle,
    AllocateAndKeep,
}

thread_local! {
    static KEPT: RefCell<Vec<Gc<IdNode>>> = const { RefCell::new(Vec::new()) };
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
    held: RefCell<Vec<Gc<IdNode>>>,
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
            let a = IdNode::new(base_id, &log.node_drops);
            let b = IdNode::new(base_id + 1, &log.node_drops);
            a.edges.borrow_mut().push(b.clone());
            b.edges.borrow_mut().push(a);
        }
        Hook::AllocateAndKeep => {
            let a = IdNode::new(base_id, &log.node_drops);
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
    let baseline = reset_heap();
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
    let baseline = reset_heap();
    let log = Rc::new(HookLog::default());
    // Garbage waiting for a collection.
    let peers = Rc::new(PeerLog::default());
    drop(peer_ring(0, 4, &peers));
    // x holds a ring of its own, which stays reachable while x's Drop runs.
    let x = hooked(0, Hook::Collect, Hook::Nothing, &log);
    let a = IdNode::new(1, &log.node_drops);
    let b = IdNode::new(2, &log.node_drops);
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
    let baseline = reset_heap();
    let log = Rc::new(HookLog::default());
    let peers = Rc::new(PeerLog::default());
    drop(peer_ring(0, 5, &peers));
    let x = hooked(0, Hook::Nothing, Hook::Collect, &log);
    let a = IdNode::new(1, &log.node_drops);
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
    let baseline = reset_heap();
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
    let x = IdNode::new(0, &drops);
    let child = IdNode::new(1, &drops);
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
        static MADE: RefCell<Vec<Weak<IdNode>>> = const { RefCell::new(Vec::new()) };
    }
    #[derive(Trace)]
    struct Maker {
        target: Gc<IdNode>,
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
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    let calls = Rc::new(Cell::new(0));
    let target = IdNode::new(0, &drops);
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
    let baseline = reset_heap();
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
    let target = IdNode::new(500, &log.node_drops);
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
                    let a = IdNode::new(30_000 + 2 * i, &self.0);
                    let b = IdNode::new(30_001 + 2 * i, &self.0);
                    a.edges.borrow_mut().push(b.clone());
                    b.edges.borrow_mut().push(a);
                }
            }
        }
        #[derive(Trace, Finalize)]
        struct HasBurst {
            #[gc(skip)]
            _burst: Burst,
            next: Option<Gc<IdNode>>,
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
