//! loom models of the sync flavour's protocols, run on the real code: with
//! `RUSTFLAGS="--cfg loom"` every atomic, lock and spin of `gc_core::sync` is loom's, and
//! loom explores the interleavings of each model (bounded by `LOOM_MAX_PREEMPTIONS`).
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gc-api --release \
//!     --test loom_sync --target-dir target/loom
//! ```
//!
//! Each model checks the promise the design makes at that race: nothing reachable is ever
//! dropped (a handle a thread holds never finds its value dead, and drop counters show each
//! value dropped once), and what was garbage when the collection began is freed.
#![cfg(loom)]

use gc_api::sync::{self, AtomicGc, Gc, GcMutex};
use gc_api::{Finalize, Trace};
use loom::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A node whose drops are counted, with one cell that can hold an edge. Without a
/// finalizer, so a collection's only check is its validation (no re-check after user code).
#[derive(Trace, Finalize)]
struct Node {
    next: GcMutex<Option<Gc<Node>>>,
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A node with a finalizer that publishes its successor to `outbox`, if it has one (an
/// `Arc` is a leaf to the collector, so what the outbox holds is a root).
#[derive(Trace)]
struct Publisher {
    next: GcMutex<Option<Gc<Publisher>>>,
    #[gc(skip)]
    drops: Arc<AtomicUsize>,
    #[gc(skip)]
    outbox: Option<Arc<AtomicGc<Publisher>>>,
}

impl Finalize for Publisher {
    fn finalize(&self) {
        if let Some(outbox) = &self.outbox {
            if let Some(next) = self.next.lock().clone() {
                outbox.store(Some(next));
            }
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn node(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    Gc::new(Node {
        next: GcMutex::new(None),
        drops: drops.clone(),
    })
}

/// A live handle's value is in place.
fn assert_alive(g: &Gc<Node>) {
    assert!(!Gc::is_dead(g), "a reachable object was dropped");
    let _ = g.next.try_lock().map(|n| n.is_some());
}

/// SYNC-DESIGN 3.2's counterexample: a thread moves handles between two cells (no count
/// changes) while a collection reads the graph. The collection must not take {A, X} for a
/// closed cycle.
#[test]
fn a_move_between_two_cells_during_a_collection_frees_nothing_reachable() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = node(&drops);
        let x = node(&drops);
        let (a2, x2) = (a.clone(), x.clone());
        drop((a, x));
        let mutator = loom::thread::spawn(move || {
            // Move X into A's cell, back out, then A into X's cell: counts never change.
            *a2.next.lock() = Some(x2);
            let x2 = a2.next.lock().take().unwrap();
            *x2.next.lock() = Some(a2);
            x2
        });
        sync::collect();
        let x = mutator.join().unwrap();
        assert_alive(&x);
        let a = x.next.lock().clone().unwrap();
        assert_alive(&a);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(a);
        *x.next.lock() = None;
        drop(x);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// The last handle of an object drops on one thread while a collection detaches the
/// object's list and reads its count on another: the release is the releaser's (it unlinked
/// first) or the collection's (handed over through `home`), never both and never neither:
/// each value is dropped exactly once.
#[test]
fn the_last_drop_against_a_collection_detaching_the_object() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = node(&drops);
        let b = node(&drops);
        *a.next.lock() = Some(b);
        let mutator = loom::thread::spawn(move || drop(a));
        sync::collect();
        mutator.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A thread clones and drops a handle of a 2-cycle while a collection validates it; the
/// cycle is freed only once nothing outside it holds it, and by the collection after.
#[test]
fn clone_and_drop_against_a_collection_of_a_two_cycle() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = node(&drops);
        let b = node(&drops);
        *a.next.lock() = Some(b.clone());
        *b.next.lock() = Some(a.clone());
        drop(b);
        let mutator = loom::thread::spawn(move || {
            let again = a.clone();
            assert_alive(&again);
            drop(a);
            assert_alive(&again);
            drop(again);
        });
        sync::collect();
        mutator.join().unwrap();
        // Garbage once the mutator is done: the next collection frees it.
        sync::collect();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// `Weak::upgrade` races the claim of a garbage cycle: either the upgrade fails, or it
/// succeeds and the whole cycle stays alive for as long as the handle is held.
#[test]
fn a_weak_upgrade_against_the_claim_of_its_cycle() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = node(&drops);
        let b = node(&drops);
        *a.next.lock() = Some(b.clone());
        *b.next.lock() = Some(a.clone());
        let weak = Gc::downgrade(&a);
        drop((a, b));
        let mutator = loom::thread::spawn(move || {
            if let Some(a) = weak.upgrade() {
                assert_alive(&a);
                let b = a.next.lock().clone().unwrap();
                assert_alive(&b);
            }
        });
        sync::collect();
        mutator.join().unwrap();
        sync::collect();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A finalizer of a garbage cycle publishes its successor to another thread, which then
/// swaps that object's cell: the published object must stay alive, and the cycle is freed
/// once nothing holds it any more.
#[test]
fn a_finalizer_publishing_its_cycle_to_another_thread() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let outbox = Arc::new(AtomicGc::new(None));
        let publisher = |outbox: Option<Arc<AtomicGc<Publisher>>>| {
            Gc::new(Publisher {
                next: GcMutex::new(None),
                drops: drops.clone(),
                outbox,
            })
        };
        let a = publisher(Some(outbox.clone()));
        let b = publisher(None);
        *a.next.lock() = Some(b.clone());
        *b.next.lock() = Some(a.clone());
        drop((a, b));
        let reader = {
            let outbox = outbox.clone();
            loom::thread::spawn(move || {
                if let Some(b) = outbox.load() {
                    assert!(!Gc::is_dead(&b), "a published object was dropped");
                    let a = b.next.lock().take();
                    if let Some(a) = &a {
                        assert!(!Gc::is_dead(a), "an object reachable from it was dropped");
                    }
                    *b.next.lock() = a;
                }
            })
        };
        sync::collect();
        reader.join().unwrap();
        let published = outbox.take();
        if let Some(b) = &published {
            assert!(!Gc::is_dead(b), "a published object was dropped");
        }
        drop(published);
        sync::collect();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A reader loads from an `AtomicGc` while a writer empties it, making the cycle it held
/// garbage, and collects. A handle `load` returns must come from a slot that held the
/// object all along (checked by the slot's version), so it is never a handle into a
/// claimed set: it is never dead, and its value is not dropped under a borrow.
#[test]
fn an_atomic_gc_load_against_the_claim_of_the_cycle_it_held() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let a = node(&drops);
        let b = node(&drops);
        *a.next.lock() = Some(b.clone());
        *b.next.lock() = Some(a.clone());
        drop(b);
        let slot = Arc::new(AtomicGc::new(Some(a)));
        let reader = {
            let slot = slot.clone();
            let drops = drops.clone();
            loom::thread::spawn(move || {
                if let Some(a) = slot.load() {
                    assert!(!Gc::is_dead(&a), "load returned a handle into garbage");
                    let _borrow: &Node = &a;
                    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped under a borrow");
                }
            })
        };
        slot.store(None);
        sync::collect();
        reader.join().unwrap();
        sync::collect();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}
