//! Layer 3: how a value shows its edges. The [`Trace`] and [`Finalize`] traits users
//! implement (or derive), the [`Tracer`] handed to `Trace::trace`, and each type's
//! [`VTable`].
//!
//! Invariant owned here: a `Tracer` passes every edge a `trace` reports to exactly one
//! visitor, and records whether the value hid edges (a `RefCell` mutably borrowed).
//!
//! The collector's per-edge operations, CPython's `visit_decref` (of `subtract_refs`) and
//! `visit_reachable` (of `move_unreachable`), and the final garbage check's count, live in
//! `edges`, below the heap, so that every `trace` calls them without an indirect call.
//! Anything else (introspection, a collector of another flavour) drives the same `Trace`
//! impls through the [`Visit`] trait.

pub(crate) mod edges;
mod impls;
pub(crate) mod vtable;

pub use vtable::VTable;

use crate::object::{Links, Obj};

/// Reports the `Gc` handles a value holds, so the cycle collector can see the object graph.
///
/// `#[derive(Trace)]` writes the impl (an `unsafe impl` the derive vouches for, so users
/// of the derive write no `unsafe`): it calls `trace` on every field, in order.
///
/// # Safety
///
/// The collector decides what to drop from what `trace` reports, so an impl promises:
///
/// 1. **Every handle, exactly once.** It reports every `Gc`/`Weak`/`GcAny` the value owns
///    (directly or inside containers), each exactly once per call.
/// 2. **Only owned handles.** It reports no handle the value does not own (a handle borrowed
///    from elsewhere, a second report of the same handle, a handle of another value).
/// 3. **The same edges on every call** while no `&mut` access to the value happens in
///    between (interior mutability by code other than `trace` counts as such access).
/// 4. **No moves.** It never moves, drops, clones or stores a handle from inside `trace`.
///
/// Breaking rule 2 (reporting too many edges) can make the collector take a reachable
/// object for garbage and drop its value while a `&T` into it is still in use: undefined
/// behaviour. Breaking rules 1, 3 or 4 by reporting too *few* edges, in any pass or only in
/// some, only leaks: before it drops anything the collector counts the edges of the final
/// garbage set once more and keeps the whole set if any member is referenced from outside.
/// A `trace` that panics makes its collection treat everything it examined as reachable.
///
/// `#[derive(Trace)]` is the safe path; gc-api's documentation of `Trace` shows a
/// hand-written `unsafe impl` with its `// SAFETY:` line.
///
/// [`Trace::may_contain_gc`] returning `false` declares that no value of the type ever holds
/// a `Gc`: its objects are not tracked (pure refcounting, like CPython's atomic objects).
///
/// # `Rc` and `Arc` are leaves
///
/// `Rc<T>` and `Arc<T>` are `Trace` for every `T`, but report nothing. A value shared by
/// several owners cannot report its handles once per owner: each `Rc` pointing at it would
/// report the same handles, and the collector would subtract them more than once (rule 2
/// above). So a `Gc` inside an `Rc` is never seen: it counts as a root for as long as the
/// `Rc` lives, and a cycle that runs through it is never collected (it leaks, as any `Rc`
/// cycle would). Instead, hold a `Gc` where you would share with an `Rc` (a `Gc` is
/// shared and traced), or mark with `#[gc(skip)]` a field that never reaches a `Gc`
/// anyway.
///
/// # Trait objects
///
/// `Trace` is dyn-compatible, so it can be the supertrait of a trait whose objects live in a
/// `Gc<dyn Trait>` (gc-api's `coerce_gc!` makes one). `Box<dyn Trace>` is `Trace`; for
/// `Box<dyn Trait>` of your own trait (with `Trace` as a supertrait), the orphan rule leaves
/// the impl to your crate, and `gc_api::trace_box_dyn!(Trait)` writes it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`, so a value holding it cannot be traced",
    label = "`{Self}` is not `Trace`",
    note = "`#[derive(Trace)]` on `{Self}` if it may hold a `Gc`; a field that never holds one \
            can be left out of tracing with `#[gc(skip)]`",
    note = "a `gc_api::sync::Gc` that other threads may replace belongs in `gc_api::sync::GcMutex`, \
            `GcRwLock` or `AtomicGc`: the collector cannot see into `std::sync::Mutex` or `RwLock`"
)]
pub unsafe trait Trace {
    /// Calls `trace` on every field that may hold a `Gc`.
    fn trace(&self, tracer: &mut Tracer);

    /// Whether a value of this type can hold a `Gc` (false: its objects are untracked).
    /// The answer must not depend on anything but the type; it is asked once per
    /// allocation and folds to a constant. Containers answer for their elements; `Rc` and
    /// `Arc` are leaves (see above).
    ///
    /// ```
    /// use gc_core::Trace;
    /// use std::rc::Rc;
    ///
    /// assert!(!String::may_contain_gc());
    /// assert!(!<Vec<Option<u32>>>::may_contain_gc());
    /// assert!(<Vec<Box<dyn Trace>>>::may_contain_gc()); // what the box holds is unknown
    /// assert!(!<Rc<Box<dyn Trace>>>::may_contain_gc()); // a leaf
    /// ```
    #[inline(always)]
    fn may_contain_gc() -> bool
    where
        Self: Sized,
    {
        true
    }
}

/// A finalizer (Python's `__del__`, PEP 442 semantics): runs at most once per object,
/// before the object's value is dropped, while everything it references is intact.
///
/// `#[derive(Finalize)]` declares that there is none ([`Finalize::has_finalizer`] false),
/// as almost every type wants; a hand-written `impl Finalize` has one (`has_finalizer`
/// defaults to true) and overrides [`Finalize::finalize`].
///
/// # When it runs
///
/// - **Dying by refcounting** (the last handle dropped): the finalizer runs right there,
///   then the value is dropped. Weak references to the object still upgrade during the
///   finalizer.
/// - **In a garbage cycle**: the collector first clears every weak reference to the
///   cycle's objects (and runs the callbacks of those that are not garbage themselves),
///   then calls the finalizer of every object of the cycle, then drops the values of
///   whatever is still garbage. So a finalizer of a cycle member sees all the other members
///   intact, but weak references to any of them already give `None` (CPython's order).
///
/// In either case, `Gc::finalizing(self)` (gc-api) gives a `Gc<Self>` of the object being
/// finalized, to hand to user code as Python's `__del__(self)` does.
///
/// # Resurrection
///
/// A finalizer may resurrect its object: store a handle to it (from `Gc::finalizing`), or
/// to any object it reaches, somewhere reachable. The object then survives (with what it
/// references), and is freed later, when its last handle goes or a later collection finds
/// it in garbage again, *without* a second finalizer call: a finalizer runs at most once
/// per object. Weak references cleared before a cycle's finalizers ran stay cleared.
///
/// A panic in a finalizer is caught; the free or collection that ran it completes, and the
/// panic is raised again after it.
pub trait Finalize {
    /// Called once, before the value is dropped (never again if the object is
    /// resurrected). The examples on gc-api's `Finalize` show it at work.
    fn finalize(&self) {}

    /// Whether `finalize` does anything (false: the collector never calls it).
    /// `#[derive(Finalize)]` says false; a hand-written impl says true unless it overrides
    /// this.
    ///
    /// ```
    /// use gc_core::Finalize;
    ///
    /// struct Logger;
    /// impl Finalize for Logger {
    ///     fn finalize(&self) {
    ///         eprintln!("logger closed");
    ///     }
    /// }
    ///
    /// assert!(Logger::has_finalizer());
    /// assert!(!String::has_finalizer()); // std types have none
    /// ```
    #[inline(always)]
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        true
    }
}

/// What a collector does with each edge a `trace` reports, when it is not one of this
/// crate's hot passes (introspection, the final garbage check, another flavour's collector).
pub trait Visit {
    /// One edge, to `target`.
    ///
    /// # Safety
    /// `target` is a live object of the heap being traced (a handle reported it).
    unsafe fn visit(&mut self, target: Obj);
}

/// What the thread-safe flavour's collector (`crate::sync`) does with each edge and each
/// versioned cell a `trace` reports. Edges of that flavour's handles reach only this
/// visitor: every other tracer treats them as leaves (a sync object is never part of an
/// unsync collection, and the other way round).
pub trait SyncVisit {
    /// One edge, to the sync object whose header is at `target`.
    ///
    /// # Safety
    /// `target` is the header of a live object of the sync heap, held by the handle
    /// reporting it for the duration of the call.
    unsafe fn visit_sync(&mut self, target: *const ());

    /// A versioned cell of the traced value, and the version its contents were read at.
    /// The collector checks later that the word still holds `version` (no write since).
    ///
    /// # Safety
    /// `word` is the cell's version word (a `crate::sync` atomic), inside the value being
    /// traced, so live for as long as that object is.
    unsafe fn record_cell(&mut self, word: *const (), version: u64);

    /// A weak reference with a callback, owned by the traced value: `slot` names the
    /// callback (shared by the clones of one weak reference). A collection that finds every
    /// clone inside its garbage does not call it (CPython's rule for a weakref that is
    /// garbage itself).
    fn visit_weak_callback(&mut self, _slot: *const ()) {}
}

/// Where a tracer sends edges.
enum Sink<'v> {
    /// `subtract_refs`: each edge takes one off its target's `gc_refs`; targets lent out
    /// by `Gc::get_mut` are noted (`Tracer::lent`) to go back on the lists.
    SubtractRefs,
    /// `move_unreachable`: targets become reachable and join the walk after `current`.
    MarkReachable {
        current: *const Links,
        moved_back: usize,
    },
    /// The final garbage check: count the edges into the garbage set.
    CountGarbageEdges { edges: usize },
    /// Any other visitor.
    Visitor(&'v mut dyn Visit),
    /// The thread-safe flavour's collector.
    Sync(&'v mut dyn SyncVisit),
}

/// Records an object lent out by `Gc::get_mut` that a trace reported (rare: kept out of
/// line so that `visit` stays small where it is inlined into every `trace`).
#[cold]
#[inline(never)]
fn note_lent(lent: &mut Vec<Obj>, target: Obj) {
    lent.push(target);
}

/// The visitor handed to [`Trace::trace`]. Users only pass it on to their fields.
pub struct Tracer<'v> {
    sink: Sink<'v>,
    hidden: bool,
    /// `subtract_refs`: reported objects lent out by `Gc::get_mut`.
    lent: Vec<Obj>,
}

impl std::fmt::Debug for Tracer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::SubtractRefs => "subtract_refs",
            Sink::MarkReachable { .. } => "move_unreachable",
            Sink::CountGarbageEdges { .. } => "the final garbage check",
            Sink::Visitor(_) => "visitor",
            Sink::Sync(_) => "the sync collector",
        };
        f.debug_struct("Tracer").field("sink", &sink).finish()
    }
}

impl<'v> Tracer<'v> {
    /// A tracer that hands every edge to `visitor` (for introspection or a collector built
    /// on gc-core; gc-api's users never make one).
    ///
    /// ```
    /// use gc_core::{Obj, Trace, Tracer, Visit};
    ///
    /// /// Counts the edges a value reports.
    /// struct Count(usize);
    /// impl Visit for Count {
    ///     unsafe fn visit(&mut self, _target: Obj) {
    ///         self.0 += 1;
    ///     }
    /// }
    ///
    /// let value = (vec![1u32, 2], Some(String::from("no handles")));
    /// let mut count = Count(0);
    /// value.trace(&mut Tracer::new(&mut count));
    /// assert_eq!(count.0, 0);
    /// ```
    pub fn new(visitor: &'v mut dyn Visit) -> Tracer<'v> {
        Tracer {
            sink: Sink::Visitor(visitor),
            hidden: false,
            lent: Vec::new(),
        }
    }

    /// The thread-safe flavour's tracer: sync edges and cell versions go to `visitor`,
    /// unsync edges are leaves.
    pub(crate) fn for_sync(visitor: &'v mut dyn SyncVisit) -> Tracer<'v> {
        Tracer {
            sink: Sink::Sync(visitor),
            hidden: false,
            lent: Vec::new(),
        }
    }

    /// Reports an edge to an object of the thread-safe heap (what `gc_api::sync::Gc`'s
    /// `Trace` impl calls). Only that flavour's collector looks at it.
    ///
    /// # Safety
    /// `target` is the header of a live sync object, held by the handle reporting it.
    #[inline]
    pub unsafe fn visit_sync(&mut self, target: *const ()) {
        if let Sink::Sync(visitor) = &mut self.sink {
            // SAFETY: forwarded from the caller.
            unsafe { visitor.visit_sync(target) }
        }
    }

    /// Reports a versioned cell of the value being traced (what `gc_api::sync`'s cells
    /// call after reading their contents at `version`).
    ///
    /// # Safety
    /// `word` is the cell's version word inside the value being traced.
    #[inline]
    pub unsafe fn record_cell(&mut self, word: *const (), version: u64) {
        if let Sink::Sync(visitor) = &mut self.sink {
            // SAFETY: forwarded from the caller.
            unsafe { visitor.record_cell(word, version) }
        }
    }

    /// Reports a weak reference with a callback that the traced value owns (what
    /// `gc_api::sync::Weak`'s `Trace` impl calls); only the sync collector looks at it.
    #[inline]
    pub fn visit_weak_callback(&mut self, slot: *const ()) {
        if let Sink::Sync(visitor) = &mut self.sink {
            visitor.visit_weak_callback(slot)
        }
    }

    /// `subtract_refs`' tracer.
    pub(crate) fn subtract_refs() -> Tracer<'static> {
        Tracer {
            sink: Sink::SubtractRefs,
            hidden: false,
            lent: Vec::new(),
        }
    }

    /// `subtract_refs`: the objects lent out by `Gc::get_mut` that a trace reported.
    pub(crate) fn take_lent(&mut self) -> Vec<Obj> {
        std::mem::take(&mut self.lent)
    }

    /// `move_unreachable`'s tracer; [`Tracer::set_current`] names the node being traced.
    pub(crate) fn mark_reachable() -> Tracer<'static> {
        Tracer {
            sink: Sink::MarkReachable {
                current: std::ptr::null(),
                moved_back: 0,
            },
            hidden: false,
            lent: Vec::new(),
        }
    }

    /// The final garbage check's tracer; [`Tracer::garbage_edges`] reads the count.
    pub(crate) fn count_garbage_edges() -> Tracer<'static> {
        Tracer {
            sink: Sink::CountGarbageEdges { edges: 0 },
            hidden: false,
            lent: Vec::new(),
        }
    }

    /// The final garbage check: edges reported into the garbage set so far.
    pub(crate) fn garbage_edges(&self) -> usize {
        match self.sink {
            Sink::CountGarbageEdges { edges } => edges,
            _ => 0,
        }
    }

    /// `move_unreachable`: the node whose trace comes next.
    #[inline]
    pub(crate) fn set_current(&mut self, node: *const Links) {
        if let Sink::MarkReachable { current, .. } = &mut self.sink {
            *current = node;
        }
    }

    /// `move_unreachable`: objects moved back from the unreachable list so far.
    pub(crate) fn moved_back(&self) -> usize {
        match self.sink {
            Sink::MarkReachable { moved_back, .. } => moved_back,
            _ => 0,
        }
    }

    /// Says that the value being traced holds edges it cannot show right now (for example
    /// a `RefCell` that is mutably borrowed): the collector then counts the object as
    /// reachable for this collection, which is always safe.
    ///
    /// ```
    /// use gc_core::{Obj, Trace, Tracer, Visit};
    /// use std::cell::RefCell;
    ///
    /// struct Ignore;
    /// impl Visit for Ignore {
    ///     unsafe fn visit(&mut self, _target: Obj) {}
    /// }
    ///
    /// // `RefCell`'s impl calls `report_hidden_edges` while the cell is mutably borrowed.
    /// let cell: RefCell<Option<Box<dyn Trace>>> = RefCell::new(None);
    /// let mut ignore = Ignore;
    /// let mut tracer = Tracer::new(&mut ignore);
    /// let guard = cell.borrow_mut();
    /// cell.trace(&mut tracer);
    /// assert!(tracer.hidden_edges());
    /// drop(guard);
    /// tracer.reset_hidden();
    /// cell.trace(&mut tracer);
    /// assert!(!tracer.hidden_edges());
    /// ```
    pub fn report_hidden_edges(&mut self) {
        self.hidden = true;
    }

    /// Whether a value reported hidden edges since the last [`Tracer::reset_hidden`].
    ///
    /// ```
    /// # struct Ignore;
    /// # impl gc_core::Visit for Ignore {
    /// #     unsafe fn visit(&mut self, _target: gc_core::Obj) {}
    /// # }
    /// let mut ignore = Ignore; // a `Visit` that does nothing
    /// let mut tracer = gc_core::Tracer::new(&mut ignore);
    /// assert!(!tracer.hidden_edges());
    /// tracer.report_hidden_edges();
    /// assert!(tracer.hidden_edges());
    /// ```
    #[inline]
    pub fn hidden_edges(&self) -> bool {
        self.hidden
    }

    /// Forgets hidden edges reported so far (before tracing the next object).
    ///
    /// ```
    /// # struct Ignore;
    /// # impl gc_core::Visit for Ignore {
    /// #     unsafe fn visit(&mut self, _target: gc_core::Obj) {}
    /// # }
    /// let mut ignore = Ignore; // a `Visit` that does nothing
    /// let mut tracer = gc_core::Tracer::new(&mut ignore);
    /// tracer.report_hidden_edges();
    /// tracer.reset_hidden();
    /// assert!(!tracer.hidden_edges());
    /// ```
    #[inline]
    pub fn reset_hidden(&mut self) {
        self.hidden = false;
    }

    /// Reports the edge to `target`: what handles' `Trace` impls call (gc-api's `Gc`,
    /// `Weak` and `GcAny` do; a type holding those passes the tracer on to them instead).
    ///
    /// # Safety
    /// `target` is a live object of the heap being traced, held by the handle reporting it.
    ///
    /// ```
    /// use gc_core::raw::{self, GcBox};
    /// use gc_core::{Obj, Trace, Tracer, Visit};
    ///
    /// /// An owning handle, built as gc-api's `Gc` is.
    /// struct Handle(Obj);
    /// // SAFETY: owns one strong reference and reports exactly that one.
    /// unsafe impl Trace for Handle {
    ///     fn trace(&self, tracer: &mut Tracer) {
    ///         // SAFETY: the handle keeps its object live.
    ///         unsafe { tracer.visit(self.0) }
    ///     }
    /// }
    /// impl Drop for Handle {
    ///     fn drop(&mut self) {
    ///         // SAFETY: gives up the handle's reference.
    ///         unsafe { raw::dec_strong(self.0) }
    ///     }
    /// }
    ///
    /// /// Records the edges a value reports.
    /// struct Edges(Vec<Obj>);
    /// impl Visit for Edges {
    ///     unsafe fn visit(&mut self, target: Obj) {
    ///         self.0.push(target);
    ///     }
    /// }
    ///
    /// let handle = Handle(GcBox::obj(raw::new_object(7u32).unwrap()));
    /// let target = handle.0;
    /// let value = (vec![handle], "text");
    /// let mut edges = Edges(Vec::new());
    /// value.trace(&mut Tracer::new(&mut edges));
    /// assert_eq!(edges.0, [target]);
    /// ```
    #[inline(always)]
    pub unsafe fn visit(&mut self, target: Obj) {
        match &mut self.sink {
            Sink::SubtractRefs => {
                // SAFETY: `target` is live (caller); the collector set up `subtract_refs`.
                if unsafe { edges::visit_decref(target) } {
                    note_lent(&mut self.lent, target);
                }
            }
            Sink::MarkReachable {
                current,
                moved_back,
            } => {
                // SAFETY: `target` is live (caller); `current` is the node the walk traces.
                let moved = unsafe { edges::visit_reachable(target, *current) };
                *moved_back += usize::from(moved);
            }
            Sink::CountGarbageEdges { edges } => {
                // SAFETY: `target` is live (caller).
                *edges += usize::from(unsafe { edges::in_garbage(target) });
            }
            // SAFETY: `target` is live (caller).
            Sink::Visitor(visitor) => unsafe { visitor.visit(target) },
            // An unsync handle inside a sync value cannot exist (`Gc` is not `Send`); any
            // that shows up is a leaf to the sync collector.
            Sink::Sync(_) => {}
        }
    }
}
