//! Shared code for the gc-core allocator benchmarks.
//!
//! * [`allocators`]: the [`BenchAlloc`] trait and its implementations for the
//!   allocators being compared: our [`gc_core::alloc::Heap`] (called directly,
//!   freeing with `free_sized`), our [`gc_core::alloc::GlobalHeap`] through the
//!   `GlobalAlloc` interface, [`std::alloc::System`] and [`mimalloc::MiMalloc`].
//! * [`kernels`]: the timed workload loops (LIFO pairs and N live blocks freed
//!   in FIFO, reverse or shuffled order).
//! * [`suite`]: the best-of-N, interleaved comparison matrix, the RSS probe and
//!   the burst-rounds policy comparison used by `gc-stress`.
//! * [`graphs`]: object-graph workloads for the collector, `Gc` and `Rc` side by side.
//! * [`rss`]: reading the resident set size from `/proc/self/statm`.

pub mod allocators;
pub mod compare;
pub mod graphs;
pub mod jobs;
pub mod kernels;
pub mod mutation;
pub mod native;
pub mod peers;
pub mod report;
pub mod rss;
pub mod suite;
pub mod svg;

pub use allocators::{BenchAlloc, Contender, GlobalAllocAdapter, OursHeap};
pub use kernels::{AllocFailed, FreeOrder, Pattern};
