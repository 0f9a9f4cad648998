//! Layer 8: the control surface of Python's `gc` module (`gcmodule.c`'s `gc_collect_impl`,
//! `gc_get_count_impl`, `gc_get_objects_impl`, ...) over the calling thread's heap, in raw
//! form: objects come and go as [`Obj`] addresses, and each one a function returns
//! carries a strong reference the caller owns (gc-api wraps them in `GcAny`).
//!
//! Invariant owned here: no function hands out a reference to an object the heap may not
//! hand out now (`GcHeap::may_hand_out`), and none changes a list while the collector walks
//! it (calls from a `trace` impl during a walk do nothing).

use crate::collect::gc_collect_with_callback;
use crate::dealloc;
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::Obj;
use crate::thread::heap;
use crate::trace::{Tracer, VTable, Visit};
use crate::types::{
    CallbackId, CallbackInfo, DebugFlags, GcError, GenerationStats, NUM_GENERATIONS, Phase,
    check_generation,
};
use std::collections::HashSet;
use std::rc::Rc;

/// Collects generations `0..=generation`; the number of unreachable objects found (0 if a
/// collection is already running, e.g. when called from a finalizer or callback).
pub fn collect(generation: usize) -> Result<usize, GcError> {
    let generation = check_generation(generation)?;
    Ok(gc_collect_with_callback(heap(), generation))
}

/// The counts of the generations (`gc.get_count()`).
pub fn get_count() -> [usize; NUM_GENERATIONS] {
    heap().counts()
}

/// The thresholds (`gc.get_threshold()`).
pub fn get_threshold() -> [usize; NUM_GENERATIONS] {
    heap().thresholds()
}

/// Sets the thresholds; a threshold 0 for generation 0 disables automatic collection.
pub fn set_threshold(thresholds: [usize; NUM_GENERATIONS]) {
    heap().set_thresholds(thresholds);
}

/// The byte trigger: with `Some(bytes)`, an allocation that brings the bytes allocated
/// since the last collection past `bytes` starts a collection (as if count 0 had passed its
/// threshold); `None` (the default) turns it off.
pub fn set_memory_threshold(threshold: Option<usize>) {
    heap().set_memory_threshold(threshold);
}

/// The byte trigger's threshold.
pub fn get_memory_threshold() -> Option<usize> {
    heap().memory_threshold()
}

/// Turns automatic collection on or off.
pub fn set_enabled(enabled: bool) {
    heap().set_enabled(enabled);
}

/// Whether automatic collection is on.
pub fn is_enabled() -> bool {
    heap().is_enabled()
}

/// Statistics per generation (`gc.get_stats()`).
pub fn get_stats() -> [GenerationStats; NUM_GENERATIONS] {
    heap().stats()
}

/// Takes a reference to `obj` if the heap may hand one out now.
///
/// # Safety
/// `obj` is a live object of `heap`.
unsafe fn hand_out(heap: &GcHeap, obj: Obj) -> Option<Obj> {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    heap.may_hand_out(hdr).then(|| {
        hdr.inc_strong();
        obj
    })
}

/// Every tracked object of one generation, or of all (the permanent generation left
/// out), each with an owned reference.
pub fn get_objects(generation: Option<usize>) -> Result<Vec<Obj>, GcError> {
    if let Some(g) = generation {
        check_generation(g)?;
    }
    let h = heap();
    let mut out = Vec::new();
    for g in 0..NUM_GENERATIONS {
        if generation.is_none_or(|want| want == g) {
            // SAFETY: objects on a generation list are live (heap invariant).
            let collect = |obj| out.extend(unsafe { hand_out(h, obj) });
            // SAFETY: a generation list is well formed (heap invariant); `collect` unlinks
            // nothing.
            unsafe { list::for_each(h.generation(g), collect) };
        }
    }
    Ok(out)
}

/// Objects (tracked, in any generation) that refer to any of `targets`, each with an owned
/// reference.
pub fn get_referrers(targets: &[Obj]) -> Vec<Obj> {
    let wanted: HashSet<Obj> = targets.iter().copied().collect();
    let candidates = get_objects(None).expect("all generations");
    let mut out = Vec::new();
    for candidate in candidates {
        // SAFETY: each candidate carries the reference `get_objects` took.
        let referents = unsafe { referents(candidate) };
        let refers = referents.iter().any(|r| wanted.contains(r));
        for r in referents {
            // SAFETY: the reference `referents` took.
            unsafe { crate::raw::dec_strong(r) };
        }
        if refers {
            out.push(candidate);
        } else {
            // SAFETY: the reference `get_objects` took.
            unsafe { crate::raw::dec_strong(candidate) };
        }
    }
    out
}

/// Records what a `trace` reports, taking a reference at once (so a trace that drops
/// what it just reported cannot leave a dangling entry).
struct Referents<'h> {
    heap: &'h GcHeap,
    found: Vec<Obj>,
}

impl Visit for Referents<'_> {
    unsafe fn visit(&mut self, target: Obj) {
        // SAFETY: a reported target is live (caller).
        self.found.extend(unsafe { hand_out(self.heap, target) });
    }
}

/// The objects `obj` refers to, in trace order (untracked ones too), each with an owned
/// reference; while finalizers run, also the garbage being finalized.
///
/// # Safety
/// `obj` is live (the caller holds a reference).
pub unsafe fn referents(obj: Obj) -> Vec<Obj> {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.header() };
    if hdr.has(crate::object::flags::DEAD) {
        return Vec::new();
    }
    let mut visitor = Referents {
        heap: heap(),
        found: Vec::new(),
    };
    let trace = VTable::of(hdr).trace;
    // SAFETY: live and not DEAD, so its value is initialised, of the vtable's type.
    unsafe { trace(obj, &mut Tracer::new(&mut visitor)) };
    visitor.found
}

/// Moves every tracked object into the permanent generation, which collections skip.
/// (Ignored when called from a `Trace` impl during a collection's walk of the lists.)
pub fn freeze() {
    let h = heap();
    if h.phase() != CollectorPhase::Walking {
        h.freeze();
    }
}

/// Moves the permanent generation back into the oldest generation (ignored during a walk).
pub fn unfreeze() {
    let h = heap();
    if h.phase() != CollectorPhase::Walking {
        h.unfreeze();
    }
}

/// Objects in the permanent generation.
pub fn get_freeze_count() -> usize {
    // SAFETY: the permanent generation is a well-formed list (heap invariant).
    unsafe { list::len(heap().permanent()) }
}

/// Registers a collection callback; callbacks run in registration order, at the start and
/// end of every collection (automatic ones too).
pub fn add_callback(f: impl Fn(Phase, &CallbackInfo) + 'static) -> CallbackId {
    heap().add_callback(Rc::new(f))
}

/// Unregisters a callback; false if it was not registered.
pub fn remove_callback(id: CallbackId) -> bool {
    heap().remove_callback(id)
}

/// Sets the debugging flags.
pub fn set_debug(flags: DebugFlags) {
    heap().set_debug(flags);
}

/// The debugging flags.
pub fn get_debug() -> DebugFlags {
    heap().debug()
}

/// Objects saved by `DebugFlags::SAVEALL` (Python's `gc.garbage`), each with an owned
/// reference.
pub fn garbage() -> Vec<Obj> {
    let h = heap();
    h.garbage()
        .into_iter()
        // SAFETY: saved garbage is live: the heap holds a reference to each.
        .filter_map(|obj| unsafe { hand_out(h, obj) })
        .collect()
}

/// Empties `garbage()`; objects only it kept alive are freed.
pub fn clear_garbage() {
    dealloc::clear_garbage(heap());
}

/// Statistics of the calling thread's object allocator (`sys._debugmallocstats()`).
pub fn malloc_stats() -> crate::alloc::MallocStats {
    heap().malloc_stats()
}

/// Gives the calling thread's empty arenas back to the OS at once, instead of after the
/// purge interval (`HeapConfig::purge_delay`): for a runtime about to sit idle.
pub fn release_free_memory() {
    heap().release_free_memory();
}

/// The object whose address is `addr`, with an owned reference, if a live object made by
/// this thread's heap has it. Any other integer (freed objects, interior pointers, random
/// values) gives `None`; the answer never reads memory the heap does not own.
pub fn object_at(addr: usize) -> Option<Obj> {
    let h = heap();
    let obj = h.object_at_address(addr)?;
    // SAFETY: the heap found a live object there.
    unsafe { hand_out(h, obj) }
}
