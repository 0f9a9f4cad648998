//! The generation lists of the thread-safe flavour, and who may write an object's links.
//!
//! Invariant owned here: an object's `home` says who owns its links.
//! - A [`ListHome`]: the object is on that list, and its links (and the list's) are
//!   written only under that list's lock.
//! - [`COLLECTING`]: a collection detached it; only the collecting thread writes its links,
//!   and nobody but the collection drops its value. A thread whose drop takes the count to
//!   zero does not touch it: it swaps `home` to [`RELEASED`], handing the whole release
//!   (finalizer, value, block) to the collection, which runs it when it is done
//!   ([`unlink_for_release`]). So a collection can trace every detached object without
//!   holding references on them: no value it reads can be dropped under it.
//! - [`UNTRACKED`]: on no list (an untracked type, or unlinked for good).
//!
//! A list lock is held only for a bounded number of link operations (a detach or a merge
//! moves at most [`CHUNK`] objects per lock hold), so no mutator waits long on one.
//! CPython's counterparts are `gc_list_append`/`gc_list_remove` on `PyGC_Head`.

pub(crate) use super::header::{COLLECTING, RELEASED, UNTRACKED};
use super::header::{HomeTag, Links, SyncHeader};
use super::prim::{AtomicUsize, Mutex, Ordering};
use std::ptr::{self, NonNull};

/// Most objects moved per lock hold by a detach or a merge.
pub(crate) const CHUNK: usize = 1024;

/// One generation list: a lock, a circular doubly linked list through the objects' links,
/// and its length. Aligned to two cache lines, so that two threads' young lists never
/// share one (their owners lock them on every allocation).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct ListHome {
    lock: Mutex<()>,
    head: Links,
    len: AtomicUsize,
}

// SAFETY: `head` is only written under `lock` (module docs); the rest is atomic.
unsafe impl Sync for ListHome {}
// SAFETY: as for `Sync`.
unsafe impl Send for ListHome {}

/// The links of an object.
#[inline(always)]
pub(crate) fn links_of(obj: NonNull<SyncHeader>) -> *mut Links {
    obj.as_ptr().cast()
}

/// The object whose links these are.
#[inline(always)]
fn obj_of(links: *mut Links) -> NonNull<SyncHeader> {
    // SAFETY: only objects' links (never a sentinel) are turned back into objects.
    unsafe { NonNull::new_unchecked(links.cast()) }
}

impl ListHome {
    /// A new, empty list with a fixed address (homes live for the whole process).
    pub(crate) fn leak() -> &'static ListHome {
        let home: &'static ListHome = Box::leak(Box::new(ListHome {
            lock: Mutex::new(()),
            head: Links::unlinked(),
            len: AtomicUsize::new(0),
        }));
        let sentinel = home.sentinel();
        home.head.next.set(sentinel);
        home.head.prev.set(sentinel);
        home
    }

    fn sentinel(&self) -> *mut Links {
        ptr::from_ref(&self.head).cast_mut()
    }

    /// This list as an object's `home`.
    fn as_tag(&self) -> *mut HomeTag {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Objects on the list (exact under the lock, a recent value otherwise).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Appends `obj` (a new object, on no list) and returns the new length.
    ///
    /// # Safety
    /// `obj` is live, tracked, and on no list (`home` is `UNTRACKED`), and no other thread
    /// can start its release (it is new, or its count is zero and its release the
    /// caller's).
    pub(crate) unsafe fn push_new(&self, obj: NonNull<SyncHeader>) -> usize {
        let _guard = self.lock.lock();
        // SAFETY: under the lock (caller: `obj` is ours).
        unsafe { self.append_locked(obj) };
        // SAFETY: live (caller).
        unsafe { obj.as_ref() }
            .home
            .store(self.as_tag(), Ordering::Release);
        let len = self.len.load(Ordering::Relaxed) + 1;
        self.len.store(len, Ordering::Relaxed);
        len
    }

    /// # Safety
    /// The lock is held; `obj` is live and on no list, and its links are the caller's.
    unsafe fn append_locked(&self, obj: NonNull<SyncHeader>) {
        let node = links_of(obj);
        let sentinel = self.sentinel();
        let last = self.head.prev.get();
        // SAFETY: `obj` is live (caller); its links are the caller's.
        let links = unsafe { &*node };
        links.next.set(sentinel);
        links.prev.set(last);
        // SAFETY: the last node of the list (or its sentinel) is live, and the list's links
        // are written under its lock, held (caller).
        unsafe { &*last }.next.set(node);
        self.head.prev.set(node);
    }

    /// # Safety
    /// The lock is held and `obj` is on this list.
    unsafe fn remove_locked(&self, obj: NonNull<SyncHeader>) {
        // SAFETY: on this list, so live (caller).
        let links = unsafe { &*links_of(obj) };
        let (next, prev) = (links.next.get(), links.prev.get());
        // SAFETY: `obj` is on this list, whose lock is held (caller), so its neighbours are
        // live nodes or the sentinel.
        unsafe { &*prev }.next.set(next);
        // SAFETY: as above.
        unsafe { &*next }.prev.set(prev);
    }

    /// Detaches up to `max` objects from the front into `out`, marking each `COLLECTING`.
    /// Holds the lock for at most [`CHUNK`] objects at a time, and calls `after_chunk` with
    /// the start of each chunk in `out` once the lock is released (while the chunk is still
    /// in cache). Returns how many moved.
    pub(crate) fn detach(
        &self,
        max: usize,
        out: &mut Vec<NonNull<SyncHeader>>,
        mut after_chunk: impl FnMut(&mut Vec<NonNull<SyncHeader>>, usize),
    ) -> usize {
        let mut moved = 0;
        while moved < max {
            let chunk_start = out.len();
            let _guard = self.lock.lock();
            let sentinel = self.sentinel();
            let mut in_chunk = 0;
            let mut node = self.head.next.get();
            // Walk the chunk, then cut it off the list with one splice (the detached nodes'
            // own links are stale until a merge rewrites them).
            while moved < max && in_chunk < CHUNK && node != sentinel {
                let obj = obj_of(node);
                // SAFETY: on the list (the lock is held), so live: a freed object is
                // unlinked first, under this lock.
                let hdr = unsafe { obj.as_ref() };
                node = hdr.links.next.get();
                hdr.home.store(COLLECTING, Ordering::Release);
                out.push(obj);
                in_chunk += 1;
                moved += 1;
            }
            self.head.next.set(node);
            // SAFETY: `node` is the first node left on the list, or its sentinel: live.
            unsafe { &*node }.prev.set(sentinel);
            let len = self.len.load(Ordering::Relaxed);
            self.len.store(len - in_chunk, Ordering::Relaxed);
            drop(_guard);
            after_chunk(out, chunk_start);
            if in_chunk < CHUNK {
                break;
            }
        }
        moved
    }

    /// Gives detached objects to this list, as the collection ends (one lock hold; callers
    /// pass at most [`CHUNK`] objects). An object whose count reached zero while it was
    /// detached (`home` is `RELEASED`) is not linked: it is returned in `released`, whose
    /// release is the caller's to run.
    ///
    /// # Safety
    /// Every object of `objs` is detached by the caller's collection (`home` is
    /// `COLLECTING` or `RELEASED`) and its block is live.
    pub(crate) unsafe fn merge(
        &self,
        objs: &[NonNull<SyncHeader>],
        released: &mut Vec<NonNull<SyncHeader>>,
    ) {
        let _guard = self.lock.lock();
        let mut added = 0;
        for &obj in objs {
            // SAFETY: live (caller).
            let hdr = unsafe { obj.as_ref() };
            let linked = hdr
                .home
                .compare_exchange(
                    COLLECTING,
                    self.as_tag(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
            if linked {
                // SAFETY: under the lock; the object's links are ours until the store above
                // published it to this list, whose lock we hold.
                unsafe { self.append_locked(obj) };
                added += 1;
            } else {
                released.push(obj);
            }
        }
        let len = self.len.load(Ordering::Relaxed);
        self.len.store(len + added, Ordering::Relaxed);
    }
}

/// Takes an object whose count reached zero off its list, before anything of its release
/// runs. Returns whether the caller goes on with the release (false: a collection holds
/// the object, and the release is now the collection's, `home` being `RELEASED`).
///
/// # Safety
/// The caller took the object's strong count to zero (or owns its release) and the block
/// is live.
pub(crate) unsafe fn unlink_for_release(obj: NonNull<SyncHeader>) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.as_ref() };
    loop {
        let home = hdr.home.load(Ordering::Acquire);
        if home == UNTRACKED {
            return true;
        }
        if home == COLLECTING {
            if hdr
                .home
                .compare_exchange(COLLECTING, RELEASED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return false;
            }
            continue;
        }
        debug_assert!(home != RELEASED, "an object released twice");
        // SAFETY: any other `home` is a `ListHome` (`as_tag`), and homes are leaked, never
        // freed.
        let list = unsafe { &*home.cast::<ListHome>() };
        let _guard = list.lock.lock();
        if hdr.home.load(Ordering::Acquire) != home {
            continue; // moved by a collection meanwhile
        }
        // SAFETY: under its list's lock, and on that list (`home` re-checked under it).
        unsafe { list.remove_locked(obj) };
        hdr.home.store(UNTRACKED, Ordering::Release);
        let len = list.len.load(Ordering::Relaxed);
        list.len.store(len - 1, Ordering::Relaxed);
        return true;
    }
}

/// Marks a detached object of the running collection as on no list (the collection frees
/// it as garbage). Returns false if its count reached zero meanwhile (`RELEASED`: its
/// release was handed to the collection); `home` is `UNTRACKED` either way.
///
/// # Safety
/// `obj` is detached by the caller's collection and live.
pub(crate) unsafe fn forget_detached(obj: NonNull<SyncHeader>) -> bool {
    // SAFETY: live (caller).
    let hdr = unsafe { obj.as_ref() };
    hdr.home.swap(UNTRACKED, Ordering::AcqRel) == COLLECTING
}
