//! PEP 442 finalizers (`impl Finalize`), after CPython's test_finalization.py: once per
//! object, before any value of the garbage is dropped, resurrection, and the refcount path.
//! The resurrection tests at the end walk everything a resurrected object reaches: all of
//! it stays alive and intact, and is freed later without a second finalizer call.

use gc_api::{Finalize, Gc, Trace, Weak};
use gc_tests::{Tally, blocks_in_use, name_of, payload_of, reset_heap};
use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static SAVED: RefCell<Vec<Gc<Fin>>> = const { RefCell::new(Vec::new()) };
    static NESTED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn log(entry: String) {
    LOG.with(|l| l.borrow_mut().push(entry));
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

fn take_saved() -> Vec<Gc<Fin>> {
    SAVED.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

fn count(log: &[String], entry: &str) -> usize {
    log.iter().filter(|e| *e == entry).count()
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry:?} not in {log:?}"))
}

/// What a `Fin`'s finalizer does besides logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Nothing,
    /// Stores a handle to `next` in `SAVED` (a self-cycle resurrects itself).
    ResurrectNext,
    /// Upgrades `me` and stores it in `SAVED`.
    ResurrectSelf,
    /// Logs whether `me` still upgrades.
    UpgradeSelf,
    /// Logs the name of `next` (which must be intact).
    LogNext,
    /// Calls `collect()` and `collect_generation(0)`, recording what they return.
    Collect,
    /// Takes its own `next` link away.
    BreakLink,
    /// Makes and drops a new garbage self-cycle.
    MakeCycle,
    Panic,
}

#[derive(Trace)]
struct Fin {
    name: &'static str,
    next: RefCell<Option<Gc<Fin>>>,
    extra: RefCell<Option<Gc<Fin>>>,
    me: RefCell<Option<Weak<Fin>>>,
    #[gc(skip)]
    action: Cell<Action>,
}

impl Finalize for Fin {
    fn finalize(&self) {
        log(format!("fin {}", self.name));
        match self.action.get() {
            Action::Nothing => {}
            Action::ResurrectNext => {
                let next = self.next.borrow().clone().expect("next");
                SAVED.with(|s| s.borrow_mut().push(next));
            }
            Action::ResurrectSelf => {
                let me = self.me.borrow().as_ref().and_then(Weak::upgrade);
                let me = me.expect("a weak reference upgrades inside a refcount finalizer");
                SAVED.with(|s| s.borrow_mut().push(me));
            }
            Action::UpgradeSelf => {
                let up = self.me.borrow().as_ref().and_then(Weak::upgrade);
                log(format!(
                    "upgrade {} {}",
                    self.name,
                    if up.is_some() { "some" } else { "none" }
                ));
            }
            Action::LogNext => {
                let next = self.next.borrow().clone().expect("next");
                let name = Gc::try_deref(&next).map_or("<dead>", |n| n.name);
                log(format!("{} sees {}", self.name, name));
            }
            Action::Collect => {
                let full = gc_api::collect();
                let young = gc_api::collect_generation(0).expect("valid generation");
                NESTED.with(|n| n.borrow_mut().extend([full, young]));
            }
            Action::BreakLink => {
                self.next.borrow_mut().take();
            }
            Action::MakeCycle => {
                let c = fin("made", Action::Nothing);
                *c.next.borrow_mut() = Some(c.clone());
            }
            Action::Panic => panic!("finalizer of {} panics", self.name),
        }
    }
}

impl Drop for Fin {
    fn drop(&mut self) {
        log(format!("drop {}", self.name));
    }
}

fn fin(name: &'static str, action: Action) -> Gc<Fin> {
    Gc::new(Fin {
        name,
        next: RefCell::new(None),
        extra: RefCell::new(None),
        me: RefCell::new(None),
        action: Cell::new(action),
    })
}

/// A `Fin` holding a weak reference to itself (the weak reference is an object too).
fn fin_with_me(name: &'static str, action: Action) -> Gc<Fin> {
    let g = fin(name, action);
    *g.me.borrow_mut() = Some(Gc::downgrade(&g));
    g
}

fn link(from: &Gc<Fin>, to: &Gc<Fin>) {
    *from.next.borrow_mut() = Some(to.clone());
}

#[test]
fn finalizer_runs_once_for_a_collected_self_cycle() {
    reset_heap();
    let a = fin("a", Action::Nothing);
    link(&a, &a);
    assert!(!Gc::is_finalized(&a));
    drop(a);
    assert!(take_log().is_empty());
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(take_log(), ["fin a", "drop a"]);
    assert_eq!(gc_api::collect(), 0);
    assert!(take_log().is_empty());
}

#[test]
fn reachable_objects_are_not_finalized() {
    reset_heap();
    let a = fin("a", Action::Nothing);
    link(&a, &a);
    assert_eq!(gc_api::collect(), 0);
    assert!(!Gc::is_finalized(&a));
    assert!(take_log().is_empty());
    *a.next.borrow_mut() = None;
}

#[test]
fn all_finalizers_of_the_garbage_run_before_any_value_is_dropped() {
    reset_heap();
    let names = ["r0", "r1", "r2", "r3", "r4"];
    let ring: Vec<Gc<Fin>> = names.iter().map(|n| fin(n, Action::Nothing)).collect();
    for i in 0..ring.len() {
        link(&ring[i], &ring[(i + 1) % ring.len()]);
    }
    drop(ring);
    assert_eq!(gc_api::collect(), 5);
    let log = take_log();
    assert_eq!(log.len(), 10, "{log:?}");
    assert!(log[..5].iter().all(|e| e.starts_with("fin ")), "{log:?}");
    assert!(log[5..].iter().all(|e| e.starts_with("drop ")), "{log:?}");
    for n in names {
        assert_eq!(count(&log, &format!("fin {n}")), 1);
        assert_eq!(count(&log, &format!("drop {n}")), 1);
    }
}

#[test]
fn finalizers_see_their_garbage_neighbours_intact() {
    reset_heap();
    let a = fin("a", Action::LogNext);
    let b = fin("b", Action::LogNext);
    let c = fin("c", Action::LogNext);
    link(&a, &b);
    link(&b, &c);
    link(&c, &a);
    drop((a, b, c));
    assert_eq!(gc_api::collect(), 3);
    let log = take_log();
    for seen in ["a sees b", "b sees c", "c sees a"] {
        assert_eq!(count(&log, seen), 1, "{log:?}");
    }
}

#[test]
fn self_resurrecting_cycle_survives_uncounted_and_is_never_finalized_again() {
    reset_heap();
    let a = fin("a", Action::ResurrectNext);
    link(&a, &a);
    drop(a);
    assert_eq!(gc_api::collect(), 0, "a resurrected object is not counted");
    assert_eq!(take_log(), ["fin a"], "finalized, not dropped");
    let saved = take_saved();
    assert_eq!(saved.len(), 1);
    let a = saved.into_iter().next().unwrap();
    assert!(Gc::is_finalized(&a));
    assert!(!Gc::is_dead(&a));
    assert_eq!(a.name, "a");
    let next = a.next.borrow().clone().expect("its edge survived too");
    assert!(Gc::ptr_eq(&next, &a));
    drop(next);
    // Garbage again: this time it is freed without a second finalizer call.
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(take_log(), ["drop a"]);
    assert!(take_saved().is_empty());
}

#[test]
fn resurrection_keeps_everything_the_resurrected_object_reaches() {
    reset_heap();
    let a = fin("a", Action::ResurrectNext);
    let b = fin("b", Action::Nothing);
    let c = fin("c", Action::Nothing);
    let d = fin("d", Action::Nothing);
    link(&a, &b);
    link(&b, &c);
    link(&c, &a);
    *a.extra.borrow_mut() = Some(d.clone());
    let weak_d = Gc::downgrade(&d);
    drop((a, b, c, d));
    assert_eq!(gc_api::collect(), 0);
    let log = take_log();
    for n in ["a", "b", "c", "d"] {
        assert_eq!(count(&log, &format!("fin {n}")), 1, "{log:?}");
    }
    assert!(!log.iter().any(|e| e.starts_with("drop")), "{log:?}");
    let saved = take_saved();
    assert_eq!(saved[0].name, "b");
    let c = saved[0].next.borrow().clone().unwrap();
    let a = c.next.borrow().clone().unwrap();
    let d = a.extra.borrow().clone().unwrap();
    assert!(Gc::is_finalized(&a) && Gc::is_finalized(&c) && Gc::is_finalized(&d));
    assert_eq!(d.name, "d");
    // Weak references to the garbage were cleared before the finalizers ran, and stay
    // cleared although the object lives on (CPython's handle_weakrefs).
    assert!(weak_d.upgrade().is_none());
    drop((a, c, d, saved));
    assert_eq!(gc_api::collect(), 4);
    let log = take_log();
    assert_eq!(log.len(), 4, "no finalizer runs twice: {log:?}");
    assert!(log.iter().all(|e| e.starts_with("drop ")), "{log:?}");
}

#[test]
fn only_the_resurrected_part_of_the_garbage_survives() {
    reset_heap();
    let x = fin("x", Action::ResurrectNext);
    link(&x, &x);
    let p = fin("p", Action::Nothing);
    let q = fin("q", Action::Nothing);
    let r = fin("r", Action::Nothing);
    link(&p, &q);
    link(&q, &r);
    link(&r, &p);
    drop((x, p, q, r));
    assert_eq!(gc_api::collect(), 3);
    let log = take_log();
    assert_eq!(count(&log, "fin x"), 1);
    assert_eq!(count(&log, "drop x"), 0);
    for n in ["p", "q", "r"] {
        assert_eq!(count(&log, &format!("fin {n}")), 1, "{log:?}");
        assert_eq!(count(&log, &format!("drop {n}")), 1, "{log:?}");
    }
    let saved = take_saved();
    assert_eq!(saved.len(), 1);
    saved[0].next.borrow_mut().take();
}

#[test]
fn resurrected_objects_move_to_the_next_generation() {
    reset_heap();
    let a = fin("a", Action::ResurrectNext);
    link(&a, &a);
    let id = Gc::id(&a);
    drop(a);
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    let in_gen = |g| {
        gc_api::get_objects(Some(g))
            .unwrap()
            .iter()
            .any(|o| o.id() == id)
    };
    assert!(!in_gen(0));
    assert!(in_gen(1));
    let saved = take_saved();
    saved[0].next.borrow_mut().take();
}

#[test]
fn refcounting_runs_the_finalizer_before_the_value_is_dropped() {
    reset_heap();
    let a = fin("a", Action::Nothing);
    let b = fin("b", Action::Nothing);
    link(&a, &b);
    drop(b);
    assert!(take_log().is_empty());
    drop(a);
    let log = take_log();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[0], "fin a");
    assert!(position(&log, "fin a") < position(&log, "drop a"));
    assert!(position(&log, "fin b") < position(&log, "drop b"));
    assert_eq!(gc_api::collect(), 0);
}

#[test]
fn weak_references_upgrade_inside_a_refcount_finalizer_and_callbacks_run_after_it() {
    reset_heap();
    let a = fin_with_me("a", Action::UpgradeSelf);
    let _w = Weak::with_callback(&a, || log("callback a".into()));
    drop(a);
    let log = take_log();
    assert_eq!(count(&log, "upgrade a some"), 1, "{log:?}");
    assert_eq!(count(&log, "callback a"), 1, "{log:?}");
    assert!(position(&log, "fin a") < position(&log, "callback a"));
    assert_eq!(count(&log, "drop a"), 1, "{log:?}");
}

#[test]
fn refcount_finalizer_can_resurrect_and_the_object_is_later_freed_without_a_second_call() {
    reset_heap();
    let a = fin_with_me("a", Action::ResurrectSelf);
    let weak = Gc::downgrade(&a);
    let id = Gc::id(&a);
    drop(a);
    assert_eq!(take_log(), ["fin a"]);
    let saved = take_saved();
    assert_eq!(saved.len(), 1);
    assert_eq!(Gc::id(&saved[0]), id);
    assert!(Gc::is_finalized(&saved[0]));
    assert!(!Gc::is_dead(&saved[0]));
    assert_eq!(Gc::strong_count(&saved[0]), 1);
    assert!(
        weak.upgrade().is_some(),
        "refcount resurrection keeps weak refs"
    );
    drop(saved);
    assert_eq!(take_log(), ["drop a"]);
    assert!(weak.upgrade().is_none());
}

#[test]
fn collect_inside_a_finalizer_returns_zero() {
    reset_heap();
    let a = fin("a", Action::Collect);
    link(&a, &a);
    let other = fin("o", Action::Nothing);
    link(&other, &other);
    drop((a, other));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(NESTED.with(|n| n.borrow().clone()), [0, 0]);
}

#[test]
fn a_panicking_finalizer_counts_as_run() {
    reset_heap();
    let a = fin("a", Action::Panic);
    link(&a, &a);
    drop(a);
    let first = catch_unwind(gc_api::collect);
    assert!(first.is_err(), "the finalizer's panic propagates");
    gc_api::collect();
    let log = take_log();
    assert_eq!(log, ["fin a", "drop a"]);
    assert_eq!(gc_api::collect(), 0);
    assert!(take_log().is_empty());
}

#[test]
fn a_panicking_refcount_finalizer_propagates_after_the_free() {
    reset_heap();
    let a = fin("a", Action::Panic);
    let result = catch_unwind(AssertUnwindSafe(move || drop(a)));
    assert!(result.is_err());
    assert_eq!(take_log(), ["fin a", "drop a"]);
    // The heap still works.
    let b = fin("b", Action::Nothing);
    link(&b, &b);
    drop(b);
    assert_eq!(gc_api::collect(), 1);
}

#[test]
fn objects_a_finalizer_frees_by_refcounting_are_not_counted() {
    reset_heap();
    let a = fin("a", Action::BreakLink);
    let b = fin("b", Action::BreakLink);
    link(&a, &b);
    link(&b, &a);
    drop((a, b));
    assert_eq!(gc_api::collect(), 0);
    let log = take_log();
    for e in ["fin a", "fin b", "drop a", "drop b"] {
        assert_eq!(count(&log, e), 1, "{log:?}");
    }
    assert_eq!(gc_api::collect(), 0);
}

#[test]
fn finalizer_may_allocate_new_garbage_which_a_later_collection_frees() {
    reset_heap();
    let a = fin("a", Action::MakeCycle);
    link(&a, &a);
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(take_log(), ["fin a", "drop a"]);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(take_log(), ["fin made", "drop made"]);
}

#[test]
fn young_collection_finalizes_young_garbage() {
    reset_heap();
    let a = fin("a", Action::Nothing);
    let b = fin("b", Action::Nothing);
    link(&a, &b);
    link(&b, &a);
    drop((a, b));
    assert_eq!(gc_api::collect_generation(0), Ok(2));
    let log = take_log();
    assert_eq!(count(&log, "fin a") + count(&log, "fin b"), 2);
    assert_eq!(count(&log, "drop a") + count(&log, "drop b"), 2);
}

thread_local! {
    static PLAIN_SELF: RefCell<Option<Weak<Plain>>> = const { RefCell::new(None) };
    static PLAIN_SAVED: RefCell<Option<Gc<Plain>>> = const { RefCell::new(None) };
    static PLAIN_FINALIZED: Cell<usize> = const { Cell::new(0) };
}

/// An untracked type with a finalizer.
#[derive(Trace)]
struct Plain(u32);

impl Finalize for Plain {
    fn finalize(&self) {
        PLAIN_FINALIZED.with(|c| c.set(c.get() + 1));
        let me = PLAIN_SELF.with(|w| w.borrow().as_ref().and_then(Weak::upgrade));
        PLAIN_SAVED.with(|s| *s.borrow_mut() = me);
    }
}

#[test]
fn untracked_objects_get_their_finalizer_too_and_may_resurrect() {
    reset_heap();
    let p = Gc::new(Plain(9));
    assert!(!Gc::is_tracked(&p));
    PLAIN_SELF.with(|w| *w.borrow_mut() = Some(Gc::downgrade(&p)));
    drop(p);
    assert_eq!(PLAIN_FINALIZED.with(Cell::get), 1);
    let saved = PLAIN_SAVED
        .with(|s| s.borrow_mut().take())
        .expect("resurrected");
    assert_eq!(saved.0, 9);
    assert!(Gc::is_finalized(&saved));
    drop(saved);
    assert_eq!(PLAIN_FINALIZED.with(Cell::get), 1, "no second call");
    assert!(PLAIN_SAVED.with(|s| s.borrow().is_none()));
    let gone = PLAIN_SELF.with(|w| w.borrow_mut().take()).unwrap();
    assert!(gone.upgrade().is_none());
}

#[derive(Trace)]
struct ExitFin {
    next: RefCell<Option<Gc<ExitFin>>>,
    #[gc(skip)]
    finalized: Arc<AtomicUsize>,
}

impl Finalize for ExitFin {
    fn finalize(&self) {
        self.finalized.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn thread_exit_runs_a_last_full_collection() {
    let finalized = Arc::new(AtomicUsize::new(0));
    let f = finalized.clone();
    std::thread::spawn(move || {
        gc_api::disable();
        let a = Gc::new(ExitFin {
            next: RefCell::new(None),
            finalized: f.clone(),
        });
        let b = Gc::new(ExitFin {
            next: RefCell::new(Some(a.clone())),
            finalized: f,
        });
        *a.next.borrow_mut() = Some(b);
    })
    .join()
    .unwrap();
    assert_eq!(finalized.load(Ordering::SeqCst), 2);
}

#[test]
fn thread_exit_with_handles_in_other_thread_locals_never_frees_under_them() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        thread_local! {
            // Initialised before the thread's heap exists, so it may be destroyed after it.
            static EARLY: RefCell<Option<Gc<Keeper>>> = const { RefCell::new(None) };
        }
        #[derive(Trace, Finalize)]
        struct Keeper {
            inner: Gc<String>,
            next: RefCell<Option<Gc<Keeper>>>,
            #[gc(skip)]
            seen: Arc<std::sync::Mutex<Vec<String>>>,
        }
        impl Drop for Keeper {
            fn drop(&mut self) {
                // Whenever this runs, the handles it holds are still valid.
                let text = Gc::try_deref(&self.inner).cloned().unwrap_or_default();
                self.seen.lock().unwrap().push(text);
            }
        }
        EARLY.with(|e| assert!(e.borrow().is_none()));
        gc_api::disable();
        let k = Gc::new(Keeper {
            inner: Gc::new("inner".to_string()),
            next: RefCell::new(None),
            seen: s,
        });
        *k.next.borrow_mut() = Some(k.clone());
        EARLY.with(|e| *e.borrow_mut() = Some(k));
    })
    .join()
    .unwrap();
    // Either the thread-local went first (then the exit collection freed the cycle) or
    // the heap went first (then the cycle is leaked). Never a read of freed memory.
    let seen = seen.lock().unwrap();
    assert!(seen.len() <= 1, "{seen:?}");
    assert!(seen.iter().all(|t| t == "inner"), "{seen:?}");
}

// ---------------------------------------------------------------------------------------
// Finalizers that resurrect: everything the resurrected objects reach stays alive and
// intact, and no finalizer runs twice
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Where the finalizers of `Phoenix`es save the handles they resurrect.
    static RISEN: RefCell<Vec<Gc<Phoenix>>> = const { RefCell::new(Vec::new()) };
}

fn risen_len() -> usize {
    RISEN.with(|s| s.borrow().len())
}

fn clear_risen() {
    let taken = RISEN.with(|s| std::mem::take(&mut *s.borrow_mut()));
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
                    RISEN.with(|s| s.borrow_mut().push(n));
                }
            }
            Rise::SelfViaRing => {
                let mut cur = self.next.borrow().clone();
                while let Some(c) = cur {
                    if c.id == self.id {
                        RISEN.with(|s| s.borrow_mut().push(c));
                        break;
                    }
                    cur = c.next.borrow().clone();
                }
            }
            Rise::SelfViaWeak => match self.me.borrow().as_ref().and_then(Weak::upgrade) {
                Some(me) => RISEN.with(|s| s.borrow_mut().push(me)),
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
    let baseline = reset_heap();
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
    assert_eq!(risen_len(), 1);
    let saved = RISEN.with(|s| s.borrow()[0].clone());
    let expected_id = if rise0 == Rise::Neighbour { 1 } else { 0 };
    assert_eq!(saved.id, expected_id);
    assert_eq!(walk_phoenixes(&saved), (0..5).collect::<HashSet<_>>());
    assert!(Gc::is_finalized(&saved));
    drop(saved);

    // A second collection keeps them: they are reachable from the thread-local.
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(log.drops.total(), 2);

    // Once released, they are collected without running a finalizer again.
    clear_risen();
    assert_eq!(gc_api::collect(), 5);
    for id in 0..5 {
        assert_eq!(log.finalized.get(id), 1, "finalizer of {id} ran again");
        assert_eq!(log.drops.get(id), 1, "object {id} dropped once");
    }
    assert_eq!(risen_len(), 0);
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
    let baseline = reset_heap();
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
    assert_eq!(risen_len(), 1);
    let again = weak.upgrade().expect("a resurrected object is alive");
    assert!(Gc::is_finalized(&again));
    assert_eq!(walk_phoenixes(&again), HashSet::from([0, 1]));
    drop(again);
    assert_eq!(gc_api::collect(), 0);

    clear_risen();
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
    let baseline = reset_heap();
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
    assert_eq!(risen_len(), 0);
    assert_eq!(blocks_in_use(), baseline);
}
