//! `Gc::new` + drop in a loop (untracked `u64` and a tracked node), beside `Rc`:
//! a target for `perf record`. Usage: profile_new_drop [ITERATIONS]
use gc_bench::graphs::{GcNode, RcNode};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

fn time(name: &str, n: u64, mut f: impl FnMut(u64)) {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    eprintln!("{name}: {:.2} ns", t.elapsed().as_nanos() as f64 / n as f64);
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000_000);
    time("Gc::new+drop u64", n, |i| {
        drop(black_box(gc_api::Gc::new(black_box(i))))
    });
    time("Rc::new+drop u64", n, |i| {
        drop(black_box(std::rc::Rc::new(black_box(i))))
    });
    time("Gc::new+drop node", n, |_| {
        drop(black_box(gc_api::Gc::new(GcNode {
            next: RefCell::new(None),
        })))
    });
    time("Rc::new+drop node", n, |_| {
        drop(black_box(std::rc::Rc::new(RcNode {
            next: RefCell::new(None),
        })))
    });
}
