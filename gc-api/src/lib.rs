//! Refcounted `Gc<T>` handles whose reference cycles are collected: CPython's memory
//! model as a Rust library.
//!
//! Every object is reference counted, so most garbage is freed the moment its last handle
//! drops, exactly as with `Rc`. What `Rc` cannot free is a cycle: two objects that point
//! at each other keep each other's count above zero forever. Here a generational cycle
//! collector (CPython's algorithm) finds such groups and frees them.
//!
//! ```
//! use gc_api::{Finalize, Gc, Trace};
//! use std::cell::RefCell;
//!
//! #[derive(Trace, Finalize)]
//! struct Node {
//!     name: String,
//!     next: RefCell<Option<Gc<Node>>>,
//! }
//!
//! let a = Gc::new(Node { name: "a".into(), next: RefCell::new(None) });
//! let b = Gc::new(Node { name: "b".into(), next: RefCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a -> b -> a: a cycle
//! assert_eq!(Gc::strong_count(&a), 2);
//! drop((a, b)); // with Rc, both nodes would now leak
//! assert_eq!(gc_api::collect(), 2); // the collector finds and frees both
//! ```
//!
//! The rest mirrors Python's `gc` module: three generations with thresholds
//! ([`get_count`], [`set_threshold`], automatic collection on allocation), [`collect`],
//! [`get_stats`], [`add_callback`], [`freeze`], [`set_debug`] with [`DebugFlags`],
//! [`get_objects`], [`get_referrers`], [`get_referents`], [`garbage`], and [`object_at`]
//! (`_ctypes.PyObj_FromPtr`). Weak references ([`Weak`], with callbacks), PEP 442
//! finalizers ([`Finalize`]) and an [`Interner`] complete it. All state belongs to the
//! calling thread; `Gc` is neither `Send` nor `Sync`.
//!
//! Soundness: an object's memory is released only when its strong count reaches zero.
//! When the collector frees a cycle it drops the values in place; a handle that a `Drop`
//! impl smuggled out of the garbage then finds the object dead ([`Gc::try_deref`] gives
//! `None`, `Deref` panics with a clear message) instead of reading freed memory.
//! See [`Trace`] for what a wrong hand-written impl can and cannot do.

extern crate self as gc_api;

mod control;
pub mod debug;
mod handle;
mod interner;

pub use control::{
    add_callback, clear_garbage, collect, collect_generation, disable, enable, freeze, garbage,
    get_count, get_debug, get_freeze_count, get_memory_threshold, get_objects, get_referents,
    get_referrers, get_stats, get_threshold, is_enabled, malloc_stats, object_at, remove_callback,
    set_debug, set_memory_threshold, set_threshold, unfreeze,
};
pub use gc_core::alloc::{MallocStats, SizeClassStats};
pub use gc_core::{
    CallbackId, CallbackInfo, DebugFlags, Finalize, GcError, GenerationStats, Phase, Tracer,
};
pub use gc_derive::{Finalize, Trace};
pub use handle::{Gc, GcAny, Weak};
pub use interner::Interner;

/// Reports the `Gc` handles a value holds, so the cycle collector can see the object graph.
/// See the trait's own documentation for the contract; this example shows the two ways to
/// implement it.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace, Tracer};
///
/// // The derive is the safe way: it writes the `unsafe impl` and keeps the contract.
/// #[derive(Trace, Finalize)]
/// struct Pair {
///     left: Gc<u32>,
///     right: Option<Gc<u32>>,
/// }
///
/// // By hand, the impl states that it keeps the contract.
/// #[derive(Finalize)]
/// struct Raw {
///     items: Vec<Gc<u32>>,
///     cached_len: usize,
/// }
///
/// // SAFETY: reports each handle of `items` once; it owns them and never moves them.
/// unsafe impl Trace for Raw {
///     fn trace(&self, tracer: &mut Tracer) {
///         self.items.trace(tracer);
///     }
/// }
///
/// let pair = Gc::new(Pair { left: Gc::new(1), right: None });
/// let raw = Gc::new(Raw { items: vec![Gc::new(2)], cached_len: 1 });
/// assert!(Gc::is_tracked(&pair) && Gc::is_tracked(&raw));
/// ```
pub use gc_core::Trace;

/// Implements `Trace` for `Box<dyn Trait>` (every `Box` already has `Finalize`), for
/// traits that have `Trace` as a supertrait: the box reports what its value reports, and counts as possibly holding a
/// `Gc`. (Rust's orphan rule lets a crate write this impl for its own traits only, hence a
/// macro rather than an impl here.)
///
/// ```
/// use gc_api::{Finalize, Gc, Trace, trace_box_dyn};
///
/// trait Op: Trace {
///     fn apply(&self, x: i64) -> i64;
/// }
/// trace_box_dyn!(Op);
///
/// #[derive(Trace, Finalize)]
/// struct Add(i64);
/// impl Op for Add {
///     fn apply(&self, x: i64) -> i64 { x + self.0 }
/// }
///
/// #[derive(Trace, Finalize)]
/// struct Pipeline { ops: Vec<Box<dyn Op>> }
///
/// let p = Gc::new(Pipeline { ops: vec![Box::new(Add(1)), Box::new(Add(2))] });
/// assert_eq!(p.ops.iter().fold(0, |x, op| op.apply(x)), 3);
/// ```
#[macro_export]
macro_rules! trace_box_dyn {
    ($($trait_:path),+ $(,)?) => {$(
        // SAFETY: the boxed value is owned and reports its own edges, once.
        unsafe impl $crate::Trace for ::std::boxed::Box<dyn $trait_> {
            fn trace(&self, tracer: &mut $crate::Tracer) {
                $crate::Trace::trace(&**self, tracer)
            }
        }
    )+};
}

/// The README's Rust examples, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
