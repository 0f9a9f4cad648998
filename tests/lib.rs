//! Integration tests of the workspace live in `tests/tests/`, one file per topic. This
//! library holds the helpers several of them share.

use gc_api::{Finalize, Gc, Trace};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`; the message of the panic it raised, if any.
pub fn panic_of<R>(f: impl FnOnce() -> R) -> Option<String> {
    catch_unwind(AssertUnwindSafe(f))
        .err()
        .map(|payload| panic_message(payload.as_ref()))
}

/// Blocks in use in the calling thread's object allocator.
pub fn blocks_in_use() -> usize {
    gc_api::malloc_stats().blocks_in_use()
}

/// A clean, quiet heap: nothing pending, no automatic collection. Returns the blocks in
/// use, the baseline a test should come back to.
pub fn fresh_heap() -> usize {
    gc_api::disable();
    gc_api::collect();
    blocks_in_use()
}

/// Counts events (drops, finalizer calls) per object id.
#[derive(Default, Debug)]
pub struct Tally(RefCell<HashMap<usize, usize>>);

impl Tally {
    /// Counts one event for `id`.
    pub fn hit(&self, id: usize) {
        *self.0.borrow_mut().entry(id).or_default() += 1;
    }
    /// Events counted for `id`.
    pub fn get(&self, id: usize) -> usize {
        self.0.borrow().get(&id).copied().unwrap_or(0)
    }
    /// Events counted in all.
    pub fn total(&self) -> usize {
        self.0.borrow().values().sum()
    }
    /// The most events counted for one id.
    pub fn max(&self) -> usize {
        self.0.borrow().values().copied().max().unwrap_or(0)
    }
}

/// Counts how many values were dropped.
pub type Drops = Rc<Cell<usize>>;

/// A tracked node with one edge that counts its drops in a shared [`Drops`].
#[derive(Trace, Finalize)]
pub struct Node {
    /// The edge.
    pub next: RefCell<Option<Gc<Node>>>,
    #[gc(skip)]
    /// Where its drop is counted.
    pub drops: Drops,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edge: the graph may be cyclic.
        f.write_str("Node")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// A new [`Node`] with no edge, counting into `drops`.
pub fn node(drops: &Drops) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        drops: drops.clone(),
    })
}
