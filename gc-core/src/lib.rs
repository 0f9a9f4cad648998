//! The low-level, `unsafe` half of the runtime: CPython's memory manager (`obmalloc.c`)
//! and cycle collector (`gcmodule.c`), as an acyclic stack of layers. Each module depends
//! only on those below it and owns one invariant, written at its top (and checked in debug
//! builds where it can be). Read it bottom-up:
//!
//! | layer | module | owns | CPython |
//! |---|---|---|---|
//! | – | [`alloc`] | pools, arenas, size classes: which blocks are in use | `obmalloc.c` |
//! | 0 | [`types`] | the control surface's value types | `gcmodule.c`'s Python-facing types |
//! | 1 | `object` | the header: strong count and flag bits, written only there; the flag table per phase; links with `gc_refs` packed in | `ob_refcnt`, `PyGC_Head` |
//! | 2 | `list` | well-formed intrusive lists | `gc_list_*` |
//! | 3 | [`trace`] | `Trace`/`Finalize`, the `Tracer` and each type's vtable; the per-edge operations of the hot passes | `tp_traverse`, `visit_decref`, `visit_reachable` |
//! | 4 | `heap` | one heap's state: lists, counts, thresholds, stats, weak table, the collector's phase | `struct _gc_runtime_state` |
//! | 5 | `dealloc` | the free path: finalizer, kill, free; bounded stack; panics kept | `_Py_Dealloc`, the trashcan |
//! | 6 | `collect` | a collection, one module per step, with the final garbage check | `gc_collect_main` and its passes |
//! | 7 | `policy` | when to collect | `_PyObject_GC_Link`, `gc_collect_generations` |
//! | 8 | `thread`, [`raw`], [`control`] | the per-thread heap; raw object operations; the `gc` module's functions | `gcmodule.c`'s module functions |
//!
//! gc-api builds the safe, typed surface (`Gc`, `Weak`, `GcAny`, the `gc`-module functions)
//! on [`raw`] and [`control`], as lock_api's safe `Mutex` is built on a `RawMutex`. What a
//! thread-safe flavour can reuse is flavour-neutral: [`types`], the `Trace`/`Finalize`
//! traits with the [`trace::Visit`] visitor, the list layer and the allocator.
//!
//! This crate's API is unstable and for gc-api; users import gc-api.

#![deny(clippy::multiple_unsafe_ops_per_block)]

pub mod alloc;
mod collect;
pub mod control;
mod dealloc;
mod heap;
mod list;
mod object;
mod policy;
pub mod raw;
pub mod sync;
mod thread;
pub mod trace;
pub mod types;

pub use heap::WeakCallback;
pub use object::Obj;
pub use trace::{Finalize, Trace, Tracer, Visit};
pub use types::{CallbackId, CallbackInfo, DebugFlags, GcError, GenerationStats, Phase};
