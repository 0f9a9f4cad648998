// The unsync `Gc` belongs to its thread's heap: it cannot move to another thread.
use gc_api::Gc;

fn main() {
    let g = Gc::new(5u32);
    std::thread::spawn(move || {
        let _ = *g;
    });
}
