//! Threads (DESIGN.md 3.4 and 4): every thread has its own heap and its own `gc` state;
//! when a thread exits its heap runs a last full collection (finalizers run), and objects
//! still referenced from thread-locals then are never freed under a live handle.
//!
//! Thread-local destructors run in reverse order of registration on the platforms we run
//! on (Linux: glibc's `__cxa_thread_atexit_impl`), and a `thread_local!` registers its
//! destructor on first use; the heap registers its teardown when it is created. The tests
//! use that to place thread-locals before and after the heap's teardown.

use gc_api::{Finalize, Gc, Trace};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

#[derive(Default, Debug)]
struct Counters {
    finalized: AtomicUsize,
    dropped: AtomicUsize,
    intact_reads: AtomicUsize,
    dead_reads: AtomicUsize,
    corrupt: AtomicUsize,
    tls_touched: AtomicUsize,
    tls_gone: AtomicUsize,
    allocated_at_exit: AtomicUsize,
}

impl Counters {
    fn get(&self, field: fn(&Counters) -> &AtomicUsize) -> usize {
        field(self).load(SeqCst)
    }
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, SeqCst);
}

fn name_of(id: usize) -> String {
    format!("node-{id}")
}

fn payload_of(id: usize) -> Vec<u64> {
    (0..8).map(|i| id as u64 * 100 + i).collect()
}

/// Destroyed early or late (see the module docs); finalizers increment it if they still can.
struct Touchable(RefCell<usize>);

impl Drop for Touchable {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1_000;
    }
}

thread_local! {
    static FIRST_TOUCHED: Touchable = const { Touchable(RefCell::new(0)) };
    static LAST_TOUCHED: Touchable = const { Touchable(RefCell::new(0)) };
    static EARLY: RefCell<Option<Holder>> = const { RefCell::new(None) };
    static LATE: RefCell<Option<Holder>> = const { RefCell::new(None) };
    static AT_EXIT: RefCell<Option<AllocateOnDrop>> = const { RefCell::new(None) };
}

/// Reads `g` and records whether the value is intact, dead, or neither.
fn check_read(g: &Gc<Node>, c: &Counters) {
    match Gc::try_deref(g) {
        Some(v) if !Gc::is_dead(g) && v.name == name_of(v.id) && v.data == payload_of(v.id) => {
            bump(&c.intact_reads)
        }
        None if Gc::is_dead(g) => bump(&c.dead_reads),
        _ => bump(&c.corrupt),
    }
}

fn touch_other_thread_locals(c: &Counters) {
    for key in [&FIRST_TOUCHED, &LAST_TOUCHED] {
        match key.try_with(|t| *t.0.borrow_mut() += 1) {
            Ok(()) => bump(&c.tls_touched),
            Err(_) => bump(&c.tls_gone),
        }
    }
}

#[derive(Trace)]
struct Node {
    id: usize,
    name: String,
    data: Vec<u64>,
    next: RefCell<Option<Gc<Node>>>,
    #[gc(skip)]
    counters: Arc<Counters>,
}

impl Node {
    fn new(id: usize, counters: &Arc<Counters>) -> Gc<Node> {
        Gc::new(Node {
            id,
            name: name_of(id),
            data: payload_of(id),
            next: RefCell::new(None),
            counters: counters.clone(),
        })
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        bump(&self.counters.finalized);
        touch_other_thread_locals(&self.counters);
        if let Some(n) = self.next.borrow().as_ref() {
            // Finalizers run while all of the garbage is intact.
            match Gc::try_deref(n) {
                Some(v) if v.name == name_of(v.id) => {}
                _ => bump(&self.counters.corrupt),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        bump(&self.counters.dropped);
        if let Some(n) = self.next.borrow().as_ref() {
            check_read(n, &self.counters);
        }
    }
}

/// A ring of `n` nodes; returns one handle to it.
fn ring(first_id: usize, n: usize, counters: &Arc<Counters>) -> Gc<Node> {
    let nodes: Vec<Gc<Node>> = (first_id..first_id + n)
        .map(|id| Node::new(id, counters))
        .collect();
    for i in 0..n {
        *nodes[i].next.borrow_mut() = Some(nodes[(i + 1) % n].clone());
    }
    nodes[0].clone()
}

/// What a thread-local holds: a handle into a cycle and a plain (acyclic) object.
struct Holder {
    cycle: Gc<Node>,
    plain: Gc<Node>,
    counters: Arc<Counters>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Runs during thread teardown, possibly after the heap's last collection: the
        // objects are still referenced, so they must be intact.
        check_read(&self.cycle, &self.counters);
        check_read(&self.plain, &self.counters);
        let mut cur = self.cycle.next.borrow().clone();
        while let Some(c) = cur {
            if Gc::ptr_eq(&c, &self.cycle) {
                break;
            }
            check_read(&c, &self.counters);
            cur = c.next.borrow().clone();
        }
    }
}

/// Allocates, links and drops objects in its `Drop`, during thread teardown.
struct AllocateOnDrop(Arc<Counters>);

impl Drop for AllocateOnDrop {
    fn drop(&mut self) {
        let head = ring(900, 3, &self.0);
        check_read(&head, &self.0);
        let leaf = Node::new(910, &self.0);
        check_read(&leaf, &self.0);
        bump(&self.0.allocated_at_exit);
        drop(leaf);
        drop(head);
        // A collection now collects the ring (the heap may be a fresh one).
        let collected = gc_api::collect();
        if collected == 3 {
            bump(&self.0.allocated_at_exit);
        }
    }
}

#[test]
fn thread_exit_runs_a_last_full_collection_with_finalizers() {
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    std::thread::spawn(move || {
        gc_api::disable();
        for r in 0..10 {
            drop(ring(r * 10, 5, &c));
        }
        assert_eq!(c.get(|c| &c.finalized), 0, "nothing collected before exit");
    })
    .join()
    .expect("thread");
    assert_eq!(
        counters.get(|c| &c.finalized),
        50,
        "the last collection finalizes"
    );
    assert_eq!(counters.get(|c| &c.dropped), 50);
    assert_eq!(counters.get(|c| &c.corrupt), 0);
    // Each ring's last Drop reads a neighbour that was dropped before it.
    assert_eq!(
        counters.get(|c| &c.intact_reads) + counters.get(|c| &c.dead_reads),
        50
    );
}

/// Per-thread expectations, by category.
struct ExitCounters {
    late_ring: Arc<Counters>,
    early_ring: Arc<Counters>,
    garbage: Arc<Counters>,
    plain: Arc<Counters>,
    holders: Arc<Counters>,
}

fn exit_scenario(t: usize, c: &ExitCounters) {
    // Registered before the heap exists: destroyed after its teardown.
    FIRST_TOUCHED.with(|_| ());
    EARLY.with(|_| ());
    // The heap is created here.
    let early = Holder {
        cycle: ring(t * 1_000, 3, &c.early_ring),
        plain: Node::new(t * 1_000 + 10, &c.plain),
        counters: c.holders.clone(),
    };
    EARLY.with(|e| *e.borrow_mut() = Some(early));
    // Registered after the heap: destroyed before its teardown.
    let late = Holder {
        cycle: ring(t * 1_000 + 100, 3, &c.late_ring),
        plain: Node::new(t * 1_000 + 110, &c.plain),
        counters: c.holders.clone(),
    };
    LATE.with(|l| *l.borrow_mut() = Some(late));
    LAST_TOUCHED.with(|_| ());
    // Garbage the last collection must find.
    gc_api::disable();
    drop(ring(t * 1_000 + 200, 4, &c.garbage));
    // Plain handles on the stack die with the closure, before any thread-local.
    let on_stack = Node::new(t * 1_000 + 300, &c.plain);
    assert_eq!(on_stack.name, name_of(t * 1_000 + 300));
}

#[test]
fn gcs_in_thread_locals_at_thread_exit_are_never_freed_under_a_live_handle() {
    const THREADS: usize = 8;
    let c = Arc::new(ExitCounters {
        late_ring: Arc::default(),
        early_ring: Arc::default(),
        garbage: Arc::default(),
        plain: Arc::default(),
        holders: Arc::default(),
    });
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let c = c.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                exit_scenario(t, &c);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a thread failed");
    }
    for (name, k) in [
        ("late_ring", &c.late_ring),
        ("early_ring", &c.early_ring),
        ("garbage", &c.garbage),
        ("plain", &c.plain),
        ("holders", &c.holders),
    ] {
        assert_eq!(
            k.get(|c| &c.corrupt),
            0,
            "{name}: a value was read after it was freed"
        );
    }
    // Holders read 2 handles plus the 2 other ring members, in each of 2 holders per thread,
    // and every object they hold is still alive then.
    assert_eq!(c.holders.get(|c| &c.intact_reads), THREADS * 2 * 4);
    assert_eq!(c.holders.get(|c| &c.dead_reads), 0);
    // Plain objects are freed by refcounting (3 per thread), whenever their handle goes.
    assert_eq!(c.plain.get(|c| &c.finalized), THREADS * 3);
    assert_eq!(c.plain.get(|c| &c.dropped), THREADS * 3);
    // Garbage is found by the last full collection.
    assert_eq!(c.garbage.get(|c| &c.finalized), THREADS * 4);
    assert_eq!(c.garbage.get(|c| &c.dropped), THREADS * 4);
    // The late ring became garbage before the heap's teardown: collected then.
    assert_eq!(c.late_ring.get(|c| &c.finalized), THREADS * 3);
    assert_eq!(c.late_ring.get(|c| &c.dropped), THREADS * 3);
    // The early ring was still referenced during teardown: it may leak, never break.
    assert_eq!(
        c.early_ring.get(|c| &c.finalized),
        c.early_ring.get(|c| &c.dropped)
    );
    assert!(c.early_ring.get(|c| &c.dropped) <= THREADS * 3);
    // Finalizers touched the other thread-locals or found them destroyed, never crashed.
    let touches: usize = [&c.late_ring, &c.garbage, &c.plain, &c.early_ring]
        .iter()
        .map(|k| k.get(|c| &c.tls_touched) + k.get(|c| &c.tls_gone))
        .sum();
    let finalized: usize = [&c.late_ring, &c.garbage, &c.plain, &c.early_ring]
        .iter()
        .map(|k| k.get(|c| &c.finalized))
        .sum();
    assert_eq!(touches, 2 * finalized);
}

#[test]
fn allocating_in_a_thread_local_destructor_after_the_heap_teardown_works() {
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    std::thread::spawn(move || {
        // Registered before the heap: its destructor runs after the heap's teardown, which
        // found no object left and released the heap.
        AT_EXIT.with(|a| *a.borrow_mut() = Some(AllocateOnDrop(c.clone())));
        let g = Node::new(1, &c);
        drop(g);
        drop(ring(10, 2, &c));
    })
    .join()
    .expect("thread");
    assert_eq!(counters.get(|c| &c.corrupt), 0);
    assert_eq!(counters.get(|c| &c.allocated_at_exit), 2);
    assert!(counters.get(|c| &c.intact_reads) >= 2);
    // Node 1 and the 2-ring (at teardown), the leaf and the 3-ring (in the destructor).
    assert_eq!(counters.get(|c| &c.finalized), 1 + 2 + 1 + 3);
    assert_eq!(counters.get(|c| &c.dropped), 1 + 2 + 1 + 3);
}

#[test]
fn panics_in_hooks_during_the_exit_collection_do_not_abort() {
    #[derive(Trace)]
    struct Grumpy {
        next: RefCell<Option<Gc<Grumpy>>>,
        #[gc(skip)]
        counters: Arc<Counters>,
    }
    impl Finalize for Grumpy {
        fn finalize(&self) {
            bump(&self.counters.finalized);
            panic!("finalizer panicked on purpose at thread exit");
        }
    }
    impl Drop for Grumpy {
        fn drop(&mut self) {
            bump(&self.counters.dropped);
            panic!("drop panicked on purpose at thread exit");
        }
    }
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let joined = std::thread::spawn(move || {
        gc_api::disable();
        let a = Gc::new(Grumpy {
            next: RefCell::new(None),
            counters: c.clone(),
        });
        let b = Gc::new(Grumpy {
            next: RefCell::new(Some(a.clone())),
            counters: c.clone(),
        });
        *a.next.borrow_mut() = Some(b);
        gc_api::add_callback(|_, _| panic!("callback panicked on purpose at thread exit"));
    })
    .join();
    assert!(joined.is_ok(), "the thread's own code did not panic");
    assert_eq!(counters.get(|c| &c.finalized), 2);
    assert_eq!(counters.get(|c| &c.dropped), 2);
}

#[test]
fn every_thread_has_its_own_heap_and_state() {
    const THREADS: usize = 4;
    gc_api::disable();
    gc_api::set_threshold([5, 5, 5]);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                // A new thread starts with the defaults, whatever its parent did.
                assert!(gc_api::is_enabled());
                assert_eq!(gc_api::get_threshold(), [700, 10, 10]);
                assert_eq!(gc_api::get_count(), [0, 0, 0]);
                gc_api::disable();
                let counters = Arc::new(Counters::default());
                barrier.wait();
                let mut total = 0;
                for round in 0..50 {
                    let n = 1 + (t + round) % 7;
                    drop(ring(round * 10, n, &counters));
                    let keep = ring(round * 10 + 5, 2, &counters);
                    assert_eq!(gc_api::collect(), n, "thread {t} round {round}");
                    assert_eq!(keep.name, name_of(round * 10 + 5));
                    total += n;
                    drop(keep);
                    assert_eq!(gc_api::collect(), 2);
                    total += 2;
                }
                assert_eq!(counters.get(|c| &c.dropped), total);
                assert_eq!(counters.get(|c| &c.corrupt), 0);
                assert_eq!(gc_api::malloc_stats().blocks_in_use(), 0);
                total
            })
        })
        .collect();
    let totals: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(totals.iter().all(|&t| t > 0));
    // This thread's state was left alone.
    assert!(!gc_api::is_enabled());
    assert_eq!(gc_api::get_threshold(), [5, 5, 5]);
}
