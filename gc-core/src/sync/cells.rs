//! The cells through which a `gc_api::sync::Gc` can be replaced inside a shared object:
//! [`GcMutex`], [`GcRwLock`] and the raw slot of `AtomicGc`. Each carries a version that
//! every write access bumps, which is how a collection notices a handle moved between a
//! cell and a stack while it looked (SYNC-DESIGN 3.2: counts alone miss such moves).
//!
//! Invariant owned here: a cell's contents change only while its version word is odd for
//! the slot, or locked for the mutex, and each such write access moves the version word
//! to a value it never held before; a trace reads the contents only under the cell's own
//! lock taken without waiting (`try_*`), and reports hidden edges when it cannot.

use super::header::{RC_INC, SyncHeader, flags, header, strong_of};
use super::prim::{AtomicPtr, AtomicU64, Ordering, ReadGuard, RwLock, WriteGuard, spin_once};
use crate::trace::{Finalize, Trace, Tracer};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

const LOCKED: u64 = 1;
const PARKED: u64 = 2;
/// One version step of a mutex word (the version sits above the two state bits).
const VERSION_STEP: u64 = 4;

/// A mutex whose word is `version:62 | parked:1 | locked:1`: acquiring it *is* the
/// version bump (one compare-exchange, as an uncontended parking_lot lock), and waiters
/// park through parking_lot_core.
struct RawGcMutex {
    word: AtomicU64,
}

impl RawGcMutex {
    fn new() -> RawGcMutex {
        RawGcMutex {
            word: AtomicU64::new(0),
        }
    }

    #[inline]
    fn lock(&self) {
        let w = self.word.load(Ordering::Relaxed);
        if w & LOCKED == 0
            && self
                .word
                .compare_exchange_weak(
                    w,
                    (w + VERSION_STEP) | LOCKED,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return;
        }
        self.lock_slow();
    }

    /// Acquires without waiting; returns the word as it will read once unlocked again.
    #[inline]
    fn try_lock(&self) -> Option<u64> {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & LOCKED != 0 {
                return None;
            }
            match self.word.compare_exchange_weak(
                w,
                (w + VERSION_STEP) | LOCKED,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some((w + VERSION_STEP) & !(LOCKED | PARKED)),
                Err(now) => w = now,
            }
        }
    }

    #[cold]
    fn lock_slow(&self) {
        let mut round = 0u32;
        loop {
            let w = self.word.load(Ordering::Relaxed);
            if w & LOCKED == 0 {
                if self
                    .word
                    .compare_exchange_weak(
                        w,
                        (w + VERSION_STEP) | LOCKED,
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            #[cfg(not(loom))]
            if round >= 40 {
                if w & PARKED == 0
                    && self
                        .word
                        .compare_exchange_weak(w, w | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                        .is_err()
                {
                    continue;
                }
                let addr = ptr::from_ref(self) as usize;
                // SAFETY: the validation callback only reads our word; parking on our own
                // address, which `unlock_slow` unparks.
                unsafe {
                    parking_lot_core::park(
                        addr,
                        || self.word.load(Ordering::Relaxed) & (LOCKED | PARKED) == LOCKED | PARKED,
                        || {},
                        |_, _| {},
                        parking_lot_core::DEFAULT_PARK_TOKEN,
                        None,
                    )
                };
                round = 0;
                continue;
            }
            spin_once(round);
            round += 1;
        }
    }

    /// # Safety
    /// The caller holds the lock.
    #[inline]
    unsafe fn unlock(&self) {
        let w = self.word.load(Ordering::Relaxed);
        if w & PARKED == 0
            && self
                .word
                .compare_exchange(w, w & !LOCKED, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        self.unlock_slow();
    }

    #[cold]
    fn unlock_slow(&self) {
        #[cfg(not(loom))]
        {
            let addr = ptr::from_ref(self) as usize;
            // SAFETY: the callback runs under the parking queue's lock; it only updates our
            // word, so a thread validating its park sees either state consistently.
            unsafe {
                parking_lot_core::unpark_one(addr, |result| {
                    let clear = if result.have_more_threads {
                        LOCKED
                    } else {
                        LOCKED | PARKED
                    };
                    self.word.fetch_and(!clear, Ordering::SeqCst);
                    parking_lot_core::DEFAULT_UNPARK_TOKEN
                })
            };
        }
        #[cfg(loom)]
        {
            self.word.fetch_and(!(LOCKED | PARKED), Ordering::SeqCst);
        }
    }

    fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & LOCKED != 0
    }
}

/// A mutex for values that hold `gc_api::sync::Gc` handles: the collector sees what it
/// holds (it traces the contents when the lock is free, and knows when they changed).
/// Use it where `std::sync::Mutex` would go; its guard is a plain `&mut T`.
///
/// Its lock is parking_lot's design on one word that also counts write accesses.
/// `lock` and unlock cost one atomic operation each, as `parking_lot::Mutex`.
pub struct GcMutex<T: ?Sized> {
    raw: RawGcMutex,
    value: UnsafeCell<T>,
}

// SAFETY: as `std::sync::Mutex`: the value moves with the mutex.
unsafe impl<T: ?Sized + Send> Send for GcMutex<T> {}
// SAFETY: as `std::sync::Mutex`: one thread at a time gets `&mut T`, under the lock.
unsafe impl<T: ?Sized + Send> Sync for GcMutex<T> {}

impl<T> GcMutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> GcMutex<T> {
        GcMutex {
            raw: RawGcMutex::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, taking the mutex apart.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> GcMutex<T> {
    /// Waits for the lock; the guard gives `&mut T` until dropped.
    ///
    /// Do not wait for a lock that a finalizer or weak callback may take while you hold
    /// another one a finalizer needs: finalizers run on whichever thread collects.
    #[inline]
    pub fn lock(&self) -> GcMutexGuard<'_, T> {
        self.raw.lock();
        GcMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// The lock if it is free now.
    #[inline]
    pub fn try_lock(&self) -> Option<GcMutexGuard<'_, T>> {
        self.raw.try_lock().map(|_| GcMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// The value, through exclusive access to the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Whether some thread holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

impl<T: Default> Default for GcMutex<T> {
    fn default() -> GcMutex<T> {
        GcMutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(guard) => f.debug_struct("GcMutex").field("value", &&*guard).finish(),
            None => f
                .debug_struct("GcMutex")
                .field("value", &"<locked>")
                .finish(),
        }
    }
}

/// Holds a [`GcMutex`] locked; gives `&mut T`.
pub struct GcMutexGuard<'a, T: ?Sized> {
    mutex: &'a GcMutex<T>,
    /// Unlocked by the thread that locked (as std's guard).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for GcMutexGuard<'_, T> {}

impl<T: ?Sized> Deref for GcMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for GcMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for GcMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// SAFETY: reports exactly the contents' edges, read under the lock (taken without
// waiting); when the lock is busy it reports hidden edges instead.
unsafe impl<T: ?Sized + Trace> Trace for GcMutex<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self.raw.try_lock() {
            Some(version) => {
                // Unlocks even if the contents' trace panics.
                let guard = GcMutexGuard {
                    mutex: self,
                    _not_send: PhantomData,
                };
                (*guard).trace(tracer);
                // SAFETY: the version word lives in this cell, inside the traced value.
                unsafe { tracer.record_cell(ptr::from_ref(&self.raw.word).cast(), version) };
            }
            None => tracer.report_hidden_edges(),
        }
    }

    fn may_contain_gc() -> bool
    where
        Self: Sized,
    {
        true
    }
}

impl<T: ?Sized> Finalize for GcMutex<T> {
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        false
    }
}

/// A reader-writer lock for values that hold `gc_api::sync::Gc` handles (parking_lot's
/// `RwLock`, plus a version that each write access bumps).
pub struct GcRwLock<T: ?Sized> {
    lock: RwLock<()>,
    version: AtomicU64,
    value: UnsafeCell<T>,
}

// SAFETY: as `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for GcRwLock<T> {}
// SAFETY: as `std::sync::RwLock`: readers share `&T` (so `T: Sync`), a writer gets `&mut T`.
unsafe impl<T: ?Sized + Send + Sync> Sync for GcRwLock<T> {}

impl<T> GcRwLock<T> {
    /// A new unlocked lock holding `value`.
    pub fn new(value: T) -> GcRwLock<T> {
        GcRwLock {
            lock: RwLock::new(()),
            version: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, taking the lock apart.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> GcRwLock<T> {
    /// Shared access; waits while a writer holds the lock.
    pub fn read(&self) -> GcRwLockReadGuard<'_, T> {
        GcRwLockReadGuard {
            _guard: self.lock.read(),
            value: &self.value,
        }
    }

    /// Exclusive access; waits for readers and writers to leave.
    pub fn write(&self) -> GcRwLockWriteGuard<'_, T> {
        let guard = self.lock.write();
        self.version.fetch_add(1, Ordering::SeqCst);
        GcRwLockWriteGuard {
            _guard: guard,
            value: &self.value,
        }
    }

    /// Shared access if no writer holds the lock now.
    pub fn try_read(&self) -> Option<GcRwLockReadGuard<'_, T>> {
        self.lock.try_read().map(|guard| GcRwLockReadGuard {
            _guard: guard,
            value: &self.value,
        })
    }

    /// Exclusive access if the lock is free now.
    pub fn try_write(&self) -> Option<GcRwLockWriteGuard<'_, T>> {
        self.lock.try_write().map(|guard| {
            self.version.fetch_add(1, Ordering::SeqCst);
            GcRwLockWriteGuard {
                _guard: guard,
                value: &self.value,
            }
        })
    }

    /// The value, through exclusive access to the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for GcRwLock<T> {
    fn default() -> GcRwLock<T> {
        GcRwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(guard) => f.debug_struct("GcRwLock").field("value", &&*guard).finish(),
            None => f
                .debug_struct("GcRwLock")
                .field("value", &"<locked>")
                .finish(),
        }
    }
}

/// Shared access to a [`GcRwLock`]'s value.
pub struct GcRwLockReadGuard<'a, T: ?Sized> {
    _guard: ReadGuard<'a, ()>,
    value: &'a UnsafeCell<T>,
}

impl<T: ?Sized> Deref for GcRwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held: no writer has `&mut T`.
        unsafe { &*self.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcRwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to a [`GcRwLock`]'s value.
pub struct GcRwLockWriteGuard<'a, T: ?Sized> {
    _guard: WriteGuard<'a, ()>,
    value: &'a UnsafeCell<T>,
}

impl<T: ?Sized> Deref for GcRwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held.
        unsafe { &*self.value.get() }
    }
}

impl<T: ?Sized> DerefMut for GcRwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held exclusively.
        unsafe { &mut *self.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcRwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// SAFETY: reports exactly the contents' edges, read under a read lock taken without
// waiting; hidden edges when a writer holds it.
unsafe impl<T: ?Sized + Trace> Trace for GcRwLock<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self.lock.try_read() {
            Some(_guard) => {
                let version = self.version.load(Ordering::SeqCst);
                // SAFETY: under the read lock.
                let value = unsafe { &*self.value.get() };
                value.trace(tracer);
                // SAFETY: the version word lives in this cell, inside the traced value.
                unsafe { tracer.record_cell(ptr::from_ref(&self.version).cast(), version) };
            }
            None => tracer.report_hidden_edges(),
        }
    }

    fn may_contain_gc() -> bool
    where
        Self: Sized,
    {
        true
    }
}

impl<T: ?Sized> Finalize for GcRwLock<T> {
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        false
    }
}

/// The raw slot of `gc_api::sync::AtomicGc`: a pointer that owns one strong reference to
/// its object (or null), and a version that is odd while a writer replaces the pointer.
/// Readers (`load`) never write the slot: they pin an epoch and take a reference with
/// inc-if-nonzero; objects ever stored here free their block through the epoch.
#[derive(Debug)]
pub struct AtomicSlot {
    ptr: AtomicPtr<SyncHeader>,
    version: AtomicU64,
}

impl AtomicSlot {
    /// A slot owning `obj`'s reference (null: empty).
    ///
    /// # Safety
    /// `obj` is null or a live sync object whose one strong reference the caller hands over.
    pub unsafe fn new(obj: *mut SyncHeader) -> AtomicSlot {
        if let Some(obj) = NonNull::new(obj) {
            // SAFETY: live (caller).
            unsafe { mark_published(obj) };
        }
        AtomicSlot {
            ptr: AtomicPtr::new(obj),
            version: AtomicU64::new(0),
        }
    }

    /// Puts `obj` in (its reference moves in) and returns the old pointer (its reference
    /// moves out to the caller).
    ///
    /// # Safety
    /// As [`AtomicSlot::new`].
    pub unsafe fn swap(&self, obj: *mut SyncHeader) -> *mut SyncHeader {
        if let Some(obj) = NonNull::new(obj) {
            // SAFETY: live (caller).
            unsafe { mark_published(obj) };
        }
        let mut round = 0;
        let odd = loop {
            let v = self.version.load(Ordering::Relaxed);
            if v & 1 == 0
                && self
                    .version
                    .compare_exchange_weak(v, v + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                break v + 1;
            }
            spin_once(round);
            round += 1;
        };
        let old = self.ptr.swap(obj, Ordering::SeqCst);
        self.version.store(odd + 1, Ordering::SeqCst);
        old
    }

    /// A new strong reference to the object in the slot, if any.
    ///
    /// Read as a seqlock reader: the version before, the pointer, the increment, the
    /// version after. Only if no writer ran in between did the slot hold the object (and
    /// its reference) for the whole time, so the new reference comes from a reachable slot;
    /// otherwise the object may have become garbage and been claimed by a collection, and
    /// the reference is given back and the load retried.
    pub fn load(&self) -> Option<NonNull<SyncHeader>> {
        #[cfg(not(loom))]
        let _pin = crossbeam_epoch::pin();
        let mut round = 0;
        loop {
            let before = self.version.load(Ordering::SeqCst);
            if before & 1 != 0 {
                spin_once(round);
                round += 1;
                continue;
            }
            let obj = NonNull::new(self.ptr.load(Ordering::SeqCst));
            let Some(obj) = obj else {
                if self.version.load(Ordering::SeqCst) == before {
                    return None;
                }
                continue;
            };
            // SAFETY: the block stays allocated while we are pinned: it was published, so
            // its free waits for the epoch.
            let taken = unsafe { inc_if_nonzero(obj) };
            if self.version.load(Ordering::SeqCst) == before {
                if taken {
                    return Some(obj);
                }
                // Unreachable: the slot's own reference was there all along.
                continue;
            }
            if taken {
                // SAFETY: the reference just taken.
                unsafe { super::release::dec_strong(obj) };
            }
        }
    }

    /// The pointer, for the slot's owner (`&mut` access: no concurrent writer).
    pub fn get_mut(&mut self) -> *mut SyncHeader {
        self.ptr.load(Ordering::Relaxed)
    }

    /// Reports the slot's edge and version to a sync collector (hidden edges while a writer
    /// is replacing the pointer).
    pub fn trace(&self, tracer: &mut Tracer) {
        #[cfg(not(loom))]
        let _pin = crossbeam_epoch::pin();
        let before = self.version.load(Ordering::SeqCst);
        if before & 1 != 0 {
            tracer.report_hidden_edges();
            return;
        }
        let obj = self.ptr.load(Ordering::SeqCst);
        if self.version.load(Ordering::SeqCst) != before {
            tracer.report_hidden_edges();
            return;
        }
        if !obj.is_null() {
            // SAFETY: the object was in the slot, holding a reference, at a moment when no
            // writer ran; if it was swapped out since, its block is still allocated while we
            // are pinned (published objects free through the epoch).
            unsafe { tracer.visit_sync(obj.cast_const().cast()) };
        }
        // SAFETY: the version word lives in this slot, inside the traced value.
        unsafe { tracer.record_cell(ptr::from_ref(&self.version).cast(), before) };
    }
}

/// Flags `obj` as stored in an `AtomicGc` (its block then frees through the epoch).
///
/// # Safety
/// `obj` is live.
unsafe fn mark_published(obj: NonNull<SyncHeader>) {
    // SAFETY: live (caller).
    let hdr = unsafe { header(obj) };
    if hdr.flags.load(Ordering::Relaxed) & flags::PUBLISHED == 0 {
        hdr.flags.fetch_or(flags::PUBLISHED, Ordering::SeqCst);
    }
}

/// Takes a strong reference unless the count is already zero.
///
/// # Safety
/// `obj`'s block is allocated.
pub(crate) unsafe fn inc_if_nonzero(obj: NonNull<SyncHeader>) -> bool {
    // SAFETY: allocated (caller).
    let hdr = unsafe { header(obj) };
    let mut word = hdr.rc.load(Ordering::SeqCst);
    loop {
        if strong_of(word) == 0 {
            return false;
        }
        super::header::check_overflow(word);
        match hdr.rc.compare_exchange_weak(
            word,
            word.wrapping_add(RC_INC),
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return true,
            Err(now) => word = now,
        }
    }
}
