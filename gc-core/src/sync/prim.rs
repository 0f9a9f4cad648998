//! The synchronisation primitives of the thread-safe flavour, in one place so that loom
//! can replace them: `cargo test` with `RUSTFLAGS="--cfg loom"` builds every atomic, lock
//! and spin of `crate::sync` on loom's model types, and loom then explores the
//! interleavings of the real protocols (gc-core/tests/loom_sync.rs).
//!
//! Invariant owned here: none beyond the primitives' own; everything else in `crate::sync`
//! takes its atomics and locks from this module, never from `std` or `parking_lot`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::fence;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::fence;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

pub(crate) use std::sync::atomic::Ordering;

/// A mutex with parking_lot's API (no poisoning): parking_lot's, or loom's under loom.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Mutex<T> {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
        #[cfg(loom)]
        {
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}

/// A reader-writer lock with parking_lot's API: parking_lot's, or loom's under loom.
#[derive(Debug, Default)]
pub(crate) struct RwLock<T> {
    #[cfg(not(loom))]
    inner: parking_lot::RwLock<T>,
    #[cfg(loom)]
    inner: loom::sync::RwLock<T>,
}

#[cfg(not(loom))]
pub(crate) type ReadGuard<'a, T> = parking_lot::RwLockReadGuard<'a, T>;
#[cfg(loom)]
pub(crate) type ReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
#[cfg(not(loom))]
pub(crate) type WriteGuard<'a, T> = parking_lot::RwLockWriteGuard<'a, T>;
#[cfg(loom)]
pub(crate) type WriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> RwLock<T> {
        RwLock {
            #[cfg(not(loom))]
            inner: parking_lot::RwLock::new(value),
            #[cfg(loom)]
            inner: loom::sync::RwLock::new(value),
        }
    }

    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.read()
        }
        #[cfg(loom)]
        {
            self.inner.read().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[inline]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.write()
        }
        #[cfg(loom)]
        {
            self.inner.write().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[inline]
    pub(crate) fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        #[cfg(not(loom))]
        {
            self.inner.try_read()
        }
        #[cfg(loom)]
        {
            match self.inner.try_read() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
    }

    #[inline]
    pub(crate) fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        #[cfg(not(loom))]
        {
            self.inner.try_write()
        }
        #[cfg(loom)]
        {
            match self.inner.try_write() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
    }
}

/// One step of a wait for another thread (a lock holder, a writer of a slot): a spin hint,
/// or a yield to loom's scheduler.
#[inline]
pub(crate) fn spin_once(round: u32) {
    #[cfg(loom)]
    {
        let _ = round;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if round < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// `thread_local!` for the flavour's per-thread state: std's, or loom's under loom (whose
/// values are per model thread and start afresh in every explored execution).
macro_rules! sync_thread_local {
    ($(static $name:ident: $ty:ty = $init:expr;)*) => {
        #[cfg(not(loom))]
        std::thread_local! {
            $(static $name: $ty = const { $init };)*
        }
        #[cfg(loom)]
        loom::thread_local! {
            $(static $name: $ty = $init;)*
        }
    };
}
pub(crate) use sync_thread_local;
