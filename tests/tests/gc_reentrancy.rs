//! `Trace` impls are user code that runs while the collector walks its lists. Whatever
//! they call back into (allocation, freeze, introspection, dropping handles) must not
//! disturb the walk.

use gc_api::{Finalize, Gc, Trace, Tracer};
use std::cell::{Cell, RefCell};

thread_local! {
    static ALLOCATED_IN_TRACE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static MODE: Cell<u8> = const { Cell::new(0) };
}

struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

impl Finalize for Node {
    const HAS_FINALIZER: bool = false;
}

// SAFETY: reports its one handle once; the side effects in the modes (allocating, freezing,
// introspecting, dropping other handles) never touch a handle of this value.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        match MODE.with(Cell::get) {
            1 => {
                // Allocate tracked objects mid-walk and keep them.
                let fresh = Gc::new(Node {
                    next: RefCell::new(None),
                });
                ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().push(fresh));
            }
            2 => gc_api::freeze(),
            3 => {
                // Introspection mid-walk.
                let _ = gc_api::get_objects(None).unwrap().len();
                let _ = gc_api::get_freeze_count();
            }
            4 => {
                // Drop handles mid-walk (frees are deferred until the walk is over).
                ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().clear());
            }
            _ => {}
        }
        self.next.trace(tracer);
    }
}

fn ring(n: usize) -> Gc<Node> {
    let first = Gc::new(Node {
        next: RefCell::new(None),
    });
    let mut prev = first.clone();
    for _ in 1..n {
        prev = Gc::new(Node {
            next: RefCell::new(Some(prev)),
        });
    }
    *first.next.borrow_mut() = Some(prev);
    first
}

#[test]
fn callbacks_into_the_heap_from_trace_leave_collections_correct() {
    gc_api::disable();
    gc_api::collect();
    let baseline = gc_api::malloc_stats().blocks_in_use();
    for mode in 1..=4u8 {
        let keep = ring(50);
        drop(ring(50));
        MODE.with(|m| m.set(mode));
        let found = gc_api::collect();
        MODE.with(|m| m.set(0));
        gc_api::unfreeze();
        assert_eq!(
            found, 50,
            "mode {mode}: the garbage ring is found, the live one kept"
        );
        // The live ring is intact.
        let mut n = 0;
        let mut cur = keep.next.borrow().clone();
        while let Some(c) = cur {
            n += 1;
            if Gc::ptr_eq(&c, &keep) {
                break;
            }
            cur = c.next.borrow().clone();
        }
        assert_eq!(n, 50, "mode {mode}");
        // Objects allocated during the walk are ordinary objects of generation 0 or older.
        let extra = ALLOCATED_IN_TRACE.with(|v| v.borrow().len());
        let tracked = gc_api::get_objects(None).unwrap().len();
        assert!(tracked >= 50 + extra, "mode {mode}: {tracked} tracked");
        ALLOCATED_IN_TRACE.with(|v| v.borrow_mut().clear());
        drop(keep);
        gc_api::collect();
        assert_eq!(gc_api::get_objects(None).unwrap().len(), 0, "mode {mode}");
        assert_eq!(
            gc_api::malloc_stats().blocks_in_use(),
            baseline,
            "mode {mode}"
        );
    }
    gc_api::enable();
}
