//! `Trace` impls that report fewer edges in one pass than in another never get a reachable
//! value dropped: the collector checks the final garbage set once more before it drops
//! anything (gc-core `collect.rs`, step 9), and keeps the whole set if a handle from outside
//! reaches it. Each scenario holds a `&` borrow of a reachable value across `collect()` and
//! reads its `Vec` payload afterwards, so AddressSanitizer (`scripts/sanitize.sh asan`) would
//! see a use-after-free if the value were dropped under it.
//!
//! Each scenario first makes an object of the set a candidate root (`make_candidate`: a
//! count that goes down to a value above zero), so that the collection runs its passes and
//! calls the lying traces; a set without candidates holds no garbage cycle and is only
//! promoted, without any `trace` call.

use gc_api::{Finalize, Gc, Trace, Tracer};
use gc_tests::{Tally, blocks_in_use, reset_heap};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Which trace calls report their edge. Call number `k` (counted over every `Link` of the
/// test) reports if bit `k` of `mask` is set; calls past `len` always report (honest).
#[derive(Clone, Copy)]
struct Schedule {
    mask: u32,
    len: u32,
}

impl Schedule {
    const HONEST: Schedule = Schedule { mask: 0, len: 0 };
}

thread_local! {
    static SCHEDULE: Cell<Schedule> = const { Cell::new(Schedule::HONEST) };
    static CALLS: Cell<u32> = const { Cell::new(0) };
    /// Where a `Thief` puts the handle it moves out while being traced.
    static STOLEN: RefCell<Option<Gc<Link<false>>>> = const { RefCell::new(None) };
}

fn set_schedule(schedule: Schedule) {
    SCHEDULE.with(|s| s.set(schedule));
    CALLS.with(|c| c.set(0));
}

/// Whether the trace call being made now reports its edges.
fn reports_now() -> bool {
    let k = CALLS.with(|c| c.replace(c.get() + 1));
    let s = SCHEDULE.with(Cell::get);
    k >= s.len || s.mask & (1 << k) != 0
}

/// A clone dropped at once: the object's count goes down to a value above zero, which makes
/// it a candidate root, so the next collection runs all its passes over its set.
fn make_candidate<T: ?Sized>(g: &Gc<T>) {
    drop(g.clone());
}

fn payload(id: usize) -> Vec<u64> {
    (0..16).map(|i| (id as u64) << 32 | i).collect()
}

/// A node with one edge, whose trace follows the schedule. `FIN`: it has a finalizer (so a
/// collection that finds it unreachable runs the resurrection check).
struct Link<const FIN: bool> {
    id: usize,
    next: RefCell<Option<Gc<Link<FIN>>>>,
    payload: Vec<u64>,
    drops: Rc<Tally>,
    finalized: Rc<Tally>,
}

// SAFETY: not kept on purpose: the edge is reported on some calls only (rules 1 and 3
// broken by reporting too few edges), which must only ever leak.
unsafe impl<const FIN: bool> Trace for Link<FIN> {
    fn trace(&self, tracer: &mut Tracer) {
        if reports_now() {
            self.next.trace(tracer);
        }
    }
}

impl<const FIN: bool> Finalize for Link<FIN> {
    fn has_finalizer() -> bool {
        FIN
    }
    fn finalize(&self) {
        self.finalized.hit(self.id);
    }
}

impl<const FIN: bool> Drop for Link<FIN> {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

struct Logs {
    drops: Rc<Tally>,
    finalized: Rc<Tally>,
}

impl Logs {
    fn new() -> Logs {
        Logs {
            drops: Rc::new(Tally::default()),
            finalized: Rc::new(Tally::default()),
        }
    }

    fn link<const FIN: bool>(&self, id: usize, next: Option<Gc<Link<FIN>>>) -> Gc<Link<FIN>> {
        Gc::new(Link {
            id,
            next: RefCell::new(next),
            payload: payload(id),
            drops: self.drops.clone(),
            finalized: self.finalized.clone(),
        })
    }
}

/// The value `handle` points at, checked alive and intact.
fn assert_intact<const FIN: bool>(link: &Link<FIN>, what: &str) {
    assert_eq!(link.payload, payload(link.id), "{what}: payload");
}

/// A -> B -> C (and C -> B when `cycle`), A held on the stack, with borrows of B's and C's
/// values held across one collection under `schedule`. Nothing may be dropped; once the
/// traces are honest again everything is freed, each value once.
fn chain_of_three<const FIN: bool>(schedule: Schedule, cycle: bool) {
    let baseline = reset_heap();
    let logs = Logs::new();
    let c = logs.link::<FIN>(2, None);
    let b = logs.link::<FIN>(1, Some(c));
    let a = logs.link::<FIN>(0, Some(b));
    {
        let b_slot = a.next.borrow();
        let b: &Gc<Link<FIN>> = b_slot.as_ref().expect("a -> b");
        let c_slot = b.next.borrow();
        let c: &Gc<Link<FIN>> = c_slot.as_ref().expect("b -> c");
        if cycle {
            *c.next.borrow_mut() = Some(b.clone());
        }
        let (b_value, c_value): (&Link<FIN>, &Link<FIN>) = (b, c);
        make_candidate(b);
        set_schedule(schedule);
        let collected = gc_api::collect();
        set_schedule(Schedule::HONEST);
        assert_intact(b_value, "b");
        assert_intact(c_value, "c");
        assert_eq!(
            collected, 0,
            "mask {:#b}: everything is reachable",
            schedule.mask
        );
        assert!(
            !Gc::is_dead(b) && !Gc::is_dead(c),
            "mask {:#b}",
            schedule.mask
        );
        assert_eq!(
            logs.drops.total(),
            0,
            "mask {:#b}: nothing dropped",
            schedule.mask
        );
        // A finalizer may have run on an object the lying traces made look unreachable
        // (it then survived the resurrection check or the final check): a finalizer runs
        // at most once either way.
        if cycle {
            c.next.borrow_mut().take();
        }
    }
    drop(a);
    assert_eq!(gc_api::collect(), 0, "refcounting freed the chain");
    assert_eq!(logs.drops.total(), 3);
    assert_eq!(logs.drops.max(), 1, "each value dropped once");
    if FIN {
        assert_eq!(logs.finalized.total(), 3, "each finalizer ran once");
        assert_eq!(logs.finalized.max(), 1);
    }
    assert_eq!(blocks_in_use(), baseline);
}

/// A parent whose trace reports its edge on its own even-numbered calls only.
struct EvenOnly {
    calls: Cell<u32>,
    child: RefCell<Option<Gc<Link<false>>>>,
}

// SAFETY: not kept on purpose: the edge is reported on even calls only (too few edges on
// odd ones), which must only ever leak.
unsafe impl Trace for EvenOnly {
    fn trace(&self, tracer: &mut Tracer) {
        if self.calls.replace(self.calls.get() + 1).is_multiple_of(2) {
            self.child.trace(tracer);
        }
    }
}

impl Finalize for EvenOnly {
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn an_edge_reported_on_even_calls_only_never_drops_a_reachable_value() {
    // The parent (on the stack) holds the only handle to the child. `subtract_refs` traces
    // it (call 0: reported), `move_unreachable` traces it again (call 1: omitted).
    let baseline = reset_heap();
    let logs = Logs::new();
    let child = logs.link::<false>(1, None);
    let parent = Gc::new(EvenOnly {
        calls: Cell::new(0),
        child: RefCell::new(Some(child)),
    });
    {
        let slot = parent.child.borrow();
        let child: &Gc<Link<false>> = slot.as_ref().expect("parent -> child");
        let value: &Link<false> = child;
        make_candidate(child);
        let collected = gc_api::collect();
        // Read through the borrow first: on a collector without the final check this is
        // where AddressSanitizer reports a heap-use-after-free.
        assert_intact(value, "child");
        assert_eq!(collected, 0);
        assert!(!Gc::is_dead(child));
        assert_eq!(logs.drops.total(), 0);
    }
    drop(parent);
    assert_eq!(logs.drops.total(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn edges_depending_on_a_call_counter_along_a_chain_of_three_never_drop_a_reachable_value() {
    // Calls 0 and 1 (subtract_refs: A, then B) report; call 2 (move_unreachable: A) omits
    // the edge, so B and C look unreachable; the finalizers run; call 3 (the resurrection
    // check's subtract_refs: B) reports and call 5 (its move_unreachable: B) omits, so that
    // check alone would still drop C.
    chain_of_three::<true>(
        Schedule {
            mask: 0b1011,
            len: 6,
        },
        false,
    );
    chain_of_three::<false>(
        Schedule {
            mask: 0b1011,
            len: 6,
        },
        false,
    );
}

#[test]
fn every_report_schedule_of_eight_calls_keeps_reachable_values() {
    for mask in 0..256u32 {
        let schedule = Schedule { mask, len: 8 };
        chain_of_three::<true>(schedule, false);
        chain_of_three::<false>(schedule, false);
        chain_of_three::<true>(schedule, true);
        chain_of_three::<false>(schedule, true);
    }
}

/// A node whose trace moves its handle into a thread-local on its second call.
struct Thief {
    calls: Cell<u32>,
    loot: RefCell<Option<Gc<Link<false>>>>,
}

// SAFETY: not kept on purpose (rule 4: it moves a handle while being traced).
unsafe impl Trace for Thief {
    fn trace(&self, tracer: &mut Tracer) {
        let call = self.calls.replace(self.calls.get() + 1);
        if call == 1 {
            let loot = self.loot.borrow_mut().take();
            STOLEN.with(|s| *s.borrow_mut() = loot);
        } else {
            self.loot.trace(tracer);
        }
    }
}

impl Finalize for Thief {
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn a_trace_that_moves_its_handle_into_a_thread_local_never_gets_it_dropped() {
    let baseline = reset_heap();
    let logs = Logs::new();
    let loot = logs.link::<false>(7, None);
    let thief = Gc::new(Thief {
        calls: Cell::new(0),
        loot: RefCell::new(Some(loot)),
    });
    // subtract_refs counts the thief's edge; move_unreachable's trace moves the handle out.
    make_candidate(&thief);
    assert_eq!(gc_api::collect(), 0);
    let stolen = STOLEN.with(|s| s.borrow_mut().take()).expect("moved out");
    assert!(!Gc::is_dead(&stolen), "the moved handle keeps its object");
    assert_intact(&stolen, "stolen");
    assert_eq!(logs.drops.total(), 0);
    drop((thief, stolen));
    assert_eq!(logs.drops.total(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn a_kept_set_is_collected_once_the_traces_agree() {
    // The check keeps a lying set for one collection only: it is not leaked for good.
    let baseline = reset_heap();
    let logs = Logs::new();
    let b = logs.link::<true>(1, None);
    let c = logs.link::<true>(2, Some(b.clone()));
    *b.next.borrow_mut() = Some(c);
    let p = logs.link::<true>(0, Some(b));
    // Newest first: P, C, B. Calls 0-2 (subtract_refs) report, call 3 (P in
    // move_unreachable) omits: B and C look unreachable and are finalized. In the
    // resurrection check calls 4-5 report and call 6 (B) omits: C alone is left, and the
    // final check keeps it (B's edge to it comes from outside the set).
    make_candidate(&p);
    set_schedule(Schedule {
        mask: 0b011_0111,
        len: 7,
    });
    assert_eq!(gc_api::collect(), 0);
    set_schedule(Schedule::HONEST);
    assert_eq!(logs.drops.total(), 0);
    assert_eq!(logs.finalized.total(), 2, "B and C were finalized");
    drop(p);
    // P was freed by refcounting; its finalizer ran then. B <-> C is now garbage.
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(logs.drops.total(), 3);
    assert_eq!(logs.drops.max(), 1);
    assert_eq!(logs.finalized.max(), 1, "each finalizer once");
    assert_eq!(blocks_in_use(), baseline);
}
