//! One collection of the thread-safe flavour: CPython's `gc_collect_main` on lists that
//! other threads keep mutating, with no thread ever stopped (SYNC-DESIGN 3.5).
//!
//! Invariant owned here: an object's value is dropped by a collection only if the object
//! belongs to a set that was *closed at one instant* — no handle to it outside the set and
//! no edge into it from outside, at a single moment — and that no thread could reach again
//! afterwards. The argument (SYNC-DESIGN 3.6, the double-collect lemma of Afek et al.):
//!
//! 1. `detach` takes the lists, a chunk per lock hold, and `read_counts` reads each
//!    object's count word `w0`. No value is dropped under a trace without the collector
//!    holding references: a thread whose drop takes a detached object's count to zero hands
//!    the whole release to the collection (`home` says `RELEASED`), which runs it at the
//!    end; objects already at zero are not examined (their releaser is about to hand them
//!    over, or took them off the list first).
//! 2. `update_refs`/`subtract_refs` work on those words and on one trace of each object,
//!    whose edges and cell versions (`GcMutex`, `GcRwLock`, `AtomicGc`) are recorded; a cell
//!    that cannot be read without waiting reports hidden edges (its object is a root).
//! 3. `move_unreachable` marks what the roots reach over the recorded edges.
//! 4. `claim` is the second read: after a `SeqCst` fence it swaps every tentatively
//!    unreachable word from `w0` to `w0 | CLAIMED` (a compare-exchange) and compares every
//!    cell version with one, under the weak lock's write side. An object whose word or cell
//!    changed was in use: it and everything it reaches go back to the reachable side, the
//!    claims are undone, and the claim is retried on what is left. Every word carries a
//!    modification count (a move of a handle between cells changes a cell version, a clone
//!    or drop changes a word), so "unchanged" means "not modified in between", and all the
//!    first reads precede all the second ones: at the instant between them, the observed
//!    graph of the remaining set was the real one, and it was closed.
//! 5. The claim is all or nothing: a weak upgrade either got in before an object's
//!    compare-exchange (which then fails: the set lives) or finds `CLAIMED` and waits on the
//!    lock's read side until the claim is decided.
//! 6. Weak callbacks and finalizers run with no lock held; if any user code ran,
//!    `check_garbage` repeats steps 2 and 4 on the claimed set with fresh reads, and the
//!    whole set survives if anything in it is referenced from outside (CPython 3.11's rule).
//! 7. `delete_garbage` marks the whole set `DEAD` before dropping any value (a handle a
//!    `Drop` smuggles out finds its object dead), then drops the values.
//! 8. Survivors go to the next generation's list; the collector drops its references.
//!
//! A cycle that was garbage when the collection started is never touched by a mutator, so
//! its validation cannot fail: every such cycle is freed by the collection (completeness).

use super::header::{CLAIMED, STRONG_MASK, SyncHeader, flags, header, strong_of};
use super::home::{ListHome, forget_detached};
use super::panics::{guarded, keep_panic, raise_kept_panic};
use super::prim::{AtomicU64, Ordering, fence};
use super::release::{release_unlinked, run_weak_callbacks};
use super::state::{heap, in_collection, invoke_callbacks, set_in_collection, thread_home};
use crate::trace::{SyncVisit, Tracer};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

/// The collection lock, held for reading by a thread's own young collection and for
/// writing by any other.
enum CollectGuard {
    Shared(#[allow(dead_code)] super::prim::ReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] super::prim::WriteGuard<'static, ()>),
}

/// Which young lists a collection takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The calling thread's (an automatic young collection).
    OwnYoung,
    /// Every thread's, exited ones included.
    AllYoung,
}

/// Examined, not yet decided.
const UNDECIDED: u8 = 0;
/// The last reference went before the collection could take one: not examined.
const SKIPPED: u8 = 1;
/// Reachable from outside the examined set.
const REACHABLE: u8 = 2;
/// Garbage, claimed.
const GARBAGE: u8 = 3;

/// Records the edges and cell versions a trace reports.
struct Recorder {
    /// The collection's id (the high half of its members' `slot`).
    id: u64,
    edges: Vec<u32>,
    cells: Vec<(*const AtomicU64, u64)>,
}

impl SyncVisit for Recorder {
    unsafe fn visit_sync(&mut self, target: *const ()) {
        let target = target.cast::<SyncHeader>();
        // SAFETY: a live object (caller).
        let hdr = unsafe { &*target };
        let slot = hdr.slot.load(Ordering::Relaxed);
        if slot >> 32 == self.id {
            self.edges.push(slot as u32 - 1);
        }
    }

    unsafe fn record_cell(&mut self, word: *const (), version: u64) {
        self.cells.push((word.cast(), version));
    }
}

/// The work set of one collection.
struct Collection {
    objs: Vec<NonNull<SyncHeader>>,
    state: Vec<u8>,
    /// The count word as first read.
    w0: Vec<u64>,
    /// CPython's `gc_refs`.
    refs: Vec<u32>,
    /// Where each object's recorded edges and cells start (one extra entry at the end).
    edge_start: Vec<u32>,
    cell_start: Vec<u32>,
    rec: Recorder,
    /// A trace panicked: everything examined survives.
    poisoned: bool,
}

/// Runs a collection of `generation`; without `wait`, only if the lock is free now.
/// Returns the number of objects freed, or `None` if it did not run (called from inside a
/// collection, or the lock was busy).
pub(crate) fn collect(generation: usize, scope: Scope, wait: bool) -> Option<usize> {
    if in_collection() {
        return None;
    }
    let heap = heap();
    // A thread's own young collection shares the lock with the other threads' (they work
    // on disjoint lists); any other collection takes every list, so it runs alone.
    let guard = match (scope, wait) {
        (Scope::OwnYoung, true) => CollectGuard::Shared(heap.collect_lock.read()),
        (Scope::OwnYoung, false) => CollectGuard::Shared(heap.collect_lock.try_read()?),
        (Scope::AllYoung, true) => CollectGuard::Exclusive(heap.collect_lock.write()),
        (Scope::AllYoung, false) => CollectGuard::Exclusive(heap.collect_lock.try_write()?),
    };
    set_in_collection(true);
    invoke_callbacks(crate::types::Phase::Start, generation, 0);
    let collected = run(generation, scope);
    {
        let mut stats = heap.stats.lock();
        stats[generation].collections += 1;
        stats[generation].collected += collected;
    }
    if generation < 2 {
        heap.counts[generation].fetch_add(1, Ordering::Relaxed);
    }
    for count in heap.counts.iter().take(generation) {
        count.store(0, Ordering::Relaxed);
    }
    invoke_callbacks(crate::types::Phase::Stop, generation, collected);
    set_in_collection(false);
    drop(guard);
    raise_kept_panic();
    Some(collected)
}

fn run(generation: usize, scope: Scope) -> usize {
    let heap = heap();
    let young: Vec<&'static ListHome> = match scope {
        Scope::OwnYoung => vec![thread_home()],
        Scope::AllYoung => heap.young_homes(),
    };
    let old = heap.old.iter().take(generation).copied();
    let mut c = Collection::new();
    let mut objs = Vec::new();
    for home in young.into_iter().chain(old) {
        home.detach(home.len(), &mut objs, |objs, start| {
            c.read_counts(&objs[start..], start);
        });
    }
    c.objs = objs;
    let target = heap.old[generation.min(1)];
    c.update_and_subtract_refs();
    c.move_unreachable();
    let mut collected = 0;
    if !c.poisoned && c.claim() {
        c.handle_weakrefs_and_finalize();
        collected = c.delete_garbage();
    }
    c.finish(target, generation);
    collected
}

impl Collection {
    fn new() -> Collection {
        Collection {
            objs: Vec::new(),
            state: Vec::new(),
            w0: Vec::new(),
            refs: Vec::new(),
            edge_start: Vec::new(),
            cell_start: Vec::new(),
            rec: Recorder {
                id: heap().next_collection.fetch_add(1, Ordering::Relaxed),
                edges: Vec::new(),
                cells: Vec::new(),
            },
            poisoned: false,
        }
    }

    /// Step 1: the first read of every count word (CPython's `update_refs` reads
    /// `ob_refcnt`). An object already at zero is being released by another thread, which
    /// hands the release to us: it is not examined.
    fn read_counts(&mut self, chunk: &[NonNull<SyncHeader>], start: usize) {
        debug_assert_eq!(self.state.len(), start);
        let n = start + chunk.len();
        self.state.resize(n, UNDECIDED);
        self.w0.resize(n, 0);
        self.refs.resize(n, 0);
        for (k, &obj) in chunk.iter().enumerate() {
            let i = start + k;
            // SAFETY: a detached object is live, and its value stays in place until this
            // collection ends: only the collection releases a detached object (`home`).
            let hdr = unsafe { header(obj) };
            let word = hdr.rc.load(Ordering::SeqCst);
            if strong_of(word) == 0 {
                self.state[i] = SKIPPED;
                continue;
            }
            self.w0[i] = word;
            hdr.slot
                .store(self.rec.id << 32 | (i as u64 + 1), Ordering::Relaxed);
        }
    }

    fn is_member(&self, i: usize) -> bool {
        self.state[i] != SKIPPED
    }

    /// Steps 2-3: `gc_refs` = strong count less ours, less the edges from inside the set.
    fn update_and_subtract_refs(&mut self) {
        let n = self.objs.len();
        self.edge_start.reserve(n + 1);
        self.cell_start.reserve(n + 1);
        // One unwind guard for the whole pass: a panicking trace poisons the collection.
        let traced = catch_unwind(AssertUnwindSafe(|| {
            for i in 0..n {
                self.edge_start.push(self.rec.edges.len() as u32);
                self.cell_start.push(self.rec.cells.len() as u32);
                if !self.is_member(i) {
                    continue;
                }
                self.refs[i] = strong_of(self.w0[i]) as u32;
                let obj = self.objs[i];
                // SAFETY: a member is live and its value in place: only this collection releases it.
                let hdr = unsafe { header(obj) };
                let mut tracer = Tracer::for_sync(&mut self.rec);
                // SAFETY: the object's own vtable, value in place.
                unsafe { (hdr.vtable.trace)(obj, &mut tracer) };
                if tracer.hidden_edges() {
                    self.state[i] = REACHABLE;
                }
            }
        }));
        if let Err(payload) = traced {
            keep_panic(payload);
            self.poisoned = true;
            return;
        }
        self.edge_start.push(self.rec.edges.len() as u32);
        self.cell_start.push(self.rec.cells.len() as u32);
        for &j in &self.rec.edges {
            let j = j as usize;
            self.refs[j] = self.refs[j].saturating_sub(1);
        }
    }

    fn edge_range(&self, i: usize) -> std::ops::Range<usize> {
        self.edge_start[i] as usize..self.edge_start[i + 1] as usize
    }

    fn cell_range(&self, i: usize) -> std::ops::Range<usize> {
        self.cell_start[i] as usize..self.cell_start[i + 1] as usize
    }

    /// Marks `i` reachable, and everything it reaches over the recorded edges.
    fn mark_reachable_from(&mut self, i: usize, stack: &mut Vec<usize>) {
        if self.state[i] != UNDECIDED {
            if self.state[i] == REACHABLE {
                stack.push(i);
            }
        } else {
            self.state[i] = REACHABLE;
            stack.push(i);
        }
        while let Some(x) = stack.pop() {
            for k in self.edge_range(x) {
                let j = self.rec.edges[k] as usize;
                if self.state[j] == UNDECIDED {
                    self.state[j] = REACHABLE;
                    stack.push(j);
                }
            }
        }
    }

    /// Step 4 (CPython's `move_unreachable`): what the roots reach is reachable; what is
    /// left undecided is tentatively unreachable.
    fn move_unreachable(&mut self) {
        if self.poisoned {
            return;
        }
        let mut stack = Vec::new();
        for i in 0..self.objs.len() {
            let root =
                self.state[i] == REACHABLE || (self.state[i] == UNDECIDED && self.refs[i] > 0);
            if root {
                self.mark_reachable_from(i, &mut stack);
            }
        }
    }

    fn cells_unchanged(&self, i: usize) -> bool {
        self.cell_range(i).all(|k| {
            let (word, version) = self.rec.cells[k];
            // SAFETY: the cell lives inside member `i`'s value, in place until we release it.
            unsafe { &*word }
                .compare_exchange(version, version, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    }

    fn undecided(&self) -> Vec<usize> {
        (0..self.objs.len())
            .filter(|&i| self.state[i] == UNDECIDED)
            .collect()
    }

    /// Steps 5-6, the second collect and the claim in one: after a `SeqCst` fence, each
    /// tentatively unreachable object's word is swapped from `w0` to `w0 | CLAIMED` and its
    /// cells' versions compared, under the weak lock's write side. If any changed, those
    /// objects and what they reach go back to the reachable side, the claims are undone,
    /// and the claim is retried on what is left. Returns whether a non-empty set was
    /// claimed (its members become GARBAGE).
    fn claim(&mut self) -> bool {
        let heap = heap();
        let mut stack = Vec::new();
        fence(Ordering::SeqCst);
        loop {
            let set = self.undecided();
            if set.is_empty() {
                return false;
            }
            let mut failed = Vec::new();
            {
                let _claim = heap.weak_lock.write();
                let mut newly = Vec::new();
                for &i in &set {
                    // SAFETY: a member is live: only this collection releases it.
                    let hdr = unsafe { header(self.objs[i]) };
                    let w = self.w0[i];
                    let ok = hdr
                        .rc
                        .compare_exchange(w, w | CLAIMED, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok();
                    if ok && w & CLAIMED == 0 {
                        newly.push(i);
                    }
                    if !ok || !self.cells_unchanged(i) {
                        failed.push(i);
                    }
                }
                if failed.is_empty() {
                    for &i in &set {
                        self.state[i] = GARBAGE;
                    }
                    return true;
                }
                for i in newly {
                    // SAFETY: as above.
                    let hdr = unsafe { header(self.objs[i]) };
                    hdr.rc.fetch_and(!CLAIMED, Ordering::SeqCst);
                }
            }
            for i in failed {
                self.mark_reachable_from(i, &mut stack);
            }
        }
    }

    fn garbage(&self) -> Vec<usize> {
        (0..self.objs.len())
            .filter(|&i| self.state[i] == GARBAGE)
            .collect()
    }

    /// Steps 7-8: weak callbacks, then finalizers, with no lock held; then, if any user
    /// code ran, CPython's `check_garbage` on fresh reads: the whole set survives if
    /// anything in it is referenced from outside it now.
    fn handle_weakrefs_and_finalize(&mut self) {
        let garbage = self.garbage();
        let mut user_code = false;
        let has_callbacks = |obj: NonNull<SyncHeader>| {
            // SAFETY: a member is live: only this collection releases it.
            let hdr = unsafe { header(obj) };
            hdr.flags.load(Ordering::Acquire) & flags::HAS_CALLBACKS != 0
        };
        if garbage.iter().any(|&i| has_callbacks(self.objs[i])) {
            let in_garbage = self.weak_callbacks_in(&garbage);
            for &i in &garbage {
                let obj = self.objs[i];
                if has_callbacks(obj) {
                    run_weak_callbacks(obj, Some(&in_garbage));
                    user_code = true;
                }
            }
        }
        for &i in &garbage {
            let obj = self.objs[i];
            // SAFETY: a member is live.
            let hdr = unsafe { header(obj) };
            let Some(finalize) = hdr.vtable.finalize else {
                continue;
            };
            let first =
                hdr.flags.fetch_or(flags::FINALIZED, Ordering::AcqRel) & flags::FINALIZED == 0;
            if first {
                // SAFETY: the value is in place (only this collection drops a member's value,
                // later).
                guarded(|| unsafe { finalize(obj) });
                user_code = true;
            }
        }
        if user_code && !self.check_garbage(&garbage) {
            // The set survives (CPython 3.11: all of it). Its weak references were cleared
            // and stay so; weak references made from now on work again.
            let _claims = heap().weak_lock.write();
            for &i in &garbage {
                self.state[i] = REACHABLE;
                // SAFETY: a member is live: only this collection releases it.
                let hdr = unsafe { header(self.objs[i]) };
                hdr.weak_epoch.fetch_add(1, Ordering::SeqCst);
                // A modification too, so that an upgrade that read the word before the
                // claim cannot succeed on it now (ABA).
                let _ = hdr
                    .rc
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                        Some((w & !CLAIMED).wrapping_add(1 << 32))
                    });
            }
        }
    }

    /// How many clones of each weak reference with a callback the garbage holds.
    fn weak_callbacks_in(&self, garbage: &[usize]) -> HashMap<usize, usize> {
        struct SlotCounter(HashMap<usize, usize>);
        impl SyncVisit for SlotCounter {
            unsafe fn visit_sync(&mut self, _target: *const ()) {}
            unsafe fn record_cell(&mut self, _word: *const (), _version: u64) {}
            fn visit_weak_callback(&mut self, slot: *const ()) {
                *self.0.entry(slot as usize).or_default() += 1;
            }
        }
        let mut counter = SlotCounter(HashMap::new());
        for &i in garbage {
            let obj = self.objs[i];
            // SAFETY: a member is live and its value in place: only this collection
            // releases it.
            let hdr = unsafe { header(obj) };
            let traced = catch_unwind(AssertUnwindSafe(|| {
                let mut tracer = Tracer::for_sync(&mut counter);
                // SAFETY: the object's own vtable, value in place.
                unsafe { (hdr.vtable.trace)(obj, &mut tracer) };
            }));
            if let Err(payload) = traced {
                keep_panic(payload);
            }
        }
        counter.0
    }

    /// Whether the claimed set is still closed: fresh words and one more trace, validated
    /// like the first pass.
    fn check_garbage(&mut self, garbage: &[usize]) -> bool {
        let mut words = Vec::with_capacity(garbage.len());
        let mut refs: Vec<(usize, u64)> = Vec::with_capacity(garbage.len());
        let mut rec = Recorder {
            id: self.rec.id,
            edges: Vec::new(),
            cells: Vec::new(),
        };
        let mut bounds = Vec::with_capacity(garbage.len() + 1);
        for &i in garbage {
            // SAFETY: a member is live.
            let hdr = unsafe { header(self.objs[i]) };
            let w = hdr.rc.load(Ordering::SeqCst);
            words.push(w);
            refs.push((i, w & STRONG_MASK));
            bounds.push((rec.edges.len(), rec.cells.len()));
            match trace_into(self.objs[i], &mut rec) {
                Ok(false) => {}
                _ => return false,
            }
        }
        bounds.push((rec.edges.len(), rec.cells.len()));
        let mut incoming = vec![0u64; self.objs.len()];
        for &j in &rec.edges {
            incoming[j as usize] += 1;
        }
        if refs.iter().any(|&(i, r)| incoming[i] != r) {
            return false;
        }
        fence(Ordering::SeqCst);
        for (k, &i) in garbage.iter().enumerate() {
            // SAFETY: a member is live.
            let hdr = unsafe { header(self.objs[i]) };
            if hdr
                .rc
                .compare_exchange(words[k], words[k], Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return false;
            }
            for &(word, version) in &rec.cells[bounds[k].1..bounds[k + 1].1] {
                // SAFETY: the cell lives inside a member's value, in place until we release it.
                let ok = unsafe { &*word }
                    .compare_exchange(version, version, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                if !ok {
                    return false;
                }
            }
        }
        true
    }

    /// Step 9: every member `DEAD` (and `DROPPED`, so that no release drops it again)
    /// first, then every value dropped. The members stay detached meanwhile, so one whose
    /// count reaches zero as its neighbours' values go hands its release to us instead of
    /// freeing its block under the loop; afterwards each is let go: freed now if it was
    /// handed over, else when its last (smuggled) handle drops. Returns how many.
    fn delete_garbage(&mut self) -> usize {
        let garbage = self.garbage();
        for &i in &garbage {
            let obj = self.objs[i];
            // SAFETY: a member is live: only this collection releases it.
            let hdr = unsafe { header(obj) };
            hdr.slot.store(0, Ordering::Relaxed);
            let old = hdr
                .flags
                .fetch_or(flags::DEAD | flags::DROPPED, Ordering::AcqRel);
            if old & flags::HAS_CALLBACKS != 0 {
                // Weak references with callbacks made after the callback step (by a
                // finalizer): called now, before any value goes (the registry is keyed by
                // address, so none may outlive the block).
                run_weak_callbacks(obj, None);
            }
        }
        for &i in &garbage {
            let obj = self.objs[i];
            // SAFETY: as above.
            let hdr = unsafe { header(obj) };
            // SAFETY: the value is in place and dropped once: only this collection drops a
            // member's value, and no release drops a DROPPED one.
            guarded(|| unsafe { (hdr.vtable.drop_value)(obj) });
        }
        for &i in &garbage {
            let obj = self.objs[i];
            // SAFETY: detached by this collection and live.
            if !unsafe { forget_detached(obj) } {
                // Its count reached zero and its release is ours: its value is gone, so
                // the strong side's weak reference goes too.
                // SAFETY: the release was handed to us; the object is on no list.
                unsafe { super::header::weak_release(obj) };
            }
        }
        garbage.len()
    }

    /// Step 10: survivors to `target` (chunk by chunk, while each is in cache); objects
    /// whose count reached zero while detached are released here, on this thread.
    fn finish(self, target: &'static ListHome, generation: usize) {
        let heap = heap();
        let mut survivors = Vec::with_capacity(super::home::CHUNK);
        let mut released = Vec::new();
        let mut promoted = 0;
        let mut start = 0;
        while start < self.objs.len() {
            let end = (start + super::home::CHUNK).min(self.objs.len());
            survivors.clear();
            for i in start..end {
                let obj = self.objs[i];
                match self.state[i] {
                    // Garbage was let go (and its slot cleared) by `delete_garbage`.
                    GARBAGE => continue,
                    SKIPPED => {}
                    _ => {
                        // SAFETY: a member is live until merged.
                        unsafe { header(obj) }.slot.store(0, Ordering::Relaxed);
                    }
                }
                survivors.push(obj);
            }
            let before = released.len();
            // SAFETY: every survivor was detached by this collection and is live (only
            // this collection releases a detached object).
            unsafe { target.merge(&survivors, &mut released) };
            promoted += survivors.len() - (released.len() - before);
            start = end;
        }
        match generation {
            2 => {
                heap.long_lived_total.store(target.len(), Ordering::Relaxed);
                heap.long_lived_pending.store(0, Ordering::Relaxed);
            }
            1 => {
                heap.long_lived_pending
                    .fetch_add(promoted, Ordering::Relaxed);
            }
            _ => {}
        }
        for obj in released {
            // SAFETY: its count reached zero while detached and its releaser handed the
            // release to us; it is on no list now.
            unsafe {
                header(obj)
                    .home
                    .store(super::home::UNTRACKED, Ordering::Release)
            };
            // SAFETY: as above.
            unsafe { release_unlinked(obj) };
        }
    }
}

/// Traces one object into `rec`. `Ok(true)`: it reported hidden edges; `Err`: it panicked
/// (the panic is kept for the end of the collection).
fn trace_into(obj: NonNull<SyncHeader>, rec: &mut Recorder) -> Result<bool, ()> {
    // SAFETY: a member is live and its value in place.
    let hdr = unsafe { header(obj) };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut tracer = Tracer::for_sync(rec);
        // SAFETY: the object's own vtable, value in place.
        unsafe { (hdr.vtable.trace)(obj, &mut tracer) };
        tracer.hidden_edges()
    }));
    match result {
        Ok(hidden) => Ok(hidden),
        Err(payload) => {
            keep_panic(payload);
            Err(())
        }
    }
}
