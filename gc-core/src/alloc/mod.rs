//! A pymalloc-style small-object allocator.
//!
//! The design follows CPython's `Objects/obmalloc.c` with its 64-bit parameters:
//!
//! - requests of 1..=512 bytes are served from 32 size classes of 16, 32, .., 512 bytes
//!   (class = `(size - 1) >> 4`); zero-size and larger requests go to the system allocator;
//! - memory comes from the OS in 1 MiB *arenas* (mmap, aligned to 1 MiB); the first 16 KiB
//!   of an arena holds its header, the other 63 slots are 16 KiB *pools*;
//! - a pool holds blocks of one size class behind a 48-byte header; its blocks are carved
//!   lazily, one at a time, so untouched pages stay untouched;
//! - per size class, a list of partly used pools (`usedpools`) serves allocation in O(1);
//! - usable arenas are kept sorted by free pools, fullest first, so that lightly used
//!   arenas drain and can be given back to the OS;
//! - a wholly empty arena is kept for reuse (CPython keeps one); further empty arenas stay
//!   resident while they keep being reused and are given back once one sits unused through
//!   a whole purge interval (50 ms by default): a few *decommitted* (pages returned,
//!   mapping kept), the rest unmapped (see [`HeapConfig`]);
//! - which heap owns an address is answered by a radix tree keyed by arena address, so
//!   asking about any pointer never reads memory the allocator does not own.
//!
//! [`Heap`] is the single-threaded heap: no locks, no atomics on its paths. [`GlobalHeap`]
//! is the thread-safe form: a `GlobalAlloc` with one heap per thread, where a block freed
//! by another thread goes back to its owner through a lock-free list.

mod global;
mod heap;
mod os;
mod radix;
mod stats;

pub use global::GlobalHeap;
pub use heap::{DEFAULT_PURGE_DELAY, Heap, HeapConfig};
pub use stats::{MallocStats, SizeClassStats};

/// Alignment of every block, and the step between size classes.
pub const ALIGNMENT: usize = 16;
/// Requests up to this many bytes are served from pools.
pub const SMALL_REQUEST_THRESHOLD: usize = 512;
/// Number of size classes.
pub const NB_SMALL_SIZE_CLASSES: usize = SMALL_REQUEST_THRESHOLD / ALIGNMENT;
/// Size of a pool (the unit that holds blocks of one size class).
pub const POOL_SIZE: usize = 16 * 1024;
/// Size of an arena (the unit obtained from the OS).
pub const ARENA_SIZE: usize = 1024 * 1024;
/// Pools per arena: the first pool-sized slot holds the arena header.
pub const POOLS_PER_ARENA: usize = ARENA_SIZE / POOL_SIZE - 1;

/// The size class serving a request of `size` bytes (`1..=512`).
#[inline]
pub const fn size_class(size: usize) -> usize {
    (size - 1) >> 4
}

/// The block size of size class `class`.
#[inline]
pub const fn class_size(class: usize) -> usize {
    (class + 1) << 4
}

/// Whether a request of `size` bytes is served from pools (`1..=512`).
#[inline]
pub const fn is_small_request(size: usize) -> bool {
    size.wrapping_sub(1) < SMALL_REQUEST_THRESHOLD
}

#[cfg(test)]
mod tests;
