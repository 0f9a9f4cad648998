//! A full collection of the thread-safe flavour over a live heap: ns per live object, for
//! objects whose edges sit in immutable fields and for objects whose edges sit in a
//! `GcMutex` (each traced under its lock), both as one chain of `N` nodes (default 1M).
//!
//! ```sh
//! cargo run --release -p gc-bench --example sync_full_collection [-- N]
//! ```

use gc_api::sync::{self, Gc, GcMutex};
use gc_api::{Finalize, Trace};
use std::time::Instant;

#[derive(Trace, Finalize)]
struct Plain {
    next: Option<Gc<Plain>>,
    #[gc(skip)]
    _value: u64,
}

#[derive(Trace, Finalize)]
struct Locked {
    next: GcMutex<Option<Gc<Locked>>>,
    #[gc(skip)]
    _value: u64,
}

/// Best of three full collections over what is live now, in ns per object.
fn best_full_collection(n: usize) -> f64 {
    sync::collect(); // promotes everything to the oldest generation first
    (0..3)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(sync::collect(), 0, "nothing is garbage");
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    sync::disable();
    let mut plain: Option<Gc<Plain>> = None;
    for i in 0..n {
        plain = Some(Gc::new(Plain {
            next: plain.take(),
            _value: i as u64,
        }));
    }
    let plain_ns = best_full_collection(n);
    drop(plain);
    let mut locked: Option<Gc<Locked>> = None;
    for i in 0..n {
        locked = Some(Gc::new(Locked {
            next: GcMutex::new(locked.take()),
            _value: i as u64,
        }));
    }
    let locked_ns = best_full_collection(n);
    drop(locked);
    println!(
        "full collection of {n} live objects (best of 3): edges in plain fields {plain_ns:.1} \
         ns/object, edges in a GcMutex {locked_ns:.1} ns/object"
    );
}
