//! Layer 4: the heap. [`state`] holds one heap's allocator, lists, counts, thresholds,
//! statistics, weak table and the collector's phase, behind methods that keep them
//! consistent; [`weak`] defines the weak reference cell objects. Nothing here runs user code
//! or knows which thread the heap belongs to.

pub(crate) mod state;
pub(crate) mod weak;

pub(crate) use state::CollectorPhase;
pub use state::GcHeap;
pub use weak::WeakCallback;
