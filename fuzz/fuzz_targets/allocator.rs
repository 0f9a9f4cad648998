//! Fuzzes `gc_core::alloc::Heap` with arbitrary sequences of alloc / free /
//! free_sized / realloc, checking block contents, alignment, overlap,
//! ownership, statistics and the heap's own invariants after every step.

#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::Arbitrary;
use gc_core::alloc::{
    ALIGNMENT, DEFAULT_PURGE_DELAY, Heap, HeapConfig, class_size, is_small_request, size_class,
};
use libfuzzer_sys::fuzz_target;

/// Operations per input, at most.
const MAX_OPS: usize = 4096;
/// Requested sizes are taken modulo this: 0..=2048, so zero-size and large
/// (> 512 byte) requests, which go to the system allocator, are exercised too.
const SIZE_MODULUS: usize = 2049;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Allocate a block.
    Alloc { size: u16 },
    /// Free a live block with `free`.
    Free { index: u16 },
    /// Free a live block with `free_sized`.
    FreeSized { index: u16 },
    /// Resize a live block.
    Realloc { index: u16, size: u16 },
    /// Rewrite a live block with a new fill byte.
    Refill { index: u16, fill: u8 },
    /// Check every live block's contents and the statistics.
    Validate,
    /// Unmap the empty arenas kept for reuse.
    ReleaseFreeMemory,
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Arena policy: (`retained_empty_arenas`, `reserved_arenas` and `purge_delay`).
    retained: u8,
    reserved: u8,
    ops: Vec<Op>,
}

#[derive(Debug, Clone, Copy)]
struct Block {
    ptr: *mut u8,
    /// Requested size.
    size: usize,
    /// Seed of the fill pattern.
    fill: u8,
}

/// The expected byte at offset `i` of a block filled with `fill`.
fn pattern(fill: u8, i: usize) -> u8 {
    fill ^ (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8)
}

fn fill_block(b: &Block) {
    // SAFETY: `b.ptr` is a live block of at least `b.size` bytes that nothing
    // else references while we write it.
    let bytes = unsafe { std::slice::from_raw_parts_mut(b.ptr, b.size) };
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = pattern(b.fill, i);
    }
}

/// Checks the first `len` bytes of `b` against its fill pattern.
fn check_prefix(b: &Block, len: usize, what: &str) {
    // SAFETY: `b.ptr` is a live block of at least `len <= b.size` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr, len) };
    for (i, &byte) in bytes.iter().enumerate() {
        let want = pattern(b.fill, i);
        assert_eq!(
            byte, want,
            "{what}: byte {i} of the {}-byte block at {:p} is {byte:#04x}, expected {want:#04x}",
            b.size, b.ptr
        );
    }
}

/// Live blocks, plus an address index to detect overlapping blocks.
#[derive(Default)]
struct Live {
    blocks: Vec<Block>,
    /// Start address -> end address of every live block with a non-zero size.
    ranges: BTreeMap<usize, usize>,
}

impl Live {
    fn pick(&self, index: u16) -> Option<usize> {
        (!self.blocks.is_empty()).then(|| usize::from(index) % self.blocks.len())
    }

    fn insert(&mut self, heap: &Heap, b: Block) {
        let addr = b.ptr as usize;
        assert!(
            !b.ptr.is_null(),
            "allocation of {} bytes returned null",
            b.size
        );
        assert_eq!(
            addr % ALIGNMENT,
            0,
            "block {:p} of {} bytes is not {ALIGNMENT}-aligned",
            b.ptr,
            b.size
        );
        assert_eq!(
            heap.owns(b.ptr),
            is_small_request(b.size),
            "owns({:p}) is wrong for a {}-byte block",
            b.ptr,
            b.size
        );
        if b.size > 0 {
            let end = addr + b.size;
            if let Some((&s, &e)) = self.ranges.range(..end).next_back() {
                assert!(
                    e <= addr,
                    "new block {addr:#x}..{end:#x} overlaps live block {s:#x}..{e:#x}"
                );
            }
            self.ranges.insert(addr, end);
        }
        fill_block(&b);
        self.blocks.push(b);
    }

    fn remove(&mut self, i: usize) -> Block {
        let b = self.blocks.swap_remove(i);
        if b.size > 0 {
            self.ranges.remove(&(b.ptr as usize));
        }
        b
    }
}

fn check_stats(heap: &mut Heap, live: &Live) {
    let stats = heap.stats();
    let small = live.blocks.iter().filter(|b| is_small_request(b.size));
    let (count, bytes) = small.fold((0, 0), |(n, s), b| {
        (n + 1, s + class_size(size_class(b.size)))
    });
    assert_eq!(
        stats.bytes_in_allocated_blocks, bytes,
        "stats: bytes_in_allocated_blocks"
    );
    assert_eq!(stats.blocks_in_use(), count, "stats: blocks in use");
    assert_eq!(
        stats.total(),
        stats.mapped_bytes(),
        "stats: byte breakdown does not add up to the mapped arenas"
    );
}

fuzz_target!(|input: Input| {
    let config = HeapConfig {
        retained_empty_arenas: usize::from(input.retained % 4),
        reserved_arenas: usize::from(input.reserved % 8),
        // At once, at every slow path (a zero interval), or the default delay.
        purge_delay: match input.reserved / 8 % 3 {
            0 => None,
            1 => Some(Duration::ZERO),
            _ => Some(DEFAULT_PURGE_DELAY),
        },
    };
    let mut heap = Heap::with_config(config);
    let mut live = Live::default();

    for (step, op) in input.ops.iter().take(MAX_OPS).enumerate() {
        match *op {
            Op::Alloc { size } => {
                let size = usize::from(size) % SIZE_MODULUS;
                let ptr = heap.alloc(size);
                let fill = step as u8;
                live.insert(&heap, Block { ptr, size, fill });
            }
            Op::Free { index } => {
                if let Some(i) = live.pick(index) {
                    let b = live.remove(i);
                    check_prefix(&b, b.size, "before free");
                    // SAFETY: `b` is a live block of this heap, removed from
                    // `live` so it is freed once.
                    unsafe { heap.free(b.ptr) };
                }
            }
            Op::FreeSized { index } => {
                if let Some(i) = live.pick(index) {
                    let b = live.remove(i);
                    check_prefix(&b, b.size, "before free_sized");
                    // SAFETY: `b` is a live block of this heap allocated (or
                    // last reallocated) with `b.size` bytes, freed once.
                    unsafe { heap.free_sized(b.ptr, b.size) };
                }
            }
            Op::Realloc { index, size } => {
                if let Some(i) = live.pick(index) {
                    let new_size = usize::from(size) % SIZE_MODULUS;
                    let old = live.remove(i);
                    check_prefix(&old, old.size, "before realloc");
                    // SAFETY: `old` is a live block of this heap; it is out of
                    // `live`, and goes back in (old or new) below.
                    let ptr = unsafe { heap.realloc(old.ptr, new_size) };
                    assert!(
                        !ptr.is_null(),
                        "realloc of the {}-byte block {:p} to {new_size} bytes returned null",
                        old.size,
                        old.ptr
                    );
                    let moved = Block {
                        ptr,
                        size: new_size,
                        fill: old.fill,
                    };
                    check_prefix(&moved, old.size.min(new_size), "after realloc");
                    let fill = old.fill.wrapping_add(step as u8) | 1;
                    live.insert(&heap, Block { fill, ..moved });
                }
            }
            Op::Refill { index, fill } => {
                if let Some(i) = live.pick(index) {
                    check_prefix(&live.blocks[i], live.blocks[i].size, "before refill");
                    live.blocks[i].fill = fill;
                    fill_block(&live.blocks[i]);
                }
            }
            Op::Validate => {
                for b in &live.blocks {
                    check_prefix(b, b.size, "validate");
                }
                check_stats(&mut heap, &live);
            }
            Op::ReleaseFreeMemory => heap.release_free_memory(),
        }
        if let Err(msg) = heap.validate() {
            panic!("heap.validate() failed after step {step} ({op:?}): {msg}");
        }
    }

    check_stats(&mut heap, &live);
    while let Some(b) = live.blocks.pop() {
        check_prefix(&b, b.size, "final free");
        // SAFETY: every block left in `live` is a live block of this heap with
        // its current size; each is popped and freed once.
        unsafe { heap.free_sized(b.ptr, b.size) };
    }
    live.ranges.clear();
    if let Err(msg) = heap.validate() {
        panic!("heap.validate() failed after freeing everything: {msg}");
    }
    let stats = heap.stats();
    assert_eq!(
        stats.bytes_in_allocated_blocks, 0,
        "bytes_in_allocated_blocks is not 0 after freeing every block:\n{stats}"
    );
    assert_eq!(stats.blocks_in_use(), 0, "blocks still in use:\n{stats}");
});
