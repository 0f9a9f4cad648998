//! The thread-safe form: a `GlobalAlloc` with one pymalloc heap per thread.
//!
//! - Each thread allocates from its own heap: no lock, no atomic on the fast path.
//! - A block freed by a thread that does not own it is pushed onto the owner's lock-free
//!   `remote_free` list (mimalloc's "thread free" idea); the owner takes the whole list
//!   with one swap when it next runs out of free blocks in a size class.
//! - When a thread exits, its heap is *abandoned*, not destroyed (other threads may still
//!   hold its blocks); the next new thread adopts it.
//! - Allocation after the thread's heap was abandoned (from other thread-local
//!   destructors) uses a shared fallback heap behind a mutex.

use super::heap::HeapRoot;
use super::{
    HeapConfig, MallocStats, SMALL_REQUEST_THRESHOLD, is_small_request, radix, size_class,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;
use std::sync::Mutex;

/// A global allocator with a pymalloc heap per thread:
/// `#[global_allocator] static ALLOC: GlobalHeap = GlobalHeap;`.
///
/// Requests of 1..=512 bytes with alignment up to 16 come from the calling thread's heap;
/// others go to the system allocator.
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalHeap;

/// The state of the current thread's heap pointer after its heap was abandoned.
const EXITED: *mut HeapRoot = ptr::dangling_mut();

thread_local! {
    /// The current thread's heap: null before first use, `EXITED` after thread teardown.
    /// No destructor, so it is readable during every other thread-local destructor.
    static LOCAL_HEAP: Cell<*mut HeapRoot> = const { Cell::new(ptr::null_mut()) };
    /// Dropped at thread exit: abandons the thread's heap.
    static HEAP_GUARD: ThreadHeapGuard = const { ThreadHeapGuard };
}

struct ThreadHeapGuard;

impl Drop for ThreadHeapGuard {
    fn drop(&mut self) {
        let heap = LOCAL_HEAP.with(|h| h.replace(EXITED));
        if !heap.is_null() && heap != EXITED {
            abandon(heap);
        }
    }
}

/// A list of heap roots linked through `next_abandoned`.
struct HeapList(*mut HeapRoot);

// SAFETY: the roots on the list belong to no thread; whoever holds the mutex owns them.
unsafe impl Send for HeapList {}

static ABANDONED: Mutex<HeapList> = Mutex::new(HeapList(ptr::null_mut()));
static FALLBACK: Mutex<HeapList> = Mutex::new(HeapList(ptr::null_mut()));

fn abandon(heap: *mut HeapRoot) {
    let mut list = ABANDONED.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `heap` came from `HeapRoot::create` and roots of a `GlobalHeap` are never
    // destroyed, so it is live.
    let root = unsafe { &*heap };
    // SAFETY: `next_abandoned` is only accessed under the `ABANDONED` lock, which we hold.
    unsafe { *root.next_abandoned.get() = list.0 };
    list.0 = heap;
}

fn adopt_abandoned() -> *mut HeapRoot {
    let mut list = ABANDONED.lock().unwrap_or_else(|e| e.into_inner());
    let heap = list.0;
    if !heap.is_null() {
        // SAFETY: roots on the abandoned list came from `HeapRoot::create` and roots of a
        // `GlobalHeap` are never destroyed, so `heap` is live.
        let root = unsafe { &*heap };
        // SAFETY: `next_abandoned` is only accessed under the `ABANDONED` lock, which we hold.
        list.0 = unsafe { *root.next_abandoned.get() };
    }
    heap
}

/// The current thread's heap, creating or adopting one on first use. Null when the thread
/// is past its heap's teardown or out of memory.
#[cold]
fn init_thread_heap() -> *mut HeapRoot {
    let current = LOCAL_HEAP.with(Cell::get);
    if current == EXITED {
        return ptr::null_mut();
    }
    let mut heap = adopt_abandoned();
    if heap.is_null() {
        heap = HeapRoot::create(HeapConfig::default());
        if heap.is_null() {
            return heap;
        }
    }
    // Set before touching the guard: registering its destructor may allocate, and that
    // allocation must find this heap rather than start another.
    LOCAL_HEAP.with(|h| h.set(heap));
    if HEAP_GUARD.try_with(|_| ()).is_err() {
        LOCAL_HEAP.with(|h| h.set(EXITED));
        abandon(heap);
        return ptr::null_mut();
    }
    heap
}

#[inline]
fn is_small(layout: Layout) -> bool {
    is_small_request(layout.size()) && layout.align() <= super::ALIGNMENT
}

impl GlobalHeap {
    /// Statistics of the calling thread's heap (drains blocks other threads freed first).
    pub fn thread_stats() -> MallocStats {
        let mut heap = LOCAL_HEAP.with(Cell::get);
        if heap.is_null() {
            heap = init_thread_heap();
        }
        if heap.is_null() || heap == EXITED {
            return MallocStats::default();
        }
        // SAFETY: a non-null, non-`EXITED` `LOCAL_HEAP` is a live root (roots of a
        // `GlobalHeap` are never destroyed).
        let root = unsafe { &*heap };
        // SAFETY: the thread's own heap, so this is its owning thread; `stats` allocates
        // nothing, so no re-entrant use of the core can overlap this borrow.
        let core = unsafe { root.core_mut() };
        core.stats()
    }

    /// # Safety
    /// `szidx < NB_SMALL_SIZE_CLASSES`.
    #[cold]
    unsafe fn alloc_small_slow(szidx: usize) -> *mut u8 {
        let heap = init_thread_heap();
        if !heap.is_null() {
            // SAFETY: a non-null root from `init_thread_heap` is live (roots of a
            // `GlobalHeap` are never destroyed).
            let root = unsafe { &*heap };
            // SAFETY: the thread's own heap, just installed, so this is its owning thread;
            // `alloc_small` allocates nothing, so this is the only live borrow of its core.
            let core = unsafe { root.core_mut() };
            // SAFETY: `szidx < NB_SMALL_SIZE_CLASSES` (caller).
            return unsafe { core.alloc_small(szidx) };
        }
        let mut fallback = FALLBACK.lock().unwrap_or_else(|e| e.into_inner());
        if fallback.0.is_null() {
            fallback.0 = HeapRoot::create(HeapConfig::default());
            if fallback.0.is_null() {
                return ptr::null_mut();
            }
        }
        // SAFETY: the fallback root came from `HeapRoot::create` (non-null, checked) and is
        // never destroyed.
        let root = unsafe { &*fallback.0 };
        // SAFETY: the fallback heap is only used under its mutex, which we hold, so no other
        // borrow of its core is live. Its blocks are freed through `push_remote` (no thread
        // owns it).
        let core = unsafe { root.core_mut() };
        // SAFETY: `szidx < NB_SMALL_SIZE_CLASSES` (caller).
        unsafe { core.alloc_small(szidx) }
    }
}

// SAFETY: small blocks are 16-aligned blocks of at least the requested size from a heap
// that hands each block out once until freed; other requests are the system allocator's.
unsafe impl GlobalAlloc for GlobalHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_small(layout) {
            let szidx = size_class(layout.size());
            let heap = LOCAL_HEAP.with(Cell::get);
            if !heap.is_null() && heap != EXITED {
                // SAFETY: a non-null, non-`EXITED` `LOCAL_HEAP` is a live root (roots of a
                // `GlobalHeap` are never destroyed).
                let root = unsafe { &*heap };
                // SAFETY: the thread's own heap, so this is its owning thread; nothing inside
                // `alloc_small` allocates, so this is the only live borrow of its core.
                let core = unsafe { root.core_mut() };
                // SAFETY: `szidx` is the class of a small request, below
                // `NB_SMALL_SIZE_CLASSES`.
                return unsafe { core.alloc_small(szidx) };
            }
            // SAFETY: `szidx` is the class of a small request, below `NB_SMALL_SIZE_CLASSES`.
            return unsafe { GlobalHeap::alloc_small_slow(szidx) };
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_small(layout) {
            let owner = radix::owner_of(ptr as usize).cast::<HeapRoot>();
            let heap = LOCAL_HEAP.with(Cell::get);
            if owner == heap && !owner.is_null() {
                // SAFETY: `heap` owns a live arena (radix tree), so it is a live root, not
                // `EXITED` (roots of a `GlobalHeap` are never destroyed).
                let root = unsafe { &*heap };
                // SAFETY: the thread's own heap, so this is its owning thread; nothing inside
                // `free_small` allocates, so no re-entrant borrow of the core is possible.
                let core = unsafe { root.core_mut() };
                // SAFETY: `ptr` is a block in use (GlobalAlloc contract) in an arena of this
                // heap (radix tree).
                unsafe { core.free_small(ptr) };
            } else {
                if owner.is_null() {
                    // A pointer no heap owns: the GlobalAlloc contract was broken.
                    std::process::abort();
                }
                // SAFETY: a block in use of `owner`, a heap that is never destroyed.
                unsafe { HeapRoot::push_remote(owner, ptr) };
            }
            return;
        }
        // SAFETY: forwarded unchanged; the block came from `System.alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let small = is_small(layout);
        if small
            && new_size <= SMALL_REQUEST_THRESHOLD
            && new_size > 0
            && size_class(new_size) == size_class(layout.size())
        {
            return ptr;
        }
        if (!small && !is_small_request(new_size)) || layout.align() > super::ALIGNMENT {
            // SAFETY: the block and its new size stay with the system allocator.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has non-zero size (GlobalAlloc contract).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes (GlobalAlloc contract)
            // and `new` a fresh one of `new_size`; being both live they are distinct, and we
            // copy what both hold.
            unsafe { ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: `ptr` was allocated by this allocator with `layout` (GlobalAlloc
            // contract) and is not used again.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
