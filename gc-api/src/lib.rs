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
//! calling thread; `Gc` is neither `Send` nor `Sync`. For objects shared between threads,
//! [`sync`] is the thread-safe flavour (`sync::Gc` is `Send + Sync`, one heap per process,
//! a collector that never stops a mutator).
//!
//! Soundness: an object's memory is released only when its strong count reaches zero.
//! When the collector frees a cycle it drops the values in place; a handle that a `Drop`
//! impl smuggled out of the garbage then finds the object dead ([`Gc::try_deref`] gives
//! `None`, `Deref` panics with a clear message) instead of reading freed memory.
//! See [`Trace`] for what a wrong hand-written impl can and cannot do.
//!
//! # Coming from `Rc` / from another GC crate
//!
//! `Gc<T>` is used like `Rc<T>`; the names match where the meaning does.
//!
//! | `std::rc` | `gc_api` | note |
//! |---|---|---|
//! | `Rc::new(v)` | [`Gc::new(v)`](Gc::new) | `T: Trace + Finalize` (both derivable) |
//! | `rc.clone()` | `gc.clone()` | one more strong reference |
//! | `Rc::downgrade(&rc)` | [`Gc::downgrade(&gc)`](Gc::downgrade) | also [`Weak::with_callback`] |
//! | `weak.upgrade()` | [`weak.upgrade()`](Weak::upgrade) | |
//! | `Rc::try_unwrap`, `Rc::into_inner` | [`Gc::try_unwrap`], [`Gc::into_inner`] | |
//! | `Rc::get_mut` | [`Gc::get_mut`] | |
//! | `Rc::make_mut` | [`Gc::make_mut`] | |
//! | `Rc::new_cyclic` | [`Gc::new_cyclic`] | |
//! | `Rc::ptr_eq` | [`Gc::ptr_eq`] | `Weak::ptr_eq` differs: see [`Weak::ptr_eq`] |
//! | `Rc::strong_count`, `Rc::weak_count` | [`Gc::strong_count`], [`Gc::weak_count`] | |
//! | `Rc::into_raw`, `Rc::from_raw`, `Rc::as_ptr` | [`Gc::into_raw`], [`Gc::from_raw`], [`Gc::as_ptr`] | |
//! | `let r: Rc<dyn Tr> = Rc::new(x);` | `let g: Gc<dyn Tr> = coerce_gc!(Gc::new(x));` | [`coerce_gc!`]; `Tr` needs `Trace` as a supertrait |
//! | `Rc<[T]>`, `Rc<str>` from `Vec`/`&str` | `Gc<[T]>`, `Gc<str>` from the same | `From` and `collect()` |
//! | `Rc<RefCell<T>>` | `Gc<RefCell<T>>` | the usual way to mutate, and to build cycles |
//!
//! | crate | its names | here |
//! |---|---|---|
//! | `gc` | `Gc`, `GcCell`, `#[derive(Trace, Finalize)]`, `force_collect()` | `Gc`, a `RefCell` inside a `Gc`, the same derives, [`collect()`](collect) |
//! | `dumpster` | `unsync::Gc`, `coerce_gc!`, `unsync::collect()` | `Gc`, [`coerce_gc!`], [`collect()`](collect) |
//! | `rust-cc` | `Cc`, `#[derive(Trace, Finalize)]`, `collect_cycles()` | `Gc`, the same derives, [`collect()`](collect) |
//! | `bacon_rajan_cc` | `Cc`, `collect_cycles()` | `Gc`, [`collect()`](collect) |
//! | `gcmodule` | `Cc`, `collect_thread_cycles()` | `Gc`, [`collect()`](collect) |
//! | `gc-arena` | `Arena`, `Collect`, `Gc<'gc, T>` | no arena and no lifetime: a `Gc<T>` is `'static` and refcounted, held anywhere on its thread |
//!
//! What is different:
//!
//! - **Refcounting frees at once.** When the last handle drops, the value is finalized
//!   (if its type has a finalizer) and dropped right there, as with `Rc` (and as in
//!   `rust-cc`, `dumpster`, `gcmodule` and `bacon_rajan_cc`; unlike `gc` and `gc-arena`,
//!   which free only when they collect).
//! - **A collector finds cycles.** Only cyclic garbage waits for a collection, which
//!   runs automatically as tracked objects are allocated (thresholds `[700, 10, 10]`,
//!   see [`set_threshold`]) or when you call [`collect`].
//! - **`Trace` is an `unsafe trait`, written by the derive.** `#[derive(Trace)]` is the
//!   safe path; a field that never holds a `Gc` can be left out with `#[gc(skip)]`. A
//!   hand-written impl is an `unsafe impl` whose contract [`Trace`] spells out. `Rc`/`Arc`
//!   fields are leaves: a `Gc` inside one is never traced through.
//! - **Finalizers follow CPython (PEP 442)**: they run once, may resurrect their object,
//!   and see a garbage cycle intact (see [`Finalize`]).
//! - **Per thread.** Each thread has its own heap; `Gc` is neither `Send` nor `Sync`.
//!
//! ```
//! use gc_api::{Finalize, Gc, Trace, Weak};
//! use std::cell::RefCell;
//!
//! // `Rc<RefCell<..>>` code carries over; the cycle below would leak with `Rc`.
//! #[derive(Trace, Finalize)]
//! struct Parent { children: RefCell<Vec<Gc<Child>>> }
//! #[derive(Trace, Finalize)]
//! struct Child { parent: Gc<Parent> } // a strong back edge: no `Weak` needed
//!
//! let parent = Gc::new(Parent { children: RefCell::new(Vec::new()) });
//! parent.children.borrow_mut().push(Gc::new(Child { parent: parent.clone() }));
//! let watch: Weak<Parent> = Gc::downgrade(&parent);
//! drop(parent);
//! assert!(watch.upgrade().is_some(), "a cycle outlives its last outside handle...");
//! assert_eq!(gc_api::collect(), 2);
//! assert!(watch.upgrade().is_none(), "...until the collector frees it");
//! ```

extern crate self as gc_api;

mod control;
pub mod debug;
mod handle;
mod interner;
pub mod sync;

pub use control::{
    add_callback, clear_garbage, collect, collect_generation, disable, enable, freeze, garbage,
    get_count, get_debug, get_freeze_count, get_memory_threshold, get_objects, get_referents,
    get_referrers, get_stats, get_threshold, is_enabled, malloc_stats, object_at,
    release_free_memory, remove_callback, set_debug, set_memory_threshold, set_threshold, unfreeze,
};
/// What [`malloc_stats`] reports: the calling thread's object allocator, in the shape of
/// CPython's `sys._debugmallocstats()`. Its `Display` prints CPython's table.
///
/// ```
/// use gc_api::Gc;
///
/// let before = gc_api::malloc_stats();
/// let numbers: Vec<Gc<u64>> = (0..100).map(Gc::new).collect();
/// let after = gc_api::malloc_stats();
/// assert!(after.blocks_in_use() >= before.blocks_in_use() + 100); // one block per object
/// assert_eq!(after.total(), after.mapped_bytes()); // the breakdown accounts for every byte
/// drop(numbers);
/// assert_eq!(gc_api::malloc_stats().blocks_in_use(), before.blocks_in_use());
/// ```
pub use gc_core::alloc::MallocStats;

/// One size class of [`MallocStats`]: small objects are carved from pools of equal-sized
/// blocks, one pool size per 16-byte step.
///
/// ```
/// let g = gc_api::Gc::new([0u8; 100]);
/// let stats = gc_api::malloc_stats();
/// let used: Vec<_> = stats.classes.iter().filter(|c| c.blocks_in_use > 0).collect();
/// assert!(!used.is_empty());
/// for class in used {
///     assert_eq!(class.block_size, (class.class + 1) * 16);
///     assert!(class.pools >= 1);
/// }
/// # drop(g);
/// ```
pub use gc_core::alloc::SizeClassStats;

/// Names a callback registered with [`add_callback`], to give to [`remove_callback`].
///
/// ```
/// let a = gc_api::add_callback(|_, _| {});
/// let b = gc_api::add_callback(|_, _| {});
/// assert_ne!(a, b, "each registration gets its own id");
/// assert!(gc_api::remove_callback(a));
/// assert!(!gc_api::remove_callback(a), "already removed");
/// assert!(gc_api::remove_callback(b));
/// ```
pub use gc_core::CallbackId;

/// What a collection callback is told: which generation is collected and, at
/// [`Phase::Stop`], how many objects were found unreachable.
///
/// ```
/// use gc_api::{CallbackInfo, Finalize, Gc, Phase, Trace};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// #[derive(Trace, Finalize)]
/// struct Node { me: RefCell<Option<Gc<Node>>> }
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let sink = log.clone();
/// let id = gc_api::add_callback(move |phase, info| sink.borrow_mut().push((phase, *info)));
/// let n = Gc::new(Node { me: RefCell::new(None) });
/// *n.me.borrow_mut() = Some(n.clone());
/// drop(n);
/// gc_api::collect();
/// gc_api::remove_callback(id);
/// let full = CallbackInfo { generation: 2, collected: 0, uncollectable: 0 };
/// assert_eq!(
///     *log.borrow(),
///     [(Phase::Start, full), (Phase::Stop, CallbackInfo { collected: 1, ..full })]
/// );
/// ```
pub use gc_core::CallbackInfo;

/// Flags for [`set_debug`], combined with `|` (a `bitflags` type). Output goes to `tracing`
/// events with target `"gc"`: install a `tracing` subscriber to see it.
///
/// ```
/// use gc_api::DebugFlags;
///
/// assert_eq!(
///     DebugFlags::LEAK,
///     DebugFlags::COLLECTABLE | DebugFlags::UNCOLLECTABLE | DebugFlags::SAVEALL
/// );
/// gc_api::set_debug(DebugFlags::STATS | DebugFlags::SAVEALL);
/// let flags = gc_api::get_debug();
/// assert!(flags.contains(DebugFlags::SAVEALL) && !flags.contains(DebugFlags::COLLECTABLE));
/// gc_api::set_debug(DebugFlags::empty());
/// ```
pub use gc_core::DebugFlags;

/// Code that runs once before an object's value is dropped (Python's `__del__`). See the
/// rules below the examples; `#[derive(Finalize)]` says "no finalizer".
///
/// A finalizer, and the derive for types without one:
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::cell::Cell;
///
/// thread_local! { static CLOSED: Cell<u32> = const { Cell::new(0) }; }
///
/// #[derive(Trace)]
/// struct File { name: String }
/// impl Finalize for File {
///     fn finalize(&self) {
///         assert_eq!(self.name, "log"); // the value is intact
///         CLOSED.set(CLOSED.get() + 1);
///     }
/// }
///
/// #[derive(Trace, Finalize)]
/// struct Plain(u32);
///
/// assert!(File::has_finalizer());
/// assert!(!Plain::has_finalizer());
/// drop(Gc::new(File { name: "log".into() })); // the last handle: finalized at once
/// assert_eq!(CLOSED.get(), 1);
/// ```
///
/// Resurrection: the finalizer keeps a handle to its own object, which survives; when that
/// handle goes too, the object is freed without a second call.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::cell::{Cell, RefCell};
///
/// thread_local! {
///     static SAVED: RefCell<Option<Gc<Phoenix>>> = const { RefCell::new(None) };
///     static CALLS: Cell<u32> = const { Cell::new(0) };
/// }
///
/// #[derive(Trace)]
/// struct Phoenix;
/// impl Finalize for Phoenix {
///     fn finalize(&self) {
///         CALLS.set(CALLS.get() + 1);
///         let me = Gc::finalizing(self).expect("the object being finalized");
///         SAVED.with(|s| *s.borrow_mut() = Some(me));
///     }
/// }
///
/// let bird = Gc::new(Phoenix);
/// let watch = Gc::downgrade(&bird);
/// drop(bird);
/// assert_eq!(CALLS.get(), 1);
/// assert!(watch.upgrade().is_some(), "resurrected");
/// SAVED.with(|s| s.borrow_mut().take()); // drops the last handle
/// assert!(watch.upgrade().is_none(), "freed");
/// assert_eq!(CALLS.get(), 1, "at most once");
/// ```
///
/// Weak references during the finalizer: an object that dies by refcounting can still
/// upgrade them; one in a garbage cycle finds them already cleared (CPython's order).
///
/// ```
/// use gc_api::{Finalize, Gc, Trace, Weak};
/// use std::cell::{Cell, RefCell};
///
/// thread_local! { static UPGRADED: Cell<Option<bool>> = const { Cell::new(None) }; }
///
/// #[derive(Trace)]
/// struct Node { me: RefCell<Option<Gc<Node>>>, watch: RefCell<Weak<Node>> }
/// impl Finalize for Node {
///     fn finalize(&self) {
///         UPGRADED.set(Some(self.watch.borrow().upgrade().is_some()));
///     }
/// }
/// fn node() -> Gc<Node> {
///     let n = Gc::new(Node { me: RefCell::new(None), watch: RefCell::default() });
///     *n.watch.borrow_mut() = Gc::downgrade(&n);
///     n
/// }
///
/// drop(node()); // freed by refcounting
/// assert_eq!(UPGRADED.get(), Some(true));
///
/// let n = node();
/// *n.me.borrow_mut() = Some(n.clone()); // a cycle
/// drop(n);
/// gc_api::collect();
/// assert_eq!(UPGRADED.get(), Some(false));
/// ```
pub use gc_core::Finalize;

/// Errors of the control functions ([`collect_generation`], [`get_objects`]) and of
/// [`Gc::try_new`]. It is `#[non_exhaustive]`, and a `std::error::Error`.
///
/// ```
/// use gc_api::GcError;
///
/// let err = gc_api::collect_generation(7).unwrap_err();
/// assert_eq!(err, GcError::InvalidGeneration(7));
/// assert_eq!(err.to_string(), "invalid generation 7: generations are 0, 1 and 2");
///
/// fn young_objects() -> Result<usize, Box<dyn std::error::Error>> {
///     Ok(gc_api::get_objects(Some(0))?.len()) // `?` converts it
/// }
/// assert!(young_objects().is_ok());
/// ```
pub use gc_core::GcError;

/// One generation's entry of [`get_stats`] (Python's `gc.get_stats()`).
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::cell::RefCell;
///
/// #[derive(Trace, Finalize)]
/// struct Node { me: RefCell<Option<Gc<Node>>> }
///
/// let before = gc_api::get_stats();
/// let n = Gc::new(Node { me: RefCell::new(None) });
/// *n.me.borrow_mut() = Some(n.clone());
/// drop(n);
/// assert_eq!(gc_api::collect_generation(0), Ok(1)); // a new object is in generation 0
/// let after = gc_api::get_stats();
/// assert_eq!(after[0].collections, before[0].collections + 1);
/// assert_eq!(after[0].collected, before[0].collected + 1);
/// assert_eq!(after[0].uncollectable, 0);
/// assert_eq!(after[2], before[2], "the oldest generation was not collected");
/// ```
pub use gc_core::GenerationStats;

/// Which end of a collection a callback registered with [`add_callback`] is called at.
///
/// ```
/// use gc_api::Phase;
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let phases = Rc::new(RefCell::new(Vec::new()));
/// let sink = phases.clone();
/// let id = gc_api::add_callback(move |phase, _| sink.borrow_mut().push(phase));
/// gc_api::collect();
/// gc_api::collect();
/// gc_api::remove_callback(id);
/// assert_eq!(*phases.borrow(), [Phase::Start, Phase::Stop, Phase::Start, Phase::Stop]);
/// ```
pub use gc_core::Phase;

/// What a [`Trace`] impl passes its fields' handles to. User code only hands it on
/// (`field.trace(tracer)`), or says that it cannot show its edges right now.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace, Tracer};
/// use std::cell::RefCell;
///
/// #[derive(Finalize)]
/// struct Slot { item: RefCell<Option<Gc<Slot>>> }
///
/// // SAFETY: reports the handle in `item` once, or none while `item` is mutably borrowed
/// // (what `RefCell`'s own impl does).
/// unsafe impl Trace for Slot {
///     fn trace(&self, tracer: &mut Tracer) {
///         match self.item.try_borrow() {
///             Ok(item) => item.trace(tracer),
///             // The object then counts as reachable for this collection: always safe.
///             Err(_) => tracer.report_hidden_edges(),
///         }
///     }
/// }
///
/// let s = Gc::new(Slot { item: RefCell::new(None) });
/// *s.item.borrow_mut() = Some(s.clone());
/// drop(s);
/// assert_eq!(gc_api::collect(), 1);
/// ```
pub use gc_core::Tracer;

/// Derives [`Trace`](trait@Trace): the impl traces every field in order (for an enum, the
/// fields of the active variant). Options:
///
/// - `#[gc(skip)]` on a field leaves it out (its type need not be `Trace`). Skipping a
///   field that holds a `Gc` is not unsound, but a cycle through it is never collected.
/// - `#[gc(bound = "...")]` on the type replaces the inferred bounds; by default each
///   type parameter that appears in a traced field (outside `Gc<..>`, `Weak<..>` and
///   `PhantomData<..>`) gets a `Trace` bound.
///
/// A type whose traced fields can never hold a `Gc` gets `may_contain_gc() == false`, so
/// its objects are not tracked: pure refcounting.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::time::Instant;
///
/// #[derive(Trace, Finalize)]
/// enum Expr {
///     Num(i64),
///     Add(Gc<Expr>, Gc<Expr>),
/// }
///
/// struct NotTrace;
///
/// #[derive(Trace, Finalize)]
/// struct Stamp<T> {
///     value: T,
///     #[gc(skip)]
///     extra: NotTrace, // not `Trace`: skipped
///     at: Instant,
/// }
///
/// let one = Gc::new(Expr::Num(1));
/// let sum = Gc::new(Expr::Add(one.clone(), one));
/// assert!(Gc::is_tracked(&sum));
/// let stamp = Gc::new(Stamp { value: 5u8, extra: NotTrace, at: Instant::now() });
/// assert!(!Gc::is_tracked(&stamp), "no field can hold a Gc");
/// assert_eq!(stamp.value, 5);
/// ```
pub use gc_derive::Trace;

/// Derives [`Finalize`](trait@Finalize) with no finalizer (`has_finalizer()` false), as
/// almost every type wants. Write the impl by hand to run code before the value drops.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
///
/// #[derive(Trace, Finalize)]
/// struct Point { x: i32, y: i32 }
///
/// assert!(!Point::has_finalizer());
/// let p = Gc::new(Point { x: 1, y: 2 });
/// assert_eq!(p.x + p.y, 3);
/// ```
pub use gc_derive::Finalize;
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
