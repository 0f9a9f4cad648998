//! No recursion in the collector or in refcount frees: on a 256 KiB stack, a
//! 10-million-node list freed by refcounting, a 10-million-node cycle freed by a
//! collection, and a million-long chain of objects each made by the previous one's
//! finalizer. `GC_TESTS_LONG_LEN=<n>` sets the length of the list and of the cycle
//! (`scripts/sanitize.sh` runs them with 100000).

use gc_api::{Finalize, Gc, Trace};
use gc_tests::{blocks_in_use, reset_heap};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

#[derive(Trace, Finalize)]
struct L {
    next: Option<Gc<L>>,
}

#[derive(Trace, Finalize)]
struct R {
    next: RefCell<Option<Gc<R>>>,
}

/// 10M nodes (measured in debug builds: about 12 s for the list and 15 s for the cycle,
/// run side by side); `GC_TESTS_LONG_LEN=<n>` overrides it.
fn long_len() -> usize {
    std::env::var("GC_TESTS_LONG_LEN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the small-stack thread failed (stack overflow aborts the process)");
}

#[test]
fn long_list_is_freed_by_refcounting_without_recursion() {
    on_small_stack(|| {
        let n = long_len();
        // Automatic collections would only slow the build down (they find nothing).
        let baseline = reset_heap();
        let t = Instant::now();
        let mut head: Option<Gc<L>> = None;
        for _ in 0..n {
            head = Some(Gc::new(L { next: head.take() }));
        }
        let built = t.elapsed();
        assert_eq!(blocks_in_use(), baseline + n);
        let t = Instant::now();
        drop(head);
        let freed = t.elapsed();
        assert_eq!(blocks_in_use(), baseline, "every node freed by refcounting");
        eprintln!("long list of {n}: built in {built:?}, freed in {freed:?}");
    });
}

/// Each one's finalizer makes the next (of its own type), which dies by refcounting and
/// runs its own finalizer: either at once, inside the finalizer, or when the maker's value
/// is dropped (the new object is stored in it).
#[derive(Trace)]
struct Spawner {
    remaining: usize,
    store_child: bool,
    child: RefCell<Option<Gc<Spawner>>>,
    #[gc(skip)]
    finalized: Rc<Cell<usize>>,
}

impl Finalize for Spawner {
    fn finalize(&self) {
        self.finalized.set(self.finalized.get() + 1);
        if self.remaining == 0 {
            return;
        }
        let child = Gc::new(Spawner {
            remaining: self.remaining - 1,
            store_child: self.store_child,
            child: RefCell::new(None),
            finalized: self.finalized.clone(),
        });
        if self.store_child {
            *self.child.borrow_mut() = Some(child);
        }
    }
}

#[test]
fn a_million_long_chain_of_finalizer_made_objects_runs_on_a_small_stack() {
    const CHAIN: usize = 1_000_000;
    for store_child in [false, true] {
        on_small_stack(move || {
            let baseline = blocks_in_use();
            let finalized = Rc::new(Cell::new(0));
            drop(Gc::new(Spawner {
                remaining: CHAIN,
                store_child,
                child: RefCell::new(None),
                finalized: finalized.clone(),
            }));
            assert_eq!(
                finalized.get(),
                CHAIN + 1,
                "every finalizer ran exactly once"
            );
            assert_eq!(blocks_in_use(), baseline);
        });
    }
    // The first one dies in a collection (a self-cycle): its finalizer runs from the
    // collector, the rest by refcounting.
    on_small_stack(|| {
        let baseline = reset_heap();
        let finalized = Rc::new(Cell::new(0));
        let first = Gc::new(Spawner {
            remaining: CHAIN,
            store_child: false,
            child: RefCell::new(None),
            finalized: finalized.clone(),
        });
        *first.child.borrow_mut() = Some(first.clone());
        drop(first);
        assert_eq!(gc_api::collect(), 1);
        assert_eq!(
            finalized.get(),
            CHAIN + 1,
            "every finalizer ran exactly once"
        );
        assert_eq!(blocks_in_use(), baseline);
    });
}

#[test]
fn long_cycle_is_collected_without_recursion() {
    on_small_stack(|| {
        let n = long_len();
        let baseline = reset_heap();
        let t = Instant::now();
        let tail = Gc::new(R {
            next: RefCell::new(None),
        });
        let mut head = tail.clone();
        for _ in 1..n {
            head = Gc::new(R {
                next: RefCell::new(Some(head)),
            });
        }
        *tail.next.borrow_mut() = Some(head);
        drop(tail);
        let built = t.elapsed();
        assert_eq!(blocks_in_use(), baseline + n);
        let t = Instant::now();
        let collected = gc_api::collect();
        let took = t.elapsed();
        assert_eq!(collected, n);
        assert_eq!(blocks_in_use(), baseline);
        eprintln!("long cycle of {n}: built in {built:?}, collected in {took:?}");
    });
}
