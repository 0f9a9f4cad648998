//! Cycle collection through the public API: what `collect()` finds, returns and frees
//! (CPython's test_gc.py: test_list, test_dict, test_class, ... translated to `Gc`).

use gc_api::{Finalize, Gc, Trace};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

use gc_tests::{Drops, Node, link, node, reset_heap, ring};

#[test]
fn self_referencing_object_is_collected_and_counted_once() {
    reset_heap();
    let drops = Drops::default();
    let a = node(&drops);
    link(&a, &a);
    assert_eq!(Gc::strong_count(&a), 2);
    drop(a);
    assert_eq!(drops.get(), 0, "a self-cycle is not freed by refcounting");
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(drops.get(), 1);
    assert_eq!(gc_api::collect(), 0, "nothing left for a second collection");
}

#[test]
fn two_node_cycle_returns_two() {
    reset_heap();
    let drops = Drops::default();
    let a = node(&drops);
    let b = node(&drops);
    link(&a, &b);
    link(&b, &a);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[test]
fn hundred_thousand_rings_of_ten_are_all_collected() {
    reset_heap();
    let before = gc_api::malloc_stats().blocks_in_use();
    let drops = Drops::default();
    for _ in 0..100_000 {
        drop(ring(10, &drops));
    }
    assert_eq!(drops.get(), 0);
    assert!(gc_api::malloc_stats().blocks_in_use() >= before + 1_000_000);
    assert_eq!(gc_api::collect(), 1_000_000);
    assert_eq!(drops.get(), 1_000_000, "every value is dropped");
    assert_eq!(
        gc_api::malloc_stats().blocks_in_use(),
        before,
        "every block is returned"
    );
    assert_eq!(gc_api::collect(), 0);
}

#[test]
fn reachable_cycle_survives_until_its_last_handle_goes() {
    reset_heap();
    let drops = Drops::default();
    let keep = ring(5, &drops);
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.get(), 0);
    // The ring is intact after the collections.
    let mut cur = keep.clone();
    for _ in 0..5 {
        let next = cur.next.borrow().clone().expect("ring link");
        cur = next;
    }
    assert!(Gc::ptr_eq(&cur, &keep));
    drop(cur);
    drop(keep);
    assert_eq!(gc_api::collect(), 5);
    assert_eq!(drops.get(), 5);
}

#[test]
fn object_reachable_only_through_a_reachable_object_survives() {
    reset_heap();
    let drops = Drops::default();
    let root = node(&drops);
    let cycle = ring(3, &drops);
    link(&root, &cycle);
    drop(cycle);
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.get(), 0);
    *root.next.borrow_mut() = None;
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(drops.get(), 3);
    drop(root);
    assert_eq!(drops.get(), 4);
}

#[test]
fn acyclic_garbage_is_freed_by_refcounting_not_by_collect() {
    reset_heap();
    let drops = Drops::default();
    let a = node(&drops);
    let b = node(&drops);
    link(&a, &b);
    drop(b);
    assert_eq!(drops.get(), 0);
    drop(a);
    assert_eq!(drops.get(), 2, "the chain goes at once");
    assert_eq!(gc_api::collect(), 0);
}

#[test]
fn long_chain_is_freed_without_recursion() {
    reset_heap();
    let drops = Drops::default();
    let head = node(&drops);
    let mut tail = head.clone();
    for _ in 0..200_000 {
        let n = node(&drops);
        link(&tail, &n);
        tail = n;
    }
    drop(tail);
    // A recursive free would overflow the test thread's stack here.
    drop(head);
    assert_eq!(drops.get(), 200_001);
}

#[test]
fn long_chain_hanging_off_a_cycle_is_collected() {
    reset_heap();
    let drops = Drops::default();
    let head = node(&drops);
    let mut tail = head.clone();
    for _ in 0..100_000 {
        let n = node(&drops);
        link(&tail, &n);
        tail = n;
    }
    link(&tail, &head);
    drop((head, tail));
    assert_eq!(gc_api::collect(), 100_001);
    assert_eq!(drops.get(), 100_001);
}

#[derive(Trace, Finalize)]
struct Holder {
    label: Gc<String>,
    number: Gc<u64>,
    next: RefCell<Option<Gc<Holder>>>,
}

#[test]
fn untracked_objects_hanging_off_garbage_are_freed_but_not_counted() {
    reset_heap();
    let a = Gc::new(Holder {
        label: Gc::new("a".to_string()),
        number: Gc::new(1),
        next: RefCell::new(None),
    });
    let b = Gc::new(Holder {
        label: Gc::new("b".to_string()),
        number: Gc::new(2),
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b.clone());
    let label = Gc::downgrade(&a.label);
    let number = Gc::downgrade(&b.number);
    assert!(!Gc::is_tracked(&a.label));
    drop((a, b));
    assert_eq!(gc_api::collect(), 2, "only the tracked holders are counted");
    assert!(label.upgrade().is_none(), "the String went with its holder");
    assert!(number.upgrade().is_none());
}

#[derive(Trace, Finalize)]
struct Bag {
    vec: RefCell<Vec<Gc<Bag>>>,
    deque: RefCell<VecDeque<Gc<Bag>>>,
    map: RefCell<HashMap<u32, Gc<Bag>>>,
    tree: RefCell<BTreeMap<u32, Gc<Bag>>>,
    boxed: RefCell<Option<Box<Gc<Bag>>>>,
    tuple: RefCell<Option<(u8, Gc<Bag>)>>,
    array: RefCell<[Option<Gc<Bag>>; 2]>,
    result: RefCell<Result<Gc<Bag>, String>>,
}

fn bag(result: Result<Gc<Bag>, String>) -> Gc<Bag> {
    Gc::new(Bag {
        vec: RefCell::default(),
        deque: RefCell::default(),
        map: RefCell::default(),
        tree: RefCell::default(),
        boxed: RefCell::default(),
        tuple: RefCell::default(),
        array: RefCell::default(),
        result: RefCell::new(result),
    })
}

#[test]
fn cycles_through_every_std_container_are_collected() {
    reset_heap();
    let seed = bag(Err("seed".into()));
    let weak_seed = Gc::downgrade(&seed);
    // One self-cycle per container kind.
    let v = bag(Err(String::new()));
    v.vec.borrow_mut().push(v.clone());
    let d = bag(Err(String::new()));
    d.deque.borrow_mut().push_back(d.clone());
    let m = bag(Err(String::new()));
    m.map.borrow_mut().insert(7, m.clone());
    let t = bag(Err(String::new()));
    t.tree.borrow_mut().insert(7, t.clone());
    let bx = bag(Err(String::new()));
    *bx.boxed.borrow_mut() = Some(Box::new(bx.clone()));
    let tu = bag(Err(String::new()));
    *tu.tuple.borrow_mut() = Some((1, tu.clone()));
    let ar = bag(Err(String::new()));
    ar.array.borrow_mut()[1] = Some(ar.clone());
    let re = bag(Ok(seed.clone()));
    *seed.result.borrow_mut() = Ok(re.clone());
    let weaks: Vec<_> = [&v, &d, &m, &t, &bx, &tu, &ar, &re]
        .iter()
        .map(|g| Gc::downgrade(g))
        .collect();
    drop((v, d, m, t, bx, tu, ar, re, seed));
    assert_eq!(gc_api::collect(), 9);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert!(weak_seed.upgrade().is_none());
}

#[derive(Trace, Finalize)]
struct Big {
    next: RefCell<Option<Gc<Big>>>,
    payload: [u64; 100],
    #[gc(skip)]
    drops: Drops,
}

impl Drop for Big {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn cycle_of_large_objects_is_collected() {
    reset_heap();
    let drops = Drops::default();
    let a = Gc::new(Big {
        next: RefCell::new(None),
        payload: [1; 100],
        drops: drops.clone(),
    });
    let b = Gc::new(Big {
        next: RefCell::new(Some(a.clone())),
        payload: [2; 100],
        drops: drops.clone(),
    });
    *a.next.borrow_mut() = Some(b.clone());
    assert!(Gc::is_tracked(&a));
    assert_eq!(a.payload[99] + b.payload[0], 3);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[derive(Trace, Finalize)]
#[repr(align(64))]
struct Aligned {
    next: RefCell<Option<Gc<Aligned>>>,
    value: u8,
}

#[test]
fn cycle_of_over_aligned_objects_is_collected() {
    reset_heap();
    let a = Gc::new(Aligned {
        next: RefCell::new(None),
        value: 1,
    });
    let b = Gc::new(Aligned {
        next: RefCell::new(Some(a.clone())),
        value: 2,
    });
    *a.next.borrow_mut() = Some(b.clone());
    assert_eq!(std::ptr::from_ref::<Aligned>(&a) as usize % 64, 0);
    assert_eq!(std::ptr::from_ref::<Aligned>(&b) as usize % 64, 0);
    assert_eq!(a.value + b.value, 3);
    let w = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert!(w.upgrade().is_none());
}

#[test]
fn young_collection_leaves_older_cycles_alone() {
    reset_heap();
    let drops = Drops::default();
    let old = ring(4, &drops);
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    // The ring is now in generation 1; it becomes garbage there.
    drop(old);
    let young = ring(3, &drops);
    drop(young);
    assert_eq!(gc_api::collect_generation(0), Ok(3), "only the young ring");
    assert_eq!(drops.get(), 3);
    assert_eq!(gc_api::collect_generation(1), Ok(4));
    assert_eq!(drops.get(), 7);
}

#[test]
fn reference_from_an_older_generation_keeps_a_young_cycle() {
    reset_heap();
    let drops = Drops::default();
    let old = node(&drops);
    gc_api::collect();
    let young = ring(3, &drops);
    link(&old, &young);
    drop(young);
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(drops.get(), 0);
    *old.next.borrow_mut() = None;
    // The ring moved up to generation 1 with the last collection.
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::collect_generation(1), Ok(3));
    assert_eq!(drops.get(), 3);
}

#[test]
fn collection_with_nothing_to_do_returns_zero() {
    reset_heap();
    assert_eq!(gc_api::collect(), 0);
    for g in 0..3 {
        assert_eq!(gc_api::collect_generation(g), Ok(0));
    }
}

#[test]
fn collect_generation_out_of_range_is_an_error() {
    reset_heap();
    let err = gc_api::collect_generation(3).unwrap_err();
    assert!(!err.to_string().is_empty());
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains('3'));
}

thread_local! {
    static SMUGGLED: RefCell<Vec<Gc<Smuggler>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace, Finalize)]
struct Smuggler {
    next: RefCell<Option<Gc<Smuggler>>>,
    value: u32,
}

impl Drop for Smuggler {
    fn drop(&mut self) {
        // Smuggles the neighbour's handle out of the garbage.
        if let Some(next) = self.next.borrow_mut().take() {
            SMUGGLED.with(|s| s.borrow_mut().push(next));
        }
    }
}

#[test]
fn handle_smuggled_out_of_garbage_by_drop_sees_the_object_dead() {
    reset_heap();
    let a = Gc::new(Smuggler {
        next: RefCell::new(None),
        value: 7,
    });
    let b = Gc::new(Smuggler {
        next: RefCell::new(Some(a.clone())),
        value: 8,
    });
    *a.next.borrow_mut() = Some(b.clone());
    assert!(!Gc::is_dead(&a));
    assert_eq!(Gc::try_deref(&a).map(|s| s.value), Some(7));
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    let smuggled = SMUGGLED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    assert!(!smuggled.is_empty());
    for g in &smuggled {
        assert!(Gc::is_dead(g));
        assert!(Gc::try_deref(g).is_none());
        let cloned = g.clone();
        assert!(Gc::is_dead(&cloned));
        let deref = catch_unwind(AssertUnwindSafe(|| cloned.value));
        assert!(deref.is_err(), "Deref of a dead handle panics");
    }
    drop(smuggled);
    assert_eq!(gc_api::collect(), 0);
}

#[derive(Trace, Finalize)]
struct Bomb {
    next: RefCell<Option<Gc<Bomb>>>,
    #[gc(skip)]
    drops: Drops,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if self.drops.get() == 1 {
            panic!("boom in drop");
        }
    }
}

#[test]
fn panic_in_drop_during_collection_leaves_the_heap_consistent() {
    reset_heap();
    let drops = Drops::default();
    let mk = || {
        Gc::new(Bomb {
            next: RefCell::new(None),
            drops: drops.clone(),
        })
    };
    let a = mk();
    let b = mk();
    let c = mk();
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(c.clone());
    *c.next.borrow_mut() = Some(a.clone());
    drop((a, b, c));
    let result = catch_unwind(gc_api::collect);
    assert!(result.is_err(), "the panic propagates");
    // The collection finished anyway (or the next one does): all three go, once each.
    gc_api::collect();
    assert_eq!(drops.get(), 3);
    // The heap still works.
    let other = Drops::default();
    drop(ring(3, &other));
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(other.get(), 3);
}

#[test]
fn mutably_borrowed_refcell_makes_its_object_reachable_for_that_collection() {
    reset_heap();
    let drops = Drops::default();
    let a = node(&drops);
    let b = node(&drops);
    link(&a, &b);
    link(&b, &a);
    let weak_a = Gc::downgrade(&a);
    {
        // While `b.next` is mutably borrowed, the collection cannot see its edge.
        let guard = b.next.borrow_mut();
        drop(a);
        assert_eq!(gc_api::collect(), 0, "conservative, never a panic");
        drop(guard);
    }
    assert!(weak_a.upgrade().is_some());
    drop(b);
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[test]
fn collecting_many_small_cycles_repeatedly_frees_everything() {
    reset_heap();
    let drops = Drops::default();
    let before = gc_api::malloc_stats().blocks_in_use();
    for round in 1..=20 {
        for n in 1..=10 {
            drop(ring(n, &drops));
        }
        assert_eq!(gc_api::collect(), 55);
        assert_eq!(drops.get(), 55 * round);
    }
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), before);
}

thread_local! {
    static MADE_IN_DROP: Cell<usize> = const { Cell::new(0) };
}

#[derive(Trace, Finalize)]
struct Allocating {
    next: RefCell<Option<Gc<Allocating>>>,
    #[gc(skip)]
    drops: Drops,
}

impl Drop for Allocating {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        // New garbage from inside a free: with tiny thresholds this runs automatic
        // collections in the middle of the refcount free loop and of delete_garbage.
        let other = Drops::default();
        drop(ring(2, &other));
        MADE_IN_DROP.with(|m| m.set(m.get() + 2));
    }
}

#[test]
fn drops_that_allocate_trigger_collections_safely_mid_free() {
    reset_heap();
    gc_api::set_threshold([3, 1, 1]);
    gc_api::enable();
    let drops = Drops::default();
    let mk = || {
        Gc::new(Allocating {
            next: RefCell::new(None),
            drops: drops.clone(),
        })
    };
    // A chain freed by refcounting.
    let head = mk();
    let mut tail = head.clone();
    for _ in 0..500 {
        let n = mk();
        *tail.next.borrow_mut() = Some(n.clone());
        tail = n;
    }
    drop(tail);
    drop(head);
    assert_eq!(drops.get(), 501);
    // A ring freed by the collector.
    let first = mk();
    let mut prev = first.clone();
    for _ in 0..500 {
        let n = mk();
        *prev.next.borrow_mut() = Some(n.clone());
        prev = n;
    }
    *prev.next.borrow_mut() = Some(first.clone());
    drop((first, prev));
    gc_api::disable();
    gc_api::set_threshold([700, 10, 10]);
    gc_api::collect();
    gc_api::collect();
    assert_eq!(drops.get(), 1002);
    // Every ring made inside a Drop was collected too.
    assert_eq!(gc_api::collect(), 0);
    assert!(gc_api::get_objects(None).unwrap().is_empty());
    assert_eq!(MADE_IN_DROP.with(Cell::get), 2 * 1002);
}

thread_local! {
    static TRACE_PANICS: Cell<bool> = const { Cell::new(false) };
}

struct Fragile {
    next: RefCell<Option<Gc<Fragile>>>,
}

// SAFETY: reports its one handle once; it may panic instead, which the collector survives.
unsafe impl Trace for Fragile {
    fn trace(&self, tracer: &mut gc_api::Tracer) {
        if TRACE_PANICS.with(Cell::get) {
            panic!("trace panics");
        }
        self.next.trace(tracer);
    }
}

impl Finalize for Fragile {}

#[test]
fn a_panicking_trace_makes_the_collection_keep_everything() {
    reset_heap();
    let a = Gc::new(Fragile {
        next: RefCell::new(None),
    });
    *a.next.borrow_mut() = Some(a.clone());
    let w = Gc::downgrade(&a);
    drop(a);
    TRACE_PANICS.with(|t| t.set(true));
    let result = catch_unwind(gc_api::collect);
    TRACE_PANICS.with(|t| t.set(false));
    assert!(result.is_err(), "the panic propagates");
    let a = w.upgrade().expect("nothing was freed");
    assert!(!Gc::is_dead(&a));
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert!(w.upgrade().is_none());
}

/// A wrong `Trace`: reports its edge to `target` twice.
struct TooMany {
    target: Gc<Node>,
    me: RefCell<Option<Gc<TooMany>>>,
}

// SAFETY: not kept on purpose (reports `target` twice): the test shows what breaking rule 2
// does, a dead handle, never freed memory, as long as no `&Node` is held across the collect.
unsafe impl Trace for TooMany {
    fn trace(&self, tracer: &mut gc_api::Tracer) {
        self.target.trace(tracer);
        self.target.trace(tracer);
        self.me.trace(tracer);
    }
}

impl Finalize for TooMany {}

#[test]
fn a_trace_with_too_many_edges_makes_a_held_object_dead_never_freed() {
    reset_heap();
    let drops = Drops::default();
    let keep = node(&drops);
    let wrong = Gc::new(TooMany {
        target: keep.clone(),
        me: RefCell::new(None),
    });
    *wrong.me.borrow_mut() = Some(wrong.clone());
    drop(wrong);
    // `keep` has two handles and two reported edges: the collector takes it for garbage
    // (documented), drops its value, and the handle then sees it dead.
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 1);
    assert!(Gc::is_dead(&keep));
    assert!(Gc::try_deref(&keep).is_none());
    assert_eq!(Gc::strong_count(&keep), 1, "the memory is still held");
    assert!(gc_api::object_at(Gc::id(&keep)).is_none());
    assert!(catch_unwind(AssertUnwindSafe(|| keep.next.borrow().is_none())).is_err());
    drop(keep);
    assert_eq!(drops.get(), 1, "no second drop");
    assert_eq!(gc_api::collect(), 0);
}
