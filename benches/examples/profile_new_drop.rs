//! `Gc::new` + drop and `Gc` clone + drop in a loop, beside the same with `Rc`: a target
//! for `valgrind --tool=callgrind` (exact instruction counts) and `perf record`.
//! Usage: profile_new_drop [gc-node|gc-u64|gc-clone|rc-node|rc-u64|rc-clone] [N]
use gc_api::{Finalize, Gc, Trace};
use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

#[derive(Trace, Finalize)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

struct RcNode {
    _next: RefCell<Option<Rc<RcNode>>>,
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "gc-node".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    match mode.as_str() {
        "gc-node" => (0..n).for_each(|_| {
            drop(black_box(Gc::new(Node {
                next: RefCell::new(None),
            })))
        }),
        "gc-u64" => (0..n).for_each(|i| drop(black_box(Gc::new(i as u64)))),
        "gc-clone" => {
            let g = Gc::new(1u64);
            (0..n).for_each(|_| drop(black_box(g.clone())));
        }
        "rc-node" => (0..n).for_each(|_| {
            drop(black_box(Rc::new(RcNode {
                _next: RefCell::new(None),
            })))
        }),
        "rc-u64" => (0..n).for_each(|i| drop(black_box(Rc::new(i as u64)))),
        "rc-clone" => {
            let r = Rc::new(1u64);
            (0..n).for_each(|_| drop(black_box(r.clone())));
        }
        other => panic!("unknown mode {other}"),
    }
}
