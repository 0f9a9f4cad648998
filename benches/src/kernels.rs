//! Timed workload kernels, generic over [`BenchAlloc`].
//!
//! Every kernel writes one byte into each block it allocates (volatile, so it
//! cannot be optimised out) and returns only the time spent allocating,
//! touching and freeing; bookkeeping such as shuffling the free order happens
//! outside the timed region.

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use crate::allocators::BenchAlloc;

/// An allocation returned null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocFailed {
    /// Name of the allocator.
    pub allocator: &'static str,
    /// Requested size.
    pub size: usize,
    /// How many blocks were live when it failed.
    pub live: usize,
}

impl fmt::Display for AllocFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "allocator `{}` returned null for a {}-byte request with {} blocks live",
            self.allocator, self.size, self.live
        )
    }
}

impl std::error::Error for AllocFailed {}

/// Order in which live blocks are freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeOrder {
    /// In allocation order (oldest first).
    Fifo,
    /// In reverse allocation order (newest first).
    Reverse,
    /// In a random order (a seeded shuffle).
    Shuffle,
}

/// A workload pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Allocate one block and free it immediately, repeatedly, with no other
    /// block of that size live (for a pymalloc-style heap every free empties
    /// the pool, so the next allocation re-initialises it).
    Lifo,
    /// Like [`Pattern::Lifo`], but one other block of the same size stays live
    /// for the whole loop (untimed), so pools never empty: the steady state
    /// of a program that has other objects of that size.
    LifoWarm,
    /// Allocate N blocks, then free them in the given order.
    Live(FreeOrder),
}

impl Pattern {
    /// All patterns, in report order.
    pub const ALL: [Pattern; 5] = [
        Pattern::Lifo,
        Pattern::LifoWarm,
        Pattern::Live(FreeOrder::Fifo),
        Pattern::Live(FreeOrder::Reverse),
        Pattern::Live(FreeOrder::Shuffle),
    ];

    /// Short name used in tables and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Lifo => "lifo",
            Pattern::LifoWarm => "lifo_warm",
            Pattern::Live(FreeOrder::Fifo) => "fifo",
            Pattern::Live(FreeOrder::Reverse) => "reverse",
            Pattern::Live(FreeOrder::Shuffle) => "shuffle",
        }
    }
}

/// Runs `pattern` once: `count` alloc+free pairs for [`Pattern::Lifo`] and
/// [`Pattern::LifoWarm`], otherwise `count` live blocks (see
/// [`live_blocks`]).
pub fn run_pattern<A: BenchAlloc>(
    a: &mut A,
    pattern: Pattern,
    size: usize,
    count: usize,
    seed: u64,
    ptrs: &mut Vec<*mut u8>,
) -> Result<Duration, AllocFailed> {
    match pattern {
        Pattern::Lifo => lifo_pairs(a, size, count),
        Pattern::LifoWarm => lifo_pairs_warm(a, size, count),
        Pattern::Live(order) => live_blocks(a, size, count, order, seed, ptrs),
    }
}

/// `pairs` iterations of: allocate `size` bytes, write a byte, free it.
pub fn lifo_pairs<A: BenchAlloc>(
    a: &mut A,
    size: usize,
    pairs: usize,
) -> Result<Duration, AllocFailed> {
    let start = Instant::now();
    for i in 0..pairs {
        let p = a.alloc(size);
        if p.is_null() {
            return Err(AllocFailed {
                allocator: a.name(),
                size,
                live: 0,
            });
        }
        if size != 0 {
            // SAFETY: `p` is a live, non-null block of at least 1 byte.
            unsafe { p.write_volatile(i as u8) };
        }
        // SAFETY: `p` came from `a.alloc(size)` and is freed exactly once.
        unsafe { a.free(black_box(p), size) };
    }
    Ok(start.elapsed())
}

/// [`lifo_pairs`] while one other block of `size` bytes, allocated before
/// the timed loop and freed after it, stays live.
pub fn lifo_pairs_warm<A: BenchAlloc>(
    a: &mut A,
    size: usize,
    pairs: usize,
) -> Result<Duration, AllocFailed> {
    let ballast = a.alloc(size);
    if ballast.is_null() {
        return Err(AllocFailed {
            allocator: a.name(),
            size,
            live: 0,
        });
    }
    let result = lifo_pairs(a, size, pairs);
    // SAFETY: `ballast` came from `a.alloc(size)` above and is freed once.
    unsafe { a.free(ballast, size) };
    result
}

/// Allocates `count` blocks of `size` bytes (writing a byte into each), then
/// frees them all in `order`. `ptrs` is scratch space (its capacity is reused
/// across calls); `seed` drives the shuffle. Only the allocation and free
/// phases are timed.
pub fn live_blocks<A: BenchAlloc>(
    a: &mut A,
    size: usize,
    count: usize,
    order: FreeOrder,
    seed: u64,
    ptrs: &mut Vec<*mut u8>,
) -> Result<Duration, AllocFailed> {
    ptrs.clear();
    ptrs.reserve(count);

    let start = Instant::now();
    for i in 0..count {
        let p = a.alloc(size);
        if p.is_null() {
            free_all(a, ptrs.drain(..), size);
            return Err(AllocFailed {
                allocator: a.name(),
                size,
                live: i,
            });
        }
        if size != 0 {
            // SAFETY: `p` is a live, non-null block of at least 1 byte.
            unsafe { p.write_volatile(i as u8) };
        }
        ptrs.push(p);
    }
    let alloc_time = start.elapsed();

    match order {
        FreeOrder::Fifo => {}
        FreeOrder::Reverse => ptrs.reverse(),
        FreeOrder::Shuffle => ptrs.shuffle(&mut SmallRng::seed_from_u64(seed)),
    }

    let start = Instant::now();
    free_all(a, ptrs.drain(..), size);
    Ok(alloc_time + start.elapsed())
}

/// Allocates one block per entry of `sizes` (writing a byte into each) and
/// appends `(ptr, size)` to `blocks`. On failure the blocks allocated so far
/// stay in `blocks` (the caller frees them).
pub fn alloc_sized<A: BenchAlloc>(
    a: &mut A,
    sizes: &[u8],
    blocks: &mut Vec<(*mut u8, u8)>,
) -> Result<(), AllocFailed> {
    blocks.reserve(sizes.len());
    for (i, &size) in sizes.iter().enumerate() {
        let p = a.alloc(usize::from(size));
        if p.is_null() {
            return Err(AllocFailed {
                allocator: a.name(),
                size: usize::from(size),
                live: blocks.len(),
            });
        }
        if size != 0 {
            // SAFETY: `p` is a live, non-null block of at least 1 byte.
            unsafe { p.write_volatile(i as u8) };
        }
        blocks.push((p, size));
    }
    Ok(())
}

/// Frees every block in `blocks` (in the vector's order) and clears it.
pub fn free_sized_all<A: BenchAlloc>(a: &mut A, blocks: &mut Vec<(*mut u8, u8)>) {
    for (p, size) in blocks.drain(..) {
        // SAFETY: every entry was pushed by `alloc_sized` with its size and
        // is removed from the vector as it is freed, so it is freed once.
        unsafe { a.free(p, usize::from(size)) };
    }
}

fn free_all<A: BenchAlloc>(a: &mut A, ptrs: impl Iterator<Item = *mut u8>, size: usize) {
    for p in ptrs {
        // SAFETY: callers pass blocks allocated from `a` with `size`, each
        // exactly once (drained from the scratch vector).
        unsafe { a.free(p, size) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocators::{GlobalAllocAdapter, OursHeap};
    use std::alloc::System;

    #[test]
    fn kernels_run_on_every_allocator() {
        let mut ptrs = Vec::new();
        let mut ours = OursHeap::new();
        let mut sys = GlobalAllocAdapter::new("system", System);
        for pattern in Pattern::ALL {
            for size in [1, 16, 48, 512] {
                run_pattern(&mut ours, pattern, size, 1000, 7, &mut ptrs).unwrap();
                run_pattern(&mut sys, pattern, size, 1000, 7, &mut ptrs).unwrap();
                assert!(ptrs.is_empty());
            }
        }
        ours.heap().validate().unwrap();
        assert_eq!(ours.heap().stats().bytes_in_allocated_blocks, 0);
    }

    #[test]
    fn zero_size_is_an_error_for_global_adapters() {
        let mut sys = GlobalAllocAdapter::new("system", System);
        let err = lifo_pairs(&mut sys, 0, 1).unwrap_err();
        assert_eq!(err.size, 0);
    }
}
