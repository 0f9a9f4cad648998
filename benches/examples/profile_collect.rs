//! Builds ring nodes and runs full collections over them (live), then reclaims them:
//! a target for `perf record` / `valgrind --tool=callgrind`.
//! Usage: profile_collect [live|reclaim|rc] [NODES] (`rc`: the same rings with `Rc`,
//! broken by hand, for peak-RSS comparisons with `/usr/bin/time -v`).
use gc_bench::graphs::{release_rings, rings};
use gc_bench::native::{ours::Ours, rc::RcHeap};
use std::time::Instant;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "live".into());
    let nodes: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    if mode == "rc" {
        let t = Instant::now();
        let rings = rings::<RcHeap>(nodes / 10, 10);
        eprintln!(
            "build: {:.1} ns/obj",
            t.elapsed().as_nanos() as f64 / nodes as f64
        );
        release_rings::<RcHeap>(rings);
        return;
    }
    gc_api::disable();
    let t = Instant::now();
    let rings = rings::<Ours>(nodes / 10, 10);
    let per = |t: Instant| t.elapsed().as_nanos() as f64 / nodes as f64;
    eprintln!("build: {:.1} ns/obj", per(t));
    if mode == "live" {
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(gc_api::collect(), 0);
            eprintln!("live collect: {:.1} ns/obj", per(t));
        }
    }
    let t = Instant::now();
    drop(rings);
    let n = gc_api::collect();
    eprintln!("reclaim {n}: {:.1} ns/obj", per(t));
}
