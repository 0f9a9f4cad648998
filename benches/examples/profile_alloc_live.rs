//! A growing live heap: N tracked nodes, each pointing at an older one, all kept alive,
//! then all dropped, in a fresh process; prints the allocation and the drop in ns (of
//! process CPU time) per object for one contender: ours with automatic collection on (`gc`), ours with it off
//! (`gc-off`), `rc`, `gcmodule`. Run the contenders alternately and compare medians. The
//! older node is one of the 64 made just before (`recent`, the default: what a runtime's
//! fresh objects mostly point at) or any (`random`: then cache misses on the target weigh
//! on every contender).
//! Usage: profile_alloc_live [gc|gc-off|rc|gcmodule] [N] [recent|random]
use gc_api::{Finalize, Gc, Trace};
use gc_bench::clock::process_cpu_time;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Trace, Finalize)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

struct RcNode {
    _next: Option<Rc<RcNode>>,
}

struct CcNode {
    next: Option<gcmodule::Cc<CcNode>>,
}

impl gcmodule::Trace for CcNode {
    fn trace(&self, tracer: &mut gcmodule::Tracer) {
        self.next.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

thread_local! {
    static RANDOM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The older node the `i`th node points at (a cheap deterministic generator).
fn older(i: usize, state: &mut u64) -> usize {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let r = (*state >> 33) as usize;
    if RANDOM.with(std::cell::Cell::get) {
        r % i
    } else {
        i - 1 - r % i.min(64)
    }
}

/// Builds then drops one heap of `n` nodes; returns (allocation, drop) times.
fn round(kind: &str, n: usize) -> (Duration, Duration) {
    let mut state = 7u64;
    match kind {
        "gc" | "gc-off" => {
            if kind == "gc-off" {
                gc_api::disable();
            }
            let t = process_cpu_time();
            let mut v: Vec<Gc<Node>> = Vec::with_capacity(n);
            v.push(Gc::new(Node {
                next: RefCell::new(None),
            }));
            for i in 1..n {
                let target = v[older(i, &mut state)].clone();
                v.push(Gc::new(Node {
                    next: RefCell::new(Some(target)),
                }));
            }
            let built = process_cpu_time() - t;
            let t = process_cpu_time();
            drop(std::hint::black_box(v));
            let dropped = process_cpu_time() - t;
            gc_api::enable();
            gc_api::collect();
            (built, dropped)
        }
        "rc" => {
            let t = process_cpu_time();
            let mut v: Vec<Rc<RcNode>> = Vec::with_capacity(n);
            v.push(Rc::new(RcNode { _next: None }));
            for i in 1..n {
                let target = v[older(i, &mut state)].clone();
                v.push(Rc::new(RcNode {
                    _next: Some(target),
                }));
            }
            let built = process_cpu_time() - t;
            let t = process_cpu_time();
            drop(std::hint::black_box(v));
            (built, process_cpu_time() - t)
        }
        "gcmodule" => {
            let t = process_cpu_time();
            let mut v: Vec<gcmodule::Cc<CcNode>> = Vec::with_capacity(n);
            v.push(gcmodule::Cc::new(CcNode { next: None }));
            for i in 1..n {
                let target = v[older(i, &mut state)].clone();
                v.push(gcmodule::Cc::new(CcNode { next: Some(target) }));
            }
            let built = process_cpu_time() - t;
            let t = process_cpu_time();
            drop(std::hint::black_box(v));
            let dropped = process_cpu_time() - t;
            gcmodule::collect_thread_cycles();
            (built, dropped)
        }
        other => panic!("unknown contender {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("gc", String::as_str);
    let n = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000usize)
        .max(2);
    let pattern = args.get(3).map_or("recent", String::as_str);
    RANDOM.with(|r| r.set(pattern == "random"));
    let (built, dropped) = round(kind, n);
    println!(
        "{kind} {n} {pattern}: alloc {:.2} ns/object, drop {:.2} ns/object",
        built.as_nanos() as f64 / n as f64,
        dropped.as_nanos() as f64 / n as f64
    );
}
