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
