// `Trace` is an `unsafe trait`: a hand-written impl must say `unsafe impl` (and keep the
// contract in the trait's `# Safety` section). Users of `#[derive(Trace)]` write no `unsafe`.
use gc_api::{Finalize, Gc, Trace, Tracer};

struct Pair {
    left: Gc<u32>,
    right: Gc<u32>,
}

impl Trace for Pair {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }
}

impl Finalize for Pair {}

fn main() {}
