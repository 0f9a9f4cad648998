//! Unit tests of the allocator: size classes, carving, free lists, arena release, the
//! thread-safe form, and a property test of random operation sequences.

// Test scenarios keep several unsafe steps in one block; every block still has its SAFETY
// comment.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use super::heap::pool_capacity;
use super::*;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;

fn blocks_per_pool(size: usize) -> usize {
    pool_capacity(size_class(size))
}

#[test]
fn size_classes_follow_pymalloc() {
    assert_eq!(NB_SMALL_SIZE_CLASSES, 32);
    assert_eq!(size_class(1), 0);
    assert_eq!(size_class(16), 0);
    assert_eq!(size_class(17), 1);
    assert_eq!(size_class(512), 31);
    for class in 0..NB_SMALL_SIZE_CLASSES {
        assert_eq!(class_size(class), (class + 1) * 16);
        assert_eq!(size_class(class_size(class)), class);
    }
    assert!(!is_small_request(0));
    assert!(is_small_request(1));
    assert!(is_small_request(512));
    assert!(!is_small_request(513));
    assert_eq!(POOLS_PER_ARENA, 63);
    assert_eq!(blocks_per_pool(16), 1024);
    assert_eq!(blocks_per_pool(48), 341);
    assert_eq!(blocks_per_pool(512), 32);
}

#[test]
fn every_size_gets_an_aligned_block_of_its_class() {
    let mut heap = Heap::new();
    for size in 1..=SMALL_REQUEST_THRESHOLD {
        let p = heap.alloc(size);
        assert!(!p.is_null());
        assert_eq!(p as usize % ALIGNMENT, 0);
        assert!(heap.owns(p));
        // SAFETY: `p` is a live block of `heap` of at least `size` bytes.
        unsafe {
            assert_eq!(heap.usable_size(p), class_size(size_class(size)));
            p.write_bytes(0xAB, size);
        }
    }
    let stats = heap.stats();
    for class in 0..NB_SMALL_SIZE_CLASSES {
        assert_eq!(stats.classes[class].blocks_in_use, 16, "class {class}");
        assert_eq!(stats.classes[class].pools, 1);
    }
    heap.validate().unwrap();
}

#[test]
fn carving_is_lazy_and_sequential() {
    let mut heap = Heap::new();
    let first = heap.alloc(32);
    let second = heap.alloc(32);
    let third = heap.alloc(32);
    assert_eq!(second as usize - first as usize, 32);
    assert_eq!(third as usize - second as usize, 32);
    // Pool headers live in the arena header: blocks start at the pool's first byte.
    assert_eq!(first as usize % POOL_SIZE, 0);
    let stats = heap.stats();
    let class = &stats.classes[size_class(32)];
    assert_eq!(class.blocks_in_use, 3);
    assert_eq!(class.available_blocks, blocks_per_pool(32) - 3);
    // The first arena slot is the arena header; one pool is in use.
    assert_eq!(stats.arenas_current, 1);
    assert_eq!(stats.unused_pools, POOLS_PER_ARENA - 1);
    assert_eq!(stats.total(), stats.mapped_bytes());
    heap.validate().unwrap();
    // SAFETY: blocks of this heap, freed once.
    unsafe {
        heap.free(first);
        heap.free(second);
        heap.free(third);
    }
}

#[test]
fn free_list_is_lifo() {
    let mut heap = Heap::new();
    let blocks: Vec<_> = (0..10).map(|_| heap.alloc(48)).collect();
    // SAFETY: blocks of this heap, freed once.
    unsafe {
        heap.free(blocks[3]);
        heap.free(blocks[7]);
    }
    assert_eq!(heap.alloc(48), blocks[7]);
    assert_eq!(heap.alloc(48), blocks[3]);
    heap.validate().unwrap();
}

#[test]
fn full_pools_leave_and_rejoin_usedpools() {
    let mut heap = Heap::new();
    let per_pool = blocks_per_pool(256);
    let blocks: Vec<_> = (0..per_pool + 1).map(|_| heap.alloc(256)).collect();
    let stats = heap.stats();
    assert_eq!(stats.classes[size_class(256)].pools, 2);
    heap.validate().unwrap();
    // Freeing into the full first pool puts it back on the list; the next allocation
    // takes that block again.
    // SAFETY: a block of this heap, freed once.
    unsafe { heap.free(blocks[0]) };
    heap.validate().unwrap();
    assert_eq!(heap.alloc(256), blocks[0]);
    for &b in &blocks {
        // SAFETY: each block of this heap freed once.
        unsafe { heap.free(b) };
    }
    heap.validate().unwrap();
    assert_eq!(heap.stats().blocks_in_use(), 0);
}

/// Fills `arenas` whole arenas with 512-byte blocks.
fn fill_arenas(heap: &mut Heap, arenas: usize) -> Vec<*mut u8> {
    let per_arena = blocks_per_pool(512) * POOLS_PER_ARENA;
    (0..per_arena * arenas).map(|_| heap.alloc(512)).collect()
}

/// Frees blocks of `heap`.
///
/// # Safety
/// `blocks` are blocks `heap` handed out, each live and listed once.
unsafe fn free_all(heap: &mut Heap, blocks: &[*mut u8]) {
    for &b in blocks {
        // SAFETY: a live block of this heap, freed once (caller).
        unsafe { heap.free(b) };
    }
}

#[test]
fn empty_arenas_are_kept_then_released() {
    let config = HeapConfig {
        retained_empty_arenas: 1,
        reserved_arenas: 2,
        purge_delay: None,
    };
    let mut heap = Heap::with_config(config);
    let blocks = fill_arenas(&mut heap, 6);
    let stats = heap.stats();
    assert_eq!(stats.arenas_current, 6);
    assert_eq!(stats.arenas_allocated_total, 6);
    assert_eq!(stats.total(), stats.mapped_bytes());
    // SAFETY: the blocks `fill_arenas` just handed out, each freed once.
    unsafe { free_all(&mut heap, &blocks) };
    heap.validate().unwrap();
    let stats = heap.stats();
    // One kept resident, two kept decommitted, three unmapped.
    assert_eq!(stats.arenas_current, 3);
    assert_eq!(stats.arenas_reserved, 2);
    assert_eq!(stats.arenas_reclaimed, 3);
    assert_eq!(stats.arenas_highwater, 6);
    assert_eq!(stats.bytes_in_allocated_blocks, 0);
    assert_eq!(stats.total(), stats.mapped_bytes());
    // Reuse takes the kept arenas before mapping new ones.
    let again = fill_arenas(&mut heap, 3);
    assert_eq!(heap.stats().arenas_allocated_total, 6);
    heap.validate().unwrap();
    // SAFETY: the blocks `fill_arenas` just handed out, each freed once.
    unsafe { free_all(&mut heap, &again) };
    heap.release_free_memory();
    let stats = heap.stats();
    assert_eq!(stats.arenas_current, 0);
    assert_eq!(stats.arenas_reclaimed, 6);
    heap.validate().unwrap();
}

#[test]
fn idle_arenas_stay_resident_until_the_delay_passes() {
    let config = HeapConfig {
        retained_empty_arenas: 1,
        reserved_arenas: 2,
        purge_delay: Some(std::time::Duration::from_secs(3600)),
    };
    let mut heap = Heap::with_config(config);
    let blocks = fill_arenas(&mut heap, 6);
    // SAFETY: the blocks `fill_arenas` just handed out, each freed once.
    unsafe { free_all(&mut heap, &blocks) };
    heap.validate().unwrap();
    let stats = heap.stats();
    // One cached, five idle: all resident, none given back within the hour.
    assert_eq!(stats.arenas_current, 6);
    assert_eq!(stats.arenas_idle, 5);
    assert_eq!(stats.arenas_reserved, 0);
    assert_eq!(stats.arenas_reclaimed, 0);
    assert_eq!(stats.unused_pools, 6 * POOLS_PER_ARENA);
    assert_eq!(stats.total(), stats.mapped_bytes());
    // A new burst reuses them, mapping nothing.
    let again = fill_arenas(&mut heap, 4);
    let stats = heap.stats();
    assert_eq!(stats.arenas_allocated_total, 6);
    assert_eq!(stats.arenas_idle, 2);
    heap.validate().unwrap();
    // SAFETY: the blocks `fill_arenas` just handed out, each freed once.
    unsafe { free_all(&mut heap, &again) };
    heap.release_free_memory();
    let stats = heap.stats();
    assert_eq!((stats.arenas_current, stats.arenas_idle), (0, 0));
    heap.validate().unwrap();
}

#[test]
fn an_arena_idle_through_a_whole_interval_is_given_back() {
    // A zero delay ends an interval at every slow path, so the order is exact: an arena
    // pushed onto the idle list survives the interval it arrived in and goes at the next.
    let config = HeapConfig {
        retained_empty_arenas: 1,
        reserved_arenas: 2,
        purge_delay: Some(std::time::Duration::ZERO),
    };
    let mut heap = Heap::with_config(config);
    let blocks = fill_arenas(&mut heap, 6);
    for &b in &blocks {
        // SAFETY: each block of this heap freed once.
        unsafe { heap.free(b) };
        heap.validate().unwrap();
    }
    let stats = heap.stats();
    // Arena 1 cached; arenas 2-5 each given back when the next one emptied (two
    // decommitted, two unmapped); arena 6 still idle.
    assert_eq!(stats.arenas_idle, 1);
    assert_eq!(stats.arenas_reserved, 2);
    assert_eq!(stats.arenas_reclaimed, 2);
    assert_eq!(stats.arenas_current, 4);
    assert_eq!(stats.total(), stats.mapped_bytes());
    // The new burst's first slow path ends another interval: the idle arena goes too
    // (unmapped, the reserve being full); the cached arena and the reserve serve the burst.
    let again = fill_arenas(&mut heap, 3);
    let stats = heap.stats();
    assert_eq!(stats.arenas_allocated_total, 6);
    assert_eq!(stats.arenas_reclaimed, 3);
    assert_eq!((stats.arenas_idle, stats.arenas_reserved), (0, 0));
    // SAFETY: the blocks `fill_arenas` just handed out, each freed once.
    unsafe { free_all(&mut heap, &again) };
    heap.validate().unwrap();
}

#[test]
fn cpython_policy_unmaps_all_but_one() {
    let mut heap = Heap::with_config(HeapConfig::cpython());
    let per_arena = blocks_per_pool(512) * POOLS_PER_ARENA;
    let blocks: Vec<_> = (0..per_arena * 4).map(|_| heap.alloc(512)).collect();
    for &b in &blocks {
        // SAFETY: each block of this heap freed once.
        unsafe { heap.free(b) };
    }
    let stats = heap.stats();
    assert_eq!(stats.arenas_current, 1);
    assert_eq!(stats.arenas_reclaimed, 3);
    heap.validate().unwrap();
}

#[test]
fn allocation_prefers_the_fullest_arena() {
    let mut heap = Heap::with_config(HeapConfig::cpython());
    let per_pool = blocks_per_pool(512);
    let per_arena = per_pool * POOLS_PER_ARENA;
    let blocks: Vec<_> = (0..per_arena * 3).map(|_| heap.alloc(512)).collect();
    let arena_of = |p: *mut u8| p as usize & !(ARENA_SIZE - 1);
    let arenas: Vec<usize> = [0, per_arena, 2 * per_arena]
        .iter()
        .map(|&i| arena_of(blocks[i]))
        .collect();
    // Empty 10 pools in arena 0 and 2 pools in arena 1.
    let free_pools = |heap: &mut Heap, arena: usize, pools: usize| {
        let in_arena = blocks.iter().filter(|&&b| arena_of(b) == arena);
        for &b in in_arena.take(pools * per_pool) {
            // SAFETY: each block of this heap freed once.
            unsafe { heap.free(b) };
        }
    };
    free_pools(&mut heap, arenas[0], 10);
    free_pools(&mut heap, arenas[1], 2);
    heap.validate().unwrap();
    // The next new pool comes from arena 1, which has the fewest free pools.
    let mut fresh = Vec::new();
    for _ in 0..per_pool {
        fresh.push(heap.alloc(512));
    }
    assert!(fresh.iter().all(|&p| arena_of(p) == arenas[1]));
    heap.validate().unwrap();
}

#[test]
fn zero_and_large_requests_go_to_the_system() {
    let mut heap = Heap::new();
    let zero = heap.alloc(0);
    let large = heap.alloc(513);
    assert!(!zero.is_null() && !large.is_null());
    assert!(!heap.owns(zero));
    assert!(!heap.owns(large));
    assert_eq!(heap.stats().arenas_current, 0);
    // SAFETY: blocks of this heap, freed once.
    unsafe {
        large.write_bytes(7, 513);
        heap.free(zero);
        heap.free_sized(large, 513);
    }
}

#[test]
fn realloc_keeps_contents_across_classes_and_the_system() {
    let mut heap = Heap::new();
    let mut p = heap.alloc(10);
    // SAFETY: every pointer is the live block of `heap` the previous call returned, and
    // each write or read stays within the smaller of the old and new sizes.
    unsafe {
        for i in 0..10 {
            *p.add(i) = i as u8;
        }
        let same = heap.realloc(p, 16);
        assert_eq!(same, p, "same class: no move");
        p = heap.realloc(p, 100);
        p = heap.realloc(p, 4000);
        p = heap.realloc(p, 8000);
        p = heap.realloc(p, 300);
        p = heap.realloc(p, 5);
        for i in 0..5 {
            assert_eq!(*p.add(i), i as u8);
        }
        heap.free(p);
    }
    heap.validate().unwrap();
    assert_eq!(heap.stats().blocks_in_use(), 0);
}

#[test]
fn owns_never_reads_foreign_memory() {
    let heap = Heap::new();
    let on_stack = 5u64;
    assert!(!heap.owns(&on_stack as *const u64 as *const u8));
    assert!(!heap.owns(std::ptr::null()));
    assert!(!heap.owns(usize::MAX as *const u8));
    let mut other = Heap::new();
    let p = other.alloc(16);
    assert!(!heap.owns(p));
    // SAFETY: a block of `other`, freed once.
    unsafe { other.free(p) };
}

#[test]
fn stats_display_matches_cpython_shape() {
    let mut heap = Heap::new();
    let p = heap.alloc(40);
    let text = heap.stats().to_string();
    assert!(text.starts_with("Small block threshold = 512, in 32 size classes."));
    assert!(text.contains("class   size   num pools   blocks in use  avail blocks"));
    assert!(
        text.contains("    2     48           1               1"),
        "{text}"
    );
    assert!(text.contains("1,048,576"), "{text}");
    // SAFETY: a block of this heap, freed once.
    unsafe { heap.free(p) };
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "double free")]
fn double_free_panics_in_debug() {
    let mut heap = Heap::new();
    let keep = heap.alloc(64);
    let p = heap.alloc(64);
    // SAFETY: deliberately wrong: the second free must be caught by the debug check.
    unsafe {
        heap.free(p);
        heap.free(p);
    }
    let _ = keep;
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "does not own")]
fn foreign_free_panics_in_debug() {
    let mut heap = Heap::new();
    let mut on_stack = [0u8; 64];
    // SAFETY: deliberately wrong: the debug check must catch a foreign pointer.
    unsafe { heap.free_sized(on_stack.as_mut_ptr(), 64) };
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "does not own")]
fn foreign_large_free_panics_in_debug() {
    let mut heap = Heap::new();
    let mut on_stack = [0u8; 64];
    // SAFETY: deliberately wrong: the debug check must catch a foreign pointer.
    unsafe { heap.free(on_stack.as_mut_ptr()) };
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "not the start of a block")]
fn interior_pointer_free_panics_in_debug() {
    let mut heap = Heap::new();
    let p = heap.alloc(64);
    // SAFETY: deliberately wrong: the debug check must catch an interior pointer.
    unsafe { heap.free(p.add(8)) };
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

#[test]
fn global_heap_serves_and_frees_on_one_thread() {
    let a = GlobalHeap;
    let before = GlobalHeap::thread_stats().blocks_in_use();
    // SAFETY: each block is freed once with the layout it was allocated with.
    unsafe {
        let p = a.alloc(layout(24));
        assert!(!p.is_null());
        p.write_bytes(1, 24);
        let q = a.realloc(p, layout(24), 30);
        assert_eq!(q, p, "same class: no move");
        let r = a.realloc(q, layout(30), 700);
        assert_eq!(*r.add(23), 1);
        let big = a.alloc(layout(4096));
        assert_eq!(GlobalHeap::thread_stats().blocks_in_use(), before);
        a.dealloc(r, layout(700));
        a.dealloc(big, layout(4096));
        let over_aligned = Layout::from_size_align(64, 64).unwrap();
        let o = a.alloc(over_aligned);
        assert_eq!(o as usize % 64, 0);
        a.dealloc(o, over_aligned);
    }
    assert_eq!(GlobalHeap::thread_stats().blocks_in_use(), before);
}

/// A raw pointer that may cross threads in these tests.
struct SendPtr(*mut u8);
// SAFETY: the tests hand each block to exactly one thread at a time.
unsafe impl Send for SendPtr {}

#[test]
fn global_heap_blocks_freed_on_another_thread_return_to_their_owner() {
    let a = GlobalHeap;
    let n = 10_000;
    // SAFETY: fresh blocks, each written within its size.
    let blocks: Vec<SendPtr> = (0..n)
        .map(|i| unsafe {
            let p = a.alloc(layout(32));
            p.write_bytes(i as u8, 32);
            SendPtr(p)
        })
        .collect();
    let before = GlobalHeap::thread_stats();
    assert!(before.classes[size_class(32)].blocks_in_use >= n);
    std::thread::spawn(move || {
        for (i, b) in blocks.into_iter().enumerate() {
            // SAFETY: each block is live, ours to free, and freed once.
            unsafe {
                assert_eq!(*b.0.add(31), i as u8);
                GlobalHeap.dealloc(b.0, layout(32));
            }
        }
    })
    .join()
    .unwrap();
    // The owner takes them back (stats drains the remote list first).
    let after = GlobalHeap::thread_stats();
    assert_eq!(
        after.classes[size_class(32)].blocks_in_use + n,
        before.classes[size_class(32)].blocks_in_use
    );
}

#[test]
fn global_heap_many_threads_exchange_blocks() {
    let threads = 8;
    let per_thread = 20_000;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<(SendPtr, usize, u8)>>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let tx = tx.clone();
            let rx = rx.clone();
            std::thread::spawn(move || {
                let a = GlobalHeap;
                let mut batch = Vec::new();
                for i in 0..per_thread {
                    let size = 1 + (i * 7 + t * 13) % 512;
                    let fill = (i ^ t) as u8;
                    // SAFETY: `layout(size)` has non-zero size (`size >= 1`).
                    let p = unsafe { a.alloc(layout(size)) };
                    assert!(!p.is_null());
                    // SAFETY: `p` is a fresh, non-null block of `size` bytes, written within
                    // its size.
                    unsafe { p.write_bytes(fill, size) };
                    batch.push((SendPtr(p), size, fill));
                    if batch.len() == 500 {
                        tx.send(std::mem::take(&mut batch)).unwrap();
                        // Free someone else's batch (or our own) while others allocate.
                        let theirs = rx.lock().unwrap().recv().unwrap();
                        for (p, size, fill) in theirs {
                            // SAFETY: each block is live, checked within its size and freed
                            // once with its layout.
                            unsafe {
                                assert_eq!(*p.0, fill);
                                assert_eq!(*p.0.add(size - 1), fill);
                                a.dealloc(p.0, layout(size));
                            }
                        }
                    }
                }
                for (p, size, _) in batch {
                    // SAFETY: our own live blocks, freed once.
                    unsafe { a.dealloc(p.0, layout(size)) };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    drop(tx);
    // Every batch sent was received (each thread receives after each send), so nothing is
    // left in the channel.
    assert!(rx.lock().unwrap().try_recv().is_err());
}

#[test]
fn exited_threads_heaps_are_adopted() {
    // A thread allocates and exits, leaving a block alive; another frees it remotely.
    let leftover = std::thread::spawn(|| {
        // SAFETY: a fresh block.
        SendPtr(unsafe { GlobalHeap.alloc(layout(64)) })
    })
    .join()
    .unwrap();
    // SAFETY: the block is live and freed once.
    unsafe { GlobalHeap.dealloc(leftover.0, layout(64)) };
    // New threads keep working (and may adopt the abandoned heap).
    for _ in 0..4 {
        std::thread::spawn(|| {
            let stats = GlobalHeap::thread_stats();
            assert_eq!(stats.total(), stats.mapped_bytes());
            // SAFETY: a fresh block freed once.
            unsafe {
                let p = GlobalHeap.alloc(layout(64));
                assert!(!p.is_null());
                GlobalHeap.dealloc(p, layout(64));
            }
        })
        .join()
        .unwrap();
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc(usize),
    Free(usize),
    Realloc(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![8 => 0usize..=600, 1 => 600usize..5000];
    prop_oneof![
        4 => size.clone().prop_map(Op::Alloc),
        3 => any::<usize>().prop_map(Op::Free),
        1 => (any::<usize>(), size).prop_map(|(i, s)| Op::Realloc(i, s)),
    ]
}

fn fill(p: *mut u8, size: usize, seed: u8) {
    for i in 0..size {
        // SAFETY: callers pass a live block of at least `size` bytes.
        unsafe { *p.add(i) = seed.wrapping_add(i as u8) };
    }
}

fn check(p: *mut u8, size: usize, seed: u8) {
    for i in 0..size {
        // SAFETY: callers pass a live block of at least `size` bytes.
        let got = unsafe { *p.add(i) };
        assert_eq!(
            got,
            seed.wrapping_add(i as u8),
            "block {p:p} byte {i} corrupted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_sequences_keep_every_block_intact(ops in prop::collection::vec(op(), 1..400)) {
        let mut heap = Heap::with_config(HeapConfig {
            retained_empty_arenas: 0,
            reserved_arenas: 1,
            // Every slow path ends an interval: the idle list churns at each step.
            purge_delay: Some(std::time::Duration::ZERO),
        });
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let mut seen = HashSet::new();
        for (step, op) in ops.into_iter().enumerate() {
            let seed = step as u8;
            match op {
                Op::Alloc(size) => {
                    let p = heap.alloc(size);
                    prop_assert!(!p.is_null());
                    prop_assert!(seen.insert(p as usize), "block handed out twice");
                    fill(p, size, seed);
                    live.push((p, size, seed));
                }
                Op::Free(i) if !live.is_empty() => {
                    let (p, size, s) = live.swap_remove(i % live.len());
                    check(p, size, s);
                    seen.remove(&(p as usize));
                    // SAFETY: a live block of this heap, freed once.
                    unsafe { if step % 2 == 0 { heap.free(p) } else { heap.free_sized(p, size) } };
                }
                Op::Realloc(i, new_size) if !live.is_empty() => {
                    let idx = i % live.len();
                    let (p, size, s) = live[idx];
                    seen.remove(&(p as usize));
                    // SAFETY: a live block of this heap.
                    let q = unsafe { heap.realloc(p, new_size) };
                    prop_assert!(!q.is_null());
                    check(q, size.min(new_size), s);
                    prop_assert!(seen.insert(q as usize));
                    fill(q, new_size, seed);
                    live[idx] = (q, new_size, seed);
                }
                _ => {}
            }
            if let Err(e) = heap.validate() {
                return Err(TestCaseError::fail(format!("step {step}: {e}")));
            }
            let stats = heap.stats();
            prop_assert_eq!(stats.total(), stats.mapped_bytes());
        }
        for (p, size, s) in live.drain(..) {
            check(p, size, s);
            // SAFETY: a live block of this heap, freed once.
            unsafe { heap.free(p) };
        }
        heap.validate().map_err(TestCaseError::fail)?;
        prop_assert_eq!(heap.stats().blocks_in_use(), 0);
    }
}
