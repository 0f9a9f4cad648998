//! `#[derive(Trace, Finalize)]`: structs (named, tuple, unit), enums, generics,
//! `#[gc(skip)]`, and whether the resulting objects are tracked.

use gc_api::{Finalize, Gc, GcAny, Trace};
use gc_tests::reset_heap;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

fn referent_ids<T: 'static>(g: &Gc<T>) -> Vec<usize> {
    gc_api::get_referents(&[GcAny::from(g.clone())])
        .iter()
        .map(GcAny::id)
        .collect()
}

#[derive(Trace, Finalize)]
struct Named {
    first: Gc<u8>,
    #[gc(skip)]
    skipped: Gc<u8>,
    second: Option<Gc<u8>>,
    number: i32,
}

#[derive(Trace, Finalize)]
struct Tuple(Gc<u8>, #[gc(skip)] Gc<u8>, Vec<Gc<u8>>);

#[derive(Trace, Finalize)]
struct Unit;

#[derive(Trace, Finalize)]
struct Primitives {
    a: u64,
    b: String,
    c: Vec<(i32, f64)>,
    d: Option<Box<u32>>,
    e: HashMap<String, Vec<u8>>,
}

#[test]
fn named_struct_traces_its_fields_in_order_except_skipped_ones() {
    reset_heap();
    let g = Gc::new(Named {
        first: Gc::new(1),
        skipped: Gc::new(2),
        second: Some(Gc::new(3)),
        number: 4,
    });
    assert!(Gc::is_tracked(&g));
    assert_eq!(
        referent_ids(&g),
        [Gc::id(&g.first), Gc::id(g.second.as_ref().unwrap())]
    );
    assert_eq!(*g.skipped + g.number as u8, 6);
}

#[test]
fn tuple_struct_traces_its_fields_in_order() {
    reset_heap();
    let g = Gc::new(Tuple(Gc::new(1), Gc::new(2), vec![Gc::new(3), Gc::new(4)]));
    assert!(Gc::is_tracked(&g));
    assert_eq!(
        referent_ids(&g),
        [Gc::id(&g.0), Gc::id(&g.2[0]), Gc::id(&g.2[1])]
    );
    assert_eq!(*g.1, 2);
}

#[test]
fn unit_and_primitive_structs_are_untracked() {
    reset_heap();
    let u = Gc::new(Unit);
    let p = Gc::new(Primitives {
        a: 1,
        b: "b".into(),
        c: vec![(1, 2.0)],
        d: Some(Box::new(1)),
        e: HashMap::new(),
    });
    assert!(!Gc::is_tracked(&u));
    assert!(!Gc::is_tracked(&p));
    assert_eq!(
        gc_api::get_count(),
        [0, 0, 0],
        "untracked objects do not count"
    );
    assert!(referent_ids(&p).is_empty());
    assert_eq!(p.a + p.c.len() as u64, 2);
    assert_eq!(
        p.b.len() + p.d.as_deref().map_or(0, |d| *d as usize) + p.e.len(),
        2
    );
}

#[test]
fn a_struct_whose_only_gc_field_is_skipped_is_untracked() {
    reset_heap();
    #[derive(Trace, Finalize)]
    struct OnlySkipped {
        #[gc(skip)]
        inner: Gc<u8>,
        #[gc(skip)]
        counter: Rc<Cell<u32>>,
    }
    let g = Gc::new(OnlySkipped {
        inner: Gc::new(1),
        counter: Rc::default(),
    });
    assert!(!Gc::is_tracked(&g));
    assert_eq!(*g.inner as u32 + g.counter.get(), 1);
}

#[derive(Trace, Finalize)]
enum Shape {
    Empty,
    Leaf(Gc<u8>),
    Pair(Gc<u8>, #[gc(skip)] Gc<u8>, Gc<u8>),
    Named {
        left: Gc<u8>,
        #[gc(skip)]
        ignored: Gc<u8>,
        right: RefCell<Option<Gc<Shape>>>,
    },
}

#[test]
fn enum_variants_trace_the_active_fields() {
    reset_heap();
    let empty = Gc::new(Shape::Empty);
    assert!(
        Gc::is_tracked(&empty),
        "tracked whatever the active variant"
    );
    assert!(referent_ids(&empty).is_empty());

    let leaf = Gc::new(Shape::Leaf(Gc::new(1)));
    let Shape::Leaf(x) = &*leaf else {
        panic!("leaf")
    };
    assert_eq!(referent_ids(&leaf), [Gc::id(x)]);

    let pair = Gc::new(Shape::Pair(Gc::new(1), Gc::new(2), Gc::new(3)));
    let Shape::Pair(a, skipped, c) = &*pair else {
        panic!("pair")
    };
    assert_eq!(**skipped, 2);
    assert_eq!(referent_ids(&pair), [Gc::id(a), Gc::id(c)]);

    let named = Gc::new(Shape::Named {
        left: Gc::new(1),
        ignored: Gc::new(2),
        right: RefCell::new(Some(leaf.clone())),
    });
    let Shape::Named { left, ignored, .. } = &*named else {
        panic!("named")
    };
    assert_eq!(**ignored, 2);
    assert_eq!(referent_ids(&named), [Gc::id(left), Gc::id(&leaf)]);
}

#[test]
fn cycle_through_an_enum_is_collected() {
    reset_heap();
    let a = Gc::new(Shape::Named {
        left: Gc::new(1),
        ignored: Gc::new(2),
        right: RefCell::new(None),
    });
    let b = Gc::new(Shape::Named {
        left: Gc::new(3),
        ignored: Gc::new(4),
        right: RefCell::new(Some(a.clone())),
    });
    if let Shape::Named { right, .. } = &*a {
        *right.borrow_mut() = Some(b.clone());
    }
    let w = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert!(w.upgrade().is_none());
}

#[derive(Trace, Finalize)]
enum Plain {
    A,
    B(u32),
    C { x: String },
}

#[test]
fn enum_without_gc_fields_is_untracked() {
    reset_heap();
    for v in [Plain::A, Plain::B(1), Plain::C { x: "c".into() }] {
        let g = Gc::new(v);
        assert!(!Gc::is_tracked(&g));
        if let Plain::C { x } = &*g {
            assert_eq!(x, "c");
        } else if let Plain::B(n) = &*g {
            assert_eq!(*n, 1);
        }
    }
}

#[derive(Trace, Finalize)]
struct Wrapper<T> {
    value: T,
    #[gc(skip)]
    tag: &'static str,
}

#[derive(Trace, Finalize)]
struct Link<T: 'static> {
    value: T,
    next: RefCell<Option<Gc<Link<T>>>>,
}

#[test]
fn generic_types_are_tracked_by_their_arguments() {
    reset_heap();
    let plain = Gc::new(Wrapper {
        value: 5u32,
        tag: "plain",
    });
    assert!(!Gc::is_tracked(&plain));
    let holding = Gc::new(Wrapper {
        value: Gc::new(5u32),
        tag: "holding",
    });
    assert!(Gc::is_tracked(&holding));
    assert_eq!(referent_ids(&holding), [Gc::id(&holding.value)]);
    let nested = Gc::new(Wrapper {
        value: Wrapper {
            value: vec![Gc::new(1u8)],
            tag: "inner",
        },
        tag: "outer",
    });
    assert!(Gc::is_tracked(&nested));
    assert_eq!(
        plain.tag.len() + nested.tag.len() + nested.value.tag.len(),
        15
    );
}

#[test]
fn cycle_through_a_generic_struct_is_collected() {
    reset_heap();
    let drops = Rc::new(Cell::new(0));
    struct Counted(Rc<Cell<usize>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    // `Counted` has no Trace impl: wrap it in a skipped field.
    #[derive(Trace, Finalize)]
    struct Payload {
        #[gc(skip)]
        counted: Counted,
        n: u32,
    }
    let mk = |n| {
        Gc::new(Link {
            value: Payload {
                counted: Counted(drops.clone()),
                n,
            },
            next: RefCell::new(None),
        })
    };
    let a = mk(1);
    let b = mk(2);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    assert_eq!(a.value.n + b.value.n, 3);
    assert_eq!(a.value.counted.0.get(), 0);
    drop((a, b));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[derive(Trace, Finalize)]
struct Bounded<T>
where
    T: Clone + 'static,
{
    items: Vec<T>,
}

#[derive(Trace, Finalize)]
struct Fixed<const N: usize> {
    slots: [Option<Gc<u8>>; N],
}

#[test]
fn where_clauses_and_const_generics() {
    reset_heap();
    let b = Gc::new(Bounded {
        items: vec![Gc::new(1u8), Gc::new(2u8)],
    });
    assert!(Gc::is_tracked(&b));
    assert_eq!(referent_ids(&b).len(), 2);
    let untracked = Gc::new(Bounded { items: vec![1u8] });
    assert!(!Gc::is_tracked(&untracked));
    let f = Gc::new(Fixed::<3> {
        slots: [None, Some(Gc::new(9)), None],
    });
    assert!(Gc::is_tracked(&f));
    assert_eq!(referent_ids(&f), [Gc::id(f.slots[1].as_ref().unwrap())]);
}

/// A skipped field that does hold a `Gc` hides its edge: a cycle through it leaks (as an
/// `Rc` cycle would), and never causes a wrong free.
#[derive(Trace, Finalize)]
struct Hidden {
    #[gc(skip)]
    next: RefCell<Option<Gc<Hidden>>>,
    seen: RefCell<Option<Gc<Hidden>>>,
}

#[test]
fn cycle_through_a_skipped_field_is_never_collected() {
    reset_heap();
    let a = Gc::new(Hidden {
        next: RefCell::new(None),
        seen: RefCell::new(None),
    });
    *a.next.borrow_mut() = Some(a.clone());
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(gc_api::collect(), 0);
    let a = w.upgrade().expect("leaked, not freed");
    assert!(!Gc::is_dead(&a));
    // Break it by hand.
    a.next.borrow_mut().take();
    drop(a);
    assert!(w.upgrade().is_none());
}

#[test]
fn traced_field_next_to_a_skipped_one_still_forms_collectable_cycles() {
    reset_heap();
    let a = Gc::new(Hidden {
        next: RefCell::new(None),
        seen: RefCell::new(None),
    });
    *a.seen.borrow_mut() = Some(a.clone());
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert!(w.upgrade().is_none());
}

/// The recursive value type of a small language.
#[derive(Trace, Finalize)]
enum Value {
    Int(i64),
    List(Vec<Value>),
    Obj(Gc<RefCell<Vec<Value>>>),
}

#[test]
fn recursive_enum_compiles_is_tracked_and_its_cycles_are_collected() {
    reset_heap();
    let list = Gc::new(Value::List(vec![Value::Int(1), Value::Int(2)]));
    assert!(Gc::is_tracked(&list));
    if let Value::List(items) = &*list {
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], Value::Int(1)));
    }
    let obj = Gc::new(RefCell::new(vec![Value::Int(1)]));
    assert!(Gc::is_tracked(&obj));
    // obj -> [Int, List[Obj(obj)]]: a cycle through nested values.
    obj.borrow_mut()
        .push(Value::List(vec![Value::Obj(obj.clone())]));
    let holder = Gc::new(Value::Obj(obj.clone()));
    assert_eq!(referent_ids(&holder), [Gc::id(&obj)]);
    assert_eq!(referent_ids(&obj), [Gc::id(&obj)]);
    let w = Gc::downgrade(&obj);
    drop((obj, holder));
    assert_eq!(gc_api::collect(), 1);
    assert!(w.upgrade().is_none());
}

#[derive(Trace)]
struct WithFinalizer {
    next: RefCell<Option<Gc<WithFinalizer>>>,
    #[gc(skip)]
    calls: Rc<Cell<usize>>,
}

impl Finalize for WithFinalizer {
    fn finalize(&self) {
        self.calls.set(self.calls.get() + 1);
    }
}

#[test]
fn derived_trace_with_a_hand_written_finalizer() {
    reset_heap();
    let calls = Rc::new(Cell::new(0));
    let a = Gc::new(WithFinalizer {
        next: RefCell::new(None),
        calls: calls.clone(),
    });
    *a.next.borrow_mut() = Some(a.clone());
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    assert_eq!(calls.get(), 1);
}

#[derive(Trace, Finalize)]
struct Everything {
    tuple: (u8, Gc<u8>),
    array: [Gc<u8>; 2],
    boxed: Box<Gc<u8>>,
    result: Result<Gc<u8>, String>,
    map: std::collections::BTreeMap<u8, Gc<u8>>,
    deque: std::collections::VecDeque<Gc<u8>>,
    weak: gc_api::Weak<u8>,
}

#[test]
fn derived_trace_walks_nested_std_containers_in_order() {
    reset_heap();
    let target = Gc::new(0u8);
    let e = Gc::new(Everything {
        tuple: (0, Gc::new(1)),
        array: [Gc::new(2), Gc::new(3)],
        boxed: Box::new(Gc::new(4)),
        result: Ok(Gc::new(5)),
        map: [(1, Gc::new(6))].into_iter().collect(),
        deque: [Gc::new(7)].into_iter().collect(),
        weak: Gc::downgrade(&target),
    });
    let values: Vec<u8> = gc_api::get_referents(&[GcAny::from(e.clone())])
        .into_iter()
        .filter_map(|o| o.downcast::<u8>().ok())
        .map(|g| *g)
        .collect();
    assert_eq!(
        values,
        [1, 2, 3, 4, 5, 6, 7],
        "the weak target is no referent"
    );
    assert_eq!(e.tuple.0, 0);
    assert!(e.result.is_ok());
    assert!(e.weak.upgrade().is_some());
}
