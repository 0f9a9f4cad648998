// In the thread-safe flavour a `Gc` that other threads may replace must sit in a cell the
// collector can see into; `std::sync::Mutex` is not one, and the error says what is.
use gc_api::sync::Gc;
use gc_api::{Finalize, Trace};
use std::sync::Mutex;

#[derive(Trace, Finalize)]
struct Node {
    next: Mutex<Option<Gc<Node>>>,
}

fn main() {
    let _ = Gc::new(Node {
        next: Mutex::new(None),
    });
}
