//! `sys.intern` and CPython's small-int cache, for any value type.

use crate::{Finalize, Gc, Trace, Weak};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

/// Gives equal values the same object while one is alive: `intern(5)` twice returns two
/// handles for which `Gc::ptr_eq` is true. Entries are held weakly, so an interned object
/// is freed as soon as its last handle goes.
pub struct Interner<T: Trace + Finalize + Eq + Hash + Clone + 'static> {
    entries: RefCell<HashMap<T, Weak<T>>>,
}

impl<T: Trace + Finalize + Eq + Hash + Clone + 'static> Interner<T> {
    /// An empty interner.
    pub fn new() -> Self {
        Interner {
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// The object equal to `value`, made if none is alive.
    pub fn intern(&self, value: T) -> Gc<T> {
        let existing = self.entries.borrow().get(&value).and_then(Weak::upgrade);
        if let Some(g) = existing {
            return g;
        }
        // No borrow is held here: `Gc::new` may run a collection, whose finalizers may
        // intern too.
        let g = Gc::new(value.clone());
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= 64 && entries.len().is_power_of_two() {
            entries.retain(|_, w| !w.is_dead());
        }
        entries.insert(value, Gc::downgrade(&g));
        g
    }

    /// The live object equal to `value`, if any.
    pub fn get(&self, value: &T) -> Option<Gc<T>> {
        self.entries.borrow().get(value).and_then(Weak::upgrade)
    }

    /// Interned objects still alive.
    pub fn len(&self) -> usize {
        self.entries
            .borrow()
            .values()
            .filter(|w| !w.is_dead())
            .count()
    }

    /// Whether no interned object is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Trace + Finalize + Eq + Hash + Clone + 'static> Default for Interner<T> {
    fn default() -> Self {
        Interner::new()
    }
}

impl<T: Trace + Finalize + Eq + Hash + Clone + 'static> fmt::Debug for Interner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interner")
            .field("live", &self.len())
            .finish()
    }
}
