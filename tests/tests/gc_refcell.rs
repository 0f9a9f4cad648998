//! `RefCell`s mutably borrowed while a collection runs. Such a cell hides its edges, so the
//! object holding it counts as reachable for that collection, and so does all it reaches:
//! nothing is freed and nothing panics, whether the borrow is held by the caller of
//! `collect()` (across automatic collections too) or by a finalizer that starts a
//! collection during a refcount free.

use gc_api::{Finalize, Gc, Trace};
use gc_tests::{IdNode, PeerLog, Tally, blocks_in_use, name_of, peer_ring, reset_heap};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

#[test]
fn mutably_borrowed_refcell_keeps_its_cycle_alive_during_a_collection() {
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    // a -> b -> c -> a, and c -> d <-> e (d and e only reachable through c's RefCell).
    let n: Vec<Gc<IdNode>> = (0..5).map(|id| IdNode::new(id, &drops)).collect();
    n[0].edges.borrow_mut().push(n[1].clone());
    n[1].edges.borrow_mut().push(n[2].clone());
    n[2].edges.borrow_mut().push(n[0].clone());
    n[2].edges.borrow_mut().push(n[3].clone());
    n[3].edges.borrow_mut().push(n[4].clone());
    n[4].edges.borrow_mut().push(n[3].clone());
    let a = n[0].clone();
    drop(n);
    {
        // Reach c from a through shared borrows and hold c's RefCell mutably.
        let a_edges = a.edges.borrow();
        let b = a_edges[0].clone();
        let b_edges = b.edges.borrow();
        let c = &b_edges[0];
        let mut c_edges = c.edges.borrow_mut();
        assert_eq!(gc_api::collect(), 0, "nothing is garbage while reachable");
        assert_eq!(drops.total(), 0);
        // Automatic collections while the borrow is held: no panic, nothing freed.
        gc_api::enable();
        gc_api::set_threshold([1, 1, 1]);
        for i in 0..50 {
            c_edges.push(IdNode::new(100 + i, &drops));
        }
        gc_api::set_threshold([700, 10, 10]);
        gc_api::disable();
        assert_eq!(gc_api::collect(), 0);
        assert_eq!(drops.total(), 0);
        // Take d -> e out of c while borrowed, and put it back.
        let d = c_edges.remove(1);
        assert_eq!(d.id, 3);
        assert_eq!(gc_api::collect(), 0);
        c_edges.insert(1, d);
        assert_eq!(c_edges.len(), 52);
        assert_eq!(c_edges[0].name, name_of(0));
    }
    assert_eq!(drops.total(), 0);
    // Released: the whole structure is garbage once `a` goes.
    drop(a);
    assert_eq!(gc_api::collect(), 55);
    assert_eq!(drops.total(), 55);
    assert_eq!(drops.max(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

#[test]
fn refcell_borrowed_inside_a_finalizer_during_a_refcount_free_is_conservative() {
    // The only strong reference to `x` while its finalizer runs is the heap's own: a
    // collection started there must see `x`'s hidden edges (its RefCell is mutably
    // borrowed) as keeping the cycle x -> a <-> b alive.
    #[derive(Trace)]
    struct Holder {
        edges: RefCell<Vec<Gc<IdNode>>>,
        #[gc(skip)]
        result: Rc<Cell<Option<usize>>>,
    }
    impl Finalize for Holder {
        fn finalize(&self) {
            let mut edges = self.edges.borrow_mut();
            self.result.set(Some(gc_api::collect()));
            for e in edges.iter() {
                assert_eq!(e.name, name_of(e.id));
            }
            edges.truncate(2);
        }
    }
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    let result = Rc::new(Cell::new(None));
    let a = IdNode::new(0, &drops);
    let b = IdNode::new(1, &drops);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a.clone());
    let x = Gc::new(Holder {
        edges: RefCell::new(vec![a, b]),
        result: result.clone(),
    });
    // Unrelated garbage, so the inner collection has something to find.
    let log = Rc::new(PeerLog::default());
    drop(peer_ring(10, 3, &log));
    drop(x);
    assert_eq!(
        result.get(),
        Some(3),
        "the inner collection finds only the peer ring"
    );
    assert_eq!(log.drops.total(), 3);
    assert_eq!(
        drops.total(),
        0,
        "a and b must survive the inner collection"
    );
    assert_eq!(gc_api::collect(), 2);
    assert_eq!(drops.total(), 2);
    assert_eq!(blocks_in_use(), baseline);
}
