// A sync `Gc` may be dropped, finalized and read on any thread, so its value must be
// `Send + Sync`: an `Rc` inside is rejected.
use std::rc::Rc;

fn main() {
    let _ = gc_api::sync::Gc::new(Rc::new(1u32));
}
