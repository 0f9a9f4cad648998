//! What language-runtime authors reach for: trait objects, slices and strings in a `Gc`,
//! `new_cyclic`, the rest of `Rc`'s API, finalizers that get their object, more std and
//! third-party containers, derive bounds, and the opt-in byte trigger.

use gc_api::{Finalize, Gc, Trace, Tracer, Weak, coerce_gc, trace_box_dyn};
use gc_tests::{Tally, blocks_in_use, reset_heap};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeSet, BinaryHeap, HashSet, LinkedList};
use std::marker::PhantomData;
use std::rc::Rc;

// ---------------------------------------------------------------------------------------
// Trait objects
// ---------------------------------------------------------------------------------------

/// An interpreter's object model: shapes that can point at other shapes.
trait Shape: Trace {
    fn area(&self) -> f64;
    fn link(&self, to: Gc<dyn Shape>);
}

#[derive(Trace, Finalize)]
struct Circle {
    r: f64,
    next: RefCell<Option<Gc<dyn Shape>>>,
    #[gc(skip)]
    drops: Rc<Tally>,
}

#[derive(Trace, Finalize)]
struct Square {
    side: f64,
    next: RefCell<Option<Gc<dyn Shape>>>,
    #[gc(skip)]
    drops: Rc<Tally>,
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        3.0 * self.r * self.r
    }
    fn link(&self, to: Gc<dyn Shape>) {
        *self.next.borrow_mut() = Some(to);
    }
}

impl Shape for Square {
    fn area(&self) -> f64 {
        self.side * self.side
    }
    fn link(&self, to: Gc<dyn Shape>) {
        *self.next.borrow_mut() = Some(to);
    }
}

impl Drop for Circle {
    fn drop(&mut self) {
        self.drops.hit(0);
    }
}

impl Drop for Square {
    fn drop(&mut self) {
        self.drops.hit(1);
    }
}

#[test]
fn a_cycle_of_mixed_trait_objects_is_collected() {
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    let shapes: Vec<Gc<dyn Shape>> = (0..6)
        .map(|i| -> Gc<dyn Shape> {
            if i % 2 == 0 {
                coerce_gc!(Gc::new(Circle {
                    r: 1.0,
                    next: RefCell::new(None),
                    drops: drops.clone(),
                }))
            } else {
                coerce_gc!(Gc::new(Square {
                    side: 2.0,
                    next: RefCell::new(None),
                    drops: drops.clone(),
                }))
            }
        })
        .collect();
    for (i, s) in shapes.iter().enumerate() {
        s.link(shapes[(i + 1) % shapes.len()].clone());
    }
    assert!(
        shapes.iter().all(Gc::is_tracked),
        "tracked: the concrete types are"
    );
    let total: f64 = shapes.iter().map(|s| s.area()).sum();
    assert_eq!(total, 3.0 * 3.0 + 3.0 * 4.0);
    let any: gc_api::GcAny = shapes[0].clone().into();
    assert!(any.type_name().ends_with("Circle"));
    drop(any);
    drop(shapes);
    assert_eq!(drops.total(), 0, "the ring keeps itself alive");
    assert_eq!(gc_api::collect(), 6);
    assert_eq!((drops.get(0), drops.get(1)), (3, 3));
    assert_eq!(blocks_in_use(), baseline);
}

trait Op: Trace {
    fn apply(&self, x: i64) -> i64;
}
trace_box_dyn!(Op);

#[derive(Trace, Finalize)]
struct AddTo {
    amount: i64,
    /// A handle inside a boxed trait object: the collector sees it through the box.
    back: RefCell<Option<Gc<Pipeline>>>,
}

impl Op for AddTo {
    fn apply(&self, x: i64) -> i64 {
        x + self.amount
    }
}

#[derive(Trace, Finalize)]
struct Pipeline {
    ops: Vec<Box<dyn Op>>,
}

#[test]
fn boxed_trait_objects_are_traced_through() {
    reset_heap();
    let p = Gc::new(Pipeline {
        ops: vec![Box::new(AddTo {
            amount: 2,
            back: RefCell::new(None),
        })],
    });
    assert_eq!(p.ops[0].apply(1), 3);
    // Close a cycle through the box: only the box's trace shows that edge.
    let referents = gc_api::get_referents(&[p.clone().into()]);
    assert!(referents.is_empty());
    let w = Gc::downgrade(&p);
    drop(p);
    assert!(w.upgrade().is_none(), "no cycle yet: freed by refcounting");
}

// ---------------------------------------------------------------------------------------
// Slices and strings
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Holder {
    items: RefCell<Option<Gc<[Gc<Holder>]>>>,
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn a_slice_of_handles_in_a_cycle_is_collected() {
    let baseline = reset_heap();
    let drops = Rc::new(Cell::new(0));
    let holders: Vec<Gc<Holder>> = (0..3)
        .map(|_| {
            Gc::new(Holder {
                items: RefCell::new(None),
                drops: drops.clone(),
            })
        })
        .collect();
    let slice: Gc<[Gc<Holder>]> = Gc::from(holders.clone());
    assert!(Gc::is_tracked(&slice));
    assert_eq!(slice.len(), 3);
    for h in &holders {
        *h.items.borrow_mut() = Some(slice.clone());
    }
    let any: gc_api::GcAny = slice.clone().into();
    assert_eq!(
        gc_api::get_referents(&[any]).len(),
        3,
        "every item is an edge"
    );
    drop((holders, slice));
    assert_eq!(drops.get(), 0);
    assert_eq!(gc_api::collect(), 4, "three holders and the slice");
    assert_eq!(drops.get(), 3);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn slices_and_strings_convert_from_std_types() {
    let baseline = reset_heap();
    let a: Gc<[u32]> = vec![1, 2, 3].into();
    let b: Gc<[u32]> = Gc::from(&[4u32, 5][..]);
    let c: Gc<[u64]> = (1..=100u64).collect();
    assert_eq!(&*a, &[1, 2, 3]);
    assert_eq!(&*b, &[4, 5]);
    assert_eq!(c.iter().sum::<u64>(), 5050);
    assert!(!Gc::is_tracked(&a) && !Gc::is_tracked(&c));
    let empty: Gc<[String]> = Vec::new().into();
    assert!(empty.is_empty());
    let s: Gc<str> = "hello".into();
    let t: Gc<str> = Gc::from(String::from("world"));
    assert_eq!(format!("{s} {t}"), "hello world");
    assert_eq!(s, Gc::from("hello"));
    let owned: Gc<[String]> = vec!["x".to_string(), "y".to_string()].into();
    assert_eq!(owned.concat(), "xy");
    let found = gc_api::object_at(Gc::id(&s)).expect("a live object");
    assert_eq!(found.type_name(), "str");
    drop(found);
    let clone = s.clone();
    assert!(Gc::ptr_eq(&s, &clone));
    drop((a, b, c, empty, s, t, owned, clone));
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// Construction and ownership
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Parent {
    me: Weak<Parent>,
    children: RefCell<Vec<Gc<Child>>>,
}

#[derive(Trace, Finalize)]
struct Child {
    parent: Weak<Parent>,
}

#[test]
fn new_cyclic_builds_a_self_cycle_that_is_collected() {
    let baseline = reset_heap();
    let made = Gc::new_cyclic(|me: &Weak<Parent>| {
        assert!(me.upgrade().is_none(), "the object is not built yet");
        Parent {
            me: me.clone(),
            children: RefCell::new(vec![Gc::new(Child { parent: me.clone() })]),
        }
    });
    assert!(Gc::ptr_eq(&made.me.upgrade().unwrap(), &made));
    let child_parent = made.children.borrow()[0].parent.upgrade().unwrap();
    assert!(Gc::ptr_eq(&child_parent, &made));
    drop((made, child_parent));
    assert_eq!(
        gc_api::collect(),
        0,
        "weak back-references only: freed by refcounting"
    );

    // A strong self-cycle: `new_cyclic` hands out a weak reference, which upgrades once
    // the object exists; the value stores the strong handle through a cell.
    #[derive(Trace, Finalize)]
    struct Looper {
        me: RefCell<Option<Gc<Looper>>>,
        weak: Weak<Looper>,
    }
    let l = Gc::new_cyclic(|me| Looper {
        me: RefCell::new(None),
        weak: me.clone(),
    });
    *l.me.borrow_mut() = l.weak.upgrade();
    drop(l);
    assert_eq!(
        gc_api::collect(),
        2,
        "the object and its weak reference cell"
    );
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn new_cyclic_whose_closure_panics_makes_nothing() {
    let baseline = reset_heap();
    let escaped: Rc<RefCell<Option<Weak<Parent>>>> = Rc::default();
    let keep = escaped.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Gc::new_cyclic(|me: &Weak<Parent>| -> Parent {
            *keep.borrow_mut() = Some(me.clone());
            panic!("no value")
        })
    }));
    assert!(result.is_err());
    let w = escaped.borrow_mut().take().unwrap();
    assert!(w.upgrade().is_none());
    drop(w);
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn try_unwrap_and_get_mut_need_the_only_handle_and_no_weak() {
    let baseline = reset_heap();
    let mut a = Gc::new(vec![1, 2]);
    let b = a.clone();
    assert!(Gc::get_mut(&mut a).is_none(), "a second handle exists");
    let a2 = Gc::try_unwrap(a).expect_err("a second handle exists");
    drop(b);
    let mut a = a2;
    let w = Gc::downgrade(&a);
    assert_eq!(Gc::weak_count(&a), 1);
    assert!(Gc::get_mut(&mut a).is_none(), "a weak reference exists");
    drop(w);
    assert_eq!(Gc::weak_count(&a), 0);
    Gc::get_mut(&mut a).expect("unique").push(3);
    assert_eq!(*a, [1, 2, 3]);
    let w = Gc::downgrade(&a);
    let v = Gc::try_unwrap(a).expect("the only strong handle");
    assert_eq!(v, [1, 2, 3]);
    assert!(w.upgrade().is_none(), "its weak references died");
    drop(w);
    assert_eq!(Gc::into_inner(Gc::new(7)), Some(7));
    let shared = Gc::new(8);
    let other = shared.clone();
    assert_eq!(Gc::into_inner(shared), None);
    assert_eq!(*other, 8);
    drop(other);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn make_mut_clones_only_when_shared() {
    reset_heap();
    let mut a = Gc::new(String::from("a"));
    let id = Gc::id(&a);
    Gc::make_mut(&mut a).push('!');
    assert_eq!(Gc::id(&a), id, "unique: changed in place");
    let b = a.clone();
    Gc::make_mut(&mut a).push('?');
    assert_ne!(Gc::id(&a), Gc::id(&b), "shared: cloned first");
    assert_eq!((&**a, &**b), ("a!?", "a!"));
}

#[derive(Trace, Finalize)]
struct Link {
    next: RefCell<Option<Gc<Link>>>,
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn an_object_lent_out_by_get_mut_still_has_its_cycles_collected() {
    let baseline = reset_heap();
    let drops = Rc::new(Cell::new(0));
    let mut a = Gc::new(Link {
        next: RefCell::new(None),
        drops: drops.clone(),
    });
    let b = Gc::new(Link {
        next: RefCell::new(None),
        drops: drops.clone(),
    });
    // Through `get_mut` (the object leaves the lists while lent), then the handle is
    // moved into `b` without being used again: a -> b -> a.
    *Gc::get_mut(&mut a).unwrap().next.get_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a);
    drop(b);
    let mut collected = 0;
    for _ in 0..3 {
        collected += gc_api::collect();
    }
    assert_eq!(
        collected, 2,
        "the loan ends when a trace reports the handle"
    );
    assert_eq!(drops.get(), 2);
    assert_eq!(blocks_in_use(), baseline);

    // Used again (deref): back on the lists at once.
    let mut c = Gc::new(Link {
        next: RefCell::new(None),
        drops: drops.clone(),
    });
    let _ = Gc::get_mut(&mut c).unwrap();
    assert!(c.next.borrow().is_none());
    assert!(
        gc_api::get_objects(None)
            .unwrap()
            .iter()
            .any(|o| o.id() == Gc::id(&c))
    );
}

#[test]
fn raw_pointers_counts_and_weak_new() {
    let baseline = reset_heap();
    let g = Gc::new(String::from("raw"));
    let p = Gc::as_ptr(&g);
    // SAFETY: `g` keeps the object alive.
    assert_eq!(unsafe { &*p }, "raw");
    let raw = Gc::into_raw(g.clone());
    assert_eq!(Gc::strong_count(&g), 2);
    // SAFETY: from `into_raw`, once.
    let back = unsafe { Gc::from_raw(raw) };
    assert!(Gc::ptr_eq(&back, &g));
    let s: Gc<dyn std::fmt::Display> = coerce_gc!(back);
    assert_eq!(s.to_string(), "raw");
    let raw_dyn = Gc::into_raw(s);
    // SAFETY: from `into_raw` of the same unsized type, once.
    let s2: Gc<dyn std::fmt::Display> = unsafe { Gc::from_raw(raw_dyn) };
    assert_eq!(s2.to_string(), "raw");
    drop(s2);
    let w1 = Gc::downgrade(&g);
    let w2 = w1.clone();
    let w3 = Gc::downgrade(&g);
    assert_eq!(Gc::weak_count(&g), 3);
    assert_eq!(w1.strong_count(), 1);
    assert!(Weak::ptr_eq(&w1, &w2) && !Weak::ptr_eq(&w1, &w3));
    let never: Weak<String> = Weak::new();
    assert!(never.upgrade().is_none() && never.strong_count() == 0);
    assert!(Weak::ptr_eq(&never, &Weak::default()));
    let d: Gc<Vec<u8>> = Gc::default();
    let from_value: Gc<u16> = 3.into();
    let from_box: Gc<u16> = Gc::from(Box::new(4u16));
    assert!(d.is_empty() && *from_value == 3 && *from_box == 4);
    drop((g, w1, w2, w3, never, d, from_value, from_box));
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// Finalizers with their object
// ---------------------------------------------------------------------------------------

thread_local! {
    static DYING: RefCell<Vec<Gc<Record>>> = const { RefCell::new(Vec::new()) };
    static SAW_WEAK: RefCell<Vec<bool>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace)]
struct Record {
    id: u32,
    me: RefCell<Option<Gc<Record>>>,
    watcher: RefCell<Option<Weak<Record>>>,
}

impl Finalize for Record {
    fn finalize(&self) {
        let me = Gc::finalizing(self).expect("the object being finalized");
        assert_eq!(me.id, self.id);
        let upgrades = self
            .watcher
            .borrow()
            .as_ref()
            .is_some_and(|w| w.upgrade().is_some());
        SAW_WEAK.with(|s| s.borrow_mut().push(upgrades));
        DYING.with(|d| d.borrow_mut().push(me));
    }
}

#[test]
fn a_finalizer_gets_its_object_and_may_resurrect_it() {
    reset_heap();
    // Dying by refcounting: weak references still upgrade during the finalizer.
    let r = Gc::new(Record {
        id: 1,
        me: RefCell::new(None),
        watcher: RefCell::new(None),
    });
    *r.watcher.borrow_mut() = Some(Gc::downgrade(&r));
    drop(r);
    // Dying in a garbage cycle: weak references are already cleared.
    let c = Gc::new(Record {
        id: 2,
        me: RefCell::new(None),
        watcher: RefCell::new(None),
    });
    *c.me.borrow_mut() = Some(c.clone());
    *c.watcher.borrow_mut() = Some(Gc::downgrade(&c));
    drop(c);
    assert_eq!(gc_api::collect(), 0, "resurrected by its finalizer");
    assert_eq!(SAW_WEAK.with(|s| s.borrow().clone()), [true, false]);
    let kept = DYING.with(|d| std::mem::take(&mut *d.borrow_mut()));
    assert_eq!(kept.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
    assert!(kept.iter().all(Gc::is_finalized));
    // Not the object being finalized: no handle.
    let outside = Record {
        id: 3,
        me: RefCell::new(None),
        watcher: RefCell::new(None),
    };
    assert!(Gc::finalizing(&outside).is_none());
    // Let go: freed without a second finalizer call.
    kept[1].me.borrow_mut().take();
    drop(kept);
    assert_eq!(gc_api::collect(), 0);
    assert!(
        DYING.with(|d| d.borrow().is_empty()),
        "each finalizer ran once"
    );
}

// ---------------------------------------------------------------------------------------
// More std types, third-party containers
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Cells {
    cell: Cell<Option<Gc<Cells>>>,
    once: OnceCell<Gc<Cells>>,
    list: RefCell<LinkedList<Gc<Cells>>>,
    heap: RefCell<BinaryHeap<u32>>,
    set: RefCell<HashSet<u64>>,
    tree: RefCell<BTreeSet<String>>,
    shared: Rc<Vec<u8>>,
    callback: fn(u32) -> u32,
    marker: PhantomData<*const u8>,
}

fn cells() -> Gc<Cells> {
    Gc::new(Cells {
        cell: Cell::new(None),
        once: OnceCell::new(),
        list: RefCell::new(LinkedList::new()),
        heap: RefCell::new(BinaryHeap::from([3, 1, 2])),
        set: RefCell::new(HashSet::from([1])),
        tree: RefCell::new(BTreeSet::from(["a".into()])),
        shared: Rc::new(vec![1]),
        callback: |x| x + 1,
        marker: PhantomData,
    })
}

#[test]
fn cycles_through_cell_once_cell_and_linked_list_are_collected() {
    let baseline = reset_heap();
    for way in 0..3 {
        let a = cells();
        let b = cells();
        match way {
            0 => {
                a.cell.set(Some(b.clone()));
                b.cell.set(Some(a.clone()));
            }
            1 => {
                let _ = a.once.set(b.clone());
                let _ = b.once.set(a.clone());
            }
            _ => {
                a.list.borrow_mut().push_back(b.clone());
                b.list.borrow_mut().push_front(a.clone());
            }
        }
        assert_eq!((a.callback)(1), 2);
        assert_eq!(*a.heap.borrow().peek().unwrap(), 3);
        let referents = gc_api::get_referents(&[a.clone().into()]);
        assert_eq!(referents.len(), 1, "way {way}: the edge is seen");
        assert!(a.cell.take().is_some() == (way == 0) || way != 0);
        if way == 0 {
            a.cell.set(Some(b.clone()));
        }
        drop((a, b, referents));
        assert_eq!(gc_api::collect(), 2, "way {way}");
    }
    assert_eq!(blocks_in_use(), baseline);
}

#[derive(Trace, Finalize)]
struct ViaRc {
    hidden: Rc<RefCell<Option<Gc<ViaRc>>>>,
}

#[test]
fn rc_and_arc_are_leaves_a_cycle_through_them_leaks_safely() {
    reset_heap();
    let a = Gc::new(ViaRc {
        hidden: Rc::default(),
    });
    *a.hidden.borrow_mut() = Some(a.clone());
    assert!(gc_api::get_referents(&[a.clone().into()]).is_empty());
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(
        gc_api::collect(),
        0,
        "the edge inside the Rc is not seen: a leak"
    );
    let a = w
        .upgrade()
        .expect("still alive, never freed under its handle");
    a.hidden.borrow_mut().take();
    drop((a, w));
}

#[derive(Trace, Finalize)]
struct ThirdParty {
    map: RefCell<hashbrown::HashMap<u32, Gc<ThirdParty>>>,
    index: RefCell<indexmap::IndexMap<String, Gc<ThirdParty>>>,
    small: RefCell<smallvec::SmallVec<[Gc<ThirdParty>; 2]>>,
}

fn third_party() -> Gc<ThirdParty> {
    Gc::new(ThirdParty {
        map: RefCell::default(),
        index: RefCell::default(),
        small: RefCell::default(),
    })
}

#[test]
fn hashbrown_indexmap_and_smallvec_containers_are_traced() {
    let baseline = reset_heap();
    for way in 0..3 {
        let a = third_party();
        let b = third_party();
        match way {
            0 => {
                a.map.borrow_mut().insert(1, b.clone());
                b.map.borrow_mut().insert(2, a.clone());
            }
            1 => {
                a.index.borrow_mut().insert("b".into(), b.clone());
                b.index.borrow_mut().insert("a".into(), a.clone());
            }
            _ => {
                a.small.borrow_mut().push(b.clone());
                b.small.borrow_mut().push(a.clone());
            }
        }
        drop((a, b));
        assert_eq!(gc_api::collect(), 2, "way {way}");
    }
    assert_eq!(blocks_in_use(), baseline);
}

// ---------------------------------------------------------------------------------------
// Derive bounds
// ---------------------------------------------------------------------------------------

/// Not `Trace`.
struct Opaque(u32);

#[derive(Trace, Finalize)]
struct W<T: 'static> {
    #[gc(skip)]
    t: T,
    next: RefCell<Option<Gc<W<T>>>>,
}

#[derive(Trace, Finalize)]
struct Tagged<T> {
    value: u64,
    tag: PhantomData<T>,
}

#[derive(Trace, Finalize)]
#[gc(bound = "T: Trace + Clone")]
struct Explicit<T> {
    items: Vec<T>,
}

#[test]
fn parameters_only_in_skipped_fields_or_phantom_data_need_no_trace() {
    reset_heap();
    let w = Gc::new(W {
        t: Opaque(1),
        next: RefCell::new(None),
    });
    assert_eq!(w.t.0, 1);
    *w.next.borrow_mut() = Some(w.clone());
    let t = Gc::new(Tagged::<Opaque> {
        value: 2,
        tag: PhantomData,
    });
    assert!(!Gc::is_tracked(&t), "a PhantomData holds no Gc");
    assert_eq!(t.value, 2);
    let e = Gc::new(Explicit { items: vec![1u8] });
    assert_eq!(e.items.len(), 1);
    drop(w);
    assert_eq!(gc_api::collect(), 1);
}

// ---------------------------------------------------------------------------------------
// The byte trigger
// ---------------------------------------------------------------------------------------

#[derive(Trace, Finalize)]
struct Loop {
    me: RefCell<Option<Gc<Loop>>>,
}

/// A garbage self-cycle, then `n` untracked `Gc<String>` allocations; whether the cycle
/// was freed.
fn cycle_then_strings(n: usize) -> bool {
    let l = Gc::new(Loop {
        me: RefCell::new(None),
    });
    *l.me.borrow_mut() = Some(l.clone());
    let w = Gc::downgrade(&l);
    drop(l);
    for i in 0..n {
        drop(Gc::new(format!("{i:08}")));
    }
    w.upgrade().is_none()
}

#[test]
fn the_byte_trigger_collects_a_cycle_among_a_million_untracked_allocations() {
    reset_heap();
    gc_api::enable();
    assert_eq!(gc_api::get_memory_threshold(), None);
    let count = gc_api::get_count();
    assert!(
        !cycle_then_strings(1_000_000),
        "untracked allocations do not advance the count: no collection"
    );
    assert_eq!(
        gc_api::get_count()[0],
        count[0] + 1,
        "the cycle counted; its weak cell came and went"
    );
    gc_api::collect();
    let before = gc_api::get_stats()[0].collections;
    gc_api::set_memory_threshold(Some(1 << 20));
    assert!(
        cycle_then_strings(1_000_000),
        "the byte trigger collected it"
    );
    assert!(gc_api::get_stats()[0].collections > before);
    gc_api::set_memory_threshold(None);
    gc_api::disable();
    gc_api::collect();
}

// ---------------------------------------------------------------------------------------
// A hand-written impl for a dyn-compatible use of `Trace`
// ---------------------------------------------------------------------------------------

struct Erased {
    inner: Box<dyn Trace>,
}

// SAFETY: reports exactly what the boxed value reports.
unsafe impl Trace for Erased {
    fn trace(&self, tracer: &mut Tracer) {
        self.inner.trace(tracer)
    }
}

impl Finalize for Erased {}

#[test]
fn dyn_trace_values_are_traced() {
    reset_heap();
    let target = Gc::new(5u8);
    let e = Gc::new(Erased {
        inner: Box::new(vec![target.clone()]),
    });
    let referents = gc_api::get_referents(&[e.into()]);
    assert_eq!(referents.len(), 1);
    assert_eq!(referents[0].id(), Gc::id(&target));
}
