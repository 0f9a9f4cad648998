//! `Trace` impls that break the contract (too few edges, too many, a handle the value does
//! not own) through the public API: a leak or a dead handle, never undefined behaviour.
//! (Traces that report different edges from one call to the next: `gc_trace_contract.rs`.)

use gc_api::{Finalize, Gc, Trace, Tracer};
use gc_tests::{Tally, blocks_in_use, name_of, reset_heap};
use std::cell::RefCell;
use std::rc::Rc;

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
    let baseline = reset_heap();
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
fn trace_reporting_too_many_edges_where_the_counts_cannot_add_up_keeps_the_set() {
    // Reporting an edge twice breaks `Trace`'s contract (rule 2), which no check inside the
    // collector can catch when the lie balances (see gc_collect.rs's `TooMany`: its handles
    // then see the object dead). Here both objects lie, so the members report four edges
    // into a set whose strong counts sum to three: the final check sees that the set is not
    // closed and keeps it, and nothing is dropped.
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    let (a, b) = liar_pair(2, &drops);
    drop(a);
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.total(), 0);
    assert!(!Gc::is_dead(&b));
    assert_eq!(b.name, name_of(1));
    // Break the cycle by hand: refcounting frees both.
    let a = b.next.borrow_mut().take().expect("edge");
    drop(a);
    assert_eq!(drops.total(), 1);
    drop(b);
    assert_eq!(drops.total(), 2);
    assert_eq!(drops.max(), 1);
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

// A regression test from the review of the collector's unsafe code: this scenario once
// reached undefined behaviour (or a broken heap) from safe code.
#[test]
fn referents_reported_by_a_trace_that_drops_them_are_held_not_dangling() {
    let baseline = reset_heap();
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
