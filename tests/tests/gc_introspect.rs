//! Introspection: `object_at` (`_ctypes.PyObj_FromPtr`), `GcAny`, `get_objects`,
//! `get_referents`, `get_referrers`, `debug::dump_dot` and `malloc_stats`.

use gc_api::{Finalize, Gc, GcAny, Trace};
use gc_tests::reset_heap;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::collections::HashSet;

#[derive(Trace, Finalize)]
struct Node {
    label: Gc<String>,
    next: RefCell<Option<Gc<Node>>>,
    numbers: Vec<Gc<u32>>,
}

fn node(label: &str) -> Gc<Node> {
    Gc::new(Node {
        label: Gc::new(label.to_string()),
        next: RefCell::new(None),
        numbers: Vec::new(),
    })
}

#[derive(Trace, Finalize)]
struct Big {
    payload: [u64; 128],
    next: RefCell<Option<Gc<Big>>>,
}

fn ids(objs: &[GcAny]) -> Vec<usize> {
    objs.iter().map(GcAny::id).collect()
}

#[test]
fn object_at_finds_live_objects_of_every_kind() {
    reset_heap();
    let n = node("n");
    let s = Gc::new(String::from("text"));
    let x = Gc::new(42u64);
    let big = Gc::new(Big {
        payload: [7; 128],
        next: RefCell::new(None),
    });

    let found = gc_api::object_at(Gc::id(&n)).expect("tracked object");
    assert_eq!(found.id(), Gc::id(&n));
    assert!(found.type_name().ends_with("Node"), "{}", found.type_name());
    assert!(found.is_tracked());
    let back = found.downcast::<Node>().expect("right type");
    assert!(Gc::ptr_eq(&back, &n));
    assert_eq!(&**back.label, "n");

    let found = gc_api::object_at(Gc::id(&s)).expect("untracked object");
    assert!(!found.is_tracked());
    assert_eq!(found.type_name(), std::any::type_name::<String>());
    assert_eq!(*found.downcast::<String>().unwrap(), "text");

    let found = gc_api::object_at(Gc::id(&x)).expect("untracked number");
    assert_eq!(*found.downcast::<u64>().unwrap(), 42);

    let found = gc_api::object_at(Gc::id(&big)).expect("large object");
    assert_eq!(found.downcast::<Big>().unwrap().payload[127], 7);
}

#[test]
fn object_at_holds_a_strong_handle() {
    reset_heap();
    let n = node("n");
    assert_eq!(Gc::strong_count(&n), 1);
    let any = gc_api::object_at(Gc::id(&n)).unwrap();
    assert_eq!(Gc::strong_count(&n), 2);
    assert_eq!(any.strong_count(), 2);
    let weak = Gc::downgrade(&n);
    drop(n);
    assert!(weak.upgrade().is_some(), "GcAny keeps the object alive");
    drop(any);
    assert!(weak.upgrade().is_none());
}

#[test]
fn object_at_gives_none_for_freed_objects() {
    reset_heap();
    let n = node("gone");
    let s = Gc::new(5u8);
    let big = Gc::new(Big {
        payload: [0; 128],
        next: RefCell::new(None),
    });
    let freed = [Gc::id(&n), Gc::id(&s), Gc::id(&big)];
    drop((n, s, big));
    for id in freed {
        assert!(gc_api::object_at(id).is_none(), "{id:#x}");
    }
}

#[test]
fn object_at_gives_none_for_objects_freed_by_the_collector() {
    reset_heap();
    let a = node("a");
    *a.next.borrow_mut() = Some(a.clone());
    let id = Gc::id(&a);
    drop(a);
    assert!(
        gc_api::object_at(id).is_some(),
        "garbage, not collected yet"
    );
    assert_eq!(gc_api::collect(), 1);
    assert!(gc_api::object_at(id).is_none());
}

#[test]
fn object_at_gives_none_for_interior_pointers() {
    reset_heap();
    let n = node("n");
    let s = Gc::new(1u32);
    let big = Gc::new(Big {
        payload: [0; 128],
        next: RefCell::new(None),
    });
    for id in [Gc::id(&n), Gc::id(&s), Gc::id(&big)] {
        for offset in [1usize, 2, 4, 8, 15, 16, 24, 32, 48] {
            assert!(gc_api::object_at(id + offset).is_none(), "{id:#x}+{offset}");
        }
        assert!(gc_api::object_at(id - 1).is_none());
        assert!(gc_api::object_at(id - 8).is_none());
    }
    // The value's own address is not an id either.
    let value_addr = std::ptr::from_ref::<Node>(&n) as usize;
    assert_ne!(value_addr, Gc::id(&n));
    assert!(gc_api::object_at(value_addr).is_none());
}

#[test]
fn object_at_gives_none_for_small_and_odd_integers() {
    reset_heap();
    let _keep = node("k");
    for id in [
        0,
        1,
        8,
        16,
        4096,
        usize::MAX,
        usize::MAX - 15,
        1 << 47,
        1 << 63,
    ] {
        assert!(gc_api::object_at(id).is_none(), "{id:#x}");
    }
    // Stack and static addresses.
    let local = 5u64;
    assert!(gc_api::object_at(std::ptr::from_ref(&local) as usize).is_none());
    static STATIC: u64 = 3;
    assert!(gc_api::object_at(std::ptr::from_ref(&STATIC) as usize).is_none());
    // A Box from the global allocator.
    let boxed = Box::new([0u8; 64]);
    assert!(gc_api::object_at(std::ptr::from_ref(&*boxed) as usize).is_none());
}

#[test]
fn object_at_never_crashes_on_a_million_integers() {
    reset_heap();
    // Live objects, with free blocks between them, so addresses near them hit pools.
    let mut live = Vec::new();
    for i in 0..2000 {
        let n = node("x");
        if i % 3 != 0 {
            live.push(n);
        }
    }
    // Every live object of the thread: the nodes and their labels.
    let live_ids: HashSet<usize> = live
        .iter()
        .flat_map(|n| [Gc::id(n), Gc::id(&n.label)])
        .collect();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let anchors: Vec<usize> = live_ids.iter().copied().collect();
    let mut hits = 0;
    for i in 0..1_000_000 {
        let candidate: usize = match i % 4 {
            0 => rng.r#gen(),
            1 => rng.r#gen::<usize>() & 0x0000_7fff_ffff_fff0,
            // Near a live object: inside its pool or arena, any alignment.
            2 => anchors[rng.gen_range(0..anchors.len())].wrapping_add(rng.gen_range(0..1 << 20)),
            _ => {
                anchors[rng.gen_range(0..anchors.len())].wrapping_sub(rng.gen_range(0..1 << 16))
                    & !15
            }
        };
        match gc_api::object_at(candidate) {
            Some(obj) => {
                assert!(live_ids.contains(&candidate), "{candidate:#x} is no object");
                assert_eq!(obj.id(), candidate);
                hits += 1;
            }
            None => assert!(!live_ids.contains(&candidate), "{candidate:#x} missed"),
        }
    }
    assert!(hits > 0, "some aligned addresses near objects are objects");
}

#[test]
fn downcast_to_the_wrong_type_gives_the_handle_back() {
    reset_heap();
    let n = node("n");
    let any = GcAny::from(n.clone());
    assert_eq!(any.id(), Gc::id(&n));
    assert!(any.is::<Node>());
    assert!(!any.is::<String>());
    let any = match any.downcast::<String>() {
        Ok(_) => panic!("a Node is not a String"),
        Err(back) => back,
    };
    assert_eq!(any.id(), Gc::id(&n));
    assert_eq!(Gc::strong_count(&n), 2, "no handle lost or leaked");
    let typed = any.downcast::<Node>().expect("a Node");
    assert!(Gc::ptr_eq(&typed, &n));
    assert_eq!(Gc::strong_count(&n), 2);
    drop(typed);
    assert_eq!(Gc::strong_count(&n), 1);
}

#[test]
fn gc_any_is_a_strong_comparable_handle() {
    reset_heap();
    let n = node("n");
    let a = GcAny::from(n.clone());
    let b = a.clone();
    assert_eq!(a, b);
    assert!(GcAny::ptr_eq(&a, &b));
    assert_eq!(Gc::strong_count(&n), 3);
    let set: HashSet<GcAny> = [a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.len(), 1);
    let other = GcAny::from(node("m"));
    assert_ne!(a, other);
    assert!(format!("{a:?}").contains("Node"));
    assert!(!a.is_dead());
    let u = GcAny::from(Gc::new(1i32));
    assert!(!u.is_tracked());
    assert!(u.type_name().contains("i32"));
}

#[test]
fn get_referents_follow_trace_order_and_include_untracked_objects() {
    reset_heap();
    let next = node("next");
    let numbers: Vec<Gc<u32>> = (0..3).map(Gc::new).collect();
    let n = Gc::new(Node {
        label: Gc::new("label".to_string()),
        next: RefCell::new(Some(next.clone())),
        numbers: numbers.clone(),
    });
    let refs = gc_api::get_referents(&[GcAny::from(n.clone())]);
    let mut want = vec![Gc::id(&n.label), Gc::id(&next)];
    want.extend(numbers.iter().map(Gc::id));
    assert_eq!(ids(&refs), want);
    assert!(!refs[0].is_tracked());
    assert!(refs[1].is_tracked());

    // Several objects: their referents one after the other.
    let both = gc_api::get_referents(&[GcAny::from(next.clone()), GcAny::from(n.clone())]);
    let mut want2 = vec![Gc::id(&next.label)];
    want2.extend(want);
    assert_eq!(ids(&both), want2);

    // An untracked object has none.
    assert!(gc_api::get_referents(&[GcAny::from(Gc::new(3u8))]).is_empty());
}

#[test]
fn get_referrers_finds_the_tracked_objects_pointing_at_a_target() {
    reset_heap();
    let target = node("target");
    let a = node("a");
    let b = node("b");
    let c = node("c");
    *a.next.borrow_mut() = Some(target.clone());
    *b.next.borrow_mut() = Some(target.clone());
    let referrers = gc_api::get_referrers(&[GcAny::from(target.clone())]);
    let mut got = ids(&referrers);
    got.sort_unstable();
    let mut want = vec![Gc::id(&a), Gc::id(&b)];
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(!got.contains(&Gc::id(&c)));

    // Referrers of an untracked object, in any generation.
    gc_api::collect_generation(0).unwrap();
    let label_referrers = gc_api::get_referrers(&[GcAny::from(c.label.clone())]);
    assert_eq!(ids(&label_referrers), [Gc::id(&c)]);

    // Several targets at once: objects referring to any of them.
    let any_of =
        gc_api::get_referrers(&[GcAny::from(target.clone()), GcAny::from(c.label.clone())]);
    assert_eq!(any_of.len(), 3);
}

#[test]
fn get_objects_lists_tracked_objects_by_generation() {
    reset_heap();
    let everything_before = gc_api::get_objects(None).unwrap().len();
    let n = node("n");
    let s = Gc::new(String::from("untracked"));
    let young = ids(&gc_api::get_objects(Some(0)).unwrap());
    assert!(young.contains(&Gc::id(&n)));
    assert!(
        !young.contains(&Gc::id(&s)),
        "untracked objects are not listed"
    );
    assert_eq!(
        gc_api::get_objects(None).unwrap().len(),
        everything_before + 1
    );
    gc_api::collect_generation(0).unwrap();
    assert!(!ids(&gc_api::get_objects(Some(0)).unwrap()).contains(&Gc::id(&n)));
    assert!(ids(&gc_api::get_objects(Some(1)).unwrap()).contains(&Gc::id(&n)));
    gc_api::collect_generation(1).unwrap();
    assert!(ids(&gc_api::get_objects(Some(2)).unwrap()).contains(&Gc::id(&n)));
    assert!(gc_api::get_objects(Some(3)).is_err());
    let typed: Vec<Gc<Node>> = gc_api::get_objects(Some(2))
        .unwrap()
        .into_iter()
        .filter_map(|o| o.downcast::<Node>().ok())
        .collect();
    assert!(typed.iter().any(|t| Gc::ptr_eq(t, &n)));
}

#[test]
fn get_objects_does_not_list_freed_objects() {
    reset_heap();
    let n = node("n");
    let id = Gc::id(&n);
    drop(n);
    assert!(!ids(&gc_api::get_objects(None).unwrap()).contains(&id));
}

#[test]
fn dump_dot_draws_a_small_cycle() {
    reset_heap();
    let a = node("a");
    let b = node("b");
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let dot = gc_api::debug::dump_dot(&[GcAny::from(a.clone())]);
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for id in [Gc::id(&a), Gc::id(&b), Gc::id(&a.label), Gc::id(&b.label)] {
        assert!(dot.contains(&format!("{id:#x}")), "{id:#x} in {dot}");
    }
    assert!(dot.contains("Node"));
    assert!(dot.contains("String"));
    // a is n0, reached first; its referents are its label (n1) and b (n2).
    assert!(dot.contains("n0 -> n1"), "{dot}");
    assert!(dot.contains("n0 -> n2"), "{dot}");
    assert!(
        dot.contains("n2 -> n0"),
        "the edge back closes the cycle: {dot}"
    );
    let edges = dot.lines().filter(|l| l.contains("->")).count();
    assert_eq!(edges, 4, "{dot}");
    *a.next.borrow_mut() = None;
}

#[test]
fn malloc_stats_display_and_blocks_in_use() {
    reset_heap();
    let before = gc_api::malloc_stats();
    let text = before.to_string();
    assert!(
        text.starts_with("Small block threshold = 512, in 32 size classes."),
        "{text}"
    );
    let kept: Vec<Gc<Node>> = (0..1000).map(|_| node("x")).collect();
    let during = gc_api::malloc_stats();
    // Each node is two objects: the node and its label.
    assert!(
        during.blocks_in_use() >= before.blocks_in_use() + 2000,
        "{} -> {}",
        before.blocks_in_use(),
        during.blocks_in_use()
    );
    for c in &during.classes {
        assert_eq!(c.block_size, (c.class + 1) * 16);
    }
    let table = during.to_string();
    let class_lines = table
        .lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() == 5
                && cols[0]
                    .parse::<usize>()
                    .is_ok_and(|class| cols[1].parse::<usize>() == Ok((class + 1) * 16))
        })
        .count();
    assert!(class_lines >= 1, "{table}");
    drop(kept);
    assert_eq!(
        gc_api::malloc_stats().blocks_in_use(),
        before.blocks_in_use()
    );
}

#[test]
fn large_objects_are_not_counted_as_small_blocks() {
    reset_heap();
    let before = gc_api::malloc_stats().blocks_in_use();
    let big = Gc::new(Big {
        payload: [1; 128],
        next: RefCell::new(None),
    });
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), before);
    assert!(gc_api::object_at(Gc::id(&big)).is_some());
    drop(big);
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), before);
}

thread_local! {
    static SMUGGLED: RefCell<Vec<Gc<Smuggler>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Trace, Finalize)]
struct Smuggler {
    next: RefCell<Option<Gc<Smuggler>>>,
}

impl Drop for Smuggler {
    fn drop(&mut self) {
        if let Some(n) = self.next.borrow_mut().take() {
            SMUGGLED.with(|s| s.borrow_mut().push(n));
        }
    }
}

#[test]
fn dead_objects_are_invisible_to_introspection() {
    reset_heap();
    let a = Gc::new(Smuggler {
        next: RefCell::new(None),
    });
    *a.next.borrow_mut() = Some(a.clone());
    let id = Gc::id(&a);
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    let smuggled = SMUGGLED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    assert_eq!(smuggled.len(), 1);
    assert!(Gc::is_dead(&smuggled[0]));
    assert!(
        gc_api::object_at(id).is_none(),
        "a dead object is no object"
    );
    assert!(!ids(&gc_api::get_objects(None).unwrap()).contains(&id));
    let any = GcAny::from(smuggled[0].clone());
    assert!(any.is_dead());
    assert!(gc_api::get_referents(&[any]).is_empty());
    drop(smuggled);
    assert!(gc_api::object_at(id).is_none());
}

#[derive(Trace, Finalize)]
#[repr(align(32))]
struct Aligned32(u8);

#[test]
fn object_at_at_the_size_and_alignment_boundaries() {
    reset_heap();
    let before = gc_api::malloc_stats().blocks_in_use();
    let unit_a = Gc::new(());
    let unit_b = Gc::new(());
    assert_ne!(Gc::id(&unit_a), Gc::id(&unit_b));
    // 16-byte header + 496 = 512: the largest small block; one more byte goes large.
    let small = Gc::new([1u8; 496]);
    let large = Gc::new([2u8; 497]);
    let aligned = Gc::new(Aligned32(3));
    assert_eq!(std::ptr::from_ref::<Aligned32>(&aligned) as usize % 32, 0);
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), before + 3);
    for (id, name) in [
        (Gc::id(&unit_a), "()"),
        (Gc::id(&small), "[u8; 496]"),
        (Gc::id(&large), "[u8; 497]"),
        (Gc::id(&aligned), "Aligned32"),
    ] {
        let found = gc_api::object_at(id).unwrap_or_else(|| panic!("{name}"));
        assert!(found.type_name().ends_with(name), "{}", found.type_name());
        assert!(gc_api::object_at(id + 1).is_none());
        assert!(gc_api::object_at(id + 8).is_none());
    }
    assert_eq!(small[495] + large[496] + aligned.0, 6);
    let ids = [Gc::id(&small), Gc::id(&large), Gc::id(&aligned)];
    drop((small, large, aligned, unit_a, unit_b));
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), before);
    for id in ids {
        assert!(gc_api::object_at(id).is_none());
    }
}
