//! The control surface of Python's `gc` module: enable/disable, thresholds, stats,
//! callbacks, debug flags (with their `tracing` output), garbage and freeze.

use gc_api::{CallbackId, CallbackInfo, DebugFlags, Gc, Phase};
use std::cell::RefCell;
use std::panic::catch_unwind;
use std::rc::Rc;

use gc_tests::{Capture, Drops, Node, node, pair, reset_heap};

#[test]
fn a_new_thread_starts_with_the_defaults() {
    std::thread::spawn(|| {
        assert!(gc_api::is_enabled());
        assert_eq!(gc_api::get_threshold(), [700, 10, 10]);
        assert_eq!(gc_api::get_count(), [0, 0, 0]);
        assert_eq!(gc_api::get_debug(), DebugFlags::empty());
        assert!(gc_api::garbage().is_empty());
        assert_eq!(gc_api::get_freeze_count(), 0);
        assert!(gc_api::get_objects(None).unwrap().is_empty());
        for s in gc_api::get_stats() {
            assert_eq!((s.collections, s.collected, s.uncollectable), (0, 0, 0));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn settings_of_one_thread_do_not_leak_into_another() {
    gc_api::disable();
    gc_api::set_threshold([1, 2, 3]);
    gc_api::set_debug(DebugFlags::SAVEALL);
    std::thread::spawn(|| {
        assert!(gc_api::is_enabled());
        assert_eq!(gc_api::get_threshold(), [700, 10, 10]);
        assert_eq!(gc_api::get_debug(), DebugFlags::empty());
    })
    .join()
    .unwrap();
    assert!(!gc_api::is_enabled());
    assert_eq!(gc_api::get_threshold(), [1, 2, 3]);
    gc_api::set_debug(DebugFlags::empty());
}

#[test]
fn enable_disable_and_is_enabled() {
    gc_api::enable();
    assert!(gc_api::is_enabled());
    gc_api::disable();
    assert!(!gc_api::is_enabled());
    gc_api::disable();
    assert!(!gc_api::is_enabled());
    gc_api::enable();
    gc_api::enable();
    assert!(gc_api::is_enabled());
}

#[test]
fn thresholds_round_trip() {
    gc_api::set_threshold([100, 5, 3]);
    assert_eq!(gc_api::get_threshold(), [100, 5, 3]);
    gc_api::set_threshold([0, 0, 0]);
    assert_eq!(gc_api::get_threshold(), [0, 0, 0]);
    gc_api::set_threshold([700, 10, 10]);
    assert_eq!(gc_api::get_threshold(), [700, 10, 10]);
}

#[test]
fn threshold0_of_zero_turns_automatic_collection_off() {
    reset_heap();
    gc_api::set_threshold([0, 10, 10]);
    gc_api::enable();
    let drops = Drops::default();
    let before = gc_api::get_stats();
    for _ in 0..2000 {
        drop(pair(&drops));
    }
    assert_eq!(gc_api::get_stats(), before, "no automatic collection");
    assert_eq!(gc_api::get_count()[0], 4000);
    assert_eq!(drops.get(), 0);
    assert_eq!(gc_api::collect(), 4000, "explicit collection still works");
    assert_eq!(drops.get(), 4000);
}

#[test]
fn disabled_collector_runs_no_automatic_collection() {
    reset_heap();
    gc_api::set_threshold([10, 10, 10]);
    let drops = Drops::default();
    let before = gc_api::get_stats();
    for _ in 0..1000 {
        drop(pair(&drops));
    }
    assert_eq!(gc_api::get_stats(), before);
    assert_eq!(drops.get(), 0);
    gc_api::enable();
    drop(pair(&drops));
    assert!(
        drops.get() > 0,
        "enabled again, the next allocation collects"
    );
    gc_api::disable();
    assert_eq!(drops.get(), 2000, "the 1000 old pairs");
    assert_eq!(gc_api::collect(), 2, "the pair made after the collection");
    assert_eq!(drops.get(), 2002);
}

#[test]
fn automatic_collection_frees_garbage_cycles() {
    reset_heap();
    gc_api::enable();
    let drops = Drops::default();
    for _ in 0..10_000 {
        drop(pair(&drops));
    }
    gc_api::disable();
    assert!(drops.get() >= 20_000 - 701, "dropped {}", drops.get());
}

#[test]
fn stats_count_collections_and_collected_objects_per_generation() {
    reset_heap();
    let drops = Drops::default();
    let s0 = gc_api::get_stats();
    drop(pair(&drops));
    drop(node(&drops));
    assert_eq!(gc_api::collect_generation(0), Ok(2));
    let s1 = gc_api::get_stats();
    assert_eq!(s1[0].collections, s0[0].collections + 1);
    assert_eq!(s1[0].collected, s0[0].collected + 2);
    assert_eq!(s1[0].uncollectable, 0);
    assert_eq!(s1[1], s0[1]);
    assert_eq!(s1[2], s0[2]);
    drop(pair(&drops));
    drop(pair(&drops));
    assert_eq!(gc_api::collect_generation(1), Ok(4));
    let s2 = gc_api::get_stats();
    assert_eq!(s2[0], s1[0]);
    assert_eq!(s2[1].collections, s1[1].collections + 1);
    assert_eq!(s2[1].collected, s1[1].collected + 4);
    drop(pair(&drops));
    assert_eq!(gc_api::collect(), 2);
    let s3 = gc_api::get_stats();
    assert_eq!(s3[2].collections, s2[2].collections + 1);
    assert_eq!(s3[2].collected, s2[2].collected + 2);
    assert_eq!(s3[2].uncollectable, 0);
    assert_eq!(s3[0], s2[0]);
    assert_eq!(s3[1], s2[1]);
}

type Calls = Rc<RefCell<Vec<(&'static str, Phase, CallbackInfo)>>>;

fn recorder(calls: &Calls, name: &'static str) -> impl Fn(Phase, &CallbackInfo) + 'static {
    let calls = calls.clone();
    move |phase, info| calls.borrow_mut().push((name, phase, *info))
}

#[test]
fn callbacks_run_in_registration_order_with_start_and_stop_info() {
    reset_heap();
    let calls: Calls = Rc::default();
    let first = gc_api::add_callback(recorder(&calls, "first"));
    let second = gc_api::add_callback(recorder(&calls, "second"));
    assert_ne!(first, second);
    let copy: CallbackId = first;
    assert_eq!(copy, first);
    let drops = Drops::default();
    drop(pair(&drops));
    assert_eq!(gc_api::collect(), 2);
    let start = CallbackInfo {
        generation: 2,
        collected: 0,
        uncollectable: 0,
    };
    let stop = CallbackInfo {
        generation: 2,
        collected: 2,
        uncollectable: 0,
    };
    assert_eq!(
        *calls.borrow(),
        [
            ("first", Phase::Start, start),
            ("second", Phase::Start, start),
            ("first", Phase::Stop, stop),
            ("second", Phase::Stop, stop),
        ]
    );
    calls.borrow_mut().clear();
    assert_eq!(gc_api::collect_generation(1), Ok(0));
    let gens: Vec<usize> = calls.borrow().iter().map(|c| c.2.generation).collect();
    assert_eq!(gens, [1, 1, 1, 1]);

    assert!(gc_api::remove_callback(first));
    assert!(!gc_api::remove_callback(first), "already removed");
    calls.borrow_mut().clear();
    gc_api::collect();
    let names: Vec<&str> = calls.borrow().iter().map(|c| c.0).collect();
    assert_eq!(names, ["second", "second"]);
    assert!(gc_api::remove_callback(second));
    calls.borrow_mut().clear();
    gc_api::collect();
    assert!(calls.borrow().is_empty());
}

#[test]
fn callbacks_run_for_automatic_collections() {
    reset_heap();
    let calls: Calls = Rc::default();
    let id = gc_api::add_callback(recorder(&calls, "cb"));
    gc_api::set_threshold([5, 10, 10]);
    gc_api::enable();
    let drops = Drops::default();
    let mut kept = Vec::new();
    for _ in 0..6 {
        kept.push(node(&drops));
    }
    gc_api::disable();
    assert!(gc_api::remove_callback(id));
    let calls = calls.borrow();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].1, Phase::Start);
    assert_eq!(calls[1].1, Phase::Stop);
    assert_eq!(calls[0].2.generation, 0);
}

#[test]
fn collect_inside_a_callback_returns_zero_and_callbacks_may_allocate() {
    reset_heap();
    let nested: Rc<RefCell<Vec<usize>>> = Rc::default();
    let drops = Drops::default();
    let id = {
        let nested = nested.clone();
        let drops = drops.clone();
        gc_api::add_callback(move |_, _| {
            nested.borrow_mut().push(gc_api::collect());
            nested
                .borrow_mut()
                .push(gc_api::collect_generation(0).unwrap());
            // New garbage made inside the callback.
            drop(pair(&drops));
        })
    };
    drop(pair(&drops));
    // As in CPython, the "start" callbacks run before the generations are merged: the
    // pair made there is collected with the rest.
    assert_eq!(gc_api::collect(), 4);
    assert_eq!(*nested.borrow(), [0, 0, 0, 0]);
    assert!(gc_api::remove_callback(id));
    assert_eq!(drops.get(), 4);
    // The pair made by the "stop" callback goes next time.
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 6);
}

#[test]
fn a_panicking_callback_leaves_the_heap_consistent() {
    reset_heap();
    let id = gc_api::add_callback(|phase, _| {
        if phase == Phase::Stop {
            panic!("callback panics");
        }
    });
    let drops = Drops::default();
    drop(pair(&drops));
    let result = catch_unwind(gc_api::collect);
    assert!(result.is_err(), "the panic propagates");
    assert_eq!(drops.get(), 2, "the collection itself completed");
    assert!(gc_api::remove_callback(id));
    drop(pair(&drops));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 4);
}

#[test]
fn debug_flags_round_trip() {
    reset_heap();
    for flags in [
        DebugFlags::STATS,
        DebugFlags::COLLECTABLE,
        DebugFlags::UNCOLLECTABLE,
        DebugFlags::SAVEALL,
        DebugFlags::LEAK,
        DebugFlags::STATS | DebugFlags::COLLECTABLE,
        DebugFlags::empty(),
    ] {
        gc_api::set_debug(flags);
        assert_eq!(gc_api::get_debug(), flags);
    }
    assert_eq!(
        DebugFlags::LEAK,
        DebugFlags::COLLECTABLE | DebugFlags::UNCOLLECTABLE | DebugFlags::SAVEALL
    );
}

#[test]
fn saveall_keeps_the_garbage_in_garbage_and_clear_garbage_lets_it_go() {
    reset_heap();
    assert!(gc_api::garbage().is_empty());
    gc_api::set_debug(DebugFlags::SAVEALL);
    let drops = Drops::default();
    let (a, b) = pair(&drops);
    let ids = [Gc::id(&a), Gc::id(&b)];
    drop((a, b));
    let before = gc_api::get_stats()[2];
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 0, "values are not dropped");
    assert_eq!(gc_api::get_stats()[2].collected, before.collected + 2);
    let saved = gc_api::garbage();
    assert_eq!(saved.len(), 2);
    let mut saved_ids: Vec<usize> = saved.iter().map(|g| g.id()).collect();
    saved_ids.sort_unstable();
    let mut want = ids.to_vec();
    want.sort_unstable();
    assert_eq!(saved_ids, want);
    for g in saved {
        assert!(!g.is_dead());
        let n = g.downcast::<Node>().expect("a Node");
        assert!(n.next.borrow().is_some(), "the saved objects are intact");
    }
    // Kept by `garbage()`, they are not garbage for the next collection.
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(gc_api::garbage().len(), 2);

    gc_api::set_debug(DebugFlags::empty());
    gc_api::clear_garbage();
    assert!(gc_api::garbage().is_empty());
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[test]
fn clear_garbage_frees_saved_objects_nothing_else_holds() {
    reset_heap();
    gc_api::set_debug(DebugFlags::SAVEALL);
    let drops = Drops::default();
    let a = node(&drops);
    *a.next.borrow_mut() = Some(a.clone());
    drop(a);
    assert_eq!(gc_api::collect(), 1);
    gc_api::set_debug(DebugFlags::empty());
    // Break the saved cycle by hand: now only `garbage()` holds the object.
    let saved = gc_api::garbage();
    assert_eq!(saved.len(), 1);
    let a = saved[0].clone().downcast::<Node>().expect("a Node");
    a.next.borrow_mut().take();
    drop((a, saved));
    assert_eq!(drops.get(), 0);
    gc_api::clear_garbage();
    assert_eq!(drops.get(), 1, "freed by clear_garbage itself");
    assert!(gc_api::garbage().is_empty());
}

#[test]
fn saveall_saves_acyclic_objects_reachable_only_from_the_garbage() {
    reset_heap();
    gc_api::set_debug(DebugFlags::SAVEALL);
    let drops = Drops::default();
    let (a, b) = pair(&drops);
    // a -> b -> a, and a second node c on the cycle: a -> c -> b -> a.
    let c = node(&drops);
    *c.next.borrow_mut() = Some(b.clone());
    *a.next.borrow_mut() = Some(c.clone());
    drop((a, b, c));
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(gc_api::garbage().len(), 3);
    assert_eq!(drops.get(), 0);
    gc_api::set_debug(DebugFlags::empty());
    gc_api::clear_garbage();
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(drops.get(), 3);
}

#[test]
fn freeze_moves_everything_to_the_permanent_generation() {
    reset_heap();
    let drops = Drops::default();
    let tracked_before = gc_api::get_objects(None).unwrap().len();
    let kept: Vec<Gc<Node>> = (0..3).map(|_| node(&drops)).collect();
    let (a, b) = pair(&drops);
    let ids = [Gc::id(&a), Gc::id(&b)];
    assert_eq!(gc_api::get_count()[0], 5);
    gc_api::freeze();
    assert_eq!(gc_api::get_freeze_count(), tracked_before + 5);
    assert_eq!(gc_api::get_count()[0], 0, "freeze zeroes count0");
    assert!(
        gc_api::get_objects(None).unwrap().is_empty(),
        "the permanent generation is not listed"
    );
    // Frozen garbage is never collected.
    drop((a, b));
    assert_eq!(gc_api::collect(), 0);
    assert_eq!(drops.get(), 0);
    // Objects made after the freeze are collected as usual.
    drop(pair(&drops));
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
    assert_eq!(gc_api::get_freeze_count(), tracked_before + 5);

    gc_api::unfreeze();
    assert_eq!(gc_api::get_freeze_count(), 0);
    let old: Vec<usize> = gc_api::get_objects(Some(2))
        .unwrap()
        .iter()
        .map(|o| o.id())
        .collect();
    for k in &kept {
        assert!(
            old.contains(&Gc::id(k)),
            "unfrozen objects are in generation 2"
        );
    }
    for id in ids {
        assert!(old.contains(&id));
    }
    assert_eq!(gc_api::collect(), 2, "the thawed garbage goes now");
    assert_eq!(drops.get(), 4);
    drop(kept);
    assert_eq!(drops.get(), 7);
}

#[test]
fn freezing_twice_and_unfreezing_an_empty_permanent_generation() {
    reset_heap();
    let drops = Drops::default();
    let a = node(&drops);
    gc_api::freeze();
    let frozen = gc_api::get_freeze_count();
    assert!(frozen >= 1);
    let b = node(&drops);
    gc_api::freeze();
    assert_eq!(gc_api::get_freeze_count(), frozen + 1);
    gc_api::unfreeze();
    gc_api::unfreeze();
    assert_eq!(gc_api::get_freeze_count(), 0);
    assert_eq!(gc_api::get_objects(Some(2)).unwrap().len(), frozen + 1);
    drop((a, b));
    assert_eq!(drops.get(), 2, "frozen objects are still refcounted");
}

#[test]
fn debug_stats_are_tracing_events_with_target_gc() {
    reset_heap();
    let capture = Capture::default();
    let drops = Drops::default();
    tracing::subscriber::with_default(capture.clone(), || {
        gc_api::collect();
        assert!(
            !capture
                .gc_messages()
                .iter()
                .any(|m| m.contains("collecting generation")),
            "no STATS output without the flag"
        );
        gc_api::set_debug(DebugFlags::STATS);
        drop(pair(&drops));
        assert_eq!(gc_api::collect_generation(1), Ok(2));
        gc_api::set_debug(DebugFlags::empty());
    });
    let messages = capture.gc_messages();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("collecting generation 1")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("2 unreachable") && m.contains("0 uncollectable")),
        "{messages:?}"
    );
}

#[test]
fn debug_collectable_reports_each_collectable_object() {
    reset_heap();
    let capture = Capture::default();
    let drops = Drops::default();
    let (a, b) = pair(&drops);
    let ids = [format!("{:#x}", Gc::id(&a)), format!("{:#x}", Gc::id(&b))];
    drop((a, b));
    tracing::subscriber::with_default(capture.clone(), || {
        gc_api::set_debug(DebugFlags::COLLECTABLE);
        assert_eq!(gc_api::collect(), 2);
        gc_api::set_debug(DebugFlags::empty());
    });
    let collectable: Vec<String> = capture
        .gc_messages()
        .into_iter()
        .filter(|m| m.contains("collectable"))
        .collect();
    assert_eq!(collectable.len(), 2, "{collectable:?}");
    for id in &ids {
        assert!(
            collectable
                .iter()
                .any(|m| m.contains(id.as_str()) && m.contains("Node")),
            "{id} in {collectable:?}"
        );
    }
    assert_eq!(drops.get(), 2);
}

#[test]
fn debug_leak_reports_and_saves() {
    reset_heap();
    let capture = Capture::default();
    let drops = Drops::default();
    drop(pair(&drops));
    tracing::subscriber::with_default(capture.clone(), || {
        gc_api::set_debug(DebugFlags::LEAK);
        assert_eq!(gc_api::collect(), 2);
        gc_api::set_debug(DebugFlags::empty());
    });
    let reported = capture
        .gc_messages()
        .iter()
        .filter(|m| m.contains("collectable"))
        .count();
    assert_eq!(reported, 2);
    assert_eq!(gc_api::garbage().len(), 2);
    assert_eq!(drops.get(), 0);
    gc_api::clear_garbage();
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.get(), 2);
}
