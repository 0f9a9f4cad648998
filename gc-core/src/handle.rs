//! The handles users hold: `Gc<T>`, `GcAny` and `Weak<T>`.
//!
//! Invariants:
//! - every handle owns one unit of its object's strong count, so the object's memory is
//!   valid while any handle exists (it is released only when the count reaches zero);
//! - a handle never exposes a dropped value: `DEAD` objects give `None` from `try_deref`
//!   and a panic from `Deref`;
//! - handles are neither `Send` nor `Sync` (the heap is per thread).

use crate::control::GcError;
use crate::gc_heap::{heap, heap_if_alive};
use crate::object::{Finalize, Header, Trace, Tracer, VTableOf, flags};
use crate::weak::{self, Callback, PlainCallback, TracedCallback, WeakCell};
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

/// Adds one to the strong count; aborts on overflow, as `Rc` does.
#[inline(always)]
fn inc_strong(h: NonNull<Header>) {
    // SAFETY: callers hold a handle (or the heap's reference), so `h` is live.
    let rc = unsafe { h.as_ref() }.refcount.get().wrapping_add(1);
    // SAFETY: as above.
    unsafe { h.as_ref() }.refcount.set(rc);
    if rc == 0 {
        std::process::abort();
    }
}

/// Drops one from the strong count; the last one releases the object.
#[inline(always)]
fn dec_strong(h: NonNull<Header>) {
    // SAFETY: the caller gives up a handle it owned, so `h` is live.
    let hdr = unsafe { h.as_ref() };
    let rc = hdr.refcount.get() - 1;
    hdr.refcount.set(rc);
    if rc == 0 {
        release_slow(h);
    }
}

#[cold]
#[inline(never)]
fn release_slow(h: NonNull<Header>) {
    // After this thread's heap was torn down the object is leaked, never freed under
    // anything that might still point at it.
    if let Some(heap) = heap_if_alive() {
        heap.release(h);
    }
}

/// A strong, refcounted handle to a `T` in the current thread's heap.
///
/// Cloning adds a reference; dropping the last one frees the object at once (after its
/// finalizer). Cycles of `Gc`s are found by the cycle collector. `Deref` gives the value;
/// it panics if the collector already dropped the value (only possible for a handle that
/// a `Drop` impl smuggled out of garbage, or after an `unsafe impl Trace` broke its
/// contract by reporting too many edges) — use [`Gc::try_deref`] to check.
pub struct Gc<T: 'static> {
    ptr: NonNull<Header>,
    _marker: PhantomData<T>,
}

impl<T: Trace + Finalize + 'static> Gc<T> {
    /// Moves `value` into a new object. Objects whose type may hold a `Gc` are tracked
    /// by the collector; allocating one may run an automatic collection first.
    ///
    /// # Panics
    /// Aborts through `handle_alloc_error` when out of memory.
    pub fn new(value: T) -> Gc<T> {
        match Gc::try_new(value) {
            Ok(g) => g,
            Err(_) => {
                let vt = VTableOf::<T>::VTABLE;
                std::alloc::handle_alloc_error(
                    std::alloc::Layout::from_size_align(vt.size, vt.align)
                        .unwrap_or(std::alloc::Layout::new::<T>()),
                )
            }
        }
    }

    /// Like [`Gc::new`], with an error instead of an abort when out of memory.
    pub fn try_new(value: T) -> Result<Gc<T>, GcError> {
        let h = heap()
            .alloc_object(VTableOf::<T>::VTABLE)
            .ok_or(GcError::OutOfMemory)?;
        // SAFETY: a fresh object of `T`'s vtable: the value slot is allocated, aligned for
        // `T` and uninitialised; no user code has run since allocation.
        unsafe { Header::value_ptr(h).cast::<T>().write(value) };
        Ok(Gc {
            ptr: h,
            _marker: PhantomData,
        })
    }
}

impl<T: 'static> Gc<T> {
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: a handle keeps its object's memory live.
        unsafe { self.ptr.as_ref() }
    }

    /// The value, or `None` if the collector dropped it.
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        if this.header().has(flags::DEAD) {
            None
        } else {
            // SAFETY: not DEAD, so the value is initialised, and the handle keeps the memory
            // for the borrow's lifetime. A value is dropped while handles exist only by the
            // collector, for a garbage set that its final check found closed: every handle
            // to a member is owned by a member (exact when `Trace` impls keep their rule 2,
            // which `unsafe impl Trace` promises). A handle outside the set, like `this`
            // with a borrow through it, makes the check keep the whole set.
            Some(unsafe { &*Header::value_ptr(this.ptr).cast::<T>() })
        }
    }

    /// Whether the collector dropped the value (the handle outlived its garbage cycle).
    pub fn is_dead(this: &Self) -> bool {
        this.header().has(flags::DEAD)
    }

    /// A stable address, unique among live objects (Python's `id()`).
    #[inline]
    pub fn id(this: &Self) -> usize {
        this.ptr.as_ptr() as usize
    }

    /// Strong handles to the object (Python's `sys.getrefcount`, without the argument's).
    pub fn strong_count(this: &Self) -> usize {
        this.header().refcount.get() as usize
    }

    /// Whether two handles are the same object (Python's `is`).
    #[inline]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// Whether the collector tracks the object (false for types that hold no `Gc`).
    pub fn is_tracked(this: &Self) -> bool {
        this.header().has(flags::TRACKED)
    }

    /// Whether the object's finalizer has run.
    pub fn is_finalized(this: &Self) -> bool {
        this.header().has(flags::FINALIZED)
    }

    /// A weak reference (no callback).
    pub fn downgrade(this: &Self) -> Weak<T> {
        Weak::make(this, None)
    }

    pub(crate) fn header_ptr(this: &Self) -> NonNull<Header> {
        this.ptr
    }
}

impl<T: 'static> Deref for Gc<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match Gc::try_deref(self) {
            Some(v) => v,
            None => dead_handle_panic(),
        }
    }
}

#[cold]
#[inline(never)]
fn dead_handle_panic() -> ! {
    panic!(
        "gc: dereferenced a Gc whose value the cycle collector already dropped \
         (the object was unreachable garbage; use Gc::try_deref to check)"
    )
}

impl<T: 'static> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Self {
        inc_strong(self.ptr);
        Gc {
            ptr: self.ptr,
            _marker: PhantomData,
        }
    }
}

impl<T: 'static> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        dec_strong(self.ptr);
    }
}

// SAFETY: a `Gc` owns one strong reference and reports exactly that one.
unsafe impl<T: 'static> Trace for Gc<T> {
    const MAY_CONTAIN_GC: bool = true;

    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit(self.ptr) }
    }
}

impl<T: 'static> Finalize for Gc<T> {
    const HAS_FINALIZER: bool = false;
}

impl<T: fmt::Debug + 'static> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_deref(self) {
            Some(v) => fmt::Debug::fmt(v, f),
            None => write!(f, "<dead Gc {:#x}>", Gc::id(self)),
        }
    }
}

impl<T: fmt::Display + 'static> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: PartialEq + 'static> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq + 'static> Eq for Gc<T> {}

impl<T: PartialOrd + 'static> PartialOrd for Gc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord + 'static> Ord for Gc<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: std::hash::Hash + 'static> std::hash::Hash for Gc<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

/// Whether a new strong handle to `hdr` may be made from a raw reference (introspection,
/// `Weak::upgrade`, `object_at`): not for an object being freed or dead, nor for one a
/// collection is examining (`COLLECTING`) or has found unreachable, except while that
/// collection's finalizers run, because the resurrection pass that follows them sees any
/// handle kept (CPython: a `__del__` may resurrect through a weakref). A handle made at
/// any other point could outlive the collection's verdict.
fn may_hand_out(hdr: &Header) -> bool {
    let finalizing = crate::gc_heap::heap_if_alive().is_some_and(|heap| heap.finalizing.get());
    let refused = if finalizing {
        flags::FREEING | flags::DEAD | flags::COLLECTING
    } else {
        flags::FREEING | flags::DEAD | flags::COLLECTING | flags::UNREACHABLE
    };
    !hdr.has(refused) && hdr.refcount.get() > 0
}

/// A strong handle to an object of any type (the result of introspection).
pub struct GcAny {
    ptr: NonNull<Header>,
    _not_send: PhantomData<*const ()>,
}

impl GcAny {
    /// A new handle to `h` unless it is being freed or is dead (see `may_hand_out`).
    pub(crate) fn from_live(h: NonNull<Header>) -> Option<GcAny> {
        // SAFETY: callers pass objects found on the heap's lists, reported by a trace, or
        // checked by the allocator, which are live.
        if !may_hand_out(unsafe { h.as_ref() }) {
            return None;
        }
        inc_strong(h);
        Some(GcAny {
            ptr: h,
            _not_send: PhantomData,
        })
    }

    pub(crate) fn header(&self) -> NonNull<Header> {
        self.ptr
    }

    fn hdr(&self) -> &Header {
        // SAFETY: a handle keeps its object live.
        unsafe { self.ptr.as_ref() }
    }

    /// The object's id (same as `Gc::id`).
    pub fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The Rust type name of the value.
    pub fn type_name(&self) -> &'static str {
        (self.hdr().vtable.type_name)()
    }

    /// Whether the collector tracks the object.
    pub fn is_tracked(&self) -> bool {
        self.hdr().has(flags::TRACKED)
    }

    /// Whether the collector dropped the value.
    pub fn is_dead(&self) -> bool {
        self.hdr().has(flags::DEAD)
    }

    /// Strong handles to the object.
    pub fn strong_count(&self) -> usize {
        self.hdr().refcount.get() as usize
    }

    /// Whether the value is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        (self.hdr().vtable.type_id)() == TypeId::of::<T>()
    }

    /// The typed handle, or `self` back if the value is not a `T`.
    pub fn downcast<T: 'static>(self) -> Result<Gc<T>, GcAny> {
        if self.is::<T>() {
            let ptr = self.ptr;
            std::mem::forget(self);
            Ok(Gc {
                ptr,
                _marker: PhantomData,
            })
        } else {
            Err(self)
        }
    }

    /// Whether two handles are the same object.
    pub fn ptr_eq(a: &GcAny, b: &GcAny) -> bool {
        a.ptr == b.ptr
    }
}

impl<T: 'static> From<Gc<T>> for GcAny {
    fn from(g: Gc<T>) -> GcAny {
        let ptr = g.ptr;
        std::mem::forget(g);
        GcAny {
            ptr,
            _not_send: PhantomData,
        }
    }
}

impl Clone for GcAny {
    fn clone(&self) -> Self {
        inc_strong(self.ptr);
        GcAny {
            ptr: self.ptr,
            _not_send: PhantomData,
        }
    }
}

impl Drop for GcAny {
    fn drop(&mut self) {
        dec_strong(self.ptr);
    }
}

// SAFETY: a `GcAny` owns one strong reference and reports exactly that one.
unsafe impl Trace for GcAny {
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit(self.ptr) }
    }
}

impl Finalize for GcAny {
    const HAS_FINALIZER: bool = false;
}

impl fmt::Debug for GcAny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} object at {:#x}>", self.type_name(), self.id())
    }
}

impl PartialEq for GcAny {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl Eq for GcAny {}

impl std::hash::Hash for GcAny {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ptr.hash(state)
    }
}

/// A weak reference to a `T` (Python's `weakref.ref`): does not keep the object alive.
/// Clones share one weak reference, whose callback runs at most once.
pub struct Weak<T: 'static> {
    /// A strong handle to the weak cell.
    cell: GcAny,
    _marker: PhantomData<T>,
}

impl<T: 'static> Weak<T> {
    fn make(target: &Gc<T>, callback: Option<Box<dyn Callback>>) -> Weak<T> {
        // A weak reference to an object whose value is gone is born dead: nothing would
        // clear it when the memory goes.
        let alive = !Gc::is_dead(target);
        let cell = Gc::new(WeakCell {
            target: Cell::new(alive.then_some(target.ptr)),
            callback: RefCell::new(callback),
        });
        if alive {
            weak::register(heap(), target.ptr, Gc::header_ptr(&cell));
        }
        Weak {
            cell: GcAny::from(cell),
            _marker: PhantomData,
        }
    }

    /// A weak reference whose callback runs once when the target dies, if this weak
    /// reference (one of its clones) is still alive and not itself garbage.
    ///
    /// The closure is opaque to the collector: a `Gc` it captures counts as referenced
    /// from outside the heap, so a cycle through the callback (a `Gc` of the target
    /// captured by its own weak reference's callback) is never collected. Capture a
    /// `Weak`, or use [`Weak::with_traced_callback`], whose state the collector sees.
    pub fn with_callback(target: &Gc<T>, callback: impl FnOnce() + 'static) -> Weak<T> {
        Weak::make(target, Some(Box::new(PlainCallback(callback))))
    }

    /// Like [`Weak::with_callback`], but the callback's state is traced like any object's
    /// fields (as CPython traverses a weakref's callback): handles in `state` take part in
    /// cycle detection, and `callback(state)` runs once when the target dies.
    pub fn with_traced_callback<S: Trace + 'static>(
        target: &Gc<T>,
        state: S,
        callback: impl FnOnce(S) + 'static,
    ) -> Weak<T> {
        Weak::make(
            target,
            Some(Box::new(TracedCallback { state, f: callback })),
        )
    }

    fn cell(&self) -> Option<&WeakCell> {
        if self.cell.is_dead() {
            // Only a `Weak` smuggled out of collected garbage sees its cell dead.
            return None;
        }
        // SAFETY: the handle keeps the cell live, and it is not DEAD.
        Some(unsafe { weak::cell_value(self.cell.header()) })
    }

    /// The target, if it is still alive.
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let target = self.cell()?.target.get()?;
        // SAFETY: a target still recorded in a cell is live (cells are cleared before
        // their target's value dies or its memory goes).
        if !may_hand_out(unsafe { target.as_ref() }) {
            return None;
        }
        inc_strong(target);
        Some(Gc {
            ptr: target,
            _marker: PhantomData,
        })
    }

    /// Whether the target is gone.
    pub fn is_dead(&self) -> bool {
        self.upgrade().is_none()
    }

    /// Strong handles to the target (0 once it is gone).
    pub fn strong_count(&self) -> usize {
        self.upgrade().map_or(0, |g| Gc::strong_count(&g) - 1)
    }

    /// Whether two weak handles are clones of one weak reference.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        GcAny::ptr_eq(&a.cell, &b.cell)
    }
}

impl<T: 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        Weak {
            cell: self.cell.clone(),
            _marker: PhantomData,
        }
    }
}

// SAFETY: a `Weak` owns one strong reference to its weak cell and reports exactly that one.
unsafe impl<T: 'static> Trace for Weak<T> {
    fn trace(&self, tracer: &mut Tracer) {
        self.cell.trace(tracer)
    }
}

impl<T: 'static> Finalize for Weak<T> {
    const HAS_FINALIZER: bool = false;
}

impl<T: 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upgrade() {
            Some(t) => write!(f, "<weak reference to {:#x}>", Gc::id(&t)),
            None => f.write_str("<weak reference; dead>"),
        }
    }
}
