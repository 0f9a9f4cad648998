//! The contenders of the threads workload, each as a [`Heap`]: a graph node with one edge
//! behind the crate's lock, a slot of the shared graph, a binary-tree node.
//!
//! | contender | handle | edge lock | slot | collection |
//! | --- | --- | --- | --- | --- |
//! | [`OursSync`] | `gc_api::sync::Gc` | `GcMutex` | `AtomicGc` | automatic (our thresholds) |
//! | [`ArcHeap`] | `std::sync::Arc` | `parking_lot::Mutex` | `parking_lot::Mutex` | none: cycles broken by hand |
//! | [`DumpsterSync`] | `dumpster::sync::Gc` | `std::sync::Mutex` | `std::sync::Mutex` | its own switched off (see [`DumpsterSync`]): each thread calls `collect()` after every [`COLLECT_EVERY`] objects it allocates |
//! | [`GcmoduleThreaded`] | `gcmodule::ThreadedCc` | `std::sync::Mutex` | `std::sync::Mutex` | none of its own: each thread collects the space after every [`COLLECT_EVERY`] objects it allocates, unless another thread is collecting (one at a time) |
//! | [`OursUnsync`] | `gc_api::Gc` | `RefCell` | `RefCell` | automatic; one thread only |
//!
//! `dumpster` and `gcmodule` trace through `std::sync::Mutex` (they implement their
//! tracing traits for it, not for `parking_lot`'s).

// Debug output of a cyclic graph would never end.
#![allow(missing_debug_implementations)]

use std::cell::Cell;

pub use arc::ArcHeap;
pub use dumpster_sync::DumpsterSync;
pub use gcmodule_threaded::GcmoduleThreaded;
pub use ours_sync::OursSync;
pub use ours_unsync::OursUnsync;

/// Objects a thread allocates between two collections it starts, for the peers whose
/// collections the workload starts itself (`gcmodule`, `dumpster`).
pub const COLLECT_EVERY: usize = 2000;

thread_local! {
    /// Objects this thread allocated since it last collected.
    static SINCE_COLLECT: Cell<usize> = const { Cell::new(0) };
}

/// Counts `objects` allocations; true when this thread's turn to collect has come.
#[inline]
fn collection_due(objects: usize) -> bool {
    SINCE_COLLECT.with(|c| {
        let n = c.get() + objects;
        c.set(if n >= COLLECT_EVERY { 0 } else { n });
        n >= COLLECT_EVERY
    })
}

mod ours_sync {
    use gc_api::{Finalize, Trace};

    use crate::threads::gsync::{AtomicGc, Gc, GcMutex};
    use crate::threads::{Heap, count_drop};

    /// A graph node on the sync heap.
    #[derive(Trace, Finalize)]
    pub struct Node {
        next: GcMutex<Option<Gc<Node>>>,
        payload: u64,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            count_drop();
            std::hint::black_box(self.payload);
        }
    }

    /// A binary-tree node on the sync heap.
    #[derive(Trace, Finalize)]
    pub struct Tree {
        left: Option<Gc<Tree>>,
        right: Option<Gc<Tree>>,
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            count_drop();
        }
    }

    /// Our `gc_api::sync`.
    pub struct OursSync;

    impl Heap for OursSync {
        type Node = Gc<Node>;
        type Tree = Gc<Tree>;
        type Slot = AtomicGc<Node>;
        type Kept = ();

        #[inline]
        fn node(next: Option<Gc<Node>>, payload: u64) -> Gc<Node> {
            Gc::new(Node {
                next: GcMutex::new(next),
                payload,
            })
        }

        #[inline]
        fn replace_next(node: &Gc<Node>, next: Option<Gc<Node>>) -> Option<Gc<Node>> {
            std::mem::replace(&mut *node.next.lock(), next)
        }

        #[inline]
        fn tree_node(left: Option<Gc<Tree>>, right: Option<Gc<Tree>>) -> Gc<Tree> {
            Gc::new(Tree { left, right })
        }

        fn count(tree: &Gc<Tree>) -> usize {
            1 + tree.left.as_ref().map_or(0, Self::count)
                + tree.right.as_ref().map_or(0, Self::count)
        }

        fn slot(node: Option<Gc<Node>>) -> AtomicGc<Node> {
            AtomicGc::new(node)
        }

        #[inline]
        fn load(slot: &AtomicGc<Node>) -> Option<Gc<Node>> {
            slot.load()
        }

        #[inline]
        fn swap(slot: &AtomicGc<Node>, node: Option<Gc<Node>>) -> Option<Gc<Node>> {
            slot.swap(node)
        }

        fn collect() -> Option<u64> {
            Some(crate::threads::gsync::collect() as u64)
        }

        fn collections() -> Option<[u64; 3]> {
            Some(crate::threads::gsync::get_stats().map(|s| s.collections as u64))
        }
    }
}

mod ours_unsync {
    use std::cell::RefCell;

    use gc_api::{Finalize, Gc, Trace};

    use crate::threads::{Heap, count_drop};

    /// A graph node on our thread-local heap.
    #[derive(Trace, Finalize)]
    pub struct Node {
        next: RefCell<Option<Gc<Node>>>,
        payload: u64,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            count_drop();
            std::hint::black_box(self.payload);
        }
    }

    /// A binary-tree node on our thread-local heap.
    #[derive(Trace, Finalize)]
    pub struct Tree {
        left: Option<Gc<Tree>>,
        right: Option<Gc<Tree>>,
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            count_drop();
        }
    }

    /// Our thread-local `gc_api::Gc`, the single-thread reference.
    pub struct OursUnsync;

    impl Heap for OursUnsync {
        type Node = Gc<Node>;
        type Tree = Gc<Tree>;
        type Slot = RefCell<Option<Gc<Node>>>;
        type Kept = ();

        #[inline]
        fn node(next: Option<Gc<Node>>, payload: u64) -> Gc<Node> {
            Gc::new(Node {
                next: RefCell::new(next),
                payload,
            })
        }

        #[inline]
        fn replace_next(node: &Gc<Node>, next: Option<Gc<Node>>) -> Option<Gc<Node>> {
            node.next.replace(next)
        }

        #[inline]
        fn tree_node(left: Option<Gc<Tree>>, right: Option<Gc<Tree>>) -> Gc<Tree> {
            Gc::new(Tree { left, right })
        }

        fn count(tree: &Gc<Tree>) -> usize {
            1 + tree.left.as_ref().map_or(0, Self::count)
                + tree.right.as_ref().map_or(0, Self::count)
        }

        fn slot(node: Option<Gc<Node>>) -> RefCell<Option<Gc<Node>>> {
            RefCell::new(node)
        }

        #[inline]
        fn load(slot: &RefCell<Option<Gc<Node>>>) -> Option<Gc<Node>> {
            slot.borrow().clone()
        }

        #[inline]
        fn swap(slot: &RefCell<Option<Gc<Node>>>, node: Option<Gc<Node>>) -> Option<Gc<Node>> {
            slot.replace(node)
        }

        fn collect() -> Option<u64> {
            Some(gc_api::collect() as u64)
        }

        fn collections() -> Option<[u64; 3]> {
            Some(gc_api::get_stats().map(|s| s.collections as u64))
        }
    }
}

mod arc {
    use std::sync::{Arc, Weak};

    use parking_lot::Mutex;

    use crate::threads::{Heap, count_drop};

    /// A graph node behind `Arc`.
    pub struct Node {
        next: Mutex<Option<Arc<Node>>>,
        payload: u64,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            count_drop();
            std::hint::black_box(self.payload);
        }
    }

    /// A binary-tree node behind `Arc`.
    pub struct Tree {
        left: Option<Arc<Tree>>,
        right: Option<Arc<Tree>>,
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            count_drop();
        }
    }

    /// `std::sync::Arc` with `parking_lot::Mutex`: no collector, every cycle broken by
    /// hand. A node taken out of its slot has its edge cleared at once; a weak handle to it
    /// is kept so that the end can clear the edge again, in case another thread that had
    /// loaded the node before set it meanwhile (otherwise that could leak a cycle).
    pub struct ArcHeap;

    impl Heap for ArcHeap {
        type Node = Arc<Node>;
        type Tree = Arc<Tree>;
        type Slot = Mutex<Option<Arc<Node>>>;
        type Kept = Weak<Node>;
        const HAS_COLLECTOR: bool = false;

        #[inline]
        fn node(next: Option<Arc<Node>>, payload: u64) -> Arc<Node> {
            Arc::new(Node {
                next: Mutex::new(next),
                payload,
            })
        }

        #[inline]
        fn replace_next(node: &Arc<Node>, next: Option<Arc<Node>>) -> Option<Arc<Node>> {
            std::mem::replace(&mut *node.next.lock(), next)
        }

        #[inline]
        fn tree_node(left: Option<Arc<Tree>>, right: Option<Arc<Tree>>) -> Arc<Tree> {
            Arc::new(Tree { left, right })
        }

        fn count(tree: &Arc<Tree>) -> usize {
            1 + tree.left.as_ref().map_or(0, Self::count)
                + tree.right.as_ref().map_or(0, Self::count)
        }

        fn slot(node: Option<Arc<Node>>) -> Mutex<Option<Arc<Node>>> {
            Mutex::new(node)
        }

        #[inline]
        fn load(slot: &Mutex<Option<Arc<Node>>>) -> Option<Arc<Node>> {
            slot.lock().clone()
        }

        #[inline]
        fn swap(slot: &Mutex<Option<Arc<Node>>>, node: Option<Arc<Node>>) -> Option<Arc<Node>> {
            std::mem::replace(&mut *slot.lock(), node)
        }

        #[inline]
        fn release_cycle(first: Arc<Node>) {
            drop(Self::replace_next(&first, None));
        }

        #[inline]
        fn release(old: Arc<Node>) -> Option<Weak<Node>> {
            let weak = Arc::downgrade(&old);
            drop(Self::replace_next(&old, None));
            Some(weak)
        }

        fn break_kept(kept: Vec<Weak<Node>>) {
            for weak in kept {
                if let Some(node) = weak.upgrade() {
                    drop(Self::replace_next(&node, None));
                }
            }
        }

        fn release_slots(slots: Vec<Mutex<Option<Arc<Node>>>>) {
            for slot in slots {
                if let Some(node) = slot.into_inner() {
                    drop(Self::replace_next(&node, None));
                }
            }
        }

        fn collect() -> Option<u64> {
            None
        }
    }
}

mod dumpster_sync {
    use std::sync::Mutex;

    use ::dumpster::sync::{CollectInfo, Gc, collect, set_collect_condition};

    use crate::threads::{Heap, count_drop};

    /// A graph node on dumpster's sync heap.
    #[derive(::dumpster::Trace)]
    pub struct Node {
        next: Mutex<Option<Gc<Node>>>,
        payload: u64,
    }

    // `dumpster` allows `Drop` on traced types; this one touches no `Gc`.
    impl Drop for Node {
        fn drop(&mut self) {
            count_drop();
            std::hint::black_box(self.payload);
        }
    }

    /// A binary-tree node on dumpster's sync heap.
    #[derive(::dumpster::Trace)]
    pub struct Tree {
        left: Option<Gc<Tree>>,
        right: Option<Gc<Tree>>,
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            count_drop();
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A collection condition that never starts a collection.
    fn never(_: &CollectInfo) -> bool {
        false
    }

    /// `dumpster::sync::Gc`. Its default condition (a drop starts a collection once more
    /// `Gc`s were dropped since the last one than exist) deadlocks here in 2.1.0: the
    /// drops a collection makes as it frees garbage meet the condition again and start a
    /// nested collection on the same thread, which waits forever for the collection lock
    /// the outer one holds (`GarbageTruck::collect_all` inside `drop_weak_zero` inside
    /// `collect_all`). So its automatic collection is off, and each thread calls
    /// `collect()` after every [`super::COLLECT_EVERY`] objects it allocates, as with
    /// `gcmodule`.
    pub struct DumpsterSync;

    impl Heap for DumpsterSync {
        type Node = Gc<Node>;
        type Tree = Gc<Tree>;
        type Slot = Mutex<Option<Gc<Node>>>;
        type Kept = ();

        #[inline]
        fn node(next: Option<Gc<Node>>, payload: u64) -> Gc<Node> {
            Gc::new(Node {
                next: Mutex::new(next),
                payload,
            })
        }

        #[inline]
        fn replace_next(node: &Gc<Node>, next: Option<Gc<Node>>) -> Option<Gc<Node>> {
            std::mem::replace(&mut *lock(&node.next), next)
        }

        #[inline]
        fn tree_node(left: Option<Gc<Tree>>, right: Option<Gc<Tree>>) -> Gc<Tree> {
            Gc::new(Tree { left, right })
        }

        fn count(tree: &Gc<Tree>) -> usize {
            1 + tree.left.as_ref().map_or(0, Self::count)
                + tree.right.as_ref().map_or(0, Self::count)
        }

        fn slot(node: Option<Gc<Node>>) -> Mutex<Option<Gc<Node>>> {
            Mutex::new(node)
        }

        #[inline]
        fn load(slot: &Mutex<Option<Gc<Node>>>) -> Option<Gc<Node>> {
            lock(slot).clone()
        }

        #[inline]
        fn swap(slot: &Mutex<Option<Gc<Node>>>, node: Option<Gc<Node>>) -> Option<Gc<Node>> {
            std::mem::replace(&mut *lock(slot), node)
        }

        fn prepare() {
            set_collect_condition(never);
        }

        #[inline]
        fn pace(objects: usize) {
            if super::collection_due(objects) {
                collect();
            }
        }

        fn collect() -> Option<u64> {
            collect();
            None
        }
    }
}

mod gcmodule_threaded {
    use std::sync::{LazyLock, Mutex};

    use ::gcmodule::{ThreadedCc, ThreadedObjectSpace, Trace, Tracer};

    use crate::threads::{Heap, count_drop};

    /// The one object space every thread allocates in.
    static SPACE: LazyLock<ThreadedObjectSpace> = LazyLock::new(ThreadedObjectSpace::default);

    /// Held by the thread collecting the space. Two collections at once are not safe in
    /// gcmodule 0.3.3: the second one finds the first one's garbage, which the first is
    /// still dropping (after it let go of the space's locks), and one of them fails its
    /// own check (`bug: unexpected ref-count after dropping cycles`). A thread whose turn
    /// comes while another collects skips its collection (that one collects for all).
    static COLLECTING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

    /// A graph node in the threaded object space.
    pub struct Node {
        next: Mutex<Option<ThreadedCc<Node>>>,
        payload: u64,
    }

    // As in the unsync peer: recursive types implement `Trace` by hand.
    impl Trace for Node {
        fn trace(&self, tracer: &mut Tracer) {
            self.next.trace(tracer);
        }

        fn is_type_tracked() -> bool {
            true
        }
    }

    impl Drop for Node {
        fn drop(&mut self) {
            count_drop();
            std::hint::black_box(self.payload);
        }
    }

    /// A binary-tree node in the threaded object space.
    pub struct Tree {
        left: Option<ThreadedCc<Tree>>,
        right: Option<ThreadedCc<Tree>>,
    }

    impl Trace for Tree {
        fn trace(&self, tracer: &mut Tracer) {
            self.left.trace(tracer);
            self.right.trace(tracer);
        }

        fn is_type_tracked() -> bool {
            true
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            count_drop();
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `gcmodule::ThreadedCc` in one `ThreadedObjectSpace`. Every access goes through
    /// `borrow()`, which holds the space's collector lock for reading.
    pub struct GcmoduleThreaded;

    impl Heap for GcmoduleThreaded {
        type Node = ThreadedCc<Node>;
        type Tree = ThreadedCc<Tree>;
        type Slot = Mutex<Option<ThreadedCc<Node>>>;
        type Kept = ();

        #[inline]
        fn node(next: Option<ThreadedCc<Node>>, payload: u64) -> ThreadedCc<Node> {
            SPACE.create(Node {
                next: Mutex::new(next),
                payload,
            })
        }

        #[inline]
        fn replace_next(
            node: &ThreadedCc<Node>,
            next: Option<ThreadedCc<Node>>,
        ) -> Option<ThreadedCc<Node>> {
            let node = node.borrow();
            std::mem::replace(&mut *lock(&node.next), next)
        }

        #[inline]
        fn tree_node(
            left: Option<ThreadedCc<Tree>>,
            right: Option<ThreadedCc<Tree>>,
        ) -> ThreadedCc<Tree> {
            SPACE.create(Tree { left, right })
        }

        fn count(tree: &ThreadedCc<Tree>) -> usize {
            let tree = tree.borrow();
            1 + tree.left.as_ref().map_or(0, Self::count)
                + tree.right.as_ref().map_or(0, Self::count)
        }

        fn slot(node: Option<ThreadedCc<Node>>) -> Mutex<Option<ThreadedCc<Node>>> {
            Mutex::new(node)
        }

        #[inline]
        fn load(slot: &Mutex<Option<ThreadedCc<Node>>>) -> Option<ThreadedCc<Node>> {
            lock(slot).clone()
        }

        #[inline]
        fn swap(
            slot: &Mutex<Option<ThreadedCc<Node>>>,
            node: Option<ThreadedCc<Node>>,
        ) -> Option<ThreadedCc<Node>> {
            std::mem::replace(&mut *lock(slot), node)
        }

        #[inline]
        fn pace(objects: usize) {
            if super::collection_due(objects)
                && let Some(_turn) = COLLECTING.try_lock()
            {
                SPACE.collect_cycles();
            }
        }

        fn collect() -> Option<u64> {
            let _turn = COLLECTING.lock();
            Some(SPACE.collect_cycles() as u64)
        }
    }
}
