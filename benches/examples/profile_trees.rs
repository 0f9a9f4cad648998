//! Binary-trees with `Gc` or `Rc` nodes: a target for `perf` / `callgrind`.
//! Usage: profile_trees [gc|rc] [DEPTH]
use gc_bench::graphs::{gc_binary_trees, rc_binary_trees};
use std::time::Instant;

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "gc".into());
    let depth: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(18);
    let t = Instant::now();
    let check = if kind == "gc" {
        gc_binary_trees(depth)
    } else {
        rc_binary_trees(depth)
    };
    eprintln!(
        "{kind} depth {depth}: check {check}, {:.3} s",
        t.elapsed().as_secs_f64()
    );
    if kind == "gc" {
        eprintln!("stats {:?}", gc_api::get_stats());
    }
}
