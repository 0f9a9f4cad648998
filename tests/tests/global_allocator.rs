//! The thread-safe form under a whole program: this test binary runs with `GlobalHeap` as
//! its `#[global_allocator]`, so every Box, Vec, String and HashMap of the test harness and
//! of the threads below lives in per-thread pymalloc heaps.

use gc_core::alloc::GlobalHeap;
use std::collections::HashMap;
use std::sync::mpsc;

#[global_allocator]
static ALLOC: GlobalHeap = GlobalHeap;

#[test]
fn std_collections_work_on_the_global_heap() {
    let mut map: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..50_000u32 {
        map.entry(format!("key{}", i % 997)).or_default().push(i);
    }
    let total: usize = map.values().map(Vec::len).sum();
    assert_eq!(total, 50_000);
    let stats = GlobalHeap::thread_stats();
    assert!(stats.blocks_in_use() > 0);
    assert_eq!(stats.total(), stats.mapped_bytes());
}

#[test]
fn boxes_cross_threads_and_are_freed_by_the_receiver() {
    let (tx, rx) = mpsc::channel::<Vec<Box<[u8; 40]>>>();
    let producers: Vec<_> = (0..4u8)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for round in 0..50u8 {
                    let batch = (0..1000).map(|_| Box::new([t ^ round; 40])).collect();
                    tx.send(batch).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut received = 0;
    for batch in rx {
        for b in &batch {
            assert!(b.iter().all(|&x| x == b[0]));
        }
        received += batch.len();
        // Dropping the batch frees blocks owned by the (possibly exited) producer threads.
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(received, 4 * 50 * 1000);
}

#[test]
fn many_short_lived_threads_reuse_abandoned_heaps() {
    for round in 0..64 {
        let handle = std::thread::spawn(move || {
            let v: Vec<String> = (0..200).map(|i| format!("{round}-{i}")).collect();
            v.join(",").len()
        });
        assert!(handle.join().unwrap() > 0);
    }
}
