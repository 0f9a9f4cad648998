//! The handles users hold: `Gc<T>`, `GcAny` and `Weak<T>`, built on gc-core's raw object
//! operations.
//!
//! Invariants:
//! - every handle owns one unit of its object's strong count, so the object's memory is
//!   valid while any handle exists (it is released only when the count reaches zero);
//! - a handle never exposes a dropped value: dead objects give `None` from `try_deref` and
//!   a panic from `Deref`;
//! - handles are neither `Send` nor `Sync` (the heap is per thread).

use crate::{Finalize, GcError, Trace, Tracer};
use gc_core::Obj;
use gc_core::raw::{self, WeakCallback};
use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

/// Makes a type `!Send + !Sync`.
type NotThreadSafe = PhantomData<*const ()>;

/// A strong, refcounted handle to a `T` in the current thread's heap.
///
/// Cloning adds a reference; dropping the last one frees the object at once (after its
/// finalizer). Cycles of `Gc`s are found by the cycle collector. `Deref` gives the value;
/// it panics if the collector already dropped the value (only possible for a handle that
/// a `Drop` impl smuggled out of garbage, or after an `unsafe impl Trace` broke its
/// contract by reporting too many edges) — use [`Gc::try_deref`] to check.
///
/// ```
/// use gc_api::Gc;
///
/// let a = Gc::new(String::from("shared"));
/// let b = a.clone();
/// assert!(Gc::ptr_eq(&a, &b));
/// assert_eq!(Gc::strong_count(&a), 2);
/// assert_eq!(*b, "shared");
/// ```
pub struct Gc<T: 'static> {
    obj: Obj,
    _marker: PhantomData<T>,
    _not_send: NotThreadSafe,
}

impl<T: 'static> Gc<T> {
    /// A handle owning the reference `obj` carries.
    ///
    /// # Safety
    /// `obj` is an object of this thread's heap holding a `T`, and the caller gives this
    /// handle one strong reference it owned.
    #[inline]
    unsafe fn from_owned(obj: Obj) -> Gc<T> {
        Gc {
            obj,
            _marker: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl<T: Trace + Finalize + 'static> Gc<T> {
    /// Moves `value` into a new object. Objects whose type may hold a `Gc` are tracked
    /// by the collector; allocating one may run an automatic collection first.
    ///
    /// # Panics
    /// Aborts through `handle_alloc_error` when out of memory.
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        match Gc::try_new(value) {
            Ok(g) => g,
            Err(_) => std::alloc::handle_alloc_error(raw::object_layout::<T>()),
        }
    }

    /// Like [`Gc::new`], with an error instead of an abort when out of memory.
    ///
    /// ```
    /// let g = gc_api::Gc::try_new(7u8).expect("memory");
    /// assert_eq!(*g, 7);
    /// ```
    #[inline]
    pub fn try_new(value: T) -> Result<Gc<T>, GcError> {
        let obj = raw::new_object(value)?;
        // SAFETY: a new object of `T`, whose one reference is handed over.
        Ok(unsafe { Gc::from_owned(obj) })
    }
}

impl<T: 'static> Gc<T> {
    /// The value, or `None` if the collector dropped it.
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        // SAFETY: the handle keeps the object live for the borrow, and it holds a `T`.
        unsafe { raw::value(this.obj) }
    }

    /// Whether the collector dropped the value (the handle outlived its garbage cycle).
    pub fn is_dead(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_dead(this.obj) }
    }

    /// A stable address, unique among live objects (Python's `id()`).
    #[inline]
    pub fn id(this: &Self) -> usize {
        this.obj.addr()
    }

    /// Strong handles to the object (Python's `sys.getrefcount`, without the argument's).
    pub fn strong_count(this: &Self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::strong_count(this.obj) }
    }

    /// Whether two handles are the same object (Python's `is`).
    #[inline]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.obj == b.obj
    }

    /// Whether the collector tracks the object (false for types that hold no `Gc`).
    pub fn is_tracked(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_tracked(this.obj) }
    }

    /// Whether the object's finalizer has run.
    pub fn is_finalized(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_finalized(this.obj) }
    }

    /// A weak reference (no callback).
    ///
    /// ```
    /// let g = gc_api::Gc::new(1u32);
    /// let w = gc_api::Gc::downgrade(&g);
    /// assert_eq!(w.upgrade().as_deref(), Some(&1));
    /// drop(g);
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn downgrade(this: &Self) -> Weak<T> {
        Weak::make(this, None)
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
        // SAFETY: the handle keeps the object live.
        unsafe { raw::inc_strong(self.obj) };
        // SAFETY: the reference just taken, for an object holding a `T`.
        unsafe { Gc::from_owned(self.obj) }
    }
}

impl<T: 'static> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference and gives it up.
        unsafe { raw::dec_strong(self.obj) };
    }
}

// SAFETY: a `Gc` owns one strong reference and reports exactly that one.
unsafe impl<T: 'static> Trace for Gc<T> {
    const MAY_CONTAIN_GC: bool = true;

    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit(self.obj) }
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

/// A strong handle to an object of any type (the result of introspection).
///
/// ```
/// use gc_api::{Gc, GcAny};
///
/// let any: GcAny = Gc::new(42i64).into();
/// assert!(any.is::<i64>());
/// let back: Gc<i64> = any.downcast().expect("an i64");
/// assert_eq!(*back, 42);
/// ```
pub struct GcAny {
    obj: Obj,
    _not_send: NotThreadSafe,
}

impl GcAny {
    /// A handle owning the reference `obj` carries.
    ///
    /// # Safety
    /// `obj` is an object of this thread's heap, and the caller gives this handle one
    /// strong reference it owned.
    pub(crate) unsafe fn from_owned(obj: Obj) -> GcAny {
        GcAny {
            obj,
            _not_send: PhantomData,
        }
    }

    /// Handles for references gc-core handed out (each owned by the caller).
    pub(crate) fn from_owned_all(objs: Vec<Obj>) -> Vec<GcAny> {
        objs.into_iter()
            // SAFETY: gc-core's control functions return one owned reference per object.
            .map(|obj| unsafe { GcAny::from_owned(obj) })
            .collect()
    }

    /// The object (the handle keeps it live).
    pub(crate) fn obj(&self) -> Obj {
        self.obj
    }

    /// The object's id (same as `Gc::id`).
    pub fn id(&self) -> usize {
        self.obj.addr()
    }

    /// The Rust type name of the value.
    pub fn type_name(&self) -> &'static str {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::type_name(self.obj) }
    }

    /// Whether the collector tracks the object.
    pub fn is_tracked(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_tracked(self.obj) }
    }

    /// Whether the collector dropped the value.
    pub fn is_dead(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_dead(self.obj) }
    }

    /// Strong handles to the object.
    pub fn strong_count(&self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::strong_count(self.obj) }
    }

    /// Whether the value is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::type_id(self.obj) == TypeId::of::<T>() }
    }

    /// The typed handle, or `self` back if the value is not a `T`.
    pub fn downcast<T: 'static>(self) -> Result<Gc<T>, GcAny> {
        if self.is::<T>() {
            let obj = self.obj;
            std::mem::forget(self);
            // SAFETY: the value is a `T`; the reference moves from `self`.
            Ok(unsafe { Gc::from_owned(obj) })
        } else {
            Err(self)
        }
    }

    /// Whether two handles are the same object.
    pub fn ptr_eq(a: &GcAny, b: &GcAny) -> bool {
        a.obj == b.obj
    }
}

impl<T: 'static> From<Gc<T>> for GcAny {
    fn from(g: Gc<T>) -> GcAny {
        let obj = g.obj;
        std::mem::forget(g);
        // SAFETY: the reference moves from `g`.
        unsafe { GcAny::from_owned(obj) }
    }
}

impl Clone for GcAny {
    fn clone(&self) -> Self {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::inc_strong(self.obj) };
        // SAFETY: the reference just taken.
        unsafe { GcAny::from_owned(self.obj) }
    }
}

impl Drop for GcAny {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference and gives it up.
        unsafe { raw::dec_strong(self.obj) };
    }
}

// SAFETY: a `GcAny` owns one strong reference and reports exactly that one.
unsafe impl Trace for GcAny {
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit(self.obj) }
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
        self.obj == other.obj
    }
}

impl Eq for GcAny {}

impl std::hash::Hash for GcAny {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.obj.hash(state)
    }
}

/// A closure callback: opaque to the collector.
struct PlainCallback<F>(F);

impl<F: FnOnce()> WeakCallback for PlainCallback<F> {
    fn trace(&self, _tracer: &mut Tracer) {}
    fn call(self: Box<Self>) {
        (self.0)()
    }
}

/// Traced state plus a function of it: the collector sees the state's handles.
struct TracedCallback<S, F> {
    state: S,
    f: F,
}

impl<S: Trace, F: FnOnce(S)> WeakCallback for TracedCallback<S, F> {
    fn trace(&self, tracer: &mut Tracer) {
        self.state.trace(tracer)
    }
    fn call(self: Box<Self>) {
        let TracedCallback { state, f } = *self;
        f(state)
    }
}

/// A weak reference to a `T` (Python's `weakref.ref`): does not keep the object alive.
/// Clones share one weak reference, whose callback runs at most once.
///
/// ```
/// use gc_api::{Gc, Weak};
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let fired = Rc::new(Cell::new(false));
/// let target = Gc::new(5u32);
/// let flag = fired.clone();
/// let w = Weak::with_callback(&target, move || flag.set(true));
/// assert_eq!(w.strong_count(), 1);
/// drop(target);
/// assert!(w.upgrade().is_none());
/// assert!(fired.get(), "the callback ran when the target died");
/// ```
pub struct Weak<T: 'static> {
    /// A strong handle to the weak cell.
    cell: GcAny,
    _marker: PhantomData<T>,
}

impl<T: 'static> Weak<T> {
    fn make(target: &Gc<T>, callback: Option<Box<dyn WeakCallback>>) -> Weak<T> {
        // SAFETY: `target` holds its object live.
        let cell = unsafe { raw::new_weak_cell(target.obj, callback) };
        Weak {
            // SAFETY: a new cell, whose one reference is handed over.
            cell: unsafe { GcAny::from_owned(cell) },
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
    ///
    /// ```
    /// use gc_api::{Gc, Weak};
    ///
    /// let target = Gc::new(1u8);
    /// let log = Gc::new(std::cell::RefCell::new(Vec::new()));
    /// let w = Weak::with_traced_callback(&target, log.clone(), |log| log.borrow_mut().push("died"));
    /// drop(target);
    /// assert_eq!(*log.borrow(), ["died"]);
    /// # drop(w);
    /// ```
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

    /// The target, if it is still alive.
    pub fn upgrade(&self) -> Option<Gc<T>> {
        // SAFETY: the handle keeps the cell live; it was made by `new_weak_cell`.
        let target = unsafe { raw::weak_target(self.cell.obj()) }?;
        // SAFETY: a target still recorded in a cell is live (cells are cleared before their
        // target's value dies or its memory goes).
        if unsafe { raw::try_inc_strong(target) } {
            // SAFETY: the reference just taken, for the cell's target, a `T`.
            Some(unsafe { Gc::from_owned(target) })
        } else {
            None
        }
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
