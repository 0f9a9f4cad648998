//! The process-wide state of the sync heap: the old generations, every thread's young list,
//! the locks of a collection and of the claim, the weak-callback registry, and the values of
//! the `gc`-module surface (thresholds, counts, stats, callbacks).
//!
//! Invariant owned here: the registry lives in a `static`, never in a thread-local, so a
//! handle dropped during any thread's teardown still finds it (dumpster #71); a thread's
//! young list outlives the thread (abandoned, then adopted by the next new thread).

use super::home::ListHome;
use super::panics::guarded;
use super::prim::{AtomicBool, AtomicU64, AtomicUsize, Mutex, RwLock};
use crate::types::{CallbackInfo, DEFAULT_THRESHOLDS, GenerationStats, NUM_GENERATIONS, Phase};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

/// A collection callback (`gc.callbacks`).
pub(crate) type GcCallback = Arc<dyn Fn(Phase, &CallbackInfo) + Send + Sync>;

/// A weak reference's callback, shared by the clones of one `Weak`: the registry holds it
/// weakly, so a callback whose weak reference is gone is never called.
pub struct WeakCallbackSlot(pub(crate) Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::fmt::Debug for WeakCallbackSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakCallbackSlot").finish_non_exhaustive()
    }
}

/// The sync heap.
pub(crate) struct SyncHeap {
    /// Generations 1 and 2.
    pub(crate) old: [&'static ListHome; 2],
    /// Every thread's young list, including abandoned ones.
    pub(crate) homes: Mutex<Vec<&'static ListHome>>,
    /// Young lists of exited threads, for the next new thread.
    pub(crate) free_homes: Mutex<Vec<&'static ListHome>>,
    /// Read by each thread's own young collection (several at once, on disjoint lists),
    /// written by any other collection (alone).
    pub(crate) collect_lock: RwLock<()>,
    /// Ids of collections (the high half of `SyncHeader::slot`).
    pub(crate) next_collection: AtomicU64,
    /// Taken for write by a collection's claim, for read by `Weak::upgrade`: an upgrade
    /// sees all of a garbage set claimed or none of it.
    pub(crate) weak_lock: RwLock<()>,
    /// Weak callbacks by target address.
    pub(crate) weak_callbacks: Mutex<HashMap<usize, Vec<std::sync::Weak<WeakCallbackSlot>>>>,
    pub(crate) thresholds: [AtomicUsize; NUM_GENERATIONS],
    pub(crate) enabled: AtomicBool,
    /// CPython's `count` of generations 1 and 2: collections of the generation below since
    /// the last collection of this one.
    pub(crate) counts: [AtomicUsize; 2],
    pub(crate) stats: Mutex<[GenerationStats; NUM_GENERATIONS]>,
    pub(crate) callbacks: Mutex<Vec<(u64, GcCallback)>>,
    pub(crate) next_callback: AtomicU64,
    /// Objects in generation 2 after the last full collection, and promoted into it since
    /// (CPython's rule that a full collection waits for 25% growth).
    pub(crate) long_lived_total: AtomicUsize,
    pub(crate) long_lived_pending: AtomicUsize,
}

impl std::fmt::Debug for SyncHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHeap").finish_non_exhaustive()
    }
}

impl SyncHeap {
    fn new() -> SyncHeap {
        SyncHeap {
            old: [ListHome::leak(), ListHome::leak()],
            homes: Mutex::new(Vec::new()),
            free_homes: Mutex::new(Vec::new()),
            collect_lock: RwLock::new(()),
            next_collection: AtomicU64::new(1),
            weak_lock: RwLock::new(()),
            weak_callbacks: Mutex::new(HashMap::new()),
            thresholds: DEFAULT_THRESHOLDS.map(AtomicUsize::new),
            enabled: AtomicBool::new(true),
            counts: [AtomicUsize::new(0), AtomicUsize::new(0)],
            stats: Mutex::new([GenerationStats::default(); NUM_GENERATIONS]),
            callbacks: Mutex::new(Vec::new()),
            next_callback: AtomicU64::new(1),
            long_lived_total: AtomicUsize::new(0),
            long_lived_pending: AtomicUsize::new(0),
        }
    }

    /// The young lists of every thread, present and exited.
    pub(crate) fn young_homes(&self) -> Vec<&'static ListHome> {
        self.homes.lock().clone()
    }
}

#[cfg(not(loom))]
static HEAP: std::sync::OnceLock<SyncHeap> = std::sync::OnceLock::new();

/// The sync heap.
#[cfg(not(loom))]
#[inline]
pub(crate) fn heap() -> &'static SyncHeap {
    HEAP.get_or_init(SyncHeap::new)
}

#[cfg(loom)]
loom::lazy_static! {
    static ref HEAP: SyncHeap = SyncHeap::new();
}

/// The sync heap (one per loom execution).
#[cfg(loom)]
pub(crate) fn heap() -> &'static SyncHeap {
    &HEAP
}

/// The calling thread's young list, made or adopted on first use.
struct ThreadHome(Cell<Option<&'static ListHome>>);

impl Drop for ThreadHome {
    fn drop(&mut self) {
        // Under loom, a model thread's locals die with its execution, heap included.
        #[cfg(not(loom))]
        if let Some(home) = self.0.take() {
            heap().free_homes.lock().push(home);
        }
    }
}

super::prim::sync_thread_local! {
    static THREAD_HOME: ThreadHome = ThreadHome(Cell::new(None));
}

/// The calling thread's young list. During thread teardown, after the thread's own list
/// was given up, generation 1 serves instead.
#[inline]
pub(crate) fn thread_home() -> &'static ListHome {
    THREAD_HOME
        .try_with(|slot| match slot.0.get() {
            Some(home) => home,
            None => {
                let home = adopt_or_make_home();
                slot.0.set(Some(home));
                home
            }
        })
        .unwrap_or_else(|_| heap().old[0])
}

#[cold]
fn adopt_or_make_home() -> &'static ListHome {
    let heap = heap();
    if let Some(home) = heap.free_homes.lock().pop() {
        return home;
    }
    let home = ListHome::leak();
    heap.homes.lock().push(home);
    home
}

super::prim::sync_thread_local! {
    static IN_COLLECTION: Cell<bool> = Cell::new(false);
}

/// Whether the calling thread is running a collection (its user code included).
pub(crate) fn in_collection() -> bool {
    IN_COLLECTION.try_with(Cell::get).unwrap_or(true)
}

/// Marks the calling thread as running a collection, or no longer.
pub(crate) fn set_in_collection(running: bool) {
    let _ = IN_COLLECTION.try_with(|c| c.set(running));
}

/// Calls every collection callback (panics are kept and raised when the collection ends).
pub(crate) fn invoke_callbacks(phase: Phase, generation: usize, collected: usize) {
    let callbacks: Vec<_> = heap()
        .callbacks
        .lock()
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    let info = CallbackInfo {
        generation,
        collected,
        uncollectable: 0,
    };
    for f in callbacks {
        guarded(|| f(phase, &info));
    }
}
