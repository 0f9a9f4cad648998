//! `Drop` impls that read their neighbours in a garbage cycle. While a collection drops the
//! values of its garbage, a neighbour a `Drop` looks at is either intact or reported dead
//! (`Gc::try_deref` gives `None`, `Gc::is_dead` is true), never a dropped value; a plain
//! `Deref` of a dead neighbour panics with a clear message.

use gc_api::{Finalize, Gc, Trace};
use gc_tests::{PeerLog, blocks_in_use, name_of, panic_message, payload_of, peer_ring, reset_heap};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

#[test]
fn drop_reading_its_garbage_neighbour_sees_it_intact_or_dead() {
    let baseline = reset_heap();
    let log = Rc::new(PeerLog::default());
    const N: usize = 1_000;
    drop(peer_ring(0, N, &log));
    assert_eq!(log.drops.total(), 0, "a ring is not freed by refcounting");
    assert_eq!(gc_api::collect(), N);
    assert_eq!(log.drops.total(), N);
    assert_eq!(log.drops.max(), 1, "every value is dropped exactly once");
    assert_eq!(log.corrupt.get(), 0, "a Drop impl saw a dropped value");
    assert_eq!(log.intact.get() + log.dead.get(), N);
    // The last value dropped reads a neighbour that was dropped before it.
    assert!(
        log.dead.get() >= 1,
        "the last Drop must see its neighbour dead"
    );
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn drop_reading_neighbours_in_a_dense_garbage_clique_never_sees_a_dropped_value() {
    #[derive(Trace, Finalize)]
    struct Clique {
        id: usize,
        name: String,
        data: Vec<u64>,
        all: RefCell<Vec<Gc<Clique>>>,
        #[gc(skip)]
        log: Rc<PeerLog>,
    }
    impl Drop for Clique {
        fn drop(&mut self) {
            self.log.drops.hit(self.id);
            for n in self.all.borrow().iter() {
                match Gc::try_deref(n) {
                    Some(v) if v.name == name_of(v.id) && v.data == payload_of(v.id) => {
                        self.log.intact.set(self.log.intact.get() + 1)
                    }
                    None if Gc::is_dead(n) => self.log.dead.set(self.log.dead.get() + 1),
                    _ => self.log.corrupt.set(self.log.corrupt.get() + 1),
                }
            }
        }
    }
    let baseline = reset_heap();
    let log = Rc::new(PeerLog::default());
    const N: usize = 40;
    let nodes: Vec<Gc<Clique>> = (0..N)
        .map(|id| {
            Gc::new(Clique {
                id,
                name: name_of(id),
                data: payload_of(id),
                all: RefCell::new(Vec::new()),
                log: log.clone(),
            })
        })
        .collect();
    for a in &nodes {
        a.all.borrow_mut().extend(nodes.iter().cloned());
    }
    drop(nodes);
    assert_eq!(gc_api::collect(), N);
    assert_eq!(log.drops.total(), N);
    assert_eq!(log.drops.max(), 1);
    assert_eq!(log.corrupt.get(), 0);
    assert_eq!(log.intact.get() + log.dead.get(), N * N);
    // Each Drop sees its own object dead (DEAD is set before the value drops).
    assert!(log.dead.get() >= N);
    assert_eq!(blocks_in_use(), baseline);
}

#[derive(Trace, Finalize)]
struct Greedy {
    name: String,
    next: RefCell<Option<Gc<Greedy>>>,
    #[gc(skip)]
    seen: Rc<RefCell<Vec<String>>>,
    #[gc(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Greedy {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if let Some(n) = self.next.borrow().as_ref() {
            // Plain `Deref`: panics if the neighbour's value is gone.
            let name = n.name.clone();
            self.seen.borrow_mut().push(name);
        }
    }
}

#[test]
fn drop_dereferencing_a_dead_neighbour_gets_a_clear_panic() {
    let baseline = reset_heap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let drops = Rc::new(Cell::new(0));
    let make = |name: &str| {
        Gc::new(Greedy {
            name: name.to_string(),
            next: RefCell::new(None),
            seen: seen.clone(),
            drops: drops.clone(),
        })
    };
    let (a, b) = (make("greedy-a"), make("greedy-b"));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    let result = catch_unwind(AssertUnwindSafe(gc_api::collect));
    let payload = result.expect_err("the second Drop dereferences a dead value: must panic");
    let msg = panic_message(payload.as_ref());
    assert!(
        msg.contains("dereferenced a Gc") && msg.contains("dropped"),
        "unclear panic message: {msg:?}"
    );
    assert_eq!(drops.get(), 2, "both values dropped once");
    // Whatever a Drop did read was intact.
    for name in seen.borrow().iter() {
        assert!(name == "greedy-a" || name == "greedy-b", "read {name:?}");
    }
    assert_eq!(seen.borrow().len(), 1);
    assert_eq!(blocks_in_use(), baseline, "the memory of both went back");

    // The heap still works.
    let log = Rc::new(PeerLog::default());
    drop(peer_ring(0, 3, &log));
    assert_eq!(gc_api::collect(), 3);
    assert_eq!(log.drops.total(), 3);
    assert_eq!(blocks_in_use(), baseline);
}
