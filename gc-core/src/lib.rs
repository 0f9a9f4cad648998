//! The low-level, `unsafe` half of the runtime.
//!
//! - [`alloc`]: a pymalloc-style small-object allocator (arenas carved into pools, pools
//!   into blocks of one size class), in a single-threaded form ([`alloc::Heap`]) and a
//!   thread-safe `GlobalAlloc` form ([`alloc::GlobalHeap`]).
//! - objects: a 16-byte header (strong count, flags, vtable) plus, for tracked objects,
//!   16 bytes of generation-list links; refcounting frees acyclic garbage at once.
//! - the collector: CPython's generational cycle collector (`update_refs`,
//!   `subtract_refs`, `move_unreachable`, weak references, PEP 442 finalizers, the
//!   resurrection check, delete, promotion), on intrusive lists, without recursion.
//!
//! `gc-api` re-exports the safe surface; this crate's internals are not for end users.

pub mod alloc;
mod collect;
mod control;
mod gc_heap;
mod handle;
mod list;
mod object;
mod trace_impls;
mod weak;

pub use control::{
    CallbackId, CallbackInfo, DebugFlags, GcError, GenerationStats, Phase, add_callback,
    clear_garbage, collect, collect_generation, disable, enable, freeze, garbage, get_count,
    get_debug, get_freeze_count, get_objects, get_referents, get_referrers, get_stats,
    get_threshold, is_enabled, malloc_stats, object_at, remove_callback, set_debug, set_threshold,
    unfreeze,
};
pub use handle::{Gc, GcAny, Weak};
pub use object::{Finalize, Trace, Tracer};

/// Introspection for debugging tools (used by `gc_api::debug`).
pub mod introspect {
    use crate::handle::GcAny;

    /// State of an object during a collection, for heap pictures.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ObjectState {
        /// Tentatively unreachable in the collection now running.
        pub unreachable: bool,
        /// The finalizer has run.
        pub finalized: bool,
        /// The value was dropped.
        pub dead: bool,
    }

    /// The state flags of `obj`.
    pub fn object_state(obj: &GcAny) -> ObjectState {
        use crate::object::flags;
        // SAFETY: a handle keeps its object live.
        let hdr = unsafe { obj.header().as_ref() };
        ObjectState {
            unreachable: hdr.has(flags::UNREACHABLE),
            finalized: hdr.has(flags::FINALIZED),
            dead: hdr.has(flags::DEAD),
        }
    }

    /// The objects `obj` refers to (untracked ones too), in trace order; while finalizers
    /// run, also the garbage being finalized.
    pub fn referents(obj: &GcAny) -> Vec<GcAny> {
        crate::control::referents_of(obj.header(), crate::object::TraceMode::Collect)
    }
}
