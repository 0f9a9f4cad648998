// A field whose type does not implement `Trace`: the error points at that field.
use gc_api::{Finalize, Gc, Trace};

struct Socket(u32);

#[derive(Trace, Finalize)]
struct Connection {
    peer: Gc<u32>,
    socket: Socket,
}

fn main() {}
