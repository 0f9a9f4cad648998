//! The allocators under comparison, behind one small trait.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::time::Duration;

use gc_core::alloc::{GlobalHeap, Heap, HeapConfig};
use mimalloc::MiMalloc;

use crate::kernels::{self, AllocFailed, Pattern};

/// Alignment requested from the `GlobalAlloc`-based allocators.
///
/// 8 is what a typical small Rust object (`Box<u64>`, a `String` header)
/// asks for; for every size in `8..=512` it keeps `System` and `MiMalloc` on
/// their plain `malloc` paths, so the comparison is with each allocator's
/// fastest path.
pub const BENCH_ALIGN: usize = 8;

/// A minimal allocator interface: allocate `size` bytes, free with the size.
pub trait BenchAlloc {
    /// Short name used in tables and JSON keys.
    fn name(&self) -> &'static str;

    /// Allocates `size` bytes; returns null on failure (or if `size` is 0 for
    /// allocators that cannot serve zero-sized requests).
    fn alloc(&mut self, size: usize) -> *mut u8;

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// `ptr` must have been returned by `self.alloc(size)` with the same
    /// `size`, must not be null, and must not have been freed already.
    unsafe fn free(&mut self, ptr: *mut u8, size: usize);
}

/// Our single-threaded pymalloc heap, called directly (`alloc` +
/// `free_sized`).
pub struct OursHeap {
    heap: Heap,
}

impl OursHeap {
    /// A heap with the default (our) policy.
    pub fn new() -> Self {
        Self { heap: Heap::new() }
    }

    /// A heap with an explicit arena policy.
    pub fn with_config(config: HeapConfig) -> Self {
        Self {
            heap: Heap::with_config(config),
        }
    }

    /// The underlying heap (for stats and validation).
    pub fn heap(&mut self) -> &mut Heap {
        &mut self.heap
    }
}

impl Default for OursHeap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OursHeap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OursHeap").finish_non_exhaustive()
    }
}

impl BenchAlloc for OursHeap {
    fn name(&self) -> &'static str {
        "ours"
    }

    #[inline]
    fn alloc(&mut self, size: usize) -> *mut u8 {
        self.heap.alloc(size)
    }

    #[inline]
    unsafe fn free(&mut self, ptr: *mut u8, size: usize) {
        // SAFETY: the caller guarantees `ptr` came from `self.alloc(size)`,
        // i.e. from `self.heap.alloc(size)`, and is still live.
        unsafe { self.heap.free_sized(ptr, size) }
    }
}

/// Any `GlobalAlloc` used through its `alloc`/`dealloc` methods with
/// `Layout { size, align: BENCH_ALIGN }`.
#[derive(Clone, Copy)]
pub struct GlobalAllocAdapter<A> {
    name: &'static str,
    inner: A,
}

impl<A> fmt::Debug for GlobalAllocAdapter<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalAllocAdapter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<A: GlobalAlloc> GlobalAllocAdapter<A> {
    /// Wraps `inner`, reporting it as `name`.
    pub const fn new(name: &'static str, inner: A) -> Self {
        Self { name, inner }
    }
}

impl<A: GlobalAlloc> BenchAlloc for GlobalAllocAdapter<A> {
    fn name(&self) -> &'static str {
        self.name
    }

    #[inline]
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if size == 0 {
            return std::ptr::null_mut();
        }
        match Layout::from_size_align(size, BENCH_ALIGN) {
            // SAFETY: the layout is valid and has a non-zero size.
            Ok(layout) => unsafe { self.inner.alloc(layout) },
            Err(_) => std::ptr::null_mut(),
        }
    }

    #[inline]
    unsafe fn free(&mut self, ptr: *mut u8, size: usize) {
        // SAFETY: the caller guarantees `ptr` came from `self.alloc(size)`,
        // which only returns non-null after `Layout::from_size_align(size,
        // BENCH_ALIGN)` succeeded, so the same layout is valid here.
        let layout = unsafe { Layout::from_size_align_unchecked(size, BENCH_ALIGN) };
        // SAFETY: `ptr` was allocated by `self.inner` with this layout and is
        // still live (caller contract).
        unsafe { self.inner.dealloc(ptr, layout) }
    }
}

/// One of the compared allocators. An enum (rather than `dyn BenchAlloc`) so
/// that every kernel is monomorphised per allocator and the hot loops make
/// direct calls.
#[derive(Debug)]
pub enum Contender {
    /// `gc_core::alloc::Heap` called directly, freeing with `free_sized`.
    Ours(OursHeap),
    /// `gc_core::alloc::GlobalHeap` through `GlobalAlloc`.
    OursGlobal(GlobalAllocAdapter<GlobalHeap>),
    /// `std::alloc::System` (glibc malloc on Linux).
    System(GlobalAllocAdapter<System>),
    /// `mimalloc::MiMalloc`.
    Mimalloc(GlobalAllocAdapter<MiMalloc>),
}

/// Names of the contenders in the order returned by [`Contender::all`].
pub const CONTENDER_NAMES: [&str; 4] = ["ours", "ours-global", "system", "mimalloc"];

impl Contender {
    /// All four contenders, in the order of [`CONTENDER_NAMES`].
    pub fn all() -> [Contender; 4] {
        [
            Contender::Ours(OursHeap::new()),
            Contender::OursGlobal(GlobalAllocAdapter::new("ours-global", GlobalHeap)),
            Contender::System(GlobalAllocAdapter::new("system", System)),
            Contender::Mimalloc(GlobalAllocAdapter::new("mimalloc", MiMalloc)),
        ]
    }

    /// The contender's short name.
    pub fn name(&self) -> &'static str {
        match self {
            Contender::Ours(a) => a.name(),
            Contender::OursGlobal(a) => a.name(),
            Contender::System(a) => a.name(),
            Contender::Mimalloc(a) => a.name(),
        }
    }

    /// Runs one timed repetition of `pattern` with blocks of `size` bytes.
    ///
    /// For the LIFO patterns `count` is the number of alloc+free pairs; for
    /// the other patterns it is the number of live blocks, and `ptrs` is a
    /// scratch buffer reused between calls. Returns the time spent in the
    /// allocator calls (and the byte written into each block).
    pub fn run(
        &mut self,
        pattern: Pattern,
        size: usize,
        count: usize,
        seed: u64,
        ptrs: &mut Vec<*mut u8>,
    ) -> Result<Duration, AllocFailed> {
        match self {
            Contender::Ours(a) => kernels::run_pattern(a, pattern, size, count, seed, ptrs),
            Contender::OursGlobal(a) => kernels::run_pattern(a, pattern, size, count, seed, ptrs),
            Contender::System(a) => kernels::run_pattern(a, pattern, size, count, seed, ptrs),
            Contender::Mimalloc(a) => kernels::run_pattern(a, pattern, size, count, seed, ptrs),
        }
    }

    /// Checks our heap's invariants (a no-op for the other contenders).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Contender::Ours(a) => a.heap.validate(),
            _ => Ok(()),
        }
    }
}
