//! The thread-safe flavour: `Gc<T>` handles that cross threads (`Send + Sync`), one heap
//! shared by the whole process, and a cycle collector that never stops a mutator.
//!
//! - Reference counts are atomic (one `lock xadd` per clone or drop, as `Arc`), so
//!   refcounting frees an object the moment its last handle drops, on whichever thread.
//! - Cycles go through the cells the collector can see into: [`GcMutex`], [`GcRwLock`] and
//!   [`AtomicGc`]. A `Gc` inside `std::sync::Mutex` does not compile in a traced value.
//! - A collection runs on the thread that asks for it ([`collect`]) or whose allocations
//!   crossed the threshold, while every other thread goes on: it reads the graph, then
//!   checks that nothing it is about to free changed meanwhile (each count and each cell
//!   carries a modification counter), and frees only sets that were closed at one instant.
//!   A cycle that was garbage when the collection started is always freed by it.
//! - Finalizers ([`Finalize`]), weak callbacks and `Drop` run on the collecting thread,
//!   which is why `T` must be `Send + Sync`.
//!
//! The control surface has the unsync names, but its state is process-wide.
//!
//! ```
//! use gc_api::sync::{self, Gc, GcMutex};
//! use gc_api::{Finalize, Trace};
//!
//! #[derive(Trace, Finalize)]
//! struct Node {
//!     id: u32,
//!     next: GcMutex<Option<Gc<Node>>>,
//! }
//!
//! let a = Gc::new(Node { id: 1, next: GcMutex::new(None) });
//! let b = Gc::new(Node { id: 2, next: GcMutex::new(Some(a.clone())) });
//! *a.next.lock() = Some(b.clone()); // a -> b -> a
//! let watch = Gc::downgrade(&a);
//! std::thread::scope(|s| {
//!     s.spawn(|| assert_eq!(b.next.lock().as_ref().unwrap().id, 1));
//! });
//! drop((a, b));
//! sync::collect();
//! assert!(watch.upgrade().is_none());
//! ```

use gc_core::sync::raw;
use gc_core::sync::{AtomicSlot, SyncHeader, WeakCallbackSlot};
use gc_core::{Finalize, Trace, Tracer};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

pub use gc_core::sync::control::{
    add_callback, collect_generation, disable, enable, get_count, get_stats, get_threshold,
    is_enabled, remove_callback, set_threshold,
};
pub use gc_core::sync::{GcMutex, GcMutexGuard, GcRwLock, GcRwLockReadGuard, GcRwLockWriteGuard};

/// A full collection of the sync heap (every thread's objects). Returns the number of
/// objects freed. Waits for a collection running on another thread to end first; from
/// inside a collection (a finalizer, callback or `Drop` it runs) it returns 0.
///
/// ```
/// use gc_api::sync::{self, Gc, GcMutex};
/// use gc_api::{Finalize, Trace};
///
/// #[derive(Trace, Finalize)]
/// struct Link(GcMutex<Option<Gc<Link>>>);
///
/// let a = Gc::new(Link(GcMutex::new(None)));
/// *a.0.lock() = Some(a.clone()); // a self-cycle
/// let w = Gc::downgrade(&a);
/// drop(a);
/// assert!(sync::collect() >= 1);
/// assert!(w.upgrade().is_none());
/// ```
pub fn collect() -> usize {
    gc_core::sync::control::collect_all()
}

/// A shared, reference-counted handle to a value on the sync heap: `Send + Sync` when `T`
/// is, cloned and dropped with one atomic operation, freed when the last handle drops or,
/// in a cycle, by the collector.
///
/// ```
/// use gc_api::sync::Gc;
///
/// let shared = Gc::new(vec![1, 2, 3]);
/// let handles: Vec<_> = (0..2)
///     .map(|_| {
///         let mine = shared.clone();
///         std::thread::spawn(move || mine.iter().sum::<i32>())
///     })
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), 6);
/// }
/// assert_eq!(Gc::strong_count(&shared), 1);
/// ```
pub struct Gc<T: 'static> {
    ptr: NonNull<SyncHeader>,
    _owns: PhantomData<T>,
}

// SAFETY: as `Arc<T>`: the value is shared between threads (`Sync`) and dropped on any of
// them (`Send`); the count is atomic.
unsafe impl<T: Send + Sync + 'static> Send for Gc<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync + 'static> Sync for Gc<T> {}

impl<T: Trace + Finalize + Send + Sync + 'static> Gc<T> {
    /// Moves `value` onto the sync heap.
    ///
    /// ```
    /// let g = gc_api::sync::Gc::new(String::from("hi"));
    /// assert_eq!(*g, "hi");
    /// ```
    pub fn new(value: T) -> Gc<T> {
        Gc {
            ptr: raw::alloc(value),
            _owns: PhantomData,
        }
    }
}

impl<T: 'static> Gc<T> {
    /// # Safety
    /// The caller hands over one strong reference to an object holding a `T`.
    unsafe fn from_owned(ptr: NonNull<SyncHeader>) -> Gc<T> {
        Gc {
            ptr,
            _owns: PhantomData,
        }
    }

    fn into_ptr(this: Self) -> NonNull<SyncHeader> {
        let ptr = this.ptr;
        std::mem::forget(this);
        ptr
    }

    /// The value, or `None` if the collector dropped it (a handle that a `Drop` impl
    /// smuggled out of a garbage cycle).
    ///
    /// ```
    /// let g = gc_api::sync::Gc::new(5u8);
    /// assert_eq!(gc_api::sync::Gc::try_deref(&g), Some(&5));
    /// ```
    pub fn try_deref(this: &Self) -> Option<&T> {
        if Gc::is_dead(this) {
            None
        } else {
            // SAFETY: the handle keeps the object live; its value is in place (not DEAD).
            Some(unsafe { raw::value_ptr::<T>(this.ptr).as_ref() })
        }
    }

    /// Whether the collector dropped the value (see [`Gc::try_deref`]).
    ///
    /// ```
    /// let g = gc_api::sync::Gc::new(5u8);
    /// assert!(!gc_api::sync::Gc::is_dead(&g));
    /// ```
    pub fn is_dead(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_dead(this.ptr) }
    }

    /// The object's identity, unique among live objects (its address).
    ///
    /// ```
    /// use gc_api::sync::Gc;
    /// let g = Gc::new(1u8);
    /// assert_eq!(Gc::id(&g), Gc::id(&g.clone()));
    /// ```
    pub fn id(this: &Self) -> usize {
        this.ptr.as_ptr() as usize
    }

    /// Whether two handles point at the same object.
    ///
    /// ```
    /// use gc_api::sync::Gc;
    /// let a = Gc::new(1u8);
    /// assert!(Gc::ptr_eq(&a, &a.clone()));
    /// assert!(!Gc::ptr_eq(&a, &Gc::new(1u8)));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// Strong handles to the object now (other threads may change it at any moment).
    ///
    /// ```
    /// use gc_api::sync::Gc;
    /// let a = Gc::new(1u8);
    /// let b = a.clone();
    /// assert_eq!(Gc::strong_count(&b), 2);
    /// ```
    pub fn strong_count(this: &Self) -> usize {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::strong_count(this.ptr) }
    }

    /// A weak reference: does not keep the value alive.
    ///
    /// ```
    /// use gc_api::sync::Gc;
    /// let a = Gc::new(1u8);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), 1);
    /// drop(a);
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn downgrade(this: &Self) -> Weak<T> {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::inc_weak(this.ptr) };
        Weak {
            ptr: Some(this.ptr),
            // SAFETY: the handle keeps the object live.
            epoch: unsafe { raw::weak_epoch(this.ptr) },
            callback: None,
            _marker: PhantomData,
        }
    }

    /// Whether the object is on the collector's lists (its type may hold a `Gc`).
    ///
    /// ```
    /// use gc_api::sync::{Gc, GcMutex};
    /// assert!(!Gc::is_tracked(&Gc::new(1u8)));
    /// assert!(Gc::is_tracked(&Gc::new(GcMutex::new(None::<Gc<u8>>))));
    /// ```
    pub fn is_tracked(this: &Self) -> bool {
        // SAFETY: the handle keeps the object live.
        unsafe { raw::is_tracked(this.ptr) }
    }
}

impl<T: 'static> Deref for Gc<T> {
    type Target = T;

    /// The value; panics if the collector dropped it (see [`Gc::try_deref`]).
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the handle keeps the object live.
        if unsafe { raw::is_dead(self.ptr) } {
            dead_handle(self.ptr);
        }
        // SAFETY: live, value in place (not DEAD).
        unsafe { raw::value_ptr::<T>(self.ptr).as_ref() }
    }
}

#[cold]
#[inline(never)]
fn dead_handle(ptr: NonNull<SyncHeader>) -> ! {
    // SAFETY: the handle keeps the object's block live.
    let name = unsafe { raw::type_name(ptr) };
    panic!(
        "dereferenced a dead sync::Gc<{name}>: the collector freed its value as part of a \
         garbage cycle (a Drop impl kept a handle); use Gc::try_deref to check"
    )
}

impl<T: 'static> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Gc<T> {
        // SAFETY: the handle holds a strong reference.
        unsafe { raw::inc_strong(self.ptr) };
        Gc {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: 'static> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the handle's own strong reference, given up.
        unsafe { raw::dec_strong(self.ptr) }
    }
}

// SAFETY: reports the one edge the handle owns.
unsafe impl<T: 'static> Trace for Gc<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the handle keeps its object live.
        unsafe { tracer.visit_sync(self.ptr.as_ptr().cast_const().cast()) }
    }
}

impl<T: 'static> Finalize for Gc<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_deref(self) {
            Some(value) => fmt::Debug::fmt(value, f),
            None => f.write_str("<dead sync::Gc>"),
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

impl<T: std::hash::Hash + 'static> std::hash::Hash for Gc<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: Trace + Finalize + Default + Send + Sync + 'static> Default for Gc<T> {
    fn default() -> Gc<T> {
        Gc::new(T::default())
    }
}

impl<T: Trace + Finalize + Send + Sync + 'static> From<T> for Gc<T> {
    fn from(value: T) -> Gc<T> {
        Gc::new(value)
    }
}

/// A weak reference to a sync object: [`Weak::upgrade`] gives a `Gc` while the object
/// lives. A collection that finds the object in garbage stops upgrades before it runs any
/// callback or finalizer (all members of the cycle at once).
///
/// ```
/// use gc_api::sync::{Gc, Weak};
/// let g = Gc::new(7u32);
/// let w: Weak<u32> = Gc::downgrade(&g);
/// std::thread::spawn(move || assert_eq!(*w.upgrade().unwrap(), 7)).join().unwrap();
/// ```
pub struct Weak<T: 'static> {
    ptr: Option<NonNull<SyncHeader>>,
    /// The target's weak epoch when this weak reference was made (`raw::upgrade`).
    epoch: u32,
    callback: Option<Arc<WeakCallbackSlot>>,
    _marker: PhantomData<T>,
}

// SAFETY: as `std::sync::Weak`.
unsafe impl<T: Send + Sync + 'static> Send for Weak<T> {}
// SAFETY: as `std::sync::Weak`.
unsafe impl<T: Send + Sync + 'static> Sync for Weak<T> {}

impl<T: 'static> Weak<T> {
    /// A weak reference to nothing: never upgrades.
    ///
    /// ```
    /// assert!(gc_api::sync::Weak::<u8>::new().upgrade().is_none());
    /// ```
    pub fn new() -> Weak<T> {
        Weak {
            ptr: None,
            epoch: 0,
            callback: None,
            _marker: PhantomData,
        }
    }

    /// A weak reference whose `callback` runs once when the target dies (on the thread
    /// that frees it), if this weak reference or a clone of it is still alive then and not
    /// garbage itself (a collection does not call back a weak reference whose every clone
    /// it found inside the garbage, as CPython).
    ///
    /// ```
    /// use gc_api::sync::{Gc, Weak};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let counter = calls.clone();
    /// let target = Gc::new(3u8);
    /// let w = Weak::with_callback(&target, move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// });
    /// drop(target);
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn with_callback(target: &Gc<T>, callback: impl FnOnce() + Send + 'static) -> Weak<T> {
        let slot = raw::callback_slot(Box::new(callback));
        // SAFETY: `target` holds a strong reference.
        unsafe { raw::register_callback(target.ptr, &slot) };
        let mut weak = Gc::downgrade(target);
        weak.callback = Some(slot);
        weak
    }

    /// The target as a new strong handle, if it is alive and not claimed as garbage.
    ///
    /// ```
    /// use gc_api::sync::Gc;
    /// let g = Gc::new(1u8);
    /// let w = Gc::downgrade(&g);
    /// assert!(Gc::ptr_eq(&w.upgrade().unwrap(), &g));
    /// ```
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let ptr = self.ptr?;
        // SAFETY: our weak reference keeps the block allocated.
        if unsafe { raw::upgrade(ptr, self.epoch) } {
            // SAFETY: the reference just taken, to an object holding a `T`.
            Some(unsafe { Gc::from_owned(ptr) })
        } else {
            None
        }
    }

    /// Whether the target is gone (or claimed as garbage).
    ///
    /// ```
    /// let g = gc_api::sync::Gc::new(1u8);
    /// let w = gc_api::sync::Gc::downgrade(&g);
    /// assert!(!w.is_dead());
    /// drop(g);
    /// assert!(w.is_dead());
    /// ```
    pub fn is_dead(&self) -> bool {
        match self.ptr {
            // SAFETY: our weak reference keeps the block allocated.
            Some(ptr) => unsafe { raw::weak_is_dead(ptr, self.epoch) },
            None => true,
        }
    }

    /// Whether both point at the same object (or both at none).
    ///
    /// ```
    /// use gc_api::sync::{Gc, Weak};
    /// let g = Gc::new(1u8);
    /// assert!(Weak::ptr_eq(&Gc::downgrade(&g), &Gc::downgrade(&g)));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }
}

impl<T: 'static> Default for Weak<T> {
    fn default() -> Weak<T> {
        Weak::new()
    }
}

impl<T: 'static> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        if let Some(ptr) = self.ptr {
            // SAFETY: our weak reference keeps the block allocated.
            unsafe { raw::inc_weak(ptr) };
        }
        Weak {
            ptr: self.ptr,
            epoch: self.epoch,
            callback: self.callback.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T: 'static> Drop for Weak<T> {
    fn drop(&mut self) {
        if let Some(ptr) = self.ptr {
            // SAFETY: our own weak reference, given up.
            unsafe { raw::dec_weak(ptr) };
        }
    }
}

// SAFETY: a weak reference is not an edge: it reports no edge (only its callback, if any,
// so that a collection knows when the weak reference is garbage itself).
unsafe impl<T: 'static> Trace for Weak<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(slot) = &self.callback {
            tracer.visit_weak_callback(Arc::as_ptr(slot).cast());
        }
    }

    fn may_contain_gc() -> bool {
        false
    }
}

impl<T: 'static> Finalize for Weak<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T: 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sync::Weak)")
    }
}

/// An atomic, optional `Gc`: `load` gives a new handle without locking, `store`/`swap`
/// replace it. The collector sees what it holds. Readers pin an epoch
/// (crossbeam-epoch), so a handle swapped out and dropped meanwhile is never read freed.
///
/// ```
/// use gc_api::sync::{AtomicGc, Gc};
/// let slot = AtomicGc::new(Some(Gc::new(1u32)));
/// assert_eq!(*slot.load().unwrap(), 1);
/// let old = slot.swap(Some(Gc::new(2)));
/// assert_eq!(*old.unwrap(), 1);
/// assert_eq!(*slot.take().unwrap(), 2);
/// assert!(slot.load().is_none());
/// ```
pub struct AtomicGc<T: 'static> {
    slot: AtomicSlot,
    _owns: PhantomData<Gc<T>>,
}

fn raw_of<T: 'static>(value: Option<Gc<T>>) -> *mut SyncHeader {
    value.map_or(std::ptr::null_mut(), |g| Gc::into_ptr(g).as_ptr())
}

/// # Safety
/// `ptr` is null or carries one strong reference to an object holding a `T`.
unsafe fn gc_of<T: 'static>(ptr: *mut SyncHeader) -> Option<Gc<T>> {
    // SAFETY: forwarded (caller).
    NonNull::new(ptr).map(|p| unsafe { Gc::from_owned(p) })
}

impl<T: 'static> AtomicGc<T> {
    /// A slot holding `value`.
    ///
    /// ```
    /// let slot = gc_api::sync::AtomicGc::<u8>::new(None);
    /// assert!(slot.load().is_none());
    /// ```
    pub fn new(value: Option<Gc<T>>) -> AtomicGc<T> {
        AtomicGc {
            // SAFETY: the handle's reference moves into the slot.
            slot: unsafe { AtomicSlot::new(raw_of(value)) },
            _owns: PhantomData,
        }
    }

    /// A new handle to what the slot holds now.
    ///
    /// ```
    /// use gc_api::sync::{AtomicGc, Gc};
    /// let slot = AtomicGc::new(Some(Gc::new(4u8)));
    /// assert_eq!(*slot.load().unwrap(), 4);
    /// ```
    pub fn load(&self) -> Option<Gc<T>> {
        // SAFETY: `load` took a strong reference to the slot's object, a `T`.
        self.slot.load().map(|p| unsafe { Gc::from_owned(p) })
    }

    /// Replaces what the slot holds (the old handle is dropped).
    ///
    /// ```
    /// use gc_api::sync::{AtomicGc, Gc};
    /// let slot = AtomicGc::new(None);
    /// slot.store(Some(Gc::new(5u8)));
    /// assert_eq!(*slot.load().unwrap(), 5);
    /// ```
    pub fn store(&self, value: Option<Gc<T>>) {
        drop(self.swap(value));
    }

    /// Replaces what the slot holds and returns the old handle.
    ///
    /// ```
    /// use gc_api::sync::{AtomicGc, Gc};
    /// let slot = AtomicGc::new(Some(Gc::new(1u8)));
    /// assert_eq!(*slot.swap(None).unwrap(), 1);
    /// ```
    pub fn swap(&self, value: Option<Gc<T>>) -> Option<Gc<T>> {
        // SAFETY: the new handle's reference moves in; the old one's moves out to us.
        unsafe { gc_of(self.slot.swap(raw_of(value))) }
    }

    /// Empties the slot and returns what it held.
    ///
    /// ```
    /// use gc_api::sync::{AtomicGc, Gc};
    /// let slot = AtomicGc::new(Some(Gc::new(1u8)));
    /// assert!(slot.take().is_some());
    /// assert!(slot.take().is_none());
    /// ```
    pub fn take(&self) -> Option<Gc<T>> {
        self.swap(None)
    }
}

impl<T: 'static> Drop for AtomicGc<T> {
    fn drop(&mut self) {
        // SAFETY: the slot's own reference moves out to be dropped.
        drop(unsafe { gc_of::<T>(self.slot.get_mut()) });
    }
}

impl<T: 'static> Default for AtomicGc<T> {
    fn default() -> AtomicGc<T> {
        AtomicGc::new(None)
    }
}

// SAFETY: the slot reports the one edge it owns (hidden edges while a writer runs).
unsafe impl<T: 'static> Trace for AtomicGc<T> {
    fn trace(&self, tracer: &mut Tracer) {
        self.slot.trace(tracer);
    }
}

impl<T: 'static> Finalize for AtomicGc<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T: 'static> fmt::Debug for AtomicGc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AtomicGc")
    }
}
