//! Handles to garbage that user code gets hold of. A `Gc` or a `Weak` smuggled out of the
//! `Drop` of a garbage value sees its object dead and stays memory-safe (its memory is kept
//! while a handle exists, and a weak reference never upgrades, even once the memory is
//! reused); garbage cannot be grabbed through a weak reference between the collector's
//! verdict and the deletion.

use gc_api::{Finalize, Gc, Trace, Weak};
use gc_tests::{Cycle, blocks_in_use, name_of, panic_message, payload_of, reset_heap};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

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
    let baseline = reset_heap();
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
    reset_heap();
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

thread_local! {
    static SMUGGLED_SELF: RefCell<Option<Gc<SelfLoop>>> = const { RefCell::new(None) };
}

/// A self-loop whose `Drop` smuggles the handle to itself out of the garbage.
#[derive(Trace, Finalize)]
struct SelfLoop {
    me: RefCell<Option<Gc<SelfLoop>>>,
    tag: u64,
}

impl Drop for SelfLoop {
    fn drop(&mut self) {
        if let Some(g) = self.me.borrow_mut().take() {
            SMUGGLED_SELF.with(|s| *s.borrow_mut() = Some(g));
        }
    }
}

#[derive(Trace, Finalize)]
struct SameSize {
    other: RefCell<Option<Gc<SameSize>>>,
    payload: u64,
}

// A regression test from the review of the collector's unsafe code: this scenario once
// reached undefined behaviour (or a broken heap) from safe code.
#[test]
fn a_weak_reference_to_a_dead_object_never_upgrades_after_its_memory_is_reused() {
    let baseline = reset_heap();
    let n = Gc::new(SelfLoop {
        me: RefCell::new(None),
        tag: 1,
    });
    *n.me.borrow_mut() = Some(n.clone());
    drop(n);
    assert_eq!(gc_api::collect(), 1);
    let dead = SMUGGLED_SELF
        .with(|s| s.borrow_mut().take())
        .expect("smuggled");
    assert!(Gc::is_dead(&dead));
    let weak: Weak<SelfLoop> = Gc::downgrade(&dead);
    assert!(weak.upgrade().is_none(), "the object is dead already");
    drop(dead);
    // Blocks of the same size class are reused at once.
    let others: Vec<_> = (0..64)
        .map(|i| {
            Gc::new(SameSize {
                other: RefCell::new(None),
                payload: 0xdead_beef_0000_0000 | i,
            })
        })
        .collect();
    assert!(
        weak.upgrade().is_none(),
        "never a Gc<SelfLoop> to a SameSize"
    );
    drop(weak);
    assert!(others.iter().all(|o| o.payload >> 32 == 0xdead_beef));
    drop(others);
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}

thread_local! {
    static WEAK_TO_GARBAGE: RefCell<Option<Weak<Cycle>>> = const { RefCell::new(None) };
    static KEPT: RefCell<Option<Gc<Cycle>>> = const { RefCell::new(None) };
}

/// A chain whose links, when dropped, try to grab the garbage cycle through a weak
/// reference (link 17, freed from the queue inside a collection) and start a collection
/// (link 5, by allocating a tracked object).
#[derive(Trace, Finalize)]
struct Link {
    next: Option<Gc<Link>>,
    /// Only its `Drop` matters.
    #[gc(skip)]
    _action: LinkAction,
}

struct LinkAction(u32);

impl Drop for LinkAction {
    fn drop(&mut self) {
        if self.0 == 17 {
            let grabbed = WEAK_TO_GARBAGE.with(|w| w.borrow().as_ref().and_then(Weak::upgrade));
            KEPT.with(|k| *k.borrow_mut() = grabbed);
        }
        if self.0 == 5 {
            drop(Gc::new(Cycle {
                me: RefCell::new(None),
                text: "trigger".into(),
            }));
        }
    }
}

// A regression test from the review of the collector's unsafe code: this scenario once
// reached undefined behaviour (or a broken heap) from safe code.
#[test]
fn garbage_cannot_be_grabbed_through_a_weak_reference_between_verdict_and_delete() {
    let baseline = reset_heap();
    // Automatic collection on: the allocation in link 5's drop starts one.
    gc_api::enable();
    let c = Gc::new(Cycle {
        me: RefCell::new(None),
        text: "garbage".into(),
    });
    *c.me.borrow_mut() = Some(c.clone());
    WEAK_TO_GARBAGE.with(|w| *w.borrow_mut() = Some(Gc::downgrade(&c)));
    drop(c);
    let mut head: Option<Gc<Link>> = None;
    for d in (0..25).rev() {
        head = Some(Gc::new(Link {
            next: head.take(),
            _action: LinkAction(d),
        }));
    }
    gc_api::set_threshold([1, 1000, 1000]);
    drop(head);
    gc_api::set_threshold([700, 10, 10]);
    if let Some(kept) = KEPT.with(|k| k.borrow_mut().take()) {
        // Either the grab was refused, or what was grabbed is really alive.
        assert!(
            !Gc::is_dead(&kept),
            "a handle held in a thread-local saw a dropped value"
        );
        assert_eq!(kept.text, "garbage");
        kept.me.borrow_mut().take();
    }
    WEAK_TO_GARBAGE.with(|w| w.borrow_mut().take());
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}
