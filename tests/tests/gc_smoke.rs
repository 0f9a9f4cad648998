use gc_api::{Finalize, Gc, Trace};
use std::cell::{Cell, RefCell};

#[derive(Trace, Finalize)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
    #[gc(skip)]
    drops: std::rc::Rc<Cell<usize>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn smoke_rings() {
    let drops = std::rc::Rc::new(Cell::new(0));
    gc_api::disable();
    gc_api::collect();
    for _ in 0..1000 {
        let first = Gc::new(Node {
            next: RefCell::new(None),
            drops: drops.clone(),
        });
        let mut prev = first.clone();
        for _ in 0..9 {
            let n = Gc::new(Node {
                next: RefCell::new(Some(prev.clone())),
                drops: drops.clone(),
            });
            prev = n;
        }
        *first.next.borrow_mut() = Some(prev);
    }
    assert_eq!(drops.get(), 0);
    assert_eq!(gc_api::collect(), 10_000);
    assert_eq!(drops.get(), 10_000);
    assert_eq!(gc_api::malloc_stats().blocks_in_use(), 0);
    let s = Gc::new(5u32);
    assert!(!Gc::is_tracked(&s));
    assert_eq!(gc_api::collect_generation(0), Ok(0));
    assert_eq!(gc_api::get_count(), [0, 1, 0]);
}
