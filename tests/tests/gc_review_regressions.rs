//! Regression tests for defects found in a review of the collector's unsafe code. Each
//! scenario once reached undefined behaviour (or a broken heap) from safe code.

use gc_api::{DebugFlags, Finalize, Gc, Trace, Tracer, Weak};
use gc_tests::blocks_in_use;
use std::cell::RefCell;

fn fresh() -> usize {
    gc_api::set_debug(DebugFlags::empty());
    gc_api::set_threshold([700, 10, 10]);
    gc_api::enable();
    gc_api::collect();
    blocks_in_use()
}

thread_local! {
    static SMUGGLED: RefCell<Option<Gc<SelfLoop>>> = const { RefCell::new(None) };
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
            SMUGGLED.with(|s| *s.borrow_mut() = Some(g));
        }
    }
}

#[derive(Trace, Finalize)]
struct SameSize {
    other: RefCell<Option<Gc<SameSize>>>,
    payload: u64,
}

#[test]
fn a_weak_reference_to_a_dead_object_never_upgrades_after_its_memory_is_reused() {
    let baseline = fresh();
    let n = Gc::new(SelfLoop {
        me: RefCell::new(None),
        tag: 1,
    });
    *n.me.borrow_mut() = Some(n.clone());
    drop(n);
    assert_eq!(gc_api::collect(), 1);
    let dead = SMUGGLED.with(|s| s.borrow_mut().take()).expect("smuggled");
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

/// A `Trace` that reports a handle it drops right away.
#[derive(Finalize)]
struct ReportsATemporary;

// SAFETY: not kept on purpose (reports a handle it does not own): the introspection it is
// used for must hold the handle, not dangle.
unsafe impl Trace for ReportsATemporary {
    fn trace(&self, tracer: &mut Tracer) {
        let temporary = Gc::new(vec![7u64; 4]);
        temporary.trace(tracer);
    }
}

#[test]
fn referents_reported_by_a_trace_that_drops_them_are_held_not_dangling() {
    let baseline = fresh();
    let o = Gc::new(ReportsATemporary);
    let referents = gc_api::get_referents(&[o.clone().into()]);
    assert_eq!(referents.len(), 1);
    assert_eq!(
        referents[0].strong_count(),
        1,
        "the only handle is the one returned"
    );
    let v = referents[0]
        .clone()
        .downcast::<Vec<u64>>()
        .expect("a Vec<u64>");
    assert_eq!(*v, vec![7u64; 4]);
    drop((v, referents, o));
    gc_api::collect();
    assert_eq!(blocks_in_use(), baseline);
}

#[derive(Trace, Finalize)]
struct Cycle {
    me: RefCell<Option<Gc<Cycle>>>,
    text: String,
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

#[test]
fn garbage_cannot_be_grabbed_through_a_weak_reference_between_verdict_and_delete() {
    let baseline = fresh();
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

/// A tracing subscriber that panics on every event.
struct PanickingSubscriber;

impl tracing::Subscriber for PanickingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        panic!("subscriber panicked on purpose");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_panicking_tracing_subscriber_leaves_the_heap_collectable() {
    let baseline = fresh();
    for flags in [DebugFlags::STATS, DebugFlags::COLLECTABLE] {
        let c = Gc::new(Cycle {
            me: RefCell::new(None),
            text: "x".into(),
        });
        *c.me.borrow_mut() = Some(c.clone());
        drop(c);
        gc_api::set_debug(flags);
        let outcome = tracing::subscriber::with_default(PanickingSubscriber, || {
            std::panic::catch_unwind(gc_api::collect)
        });
        gc_api::set_debug(DebugFlags::empty());
        assert!(
            outcome.is_err(),
            "{flags:?}: the subscriber's panic propagates"
        );
        // The heap is not stuck "collecting": a collection runs and the cycle goes.
        gc_api::collect();
        assert_eq!(blocks_in_use(), baseline, "{flags:?}");
    }
}
