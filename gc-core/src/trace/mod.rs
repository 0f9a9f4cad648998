//! Layer 3: how a value shows its edges. The [`Trace`] and [`Finalize`] traits users
//! implement (or derive), the [`Tracer`] handed to `Trace::trace`, and each type's
//! [`VTable`].
//!
//! Invariant owned here: a `Tracer` passes every edge a `trace` reports to exactly one
//! visitor, and records whether the value hid edges (a `RefCell` mutably borrowed).
//!
//! The collector's per-edge operations, CPython's `visit_decref` (of `subtract_refs`) and
//! `visit_reachable` (of `move_unreachable`), and the final garbage check's count, live in
//! [`edges`], below the heap, so that every `trace` calls them without an indirect call.
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
/// `Trace` is dyn-compatible, so it can be the supertrait of a trait whose objects live in a
/// `Gc<dyn Trait>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`, so a value holding it cannot be traced",
    label = "`{Self}` is not `Trace`",
    note = "`#[derive(Trace)]` on `{Self}` if it may hold a `Gc`; a field that never holds one \
            can be left out of tracing with `#[gc(skip)]`"
)]
pub unsafe trait Trace {
    /// Calls `trace` on every field that may hold a `Gc`.
    fn trace(&self, tracer: &mut Tracer);

    /// Whether a value of this type can hold a `Gc` (false: its objects are untracked).
    /// The answer must not depend on anything but the type; it is asked once per
    /// allocation and folds to a constant.
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
/// A finalizer may resurrect its object (store a handle to it somewhere reachable);
/// the object then survives and is later freed without a second finalizer call.
pub trait Finalize {
    /// Called once, before the value is dropped.
    fn finalize(&self) {}

    /// Whether `finalize` does anything (false: the collector never calls it).
    /// `#[derive(Finalize)]` says false; a hand-written impl says true unless it overrides
    /// this.
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
        };
        f.debug_struct("Tracer").field("sink", &sink).finish()
    }
}

impl<'v> Tracer<'v> {
    /// A tracer that hands every edge to `visitor`.
    pub fn new(visitor: &'v mut dyn Visit) -> Tracer<'v> {
        Tracer {
            sink: Sink::Visitor(visitor),
            hidden: false,
            lent: Vec::new(),
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
    pub fn report_hidden_edges(&mut self) {
        self.hidden = true;
    }

    /// Whether a value reported hidden edges since the last [`Tracer::reset_hidden`].
    #[inline]
    pub fn hidden_edges(&self) -> bool {
        self.hidden
    }

    /// Forgets hidden edges reported so far (before tracing the next object).
    #[inline]
    pub fn reset_hidden(&mut self) {
        self.hidden = false;
    }

    /// Reports the edge to `target`: what handles' `Trace` impls call.
    ///
    /// # Safety
    /// `target` is a live object of the heap being traced, held by the handle reporting it.
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
        }
    }
}
