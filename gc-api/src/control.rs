//! The control surface of Python's `gc` module, for the calling thread's heap.

use crate::GcAny;
use gc_core::control;
use gc_core::types::NUM_GENERATIONS;
use gc_core::{CallbackId, CallbackInfo, DebugFlags, GcError, GenerationStats, Phase};

/// Runs a full collection; returns the number of unreachable objects found (0 if a
/// collection is already running, e.g. when called from a finalizer or callback).
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::cell::RefCell;
///
/// #[derive(Trace, Finalize)]
/// struct Node { me: RefCell<Option<Gc<Node>>> }
///
/// let n = Gc::new(Node { me: RefCell::new(None) });
/// *n.me.borrow_mut() = Some(n.clone());
/// drop(n);
/// assert_eq!(gc_api::collect(), 1);
/// ```
pub fn collect() -> usize {
    control::collect(NUM_GENERATIONS - 1).expect("the oldest generation is valid")
}

/// Collects generations `0..=generation` (`gc.collect(generation)`).
///
/// ```
/// assert!(gc_api::collect_generation(0).is_ok());
/// assert_eq!(
///     gc_api::collect_generation(3),
///     Err(gc_api::GcError::InvalidGeneration(3))
/// );
/// ```
pub fn collect_generation(generation: usize) -> Result<usize, GcError> {
    control::collect(generation)
}

/// The counts of the three generations (`gc.get_count()`).
///
/// ```
/// gc_api::collect();
/// assert_eq!(gc_api::get_count(), [0, 0, 0]);
/// ```
pub fn get_count() -> [usize; 3] {
    control::get_count()
}

/// The thresholds (`gc.get_threshold()`), `[700, 10, 10]` by default.
///
/// ```
/// assert_eq!(gc_api::get_threshold(), [700, 10, 10]);
/// ```
pub fn get_threshold() -> [usize; 3] {
    control::get_threshold()
}

/// Sets the thresholds; a threshold 0 for generation 0 disables automatic collection.
///
/// ```
/// gc_api::set_threshold([1000, 20, 20]);
/// assert_eq!(gc_api::get_threshold(), [1000, 20, 20]);
/// ```
pub fn set_threshold(thresholds: [usize; 3]) {
    control::set_threshold(thresholds);
}

/// Turns on (with `Some(bytes)`) or off (`None`, the default) a trigger by bytes: an
/// allocation that brings the bytes the heap allocated since the last collection past
/// `bytes` starts a collection, as if generation 0's count had passed its threshold.
///
/// Only tracked allocations advance `get_count()[0]` (CPython's rule, unchanged), so a
/// program that allocates mostly untracked values (`Gc<String>`) can otherwise leave a
/// garbage cycle uncollected for as long as it runs.
///
/// ```
/// use gc_api::{Finalize, Gc, Trace};
/// use std::cell::RefCell;
///
/// #[derive(Trace, Finalize)]
/// struct Node { me: RefCell<Option<Gc<Node>>> }
///
/// let n = Gc::new(Node { me: RefCell::new(None) });
/// *n.me.borrow_mut() = Some(n.clone());
/// let weak = Gc::downgrade(&n);
/// drop(n);
/// gc_api::set_memory_threshold(Some(64 * 1024));
/// for i in 0..10_000 {
///     drop(Gc::new(format!("string {i}"))); // untracked: the count rule never fires
/// }
/// assert!(weak.upgrade().is_none(), "the byte trigger collected the cycle");
/// gc_api::set_memory_threshold(None);
/// ```
pub fn set_memory_threshold(bytes: Option<usize>) {
    control::set_memory_threshold(bytes);
}

/// The byte trigger's threshold (`None`: off, the default).
///
/// ```
/// assert_eq!(gc_api::get_memory_threshold(), None);
/// ```
pub fn get_memory_threshold() -> Option<usize> {
    control::get_memory_threshold()
}

/// Turns automatic collection on.
///
/// ```
/// gc_api::disable();
/// gc_api::enable();
/// assert!(gc_api::is_enabled());
/// ```
pub fn enable() {
    control::set_enabled(true);
}

/// Turns automatic collection off (explicit `collect` still works).
///
/// ```
/// gc_api::disable();
/// assert!(!gc_api::is_enabled());
/// ```
pub fn disable() {
    control::set_enabled(false);
}

/// Whether automatic collection is on.
///
/// ```
/// assert!(gc_api::is_enabled(), "a new thread starts enabled");
/// ```
pub fn is_enabled() -> bool {
    control::is_enabled()
}

/// Statistics per generation (`gc.get_stats()`).
///
/// ```
/// gc_api::collect();
/// assert_eq!(gc_api::get_stats()[2].collections, 1);
/// ```
pub fn get_stats() -> [GenerationStats; 3] {
    control::get_stats()
}

/// Every tracked object of one generation, or of all (`gc.get_objects()`); the permanent
/// generation is left out.
///
/// ```
/// let g = gc_api::Gc::new(vec![gc_api::Gc::new(1u8)]);
/// let young = gc_api::get_objects(Some(0)).unwrap();
/// assert!(young.iter().any(|o| o.id() == gc_api::Gc::id(&g)));
/// assert!(gc_api::get_objects(Some(5)).is_err());
/// ```
pub fn get_objects(generation: Option<usize>) -> Result<Vec<GcAny>, GcError> {
    control::get_objects(generation).map(GcAny::from_owned_all)
}

/// Objects (tracked, in any generation) that refer to any of `objs`.
///
/// ```
/// let leaf = gc_api::Gc::new(1u8);
/// let holder = gc_api::Gc::new(vec![leaf.clone()]);
/// let referrers = gc_api::get_referrers(&[leaf.into()]);
/// assert_eq!(referrers.len(), 1);
/// assert_eq!(referrers[0].id(), gc_api::Gc::id(&holder));
/// ```
pub fn get_referrers(objs: &[GcAny]) -> Vec<GcAny> {
    let targets: Vec<_> = objs.iter().map(GcAny::obj).collect();
    GcAny::from_owned_all(control::get_referrers(&targets))
}

/// The objects `objs` refer to, in trace order (untracked ones included).
///
/// ```
/// let leaf = gc_api::Gc::new(1u8);
/// let holder = gc_api::Gc::new(vec![leaf.clone(), leaf.clone()]);
/// let referents = gc_api::get_referents(&[holder.into()]);
/// assert_eq!(referents.len(), 2);
/// assert!(referents.iter().all(|r| r.id() == gc_api::Gc::id(&leaf)));
/// ```
pub fn get_referents(objs: &[GcAny]) -> Vec<GcAny> {
    objs.iter()
        // SAFETY: each handle keeps its object live.
        .flat_map(|o| GcAny::from_owned_all(unsafe { control::referents(o.obj()) }))
        .collect()
}

/// Moves every tracked object into the permanent generation, which collections skip.
/// (Ignored when called from a `Trace` impl during a collection's walk of the lists.)
///
/// ```
/// let g = gc_api::Gc::new(vec![gc_api::Gc::new(1u8)]);
/// gc_api::freeze();
/// assert!(gc_api::get_freeze_count() >= 1);
/// gc_api::unfreeze();
/// assert_eq!(gc_api::get_freeze_count(), 0);
/// # drop(g);
/// ```
pub fn freeze() {
    control::freeze();
}

/// Moves the permanent generation back into the oldest generation.
///
/// ```
/// gc_api::freeze();
/// gc_api::unfreeze();
/// assert_eq!(gc_api::get_freeze_count(), 0);
/// ```
pub fn unfreeze() {
    control::unfreeze();
}

/// Objects in the permanent generation.
///
/// ```
/// assert_eq!(gc_api::get_freeze_count(), 0);
/// ```
pub fn get_freeze_count() -> usize {
    control::get_freeze_count()
}

/// Registers a collection callback; callbacks run in registration order, at the start
/// and end of every collection (automatic ones too).
///
/// ```
/// use gc_api::Phase;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let stops = Rc::new(Cell::new(0));
/// let seen = stops.clone();
/// let id = gc_api::add_callback(move |phase, _info| {
///     if phase == Phase::Stop {
///         seen.set(seen.get() + 1);
///     }
/// });
/// gc_api::collect();
/// assert_eq!(stops.get(), 1);
/// assert!(gc_api::remove_callback(id));
/// ```
pub fn add_callback(f: impl Fn(Phase, &CallbackInfo) + 'static) -> CallbackId {
    control::add_callback(f)
}

/// Unregisters a callback; false if it was not registered.
///
/// ```
/// let id = gc_api::add_callback(|_, _| {});
/// assert!(gc_api::remove_callback(id));
/// assert!(!gc_api::remove_callback(id));
/// ```
pub fn remove_callback(id: CallbackId) -> bool {
    control::remove_callback(id)
}

/// Sets the debugging flags (output goes to `tracing` events with target `"gc"`).
///
/// ```
/// use gc_api::DebugFlags;
///
/// gc_api::set_debug(DebugFlags::STATS | DebugFlags::COLLECTABLE);
/// assert!(gc_api::get_debug().contains(DebugFlags::STATS));
/// gc_api::set_debug(DebugFlags::empty());
/// ```
pub fn set_debug(flags: DebugFlags) {
    control::set_debug(flags);
}

/// The debugging flags.
///
/// ```
/// assert!(gc_api::get_debug().is_empty());
/// ```
pub fn get_debug() -> DebugFlags {
    control::get_debug()
}

/// Objects saved by `DebugFlags::SAVEALL` (Python's `gc.garbage`).
///
/// ```
/// use gc_api::{DebugFlags, Finalize, Gc, Trace};
/// use std::cell::RefCell;
///
/// #[derive(Trace, Finalize)]
/// struct Node { me: RefCell<Option<Gc<Node>>> }
///
/// gc_api::set_debug(DebugFlags::SAVEALL);
/// let n = Gc::new(Node { me: RefCell::new(None) });
/// *n.me.borrow_mut() = Some(n.clone());
/// drop(n);
/// assert_eq!(gc_api::collect(), 1);
/// assert_eq!(gc_api::garbage().len(), 1);
/// gc_api::set_debug(DebugFlags::empty());
/// ```
pub fn garbage() -> Vec<GcAny> {
    GcAny::from_owned_all(control::garbage())
}

/// Empties `garbage()`; objects only it kept alive are freed.
///
/// ```
/// gc_api::clear_garbage();
/// assert!(gc_api::garbage().is_empty());
/// ```
pub fn clear_garbage() {
    control::clear_garbage();
}

/// Statistics of the calling thread's object allocator (`sys._debugmallocstats()`).
///
/// ```
/// let stats = gc_api::malloc_stats();
/// assert!(stats.to_string().starts_with("Small block threshold = 512, in 32 size classes."));
/// ```
pub fn malloc_stats() -> gc_core::alloc::MallocStats {
    control::malloc_stats()
}

/// Gives the empty arenas of this thread's heap back to the OS now (like `malloc_trim`).
/// Without it, an empty arena that sits unused through a whole purge interval (50 ms) goes
/// back at the heap's next allocation slow path; call this before a runtime sits idle.
///
/// ```
/// let garbage: Vec<gc_api::Gc<[u64; 4]>> = (0..100_000).map(|i| gc_api::Gc::new([i; 4])).collect();
/// drop(garbage);
/// gc_api::release_free_memory();
/// let stats = gc_api::malloc_stats();
/// assert_eq!(stats.arenas_idle, 0);
/// assert!(stats.arenas_current <= 2, "{stats}");
/// ```
pub fn release_free_memory() {
    control::release_free_memory();
}

/// The object whose id is `id`, if a live object made by `Gc::new` on this thread has it.
/// Any other integer (freed objects, interior pointers, random values) gives `None`; the
/// answer never reads memory the heap does not own.
///
/// ```
/// let g = gc_api::Gc::new(3u16);
/// let found = gc_api::object_at(gc_api::Gc::id(&g)).expect("live");
/// assert_eq!(*found.downcast::<u16>().unwrap(), 3);
/// assert!(gc_api::object_at(12345).is_none());
/// ```
pub fn object_at(id: usize) -> Option<GcAny> {
    // SAFETY: gc-core returns an owned reference.
    control::object_at(id).map(|obj| unsafe { GcAny::from_owned(obj) })
}
