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
//! * [`harness`]: the traits every Rust contender of `gc-stress` implements
//!   ([`harness::Collector`], and [`harness::Handles`] for handle-based ones: ours, `Rc`
//!   and five peer crates), and the drop counter.
//! * [`graphs`]: the object graphs (rings, binary-trees), built once for every contender.
//! * [`native`]: the `gc-stress` workloads, written once against [`harness::Collector`];
//!   ours-only probes in [`native::ours`]; [`peers`]: the Rust GC crates compared.
//! * [`jobs`], [`compare`], [`report`], [`svg`]: jobs and results, child processes,
//!   ratios and tables, pictures; [`clock`]: the `--clock wall|cpu` choice.
//! * [`threads`]: the `gc-stress threads` workload (the thread-safe `gc_api::sync` against
//!   `Arc`, `dumpster::sync` and `gcmodule::ThreadedCc`) and its pause probe.
//! * [`rss`]: reading the resident set size from `/proc/self/statm`.

pub mod allocators;
pub mod clock;
pub mod compare;
pub mod graphs;
pub mod harness;
pub mod jobs;
pub mod kernels;
pub mod mutation;
pub mod native;
pub mod peers;
pub mod report;
pub mod rss;
pub mod suite;
pub mod svg;
pub mod threads;

pub use allocators::{BenchAlloc, Contender, GlobalAllocAdapter, OursHeap};
pub use kernels::{AllocFailed, FreeOrder, Pattern};
