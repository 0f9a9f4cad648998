//! Arenas, pools and blocks: the single-threaded heap.
//!
//! Invariants (checked by [`HeapCore::validate`]):
//! - A pool is on `usedpools[c]` exactly when it serves class `c`, has at least one block
//!   in use and at least one block available; its `freeblock` is then non-null (a pool
//!   whose free list runs dry carves its next fresh block at once, or leaves the list).
//! - For every pool in use: `count` + free-list length + uncarved blocks = capacity.
//! - An arena is on the usable list exactly when `0 < nfreepools < POOLS_PER_ARENA`; the
//!   list is sorted by `nfreepools` ascending and `nfp2lasta[n]` is its last arena with
//!   `n` free pools (null if none).
//! - An arena with every pool free is on the empty cache, the idle list or the reserve
//!   list, or unmapped. The idle list is a stack; its `idle_low_water` bottom arenas have
//!   been on it since the current purge interval began.
//! - `radix::owner_of(address)` is this heap's root (cast to `*mut ()`) for every address of
//!   every arena on `all_arenas`, and null again once an arena is unmapped.

use super::{
    ARENA_SIZE, NB_SMALL_SIZE_CLASSES, POOL_SIZE, POOLS_PER_ARENA, class_size, is_small_request,
    os, radix, size_class,
    stats::{MallocStats, SizeClassStats},
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, Instant};

/// A free block: its first word links the pool's free list.
#[repr(C)]
pub(crate) struct Block {
    next: *mut Block,
}

/// The header of a pool. Pool headers live together in their arena's header (not at the
/// start of each pool, as in CPython): blocks start at a pool's first byte, and freeing at
/// random touches a few dense cache lines of metadata instead of one line (and one TLB
/// entry) per pool.
#[repr(C)]
pub(crate) struct Pool {
    /// Head of the free list of carved blocks not in use (null when there is none).
    freeblock: *mut Block,
    /// Blocks in use (handed out and not yet freed back into this pool).
    count: u32,
    /// Size class of the blocks.
    szidx: u32,
    /// Offset of the next block never handed out.
    nextoffset: u32,
    /// Largest offset at which a whole block still fits.
    maxnextoffset: u32,
    /// Links on `usedpools` (both) or on the arena's `freepools` (`nextpool` only).
    nextpool: *mut Pool,
    prevpool: *mut Pool,
}

#[cfg(debug_assertions)]
const GRANULES_PER_POOL: usize = POOL_SIZE / super::ALIGNMENT;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum ArenaState {
    /// Serving pools (on the usable list, or full).
    InUse,
    /// Wholly empty, pages resident, kept for reuse.
    Cached,
    /// Wholly empty, pages resident, given back if it stays unused (`purge_delay`).
    Idle,
    /// Wholly empty, pages given back to the OS, mapping kept for reuse.
    Reserved,
}

/// The header of an arena, in the arena's first pool-sized slot.
#[repr(C)]
pub(crate) struct Arena {
    /// Free pools, counting the never-used ones.
    nfreepools: u32,
    /// Pools at index `fresh_from` and above have never been used since (re)initialisation.
    fresh_from: u32,
    state: ArenaState,
    /// Pools that were used and are empty again, linked through `Pool::nextpool`.
    freepools: *mut Pool,
    /// Links on the usable list, the empty cache, the idle list or the reserve list.
    nextarena: *mut Arena,
    prevarena: *mut Arena,
    /// Links on the list of every mapped arena of the heap.
    allnext: *mut Arena,
    allprev: *mut Arena,
    /// The headers of the arena's pools (pool `i` is the slot `i + 1`).
    pools: [Pool; POOLS_PER_ARENA],
    /// Debug builds: one bit per 16-byte granule of each pool, set while a block starting
    /// there is in use. Catches double frees and frees of interior pointers.
    #[cfg(debug_assertions)]
    live: [[u64; GRANULES_PER_POOL / 64]; POOLS_PER_ARENA],
}

const _: () = assert!(size_of::<Arena>() <= POOL_SIZE);

#[inline]
fn arena_of(p: *const u8) -> *mut Arena {
    ((p as usize) & !(ARENA_SIZE - 1)) as *mut Arena
}

/// Whether `p` lies in a pool of its arena (not in the arena header's slot).
#[inline]
fn in_pool_area(p: *const u8) -> bool {
    p as usize - arena_of(p) as usize >= POOL_SIZE
}

/// The header of the pool holding `p`, which must be in a pool area.
#[inline]
fn pool_of(p: *const u8) -> *mut Pool {
    let arena = arena_of(p);
    pool_at(arena, (p as usize - arena as usize) / POOL_SIZE - 1)
}

/// The header of pool `index` of `arena`.
#[inline]
fn pool_at(arena: *mut Arena, index: usize) -> *mut Pool {
    (arena as usize + std::mem::offset_of!(Arena, pools) + index * size_of::<Pool>()) as *mut Pool
}

/// The index of the pool whose header is `pool`.
#[inline]
fn pool_index(arena: *mut Arena, pool: *mut Pool) -> usize {
    (pool as usize - arena as usize - std::mem::offset_of!(Arena, pools)) / size_of::<Pool>()
}

/// The first byte of the pool whose header is `pool`.
#[inline]
fn pool_base(pool: *mut Pool) -> *mut u8 {
    let arena = arena_of(pool.cast());
    (arena as usize + (pool_index(arena, pool) + 1) * POOL_SIZE) as *mut u8
}

/// Blocks of class `class` that fit in one pool.
#[inline]
pub(crate) const fn pool_capacity(class: usize) -> usize {
    POOL_SIZE / class_size(class)
}

/// The purge interval of [`HeapConfig::default`].
pub const DEFAULT_PURGE_DELAY: Duration = Duration::from_millis(50);

/// How many empty arenas a heap keeps instead of unmapping them, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapConfig {
    /// Wholly empty arenas kept with their pages resident (CPython keeps 1). Each costs
    /// up to 1 MiB of RSS and saves the page faults of refilling it.
    pub retained_empty_arenas: usize,
    /// Further empty arenas stay resident while the heap keeps reusing them: one that sits
    /// unused through a whole interval of this length is given back (decommitted, or
    /// unmapped past `reserved_arenas`) at the heap's next slow path (a fresh pool, an
    /// emptied arena), so between one and two intervals after it emptied if the heap is
    /// active; an idle heap gives it back on `release_free_memory`. A burst that is freed
    /// and soon allocated again (a language runtime's young objects) reuses resident pages
    /// instead of faulting them in again. `None`: given back at once.
    pub purge_delay: Option<Duration>,
    /// Further empty arenas whose pages are given back to the OS (`MADV_DONTNEED`) but
    /// whose mapping is kept, so a burst of allocation after a burst of frees reuses them
    /// without `mmap`/`munmap` calls, alignment trimming or radix-tree updates. Each costs
    /// one resident page.
    pub reserved_arenas: usize,
}

impl HeapConfig {
    /// CPython's policy: keep one empty arena, unmap the others.
    pub const fn cpython() -> Self {
        HeapConfig {
            retained_empty_arenas: 1,
            reserved_arenas: 0,
            purge_delay: None,
        }
    }
}

impl Default for HeapConfig {
    /// One resident empty arena (as CPython), others given back after
    /// [`DEFAULT_PURGE_DELAY`] unused, up to 64 of those decommitted rather than unmapped.
    fn default() -> Self {
        HeapConfig {
            retained_empty_arenas: 1,
            reserved_arenas: 64,
            purge_delay: Some(DEFAULT_PURGE_DELAY),
        }
    }
}

/// The mutable state of one heap. Only its owning thread touches it.
pub(crate) struct HeapCore {
    root: *mut HeapRoot,
    config: HeapConfig,
    /// Per size class, the partly used pools (doubly linked, null-terminated).
    usedpools: [*mut Pool; NB_SMALL_SIZE_CLASSES],
    /// Arenas with some but not all pools free, fewest free pools first.
    usable_arenas: *mut Arena,
    /// `nfp2lasta[n]`: the last arena on the usable list with `n` free pools.
    nfp2lasta: [*mut Arena; POOLS_PER_ARENA + 1],
    /// Every mapped arena, whatever its state.
    all_arenas: *mut Arena,
    /// A pool kept on `usedpools` although it may be empty (see `pool_became_empty`); it
    /// takes one of the `retained_empty_arenas` places while set.
    hot_pool: *mut Pool,
    /// Empty arenas with resident pages.
    cached: *mut Arena,
    /// Arenas on `cached`, plus one while `hot_pool` is set.
    ncached: usize,
    /// Empty arenas with resident pages, beyond the cache, waiting out `purge_delay`.
    idle: *mut Arena,
    nidle: usize,
    /// The fewest arenas `idle` held since `purge_epoch`: that many at its bottom sat
    /// unused through the whole interval.
    idle_low_water: usize,
    /// When the current purge interval began.
    purge_epoch: Option<Instant>,
    /// Empty arenas with decommitted pages.
    reserved: *mut Arena,
    nreserved: usize,
    arenas_allocated_total: usize,
    arenas_reclaimed: usize,
    arenas_current: usize,
    arenas_highwater: usize,
}

/// A heap as other threads see it: the lock-free list of blocks they freed, beside the
/// owner's state. Only `remote_free` is ever touched by a thread other than the owner.
pub(crate) struct HeapRoot {
    remote_free: AtomicPtr<Block>,
    /// Link on the global list of heaps whose thread exited (guarded by that list's lock).
    pub(crate) next_abandoned: UnsafeCell<*mut HeapRoot>,
    core: UnsafeCell<HeapCore>,
}

impl HeapRoot {
    /// Creates a heap; memory for the root itself comes from the system allocator, so this
    /// never re-enters a `GlobalHeap`. Returns null when out of memory.
    pub(crate) fn create(config: HeapConfig) -> *mut HeapRoot {
        let layout = Layout::new::<HeapRoot>();
        // SAFETY: `HeapRoot` has non-zero size.
        let root = unsafe { System.alloc(layout) }.cast::<HeapRoot>();
        if root.is_null() {
            return root;
        }
        let value = HeapRoot {
            remote_free: AtomicPtr::new(ptr::null_mut()),
            next_abandoned: UnsafeCell::new(ptr::null_mut()),
            core: UnsafeCell::new(HeapCore {
                root,
                config,
                usedpools: [ptr::null_mut(); NB_SMALL_SIZE_CLASSES],
                usable_arenas: ptr::null_mut(),
                nfp2lasta: [ptr::null_mut(); POOLS_PER_ARENA + 1],
                all_arenas: ptr::null_mut(),
                hot_pool: ptr::null_mut(),
                cached: ptr::null_mut(),
                ncached: 0,
                idle: ptr::null_mut(),
                nidle: 0,
                idle_low_water: 0,
                purge_epoch: None,
                reserved: ptr::null_mut(),
                nreserved: 0,
                arenas_allocated_total: 0,
                arenas_reclaimed: 0,
                arenas_current: 0,
                arenas_highwater: 0,
            }),
        };
        // SAFETY: `root` is a fresh allocation with the layout of `HeapRoot`.
        unsafe { root.write(value) };
        root
    }

    /// Unmaps every arena of the heap and frees the root.
    ///
    /// # Safety
    /// - `root` came from [`HeapRoot::create`] and is not used again;
    /// - no other thread holds a block of this heap (its frees would touch freed memory).
    pub(crate) unsafe fn destroy(root: *mut HeapRoot) {
        // SAFETY: `root` came from `HeapRoot::create` (caller), so it points at an initialised,
        // live `HeapRoot`.
        let root_ref = unsafe { &*root };
        // SAFETY: the caller hands over sole ownership of `root`, so this thread acts as its
        // owner and no other reference to its core exists.
        let core = unsafe { root_ref.core_mut() };
        core.release_all();
        // SAFETY: `root` holds the `HeapRoot` that `create` wrote, it is not used again
        // (caller), and `root_ref` and `core` are dead from here on.
        unsafe { ptr::drop_in_place(root) };
        // SAFETY: `create` allocated `root` from `System` with exactly this layout, and the
        // value in it was dropped just above.
        unsafe { System.dealloc(root.cast(), Layout::new::<HeapRoot>()) };
    }

    /// The owner's state.
    ///
    /// # Safety
    /// Only the owning thread may call this, and no other reference to the core may be
    /// alive while the returned one is used.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn core_mut(&self) -> &mut HeapCore {
        // SAFETY: the caller guarantees exclusive, same-thread access.
        unsafe { &mut *self.core.get() }
    }

    /// Hands a block back to the heap that owns it, from any thread, without a lock.
    ///
    /// # Safety
    /// `root` is a live heap and `block` a block in use that one of its arenas holds; the
    /// block is not used again by the caller.
    pub(crate) unsafe fn push_remote(root: *const HeapRoot, block: *mut u8) {
        let block = block.cast::<Block>();
        // SAFETY: the caller guarantees `root` is live; `remote_free` is the one field that
        // is shared between threads, and it is atomic.
        let head = unsafe { &(*root).remote_free };
        let mut current = head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is the caller's to give away; its first word becomes a link.
            unsafe { (*block).next = current };
            match head.compare_exchange_weak(current, block, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }
}

impl HeapCore {
    /// Allocates a block of class `szidx`; null when out of memory.
    ///
    /// # Safety
    /// `szidx < NB_SMALL_SIZE_CLASSES`.
    #[inline(always)]
    pub(crate) unsafe fn alloc_small(&mut self, szidx: usize) -> *mut u8 {
        debug_assert!(szidx < NB_SMALL_SIZE_CLASSES);
        // SAFETY: the caller guarantees the index is in bounds.
        let pool = unsafe { *self.usedpools.get_unchecked(szidx) };
        if pool.is_null() {
            // SAFETY: `szidx < NB_SMALL_SIZE_CLASSES` (caller).
            return unsafe { self.alloc_from_new_pool(szidx) };
        }
        // SAFETY: a pool on `usedpools` is a live pool header of ours (module invariant); no
        // other reference to it is alive in this function.
        let p = unsafe { &mut *pool };
        let bp = p.freeblock;
        p.count += 1;
        // SAFETY: a pool on `usedpools` has a non-null `freeblock` pointing at a free block
        // inside it (module invariant), so its link word is readable.
        let next = unsafe { (*bp).next };
        p.freeblock = next;
        if next.is_null() {
            // SAFETY: `pool` is the head of `usedpools[szidx]`, a live pool of ours whose free
            // list just ran dry; `p` is not used again.
            unsafe { self.pool_extend(pool, szidx) };
        }
        #[cfg(debug_assertions)]
        {
            // SAFETY: `bp` was a free block of `pool`, so it lies in a pool of one of our live
            // arenas.
            unsafe { mark_live(bp.cast(), true) };
        }
        bp.cast()
    }

    /// Returns a block of this heap to its pool.
    ///
    /// # Safety
    /// `bp` is a block in use that this heap handed out (debug builds check this).
    #[inline(always)]
    pub(crate) unsafe fn free_small(&mut self, bp: *mut u8) {
        #[cfg(debug_assertions)]
        self.debug_check_block(bp);
        let pool = pool_of(bp);
        #[cfg(debug_assertions)]
        {
            // SAFETY: `bp` is a block in use of this heap (caller), so it lies in a pool of one
            // of our live arenas.
            unsafe { mark_live(bp, false) };
        }
        let block = bp.cast::<Block>();
        // SAFETY: `bp` is a block in use of one of our pools (caller), so `pool` is its live
        // header; no other reference to it is alive in this function.
        let p = unsafe { &mut *pool };
        let last = p.freeblock;
        // SAFETY: `bp` is a block in use that the caller gives back (caller), so its first
        // word is ours to overwrite with the free-list link; it lies outside the pool header.
        unsafe { (*block).next = last };
        p.freeblock = block;
        let count = p.count - 1;
        p.count = count;
        if last.is_null() {
            // SAFETY: the pool had no free block, so it was full and on no list (a pool is on
            // `usedpools` only with a block available: module invariant); it just got one
            // free block. `p` is not used again.
            unsafe { self.pool_was_full(pool) };
        } else if count == 0 && pool != self.hot_pool {
            // SAFETY: the pool had a free block and a block in use before this free, so it
            // is on `usedpools` (module invariant); its last block was just freed and it is
            // not the hot pool (checked). `p` is not used again.
            unsafe { self.pool_became_empty(pool) };
        }
    }

    /// The free list of `pool` ran dry: carve one more fresh block, or take the now full
    /// pool off `usedpools` (it is the head, since allocation always uses the head).
    ///
    /// # Safety
    /// `pool` is the head of `usedpools[szidx]`, a live pool of ours whose free list just
    /// ran dry.
    #[cold]
    unsafe fn pool_extend(&mut self, pool: *mut Pool, szidx: usize) {
        // SAFETY: `pool` is the head of `usedpools[szidx]`, a live pool header of ours
        // (caller); no other reference to it is alive in this function.
        let p = unsafe { &mut *pool };
        if p.nextoffset <= p.maxnextoffset {
            // SAFETY: `nextoffset <= maxnextoffset == POOL_SIZE - class_size(szidx)`, so the
            // offset stays inside the pool that starts at `pool_base(pool)`.
            let bp = unsafe { pool_base(pool).add(p.nextoffset as usize) }.cast::<Block>();
            p.nextoffset += class_size(szidx) as u32;
            // SAFETY: `bp` is a whole, never handed out block of this pool (checked above), so
            // its first word is ours to use as the free-list link.
            unsafe { (*bp).next = ptr::null_mut() };
            p.freeblock = bp;
        } else {
            let next = p.nextpool;
            self.usedpools[szidx] = next;
            if !next.is_null() {
                // SAFETY: `next` follows `pool` on `usedpools[szidx]`, and a pool on
                // `usedpools` is a live pool header of ours (module invariant); it is not
                // `pool`, so it does not overlap `p`.
                unsafe { (*next).prevpool = ptr::null_mut() };
            }
            p.nextpool = ptr::null_mut();
            p.prevpool = ptr::null_mut();
        }
    }

    /// A block was freed into a full pool: the pool goes back on `usedpools`.
    ///
    /// # Safety
    /// `pool` is a live pool of ours, on no list, that just got one free block.
    #[cold]
    unsafe fn pool_was_full(&mut self, pool: *mut Pool) {
        // SAFETY: `pool` is a live pool header of ours (caller); no other reference to it is
        // alive in this function.
        let p = unsafe { &mut *pool };
        let szidx = p.szidx as usize;
        let head = self.usedpools[szidx];
        p.nextpool = head;
        p.prevpool = ptr::null_mut();
        if !head.is_null() {
            // SAFETY: a pool on `usedpools` is a live pool header of ours (module invariant);
            // `head` is not `pool`, which is on no list (caller).
            unsafe { (*head).prevpool = pool };
        }
        self.usedpools[szidx] = pool;
    }

    /// The last block of `pool` was freed: the pool returns to its arena, unless it would
    /// empty the arena while the heap has room for one resident empty arena. Then the pool
    /// stays on `usedpools` as the *hot pool*, holding that room: a heap that allocates and
    /// frees one block at a time reuses it without re-initialising pool or arena.
    ///
    /// # Safety
    /// `pool` is a live pool of ours on `usedpools` whose last block was just freed, and
    /// not the hot pool.
    #[cold]
    unsafe fn pool_became_empty(&mut self, pool: *mut Pool) {
        let arena = arena_of(pool.cast());
        let old = self.hot_pool;
        // SAFETY: `pool` is a live pool of ours (caller), so the header of its arena is a
        // live arena header of ours.
        let free_after = unsafe { (*arena).nfreepools } as usize + 1;
        // SAFETY: the hot pool, when set, is a live pool header of ours (it is only ever set
        // to a pool of ours, and its arena stays in use while it is set).
        let old_idle_here =
            !old.is_null() && unsafe { (*old).count } == 0 && arena_of(old.cast()) == arena;
        // Would the arena be empty but for this pool (and an idle hot pool)?
        let arena_would_empty =
            free_after == POOLS_PER_ARENA || (old_idle_here && free_after + 1 == POOLS_PER_ARENA);
        if !arena_would_empty {
            // SAFETY: `pool` is a live, empty pool of ours on `usedpools` and not the hot
            // pool (caller).
            unsafe { self.return_empty_pool(pool) };
            return;
        }
        // The newest candidate takes over as hot pool; the previous one, if empty, goes
        // back to its arena afterwards.
        self.hot_pool = ptr::null_mut();
        if !old.is_null() {
            self.ncached -= 1;
        }
        if self.ncached < self.config.retained_empty_arenas {
            self.hot_pool = pool;
            self.ncached += 1;
        } else {
            // SAFETY: `pool` is a live, empty pool of ours on `usedpools` (caller), and not
            // the hot pool: `hot_pool` is null here.
            unsafe { self.return_empty_pool(pool) };
        }
        // SAFETY: the old hot pool, when set, is a live pool header of ours (it is only ever
        // set to a pool of ours, and its arena stays in use while it is set).
        if !old.is_null() && unsafe { (*old).count } == 0 {
            // SAFETY: `old` is a live pool of ours; being empty it is not full, so as the
            // hot pool it stayed on `usedpools`; it is no longer the hot pool (`hot_pool` is
            // null or `pool`, and `pool != old` because `pool` was not hot: caller).
            unsafe { self.return_empty_pool(old) };
        }
    }

    /// Moves an empty pool from `usedpools` back to its arena.
    ///
    /// # Safety
    /// `pool` is a live, empty pool of ours on `usedpools`, and not the hot pool.
    unsafe fn return_empty_pool(&mut self, pool: *mut Pool) {
        // SAFETY: `pool` is a live pool header of ours on `usedpools` (caller); no other
        // reference to it is alive until `p`'s last use below.
        let p = unsafe { &mut *pool };
        let szidx = p.szidx as usize;
        let next = p.nextpool;
        let prev = p.prevpool;
        if prev.is_null() {
            self.usedpools[szidx] = next;
        } else {
            // SAFETY: `prev` precedes `pool` on `usedpools[szidx]`, and a pool on `usedpools`
            // is a live pool header of ours (module invariant); it is not `pool`.
            unsafe { (*prev).nextpool = next };
        }
        if !next.is_null() {
            // SAFETY: `next` follows `pool` on `usedpools[szidx]`, and a pool on `usedpools`
            // is a live pool header of ours (module invariant); it is not `pool`.
            unsafe { (*next).prevpool = prev };
        }
        let arena = arena_of(pool.cast());
        // SAFETY: the arena of a live pool of ours (caller) is a live arena of ours, so its
        // header is readable; `freepools` lies outside the pool header `p` refers to.
        let freepools = unsafe { (*arena).freepools };
        p.nextpool = freepools;
        p.prevpool = ptr::null_mut();
        // SAFETY: the arena of a live pool of ours (caller) is a live arena header of ours;
        // `p`, which points into it, is not used again.
        let a = unsafe { &mut *arena };
        a.freepools = pool;
        let nf = a.nfreepools as usize;
        a.nfreepools = (nf + 1) as u32;

        if nf + 1 == POOLS_PER_ARENA {
            // SAFETY: with `nf` free pools, `0 < nf < POOLS_PER_ARENA`, so the arena is a live
            // arena of ours on the usable list (module invariant); `a` is not used again.
            unsafe { self.unlink_usable(arena, nf) };
            // SAFETY: every pool of `arena` is now free (no block in use), and it was just
            // taken off the usable list, so it is on no list but `all_arenas`.
            unsafe { self.arena_became_empty(arena) };
        } else if nf == 0 {
            // It was full, so off the list; one free pool is the fewest possible.
            let head = self.usable_arenas;
            a.nextarena = head;
            a.prevarena = ptr::null_mut();
            if !head.is_null() {
                // SAFETY: arenas on the usable list are live arena headers of ours (module
                // invariant); `head` is not `arena`, which was full and so off the list.
                unsafe { (*head).prevarena = arena };
            }
            self.usable_arenas = arena;
            if self.nfp2lasta[1].is_null() {
                self.nfp2lasta[1] = arena;
            }
        } else {
            // Arenas with `nf` free pools form a run; this one moves to the run's end.
            let last = self.nfp2lasta[nf];
            if last == arena {
                let prev = a.prevarena;
                // SAFETY: `prev` precedes `arena` on the usable list, and arenas on it are live
                // arena headers of ours (module invariant).
                let prev_in_run = !prev.is_null() && unsafe { (*prev).nfreepools } as usize == nf;
                self.nfp2lasta[nf] = if prev_in_run { prev } else { ptr::null_mut() };
            } else {
                // SAFETY: with `0 < nf < POOLS_PER_ARENA` free pools before this one, `arena`
                // is a live arena of ours on the usable list (module invariant); `a` is not
                // used again.
                unsafe { self.unlink_arena(arena) };
                // SAFETY: `last = nfp2lasta[nf]` is non-null (`arena` itself had `nf` free
                // pools) and the last arena with `nf` free pools on the usable list, so a live
                // arena header of ours (module invariant); it is not `arena`.
                let after = unsafe { (*last).nextarena };
                // SAFETY: the arena of a live pool of ours (caller) is a live arena header of
                // ours; the previous reference to it is dead.
                let a = unsafe { &mut *arena };
                a.prevarena = last;
                a.nextarena = after;
                // SAFETY: `last` is a live arena header of ours on the usable list (as just
                // read), and not `arena`, so this does not overlap `a`.
                unsafe { (*last).nextarena = arena };
                if !after.is_null() {
                    // SAFETY: `after` followed `last` on the usable list, so it is a live arena
                    // header of ours (module invariant); it is not `arena`, which was unlinked.
                    unsafe { (*after).prevarena = arena };
                }
            }
            if self.nfp2lasta[nf + 1].is_null() {
                self.nfp2lasta[nf + 1] = arena;
            }
        }
    }

    /// Takes `arena` (which has `nf` free pools) off the usable list.
    ///
    /// # Safety
    /// `arena` is a live arena of ours on the usable list, with `nf` free pools.
    unsafe fn unlink_usable(&mut self, arena: *mut Arena, nf: usize) {
        if self.nfp2lasta[nf] == arena {
            // SAFETY: `arena` is a live arena header of ours (caller).
            let prev = unsafe { (*arena).prevarena };
            // SAFETY: `prev` precedes `arena` on the usable list (caller), and arenas on it
            // are live arena headers of ours (module invariant).
            let prev_in_run = !prev.is_null() && unsafe { (*prev).nfreepools } as usize == nf;
            self.nfp2lasta[nf] = if prev_in_run { prev } else { ptr::null_mut() };
        }
        // SAFETY: `arena` is a live arena of ours on the usable list (caller).
        unsafe { self.unlink_arena(arena) };
    }

    /// Takes `arena` off the usable list (without touching `nfp2lasta`).
    ///
    /// # Safety
    /// `arena` is a live arena of ours on the usable list.
    unsafe fn unlink_arena(&mut self, arena: *mut Arena) {
        // SAFETY: `arena` is a live arena header of ours (caller); no other reference to it
        // is alive in this function.
        let a = unsafe { &mut *arena };
        let next = a.nextarena;
        let prev = a.prevarena;
        if prev.is_null() {
            self.usable_arenas = next;
        } else {
            // SAFETY: `prev` precedes `arena` on the usable list (caller), and arenas on it
            // are live arena headers of ours (module invariant); it is not `arena`.
            unsafe { (*prev).nextarena = next };
        }
        if !next.is_null() {
            // SAFETY: `next` follows `arena` on the usable list (caller), and arenas on it
            // are live arena headers of ours (module invariant); it is not `arena`.
            unsafe { (*next).prevarena = prev };
        }
        a.nextarena = ptr::null_mut();
        a.prevarena = ptr::null_mut();
    }

    /// Slow path of allocation: no pool of this class has a free block.
    ///
    /// # Safety
    /// `szidx < NB_SMALL_SIZE_CLASSES`.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_from_new_pool(&mut self, szidx: usize) -> *mut u8 {
        if self.drain_remote_frees() && !self.usedpools[szidx].is_null() {
            // SAFETY: `szidx < NB_SMALL_SIZE_CLASSES` (caller).
            return unsafe { self.alloc_small(szidx) };
        }
        if self.nidle != 0 {
            self.purge_tick();
        }
        let pool = self.take_free_pool();
        if pool.is_null() {
            return ptr::null_mut();
        }
        let size = class_size(szidx);
        // We initialise the header of `pool` and hand out its first block, the second
        // becoming the free list.
        let first = pool_base(pool);
        // SAFETY: `szidx < NB_SMALL_SIZE_CLASSES` (caller), and every class fits at least 32
        // blocks in a pool, so the second block lies inside the pool.
        let second = unsafe { first.add(size) }.cast::<Block>();
        // SAFETY: `pool` is an unused pool of one of our live arenas (`take_free_pool`), so
        // its second block is mapped memory that no one uses; its first word becomes the
        // free-list link.
        unsafe { (*second).next = ptr::null_mut() };
        // SAFETY: `pool` is the header slot of an unused pool of one of our live arenas
        // (`take_free_pool`), so it is ours to (re)initialise; no reference to it is alive.
        unsafe {
            pool.write(Pool {
                freeblock: second,
                count: 1,
                szidx: szidx as u32,
                nextoffset: (2 * size) as u32,
                maxnextoffset: (POOL_SIZE - size) as u32,
                nextpool: ptr::null_mut(),
                prevpool: ptr::null_mut(),
            })
        };
        self.usedpools[szidx] = pool;
        #[cfg(debug_assertions)]
        {
            // SAFETY: `first` is the first block of `pool`, a pool of one of our live arenas.
            unsafe { mark_live(first, true) };
        }
        first
    }

    /// Takes an empty pool from the fullest usable arena (or a new arena).
    fn take_free_pool(&mut self) -> *mut Pool {
        if self.usable_arenas.is_null() {
            let arena = self.new_arena();
            if arena.is_null() {
                return ptr::null_mut();
            }
            self.usable_arenas = arena;
            self.nfp2lasta[POOLS_PER_ARENA] = arena;
        }
        let arena = self.usable_arenas;
        // SAFETY: the head of the usable list is a live arena header of ours with a free pool
        // (module invariant); no other reference to it is alive in this function.
        let a = unsafe { &mut *arena };
        let pool = if a.freepools.is_null() {
            let p = pool_at(arena, a.fresh_from as usize);
            a.fresh_from += 1;
            p
        } else {
            let p = a.freepools;
            // SAFETY: a pool on an arena's `freepools` is an initialised pool header of that
            // arena (module invariant).
            a.freepools = unsafe { (*p).nextpool };
            p
        };
        let nf = a.nfreepools as usize;
        if self.nfp2lasta[nf] == arena {
            self.nfp2lasta[nf] = ptr::null_mut();
        }
        a.nfreepools = (nf - 1) as u32;
        if nf == 1 {
            // SAFETY: `arena` heads the usable list, so it is a live arena of ours on it;
            // `a` is not used again.
            unsafe { self.unlink_arena(arena) };
        } else {
            // Every other usable arena has at least `nf` free pools.
            self.nfp2lasta[nf - 1] = arena;
        }
        pool
    }

    /// An arena for the usable list: from the empty cache, the idle list, the reserve, or
    /// the OS.
    fn new_arena(&mut self) -> *mut Arena {
        let arena = if !self.cached.is_null() {
            let a = self.cached;
            // SAFETY: arenas on the cache list are live arenas of ours.
            self.cached = unsafe { (*a).nextarena };
            self.ncached -= 1;
            a
        } else if !self.idle.is_null() {
            let a = self.idle;
            // SAFETY: arenas on the idle list are live arenas of ours.
            self.idle = unsafe { (*a).nextarena };
            self.nidle -= 1;
            self.idle_low_water = self.idle_low_water.min(self.nidle);
            a
        } else if !self.reserved.is_null() {
            let a = self.reserved;
            // SAFETY: arenas on the reserve list are live arenas of ours.
            self.reserved = unsafe { (*a).nextarena };
            self.nreserved -= 1;
            a
        } else {
            let base = os::map_arena();
            if base.is_null() {
                return ptr::null_mut();
            }
            if !radix::set_owner(base as usize, self.root.cast()) {
                // SAFETY: `base` is the arena mapping `map_arena` just returned; nothing uses
                // it, and the radix tree does not record it.
                unsafe { os::unmap_arena(base) };
                return ptr::null_mut();
            }
            let a = base.cast::<Arena>();
            // SAFETY: the mapping is fresh, zero-filled (a valid `Arena`: null pointers, zero
            // counts, `ArenaState::InUse`) and ours; the header fits in it.
            let header = unsafe { &mut *a };
            header.allprev = ptr::null_mut();
            header.allnext = self.all_arenas;
            if !self.all_arenas.is_null() {
                // SAFETY: arenas on `all_arenas` are live arena headers of ours (module
                // invariant); the head is not the fresh `a`.
                unsafe { (*self.all_arenas).allprev = a };
            }
            self.all_arenas = a;
            self.arenas_allocated_total += 1;
            self.arenas_current += 1;
            self.arenas_highwater = self.arenas_highwater.max(self.arenas_current);
            a
        };
        // SAFETY: `arena` is a live arena of ours holding no pool in use.
        unsafe {
            let a = &mut *arena;
            a.nfreepools = POOLS_PER_ARENA as u32;
            a.fresh_from = 0;
            a.state = ArenaState::InUse;
            a.freepools = ptr::null_mut();
            a.nextarena = ptr::null_mut();
            a.prevarena = ptr::null_mut();
        }
        arena
    }

    /// Every pool of `arena` is free: keep it resident (for good or for `purge_delay`),
    /// keep it decommitted, or unmap it.
    ///
    /// # Safety
    /// `arena` is a live arena of ours holding no block in use, on no list but `all_arenas`.
    unsafe fn arena_became_empty(&mut self, arena: *mut Arena) {
        if self.ncached < self.config.retained_empty_arenas {
            // SAFETY: `arena` is a live arena header of ours (caller).
            let a = unsafe { &mut *arena };
            a.state = ArenaState::Cached;
            a.nextarena = self.cached;
            self.cached = arena;
            self.ncached += 1;
        } else if self.config.purge_delay.is_some() {
            // SAFETY: `arena` is a live arena header of ours (caller).
            let a = unsafe { &mut *arena };
            a.state = ArenaState::Idle;
            a.nextarena = self.idle;
            self.idle = arena;
            self.nidle += 1;
            self.purge_tick();
        } else {
            // SAFETY: as for this function (caller).
            unsafe { self.give_back(arena) };
        }
    }

    /// Once a purge interval has passed: gives back the idle arenas that sat unused
    /// through all of it (the bottom `idle_low_water` of the stack) and starts the next.
    #[cold]
    #[inline(never)]
    fn purge_tick(&mut self) {
        let Some(delay) = self.config.purge_delay else {
            return;
        };
        let now = Instant::now();
        let expired = match self.purge_epoch {
            Some(start) => now.saturating_duration_since(start) >= delay,
            None => true,
        };
        if !expired {
            return;
        }
        let stale = if self.purge_epoch.is_some() {
            self.idle_low_water.min(self.nidle)
        } else {
            0
        };
        if stale > 0 {
            // Keep the top `nidle - stale` (the most recently emptied, warmest), cut the rest.
            let keep = self.nidle - stale;
            let mut cut = self.idle;
            let mut last_kept: *mut Arena = ptr::null_mut();
            for _ in 0..keep {
                last_kept = cut;
                // SAFETY: the idle list holds `nidle > keep` live arenas of ours, linked by
                // `nextarena` (module invariant).
                cut = unsafe { (*cut).nextarena };
            }
            if last_kept.is_null() {
                self.idle = ptr::null_mut();
            } else {
                // SAFETY: a live arena of ours on the idle list (just walked).
                unsafe { (*last_kept).nextarena = ptr::null_mut() };
            }
            self.nidle = keep;
            while !cut.is_null() {
                // SAFETY: the detached tail of the idle list: live arenas of ours.
                let next = unsafe { (*cut).nextarena };
                // SAFETY: an idle arena holds no block in use, and with the tail detached it
                // is on no list but `all_arenas`.
                unsafe { self.give_back(cut) };
                cut = next;
            }
        }
        self.purge_epoch = Some(now);
        self.idle_low_water = self.nidle;
    }

    /// Gives an empty arena's memory back: decommitted onto the reserve, or unmapped.
    ///
    /// # Safety
    /// `arena` is a live arena of ours holding no block in use, on no list but `all_arenas`.
    unsafe fn give_back(&mut self, arena: *mut Arena) {
        if self.nreserved < self.config.reserved_arenas {
            // SAFETY: `arena` is the start of one of our `ARENA_SIZE` mappings (caller), so
            // the pool area `POOL_SIZE` bytes in is inside it.
            let pools = unsafe { arena.cast::<u8>().add(POOL_SIZE) };
            // SAFETY: the pool area of an arena of ours is a page-aligned range of our own
            // mapping, and it holds no live data: no block is in use (caller) and its pool
            // headers live in the arena header, outside the range.
            unsafe { os::decommit(pools, ARENA_SIZE - POOL_SIZE) };
            // SAFETY: `arena` is a live arena header of ours (caller); the header slot was
            // not decommitted.
            let a = unsafe { &mut *arena };
            a.state = ArenaState::Reserved;
            a.nextarena = self.reserved;
            self.reserved = arena;
            self.nreserved += 1;
        } else {
            // SAFETY: `arena` is a live arena of ours holding no block in use, on no list but
            // `all_arenas` (caller).
            unsafe { self.unmap(arena) };
        }
    }

    /// Unlinks `arena` from `all_arenas`, forgets it in the radix tree and unmaps it.
    ///
    /// # Safety
    /// `arena` is a live arena of ours holding no block in use, on no list but `all_arenas`.
    unsafe fn unmap(&mut self, arena: *mut Arena) {
        // SAFETY: `arena` is a live arena header of ours (caller).
        let a = unsafe { &*arena };
        let next = a.allnext;
        let prev = a.allprev;
        if prev.is_null() {
            self.all_arenas = next;
        } else {
            // SAFETY: `prev` precedes `arena` on `all_arenas` (caller), and arenas on it are
            // live arena headers of ours (module invariant); it is not `arena`.
            unsafe { (*prev).allnext = next };
        }
        if !next.is_null() {
            // SAFETY: `next` follows `arena` on `all_arenas` (caller), and arenas on it are
            // live arena headers of ours (module invariant); it is not `arena`.
            unsafe { (*next).allprev = prev };
        }
        radix::clear_owner(arena as usize);
        // SAFETY: `arena` is one of our arena mappings; it holds no block in use and is now on
        // no list and out of the radix tree (caller, and just above), so nothing uses it.
        unsafe { os::unmap_arena(arena.cast()) };
        self.arenas_reclaimed += 1;
        self.arenas_current -= 1;
    }

    /// Unmaps the empty arenas kept for reuse (the cache, the idle list and the reserve), after giving
    /// the hot pool back if it is empty.
    pub(crate) fn release_free_memory(&mut self) {
        let hot = std::mem::replace(&mut self.hot_pool, ptr::null_mut());
        if !hot.is_null() {
            self.ncached -= 1;
            // SAFETY: the hot pool, when set, is a live pool header of ours (it is only ever
            // set to a pool of ours, and its arena stays in use while it is set).
            if unsafe { (*hot).count } == 0 {
                // SAFETY: `hot` is a live pool of ours; being empty it is not full, so as the
                // hot pool it stayed on `usedpools`; `hot_pool` is null now.
                unsafe { self.return_empty_pool(hot) };
            }
        }
        // Each list is detached whole, then unmapped arena by arena in list order.
        let cached = std::mem::replace(&mut self.cached, ptr::null_mut());
        let idle = std::mem::replace(&mut self.idle, ptr::null_mut());
        let reserved = std::mem::replace(&mut self.reserved, ptr::null_mut());
        for list in [cached, idle, reserved] {
            let mut arena = list;
            while !arena.is_null() {
                // SAFETY: arenas on the cache, idle and reserve lists are live arena headers
                // of ours, linked by `nextarena` (module invariant).
                let next = unsafe { (*arena).nextarena };
                // SAFETY: an arena on the cache, idle or reserve list holds no block in use;
                // with its list detached it is on no list but `all_arenas` (module invariant).
                unsafe { self.unmap(arena) };
                arena = next;
            }
        }
        self.ncached = 0;
        self.nidle = 0;
        self.idle_low_water = 0;
        self.nreserved = 0;
    }

    /// Unmaps every arena, in use or not.
    fn release_all(&mut self) {
        while !self.all_arenas.is_null() {
            let arena = self.all_arenas;
            // SAFETY: the heap is being destroyed; nothing uses its blocks any more.
            unsafe { self.unmap(arena) };
        }
        self.usedpools = [ptr::null_mut(); NB_SMALL_SIZE_CLASSES];
        self.usable_arenas = ptr::null_mut();
        self.nfp2lasta = [ptr::null_mut(); POOLS_PER_ARENA + 1];
        self.hot_pool = ptr::null_mut();
        self.cached = ptr::null_mut();
        self.idle = ptr::null_mut();
        self.reserved = ptr::null_mut();
        self.ncached = 0;
        self.nidle = 0;
        self.idle_low_water = 0;
        self.nreserved = 0;
    }

    /// Frees the blocks other threads handed back. Returns whether there were any.
    pub(crate) fn drain_remote_frees(&mut self) -> bool {
        // SAFETY: the root outlives its core; `remote_free` is atomic.
        let head = unsafe { &(*self.root).remote_free };
        if head.load(Ordering::Relaxed).is_null() {
            return false;
        }
        let mut block = head.swap(ptr::null_mut(), Ordering::Acquire);
        while !block.is_null() {
            // SAFETY: blocks on the remote list are blocks in use of this heap that their
            // last user gave up (`push_remote`); the Acquire swap makes their link words
            // visible.
            let next = unsafe { (*block).next };
            // SAFETY: `block` is a block in use of this heap that no one uses any more
            // (`push_remote`'s contract), and it is freed once: it is off the list now.
            unsafe { self.free_small(block.cast()) };
            block = next;
        }
        true
    }

    /// Whether `p` points into one of this heap's arenas.
    #[inline]
    pub(crate) fn owns(&self, p: *const u8) -> bool {
        radix::owner_of(p as usize) == self.root.cast::<()>()
    }

    /// Whether `p` is the start of a block in use of this heap. Reads only this heap's
    /// own arena and pool headers (after the radix tree says the arena is ours), and walks
    /// the pool's free list, so it costs up to one pool's worth of steps.
    pub(crate) fn is_allocated_block(&self, p: *const u8) -> bool {
        if !self.owns(p) {
            return false;
        }
        if !in_pool_area(p) {
            return false;
        }
        let arena = arena_of(p);
        let pool = pool_of(p);
        // SAFETY: the radix tree says this arena is mapped and ours, so its header is a live
        // arena header of ours.
        let a = unsafe { &*arena };
        if a.state != ArenaState::InUse || pool_index(arena, pool) >= a.fresh_from as usize {
            return false;
        }
        // SAFETY: pools below `fresh_from` of an arena in use of ours have initialised
        // headers (module invariant), readable beside the shared `a`.
        let pl = unsafe { &*pool };
        if pl.count == 0 {
            return false;
        }
        let size = class_size(pl.szidx as usize);
        let offset = p as usize - pool_base(pool) as usize;
        if !offset.is_multiple_of(size) || offset >= pl.nextoffset as usize {
            return false;
        }
        let mut b = pl.freeblock;
        while !b.is_null() {
            if ptr::eq(b.cast::<u8>(), p) {
                return false;
            }
            // SAFETY: a block on the free list of a pool in use is a carved, free block of
            // that pool (module invariant), so its link word is ours to read.
            b = unsafe { (*b).next };
        }
        true
    }

    /// The block size of the small block at `p`.
    ///
    /// # Safety
    /// `p` is a block in use of this heap.
    pub(crate) unsafe fn block_size(&self, p: *const u8) -> usize {
        // SAFETY: the pool of a block in use has a live header.
        class_size(unsafe { (*pool_of(p)).szidx } as usize)
    }

    /// Debug builds: panics unless `bp` is the start of a block in use of this heap.
    #[cfg(debug_assertions)]
    fn debug_check_block(&self, bp: *mut u8) {
        assert!(
            self.owns(bp),
            "gc_core::alloc: free of {bp:p}, which this heap does not own"
        );
        assert!(
            in_pool_area(bp),
            "gc_core::alloc: free of {bp:p}, which is inside an arena header"
        );
        let pool = pool_of(bp);
        // SAFETY: `bp` is in one of our arenas (checked), so its arena header, which holds
        // `pool`, is mapped memory of ours; a pool never initialised reads as zeros.
        let pl = unsafe { &*pool };
        let (count, size) = (pl.count, class_size(pl.szidx as usize));
        // SAFETY: `bp` is in one of our arenas (checked), so its arena header is a live arena
        // header of ours.
        let arena_state = unsafe { (*arena_of(bp)).state };
        let offset = bp as usize - pool_base(pool) as usize;
        assert!(
            arena_state == ArenaState::InUse && count > 0 && offset.is_multiple_of(size),
            "gc_core::alloc: free of {bp:p}, which is not the start of a block in use"
        );
        // SAFETY: `bp` is in one of our arenas (checked), so it lies in a pool (checked) of
        // one of our live arenas.
        let live = unsafe { is_marked_live(bp) };
        assert!(live, "gc_core::alloc: double free of {bp:p}");
    }

    /// Statistics in the shape of CPython's `sys._debugmallocstats()`. Allocates nothing.
    pub(crate) fn stats(&mut self) -> MallocStats {
        self.drain_remote_frees();
        let mut classes = [SizeClassStats::default(); NB_SMALL_SIZE_CLASSES];
        for (i, c) in classes.iter_mut().enumerate() {
            c.class = i;
            c.block_size = class_size(i);
        }
        let mut s = MallocStats {
            classes,
            arenas_allocated_total: self.arenas_allocated_total,
            arenas_reclaimed: self.arenas_reclaimed,
            arenas_highwater: self.arenas_highwater,
            arenas_current: self.arenas_current,
            arenas_reserved: self.nreserved,
            arenas_idle: self.nidle,
            ..MallocStats::default()
        };
        let mut arena = self.all_arenas;
        while !arena.is_null() {
            // SAFETY: arenas on `all_arenas` are live arena headers of ours (module invariant).
            let a = unsafe { &*arena };
            if a.state == ArenaState::Reserved {
                s.bytes_in_reserved_arenas += ARENA_SIZE;
                arena = a.allnext;
                continue;
            }
            s.bytes_lost_to_arena_headers += POOL_SIZE;
            let used_limit = if a.state == ArenaState::InUse {
                a.fresh_from as usize
            } else {
                0
            };
            s.unused_pools += POOLS_PER_ARENA - used_limit;
            for i in 0..used_limit {
                // SAFETY: pools below `fresh_from` of an arena in use of ours have initialised
                // headers (module invariant).
                let pool = unsafe { &*pool_at(arena, i) };
                if pool.count == 0 {
                    s.unused_pools += 1;
                    continue;
                }
                let class = pool.szidx as usize;
                let size = class_size(class);
                let cap = pool_capacity(class);
                let c = &mut s.classes[class];
                c.pools += 1;
                c.blocks_in_use += pool.count as usize;
                c.available_blocks += cap - pool.count as usize;
                s.bytes_lost_to_quantization += POOL_SIZE - cap * size;
            }
            arena = a.allnext;
        }
        for c in &s.classes {
            s.bytes_in_allocated_blocks += c.blocks_in_use * c.block_size;
            s.bytes_in_available_blocks += c.available_blocks * c.block_size;
        }
        s
    }

    /// Checks every invariant of pools and arenas. On failure, says which.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut counted_arenas = 0;
        let mut pools_in_use = 0usize;
        let mut arena = self.all_arenas;
        let mut prev: *mut Arena = ptr::null_mut();
        while !arena.is_null() {
            counted_arenas += 1;
            if counted_arenas > self.arenas_current {
                return Err("all_arenas is longer than arenas_current (or cyclic)".into());
            }
            if !(arena as usize).is_multiple_of(ARENA_SIZE) {
                return Err(format!("arena {arena:p} is not aligned"));
            }
            if !self.owns(arena.cast()) {
                return Err(format!("arena {arena:p} is not ours in the radix tree"));
            }
            // SAFETY: arenas on `all_arenas` are live arenas of ours.
            let a = unsafe { &*arena };
            if a.allprev != prev {
                return Err(format!("arena {arena:p}: bad allprev link"));
            }
            if a.state == ArenaState::InUse {
                // SAFETY: arenas on `all_arenas` are live arenas of ours (module invariant),
                // and this one is in use (checked).
                pools_in_use += unsafe { self.validate_arena(arena) }?;
            }
            prev = arena;
            arena = a.allnext;
        }
        if counted_arenas != self.arenas_current {
            return Err(format!(
                "{counted_arenas} arenas mapped, arenas_current says {}",
                self.arenas_current
            ));
        }
        self.validate_arena_lists()?;
        self.validate_usedpools(pools_in_use)
    }

    /// Checks the pools of one arena in use; returns how many are in use.
    ///
    /// # Safety
    /// `arena` is a live arena of ours in use.
    unsafe fn validate_arena(&self, arena: *mut Arena) -> Result<usize, String> {
        // SAFETY: `arena` is a live arena header of ours (caller).
        let a = unsafe { &*arena };
        if a.fresh_from as usize > POOLS_PER_ARENA {
            return Err(format!("arena {arena:p}: fresh_from out of range"));
        }
        let mut free_listed = 0usize;
        let mut fp = a.freepools;
        while !fp.is_null() {
            free_listed += 1;
            if free_listed > POOLS_PER_ARENA {
                return Err(format!("arena {arena:p}: cyclic freepools"));
            }
            if arena_of(fp.cast()) != arena || pool_index(arena, fp) >= a.fresh_from as usize {
                return Err(format!("arena {arena:p}: foreign pool {fp:p} on freepools"));
            }
            // SAFETY: `fp` is a pool header of this arena below `fresh_from` (checked), so an
            // initialised pool header of a live arena of ours (caller, module invariant).
            let p = unsafe { &*fp };
            if p.count != 0 {
                return Err(format!("pool {fp:p} on freepools has blocks in use"));
            }
            fp = p.nextpool;
        }
        let mut in_use = 0;
        for i in 0..a.fresh_from as usize {
            let pool = pool_at(arena, i);
            // SAFETY: pools below `fresh_from` of an arena in use of ours (caller) have
            // initialised headers (module invariant).
            let p = unsafe { &*pool };
            if p.count == 0 && pool != self.hot_pool {
                continue;
            }
            in_use += 1;
            // SAFETY: `pool` is below `fresh_from` of a live arena of ours in use (caller), so
            // an initialised pool of ours (module invariant).
            unsafe { self.validate_pool(pool) }?;
        }
        let fresh = POOLS_PER_ARENA - a.fresh_from as usize;
        if a.fresh_from as usize - in_use != free_listed {
            return Err(format!(
                "arena {arena:p}: {} used-then-emptied pools but {free_listed} on freepools",
                a.fresh_from as usize - in_use
            ));
        }
        if a.nfreepools as usize != free_listed + fresh {
            return Err(format!(
                "arena {arena:p}: nfreepools {} but {} free",
                a.nfreepools,
                free_listed + fresh
            ));
        }
        Ok(in_use)
    }

    /// Checks one pool in use: counts, free-list bounds and, in debug builds, liveness bits.
    ///
    /// # Safety
    /// `pool` is an initialised pool of one of our live arenas.
    unsafe fn validate_pool(&self, pool: *mut Pool) -> Result<(), String> {
        // SAFETY: `pool` is an initialised pool header of ours (caller).
        let p = unsafe { &*pool };
        let class = p.szidx as usize;
        if class >= NB_SMALL_SIZE_CLASSES {
            return Err(format!("pool {pool:p}: bad size class {class}"));
        }
        let size = class_size(class);
        let cap = pool_capacity(class);
        if p.count as usize > cap {
            return Err(format!("pool {pool:p}: count {} > capacity {cap}", p.count));
        }
        if p.maxnextoffset as usize != POOL_SIZE - size {
            return Err(format!("pool {pool:p}: bad maxnextoffset"));
        }
        let next = p.nextoffset as usize;
        if !next.is_multiple_of(size) || next > POOL_SIZE {
            return Err(format!("pool {pool:p}: bad nextoffset {next}"));
        }
        let carved = next / size;
        let base = pool_base(pool) as usize;
        let mut free = 0usize;
        let mut b = p.freeblock;
        while !b.is_null() {
            free += 1;
            if free > cap {
                return Err(format!("pool {pool:p}: cyclic or overlong free list"));
            }
            let addr = b as usize;
            if addr < base || addr >= base + next || !(addr - base).is_multiple_of(size) {
                return Err(format!("pool {pool:p}: free block {b:p} out of bounds"));
            }
            #[cfg(debug_assertions)]
            // SAFETY: `b` is a carved block of `pool` (checked just above), so it lies in a
            // pool of one of our live arenas (caller).
            if unsafe { is_marked_live(b.cast()) } {
                return Err(format!("pool {pool:p}: free block {b:p} marked in use"));
            }
            // SAFETY: `b` is a carved block of `pool` (checked just above), mapped memory of
            // ours, so its link word is readable.
            b = unsafe { (*b).next };
        }
        if p.count as usize + free != carved {
            return Err(format!(
                "pool {pool:p}: {} in use + {free} free != {carved} carved",
                p.count
            ));
        }
        #[cfg(debug_assertions)]
        {
            let arena = arena_of(pool.cast());
            // SAFETY: `pool` is a pool of one of our live arenas (caller), so its arena header
            // is live; `pool_index` of one of its pools is below `POOLS_PER_ARENA`.
            let bits = unsafe { &(*arena).live[pool_index(arena, pool)] };
            let marked: u32 = bits.iter().map(|w| w.count_ones()).sum();
            if marked != p.count {
                return Err(format!(
                    "pool {pool:p}: {marked} blocks marked in use, count {}",
                    p.count
                ));
            }
        }
        Ok(())
    }

    fn validate_arena_lists(&self) -> Result<(), String> {
        let mut arena = self.usable_arenas;
        let mut prev: *mut Arena = ptr::null_mut();
        let mut n = 0;
        while !arena.is_null() {
            n += 1;
            if n > self.arenas_current {
                return Err("usable_arenas is cyclic".into());
            }
            // SAFETY: arenas on the usable list are live arenas of ours.
            let a = unsafe { &*arena };
            let nf = a.nfreepools as usize;
            if a.state != ArenaState::InUse || nf == 0 || nf >= POOLS_PER_ARENA {
                return Err(format!("usable arena {arena:p} has {nf} free pools"));
            }
            if a.prevarena != prev {
                return Err(format!("usable arena {arena:p}: bad prev link"));
            }
            let next = a.nextarena;
            // SAFETY: `next` follows `arena` on the usable list, and arenas on it are live arena
            // headers of ours (module invariant).
            let next_nf = (!next.is_null()).then(|| unsafe { (*next).nfreepools } as usize);
            if next_nf.is_some_and(|next_nf| next_nf < nf) {
                return Err("usable_arenas is not sorted by free pools".into());
            }
            let is_last_of_run = next_nf != Some(nf);
            if is_last_of_run != (self.nfp2lasta[nf] == arena) {
                return Err(format!("nfp2lasta[{nf}] is wrong"));
            }
            prev = arena;
            arena = next;
        }
        for (nf, &last) in self.nfp2lasta.iter().enumerate() {
            // SAFETY: a non-null `nfp2lasta` entry is an arena on the usable list, so a live
            // arena header of ours (module invariant).
            if !last.is_null() && unsafe { (*last).nfreepools } as usize != nf {
                return Err(format!(
                    "nfp2lasta[{nf}] points at an arena with other counts"
                ));
            }
        }
        let hot_slot = usize::from(!self.hot_pool.is_null());
        if self.ncached < hot_slot {
            return Err("hot pool set but ncached is 0".into());
        }
        if self.idle_low_water > self.nidle {
            return Err("idle_low_water exceeds the idle list".into());
        }
        for (list, expected, state) in [
            (self.cached, self.ncached - hot_slot, ArenaState::Cached),
            (self.idle, self.nidle, ArenaState::Idle),
            (self.reserved, self.nreserved, ArenaState::Reserved),
        ] {
            let mut n = 0;
            let mut a = list;
            while !a.is_null() {
                n += 1;
                if n > expected {
                    return Err(format!("{state:?} list is longer than its count"));
                }
                // SAFETY: arenas on these lists are live arenas of ours.
                let arena = unsafe { &*a };
                if arena.state != state {
                    return Err(format!(
                        "arena {a:p} on the {state:?} list is not {state:?}"
                    ));
                }
                a = arena.nextarena;
            }
            if n != expected {
                return Err(format!(
                    "{state:?} list has {n} arenas, count says {expected}"
                ));
            }
        }
        Ok(())
    }

    fn validate_usedpools(&self, pools_in_use: usize) -> Result<(), String> {
        let mut listed = 0;
        for (class, &head) in self.usedpools.iter().enumerate() {
            let mut prev: *mut Pool = ptr::null_mut();
            let mut pool = head;
            while !pool.is_null() {
                listed += 1;
                if listed > pools_in_use {
                    return Err("usedpools lists more pools than are in use".into());
                }
                if !self.owns(pool.cast()) {
                    return Err(format!("usedpools[{class}] holds foreign pool {pool:p}"));
                }
                // SAFETY: a pool on `usedpools` is a live pool header of ours (module
                // invariant; `owns` just confirmed the address lies in an arena of ours).
                let p = unsafe { &*pool };
                let empty_ok = pool == self.hot_pool;
                if p.szidx as usize != class || (p.count == 0 && !empty_ok) || p.freeblock.is_null()
                {
                    return Err(format!(
                        "usedpools[{class}] holds pool {pool:p} (class {}, count {}, free {:p})",
                        p.szidx, p.count, p.freeblock
                    ));
                }
                if p.prevpool != prev {
                    return Err(format!("usedpools[{class}]: bad prev link at {pool:p}"));
                }
                prev = pool;
                pool = p.nextpool;
            }
        }
        // Every pool in use that is not full must be listed.
        let mut partly_used = 0;
        let mut arena = self.all_arenas;
        while !arena.is_null() {
            // SAFETY: arenas on `all_arenas` are live.
            let a = unsafe { &*arena };
            if a.state == ArenaState::InUse {
                for i in 0..a.fresh_from as usize {
                    let pool = pool_at(arena, i);
                    // SAFETY: pools below `fresh_from` of an arena in use of ours have
                    // initialised headers (module invariant).
                    let p = unsafe { &*pool };
                    let full = p.freeblock.is_null() && p.nextoffset > p.maxnextoffset;
                    if (p.count > 0 || pool == self.hot_pool) && !full {
                        partly_used += 1;
                    }
                }
            }
            arena = a.allnext;
        }
        if partly_used != listed {
            return Err(format!(
                "{partly_used} partly used pools, {listed} on usedpools"
            ));
        }
        Ok(())
    }
}

/// Debug builds: sets or clears the in-use bit of the block at `bp`.
///
/// # Safety
/// `bp` lies in a pool of one of our live arenas.
#[cfg(debug_assertions)]
unsafe fn mark_live(bp: *mut u8, live: bool) {
    let arena = arena_of(bp);
    let pool = pool_of(bp);
    let granule = (bp as usize - pool_base(pool) as usize) / super::ALIGNMENT;
    // SAFETY: the arena header is live (caller) and the indices are in range.
    let word = unsafe { &mut (*arena).live[pool_index(arena, pool)][granule / 64] };
    if live {
        *word |= 1 << (granule % 64);
    } else {
        *word &= !(1 << (granule % 64));
    }
}

/// Debug builds: whether the block at `bp` is marked in use.
///
/// # Safety
/// `bp` lies in a pool of one of our live arenas.
#[cfg(debug_assertions)]
unsafe fn is_marked_live(bp: *mut u8) -> bool {
    if !in_pool_area(bp) {
        return false;
    }
    let arena = arena_of(bp);
    let pool = pool_of(bp);
    let granule = (bp as usize - pool_base(pool) as usize) / super::ALIGNMENT;
    // SAFETY: the arena header is live (caller) and the indices are in range.
    let word = unsafe { (*arena).live[pool_index(arena, pool)][granule / 64] };
    word & (1 << (granule % 64)) != 0
}

/// A single-threaded pymalloc heap.
///
/// Blocks of 1..=512 bytes come from its pools; zero-size and larger requests go to the
/// system allocator (`malloc`). It is neither `Send` nor `Sync`: one thread owns it and its
/// paths take no locks and no atomics. Dropping it unmaps all of its arenas, so every block
/// it handed out dies with it (large blocks stay owned by the caller).
///
/// Debug builds check every free: freeing a pointer the heap does not own, an interior
/// pointer or a block twice panics with a clear message.
pub struct Heap {
    root: NonNull<HeapRoot>,
    /// Debug builds: the large blocks handed out, to catch foreign and double frees.
    #[cfg(debug_assertions)]
    large: std::collections::HashSet<usize>,
    _not_send: PhantomData<*mut ()>,
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heap").field("root", &self.root).finish()
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

impl Heap {
    /// A new, empty heap with the default [`HeapConfig`]. Maps nothing until first use.
    pub fn new() -> Heap {
        Heap::with_config(HeapConfig::default())
    }

    /// A new, empty heap with the given arena-retention policy.
    ///
    /// # Panics
    /// If the system allocator cannot provide the heap's few hundred bytes of state.
    pub fn with_config(config: HeapConfig) -> Heap {
        let root = NonNull::new(HeapRoot::create(config)).expect("out of memory creating a Heap");
        Heap {
            root,
            #[cfg(debug_assertions)]
            large: Default::default(),
            _not_send: PhantomData,
        }
    }

    #[inline(always)]
    fn core(&mut self) -> &mut HeapCore {
        // SAFETY: `self.root` came from `HeapRoot::create` and stays live until `drop`.
        let root = unsafe { self.root.as_ref() };
        // SAFETY: `Heap` is not `Send`, so this is the owning thread; it owns its root, and
        // `&mut self` makes this the only reference to the core.
        unsafe { root.core_mut() }
    }

    #[inline(always)]
    fn core_ref(&self) -> &HeapCore {
        // SAFETY: `self.root` came from `HeapRoot::create` and stays live until `drop`.
        let root = unsafe { self.root.as_ref() };
        // SAFETY: `Heap` is not `Send` and owns its root, so only this `Heap` reaches the
        // core; `&self` rules out a concurrent `&mut` from `Heap::core`.
        unsafe { &*root.core.get() }
    }

    /// Allocates `size` bytes aligned to 16. Returns null when out of memory.
    #[inline]
    pub fn alloc(&mut self, size: usize) -> *mut u8 {
        if is_small_request(size) {
            // SAFETY: a small request's class is below NB_SMALL_SIZE_CLASSES.
            unsafe { self.core().alloc_small(size_class(size)) }
        } else {
            self.alloc_large(size)
        }
    }

    #[cold]
    fn alloc_large(&mut self, size: usize) -> *mut u8 {
        // SAFETY: malloc accepts any size; a zero-size request becomes one byte, so every
        // block is unique and freeable.
        let p = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
        #[cfg(debug_assertions)]
        if !p.is_null() {
            self.large.insert(p as usize);
        }
        p
    }

    /// Frees a block from [`Heap::alloc`] or [`Heap::realloc`]. Null is ignored.
    ///
    /// # Safety
    /// `ptr` is null or a block of this heap not freed since (debug builds panic otherwise).
    #[inline]
    pub unsafe fn free(&mut self, ptr: *mut u8) {
        if self.owns(ptr) {
            // SAFETY: the caller guarantees a block in use of ours; it is a pool block.
            unsafe { self.core().free_small(ptr) }
        } else if !ptr.is_null() {
            // SAFETY: not in our arenas, so (by the caller's guarantee) a large block.
            unsafe { self.free_large(ptr) }
        }
    }

    /// Frees a block whose requested size is known: skips the ownership lookup.
    ///
    /// # Safety
    /// `ptr` is a block of this heap not freed since, allocated (or last reallocated) with
    /// `size` bytes (debug builds check ownership and liveness).
    #[inline]
    pub unsafe fn free_sized(&mut self, ptr: *mut u8, size: usize) {
        if is_small_request(size) {
            // SAFETY: the caller guarantees a pool block in use of ours.
            unsafe { self.core().free_small(ptr) }
        } else {
            // SAFETY: the caller guarantees a large block of ours.
            unsafe { self.free_large(ptr) }
        }
    }

    /// # Safety
    /// `ptr` came from `alloc_large` of this heap and was not freed since.
    #[cold]
    unsafe fn free_large(&mut self, ptr: *mut u8) {
        #[cfg(debug_assertions)]
        assert!(
            self.large.remove(&(ptr as usize)),
            "gc_core::alloc: free of {ptr:p}, which this heap does not own (or a double free)"
        );
        // SAFETY: the caller guarantees `ptr` came from `alloc_large` (malloc) and is live.
        unsafe { libc::free(ptr.cast()) }
    }

    /// Resizes a block, moving it when its size class changes. Null `ptr` allocates.
    /// Returns null (leaving the old block intact) when out of memory.
    ///
    /// # Safety
    /// `ptr` is null or a block of this heap not freed since.
    pub unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        let old_size = if self.owns(ptr) {
            // SAFETY: a block in use of ours (caller).
            let old = unsafe { self.core_ref().block_size(ptr) };
            if is_small_request(new_size) && class_size(size_class(new_size)) == old {
                return ptr;
            }
            old
        } else {
            #[cfg(debug_assertions)]
            assert!(
                self.large.contains(&(ptr as usize)),
                "gc_core::alloc: realloc of {ptr:p}, which this heap does not own"
            );
            if !is_small_request(new_size) {
                // SAFETY: a live malloc block of ours (caller).
                // A zero-size request stays a unique one-byte block (glibc's realloc(p, 0) frees).
                let p = unsafe { libc::realloc(ptr.cast(), new_size.max(1)) }.cast::<u8>();
                #[cfg(debug_assertions)]
                if !p.is_null() {
                    self.large.remove(&(ptr as usize));
                    self.large.insert(p as usize);
                }
                return p;
            }
            // SAFETY: a live malloc block (caller).
            unsafe { libc::malloc_usable_size(ptr.cast()) }
        };
        let new = self.alloc(new_size);
        if !new.is_null() {
            // SAFETY: `ptr` is a live block of this heap (caller) of at least `old_size`
            // bytes, `new` a fresh one of at least `new_size`; being both live they are
            // distinct, and we copy what both can hold.
            unsafe { ptr::copy_nonoverlapping(ptr, new, old_size.min(new_size)) };
            // SAFETY: `ptr` is a block of this heap not freed since (caller); it is not used
            // again.
            unsafe { self.free(ptr) };
        }
        new
    }

    /// Whether `ptr` lies in one of this heap's arenas (never reads memory to decide).
    #[inline]
    pub fn owns(&self, ptr: *const u8) -> bool {
        self.core_ref().owns(ptr)
    }

    /// Whether `ptr` is the start of a pool block in use (handed out and not freed).
    /// Never reads memory the heap does not own; costs up to one pool's free-list walk.
    pub fn is_allocated_block(&self, ptr: *const u8) -> bool {
        self.core_ref().is_allocated_block(ptr)
    }

    /// Usable bytes of a block: its class size for pool blocks.
    ///
    /// # Safety
    /// `ptr` is a block in use of this heap.
    pub unsafe fn usable_size(&self, ptr: *const u8) -> usize {
        if self.owns(ptr) {
            // SAFETY: a block in use of ours (caller).
            unsafe { self.core_ref().block_size(ptr) }
        } else {
            // SAFETY: a live malloc block (caller).
            unsafe { libc::malloc_usable_size(ptr.cast_mut().cast()) }
        }
    }

    /// Statistics of the pools and arenas ([`MallocStats`]'s `Display` prints them like
    /// CPython's `sys._debugmallocstats()`).
    pub fn stats(&mut self) -> MallocStats {
        self.core().stats()
    }

    /// Checks every invariant of the heap's pools and arenas.
    pub fn validate(&self) -> Result<(), String> {
        self.core_ref().validate()
    }

    /// Unmaps the empty arenas kept for reuse, like `malloc_trim`.
    pub fn release_free_memory(&mut self) {
        self.core().release_free_memory();
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // SAFETY: `Heap` is not `Send`, so no other thread holds its blocks; the root is
        // ours and not used after this.
        unsafe { HeapRoot::destroy(self.root.as_ptr()) }
    }
}
