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
    // SAFETY: `heap` is a live root no thread owns any more; the link is guarded by the lock.
    unsafe { *(*heap).next_abandoned.get() = list.0 };
    list.0 = heap;
}

fn adopt_abandoned() -> *mut HeapRoot {
    let mut list = ABANDONED.lock().unwrap_or_else(|e| e.into_inner());
    let heap = list.0;
    if !heap.is_null() {
        // SAFETY: roots on the list are live; the link is guarded by the lock.
        list.0 = unsafe { *(*heap).next_abandoned.get() };
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
        // SAFETY: the thread's own heap; `stats` allocates nothing, so no re-entrant use of
        // the core can overlap this borrow.
        unsafe { (*heap).core_mut().stats() }
    }

    #[cold]
    fn alloc_small_slow(szidx: usize) -> *mut u8 {
        let heap = init_thread_heap();
        if !heap.is_null() {
            // SAFETY: the thread's own heap, just installed; `szidx` is a valid class.
            return unsafe { (*heap).core_mut().alloc_small(szidx) };
        }
        let mut fallback = FALLBACK.lock().unwrap_or_else(|e| e.into_inner());
        if fallback.0.is_null() {
            fallback.0 = HeapRoot::create(HeapConfig::default());
            if fallback.0.is_null() {
                return ptr::null_mut();
            }
        }
        // SAFETY: the fallback heap is only used under its mutex, which we hold; `szidx` is
        // a valid class. Its blocks are freed through `push_remote` (no thread owns it).
        unsafe { (*fallback.0).core_mut().alloc_small(szidx) }
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
                // SAFETY: the thread's own heap; nothing inside `alloc_small` allocates, so
                // this is the only live borrow of its core.
                return unsafe { (*heap).core_mut().alloc_small(szidx) };
            }
            return GlobalHeap::alloc_small_slow(szidx);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_small(layout) {
            let owner = radix::owner_of(ptr as usize);
            let heap = LOCAL_HEAP.with(Cell::get);
            if owner == heap && !owner.is_null() {
                // SAFETY: our own heap's block, in use (GlobalAlloc contract); no re-entrant
                // borrow of the core is possible here.
                unsafe { (*heap).core_mut().free_small(ptr) };
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
            // SAFETY: both blocks are live and distinct; copy what both hold.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
