//! The operation interpreter and reachability model of `gc-model`, driven by proptest:
//! the same oracle as the `graph_ops` and `api_misuse` fuzz targets, on stable, on every
//! change.

use gc_model::{Program, run};
use proptest::prelude::*;

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let program = Program::from_bytes(bytes);
    match run(&program) {
        Ok(_) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("{e}\nprogram: {program:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn graph_ops_agree_with_the_model(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        check(&bytes)?;
    }

    #[test]
    fn api_misuse_keeps_the_heap_sound(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        if let Err(e) = gc_model::misuse::run(&bytes) {
            return Err(TestCaseError::fail(e));
        }
    }
}

use gc_model::{Kind, Op};

fn program(enabled: bool, ops: Vec<Op>) -> Program {
    Program {
        enabled,
        thresholds: [700, 10, 10],
        ops,
    }
}

fn node(kind: Kind, edges: [Option<u8>; 4]) -> Op {
    Op::Alloc { kind, edges }
}

/// A weak reference that sits in garbage never calls back, even when its target (an
/// untracked leaf, which the collector does not examine) dies by refcounting while the
/// garbage is being deleted. Found by the model while it was being written: the model
/// was wrong, the heap right (CPython 3.12's rule).
#[test]
fn weak_in_garbage_stays_silent_when_its_leaf_dies_during_deletion() {
    let ops = vec![
        node(Kind::Untracked, [None; 4]),
        node(Kind::Quiet, [Some(0), None, None, None]),
        Op::Downgrade {
            h: 0,
            callback: true,
        },
        Op::StoreWeak { h: 1, w: 0 },
        Op::SetEdge {
            h: 1,
            slot: 1,
            target: 1,
        },
        Op::DropWeak { w: 0 },
        Op::Drop { h: 0 },
        Op::Drop { h: 0 },
        Op::Collect { generation: 255 },
    ];
    run(&program(false, ops)).unwrap();
}

/// Resurrection: a self-resurrecting node in a cycle survives its first collection with
/// what it reaches, is freed by the second, and its finalizer runs once.
#[test]
fn resurrected_cycle_survives_once_then_goes() {
    let ops = vec![
        node(Kind::ResurrectSelf, [None; 4]),
        node(Kind::ResurrectEdges, [Some(0), None, None, None]),
        Op::SetEdge {
            h: 0,
            slot: 0,
            target: 1,
        },
        Op::Downgrade {
            h: 0,
            callback: true,
        },
        Op::Drop { h: 0 },
        Op::Drop { h: 0 },
        Op::Collect { generation: 255 },
        Op::Upgrade { w: 0 },
        Op::ReleaseSaved,
        Op::Collect { generation: 255 },
        Op::Drop { h: 0 },
        Op::Collect { generation: 255 },
    ];
    run(&program(false, ops)).unwrap();
}

/// SAVEALL keeps the garbage in `garbage()` (finalized, weak references cleared), and
/// `clear_garbage` plus a collection frees it; panicking hooks on the way.
#[test]
fn saveall_then_clear_garbage_with_panicking_hooks() {
    let ops = vec![
        Op::SaveAll { on: true },
        node(Kind::PanicFinalize, [None; 4]),
        node(Kind::PanicDrop, [Some(0), None, None, None]),
        Op::SetEdge {
            h: 0,
            slot: 0,
            target: 1,
        },
        Op::Downgrade {
            h: 1,
            callback: true,
        },
        Op::Drop { h: 0 },
        Op::Drop { h: 0 },
        Op::Collect { generation: 0 },
        Op::SaveAll { on: false },
        Op::ClearGarbage,
        Op::Collect { generation: 1 },
        Op::Collect { generation: 2 },
    ];
    run(&program(false, ops)).unwrap();
}

/// Under SAVEALL a node holding its own weak reference goes into `garbage()` together
/// with the weak cell. Found by the graph_ops fuzzer in CI: the checker compared only
/// the nodes of `garbage()` with the model's list, which holds the cell too (the
/// checker was wrong, the heap right).
#[test]
fn saveall_garbage_holds_weak_cells_too() {
    let ops = vec![
        Op::SaveAll { on: true },
        node(Kind::PanicFinalize, [None, None, Some(0), Some(0)]),
        Op::Downgrade {
            h: 0,
            callback: true,
        },
        Op::StoreWeak { h: 0, w: 0 },
        Op::SetEdge {
            h: 0,
            slot: 0,
            target: 0,
        },
        Op::DropWeak { w: 0 },
        Op::Drop { h: 0 },
        Op::Collect { generation: 255 },
    ];
    run(&program(false, ops)).unwrap();
}

/// Found by the graph_ops fuzzer: two resurrecting finalizers fill the store, and
/// releasing it frees a node whose value holds both an edge to a leaf (last reference
/// elsewhere in the store) and the only weak cell watching that leaf. Whether the cell's
/// callback runs depends on which of the two handles goes first; the interpreter dropped
/// them in the heap's finalizer order and the model in its own. Both now release in id
/// order (the checker was wrong, the heap right).
#[test]
fn releasing_the_store_frees_in_a_predicted_order() {
    let ops = vec![
        node(Kind::Untracked, [None, None, Some(120), None]),
        Op::Downgrade {
            h: 209,
            callback: true,
        },
        node(Kind::ResurrectEdges, [Some(61), None, None, None]),
        node(Kind::Quiet, [None, Some(239), None, None]),
        node(Kind::ResurrectEdges, [None, None, None, Some(76)]),
        node(Kind::ResurrectEdges, [None; 4]),
        node(Kind::Untracked, [None, None, Some(171), None]),
        Op::SetEdge {
            h: 182,
            slot: 6,
            target: 147,
        },
        Op::Clone { h: 187 },
        Op::SetEdge {
            h: 198,
            slot: 61,
            target: 44,
        },
        Op::Clone { h: 176 },
        Op::StoreWeak { h: 222, w: 0 },
    ];
    run(&Program {
        enabled: false,
        thresholds: [6, 4, 5],
        ops,
    })
    .unwrap();
}

/// Automatic collections (threshold 1) of every generation, with freeze and unfreeze,
/// replayed in the model through the collection callback.
#[test]
fn automatic_collections_with_freeze() {
    let mut ops = vec![Op::SetThreshold { t: [1, 1, 1] }];
    for i in 0..30u8 {
        ops.push(node(Kind::Quiet, [Some(i), None, None, None]));
        ops.push(Op::SetEdge {
            h: i,
            slot: 1,
            target: i.wrapping_add(1),
        });
        if i % 7 == 3 {
            ops.push(Op::Freeze);
        }
        if i % 11 == 5 {
            ops.push(Op::Unfreeze);
        }
        if i % 3 == 0 {
            ops.push(Op::Drop { h: i / 2 });
        }
    }
    run(&program(true, ops)).unwrap();
}

/// Every committed fuzz seed of `graph_ops` and `api_misuse` passes on stable too.
#[test]
fn committed_fuzz_seeds_pass() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut ran = 0;
    for target in ["graph_ops", "api_misuse"] {
        let dir = seeds.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).expect("seed");
            let result = match target {
                "graph_ops" => run(&Program::from_bytes(&bytes)).map(drop),
                _ => gc_model::misuse::run(&bytes),
            };
            if let Err(e) = result {
                panic!("{}: {e}", file.display());
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no seeds found under {}", seeds.display());
}
