//! The state of one heap: its allocator, generation lists, counts, thresholds, statistics,
//! weak table, the collector's phase and the free path's queue.
//!
//! Invariant owned here: the fields are private and change only through the methods below,
//! each of which keeps its part consistent:
//! - every tracked object is on exactly one of the heap's lists (a generation, the
//!   permanent generation, `pending`, or a collection's work list), and `TRACKED` says so;
//! - `counts[0]` counts tracked allocations minus tracked frees since the last collection
//!   of generation 0 (never below 0), as CPython's `gcstate->generations[0].count`;
//! - the weak table lists, for each object with `HAS_WEAK`, its live weak cells, oldest
//!   first, and no other object;
//! - the phase says what a collection is doing ([`CollectorPhase`]).
//!
//! Nothing here runs user code, so no borrow of a `RefCell` field is held across a call
//! out. (Mirrors CPython's `struct _gc_runtime_state`.)

use crate::alloc::Heap;
use crate::list;
use crate::object::{Header, Links, Obj, TypeLayout, flags};
use crate::types::{
    CallbackId, CallbackInfo, DEFAULT_THRESHOLDS, DebugFlags, GenerationStats, NUM_GENERATIONS,
    Phase,
};
use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::{HashMap, HashSet};
use std::ptr::{self, NonNull};
use std::rc::Rc;

/// Frees nested deeper than this are queued instead of run on the stack.
pub(crate) const MAX_FREE_DEPTH: u32 = 16;

/// A collection callback, shared so a snapshot can be called while the list changes.
pub(crate) type Callback = Rc<dyn Fn(Phase, &CallbackInfo)>;

/// What a collection is doing; one state instead of three flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CollectorPhase {
    /// No collection runs.
    Idle,
    /// A collection runs (callbacks, promotion, weak callbacks, deletion): a collection
    /// requested now returns 0 at once (CPython's `gcstate->collecting`).
    Running,
    /// The collector walks its lists (`update_refs` to `move_unreachable`, the final
    /// check): frees wait in the queue, new tracked objects wait on `pending`, and
    /// `freeze`/`unfreeze` do nothing, so no list changes under the walk.
    Walking,
    /// Finalizers of the garbage run: a handle may be made to an unreachable object (the
    /// resurrection check that follows sees it).
    Finalizing,
}

/// One thread's object heap.
pub struct GcHeap {
    /// Where objects live. Borrowed mutably only inside methods that call no user code.
    allocator: UnsafeCell<Heap>,
    /// Objects allocated outside the pools (large or over-aligned), for `object_at`.
    large_objects: RefCell<HashSet<usize>>,
    generations: [Links; NUM_GENERATIONS],
    permanent: Links,
    /// Objects allocated while a collection walks the lists (from a `Trace` impl): they
    /// join generation 0 when the walk is over.
    pending: Links,
    counts: [Cell<usize>; NUM_GENERATIONS],
    thresholds: [Cell<usize>; NUM_GENERATIONS],
    /// The byte trigger (`set_memory_threshold`), if on.
    memory_threshold: Cell<Option<usize>>,
    /// Whether it is on (one load on the allocation path when it is off).
    memory_trigger_on: Cell<bool>,
    /// Bytes that may still be allocated before the byte trigger calls for a collection
    /// (`usize::MAX` when it is off).
    memory_budget: Cell<usize>,
    enabled: Cell<bool>,
    phase: Cell<CollectorPhase>,
    debug: Cell<DebugFlags>,
    stats: [Cell<GenerationStats>; NUM_GENERATIONS],
    long_lived_total: Cell<usize>,
    long_lived_pending: Cell<usize>,
    /// No object on the oldest generation's list is a candidate or escaped (established by
    /// a full collection that found none; see `take_oldest_clean`), and `oldest_len` is the
    /// list's length. A full collection then leaves the oldest objects out of its walk.
    oldest_clean: Cell<bool>,
    /// The number of objects tagged with the oldest generation, which are exactly those on
    /// its list (trusted while `oldest_clean`).
    oldest_len: Cell<usize>,
    callbacks: RefCell<Vec<(CallbackId, Callback)>>,
    next_callback_id: Cell<u64>,
    /// `DebugFlags::SAVEALL` garbage; the heap holds a strong reference to each.
    garbage: RefCell<Vec<Obj>>,
    /// Objects the last `move_unreachable` put on `unreachable` that have weak references
    /// or a finalizer still to run (an upper bound: some may have moved back).
    special_unreachable: Cell<usize>,
    /// For each object with weak references, its weak cells, oldest first.
    weak_table: RefCell<HashMap<Obj, Vec<Obj>>>,
    /// The object whose finalizer is running (the innermost, when they nest).
    finalizing: Cell<Option<Obj>>,
    /// The free path's state (`dealloc`).
    pub(crate) frees: FreeState,
    /// The first panic caught in user code, re-raised once the heap is consistent.
    panic: RefCell<Option<Box<dyn Any + Send>>>,
    /// Whether `panic` holds one (checked on every free without touching the `RefCell`).
    has_panic: Cell<bool>,
}

/// The free path's bookkeeping (read and written by `dealloc` only).
pub(crate) struct FreeState {
    /// Objects whose count reached zero while frees were nested too deep or a walk ran.
    queue: RefCell<Vec<Obj>>,
    /// Whether `queue` may be non-empty.
    queued: Cell<bool>,
    /// How many frees are nested on the stack.
    depth: Cell<u32>,
    /// The object being freed at each depth, so the guard that catches a panic from a
    /// `Drop` can finish the frees it cut short. Depths reach `MAX_FREE_DEPTH + 1`.
    in_progress: [Cell<*mut Header>; MAX_FREE_DEPTH as usize + 2],
}

impl FreeState {
    fn new() -> FreeState {
        FreeState {
            queue: RefCell::default(),
            queued: Cell::new(false),
            depth: Cell::new(0),
            in_progress: [const { Cell::new(ptr::null_mut()) }; MAX_FREE_DEPTH as usize + 2],
        }
    }

    #[inline]
    pub(crate) fn depth(&self) -> u32 {
        self.depth.get()
    }

    #[inline]
    pub(crate) fn set_depth(&self, depth: u32) {
        self.depth.set(depth);
    }

    /// Queues `obj` to be freed later.
    pub(crate) fn enqueue(&self, obj: Obj) {
        self.queue.borrow_mut().push(obj);
        self.queued.set(true);
    }

    /// Whether objects may be queued.
    #[inline]
    pub(crate) fn has_queued(&self) -> bool {
        self.queued.get()
    }

    /// The next queued object, if any (clears `has_queued` when empty).
    pub(crate) fn dequeue(&self) -> Option<Obj> {
        let next = self.queue.borrow_mut().pop();
        if next.is_none() {
            self.queued.set(false);
        }
        next
    }

    /// Records the object being freed at `slot` (null: none).
    #[inline]
    pub(crate) fn set_in_progress(&self, slot: u32, obj: *mut Header) {
        self.in_progress[slot as usize].set(obj);
    }

    /// Takes the objects recorded at `slot` and deeper, deepest first.
    pub(crate) fn take_in_progress_from(&self, slot: u32) -> impl Iterator<Item = Obj> + '_ {
        self.in_progress[slot as usize..]
            .iter()
            .rev()
            .filter_map(|cell| NonNull::new(cell.replace(ptr::null_mut())).map(Obj::from_header))
    }
}

impl GcHeap {
    /// A heap with empty lists. It must not move once [`GcHeap::init_lists`] has run
    /// (list sentinels point at themselves).
    pub(crate) fn new() -> GcHeap {
        GcHeap {
            allocator: UnsafeCell::new(Heap::new()),
            large_objects: RefCell::default(),
            generations: [Links::unlinked(), Links::unlinked(), Links::unlinked()],
            permanent: Links::unlinked(),
            pending: Links::unlinked(),
            counts: Default::default(),
            thresholds: DEFAULT_THRESHOLDS.map(Cell::new),
            memory_threshold: Cell::new(None),
            memory_trigger_on: Cell::new(false),
            memory_budget: Cell::new(usize::MAX),
            enabled: Cell::new(true),
            phase: Cell::new(CollectorPhase::Idle),
            debug: Cell::new(DebugFlags::empty()),
            stats: Default::default(),
            long_lived_total: Cell::new(0),
            long_lived_pending: Cell::new(0),
            oldest_clean: Cell::new(true),
            oldest_len: Cell::new(0),
            callbacks: RefCell::default(),
            next_callback_id: Cell::new(0),
            garbage: RefCell::default(),
            special_unreachable: Cell::new(0),
            weak_table: RefCell::default(),
            finalizing: Cell::new(None),
            frees: FreeState::new(),
            panic: RefCell::new(None),
            has_panic: Cell::new(false),
        }
    }

    /// Makes every list empty; runs once the heap is at its final address.
    pub(crate) fn init_lists(&self) {
        for g in &self.generations {
            list::init(g);
        }
        list::init(&self.permanent);
        list::init(&self.pending);
    }

    // -- allocation ------------------------------------------------------------------

    /// Allocates an object of the type `layout` describes, `size` bytes in all (the
    /// layout's size, or more for a slice), with a strong count of 1 and an uninitialised
    /// value; a tracked one joins generation 0 (or `pending` during a walk). Counting the
    /// allocation, and any collection it calls for, is the caller's (`policy`), before this.
    #[inline(always)]
    pub(crate) fn alloc_object(
        &self,
        layout_ptr: NonNull<TypeLayout>,
        size: usize,
        track: bool,
    ) -> Option<Obj> {
        // SAFETY: layouts live in `static` vtables.
        let layout = unsafe { layout_ptr.as_ref() };
        let pooled = size <= crate::alloc::SMALL_REQUEST_THRESHOLD
            && layout.align <= 16
            && layout.item_size == 0;
        let block = self.alloc_block(size, layout.align, pooled)?;
        // SAFETY: the header lies `header_offset` bytes into the block (layout invariant).
        let header = unsafe { block.add(layout.header_offset) }.cast::<Header>();
        let large = !pooled;
        if large {
            self.large_objects
                .borrow_mut()
                .insert(header.as_ptr().addr());
        }
        let initial_flags = if large { flags::LARGE } else { 0 };
        // SAFETY: a fresh block of `size` bytes, aligned for the layout: room for a header
        // at this 16-aligned offset.
        unsafe { Header::init(header.as_ptr(), layout_ptr, initial_flags) };
        let obj = Obj::from_header(header);
        if layout.tracked && track {
            let list = if self.phase.get() == CollectorPhase::Walking {
                &self.pending
            } else {
                &self.generations[0]
            };
            // SAFETY: a fresh, live, tracked object on no list.
            unsafe { self.track(obj, list) };
        }
        Some(obj)
    }

    /// A block from the pools (`pooled`: at most 512 bytes, aligned to 16) or from the
    /// system allocator.
    #[inline(always)]
    fn alloc_block(&self, size: usize, align: usize, pooled: bool) -> Option<NonNull<u8>> {
        if pooled {
            // SAFETY: the allocator calls no user code, so this borrow is unique.
            NonNull::new(unsafe { (*self.allocator.get()).alloc(size) })
        } else {
            let l = Layout::from_size_align(size, align).ok()?;
            // SAFETY: the layout has non-zero size (it includes the header).
            NonNull::new(unsafe { std::alloc::alloc(l) })
        }
    }

    /// Returns the memory of a freed object.
    ///
    /// # Safety
    /// `obj` is an object of this heap with no handle left, off every list, whose value was
    /// dropped (or never needed dropping); it is not used again.
    #[inline(always)]
    pub(crate) unsafe fn free_block(&self, obj: Obj) {
        // SAFETY: the header is still readable (caller).
        let hdr = unsafe { obj.header() };
        if hdr.has(flags::LARGE) {
            // SAFETY: as for this function (caller).
            unsafe { self.free_large_block(obj) };
            return;
        }
        let layout = hdr.layout();
        // SAFETY: the header lies `header_offset` bytes into the allocation.
        let block = unsafe { obj.as_ptr().cast::<u8>().sub(layout.header_offset) };
        // SAFETY: the allocator calls no user code, so this borrow is unique.
        let allocator = unsafe { &mut *self.allocator.get() };
        // SAFETY: a pool block of our allocator, of the layout's size (slices are never
        // pooled), not used again.
        unsafe { allocator.free_sized(block, layout.size) };
    }

    /// `free_block` of an object the system allocator holds (out of line: rare, and its
    /// table lookup would weigh on every inlined copy).
    ///
    /// # Safety
    /// As `free_block`; `obj` is `LARGE`.
    #[cold]
    #[inline(never)]
    unsafe fn free_large_block(&self, obj: Obj) {
        // SAFETY: the header is still readable (caller).
        let hdr = unsafe { obj.header() };
        let layout = hdr.layout();
        // SAFETY: the header lies `header_offset` bytes into the allocation.
        let block = unsafe { obj.as_ptr().cast::<u8>().sub(layout.header_offset) };
        // SAFETY: the header is still readable (caller).
        let size = unsafe { obj.allocation_size() };
        self.large_objects.borrow_mut().remove(&obj.addr());
        let l = Layout::from_size_align(size, layout.align).expect("valid layout");
        // SAFETY: allocated in `alloc_block` with this layout.
        unsafe { std::alloc::dealloc(block, l) };
    }

    /// The live object of this heap whose header is at `addr`, if there is one. Never reads
    /// memory the heap does not own: the allocator answers whether a block starts at a given
    /// address from its own metadata, and the first word of a block in use is initialised
    /// (a header's flag word or a tracked object's `next` link, told apart by
    /// `flags::HEADER_MARK`).
    pub(crate) fn object_at_address(&self, addr: usize) -> Option<Obj> {
        let at = |a: usize| -> Option<NonNull<Header>> {
            NonNull::new(ptr::with_exposed_provenance_mut::<Header>(a))
        };
        if self.large_objects.borrow().contains(&addr) {
            return at(addr).map(Obj::from_header);
        }
        // Untracked objects start their block with their header; tracked ones with their
        // links, the header 16 bytes in.
        for (block_addr, header_first) in [(addr, true), (addr.wrapping_sub(16), false)] {
            let block = ptr::with_exposed_provenance::<u8>(block_addr);
            // SAFETY: the query calls no user code, so this borrow is unique.
            let allocator = unsafe { &*self.allocator.get() };
            if allocator.is_allocated_block(block) {
                // SAFETY: a block in use of this heap: its first word is initialised.
                let first = unsafe { block.cast::<u64>().read() };
                return (Header::word_is_header(first) == header_first)
                    .then(|| at(addr).map(Obj::from_header))
                    .flatten();
            }
        }
        None
    }

    /// Statistics of the object allocator.
    pub(crate) fn malloc_stats(&self) -> crate::alloc::MallocStats {
        // SAFETY: `stats` calls no user code, so the borrow is unique.
        unsafe { (*self.allocator.get()).stats() }
    }

    /// Gives the allocator's empty arenas back to the OS (`malloc_trim`).
    pub(crate) fn release_free_memory(&self) {
        // SAFETY: `release_free_memory` calls no user code, so the borrow is unique.
        unsafe { (*self.allocator.get()).release_free_memory() }
    }

    /// Whether no object is left (blocks or large objects).
    pub(crate) fn is_empty(&self) -> bool {
        self.malloc_stats().blocks_in_use() == 0 && self.large_objects.borrow().is_empty()
    }

    // -- lists -----------------------------------------------------------------------

    #[inline]
    pub(crate) fn generation(&self, g: usize) -> &Links {
        &self.generations[g]
    }

    pub(crate) fn permanent(&self) -> &Links {
        &self.permanent
    }

    /// Links a tracked object onto the head of `list` (lists are kept newest first).
    ///
    /// # Safety
    /// `obj` is live, of a tracked type, and on no list; `list` is one of this heap's.
    pub(crate) unsafe fn track(&self, obj: Obj, list: &Links) {
        // SAFETY: live and tracked (caller).
        let links = unsafe { obj.links_ptr() };
        // SAFETY: on no list (caller); `list` is well formed (heap invariant).
        unsafe { list::prepend(links, list) };
        // SAFETY: live (caller).
        unsafe { obj.header() }.set(flags::TRACKED);
    }

    /// Puts a tracked object whose value was not ready (or was lent out) on generation 0,
    /// or on `pending` during a walk.
    ///
    /// # Safety
    /// `obj` is live, of a tracked type, on no list, its value initialised.
    pub(crate) unsafe fn track_young(&self, obj: Obj) {
        let list = if self.phase.get() == CollectorPhase::Walking {
            &self.pending
        } else {
            &self.generations[0]
        };
        // SAFETY: guaranteed by the caller: live, tracked type, on no list.
        unsafe { self.track(obj, list) };
    }

    /// Takes a tracked object off its list without counting it as freed (its value is lent
    /// out by `Gc::get_mut`); it is marked `RETRACK`.
    ///
    /// # Safety
    /// `obj` is live; if `TRACKED`, it is on a well-formed generation list of this heap and
    /// no collection is walking it.
    pub(crate) unsafe fn lend(&self, obj: Obj) {
        // SAFETY: live (caller).
        let hdr = unsafe { obj.header() };
        if !hdr.has(flags::TRACKED) {
            return;
        }
        // SAFETY: live and tracked.
        let links = unsafe { obj.links_ptr() };
        // SAFETY: on a well-formed list that no walk holds (caller).
        unsafe { list::remove(links) };
        hdr.set_flags((hdr.flags() & !flags::TRACKED) | flags::RETRACK);
        if hdr.generation() == NUM_GENERATIONS - 1 {
            // It rejoins generation 0 when the loan is over.
            self.leave_oldest();
            hdr.set_generation(0);
        }
    }

    /// Takes a tracked object off its list; a freed tracked object counts down generation 0
    /// (as CPython), and one promoted into the oldest generation leaves the long-lived
    /// counts, so that objects dying by refcounting do not call for full collections.
    ///
    /// # Safety
    /// `obj` is live; if `TRACKED`, it is on a well-formed list of this heap.
    #[inline]
    pub(crate) unsafe fn untrack(&self, obj: Obj) {
        // SAFETY: live (caller).
        let hdr = unsafe { obj.header() };
        if !hdr.has(flags::TRACKED) {
            return;
        }
        // SAFETY: live, and TRACKED, so it has links.
        let links = unsafe { obj.links_ptr() };
        // SAFETY: TRACKED, so on a well-formed list (caller).
        unsafe { list::remove(links) };
        hdr.clear(flags::TRACKED);
        let c0 = self.counts[0].get();
        if c0 > 0 {
            self.counts[0].set(c0 - 1);
        }
        if hdr.generation() == NUM_GENERATIONS - 1 {
            if !hdr.has(flags::UNREACHABLE) {
                self.leave_oldest();
            }
            let pending = self.long_lived_pending.get();
            if pending > 0 {
                self.long_lived_pending.set(pending - 1);
            } else {
                let total = self.long_lived_total.get();
                self.long_lived_total.set(total.saturating_sub(1));
            }
        }
    }

    /// Moves every object of the generations into the permanent one (`gc.freeze()`).
    pub(crate) fn freeze(&self) {
        let unlist = |obj: Obj| {
            // SAFETY: objects on a generation list are live.
            unsafe { obj.header() }.set_generation(flags::UNLISTED);
        };
        for g in &self.generations {
            // SAFETY: a well-formed list of the heap's tracked objects; `unlist` unlinks
            // nothing.
            unsafe { list::for_each(g, unlist) };
            // SAFETY: all of these are well-formed lists of the heap.
            unsafe { list::merge(g, &self.permanent) };
        }
        // The oldest generation is empty: nothing in it is a candidate. Not so during a
        // collection (from a finalizer or a weak callback), which may still move objects
        // into it.
        self.oldest_len.set(0);
        self.oldest_clean
            .set(self.phase.get() == CollectorPhase::Idle);
        self.counts[0].set(0);
    }

    /// Moves the permanent generation back into the oldest one (`gc.unfreeze()`). Full
    /// collections left the frozen objects out, so what they reach may have stopped being a
    /// candidate while only they reached it: they become candidates themselves, so that the
    /// next full collection traces.
    pub(crate) fn unfreeze(&self) {
        let mark = |obj: Obj| {
            // SAFETY: objects on a generation list are live.
            unsafe { obj.header() }.set(flags::CANDIDATE);
        };
        // SAFETY: a well-formed list of the heap's tracked objects; `mark` unlinks nothing.
        unsafe { list::for_each(&self.permanent, mark) };
        // SAFETY: both are well-formed lists of the heap.
        unsafe { list::merge(&self.permanent, &self.generations[NUM_GENERATIONS - 1]) };
        // Untagged objects on the oldest list, and candidates: the next full collection
        // walks it all.
        self.oldest_clean.set(false);
    }

    /// After a walk: objects allocated during it join generation 0.
    pub(crate) fn adopt_pending(&self) {
        // SAFETY: both are well-formed lists; the walk that kept them apart is over.
        unsafe { list::merge_front(&self.pending, &self.generations[0]) };
    }

    // -- counts, thresholds, statistics ------------------------------------------------

    /// The counts of the generations (`gc.get_count()`).
    pub(crate) fn counts(&self) -> [usize; NUM_GENERATIONS] {
        [
            self.counts[0].get(),
            self.counts[1].get(),
            self.counts[2].get(),
        ]
    }

    /// Counts one tracked allocation; returns whether a collection is due (CPython's
    /// `_PyObject_GC_Link`: count0 > threshold0, collection enabled, threshold0 != 0, none
    /// running).
    #[inline]
    pub(crate) fn count_tracked_allocation(&self) -> bool {
        let c0 = self.counts[0].get() + 1;
        self.counts[0].set(c0);
        let threshold = self.thresholds[0].get();
        c0 > threshold
            && self.enabled.get()
            && threshold != 0
            && self.phase.get() == CollectorPhase::Idle
    }

    /// Counts `bytes` about to be allocated against the byte trigger; returns whether a
    /// collection is due by it (collection enabled and none running). Off by default, when
    /// it never is.
    #[inline(always)]
    pub(crate) fn count_allocated_bytes(&self, bytes: usize) -> bool {
        self.memory_trigger_on.get() && self.count_allocated_bytes_slow(bytes)
    }

    #[cold]
    fn count_allocated_bytes_slow(&self, bytes: usize) -> bool {
        let budget = self.memory_budget.get();
        if bytes < budget {
            self.memory_budget.set(budget - bytes);
            return false;
        }
        self.memory_budget.set(0);
        self.enabled.get() && self.phase.get() == CollectorPhase::Idle
    }

    /// The byte trigger's threshold.
    pub(crate) fn memory_threshold(&self) -> Option<usize> {
        self.memory_threshold.get()
    }

    /// Sets the byte trigger (`None`: off) and starts its count afresh.
    pub(crate) fn set_memory_threshold(&self, threshold: Option<usize>) {
        self.memory_threshold.set(threshold);
        self.memory_trigger_on.set(threshold.is_some());
        self.reset_memory_budget();
    }

    /// A collection ran: the byte trigger counts from zero again.
    fn reset_memory_budget(&self) {
        self.memory_budget
            .set(self.memory_threshold.get().map_or(usize::MAX, |t| t.max(1)));
    }

    /// Counters of a collection of `generation`, as CPython: 0..=generation go to zero and
    /// the next generation counts one collection more.
    pub(crate) fn count_collection(&self, generation: usize) {
        self.reset_memory_budget();
        if generation + 1 < NUM_GENERATIONS {
            let next = &self.counts[generation + 1];
            next.set(next.get() + 1);
        }
        for g in 0..=generation {
            self.counts[g].set(0);
        }
    }

    pub(crate) fn thresholds(&self) -> [usize; NUM_GENERATIONS] {
        [
            self.thresholds[0].get(),
            self.thresholds[1].get(),
            self.thresholds[2].get(),
        ]
    }

    pub(crate) fn set_thresholds(&self, thresholds: [usize; NUM_GENERATIONS]) {
        for (cell, value) in self.thresholds.iter().zip(thresholds) {
            cell.set(value);
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.get()
    }

    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.set(enabled);
    }

    pub(crate) fn debug(&self) -> DebugFlags {
        self.debug.get()
    }

    pub(crate) fn set_debug(&self, debug: DebugFlags) {
        self.debug.set(debug);
    }

    pub(crate) fn stats(&self) -> [GenerationStats; NUM_GENERATIONS] {
        [
            self.stats[0].get(),
            self.stats[1].get(),
            self.stats[2].get(),
        ]
    }

    /// Records a finished collection of `generation` that collected `collected` objects.
    pub(crate) fn record_collection(&self, generation: usize, collected: usize) {
        let stats = &self.stats[generation];
        let mut s = stats.get();
        s.collections += 1;
        s.collected += collected;
        stats.set(s);
    }

    /// Long-lived objects: (total surviving the last full collection, promoted into the
    /// oldest generation since).
    pub(crate) fn long_lived(&self) -> (usize, usize) {
        (self.long_lived_total.get(), self.long_lived_pending.get())
    }

    /// `survivors` objects were promoted into the oldest generation.
    pub(crate) fn add_long_lived_pending(&self, survivors: usize) {
        self.long_lived_pending
            .set(self.long_lived_pending.get() + survivors);
    }

    /// A full collection left `survivors` objects: the long-lived counts start over.
    pub(crate) fn reset_long_lived(&self, survivors: usize) {
        self.long_lived_pending.set(0);
        self.long_lived_total.set(survivors);
    }

    /// At the start of a full collection: `Some(length of the oldest generation)` if no
    /// object on its list is a candidate or escaped, so the collection may leave them out of
    /// its walk. Either way the record is consumed: it holds again only once this
    /// collection establishes it (`set_oldest_clean`).
    pub(crate) fn take_oldest_clean(&self) -> Option<usize> {
        let marked = crate::object::take_oldest_marked();
        let clean = self.oldest_clean.replace(false) && !marked;
        clean.then(|| self.oldest_len.get())
    }

    /// A full collection found no candidate among its `len` survivors, now the whole
    /// oldest generation, all tagged with it.
    pub(crate) fn set_oldest_clean(&self, len: usize) {
        self.oldest_len.set(len);
        self.oldest_clean.set(true);
    }

    /// A collection of the next younger generation promoted `survivors` objects into the
    /// oldest; `with_candidates` when some of them may be candidates.
    pub(crate) fn promote_into_oldest(&self, survivors: usize, with_candidates: bool) {
        self.oldest_len.set(self.oldest_len.get() + survivors);
        if with_candidates {
            self.oldest_clean.set(false);
        }
    }

    /// A full collection traced: candidates and escaped objects may be left on the oldest
    /// list, and its length is not known.
    pub(crate) fn oldest_dirty(&self) {
        self.oldest_clean.set(false);
    }

    /// An object tagged with the oldest generation leaves its list.
    #[inline]
    fn leave_oldest(&self) {
        self.oldest_len.set(self.oldest_len.get().saturating_sub(1));
    }

    /// Objects survived a full collection after its counts were taken.
    pub(crate) fn add_long_lived_total(&self, survivors: usize) {
        self.long_lived_total
            .set(self.long_lived_total.get() + survivors);
    }

    // -- the collector's phase -------------------------------------------------------

    #[inline]
    pub(crate) fn phase(&self) -> CollectorPhase {
        self.phase.get()
    }

    #[inline]
    pub(crate) fn set_phase(&self, phase: CollectorPhase) {
        self.phase.set(phase);
    }

    pub(crate) fn special_unreachable(&self) -> usize {
        self.special_unreachable.get()
    }

    pub(crate) fn set_special_unreachable(&self, n: usize) {
        self.special_unreachable.set(n);
    }

    /// Whether a new strong handle to `hdr` may be made from a raw address (introspection,
    /// `Weak::upgrade`, `object_at`): not for an object being freed or dead, nor for one a
    /// collection is examining (`COLLECTING`) or has found unreachable, except while that
    /// collection's finalizers run, because the resurrection check that follows them sees
    /// any handle kept (CPython: a `__del__` may resurrect through a weakref). A handle made
    /// at any other point could outlive the collection's verdict.
    pub(crate) fn may_hand_out(&self, hdr: &Header) -> bool {
        let always =
            flags::FREEING | flags::DEAD | flags::COLLECTING | flags::CONSTRUCTING | flags::RETRACK;
        let refused = if self.phase.get() == CollectorPhase::Finalizing {
            always
        } else {
            always | flags::UNREACHABLE
        };
        !hdr.has(refused) && hdr.strong() > 0
    }

    // -- callbacks and garbage -------------------------------------------------------

    pub(crate) fn add_callback(&self, f: Callback) -> CallbackId {
        let id = CallbackId(self.next_callback_id.get());
        self.next_callback_id.set(id.0 + 1);
        self.callbacks.borrow_mut().push((id, f));
        id
    }

    pub(crate) fn remove_callback(&self, id: CallbackId) -> bool {
        let mut callbacks = self.callbacks.borrow_mut();
        let before = callbacks.len();
        callbacks.retain(|(i, _)| *i != id);
        callbacks.len() != before
    }

    /// The callbacks now registered, in order (a snapshot: calling them may change the list).
    pub(crate) fn callbacks(&self) -> Vec<Callback> {
        let callbacks = self.callbacks.borrow();
        callbacks.iter().map(|(_, cb)| cb.clone()).collect()
    }

    /// Whether any callback is registered.
    pub(crate) fn has_callbacks(&self) -> bool {
        !self.callbacks.borrow().is_empty()
    }

    /// Keeps `obj` in `garbage()`; the caller gives the heap one strong reference to it.
    pub(crate) fn save_garbage(&self, obj: Obj) {
        self.garbage.borrow_mut().push(obj);
    }

    /// The saved garbage (the heap keeps its references).
    pub(crate) fn garbage(&self) -> Vec<Obj> {
        self.garbage.borrow().clone()
    }

    /// Empties `garbage()`; the caller takes over the heap's references.
    pub(crate) fn take_garbage(&self) -> Vec<Obj> {
        std::mem::take(&mut *self.garbage.borrow_mut())
    }

    // -- weak table ------------------------------------------------------------------

    /// Records `cell` as the newest weak reference to `target`.
    ///
    /// # Safety
    /// `target` is a live object of this heap whose value is not dropped.
    pub(crate) unsafe fn register_weak(&self, target: Obj, cell: Obj) {
        self.weak_table
            .borrow_mut()
            .entry(target)
            .or_default()
            .push(cell);
        // SAFETY: live (caller).
        unsafe { target.header() }.set(flags::HAS_WEAK);
    }

    /// Takes every weak cell of `target` off the table, oldest first.
    ///
    /// # Safety
    /// `target` is a live object of this heap.
    pub(crate) unsafe fn take_weak_cells(&self, target: Obj) -> Vec<Obj> {
        // SAFETY: live (caller).
        unsafe { target.header() }.clear(flags::HAS_WEAK);
        self.weak_table
            .borrow_mut()
            .remove(&target)
            .unwrap_or_default()
    }

    /// The weak cell `cell` of `target` is going away: the table forgets it.
    ///
    /// # Safety
    /// `target` is a live object of this heap.
    pub(crate) unsafe fn forget_weak_cell(&self, target: Obj, cell: Obj) {
        let mut table = self.weak_table.borrow_mut();
        if let Some(cells) = table.get_mut(&target) {
            cells.retain(|&c| c != cell);
            if cells.is_empty() {
                table.remove(&target);
                // SAFETY: live (caller).
                unsafe { target.header() }.clear(flags::HAS_WEAK);
            }
        }
    }

    /// The weak cells of `target` (its weak references), oldest first.
    pub(crate) fn weak_cells(&self, target: Obj) -> Vec<Obj> {
        self.weak_table
            .borrow()
            .get(&target)
            .cloned()
            .unwrap_or_default()
    }

    // -- finalizers --------------------------------------------------------------------

    /// Records that `obj`'s finalizer starts; returns the one it interrupts, to give back
    /// to [`GcHeap::end_finalizer`].
    pub(crate) fn begin_finalizer(&self, obj: Obj) -> Option<Obj> {
        self.finalizing.replace(Some(obj))
    }

    /// The finalizer that [`GcHeap::begin_finalizer`] recorded is over.
    pub(crate) fn end_finalizer(&self, interrupted: Option<Obj>) {
        self.finalizing.set(interrupted);
    }

    /// The object whose finalizer is running, if any.
    pub(crate) fn finalizing(&self) -> Option<Obj> {
        self.finalizing.get()
    }

    // -- panics caught in user code --------------------------------------------------

    /// Keeps the first panic caught in user code (later ones are dropped).
    pub(crate) fn keep_panic(&self, payload: Box<dyn Any + Send>) {
        let mut slot = self.panic.borrow_mut();
        if slot.is_none() {
            *slot = Some(payload);
            self.has_panic.set(true);
        }
    }

    /// Whether a caught panic waits to be re-raised.
    #[inline]
    pub(crate) fn has_pending_panic(&self) -> bool {
        self.has_panic.get()
    }

    /// Takes the caught panic, if any.
    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.has_panic.set(false);
        self.panic.borrow_mut().take()
    }
}
