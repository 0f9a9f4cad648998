//! The control surface of Python's `gc` module, for the calling thread's heap.

use crate::collect::collect_main;
use crate::gc_heap::{NUM_GENERATIONS, heap};
use crate::handle::GcAny;
use crate::list;
use crate::object::{Header, TraceMode, Tracer, flags};
use std::collections::HashSet;
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;

/// Per-generation statistics (`gc.get_stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerationStats {
    /// Collections of this generation.
    pub collections: usize,
    /// Objects those collections found unreachable and freed (or saved).
    pub collected: usize,
    /// Objects found uncollectable (always 0: there are no legacy finalizers).
    pub uncollectable: usize,
}

/// When a collection callback is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before the collection.
    Start,
    /// After the collection.
    Stop,
}

/// What a collection callback is told (`info` of Python's `gc.callbacks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackInfo {
    /// The generation being collected.
    pub generation: usize,
    /// Objects collected (0 at `Phase::Start`).
    pub collected: usize,
    /// Objects found uncollectable (always 0).
    pub uncollectable: usize,
}

/// Names a registered collection callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(crate) u64);

bitflags::bitflags! {
    /// Debugging flags (`gc.set_debug`). Output goes to `tracing` events with target `"gc"`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct DebugFlags: u32 {
        /// Statistics at the start and end of each collection.
        const STATS = 1;
        /// Each collectable object found.
        const COLLECTABLE = 2;
        /// Each uncollectable object found (none exist here; kept for parity).
        const UNCOLLECTABLE = 4;
        /// Unreachable objects go to [`garbage`] instead of being freed.
        const SAVEALL = 32;
        /// `COLLECTABLE | UNCOLLECTABLE | SAVEALL`, as Python's `DEBUG_LEAK`.
        const LEAK = 2 | 4 | 32;
    }
}

/// Errors of the control functions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GcError {
    /// A generation number outside `0..=2`.
    InvalidGeneration(usize),
    /// The allocator could not provide memory.
    OutOfMemory,
}

impl fmt::Display for GcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcError::InvalidGeneration(g) => {
                write!(f, "invalid generation {g}: generations are 0, 1 and 2")
            }
            GcError::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

impl std::error::Error for GcError {}

fn check_generation(generation: usize) -> Result<(), GcError> {
    if generation < NUM_GENERATIONS {
        Ok(())
    } else {
        Err(GcError::InvalidGeneration(generation))
    }
}

/// Runs a full collection; returns the number of unreachable objects found (0 if a
/// collection is already running, e.g. when called from a finalizer or callback).
pub fn collect() -> usize {
    collect_main(heap(), NUM_GENERATIONS - 1)
}

/// Collects generations `0..=generation`.
pub fn collect_generation(generation: usize) -> Result<usize, GcError> {
    check_generation(generation)?;
    Ok(collect_main(heap(), generation))
}

/// The counts of the three generations (`gc.get_count()`).
pub fn get_count() -> [usize; 3] {
    let h = heap();
    [h.counts[0].get(), h.counts[1].get(), h.counts[2].get()]
}

/// The thresholds (`gc.get_threshold()`), `[700, 10, 10]` by default.
pub fn get_threshold() -> [usize; 3] {
    let h = heap();
    [
        h.thresholds[0].get(),
        h.thresholds[1].get(),
        h.thresholds[2].get(),
    ]
}

/// Sets the thresholds; a threshold 0 for generation 0 disables automatic collection.
pub fn set_threshold(thresholds: [usize; 3]) {
    let h = heap();
    for (cell, value) in h.thresholds.iter().zip(thresholds) {
        cell.set(value);
    }
}

/// Turns automatic collection on.
pub fn enable() {
    heap().enabled.set(true);
}

/// Turns automatic collection off (explicit `collect` still works).
pub fn disable() {
    heap().enabled.set(false);
}

/// Whether automatic collection is on.
pub fn is_enabled() -> bool {
    heap().enabled.get()
}

/// Statistics per generation (`gc.get_stats()`).
pub fn get_stats() -> [GenerationStats; 3] {
    let h = heap();
    [h.stats[0].get(), h.stats[1].get(), h.stats[2].get()]
}

/// Every tracked object of one generation, or of all (`gc.get_objects()`); the permanent
/// generation is left out.
pub fn get_objects(generation: Option<usize>) -> Result<Vec<GcAny>, GcError> {
    if let Some(g) = generation {
        check_generation(g)?;
    }
    let h = heap();
    let mut out = Vec::new();
    for g in 0..NUM_GENERATIONS {
        if generation.is_none_or(|want| want == g) {
            list::for_each(h.generation(g), |obj| {
                if let Some(any) = GcAny::from_live(obj) {
                    out.push(any);
                }
            });
        }
    }
    Ok(out)
}

/// Objects (tracked, in any generation) that refer to any of `objs`.
pub fn get_referrers(objs: &[GcAny]) -> Vec<GcAny> {
    let targets: HashSet<usize> = objs.iter().map(GcAny::id).collect();
    let h = heap();
    let mut candidates = Vec::new();
    for g in 0..NUM_GENERATIONS {
        list::for_each(h.generation(g), |obj| {
            if let Some(any) = GcAny::from_live(obj) {
                candidates.push(any);
            }
        });
    }
    candidates
        .into_iter()
        .filter(|c| {
            referents_of(c.header(), TraceMode::Collect)
                .iter()
                .any(|t| targets.contains(&t.id()))
        })
        .collect()
}

/// The objects `objs` refer to, in trace order (untracked ones included).
pub fn get_referents(objs: &[GcAny]) -> Vec<GcAny> {
    objs.iter()
        .flat_map(|o| referents_of(o.header(), TraceMode::Collect))
        .collect()
}

/// The edges of one object, in trace order.
pub(crate) fn referents_of(h: NonNull<Header>, mode: TraceMode) -> Vec<GcAny> {
    // SAFETY: `h` is held by a handle, so it is live.
    let hdr = unsafe { h.as_ref() };
    if hdr.has(flags::DEAD) {
        return Vec::new();
    }
    let mut tracer = Tracer::new(mode);
    let value = Header::value_ptr(h);
    // SAFETY: a live object that is not DEAD has an initialised value.
    unsafe { (hdr.vtable.trace)(value, &mut tracer) };
    tracer.found
}

/// Moves every tracked object into the permanent generation, which collections skip.
/// (Ignored when called from a `Trace` impl during a collection's walk of the lists.)
pub fn freeze() {
    let h = heap();
    if h.defer_frees.get() {
        // Called from a `Trace` impl while a collection walks the lists: ignored.
        return;
    }
    for g in 0..NUM_GENERATIONS {
        // SAFETY: all of these are well-formed lists of the heap.
        unsafe { list::merge(h.generation(g), &h.permanent) };
    }
    h.counts[0].set(0);
}

/// Moves the permanent generation back into the oldest generation.
pub fn unfreeze() {
    let h = heap();
    if h.defer_frees.get() {
        // Called from a `Trace` impl while a collection walks the lists: ignored.
        return;
    }
    // SAFETY: both are well-formed lists of the heap.
    unsafe { list::merge(&h.permanent, h.generation(NUM_GENERATIONS - 1)) };
}

/// Objects in the permanent generation.
pub fn get_freeze_count() -> usize {
    list::len(&heap().permanent)
}

/// Registers a collection callback; callbacks run in registration order, at the start
/// and end of every collection (automatic ones too).
pub fn add_callback(f: impl Fn(Phase, &CallbackInfo) + 'static) -> CallbackId {
    let h = heap();
    let id = CallbackId(h.next_callback_id.get());
    h.next_callback_id.set(id.0 + 1);
    h.callbacks.borrow_mut().push((id, Rc::new(f)));
    id
}

/// Unregisters a callback; false if it was not registered.
pub fn remove_callback(id: CallbackId) -> bool {
    let h = heap();
    let mut callbacks = h.callbacks.borrow_mut();
    let before = callbacks.len();
    callbacks.retain(|(i, _)| *i != id);
    callbacks.len() != before
}

/// Sets the debugging flags.
pub fn set_debug(flags: DebugFlags) {
    heap().debug.set(flags);
}

/// The debugging flags.
pub fn get_debug() -> DebugFlags {
    heap().debug.get()
}

/// Objects saved by `DebugFlags::SAVEALL` (Python's `gc.garbage`).
pub fn garbage() -> Vec<GcAny> {
    let h = heap();
    let saved = h.garbage.borrow().clone();
    saved.into_iter().filter_map(GcAny::from_live).collect()
}

/// Empties `garbage()`; objects only it kept alive are freed.
pub fn clear_garbage() {
    heap().clear_garbage();
}

/// Statistics of the calling thread's object allocator (`sys._debugmallocstats()`).
pub fn malloc_stats() -> crate::alloc::MallocStats {
    heap().malloc_stats()
}

/// The object whose id is `id`, if a live object made by `Gc::new` on this thread has it.
/// Any other integer (freed objects, interior pointers, random values) gives `None`; the
/// answer never reads memory the heap does not own.
pub fn object_at(id: usize) -> Option<GcAny> {
    let h = heap();
    let is_object = h.is_live_block(id) || h.large_objects.borrow().contains(&id);
    if !is_object {
        return None;
    }
    GcAny::from_live(NonNull::new(id as *mut Header)?)
}
