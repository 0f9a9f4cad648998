//! The current thread's object heap: the allocator its objects live in, the generation
//! lists, counts and thresholds, and the refcount-driven free path.
//!
//! Everything here is per thread (`Gc` is neither `Send` nor `Sync`). The state uses
//! interior mutability only: user code (finalizers, `Drop`, callbacks) runs in the middle
//! of most operations and may call back into the heap, so no `&mut` to it is ever held
//! across a call out.

use crate::alloc::Heap;
use crate::control::{CallbackId, CallbackInfo, DebugFlags, GenerationStats, Phase};
use crate::list;
use crate::object::{Header, Links, VTable, flags};
use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::{self, NonNull};
use std::rc::Rc;

pub(crate) const NUM_GENERATIONS: usize = 3;

/// Frees nested deeper than this are queued instead of run on the stack.
const MAX_FREE_DEPTH: u32 = 16;

/// A collection callback, shared so a snapshot can be called while the list changes.
pub(crate) type Callback = Rc<dyn Fn(Phase, &CallbackInfo)>;

/// One thread's heap.
pub(crate) struct GcHeap {
    /// Where objects live. Borrowed mutably only inside `alloc_block`/`free_block`, which
    /// call no user code.
    allocator: UnsafeCell<Heap>,
    /// Objects allocated outside the pools (large or over-aligned), for `object_at`.
    pub(crate) large_objects: RefCell<HashSet<usize>>,
    pub(crate) generations: [Links; NUM_GENERATIONS],
    pub(crate) permanent: Links,
    /// Objects allocated while a collection walks the lists (from a `Trace` impl): they
    /// join generation 0 when the walk is over, so no list changes under it.
    pending: Links,
    pub(crate) counts: [Cell<usize>; NUM_GENERATIONS],
    pub(crate) thresholds: [Cell<usize>; NUM_GENERATIONS],
    pub(crate) enabled: Cell<bool>,
    /// A collection is running: another one returns 0 at once.
    pub(crate) collecting: Cell<bool>,
    pub(crate) debug: Cell<DebugFlags>,
    pub(crate) stats: [Cell<GenerationStats>; NUM_GENERATIONS],
    pub(crate) long_lived_total: Cell<usize>,
    pub(crate) long_lived_pending: Cell<usize>,
    pub(crate) callbacks: RefCell<Vec<(CallbackId, Callback)>>,
    pub(crate) next_callback_id: Cell<u64>,
    /// `DebugFlags::SAVEALL` garbage, as strong handles.
    pub(crate) garbage: RefCell<Vec<NonNull<Header>>>,
    /// Objects whose count reached zero while another free or a graph phase was running.
    free_queue: RefCell<Vec<NonNull<Header>>>,
    /// Whether `free_queue` may be non-empty.
    queued: Cell<bool>,
    /// How many frees are nested on the stack. Up to `MAX_FREE_DEPTH` a free runs at
    /// once (depth-first, cache-friendly); deeper ones queue up, so freeing a chain of any
    /// length uses bounded stack.
    pub(crate) free_depth: Cell<u32>,
    /// The object being freed at each depth, so a guard that catches a panic from a
    /// `Drop` can finish the frees the panic cut short. Depths reach `MAX_FREE_DEPTH + 1`
    /// (a queue drained by a collection that a free at the deepest level started).
    in_progress: [Cell<*mut Header>; MAX_FREE_DEPTH as usize + 2],
    /// A collection is walking the lists: frees wait until it is done.
    pub(crate) defer_frees: Cell<bool>,
    /// Finalizers of a collection's garbage are running (the resurrection check follows).
    pub(crate) finalizing: Cell<bool>,
    /// Objects the last `move_unreachable` put on `unreachable` that have weak references
    /// or a finalizer still to run (an upper bound: some may have moved back).
    pub(crate) special_unreachable: Cell<usize>,
    /// For each object with weak references, its weak cells, oldest first.
    pub(crate) weak_table: RefCell<HashMap<usize, Vec<NonNull<Header>>>>,
    /// The first panic caught in user code, re-raised once the heap is consistent.
    panic: RefCell<Option<Box<dyn Any + Send>>>,
    /// Whether `panic` holds one (checked on every free without touching the `RefCell`).
    has_panic: Cell<bool>,
}

/// The state of the thread-local heap pointer once the thread's heap was torn down.
const EXITED: *const GcHeap = ptr::dangling();

thread_local! {
    /// No destructor, so it stays readable during every other thread-local destructor.
    static HEAP: Cell<*const GcHeap> = const { Cell::new(ptr::null()) };
    /// Tears the heap down at thread exit.
    static HEAP_GUARD: HeapGuard = const { HeapGuard };
}

struct HeapGuard;

impl Drop for HeapGuard {
    fn drop(&mut self) {
        let heap = HEAP.with(Cell::get);
        if heap.is_null() || heap == EXITED {
            return;
        }
        // SAFETY: the pointer came from `Box::into_raw` in `heap()` and is still owned by
        // this thread.
        let h = unsafe { &*heap };
        // A last full collection runs the finalizers of the thread's garbage.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            h.clear_garbage();
            crate::collect::collect_main(h, NUM_GENERATIONS - 1);
        }));
        // Anything still referenced (say, from another thread-local not yet destroyed)
        // keeps the heap: it is leaked, never freed under a live handle.
        // SAFETY: no user code runs during `stats`, so this exclusive borrow is unique.
        let blocks_left = unsafe { (*h.allocator.get()).stats() }.blocks_in_use();
        if blocks_left == 0 && h.large_objects.borrow().is_empty() {
            HEAP.with(|c| c.set(EXITED));
            // SAFETY: no object is left, so nothing refers to the heap any more.
            drop(unsafe { Box::from_raw(heap.cast_mut()) });
        }
    }
}

/// The current thread's heap, created on first use.
#[inline]
pub(crate) fn heap() -> &'static GcHeap {
    let p = HEAP.with(Cell::get);
    if !p.is_null() && p != EXITED {
        // SAFETY: a live heap of this thread; it is only freed by the thread-exit guard
        // once no object (and so no caller) uses it.
        return unsafe { &*p };
    }
    new_heap()
}

#[cold]
fn new_heap() -> &'static GcHeap {
    let exited = HEAP.with(Cell::get) == EXITED;
    let heap: &'static GcHeap = Box::leak(Box::new(GcHeap::new()));
    heap.init_lists();
    HEAP.with(|c| c.set(heap));
    if !exited {
        // Registers the guard's destructor; during thread teardown this may fail, and the
        // heap is then simply leaked.
        let _ = HEAP_GUARD.try_with(|_| ());
    }
    heap
}

/// The current thread's heap if it has one that can still free objects.
#[inline]
pub(crate) fn heap_if_alive() -> Option<&'static GcHeap> {
    let p = HEAP.try_with(Cell::get).ok()?;
    if p.is_null() || p == EXITED {
        None
    } else {
        // SAFETY: as in `heap()`.
        Some(unsafe { &*p })
    }
}

impl GcHeap {
    fn new() -> GcHeap {
        GcHeap {
            allocator: UnsafeCell::new(Heap::new()),
            large_objects: RefCell::default(),
            generations: [Links::unlinked(), Links::unlinked(), Links::unlinked()],
            permanent: Links::unlinked(),
            pending: Links::unlinked(),
            counts: Default::default(),
            thresholds: [Cell::new(700), Cell::new(10), Cell::new(10)],
            enabled: Cell::new(true),
            collecting: Cell::new(false),
            debug: Cell::new(DebugFlags::empty()),
            stats: Default::default(),
            long_lived_total: Cell::new(0),
            long_lived_pending: Cell::new(0),
            callbacks: RefCell::default(),
            next_callback_id: Cell::new(0),
            garbage: RefCell::default(),
            free_queue: RefCell::default(),
            queued: Cell::new(false),
            free_depth: Cell::new(0),
            in_progress: [const { Cell::new(ptr::null_mut()) }; MAX_FREE_DEPTH as usize + 2],
            defer_frees: Cell::new(false),
            special_unreachable: Cell::new(0),
            finalizing: Cell::new(false),
            weak_table: RefCell::default(),
            panic: RefCell::new(None),
            has_panic: Cell::new(false),
        }
    }

    /// Sentinels point at themselves, so this runs once the heap is at its final address.
    fn init_lists(&self) {
        for g in &self.generations {
            list::init(g);
        }
        list::init(&self.permanent);
        list::init(&self.pending);
    }

    #[inline]
    pub(crate) fn generation(&self, g: usize) -> &Links {
        &self.generations[g]
    }

    /// Allocates an object of type `vt` with a strong count of 1 and an uninitialised
    /// value. Tracked objects count toward generation 0 first and may trigger a collection
    /// (CPython's order: the collection runs before the new object exists).
    pub(crate) fn alloc_object(&self, vt: &'static VTable) -> Option<NonNull<Header>> {
        if vt.tracked {
            let c0 = self.counts[0].get() + 1;
            self.counts[0].set(c0);
            if c0 > self.thresholds[0].get()
                && self.enabled.get()
                && self.thresholds[0].get() != 0
                && !self.collecting.get()
            {
                crate::collect::collect_generations(self);
            }
        }
        let (block, large) = self.alloc_block(vt)?;
        let header = block.cast::<Header>();
        let initial_flags = if large { flags::LARGE } else { 0 };
        // SAFETY: `block` is a fresh allocation of `vt.size >= HEADER_SIZE` bytes, aligned
        // to at least 16.
        // Field by field with scalar stores: the free path soon reads the count and flags
        // back, and a load forwarded from one wide vector store would stall.
        unsafe {
            let p = header.as_ptr();
            std::ptr::addr_of_mut!((*p).refcount).write_volatile(Cell::new(1));
            std::ptr::addr_of_mut!((*p).flags).write_volatile(Cell::new(initial_flags));
            std::ptr::addr_of_mut!((*p).vtable).write(vt);
        }
        if vt.tracked {
            let list = if self.defer_frees.get() {
                &self.pending
            } else {
                &self.generations[0]
            };
            self.track(header, list);
        }
        Some(header)
    }

    fn alloc_block(&self, vt: &VTable) -> Option<(NonNull<u8>, bool)> {
        if vt.size <= crate::alloc::SMALL_REQUEST_THRESHOLD && vt.align <= 16 {
            // SAFETY: the allocator calls no user code, so this borrow is unique.
            let p = unsafe { (*self.allocator.get()).alloc(vt.size) };
            NonNull::new(p).map(|p| (p, false))
        } else {
            let layout = Layout::from_size_align(vt.size, vt.align).ok()?;
            // SAFETY: the layout has non-zero size (it includes the header).
            let p = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
            self.large_objects.borrow_mut().insert(p.as_ptr() as usize);
            Some((p, true))
        }
    }

    /// Returns the memory of a freed object.
    ///
    /// # Safety
    /// `h` is an object of this heap with no handle left, off every list; not used again.
    #[inline]
    unsafe fn free_block(&self, h: NonNull<Header>) {
        // SAFETY: the header is still readable (caller).
        let (vt, large) = unsafe { (h.as_ref().vtable, h.as_ref().has(flags::LARGE)) };
        if large {
            self.large_objects
                .borrow_mut()
                .remove(&(h.as_ptr() as usize));
            let layout = Layout::from_size_align(vt.size, vt.align).expect("valid layout");
            // SAFETY: allocated in `alloc_block` with this layout.
            unsafe { std::alloc::dealloc(h.as_ptr().cast(), layout) };
        } else {
            // SAFETY: a pool block of our allocator, allocated with `vt.size` bytes; the
            // allocator calls no user code, so the borrow is unique.
            unsafe { (*self.allocator.get()).free_sized(h.as_ptr().cast(), vt.size) };
        }
    }

    /// Links a tracked object onto the head of `list` (lists are kept newest first).
    pub(crate) fn track(&self, h: NonNull<Header>, list: &Links) {
        // SAFETY: `h` is a live tracked object on no list.
        unsafe {
            list::prepend(Header::links(h), list);
            h.as_ref().set(flags::TRACKED);
        }
    }

    /// Takes a tracked object off its list; a freed tracked object counts down generation 0
    /// (as CPython), and one promoted into the oldest generation leaves the long-lived
    /// counts, so that objects dying by refcounting do not call for full collections.
    #[inline]
    pub(crate) fn untrack(&self, h: NonNull<Header>) {
        // SAFETY: `h` is a live object; if TRACKED it is on a well-formed list.
        let hdr = unsafe { h.as_ref() };
        if !hdr.has(flags::TRACKED) {
            return;
        }
        // SAFETY: as above.
        unsafe { list::remove(Header::links(h)) };
        hdr.clear(flags::TRACKED);
        let c0 = self.counts[0].get();
        if c0 > 0 {
            self.counts[0].set(c0 - 1);
        }
        if (hdr.flags.get() & flags::GEN_MASK) >> flags::GEN_SHIFT == 2 {
            let pending = self.long_lived_pending.get();
            if pending > 0 {
                self.long_lived_pending.set(pending - 1);
            } else {
                let total = self.long_lived_total.get();
                self.long_lived_total.set(total.saturating_sub(1));
            }
        }
    }

    /// The strong count of `h` reached zero: free it (after its finalizer, which may
    /// resurrect it), or queue it when frees are nested `MAX_FREE_DEPTH` deep or a
    /// collection's graph phase is running. The outermost free drains the queue, so a
    /// chain of any length is freed with bounded stack.
    pub(crate) fn release(&self, h: NonNull<Header>) {
        // SAFETY: `h` is a live object whose count just reached zero.
        let hdr = unsafe { h.as_ref() };
        let object_flags = hdr.flags.get() | flags::FREEING;
        hdr.flags.set(object_flags);
        let depth = self.free_depth.get();
        if depth >= MAX_FREE_DEPTH || self.defer_frees.get() {
            self.free_queue.borrow_mut().push(h);
            self.queued.set(true);
            return;
        }
        let slot = depth + 1;
        self.free_depth.set(slot);
        // The outermost free guards itself and the frees nested in it; a nested free
        // guards itself only while the thread unwinds (a second panic would abort).
        let runs_user_code = hdr.vtable.needs_drop
            || hdr.vtable.finalize.is_some()
            || object_flags & flags::HAS_WEAK != 0;
        if !runs_user_code {
            // Nothing here can panic: no guard needed.
            // SAFETY: as above.
            unsafe { self.free_object(h, object_flags) };
        } else if depth == 0 || std::thread::panicking() {
            // SAFETY: as above.
            unsafe { self.free_guarded(h, object_flags, slot) };
        } else {
            // A panic in a `Drop` below unwinds to the guard of the outermost release (or
            // of the collector), which finishes the frees it cut short.
            self.in_progress[slot as usize].set(h.as_ptr());
            // SAFETY: as above.
            unsafe { self.free_object(h, object_flags) };
            self.in_progress[slot as usize].set(ptr::null_mut());
        }
        if depth == 0 {
            if self.queued.get() {
                self.drain_free_queue();
            }
            self.free_depth.set(0);
            if !self.collecting.get() {
                self.raise_pending_panic();
            }
        } else {
            self.free_depth.set(depth);
        }
    }

    /// Frees every queued object (the caller has raised `free_depth`, so frees nested in
    /// these ones do not drain the queue themselves).
    pub(crate) fn drain_free_queue(&self) {
        loop {
            let next = self.free_queue.borrow_mut().pop();
            match next {
                // SAFETY: queued objects have a zero count and are not yet freed.
                Some(h) => {
                    // SAFETY: as above.
                    unsafe { self.free_guarded(h, h.as_ref().flags.get(), self.free_depth.get()) }
                }
                None => break,
            }
        }
        self.queued.set(false);
    }

    /// After a graph phase: objects allocated during it join generation 0, and the frees
    /// it deferred run. Returns whether any did (they ran `Drop`s and finalizers).
    pub(crate) fn run_deferred_frees(&self) -> bool {
        // SAFETY: both are well-formed lists; the walk that kept them apart is over.
        unsafe { list::merge_front(&self.pending, &self.generations[0]) };
        if !self.queued.get() {
            return false;
        }
        let depth = self.free_depth.get();
        self.free_depth.set(depth + 1);
        self.drain_free_queue();
        self.free_depth.set(depth);
        true
    }

    /// `free_object` under a panic guard: a panic in a `Drop` (here or in a free nested
    /// below, up to `slot`'s depth) is kept for later, and the frees it cut short are
    /// finished, so no block is lost and no value dropped twice.
    ///
    /// # Safety
    /// As `free_object`; `slot` is the current free depth (at least 1).
    unsafe fn free_guarded(&self, h: NonNull<Header>, object_flags: u32, slot: u32) {
        self.in_progress[slot as usize].set(h.as_ptr());
        // SAFETY: guaranteed by the caller.
        let freed = catch_unwind(AssertUnwindSafe(|| unsafe {
            self.free_object(h, object_flags)
        }));
        if let Err(payload) = freed {
            self.keep_panic(payload);
            self.finish_cut_short_frees(slot);
        }
        self.in_progress[slot as usize].set(ptr::null_mut());
    }

    /// After a panic from a `Drop` was caught at free depth `slot - 1`: finishes every free
    /// at depth `slot` and deeper that the unwinding cut short, and restores the depth.
    /// Only a value's drop can unwind out of `free_object` (finalizers and weak callbacks
    /// are guarded), and it runs after DEAD is set and the object is off every list: what
    /// is left of each cut-short free is returning the block.
    fn finish_cut_short_frees(&self, slot: u32) {
        for cut_short in self.in_progress[slot as usize..].iter().rev() {
            if let Some(h) = NonNull::new(cut_short.replace(ptr::null_mut())) {
                // SAFETY: a freed object with no handle, off every list, DEAD.
                unsafe { self.free_block(h) };
            }
        }
        self.free_depth.set(slot);
    }

    /// # Safety
    /// `h` is a live object with a zero count, marked FREEING, not freed before.
    /// `object_flags` is the object's flags word, passed along by the caller that just
    /// wrote it (reading it back at once can stall on store forwarding).
    #[inline]
    unsafe fn free_object(&self, h: NonNull<Header>, object_flags: u32) {
        // SAFETY: live until `free_block` below.
        let hdr = unsafe { h.as_ref() };
        if object_flags & flags::DEAD == 0 {
            if let Some(finalize) = hdr.vtable.finalize
                && object_flags & flags::FINALIZED == 0
            {
                // PEP 442: the finalizer sees the object alive (weak references
                // upgrade), and may resurrect it.
                hdr.set(flags::FINALIZED);
                hdr.clear(flags::FREEING);
                hdr.refcount.set(1);
                let value = Header::value_ptr(h);
                // SAFETY: the value is live and initialised.
                self.call_user(|| unsafe { finalize(value) });
                let rc = hdr.refcount.get() - 1;
                hdr.refcount.set(rc);
                if rc > 0 {
                    return;
                }
                hdr.set(flags::FREEING);
            }
            // A panic in `Drop` leaves this object's block unreturned (a leak, never a
            // double drop: DEAD is set first) and is caught by the outermost release.
            self.kill_with(h, false);
        } else {
            self.untrack(h);
        }
        if hdr.has(flags::HAS_WEAK) {
            // Weak references made while the value died (from a weak callback or `Drop`)
            // must not outlive the memory.
            crate::weak::clear_weakrefs(self, h);
        }
        // SAFETY: no handle is left and the object is off every list.
        unsafe { self.free_block(h) };
    }

    /// Ends the value of `h`: its weak references die (their callbacks run), it leaves the
    /// generation lists, and its value is dropped in place. The memory stays until the
    /// last handle goes; handles then see the object dead.
    #[inline]
    pub(crate) fn kill(&self, h: NonNull<Header>) {
        self.kill_with(h, true);
    }

    /// `kill`; with `guard` false a panic in `Drop` propagates to the caller's guard
    /// (the outermost `release`), which saves one `catch_unwind` per freed object.
    #[inline]
    fn kill_with(&self, h: NonNull<Header>, guard: bool) {
        // SAFETY: `h` is live; its value is initialised until DEAD is set.
        let hdr = unsafe { h.as_ref() };
        if hdr.has(flags::HAS_WEAK) {
            crate::weak::clear_weakrefs(self, h);
        }
        self.untrack(h);
        // A dead object is in no collection any more, whatever list it was taken from.
        hdr.flags
            .set((hdr.flags.get() | flags::DEAD) & !(flags::COLLECTING | flags::UNREACHABLE));
        if hdr.vtable.needs_drop {
            let value = Header::value_ptr(h);
            let drop_value = hdr.vtable.drop_value;
            if guard {
                let depth = self.free_depth.get();
                // SAFETY: DEAD is set first, so nothing reads or drops the value again.
                let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { drop_value(value) }));
                if let Err(payload) = dropped {
                    self.keep_panic(payload);
                    self.finish_cut_short_frees(depth + 1);
                    self.free_depth.set(depth);
                }
            } else {
                // SAFETY: as above.
                unsafe { drop_value(value) };
            }
        }
    }

    /// Runs user code; a panic is caught and kept (the first one) to be re-raised once the
    /// heap is consistent again.
    pub(crate) fn call_user(&self, f: impl FnOnce()) {
        let depth = self.free_depth.get();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.keep_panic(payload);
            // The user code may have been freeing objects when it panicked.
            self.finish_cut_short_frees(depth + 1);
            self.free_depth.set(depth);
        }
    }

    /// Keeps the first panic caught in user code (later ones are dropped).
    pub(crate) fn keep_panic(&self, payload: Box<dyn Any + Send>) {
        let mut slot = self.panic.borrow_mut();
        if slot.is_none() {
            *slot = Some(payload);
            self.has_panic.set(true);
        }
    }

    /// Re-raises the first panic caught in user code, unless the thread is already
    /// unwinding (a second panic would abort).
    #[inline]
    pub(crate) fn raise_pending_panic(&self) {
        if self.has_panic.get() {
            self.raise_pending_panic_slow();
        }
    }

    #[cold]
    fn raise_pending_panic_slow(&self) {
        self.has_panic.set(false);
        let payload = self.panic.borrow_mut().take();
        if let Some(payload) = payload
            && !std::thread::panicking()
        {
            resume_unwind(payload);
        }
    }

    /// Adds a strong reference held by the heap itself.
    pub(crate) fn incref(&self, h: NonNull<Header>) {
        // SAFETY: `h` is live.
        let hdr = unsafe { h.as_ref() };
        let rc = hdr.refcount.get().wrapping_add(1);
        hdr.refcount.set(rc);
        if rc == 0 {
            // As `Rc`: a count that wrapped would free a live object.
            std::process::abort();
        }
    }

    /// Drops a strong reference held by the heap itself.
    pub(crate) fn decref(&self, h: NonNull<Header>) {
        // SAFETY: `h` is live and the heap holds one of its references.
        let hdr = unsafe { h.as_ref() };
        let rc = hdr.refcount.get() - 1;
        hdr.refcount.set(rc);
        if rc == 0 {
            self.release(h);
        }
    }

    /// Statistics of the object allocator.
    pub(crate) fn malloc_stats(&self) -> crate::alloc::MallocStats {
        // SAFETY: `stats` calls no user code, so the borrow is unique.
        unsafe { (*self.allocator.get()).stats() }
    }

    /// Whether `addr` is the start of a block in use of the object allocator.
    pub(crate) fn is_live_block(&self, addr: usize) -> bool {
        // SAFETY: the query calls no user code and reads only memory the allocator owns.
        unsafe { (*self.allocator.get()).is_allocated_block(addr as *const u8) }
    }

    /// Empties `garbage()`, dropping the heap's handles.
    pub(crate) fn clear_garbage(&self) {
        let saved = std::mem::take(&mut *self.garbage.borrow_mut());
        for h in saved {
            self.decref(h);
        }
    }

    /// Calls every collection callback, in registration order, on a snapshot of the list.
    pub(crate) fn invoke_callbacks(&self, phase: Phase, info: &CallbackInfo) {
        if self.callbacks.borrow().is_empty() {
            return;
        }
        let snapshot: Vec<Callback> = self
            .callbacks
            .borrow()
            .iter()
            .map(|(_, cb)| cb.clone())
            .collect();
        for cb in snapshot {
            self.call_user(|| cb(phase, info));
        }
    }
}
