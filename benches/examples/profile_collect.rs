//! Builds 1M ring nodes and runs full collections over them (live), then reclaims them:
//! a target for `perf record` / `valgrind --tool=callgrind`.
use gc_bench::graphs::gc_rings;
use std::time::Instant;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "live".into());
    gc_api::disable();
    let t = Instant::now();
    let rings = gc_rings(100_000, 10);
    eprintln!("build: {:.1} ns/obj", t.elapsed().as_nanos() as f64 / 1e6);
    if mode == "live" {
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(gc_api::collect(), 0);
            eprintln!(
                "live collect: {:.1} ns/obj",
                t.elapsed().as_nanos() as f64 / 1e6
            );
        }
    }
    let t = Instant::now();
    drop(rings);
    let n = gc_api::collect();
    eprintln!(
        "reclaim {n}: {:.1} ns/obj",
        t.elapsed().as_nanos() as f64 / 1e6
    );
}
