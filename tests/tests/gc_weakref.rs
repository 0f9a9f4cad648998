//! Weak references and their callbacks (CPython 3.12 rules, test_gc.py's
//! test_bug1055820* and test_callback_in_cycle*, test_weakref.py basics).

use gc_api::{Finalize, Gc, Trace, Weak};
use gc_tests::reset_heap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.borrow_mut().push(entry.into());
}

#[derive(Trace, Finalize)]
struct Node {
    name: &'static str,
    next: RefCell<Option<Gc<Node>>>,
    weak: RefCell<Option<Weak<Node>>>,
}

fn node(name: &'static str) -> Gc<Node> {
    Gc::new(Node {
        name,
        next: RefCell::new(None),
        weak: RefCell::new(None),
    })
}

fn link(from: &Gc<Node>, to: &Gc<Node>) {
    *from.next.borrow_mut() = Some(to.clone());
}

/// A counter a callback bumps.
fn counter() -> (Rc<Cell<usize>>, impl FnOnce() + 'static) {
    let c = Rc::new(Cell::new(0));
    let c2 = c.clone();
    (c, move || c2.set(c2.get() + 1))
}

#[test]
fn upgrade_while_alive_and_none_after_the_last_handle() {
    reset_heap();
    let a = node("a");
    let w = Gc::downgrade(&a);
    assert!(!w.is_dead());
    let up = w.upgrade().expect("alive");
    assert!(Gc::ptr_eq(&up, &a));
    assert_eq!(Gc::strong_count(&a), 2);
    assert_eq!(w.strong_count(), 2);
    drop(up);
    assert_eq!(w.strong_count(), 1);
    assert_eq!(
        Gc::strong_count(&a),
        1,
        "a weak reference is not a strong one"
    );
    drop(a);
    assert!(w.upgrade().is_none());
    assert!(w.is_dead());
    assert_eq!(w.strong_count(), 0);
}

#[test]
fn weak_references_to_untracked_objects_work() {
    reset_heap();
    let s = Gc::new(String::from("hello"));
    let w = Gc::downgrade(&s);
    assert_eq!(w.upgrade().as_deref().map(String::as_str), Some("hello"));
    let (calls, cb) = counter();
    let w2 = Weak::with_callback(&s, cb);
    drop(s);
    assert!(w.upgrade().is_none());
    assert!(w2.upgrade().is_none());
    assert_eq!(calls.get(), 1);
}

#[test]
fn clones_are_the_same_weak_reference() {
    reset_heap();
    let a = node("a");
    let w1 = Gc::downgrade(&a);
    let w2 = w1.clone();
    let other = Gc::downgrade(&a);
    assert!(Weak::ptr_eq(&w1, &w2));
    assert!(!Weak::ptr_eq(&w1, &other));
    drop(a);
    assert!(w1.upgrade().is_none() && w2.upgrade().is_none() && other.upgrade().is_none());
}

#[test]
fn callback_runs_once_when_refcounting_frees_the_target() {
    reset_heap();
    let a = node("a");
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    let w2 = w.clone();
    assert_eq!(calls.get(), 0);
    drop(a);
    assert_eq!(calls.get(), 1, "once, even with two clones alive");
    drop((w, w2));
    gc_api::collect();
    assert_eq!(calls.get(), 1);
}

#[test]
fn callback_sees_the_weak_reference_already_dead() {
    reset_heap();
    let a = node("a");
    let seen: Rc<RefCell<Option<bool>>> = Rc::default();
    let slot: Rc<RefCell<Option<Weak<Node>>>> = Rc::default();
    let w = {
        let seen = seen.clone();
        let slot = slot.clone();
        Weak::with_callback(&a, move || {
            let alive = slot.borrow().as_ref().and_then(Weak::upgrade).is_some();
            *seen.borrow_mut() = Some(alive);
        })
    };
    *slot.borrow_mut() = Some(w.clone());
    drop(a);
    assert_eq!(*seen.borrow(), Some(false));
    drop(w);
    slot.borrow_mut().take();
}

#[test]
fn callback_runs_for_garbage_target_when_the_weak_reference_is_outside() {
    reset_heap();
    let a = node("a");
    let b = node("b");
    link(&a, &b);
    link(&b, &a);
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    drop((a, b));
    assert_eq!(calls.get(), 0);
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(calls.get(), 1);
    assert!(w.upgrade().is_none());
    gc_api::collect();
    assert_eq!(calls.get(), 1);
}

#[test]
fn callback_of_a_weak_reference_inside_the_garbage_never_runs() {
    // CPython 3.12: a weakref that is itself part of the garbage does not call back.
    reset_heap();
    let a = node("a");
    let b = node("b");
    link(&a, &b);
    link(&b, &a);
    let (calls, cb) = counter();
    *a.weak.borrow_mut() = Some(Weak::with_callback(&b, cb));
    drop((a, b));
    // Two nodes and the weak reference object held by one of them.
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(calls.get(), 0);
}

#[test]
fn callback_runs_when_a_clone_of_the_garbage_weak_reference_lives_outside() {
    reset_heap();
    let a = node("a");
    link(&a, &a);
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    *a.weak.borrow_mut() = Some(w.clone());
    drop(a);
    // The weak reference object is reachable through `w`: not garbage.
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(calls.get(), 1);
    drop(w);
}

#[test]
fn callback_whose_weak_reference_was_dropped_does_not_run() {
    reset_heap();
    let a = node("a");
    let (calls, cb) = counter();
    let w = Weak::with_callback(&a, cb);
    let w2 = w.clone();
    drop(w);
    drop(w2);
    drop(a);
    assert_eq!(calls.get(), 0, "refcount death");

    let b = node("b");
    link(&b, &b);
    let (calls, cb) = counter();
    drop(Weak::with_callback(&b, cb));
    drop(b);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(calls.get(), 0, "collector death");
}

#[test]
fn weak_references_to_garbage_are_dead_before_finalizers_run() {
    reset_heap();
    let log: Log = Rc::default();
    thread_local! {
        static RESULT: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }
    #[derive(Trace)]
    struct Peeker {
        neighbour: RefCell<Option<Weak<Peeker>>>,
        next: RefCell<Option<Gc<Peeker>>>,
    }
    impl Finalize for Peeker {
        fn finalize(&self) {
            let up = self.neighbour.borrow().as_ref().and_then(Weak::upgrade);
            RESULT.with(|r| {
                r.borrow_mut()
                    .push(if up.is_some() { "some" } else { "none" })
            });
        }
    }
    let mk = || {
        Gc::new(Peeker {
            neighbour: RefCell::new(None),
            next: RefCell::new(None),
        })
    };
    let a = mk();
    let b = mk();
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    *a.neighbour.borrow_mut() = Some(Gc::downgrade(&b));
    *b.neighbour.borrow_mut() = Some(Gc::downgrade(&a));
    let outside = {
        let log = log.clone();
        Weak::with_callback(&a, move || push(&log, "callback"))
    };
    drop((a, b));
    // Two objects and the two weak reference objects they hold.
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(RESULT.with(|r| r.borrow().clone()), ["none", "none"]);
    assert_eq!(*log.borrow(), ["callback"]);
    assert!(outside.upgrade().is_none());
}

#[test]
fn weak_callbacks_run_before_finalizers_in_a_collection() {
    reset_heap();
    thread_local! {
        static ORDER: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }
    #[derive(Trace)]
    struct F {
        me: RefCell<Option<Gc<F>>>,
    }
    impl Finalize for F {
        fn finalize(&self) {
            ORDER.with(|o| o.borrow_mut().push("finalizer"));
        }
    }
    let f = Gc::new(F {
        me: RefCell::new(None),
    });
    *f.me.borrow_mut() = Some(f.clone());
    let _w = Weak::with_callback(&f, || ORDER.with(|o| o.borrow_mut().push("callback")));
    drop(f);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(
        ORDER.with(|o| o.borrow().clone()),
        ["callback", "finalizer"]
    );
}

#[test]
fn callbacks_run_most_recent_first() {
    reset_heap();
    let log: Log = Rc::default();
    let a = node("a");
    let weaks: Vec<Weak<Node>> = (0..3)
        .map(|i| {
            let log = log.clone();
            Weak::with_callback(&a, move || push(&log, format!("cb{i}")))
        })
        .collect();
    drop(a);
    assert_eq!(*log.borrow(), ["cb2", "cb1", "cb0"], "refcount death");

    log.borrow_mut().clear();
    let b = node("b");
    link(&b, &b);
    let weaks2: Vec<Weak<Node>> = (0..3)
        .map(|i| {
            let log = log.clone();
            Weak::with_callback(&b, move || push(&log, format!("cb{i}")))
        })
        .collect();
    drop(b);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(*log.borrow(), ["cb2", "cb1", "cb0"], "collector death");
    drop((weaks, weaks2));
}

#[test]
fn callback_held_by_a_live_object_runs() {
    reset_heap();
    let holder = node("holder");
    let a = node("a");
    link(&a, &a);
    let (calls, cb) = counter();
    *holder.weak.borrow_mut() = Some(Weak::with_callback(&a, cb));
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(calls.get(), 1);
    assert!(holder.weak.borrow().as_ref().unwrap().upgrade().is_none());
}

#[test]
fn a_resurrected_object_keeps_its_weak_references_cleared() {
    reset_heap();
    thread_local! {
        static KEEP: RefCell<Option<Gc<R>>> = const { RefCell::new(None) };
    }
    #[derive(Trace)]
    struct R {
        me: RefCell<Option<Gc<R>>>,
    }
    impl Finalize for R {
        fn finalize(&self) {
            let me = self.me.borrow().clone();
            KEEP.with(|k| *k.borrow_mut() = me);
        }
    }
    let r = Gc::new(R {
        me: RefCell::new(None),
    });
    *r.me.borrow_mut() = Some(r.clone());
    let (calls, cb) = counter();
    let w = Weak::with_callback(&r, cb);
    let plain = Gc::downgrade(&r);
    drop(r);
    assert_eq!(gc_api::collect(), 0);
    let kept = KEEP.with(|k| k.borrow_mut().take()).expect("resurrected");
    assert!(!Gc::is_dead(&kept));
    assert!(
        w.upgrade().is_none(),
        "cleared before the finalizer resurrected it"
    );
    assert!(plain.upgrade().is_none());
    assert_eq!(calls.get(), 1);
    // A new weak reference to the resurrected object works.
    let fresh = Gc::downgrade(&kept);
    assert!(fresh.upgrade().is_some());
    kept.me.borrow_mut().take();
    drop(kept);
    assert!(fresh.upgrade().is_none());
}

#[test]
fn callbacks_may_allocate_and_collect() {
    reset_heap();
    let result: Rc<Cell<Option<usize>>> = Rc::default();
    let a = node("a");
    link(&a, &a);
    let _w = {
        let result = result.clone();
        Weak::with_callback(&a, move || {
            let n = node("made in callback");
            link(&n, &n);
            drop(n);
            result.set(Some(gc_api::collect()));
        })
    };
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(result.get(), Some(0), "a nested collection returns 0");
    assert_eq!(
        gc_api::collect(),
        1,
        "the callback's garbage goes next time"
    );
}

#[test]
fn weak_reference_objects_are_tracked_and_collectable() {
    reset_heap();
    let a = node("a");
    let w = Gc::downgrade(&a);
    // A cycle through a weak reference is not a strong cycle: refcounting frees it.
    *a.weak.borrow_mut() = Some(w.clone());
    drop(a);
    assert!(w.upgrade().is_none());
    assert_eq!(gc_api::collect(), 0);
}

#[test]
fn many_weak_references_to_many_objects() {
    reset_heap();
    let objs: Vec<Gc<Node>> = (0..1000).map(|_| node("n")).collect();
    let total = Rc::new(Cell::new(0usize));
    let weaks: Vec<Weak<Node>> = objs
        .iter()
        .map(|o| {
            let total = total.clone();
            Weak::with_callback(o, move || total.set(total.get() + 1))
        })
        .collect();
    for (i, o) in objs.iter().enumerate() {
        if i % 2 == 0 {
            link(o, o);
        }
    }
    drop(objs);
    assert_eq!(total.get(), 500, "the acyclic half by refcounting");
    assert_eq!(gc_api::collect(), 500);
    assert_eq!(total.get(), 1000);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn weak_reference_made_by_a_finalizer_to_garbage_dies_with_it() {
    reset_heap();
    thread_local! {
        static MADE: RefCell<Vec<Weak<Late>>> = const { RefCell::new(Vec::new()) };
        static CALLED: Cell<usize> = const { Cell::new(0) };
    }
    #[derive(Trace)]
    struct Late {
        next: RefCell<Option<Gc<Late>>>,
    }
    impl Finalize for Late {
        fn finalize(&self) {
            // A new weak reference, with a callback, to a garbage neighbour, made after
            // the collector cleared the old ones.
            let next = self.next.borrow().clone().expect("next");
            let w = Weak::with_callback(&next, || CALLED.with(|c| c.set(c.get() + 1)));
            MADE.with(|m| m.borrow_mut().push(w));
        }
    }
    let a = Gc::new(Late {
        next: RefCell::new(None),
    });
    let b = Gc::new(Late {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b.clone());
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    let made = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    assert_eq!(made.len(), 2);
    assert!(made.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(
        CALLED.with(Cell::get),
        2,
        "their callbacks ran when the values died"
    );
}

#[test]
fn cycle_through_a_traced_weak_callback_is_collected() {
    // CPython: a weakref traverses its callback, so `o.w = ref(o, lambda r, o=o: None)`
    // is an ordinary collectable cycle (and the callback, being garbage, never runs).
    // Here the callback's state must be given as traced state to be seen.
    reset_heap();
    let a = node("a");
    let weak_a = Gc::downgrade(&a);
    let (calls, cb) = counter();
    *a.weak.borrow_mut() = Some(Weak::with_traced_callback(
        &a,
        a.clone(),
        move |_captured: Gc<Node>| cb(),
    ));
    drop(a);
    gc_api::collect();
    assert!(
        weak_a.upgrade().is_none(),
        "a -> weak reference -> callback state -> a is unreachable and must be collected"
    );
    assert_eq!(
        calls.get(),
        0,
        "the weak reference was garbage: no callback"
    );
}

#[test]
fn a_gc_captured_by_an_opaque_callback_keeps_its_target() {
    // Documented: a plain closure is opaque, so what it captures counts as referenced
    // from outside; the object survives until the weak reference is dropped.
    reset_heap();
    let a = node("a");
    let weak_a = Gc::downgrade(&a);
    let captured = a.clone();
    *a.weak.borrow_mut() = Some(Weak::with_callback(&a, move || {
        let _keep = &captured;
    }));
    drop(a);
    gc_api::collect();
    let a = weak_a.upgrade().expect("kept alive by the opaque callback");
    a.weak.borrow_mut().take();
    drop(a);
    gc_api::collect();
    assert!(
        weak_a.upgrade().is_none(),
        "freed once the callback is gone"
    );
}

#[test]
fn collect_from_a_callback_during_a_refcount_free() {
    reset_heap();
    let result: Rc<Cell<Option<usize>>> = Rc::default();
    // Unrelated garbage waiting for a collection.
    let g = node("garbage");
    link(&g, &g);
    drop(g);
    // A chain whose head dies by refcounting; the callback collects mid-free.
    let head = node("head");
    let child = node("child");
    link(&head, &child);
    let weak_child = Gc::downgrade(&child);
    drop(child);
    let _w = {
        let result = result.clone();
        Weak::with_callback(&head, move || result.set(Some(gc_api::collect())))
    };
    drop(head);
    assert_eq!(
        result.get(),
        Some(1),
        "a real collection: nothing else was running"
    );
    assert!(weak_child.upgrade().is_none());
    assert_eq!(gc_api::collect(), 0);
    let left = gc_api::get_objects(None).unwrap();
    assert_eq!(
        left.len(),
        2,
        "only the two weak reference objects: {left:?}"
    );
}
