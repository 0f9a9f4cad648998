//! Memory goes back to the OS: after a burst of 1M small blocks is freed, the process's
//! resident set is back within 2 MiB of where it started, with no trim call: at once under
//! CPython's policy, and under the default one as soon as the emptied arenas have sat
//! unused through a purge interval while the heap keeps working.
//! One test in its own binary, so no other test moves the RSS while it measures.

use gc_core::alloc::{Heap, HeapConfig};
use std::time::Instant;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident_pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm resident field");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc_page_size() };
    resident_pages * page
}

/// # Safety
/// None: wraps `sysconf(_SC_PAGESIZE)`.
unsafe fn libc_page_size() -> usize {
    unsafe extern "C" {
        fn sysconf(name: i32) -> i64;
    }
    const SC_PAGESIZE: i32 = 30;
    // SAFETY: sysconf only reads its argument.
    unsafe { sysconf(SC_PAGESIZE) as usize }
}

#[test]
fn rss_returns_within_2_mib_after_a_burst_of_1m_blocks() {
    const N: usize = 1_000_000;
    for config in [HeapConfig::default(), HeapConfig::cpython()] {
        let mut heap = Heap::with_config(config);
        // Touched before the first reading (a non-zero fill, so calloc cannot hand out untouched
        // zero pages), so only the heap's own pages move the RSS.
        let mut blocks: Vec<*mut u8> = vec![std::ptr::dangling_mut(); N];
        let before = rss_bytes();
        for (i, slot) in blocks.iter_mut().enumerate() {
            let size = 16 + (i % 49);
            let p = heap.alloc(size);
            assert!(!p.is_null());
            // SAFETY: a fresh block of `size` bytes.
            unsafe { p.write_bytes(1, size) };
            *slot = p;
        }
        let peak = rss_bytes();
        assert!(
            peak > before + 30 * 1024 * 1024,
            "the burst should be resident"
        );
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: each block of `heap`, freed once with its size.
            unsafe { heap.free_sized(p, 16 + (i % 49)) };
        }
        let limit = before + 2 * 1024 * 1024;
        let mut after = rss_bytes();
        if let Some(delay) = config.purge_delay {
            // The heap keeps working (each round opens a fresh pool, a slow path where the
            // purge clock is read) until the idle arenas go; give up after many intervals.
            let start = Instant::now();
            while after > limit && start.elapsed() < 40 * delay {
                let round: Vec<*mut u8> = (0..300).map(|_| heap.alloc(64)).collect();
                for p in round {
                    // SAFETY: a block of `heap`, freed once with its size.
                    unsafe { heap.free_sized(p, 64) };
                }
                after = rss_bytes();
            }
            // The last arenas emptied just before `start`; they stay for a whole interval.
            let waited = start.elapsed();
            assert!(
                waited >= delay / 2,
                "{config:?}: RSS fell within {waited:?}, before the {delay:?} delay"
            );
        }
        let stats = heap.stats();
        assert_eq!(stats.blocks_in_use(), 0);
        assert!(
            after <= limit,
            "{config:?}: RSS before {before}, peak {peak}, after {after}\n{stats}"
        );
        drop(blocks);
    }
}
