//! `Interner`: `sys.intern` and CPython's small-int cache, for any value type.

use gc_api::{Finalize, Gc, Interner, Trace, Weak};
use std::cell::RefCell;

#[test]
fn equal_values_give_the_same_object_while_one_is_alive() {
    let interner: Interner<String> = Interner::new();
    let a = interner.intern("hello".to_string());
    let b = interner.intern("hello".to_string());
    assert!(Gc::ptr_eq(&a, &b));
    assert_eq!(Gc::id(&a), Gc::id(&b));
    assert_eq!(
        Gc::strong_count(&a),
        2,
        "the interner holds no strong handle"
    );
    let c = interner.intern("world".to_string());
    assert!(!Gc::ptr_eq(&a, &c));
    assert_eq!(*c, "world");
    assert_eq!(interner.len(), 2);
    assert!(!interner.is_empty());
    let got = interner.get(&"hello".to_string()).expect("alive");
    assert!(Gc::ptr_eq(&got, &a));
    assert!(interner.get(&"nope".to_string()).is_none());
}

#[test]
fn after_all_handles_drop_a_new_intern_gives_a_fresh_object() {
    let interner: Interner<String> = Interner::new();
    let a = interner.intern("x".to_string());
    let weak_a = Gc::downgrade(&a);
    let a2 = interner.intern("x".to_string());
    drop(a);
    // One handle is still alive: same object.
    let a3 = interner.intern("x".to_string());
    assert!(Gc::ptr_eq(&a2, &a3));
    drop((a2, a3));
    assert!(
        weak_a.upgrade().is_none(),
        "entries are weak: the object is freed"
    );
    assert!(interner.get(&"x".to_string()).is_none());
    assert_eq!(interner.len(), 0);
    assert!(interner.is_empty());
    let fresh = interner.intern("x".to_string());
    assert_eq!(*fresh, "x");
    assert!(
        weak_a.upgrade().is_none(),
        "the old object did not come back: this one is new"
    );
    let weak_fresh = Gc::downgrade(&fresh);
    assert!(Gc::ptr_eq(&weak_fresh.upgrade().unwrap(), &fresh));
    assert!(Gc::ptr_eq(&interner.intern("x".to_string()), &fresh));
}

/// CPython's small-int cache, built on an `Interner<i64>`: -5..=256 are created once and
/// kept for the life of the cache, so they are always the same object; other values are
/// separate objects each time (as `int('257') is int('257')` is false).
struct SmallInts {
    interner: Interner<i64>,
    cache: Vec<Gc<i64>>,
}

impl SmallInts {
    const MIN: i64 = -5;
    const MAX: i64 = 256;

    fn new() -> SmallInts {
        let interner = Interner::new();
        let cache = (Self::MIN..=Self::MAX)
            .map(|v| interner.intern(v))
            .collect();
        SmallInts { interner, cache }
    }

    fn int(&self, v: i64) -> Gc<i64> {
        if (Self::MIN..=Self::MAX).contains(&v) {
            let cached = self.cache[(v - Self::MIN) as usize].clone();
            debug_assert!(Gc::ptr_eq(&cached, &self.interner.intern(v)));
            cached
        } else {
            Gc::new(v)
        }
    }
}

#[test]
fn small_int_cache_mirrors_cpython() {
    let ints = SmallInts::new();
    assert_eq!(ints.interner.len(), 262);
    for v in [-5, -1, 0, 1, 100, 255, 256] {
        let a = ints.int(v);
        let b = ints.int(v);
        assert!(Gc::ptr_eq(&a, &b), "{v} is cached");
        assert_eq!(*a, v);
        // Even with every user handle gone, the cached object stays the same one.
        let id = Gc::id(&a);
        drop((a, b));
        assert_eq!(Gc::id(&ints.int(v)), id);
        assert!(Gc::ptr_eq(&ints.int(v), &ints.interner.intern(v)));
    }
    for v in [-6, 257, 1000, i64::MAX, i64::MIN] {
        let a = ints.int(v);
        let b = ints.int(v);
        assert_eq!(*a, *b);
        assert!(!Gc::ptr_eq(&a, &b), "{v} is not cached");
    }
    // Large values interned explicitly are shared while alive, like sys.intern.
    let x = ints.interner.intern(1 << 40);
    let y = ints.interner.intern(1 << 40);
    assert!(Gc::ptr_eq(&x, &y));
    assert_eq!(ints.interner.len(), 263);
    drop((x, y));
    assert_eq!(ints.interner.len(), 262);
    assert!(!Gc::is_tracked(&ints.int(3)), "ints are untracked");
}

#[test]
fn many_values_come_and_go() {
    let interner: Interner<u64> = Interner::default();
    for round in 0..5 {
        let held: Vec<Gc<u64>> = (0..1000).map(|v| interner.intern(v)).collect();
        assert_eq!(interner.len(), 1000, "round {round}");
        for (v, g) in held.iter().enumerate() {
            assert_eq!(**g, v as u64);
            assert!(Gc::ptr_eq(g, &interner.intern(v as u64)));
        }
        let weaks: Vec<Weak<u64>> = held.iter().map(Gc::downgrade).collect();
        drop(held);
        assert!(weaks.iter().all(|w| w.upgrade().is_none()));
        assert!(interner.is_empty());
    }
    assert!(format!("{interner:?}").contains("Interner"));
}

#[derive(Trace, Finalize, Clone, PartialEq, Eq, Hash)]
struct Symbol {
    name: String,
    arity: u8,
}

#[test]
fn user_types_can_be_interned() {
    let interner: Interner<Symbol> = Interner::new();
    let f = interner.intern(Symbol {
        name: "f".into(),
        arity: 2,
    });
    let f2 = interner.intern(Symbol {
        name: "f".into(),
        arity: 2,
    });
    let f1 = interner.intern(Symbol {
        name: "f".into(),
        arity: 1,
    });
    assert!(Gc::ptr_eq(&f, &f2));
    assert!(!Gc::ptr_eq(&f, &f1));
    assert!(!Gc::is_tracked(&f));
}

thread_local! {
    static NAMES: Interner<String> = Interner::new();
    static MADE: RefCell<Vec<Gc<String>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace)]
struct Interning {
    me: RefCell<Option<Gc<Interning>>>,
}

impl Finalize for Interning {
    fn finalize(&self) {
        let g = NAMES.with(|n| n.intern("from finalizer".to_string()));
        MADE.with(|m| m.borrow_mut().push(g));
    }
}

#[test]
fn interning_from_a_finalizer_during_a_collection() {
    gc_api::disable();
    gc_api::collect();
    let held = NAMES.with(|n| n.intern("from finalizer".to_string()));
    let x = Gc::new(Interning {
        me: RefCell::new(None),
    });
    *x.me.borrow_mut() = Some(x.clone());
    drop(x);
    assert_eq!(gc_api::collect(), 1);
    let made = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    assert_eq!(made.len(), 1);
    assert!(Gc::ptr_eq(&made[0], &held));
}

// ---------------------------------------------------------------------------------------
// Re-entrancy: an automatic collection started by `intern`'s own allocation
// ---------------------------------------------------------------------------------------

thread_local! {
    static WORDS: Interner<String> = Interner::new();
    /// What the finalizers below interned, kept alive.
    static FROM_FINALIZER: RefCell<Vec<Gc<String>>> = const { RefCell::new(Vec::new()) };
}

/// A garbage self-cycle whose finalizer interns `word` through `WORDS`.
#[derive(Trace)]
struct InternsOnFinalize {
    me: RefCell<Option<Gc<InternsOnFinalize>>>,
    word: String,
}

impl Finalize for InternsOnFinalize {
    fn finalize(&self) {
        let g = WORDS.with(|w| w.intern(self.word.clone()));
        FROM_FINALIZER.with(|f| f.borrow_mut().push(g));
    }
}

/// Leaves a garbage cycle that interns `word` when finalized, and makes the next tracked
/// allocation start an automatic collection. `Interner<String>` values are untracked, so
/// that allocation is the weak reference `intern` makes after creating the object.
fn arm_collection_with_finalizer_interning(word: &str) -> [usize; 3] {
    gc_api::disable();
    gc_api::collect();
    let x = Gc::new(InternsOnFinalize {
        me: RefCell::new(None),
        word: word.to_string(),
    });
    *x.me.borrow_mut() = Some(x.clone());
    drop(x);
    let thresholds = gc_api::get_threshold();
    gc_api::set_threshold([gc_api::get_count()[0], thresholds[1], thresholds[2]]);
    gc_api::enable();
    thresholds
}

fn disarm(thresholds: [usize; 3]) -> Vec<Gc<String>> {
    gc_api::set_threshold(thresholds);
    gc_api::disable();
    FROM_FINALIZER.with(|f| std::mem::take(&mut *f.borrow_mut()))
}

#[test]
fn a_finalizer_of_a_collection_that_intern_starts_may_intern_too() {
    let collections_before = gc_api::get_stats()[0].collections;
    let thresholds = arm_collection_with_finalizer_interning("other");
    let outer = WORDS.with(|w| w.intern("outer".to_string()));
    let from_finalizer = disarm(thresholds);
    assert!(
        gc_api::get_stats()[0].collections > collections_before,
        "the allocation in intern started a collection"
    );
    assert_eq!(from_finalizer.len(), 1, "the finalizer ran and interned");
    assert_eq!(*from_finalizer[0], "other");
    assert_eq!(*outer, "outer");
    WORDS.with(|w| {
        assert!(Gc::ptr_eq(&w.intern("outer".to_string()), &outer));
        assert!(Gc::ptr_eq(
            &w.intern("other".to_string()),
            &from_finalizer[0]
        ));
    });
}

#[test]
fn an_equal_value_interned_by_such_a_finalizer_is_the_one_returned() {
    let thresholds = arm_collection_with_finalizer_interning("same");
    let outer = WORDS.with(|w| w.intern("same".to_string()));
    let from_finalizer = disarm(thresholds);
    assert_eq!(from_finalizer.len(), 1, "the finalizer ran and interned");
    assert!(
        Gc::ptr_eq(&outer, &from_finalizer[0]),
        "one live object per value: the outer call returns the finalizer's"
    );
    WORDS.with(|w| {
        assert_eq!(w.len(), 1, "one entry for the value");
        assert!(Gc::ptr_eq(&w.intern("same".to_string()), &outer));
    });
}

// ---------------------------------------------------------------------------------------
// No `Clone`, no second copy; interned objects in cycles
// ---------------------------------------------------------------------------------------

/// Not `Clone`; equality and hash look at `name` only.
#[derive(Trace, Finalize)]
struct Name {
    name: String,
    #[gc(skip)]
    uses: std::cell::Cell<u32>,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Name {}
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

fn name(s: &str) -> Name {
    Name {
        name: s.to_string(),
        uses: std::cell::Cell::new(0),
    }
}

#[test]
fn a_type_that_is_not_clone_interns_by_its_eq_and_hash() {
    let interner: Interner<Name> = Interner::new();
    let a = interner.intern(name("car"));
    a.uses.set(3);
    let b = interner.intern(Name {
        name: "car".to_string(),
        uses: std::cell::Cell::new(99),
    });
    assert!(Gc::ptr_eq(&a, &b), "equal by name: the first object");
    assert_eq!(b.uses.get(), 3, "the argument was dropped, not stored");
    assert_eq!(
        Gc::strong_count(&a),
        2,
        "the table holds no handle and no copy"
    );
    let c = interner.intern(name("cdr"));
    assert!(!Gc::ptr_eq(&a, &c));
    assert!(Gc::ptr_eq(&interner.get(&name("cdr")).unwrap(), &c));
    assert_eq!(interner.len(), 2);
}

/// Tracked and interned: it can end up in a garbage cycle.
#[derive(Trace, Finalize)]
struct Atom {
    #[gc(skip)]
    key: u32,
    next: RefCell<Option<Gc<Atom>>>,
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Atom {}
impl std::hash::Hash for Atom {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

fn atom(key: u32) -> Atom {
    Atom {
        key,
        next: RefCell::new(None),
    }
}

#[test]
fn an_interned_object_in_a_garbage_cycle_is_collected() {
    gc_api::disable();
    gc_api::collect();
    let interner: Interner<Atom> = Interner::new();
    let a = interner.intern(atom(1));
    let b = interner.intern(atom(2));
    assert!(Gc::is_tracked(&a));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(interner.len(), 2, "the cycle keeps both alive");
    assert_eq!(
        gc_api::collect(),
        2,
        "the interner's weak entries keep nothing"
    );
    assert!(interner.get(&atom(1)).is_none());
    assert!(interner.is_empty());
    let again = interner.intern(atom(1));
    assert_eq!(again.key, 1);
    assert!(Gc::ptr_eq(&interner.get(&atom(1)).unwrap(), &again));
    assert_eq!(interner.len(), 1);
}
