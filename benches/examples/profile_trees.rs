//! Binary-trees with `Gc` or `Rc` nodes: a target for `perf` / `callgrind`.
//! Usage: profile_trees [gc|gc-off|rc] [DEPTH] (`gc-off`: automatic collection disabled)
use gc_bench::graphs::binary_trees;
use gc_bench::harness::{Collector, Rooted};
use gc_bench::native::{ours::Ours, rc::RcHeap};
use std::time::Instant;

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "gc".into());
    let depth: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(18);
    let t = Instant::now();
    if kind == "gc-off" {
        gc_api::disable();
    }
    let check = if kind.starts_with("gc") {
        binary_trees(&mut Rooted::<Ours>::new(), depth)
    } else {
        binary_trees(&mut Rooted::<RcHeap>::new(), depth)
    };
    eprintln!(
        "{kind} depth {depth}: check {check}, {:.3} s",
        t.elapsed().as_secs_f64()
    );
    if kind.starts_with("gc") {
        eprintln!("stats {:?}", gc_api::get_stats());
    }
}
