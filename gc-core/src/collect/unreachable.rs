//! Step 4 of a collection, CPython's `move_unreachable`, and `deduce_unreachable`, which
//! runs steps 2-4 with frees deferred.
//!
//! Before them comes a cheaper test (`no_candidates`): a garbage cycle can only form when a
//! strong count of one of its members goes down to a value other than zero (the candidate
//! roots of Bacon and Rajan's cycle collector). A handle *moved* into a field changes no
//! count, but closing a cycle by moves alone is impossible in safe code: the move that
//! removes the last outside handle needs a way to reach the destination field, which is
//! another outside handle, still there after the move; it goes later, by a drop (a
//! decrement that leaves the count above zero, since the cycle holds the object) or by
//! another such move. Every decrement that leaves a count above zero marks the object
//! `CANDIDATE` (`Header::dec_strong`); a raw pointer that escapes (`Gc::as_ptr`) marks it
//! `ESCAPED` for good. So a set in which no object is marked holds no garbage cycle, and
//! its collection only promotes it, with one pass over the list and no `trace`.
//!
//! The mark goes away only where that is safe: in a full collection, an object found
//! reachable is reachable from outside every generation, so from a root; a younger
//! generation's collection cannot tell (an older object that reaches it may be garbage),
//! so it leaves the marks, and frozen objects, which full collections leave out, become
//! candidates when they thaw (`GcHeap::unfreeze`).
//!
//! Invariant of the walk (as CPython states it): every object "to the left" of the walk in
//! `young` is reachable, with its `prev` link restored and `COLLECTING` cleared; the objects
//! to the right still hold `gc_refs` in `prev`, and `young` is singly linked there; the
//! `unreachable` list is doubly linked throughout, its members `COLLECTING | UNREACHABLE`.

use super::refs::{subtract_refs, update_refs};
use super::validate::{Expect, validate_clean_oldest, validate_list};
use super::walk::{guarded_pass, trace_object};
use crate::dealloc::run_deferred_frees;
use crate::heap::{CollectorPhase, GcHeap};
use crate::list;
use crate::object::{Links, Obj, flags};
use crate::trace::Tracer;
use std::cell::Cell;
use std::ptr;

/// The objects that were in the oldest generation when a full collection began, when
/// none of them is a candidate or escaped (`GcHeap::take_oldest_clean`): they follow the
/// younger ones on the list, from `first` to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CleanOldest {
    /// The first of them (the list's head when there are none).
    pub first: *const Links,
    /// How many there are.
    pub len: usize,
}

/// Which collection `deduce_unreachable` serves (see there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    /// A full collection; with the oldest objects when they are known clean.
    Full(Option<CleanOldest>),
    /// A collection of the younger generations.
    Young,
    /// The resurrection check after finalizers.
    Resurrection,
}

/// What `deduce_unreachable` found.
pub(super) struct Deduced {
    /// Objects examined.
    pub(super) examined: usize,
    /// Objects left on the unreachable list.
    pub(super) unreachable: usize,
    /// A `trace` panicked.
    pub(super) poisoned: bool,
    /// Frees deferred during the walk ran afterwards (user code: `Drop`s, finalizers).
    pub(super) freed_during_walk: bool,
    /// Steps 2-4 ran (the set held a candidate); false when it was only promoted.
    pub(super) traced: bool,
}

/// Steps 2-4 on `young`: afterwards `young` holds the reachable objects (flags cleared,
/// links restored, tagged with generation `promote_to`) and `unreachable` the rest (still
/// `COLLECTING | UNREACHABLE`). The pass over a set that can hold a garbage cycle:
/// - `Pass::Full`, a full collection: a set without candidates (module docs) is only
///   promoted, and objects found reachable stop being candidates (every object outside
///   the set is reachable, so what they reach is); the oldest objects, when known clean,
///   are not even walked;
/// - `Pass::Young`, a younger generation: a set without candidates is only promoted; what
///   it finds reachable may be reachable only from garbage in an older generation, so it
///   stays a candidate;
/// - `Pass::Resurrection`, the resurrection check: always all passes, no flag changes.
///
/// # Safety
/// `young` is a well-formed list of the heap's tracked objects; `unreachable` an empty one.
pub(super) unsafe fn deduce_unreachable(
    heap: &GcHeap,
    young: &Links,
    unreachable: &Links,
    promote_to: usize,
    pass: Pass,
) -> Deduced {
    heap.set_special_unreachable(0);
    // SAFETY: well formed (caller).
    unsafe { validate_list(young, Expect::Listed) };
    let skip = match pass {
        Pass::Resurrection => None,
        // SAFETY: `young` is a well-formed list of tracked objects (caller).
        Pass::Young | Pass::Full(None) => unsafe { no_candidates(young, promote_to, young) },
        Pass::Full(Some(oldest)) => {
            // SAFETY: as above; `oldest.first` is a node of `young` or its head (caller).
            unsafe { no_candidates(young, promote_to, oldest.first) }.map(|walked| {
                // SAFETY: as above.
                unsafe { validate_clean_oldest(young, oldest.first, oldest.len) };
                walked + oldest.len
            })
        }
    };
    if let Some(examined) = skip {
        return Deduced {
            examined,
            unreachable: 0,
            poisoned: false,
            freed_during_walk: false,
            traced: false,
        };
    }
    let outer = heap.phase();
    heap.set_phase(CollectorPhase::Walking);
    // SAFETY: well formed (caller).
    let examined = unsafe { update_refs(young) };
    // SAFETY: `update_refs` just ran on it.
    let (mut poisoned, lent) = unsafe { subtract_refs(heap, young) };
    // SAFETY: `update_refs` and `subtract_refs` just ran on `young`; `unreachable` is an
    // empty, well-formed list (caller).
    let (unreachable_count, panicked) = unsafe {
        move_unreachable(
            heap,
            young,
            unreachable,
            promote_to,
            matches!(pass, Pass::Full(_)),
        )
    };
    poisoned |= panicked;
    // SAFETY: `move_unreachable` restored `young` and keeps `unreachable` doubly linked.
    unsafe { validate_list(young, Expect::Reachable) };
    // SAFETY: `move_unreachable` keeps `unreachable` well formed, of live tracked objects.
    unsafe { validate_list(unreachable, Expect::Unreachable { collecting: true }) };
    heap.set_phase(outer);
    for obj in lent {
        // SAFETY: a handle reported it, so it is live; its loan is over.
        unsafe { crate::dealloc::retrack(heap, obj) };
    }
    let freed_during_walk = run_deferred_frees(heap);
    Deduced {
        examined,
        unreachable: unreachable_count,
        poisoned,
        freed_during_walk,
        traced: true,
    }
}

/// If no object of `young` before `stop` is a candidate (module docs), tags them all as
/// survivors into generation `promote_to` and returns how many there are; `None` at the
/// first candidate (the objects tagged so far are tagged again by `move_unreachable`).
///
/// # Safety
/// `young` is a well-formed list of the heap's tracked objects; `stop` is `young` or one
/// of its nodes.
unsafe fn no_candidates(young: &Links, promote_to: usize, stop: *const Links) -> Option<usize> {
    let mut n = 0;
    let mut node = young.next.get();
    while !ptr::eq(node, stop) {
        // SAFETY: a node of a well-formed list: a live tracked object.
        let obj = unsafe { Obj::from_links(node) };
        // SAFETY: live.
        let hdr = unsafe { obj.header() };
        let old = hdr.flags();
        if old & (flags::CANDIDATE | flags::ESCAPED) != 0 {
            return None;
        }
        // Outside a collection `COLLECTING` and `UNREACHABLE` are clear, so only the
        // generation changes; most of a full collection's objects are in the oldest already,
        // and leaving their line clean saves its write-back.
        let tagged = (old & !flags::GEN_MASK) | ((promote_to as u32) << flags::GEN_SHIFT);
        if tagged != old {
            hdr.set_flags(tagged);
        }
        n += 1;
        // SAFETY: live and tracked.
        node = unsafe { obj.links() }.next.get();
    }
    Some(n)
}

/// CPython's `move_unreachable`: walks `young` once; an object with `gc_refs > 0` is
/// reachable and marks what it reaches reachable too (moving it back from `unreachable` to
/// right after itself if needed); one with `gc_refs == 0` moves to `unreachable` for now.
/// `young` is singly linked during the walk: `prev` links are restored behind it. With
/// `clear_candidates`, objects kept stop being candidates. Returns how many objects ended
/// on `unreachable`, and whether a `trace` panicked.
///
/// # Safety
/// `young` is a list on which `update_refs` and `subtract_refs` just ran; `unreachable` an
/// empty, well-formed list.
unsafe fn move_unreachable(
    heap: &GcHeap,
    young: &Links,
    unreachable: &Links,
    promote_to: usize,
    clear_candidates: bool,
) -> (usize, bool) {
    let mut tracer = Tracer::mark_reachable();
    // The last node kept (or the sentinel); its `next` is the node to examine.
    let prev: Cell<*const Links> = Cell::new(young);
    let mut moved = 0usize;
    // A reachable node is done: its `prev` link comes back, it is tagged with the
    // generation it is about to join, and the walk moves past it.
    let keep = |node: *const Links| {
        // SAFETY: `node` is the links of a live tracked object of `young`.
        let obj = unsafe { Obj::from_links(node) };
        // SAFETY: a live tracked object (the walk's node).
        unsafe { obj.links() }.prev.set(prev.get());
        // SAFETY: a live object (the walk's node).
        let hdr = unsafe { obj.header() };
        if clear_candidates {
            // Reachable from outside a full collection's set, so from a root: no longer a
            // candidate (a later decrement marks it again).
            hdr.clear(flags::CANDIDATE);
        }
        hdr.survive_into(promote_to);
        prev.set(node);
    };
    let poisoned = guarded_pass(
        heap,
        || loop {
            // SAFETY: `prev` is a live node of `young` or its sentinel.
            let node = unsafe { (*prev.get()).next.get() };
            if ptr::eq(node, young) {
                break;
            }
            // SAFETY: a node of `young` other than the sentinel: a live tracked object.
            let obj = unsafe { Obj::from_links(node) };
            // SAFETY: a live tracked object (a node of `young`).
            let links = unsafe { obj.links() };
            if links.gc_refs() > 0 {
                tracer.set_current(node);
                // SAFETY: live and not DEAD (on a collection's list).
                unsafe { trace_object(obj, &mut tracer) };
                keep(node);
            } else {
                // Off `young` (singly linked: only the kept node's `next` changes)...
                // SAFETY: `prev` is live.
                unsafe { (*prev.get()).next.set(links.next.get()) };
                // ...and onto the tail of `unreachable` (doubly linked).
                // SAFETY: the node is live and now on no list; `unreachable` is well formed.
                unsafe { list::append(node, unreachable) };
                // SAFETY: live.
                let hdr = unsafe { obj.header() };
                hdr.set(flags::UNREACHABLE);
                moved += 1;
                if hdr.has(flags::HAS_WEAK) || hdr.finalizer_pending() {
                    heap.set_special_unreachable(heap.special_unreachable() + 1);
                }
            }
        },
        // The trace of the node after `prev` panicked: keep it (it had gc_refs > 0).
        // SAFETY: `prev` is live, and its `next` is the node whose trace panicked.
        || keep(unsafe { (*prev.get()).next.get() }),
    );
    young.prev.set(prev.get());
    (moved - tracer.moved_back(), poisoned)
}

/// After a poisoned deduction: everything on `unreachable` goes back to `young`, and every
/// object there is a candidate again (what a panicking `trace` hid is unknown).
///
/// # Safety
/// Both are well-formed lists of the heap's tracked objects.
pub(super) unsafe fn restore_unreachable(unreachable: &Links, young: &Links) {
    let clear = |obj: Obj| {
        // SAFETY: objects on the list are live.
        let hdr = unsafe { obj.header() };
        hdr.set_flags((hdr.flags() & !(flags::COLLECTING | flags::UNREACHABLE)) | flags::CANDIDATE);
    };
    // SAFETY: well formed (caller).
    unsafe { list::for_each(unreachable, clear) };
    // SAFETY: well formed (caller).
    unsafe { list::merge(unreachable, young) };
    let mark = |obj: Obj| {
        // SAFETY: objects on the list are live.
        unsafe { obj.header() }.set(flags::CANDIDATE);
    };
    // SAFETY: well formed (caller); `mark` unlinks nothing.
    unsafe { list::for_each(young, mark) };
}
