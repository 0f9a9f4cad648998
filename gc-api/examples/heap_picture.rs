//! Draws the object graph as Graphviz DOT, twice: once while the objects are alive, and
//! once from a finalizer while the cycle collector holds them as unreachable garbage (the
//! garbage is drawn red). Run: `cargo run -p gc-api --example heap_picture > heap.dot`,
//! then `dot -Tsvg heap.dot > heap.svg`.

use gc_api::{Finalize, Gc, GcAny, Trace, debug::dump_dot};
use std::cell::RefCell;

#[derive(Trace)]
struct Node {
    #[gc(skip)]
    name: &'static str,
    edges: RefCell<Vec<Gc<Node>>>,
}

impl Finalize for Node {
    fn finalize(&self) {
        if self.name == "a" {
            // Inside a collection: the neighbours are still intact, and marked unreachable.
            let roots: Vec<GcAny> = self
                .edges
                .borrow()
                .iter()
                .cloned()
                .map(GcAny::from)
                .collect();
            println!(
                "// from a's finalizer, during the collection:\n{}",
                dump_dot(&roots)
            );
        }
    }
}

fn node(name: &'static str) -> Gc<Node> {
    Gc::new(Node {
        name,
        edges: RefCell::new(Vec::new()),
    })
}

fn main() {
    let a = node("a");
    let b = node("b");
    let c = node("c");
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(c.clone());
    c.edges.borrow_mut().push(a.clone());
    println!("// alive:\n{}", dump_dot(&[GcAny::from(a.clone())]));
    drop((a, b, c));
    let collected = gc_api::collect();
    println!("// collect() returned {collected}");
}
