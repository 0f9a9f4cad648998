//! `Gc::new` + drop in a loop: a target for `perf record`.
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000_000);
    let t = Instant::now();
    for i in 0..n {
        drop(black_box(gc_api::Gc::new(black_box(i))));
    }
    eprintln!(
        "Gc::new+drop: {:.2} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for i in 0..n {
        drop(black_box(std::rc::Rc::new(black_box(i))));
    }
    eprintln!(
        "Rc::new+drop: {:.2} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
