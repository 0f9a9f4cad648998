//! `sys.intern` and CPython's small-int cache, for any value type.

use crate::{Finalize, Gc, Trace, Weak};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// Gives equal values the same object while one is alive: `intern(5)` twice returns two
/// handles for which `Gc::ptr_eq` is true. Entries are held weakly, so an interned object
/// is freed as soon as its last handle goes (or collected, if it ends up in a garbage
/// cycle).
///
/// The table keeps no copy of the values: entries are found by hash and compared with the
/// live objects, so `T` need not be `Clone` and a symbol table holds each name once. No
/// borrow of the table is held while user code runs (`Hash`, `Eq`, or a finalizer of an
/// automatic collection that `intern`'s allocation starts), so such code may intern
/// through the same interner.
///
/// ```
/// use gc_api::{Gc, Interner};
///
/// let symbols: Interner<String> = Interner::new();
/// let a = symbols.intern("lambda".to_string());
/// let b = symbols.intern("lambda".to_string());
/// assert!(Gc::ptr_eq(&a, &b));
/// assert_eq!(symbols.len(), 1);
/// drop((a, b));
/// assert!(symbols.is_empty()); // held weakly
/// ```
pub struct Interner<T: Trace + Finalize + Eq + Hash + 'static> {
    /// Weak entries by the hash of their value.
    buckets: RefCell<HashMap<u64, Vec<Weak<T>>, BuildHasherDefault<HashIsKey>>>,
    hasher: RandomState,
    /// Entries stored (dead ones included until pruned).
    entries: Cell<usize>,
    /// Dead entries are pruned when `entries` reaches this.
    prune_at: Cell<usize>,
}

/// The bucket keys are hashes already.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const FIRST_PRUNE: usize = 64;

impl<T: Trace + Finalize + Eq + Hash + 'static> Interner<T> {
    /// An empty interner.
    ///
    /// ```
    /// let numbers = gc_api::Interner::<u64>::new();
    /// assert!(numbers.is_empty());
    /// ```
    pub fn new() -> Self {
        Interner {
            buckets: RefCell::default(),
            hasher: RandomState::new(),
            entries: Cell::new(0),
            prune_at: Cell::new(FIRST_PRUNE),
        }
    }

    /// The object equal to `value`, made if none is alive.
    ///
    /// ```
    /// use gc_api::{Gc, Interner};
    ///
    /// let small_ints: Interner<i64> = Interner::new();
    /// let a = small_ints.intern(256);
    /// let b = small_ints.intern(256);
    /// let c = small_ints.intern(257);
    /// assert!(Gc::ptr_eq(&a, &b) && !Gc::ptr_eq(&a, &c));
    /// drop((a, b));
    /// assert!(small_ints.get(&256).is_none(), "held weakly: gone with its last handle");
    /// assert_eq!(*small_ints.intern(256), 256); // made anew
    /// ```
    pub fn intern(&self, value: T) -> Gc<T> {
        let hash = self.hasher.hash_one(&value);
        if let Some(existing) = self.find(hash, &value) {
            return existing;
        }
        // Both allocations may run an automatic collection, whose finalizers may intern
        // too: no borrow is held here, and the table is searched again afterwards.
        let made = Gc::new(value);
        let weak = Gc::downgrade(&made);
        if let Some(existing) = self.find(hash, &made) {
            // An equal value was interned meanwhile: that one wins, `made` is dropped.
            return existing;
        }
        self.buckets
            .borrow_mut()
            .entry(hash)
            .or_default()
            .push(weak);
        self.entries.set(self.entries.get() + 1);
        if self.entries.get() >= self.prune_at.get() {
            self.prune();
        }
        made
    }

    /// The live object equal to `value`, if any (never makes one).
    ///
    /// ```
    /// let names = gc_api::Interner::<String>::new();
    /// assert!(names.get(&"x".to_string()).is_none());
    /// let x = names.intern("x".to_string());
    /// assert!(gc_api::Gc::ptr_eq(&names.get(&"x".to_string()).unwrap(), &x));
    /// ```
    pub fn get(&self, value: &T) -> Option<Gc<T>> {
        self.find(self.hasher.hash_one(value), value)
    }

    /// Interned objects still alive.
    ///
    /// ```
    /// let names = gc_api::Interner::<&'static str>::new();
    /// let a = names.intern("a");
    /// let b = names.intern("b");
    /// let a2 = names.intern("a");
    /// assert_eq!(names.len(), 2);
    /// drop(b);
    /// assert_eq!(names.len(), 1);
    /// # drop((a, a2));
    /// ```
    pub fn len(&self) -> usize {
        self.buckets
            .borrow()
            .values()
            .flatten()
            .filter(|w| !w.is_dead())
            .count()
    }

    /// Whether no interned object is alive.
    ///
    /// ```
    /// let names = gc_api::Interner::<&'static str>::new();
    /// let a = names.intern("a");
    /// assert!(!names.is_empty());
    /// drop(a);
    /// assert!(names.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live entry of bucket `hash` equal to `value`. Each candidate is upgraded under
    /// the borrow (no user code runs there) and compared after it is released.
    fn find(&self, hash: u64, value: &T) -> Option<Gc<T>> {
        let mut index = 0;
        loop {
            let candidate = {
                let buckets = self.buckets.borrow();
                let bucket = buckets.get(&hash)?;
                let weak = bucket.get(index)?;
                weak.upgrade()
            };
            index += 1;
            if let Some(candidate) = candidate
                && *candidate == *value
            {
                return Some(candidate);
            }
        }
    }

    /// Drops the entries whose objects are gone, and sets the next pruning point to twice
    /// what is left, so pruning costs amortised O(1) per `intern`.
    fn prune(&self) {
        let mut dead = Vec::new();
        {
            let mut buckets = self.buckets.borrow_mut();
            buckets.retain(|_, bucket| {
                let (live, gone): (Vec<_>, Vec<_>) = std::mem::take(bucket)
                    .into_iter()
                    .partition(|w| !w.is_dead());
                *bucket = live;
                dead.extend(gone);
                !bucket.is_empty()
            });
            let left = buckets.values().map(Vec::len).sum::<usize>();
            self.entries.set(left);
            self.prune_at.set((2 * left).max(FIRST_PRUNE));
        }
        // Dropping a `Weak` frees its cell: done with the table released.
        drop(dead);
    }
}

impl<T: Trace + Finalize + Eq + Hash + 'static> Default for Interner<T> {
    fn default() -> Self {
        Interner::new()
    }
}

impl<T: Trace + Finalize + Eq + Hash + 'static> fmt::Debug for Interner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interner")
            .field("live", &self.len())
            .finish()
    }
}
