//! The handles users hold: `Gc<T>`, `GcAny` and `Weak<T>`, built on gc-core's raw object
//! operations.
//!
//! Invariants:
//! - every handle owns one unit of its object's strong count, so the object's memory is
//!   valid while any handle exists (it is released only when the count reaches zero);
//! - a handle never exposes a dropped value: dead objects give `None` from `try_deref` and
//!   a panic from `Deref`;
//! - a `&mut T` from [`Gc::get_mut`] exists only while its object is off the collector's
//!   lists (gc-core lends it out), so no collection reads the value under it;
//! - handles are neither `Send` nor `Sync` (the heap is per thread).

use crate::{Finalize, GcError, Trace, Tracer};
use gc_core::Obj;
use gc_core::raw::{self, GcBox, WeakCallback};
use std::any::TypeId;
use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

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
/// `T` may be unsized: `Gc<dyn Trait>` (made with [`coerce_gc!`](crate::coerce_gc) from a
/// `Gc` of a concrete type whose trait has `Trace` as a supertrait), `Gc<[T]>` and
/// `Gc<str>` (made with `From`).
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
pub struct Gc<T: ?Sized + 'static> {
    ptr: NonNull<GcBox<T>>,
    _marker: PhantomData<T>,
    _not_send: NotThreadSafe,
}

impl<T: ?Sized + 'static> Gc<T> {
    /// A handle owning the reference `ptr` carries.
    ///
    /// # Safety
    /// `ptr` points at an object of this thread's heap holding a `T`, and the caller gives
    /// this handle one strong reference it owned.
    #[inline]
    unsafe fn from_owned(ptr: NonNull<GcBox<T>>) -> Gc<T> {
        Gc {
            ptr,
            _marker: PhantomData,
            _not_send: PhantomData,
        }
    }

    #[inline(always)]
    fn obj(&self) -> Obj {
        GcBox::obj(self.ptr)
    }

    /// The handle's pointer, its reference handed over (`coerce_gc!` and `into_raw`).
    #[inline]
    fn into_box_ptr(this: Self) -> NonNull<GcBox<T>> {
        let ptr = this.ptr;
        std::mem::forget(this);
        ptr
    }

    #[doc(hidden)]
    /// Used by [`coerce_gc!`](crate::coerce_gc): the pointer, its reference handed over.
    pub fn __into_box_ptr(this: Self) -> NonNull<GcBox<T>> {
        Gc::into_box_ptr(this)
    }

    #[doc(hidden)]
    /// Used by [`coerce_gc!`](crate::coerce_gc).
    ///
    /// # Safety
    /// `ptr` comes from [`Gc::__into_box_ptr`], changed only by an unsizing coercion.
    pub unsafe fn __from_box_ptr(ptr: NonNull<GcBox<T>>) -> Gc<T> {
        // SAFETY: a handle's pointer and reference (caller); an unsizing coercion keeps the
        // object and gives metadata that matches its value.
        unsafe { Gc::from_owned(ptr) }
    }
}

/// Turns a `Gc<T>` into a `Gc<U>` where `T` unsizes to `U`: `Gc<dyn Trait>` from a
/// `Gc<Concrete>` (stable Rust lets no user type coerce implicitly). The target type comes
/// from inference.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace, coerce_gc};
///
/// trait Shape: Trace {
///     fn area(&self) -> f64;
/// }
///
/// #[derive(Trace, Finalize)]
/// struct Circle { r: f64 }
/// impl Shape for Circle {
///     fn area(&self) -> f64 { 3.0 * self.r * self.r }
/// }
///
/// let s: Gc<dyn Shape> = coerce_gc!(Gc::new(Circle { r: 1.0 }));
/// assert_eq!(s.area(), 3.0);
/// ```
#[macro_export]
macro_rules! coerce_gc {
    ($gc:expr) => {{
        let ptr = $crate::Gc::__into_box_ptr($gc);
        // SAFETY: `ptr` comes from a `Gc`, and passing it on performs only the unsizing
        // coercion the target type asks for.
        unsafe { $crate::Gc::__from_box_ptr(ptr) }
    }};
}

impl<T: Trace + Finalize + 'static> Gc<T> {
    /// Moves `value` into a new object. Objects whose type may hold a `Gc` are tracked
    /// by the collector; allocating one may run an automatic collection first.
    ///
    /// # Panics
    /// Aborts through `handle_alloc_error` when out of memory.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let numbers = Gc::new(vec![1, 2, 3]);
    /// assert_eq!(numbers.len(), 3); // `Deref` gives the value
    /// assert!(!Gc::is_tracked(&numbers), "a Vec<i32> can hold no Gc: refcounting only");
    /// let nested = Gc::new(vec![numbers.clone()]);
    /// assert!(Gc::is_tracked(&nested), "a Vec<Gc<_>> can be part of a cycle");
    /// ```
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
        let ptr = raw::new_object(value)?;
        // SAFETY: a new object of `T`, whose one reference is handed over.
        Ok(unsafe { Gc::from_owned(ptr) })
    }

    /// Builds a value that refers to its own object: `data_fn` gets a [`Weak`] to the
    /// object being built (it does not upgrade until `new_cyclic` returns) and returns the
    /// value. A self-cycle made this way is collected like any other.
    ///
    /// If `data_fn` panics, the object is never made and the weak reference stays dead.
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, Trace, Weak};
    ///
    /// #[derive(Trace, Finalize)]
    /// struct Node { me: Weak<Node>, name: String }
    ///
    /// let n = Gc::new_cyclic(|me| {
    ///     assert!(me.upgrade().is_none(), "not built yet");
    ///     Node { me: me.clone(), name: "self".into() }
    /// });
    /// assert!(Gc::ptr_eq(&n.me.upgrade().unwrap(), &n));
    /// ```
    pub fn new_cyclic(data_fn: impl FnOnce(&Weak<T>) -> T) -> Gc<T> {
        let ptr = match raw::begin_object::<T>() {
            Ok(ptr) => ptr,
            Err(_) => std::alloc::handle_alloc_error(raw::object_layout::<T>()),
        };
        /// Abandons the half-built object if `data_fn` unwinds.
        struct Building<T: 'static>(Option<NonNull<GcBox<T>>>);
        impl<T> Drop for Building<T> {
            fn drop(&mut self) {
                if let Some(ptr) = self.0.take() {
                    // SAFETY: from `begin_object`, neither finished nor abandoned.
                    unsafe { raw::abandon_object(ptr) };
                }
            }
        }
        let mut building = Building(Some(ptr));
        // SAFETY: the object is live (the construction holds its reference).
        let cell = unsafe { raw::new_weak_cell(GcBox::obj(ptr), None) };
        let weak = Weak {
            // SAFETY: a new cell, whose one reference is handed over.
            cell: Some(unsafe { GcAny::from_owned(cell) }),
            target: ptr,
        };
        let value = data_fn(&weak);
        building.0 = None;
        // SAFETY: from `begin_object`, neither finished nor abandoned.
        unsafe { raw::finish_object(ptr, value) };
        // SAFETY: the construction's reference is handed over.
        unsafe { Gc::from_owned(ptr) }
    }

    /// The value, if this is the only strong handle; otherwise the handle back. Weak
    /// references to the object die (their callbacks run), as when it is freed. The
    /// finalizer does not run: the value lives on, moved out.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let a = Gc::new(String::from("x"));
    /// let b = a.clone();
    /// let a = Gc::try_unwrap(a).unwrap_err();
    /// drop(b);
    /// assert_eq!(Gc::try_unwrap(a).unwrap(), "x");
    /// ```
    pub fn try_unwrap(this: Self) -> Result<T, Self> {
        // SAFETY: the handle's object holds a `T`; its reference is given up on success.
        match unsafe { raw::take_value(this.ptr) } {
            Some(value) => {
                std::mem::forget(this);
                Ok(value)
            }
            None => Err(this),
        }
    }

    /// The value if this is the only strong handle (see [`Gc::try_unwrap`]); `None`, and
    /// the handle dropped, otherwise.
    ///
    /// ```
    /// assert_eq!(gc_api::Gc::into_inner(gc_api::Gc::new(3)), Some(3));
    /// ```
    pub fn into_inner(this: Self) -> Option<T> {
        Gc::try_unwrap(this).ok()
    }

    /// The object whose finalizer is running, given its value: call it as
    /// `Gc::finalizing(self)` inside [`Finalize::finalize`] to hand the object to user code
    /// (Python's `__del__(self)`). Keeping the handle resurrects the object (see
    /// [`Finalize`]). `None` when `value` is not the value of the object being finalized.
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, Trace};
    /// use std::cell::RefCell;
    ///
    /// thread_local! { static DYING: RefCell<Vec<Gc<Record>>> = const { RefCell::new(Vec::new()) }; }
    ///
    /// #[derive(Trace)]
    /// struct Record { id: u32 }
    /// impl Finalize for Record {
    ///     fn finalize(&self) {
    ///         let me = Gc::finalizing(self).expect("my own object");
    ///         DYING.with(|d| d.borrow_mut().push(me)); // resurrects it
    ///     }
    /// }
    ///
    /// drop(Gc::new(Record { id: 7 }));
    /// let kept = DYING.with(|d| d.borrow_mut().pop()).unwrap();
    /// assert_eq!(kept.id, 7);
    /// assert!(Gc::is_finalized(&kept));
    /// ```
    pub fn finalizing(value: &T) -> Option<Gc<T>> {
        let ptr = raw::finalizing_object(value)?;
        // SAFETY: an object holding a `T`, with a reference taken for this handle.
        Some(unsafe { Gc::from_owned(ptr) })
    }
}

impl<T: Trace + Finalize + Clone + 'static> Gc<T> {
    /// A `&mut` to the value, cloning it into a new object first if other handles or weak
    /// references share this one (clone-on-write, as `Rc::make_mut`).
    ///
    /// ```
    /// let mut a = gc_api::Gc::new(vec![1]);
    /// let b = a.clone();
    /// gc_api::Gc::make_mut(&mut a).push(2);
    /// assert_eq!((a.as_slice(), b.as_slice()), (&[1, 2][..], &[1][..]));
    /// ```
    pub fn make_mut(this: &mut Self) -> &mut T {
        // SAFETY: the handle keeps the object live; it is its only handle when this
        // succeeds, and `this` stays borrowed for the loan.
        if !unsafe { raw::lend_exclusive(this.obj()) } {
            *this = Gc::new((**this).clone());
            // SAFETY: a new object whose only handle is `this`.
            let lent = unsafe { raw::lend_exclusive(this.obj()) };
            assert!(lent, "gc: make_mut could not lend out a fresh object");
        }
        // SAFETY: lent out: the only handle is `this`, borrowed mutably for the result,
        // and no collection reads the value during the loan.
        unsafe { &mut *GcBox::value_ptr(this.ptr).cast_mut() }
    }
}

impl<T: ?Sized + 'static> Gc<T> {
    /// The value, or `None` if the collector dropped it.
    ///
    /// A handle sees a dropped value only when a `Drop` impl moved a handle out of garbage
    /// that the collector was freeing (or an `unsafe impl Trace` broke its contract);
    /// `Deref` panics there, `try_deref` answers `None`.
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, Trace};
    /// use std::cell::RefCell;
    ///
    /// thread_local! { static ESCAPED: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) }; }
    ///
    /// #[derive(Trace, Finalize)]
    /// struct Node { next: RefCell<Option<Gc<Node>>> }
    /// impl Drop for Node {
    ///     fn drop(&mut self) {
    ///         // Smuggles a handle out of the garbage being freed (don't do this).
    ///         ESCAPED.with(|e| e.borrow_mut().extend(self.next.take()));
    ///     }
    /// }
    ///
    /// let n = Gc::new(Node { next: RefCell::new(None) });
    /// assert!(Gc::try_deref(&n).is_some());
    /// *n.next.borrow_mut() = Some(n.clone());
    /// drop(n);
    /// gc_api::collect(); // drops the value in place; its `Drop` keeps a handle
    /// let ghost = ESCAPED.with(|e| e.borrow_mut().pop()).unwrap();
    /// assert!(Gc::try_deref(&ghost).is_none());
    /// ```
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        // SAFETY: the handle keeps the object live for the borrow, and it holds a `T`; a
        // `get_mut` borrow of it has ended (this shared borrow of the handle proves it).
        unsafe { raw::value(this.ptr) }
    }

    /// A `&mut` to the value if this is the only strong handle and no weak reference exists
    /// (and no collection is running); `None` otherwise.
    ///
    /// While the borrow lasts, the object is off the collector's lists; it comes back when
    /// the handle is next used (or a trace reports it), so a cycle it joins meanwhile is
    /// collected one or two collections later than otherwise.
    ///
    /// ```
    /// let mut a = gc_api::Gc::new(5);
    /// *gc_api::Gc::get_mut(&mut a).unwrap() += 1;
    /// assert_eq!(*a, 6);
    /// let b = a.clone();
    /// assert!(gc_api::Gc::get_mut(&mut a).is_none());
    /// # drop(b);
    /// ```
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        // SAFETY: the handle keeps the object live; `this` stays borrowed for the loan.
        if unsafe { raw::lend_exclusive(this.obj()) } {
            // SAFETY: lent out: the only handle is `this`, borrowed mutably for the result,
            // and no collection reads the value during the loan.
            Some(unsafe { &mut *GcBox::value_ptr(this.ptr).cast_mut() })
        } else {
            None
        }
    }

    /// Whether the collector dropped the value (the handle outlived its garbage cycle; see
    /// [`Gc::try_deref`] for how).
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, Trace};
    /// use std::cell::RefCell;
    ///
    /// thread_local! { static ESCAPED: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) }; }
    ///
    /// #[derive(Trace, Finalize)]
    /// struct Node { me: RefCell<Option<Gc<Node>>> }
    /// impl Drop for Node {
    ///     fn drop(&mut self) {
    ///         ESCAPED.with(|e| *e.borrow_mut() = self.me.take()); // don't do this
    ///     }
    /// }
    ///
    /// let n = Gc::new(Node { me: RefCell::new(None) });
    /// *n.me.borrow_mut() = Some(n.clone());
    /// assert!(!Gc::is_dead(&n));
    /// drop(n);
    /// gc_api::collect();
    /// let ghost = ESCAPED.with(|e| e.borrow_mut().take()).unwrap();
    /// assert!(Gc::is_dead(&ghost));
    /// ```
    pub fn is_dead(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_dead(this.obj()) }
    }

    /// A stable address, unique among live objects (Python's `id()`).
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let a = Gc::new(1);
    /// let b = Gc::new(1);
    /// assert_eq!(Gc::id(&a), Gc::id(&a.clone()), "clones are one object");
    /// assert_ne!(Gc::id(&a), Gc::id(&b));
    /// let found = gc_api::object_at(Gc::id(&a)).unwrap(); // and back
    /// assert!(Gc::ptr_eq(&found.downcast::<i32>().unwrap(), &a));
    /// ```
    #[inline]
    pub fn id(this: &Self) -> usize {
        this.obj().addr()
    }

    /// Strong handles to the object (Python's `sys.getrefcount`, without the argument's).
    /// Handles held by other objects count too; weak references do not.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let a = Gc::new("text");
    /// assert_eq!(Gc::strong_count(&a), 1);
    /// let list = Gc::new(vec![a.clone(), a.clone()]);
    /// let weak = Gc::downgrade(&a);
    /// assert_eq!(Gc::strong_count(&a), 3);
    /// drop(list);
    /// assert_eq!(Gc::strong_count(&a), 1);
    /// # drop(weak);
    /// ```
    pub fn strong_count(this: &Self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::strong_count(this.obj()) }
    }

    /// `Weak` handles to the object (over all its weak references).
    ///
    /// ```
    /// let g = gc_api::Gc::new(1);
    /// let w = gc_api::Gc::downgrade(&g);
    /// let w2 = w.clone();
    /// assert_eq!(gc_api::Gc::weak_count(&g), 2);
    /// # drop((w, w2));
    /// ```
    pub fn weak_count(this: &Self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::weak_count(this.obj()) }
    }

    /// Whether two handles are the same object (Python's `is`); `==` compares values.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let a = Gc::new(String::from("x"));
    /// let b = Gc::new(String::from("x"));
    /// assert!(a == b && !Gc::ptr_eq(&a, &b));
    /// assert!(Gc::ptr_eq(&a, &a.clone()));
    /// ```
    #[inline]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.obj() == b.obj()
    }

    /// Whether the collector tracks the object (false for types that hold no `Gc`: see
    /// [`Trace::may_contain_gc`]). Untracked objects are freed by refcounting alone and
    /// cost a collection nothing.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// assert!(!Gc::is_tracked(&Gc::new(String::from("leaf"))));
    /// assert!(!Gc::is_tracked(&Gc::new(vec![0u8; 4])));
    /// assert!(Gc::is_tracked(&Gc::new(vec![Gc::new(0u8)])));
    /// assert!(Gc::is_tracked(&Gc::new(std::cell::RefCell::new(None::<Gc<u8>>))));
    /// ```
    pub fn is_tracked(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_tracked(this.obj()) }
    }

    /// Whether the object's finalizer has run (only a resurrected object, or one a `Drop`
    /// smuggled out of garbage, can be seen with it run).
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, Trace};
    /// use std::cell::RefCell;
    ///
    /// thread_local! { static SAVED: RefCell<Option<Gc<Lazarus>>> = const { RefCell::new(None) }; }
    ///
    /// #[derive(Trace)]
    /// struct Lazarus;
    /// impl Finalize for Lazarus {
    ///     fn finalize(&self) {
    ///         SAVED.with(|s| *s.borrow_mut() = Gc::finalizing(self)); // resurrects it
    ///     }
    /// }
    ///
    /// let l = Gc::new(Lazarus);
    /// assert!(!Gc::is_finalized(&l));
    /// drop(l);
    /// let l = SAVED.with(|s| s.borrow_mut().take()).unwrap();
    /// assert!(Gc::is_finalized(&l));
    /// ```
    pub fn is_finalized(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_finalized(this.obj()) }
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

    /// A pointer to the value (which stays valid while a handle exists; do not read through
    /// it once the object is dead).
    ///
    /// ```
    /// let g = gc_api::Gc::new(9);
    /// assert_eq!(unsafe { *gc_api::Gc::as_ptr(&g) }, 9);
    /// ```
    pub fn as_ptr(this: &Self) -> *const T {
        // SAFETY: the handle keeps the object live, and it holds a `T`.
        unsafe { raw::end_loan(this.obj()) };
        // SAFETY: as above.
        unsafe { raw::mark_escaped(this.obj()) };
        // SAFETY: as above.
        unsafe { GcBox::value_ptr(this.ptr) }
    }

    /// The pointer to the value, the handle's reference handed over to it (give it back
    /// with [`Gc::from_raw`], or the object leaks).
    ///
    /// ```
    /// let raw = gc_api::Gc::into_raw(gc_api::Gc::new(String::from("r")));
    /// // SAFETY: `raw` comes from `into_raw`, once.
    /// let back = unsafe { gc_api::Gc::from_raw(raw) };
    /// assert_eq!(*back, "r");
    /// ```
    pub fn into_raw(this: Self) -> *const T {
        let ptr = Gc::as_ptr(&this);
        std::mem::forget(this);
        ptr
    }

    /// The handle [`Gc::into_raw`] turned into `ptr`.
    ///
    /// # Safety
    /// `ptr` comes from `Gc::<T>::into_raw` on this thread (for an unsized `T`, from the
    /// same `T`), and each such pointer is given back at most once.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let g = Gc::new(vec![1, 2]);
    /// let raw = Gc::into_raw(g.clone()); // e.g. to pass through C as a `void *`
    /// assert_eq!(Gc::strong_count(&g), 2, "the raw pointer holds a reference");
    /// // SAFETY: `raw` comes from `into_raw` on this thread, and is given back once.
    /// let back = unsafe { Gc::from_raw(raw) };
    /// assert!(Gc::ptr_eq(&g, &back));
    /// drop(back);
    /// assert_eq!(Gc::strong_count(&g), 1);
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        // SAFETY: the value pointer of a live object of `T` (caller: its handle's
        // reference keeps it).
        let boxed = unsafe { GcBox::from_value_ptr(ptr) };
        // SAFETY: the reference `into_raw` handed over.
        unsafe { Gc::from_owned(boxed) }
    }
}

impl<T: ?Sized + 'static> Deref for Gc<T> {
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

impl<T: ?Sized + 'static> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::inc_strong(self.obj()) };
        // SAFETY: the reference just taken, for an object holding a `T`.
        unsafe { Gc::from_owned(self.ptr) }
    }
}

impl<T: ?Sized + 'static> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference and gives it up.
        unsafe { raw::dec_strong(self.obj()) };
    }
}

// SAFETY: a `Gc` owns one strong reference and reports exactly that one.
unsafe impl<T: ?Sized + 'static> Trace for Gc<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit(self.obj()) }
    }
}

impl<T: ?Sized + 'static> Finalize for Gc<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T: Trace + Finalize + Default + 'static> Default for Gc<T> {
    /// A new object holding `T::default()`.
    ///
    /// ```
    /// let g: gc_api::Gc<Vec<u8>> = Default::default();
    /// assert!(g.is_empty());
    /// ```
    fn default() -> Self {
        Gc::new(T::default())
    }
}

impl<T: Trace + Finalize + 'static> From<T> for Gc<T> {
    /// Moves the value into a new object (`Gc::new`).
    ///
    /// ```
    /// let g: gc_api::Gc<u8> = 4.into();
    /// assert_eq!(*g, 4);
    /// ```
    fn from(value: T) -> Self {
        Gc::new(value)
    }
}

impl<T: Trace + Finalize + 'static> From<Box<T>> for Gc<T> {
    /// Moves the boxed value into a new object.
    ///
    /// ```
    /// let g: gc_api::Gc<u8> = gc_api::Gc::from(Box::new(5u8));
    /// assert_eq!(*g, 5);
    /// ```
    fn from(value: Box<T>) -> Self {
        Gc::new(*value)
    }
}

impl<T: Trace + 'static> From<Vec<T>> for Gc<[T]> {
    /// Moves the items into a new slice object.
    ///
    /// ```
    /// let g: gc_api::Gc<[u32]> = vec![1, 2, 3].into();
    /// assert_eq!(&*g, &[1, 2, 3]);
    /// ```
    fn from(mut items: Vec<T>) -> Self {
        match raw::new_slice(&mut items) {
            // SAFETY: a new `[T]` object, whose one reference is handed over.
            Ok(ptr) => unsafe { Gc::from_owned(ptr) },
            Err(_) => std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<T>(items.len())
                    .unwrap_or(std::alloc::Layout::new::<T>()),
            ),
        }
    }
}

impl<T: Trace + Clone + 'static> From<&[T]> for Gc<[T]> {
    /// Clones the items into a new slice object.
    ///
    /// ```
    /// let g: gc_api::Gc<[char]> = gc_api::Gc::from(&['a', 'b'][..]);
    /// assert_eq!(g.len(), 2);
    /// ```
    fn from(items: &[T]) -> Self {
        Gc::from(items.to_vec())
    }
}

impl<T: Trace + 'static> FromIterator<T> for Gc<[T]> {
    /// Collects the items into a new slice object.
    ///
    /// ```
    /// let g: gc_api::Gc<[u64]> = (1..=4).collect();
    /// assert_eq!(g.iter().sum::<u64>(), 10);
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Gc::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl From<&str> for Gc<str> {
    /// Copies the string into a new `str` object (untracked).
    ///
    /// ```
    /// let s: gc_api::Gc<str> = "hello".into();
    /// assert_eq!(&*s, "hello");
    /// assert!(!gc_api::Gc::is_tracked(&s));
    /// ```
    fn from(s: &str) -> Self {
        match raw::new_str(s) {
            // SAFETY: a new `str` object, whose one reference is handed over.
            Ok(ptr) => unsafe { Gc::from_owned(ptr) },
            Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::for_value(s)),
        }
    }
}

impl From<String> for Gc<str> {
    /// Copies the string into a new `str` object.
    ///
    /// ```
    /// let s = gc_api::Gc::<str>::from(String::from("owned"));
    /// assert_eq!(s.len(), 5);
    /// ```
    fn from(s: String) -> Self {
        Gc::from(s.as_str())
    }
}

impl<T: ?Sized + 'static> Borrow<T> for Gc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: ?Sized + 'static> AsRef<T> for Gc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized + fmt::Debug + 'static> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_deref(self) {
            Some(v) => fmt::Debug::fmt(v, f),
            None => write!(f, "<dead Gc {:#x}>", Gc::id(self)),
        }
    }
}

impl<T: ?Sized + fmt::Display + 'static> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + PartialEq + 'static> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq + 'static> Eq for Gc<T> {}

impl<T: ?Sized + PartialOrd + 'static> PartialOrd for Gc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Ord + 'static> Ord for Gc<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + std::hash::Hash + 'static> std::hash::Hash for Gc<T> {
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
    ///
    /// ```
    /// use gc_api::{Gc, GcAny};
    ///
    /// let g = Gc::new(1u8);
    /// let any = GcAny::from(g.clone());
    /// assert_eq!(any.id(), Gc::id(&g));
    /// ```
    pub fn id(&self) -> usize {
        self.obj.addr()
    }

    /// The Rust type name of the value (`std::any::type_name`, so for people, not for
    /// matching: use [`GcAny::is`] and [`GcAny::downcast`] for that).
    ///
    /// ```
    /// let any = gc_api::GcAny::from(gc_api::Gc::new(vec![1u16]));
    /// assert_eq!(any.type_name(), std::any::type_name::<Vec<u16>>());
    /// ```
    pub fn type_name(&self) -> &'static str {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::type_name(self.obj) }
    }

    /// Whether the collector tracks the object.
    ///
    /// ```
    /// let tracked = gc_api::Gc::new(vec![gc_api::Gc::new(1u8)]);
    /// let objects = gc_api::get_objects(None).unwrap(); // only tracked objects are listed
    /// assert!(objects.iter().all(gc_api::GcAny::is_tracked));
    /// assert!(!gc_api::GcAny::from(gc_api::Gc::new(1u8)).is_tracked());
    /// # drop(tracked);
    /// ```
    pub fn is_tracked(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_tracked(self.obj) }
    }

    /// Whether the collector dropped the value (see [`Gc::is_dead`] for how a handle can
    /// outlive its value).
    ///
    /// ```
    /// use gc_api::{Finalize, Gc, GcAny, Trace};
    /// use std::cell::RefCell;
    ///
    /// thread_local! { static ESCAPED: RefCell<Option<GcAny>> = const { RefCell::new(None) }; }
    ///
    /// #[derive(Trace, Finalize)]
    /// struct Node { me: RefCell<Option<GcAny>> }
    /// impl Drop for Node {
    ///     fn drop(&mut self) {
    ///         ESCAPED.with(|e| *e.borrow_mut() = self.me.take()); // don't do this
    ///     }
    /// }
    ///
    /// let n = Gc::new(Node { me: RefCell::new(None) });
    /// *n.me.borrow_mut() = Some(n.clone().into());
    /// drop(n);
    /// gc_api::collect();
    /// let ghost = ESCAPED.with(|e| e.borrow_mut().take()).unwrap();
    /// assert!(ghost.is_dead());
    /// ```
    pub fn is_dead(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_dead(self.obj) }
    }

    /// Strong handles to the object (this one included).
    ///
    /// ```
    /// let g = gc_api::Gc::new(1u8);
    /// let any = gc_api::GcAny::from(g.clone());
    /// assert_eq!(any.strong_count(), 2);
    /// ```
    pub fn strong_count(&self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::strong_count(self.obj) }
    }

    /// Whether the value is a `T`.
    ///
    /// ```
    /// let any = gc_api::GcAny::from(gc_api::Gc::new(1u8));
    /// assert!(any.is::<u8>());
    /// assert!(!any.is::<u16>());
    /// ```
    pub fn is<T: 'static>(&self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::type_id(self.obj) == TypeId::of::<T>() }
    }

    /// The typed handle, or `self` back if the value is not a `T`.
    ///
    /// ```
    /// use gc_api::{Gc, GcAny};
    ///
    /// let any: GcAny = Gc::new(String::from("s")).into();
    /// let any = any.downcast::<u8>().unwrap_err(); // not a u8: the handle comes back
    /// let s: Gc<String> = any.downcast().unwrap();
    /// assert_eq!(*s, "s");
    /// ```
    pub fn downcast<T: 'static>(self) -> Result<Gc<T>, GcAny> {
        if self.is::<T>() {
            let obj = self.obj;
            std::mem::forget(self);
            // SAFETY: the value is a (sized) `T`; the reference moves from `self`.
            Ok(unsafe { Gc::from_owned(GcBox::from_obj(obj)) })
        } else {
            Err(self)
        }
    }

    /// Whether two handles are the same object (as `==` on `GcAny`).
    ///
    /// ```
    /// use gc_api::{Gc, GcAny};
    ///
    /// let g = Gc::new(1u8);
    /// let a = GcAny::from(g.clone());
    /// assert!(GcAny::ptr_eq(&a, &GcAny::from(g)));
    /// assert!(!GcAny::ptr_eq(&a, &GcAny::from(Gc::new(1u8))));
    /// ```
    pub fn ptr_eq(a: &GcAny, b: &GcAny) -> bool {
        a.obj == b.obj
    }
}

impl<T: ?Sized + 'static> From<Gc<T>> for GcAny {
    fn from(g: Gc<T>) -> GcAny {
        let obj = g.obj();
        // SAFETY: the handle keeps the object live; using it ends a `get_mut` loan.
        unsafe { raw::end_loan(obj) };
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
    fn has_finalizer() -> bool {
        false
    }
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
pub struct Weak<T: ?Sized + 'static> {
    /// A strong handle to the weak cell (`None` for [`Weak::new`]).
    cell: Option<GcAny>,
    /// The target, as a typed pointer (for an unsized `T`, with its metadata); read only
    /// while the cell says the target is alive.
    target: NonNull<GcBox<T>>,
}

impl<T: 'static> Weak<T> {
    /// A weak reference to nothing: it never upgrades (as `std::rc::Weak::new`).
    ///
    /// ```
    /// let w: gc_api::Weak<u32> = gc_api::Weak::new();
    /// assert!(w.upgrade().is_none());
    /// assert_eq!(w.strong_count(), 0);
    /// ```
    pub fn new() -> Weak<T> {
        Weak {
            cell: None,
            target: NonNull::dangling(),
        }
    }
}

impl<T: 'static> Default for Weak<T> {
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized + 'static> Weak<T> {
    fn make(target: &Gc<T>, callback: Option<Box<dyn WeakCallback>>) -> Weak<T> {
        // SAFETY: `target` holds its object live.
        unsafe { raw::end_loan(target.obj()) };
        // SAFETY: `target` holds its object live.
        let cell = unsafe { raw::new_weak_cell(target.obj(), callback) };
        Weak {
            // SAFETY: a new cell, whose one reference is handed over.
            cell: Some(unsafe { GcAny::from_owned(cell) }),
            target: target.ptr,
        }
    }

    /// A weak reference whose callback runs once when the target dies, if this weak
    /// reference (one of its clones) is still alive and not itself garbage.
    ///
    /// The closure is opaque to the collector: a `Gc` it captures counts as referenced
    /// from outside the heap, so a cycle through the callback (a `Gc` of the target
    /// captured by its own weak reference's callback) is never collected. Capture a
    /// `Weak`, or use [`Weak::with_traced_callback`], whose state the collector sees.
    ///
    /// ```
    /// use gc_api::{Gc, Weak};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let calls = Rc::new(Cell::new(0));
    /// let counter = calls.clone();
    /// let target = Gc::new("cache entry");
    /// let w = Weak::with_callback(&target, move || counter.set(counter.get() + 1));
    /// let w2 = w.clone(); // clones share the one callback
    /// drop(target);
    /// assert_eq!(calls.get(), 1);
    /// assert!(w2.upgrade().is_none());
    ///
    /// // A weak reference dropped before its target never calls back.
    /// let target = Gc::new("other");
    /// let counter = calls.clone();
    /// drop(Weak::with_callback(&target, move || counter.set(counter.get() + 1)));
    /// drop(target);
    /// assert_eq!(calls.get(), 1);
    /// # drop(w);
    /// ```
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

    /// The target, if it is still alive, as a new strong handle.
    ///
    /// ```
    /// use gc_api::Gc;
    ///
    /// let g = Gc::new(3u8);
    /// let w = Gc::downgrade(&g);
    /// let strong = w.upgrade().unwrap();
    /// assert!(Gc::ptr_eq(&strong, &g));
    /// drop((g, strong));
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let cell = self.cell.as_ref()?;
        // SAFETY: the handle keeps the cell live; it was made by `new_weak_cell`.
        let target = unsafe { raw::weak_target(cell.obj()) }?;
        debug_assert!(target == GcBox::obj(self.target));
        // SAFETY: a target still recorded in a cell is live (cells are cleared before their
        // target's value dies or its memory goes).
        if unsafe { raw::try_inc_strong(target) } {
            // SAFETY: the reference just taken, for the cell's target, a `T`.
            Some(unsafe { Gc::from_owned(self.target) })
        } else {
            None
        }
    }

    /// Whether the target is gone.
    ///
    /// ```
    /// let g = gc_api::Gc::new(1u8);
    /// let w = gc_api::Gc::downgrade(&g);
    /// assert!(!w.is_dead());
    /// drop(g);
    /// assert!(w.is_dead());
    /// ```
    pub fn is_dead(&self) -> bool {
        self.upgrade().is_none()
    }

    /// Strong handles to the target (0 once it is gone).
    ///
    /// ```
    /// let g = gc_api::Gc::new(1u8);
    /// let w = gc_api::Gc::downgrade(&g);
    /// let g2 = g.clone();
    /// assert_eq!(w.strong_count(), 2);
    /// drop((g, g2));
    /// assert_eq!(w.strong_count(), 0);
    /// ```
    pub fn strong_count(&self) -> usize {
        self.upgrade().map_or(0, |g| Gc::strong_count(&g) - 1)
    }

    /// Whether two weak handles are clones of one weak reference (or both made by
    /// [`Weak::new`]). Unlike `std::rc::Weak::ptr_eq`, two weak references made by separate
    /// [`Gc::downgrade`] calls differ even when their target is the same (each is its own
    /// Python `weakref.ref`, with its own callback); compare targets through
    /// [`Weak::upgrade`] and [`Gc::ptr_eq`].
    ///
    /// ```
    /// use gc_api::{Gc, Weak};
    ///
    /// let g = Gc::new(1u8);
    /// let w1 = Gc::downgrade(&g);
    /// let w2 = w1.clone();
    /// let w3 = Gc::downgrade(&g);
    /// assert!(Weak::ptr_eq(&w1, &w2));
    /// assert!(!Weak::ptr_eq(&w1, &w3));
    /// assert!(Gc::ptr_eq(&w1.upgrade().unwrap(), &w3.upgrade().unwrap()));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        match (&a.cell, &b.cell) {
            (Some(x), Some(y)) => GcAny::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
    }
}

impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        Weak {
            cell: self.cell.clone(),
            target: self.target,
        }
    }
}

// SAFETY: a `Weak` owns one strong reference to its weak cell (or none) and reports exactly
// that one.
unsafe impl<T: ?Sized + 'static> Trace for Weak<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(cell) = &self.cell {
            cell.trace(tracer)
        }
    }
}

impl<T: ?Sized + 'static> Finalize for Weak<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T: ?Sized + 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upgrade() {
            Some(t) => write!(f, "<weak reference to {:#x}>", Gc::id(&t)),
            None => f.write_str("<weak reference; dead>"),
        }
    }
}
