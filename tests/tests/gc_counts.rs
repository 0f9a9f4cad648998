//! Generation counts, thresholds and automatic collection, exactly as CPython moves them
//! (test_gc.py: test_get_count, test_collect_generations, GCCallbackTests' counting).

use gc_api::{CallbackInfo, Finalize, Gc, Phase, Trace};
use gc_tests::reset_heap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

#[derive(Trace, Finalize)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

fn node() -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
    })
}

/// Allocates a two-node cycle and drops it: two tracked allocations, no frees.
fn garbage_pair() {
    let a = node();
    let b = Gc::new(Node {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b);
}

fn collections() -> [usize; 3] {
    gc_api::get_stats().map(|s| s.collections)
}

#[test]
fn each_tracked_allocation_counts_one_and_each_free_takes_one_off() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let mut kept: Vec<Gc<Node>> = (0..5).map(|_| node()).collect();
    assert_eq!(gc_api::get_count(), [5, 0, 0]);
    kept.truncate(3);
    assert_eq!(gc_api::get_count(), [3, 0, 0]);
    kept.push(node());
    assert_eq!(gc_api::get_count(), [4, 0, 0]);
    drop(kept);
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
}

#[test]
fn count_never_goes_below_zero() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let kept: Vec<Gc<Node>> = (0..10).map(|_| node()).collect();
    gc_api::collect();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    drop(kept);
    assert_eq!(
        gc_api::get_count(),
        [0, 0, 0],
        "frees of old objects stop at 0"
    );
    let a = node();
    assert_eq!(gc_api::get_count(), [1, 0, 0]);
    drop(a);
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
}

#[test]
fn collecting_a_generation_zeroes_the_younger_counts_and_bumps_the_next() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let _a = node();
    let _b = node();
    assert_eq!(gc_api::get_count(), [2, 0, 0]);
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 1, 0]);
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 2, 0]);
    let _c = node();
    assert_eq!(gc_api::get_count(), [1, 2, 0]);
    assert_eq!(gc_api::collect_generation(1), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 0, 1]);
    assert_eq!(gc_api::collect_generation(1), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 0, 2]);
    let _d = node();
    assert_eq!(gc_api::collect_generation(2), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
}

#[test]
fn get_count_after_collecting_generation_zero_is_0_1_0() {
    // test_gc.py's test_get_count: after collect(0), get_count() is (0, 1, 0).
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    garbage_pair();
    let _live = node();
    assert_eq!(gc_api::collect_generation(0), Ok(2));
    assert_eq!(gc_api::get_count(), [0, 1, 0]);
}

#[test]
fn untracked_objects_do_not_count() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let n = Gc::new(5u32);
    let s = Gc::new(String::new());
    let v = Gc::new(vec![1u8, 2, 3]);
    let o = Gc::new(Some(3.5f64));
    assert!(!Gc::is_tracked(&n));
    assert!(!Gc::is_tracked(&s));
    assert!(!Gc::is_tracked(&v));
    assert!(!Gc::is_tracked(&o));
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    drop((n, s, v, o));
    assert_eq!(gc_api::get_count(), [0, 0, 0]);

    let t = node();
    assert!(Gc::is_tracked(&t), "a struct with a Gc field is tracked");
    assert_eq!(gc_api::get_count(), [1, 0, 0]);
    let inner = Gc::new(Gc::new(1u8));
    assert!(Gc::is_tracked(&inner), "a Gc of a Gc may form a cycle");
    assert!(!Gc::is_tracked(&*inner));
    assert_eq!(gc_api::get_count(), [2, 0, 0]);
    let list = Gc::new(RefCell::new(vec![Gc::new(1u8)]));
    assert!(Gc::is_tracked(&list));
    assert_eq!(gc_api::get_count(), [3, 0, 0]);
}

#[test]
fn freeing_an_untracked_object_leaves_the_count_alone() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let _a = node();
    let _b = node();
    assert_eq!(gc_api::get_count(), [2, 0, 0]);
    drop(Gc::new(1u64));
    drop(Gc::new("x".to_string()));
    assert_eq!(gc_api::get_count(), [2, 0, 0]);
}

/// What a callback saw: phase, info, allocations so far, and `get_count()` then.
type Seen = Rc<RefCell<Vec<(Phase, CallbackInfo, usize, [usize; 3])>>>;

#[test]
fn first_automatic_collection_runs_during_the_701st_allocation() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let allocated = Rc::new(Cell::new(0usize));
    let seen: Seen = Rc::default();
    let id = {
        let allocated = allocated.clone();
        let seen = seen.clone();
        gc_api::add_callback(move |phase, info| {
            seen.borrow_mut()
                .push((phase, *info, allocated.get(), gc_api::get_count()));
        })
    };
    gc_api::enable();
    let mut kept = Vec::new();
    for i in 1..=700 {
        allocated.set(i);
        kept.push(node());
    }
    assert!(seen.borrow().is_empty(), "no collection in the first 700");
    assert_eq!(gc_api::get_count(), [700, 0, 0]);
    allocated.set(701);
    kept.push(node());
    gc_api::disable();
    assert!(gc_api::remove_callback(id));
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 2, "one collection: {seen:?}");
        let (phase, info, during, _) = seen[0];
        assert_eq!(phase, Phase::Start);
        assert_eq!(during, 701, "it ran while allocating the 701st object");
        assert_eq!(info.generation, 0);
        assert_eq!(info.collected, 0);
        let (phase, info, _, count_at_stop) = seen[1];
        assert_eq!(phase, Phase::Stop);
        assert_eq!(info.generation, 0);
        assert_eq!(info.collected, 0);
        assert_eq!(info.uncollectable, 0);
        assert_eq!(count_at_stop, [0, 1, 0]);
    }
    assert_eq!(gc_api::get_count(), [0, 1, 0]);
    // The 700 survivors moved up; the 701st object is alone in generation 0.
    assert_eq!(gc_api::get_objects(Some(1)).unwrap().len(), 700);
    let young = gc_api::get_objects(Some(0)).unwrap();
    assert_eq!(young.len(), 1);
    assert_eq!(young[0].id(), Gc::id(kept.last().unwrap()));
}

#[test]
fn hundred_thousand_objects_in_garbage_pairs_run_131_young_and_11_middle_collections() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    // A long-lived population in generation 2, as any real program has: it keeps the
    // oldest generation out (long-lived pending 0 < total / 4).
    let _long_lived: Vec<Gc<Node>> = (0..100).map(|_| node()).collect();
    gc_api::collect();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let before = gc_api::get_stats();
    let starts: Rc<RefCell<[usize; 3]>> = Rc::default();
    let id = {
        let starts = starts.clone();
        gc_api::add_callback(move |phase, info| {
            if phase == Phase::Start {
                starts.borrow_mut()[info.generation] += 1;
            }
        })
    };
    gc_api::enable();
    for _ in 0..50_000 {
        garbage_pair();
    }
    gc_api::disable();
    assert!(gc_api::remove_callback(id));
    let after = gc_api::get_stats();
    let delta: Vec<usize> = (0..3)
        .map(|g| after[g].collections - before[g].collections)
        .collect();
    assert_eq!(delta, [131, 11, 0]);
    assert_eq!(*starts.borrow(), [131, 11, 0]);
    let collected: usize = (0..3)
        .map(|g| after[g].collected - before[g].collected)
        .sum();
    // 142 collections of 701 allocations each freed whole pairs (a pair split across a
    // collection survives it and dies in a later one).
    assert!(collected >= 142 * 700 - 2 * 142, "collected {collected}");
    assert!(collected <= 100_000);
    // What is left is the tail since the last collection.
    gc_api::collect();
    let total: usize = gc_api::get_stats()
        .iter()
        .zip(before.iter())
        .map(|(a, b)| a.collected - b.collected)
        .sum();
    assert_eq!(
        total, 100_000,
        "every garbage object is collected exactly once"
    );
}

#[test]
fn hundred_thousand_objects_from_an_empty_heap_run_142_automatic_collections() {
    // Same workload from an empty heap. CPython's rule lets the oldest generation run
    // when long-lived pending >= total / 4, and with an empty heap that is 0 >= 0.
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let before = collections();
    gc_api::enable();
    for _ in 0..50_000 {
        garbage_pair();
    }
    gc_api::disable();
    let after = collections();
    let delta: Vec<usize> = (0..3).map(|g| after[g] - before[g]).collect();
    assert_eq!(delta.iter().sum::<usize>(), 142, "{delta:?}");
    assert_eq!(delta[1], 11, "{delta:?}");
}

#[test]
fn threshold_is_exceeded_not_reached() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    gc_api::set_threshold([5, 10, 10]);
    gc_api::enable();
    let before = collections();
    let mut kept = Vec::new();
    for _ in 0..5 {
        kept.push(node());
    }
    assert_eq!(collections(), before);
    assert_eq!(gc_api::get_count(), [5, 0, 0]);
    kept.push(node());
    assert_eq!(collections()[0], before[0] + 1);
    assert_eq!(gc_api::get_count(), [0, 1, 0]);
    gc_api::disable();
}

#[test]
fn untracked_allocations_never_trigger_a_collection() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    gc_api::set_threshold([5, 10, 10]);
    gc_api::enable();
    let before = collections();
    let kept: Vec<Gc<u64>> = (0..1000).map(Gc::new).collect();
    assert_eq!(collections(), before);
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    drop(kept);
    gc_api::disable();
}

#[test]
fn middle_generation_runs_when_its_count_exceeds_its_threshold() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    gc_api::set_threshold([2, 3, 1000]);
    let before = collections();
    let seen: Rc<RefCell<Vec<usize>>> = Rc::default();
    let id = {
        let seen = seen.clone();
        gc_api::add_callback(move |phase, info| {
            if phase == Phase::Start {
                seen.borrow_mut().push(info.generation);
            }
        })
    };
    gc_api::enable();
    // Each trigger takes 3 allocations (count0 must exceed 2).
    let mut kept = Vec::new();
    for _ in 0..3 * 10 {
        kept.push(node());
    }
    gc_api::disable();
    assert!(gc_api::remove_callback(id));
    assert_eq!(*seen.borrow(), [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    let after = collections();
    assert_eq!(after[0] - before[0], 8);
    assert_eq!(after[1] - before[1], 2);
}

#[test]
fn oldest_generation_waits_for_a_quarter_of_the_long_lived_heap() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    // 400 long-lived objects: a full collection needs 100 pending.
    let long_lived: Vec<Gc<Node>> = (0..400).map(|_| node()).collect();
    gc_api::collect();
    gc_api::set_threshold([10, 0, 0]);
    let seen: Rc<RefCell<Vec<usize>>> = Rc::default();
    let id = {
        let seen = seen.clone();
        gc_api::add_callback(move |phase, info| {
            if phase == Phase::Start {
                seen.borrow_mut().push(info.generation);
            }
        })
    };
    gc_api::enable();
    // Garbage only: nothing becomes long-lived pending, so generation 2 never runs.
    for _ in 0..200 {
        garbage_pair();
    }
    assert!(!seen.borrow().is_empty());
    assert!(!seen.borrow().contains(&2), "{:?}", seen.borrow());
    // Survivors this time: once 100 of them reached generation 2 a full one runs.
    seen.borrow_mut().clear();
    let mut survivors = Vec::new();
    for _ in 0..300 {
        survivors.push(node());
    }
    gc_api::disable();
    assert!(gc_api::remove_callback(id));
    assert!(seen.borrow().contains(&2), "{:?}", seen.borrow());
    drop(long_lived);
}

#[test]
fn collections_move_survivors_one_generation_up() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    let a = node();
    let in_gen = |g: usize, obj: &Gc<Node>| {
        gc_api::get_objects(Some(g))
            .unwrap()
            .iter()
            .any(|o| o.id() == Gc::id(obj))
    };
    assert!(in_gen(0, &a));
    gc_api::collect_generation(0).unwrap();
    assert!(!in_gen(0, &a));
    assert!(in_gen(1, &a));
    gc_api::collect_generation(0).unwrap();
    assert!(
        in_gen(1, &a),
        "a young collection leaves generation 1 alone"
    );
    gc_api::collect_generation(1).unwrap();
    assert!(in_gen(2, &a));
    gc_api::collect();
    assert!(in_gen(2, &a), "the oldest generation keeps its survivors");
    assert!(!in_gen(0, &a) && !in_gen(1, &a));
}

#[test]
fn get_objects_of_an_invalid_generation_is_an_error() {
    reset_heap();
    assert_eq!(gc_api::get_count(), [0, 0, 0]);
    assert!(gc_api::get_objects(Some(3)).is_err());
    assert!(gc_api::get_objects(Some(usize::MAX)).is_err());
    assert!(gc_api::collect_generation(3).is_err());
    let err = gc_api::get_objects(Some(3)).unwrap_err();
    let as_error: &dyn std::error::Error = &err;
    assert!(!as_error.to_string().is_empty());
    assert!(gc_api::get_objects(None).is_ok());
}
