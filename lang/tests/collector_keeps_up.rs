//! The cyclic-closure loop with automatic collection on: every iteration leaves a cycle
//! (a frame holding a local procedure whose environment is that frame), and the number of
//! live tracked objects must stay bounded: the collector keeps up.
//!
//! A million iterations in release builds; 200,000 in debug builds (CI runs tests in
//! debug, where the interpreter is ~10x slower).

use gc_lang::{Interp, SharedBuf, run_on_big_stack};

const BOUND: usize = 5_000;

#[test]
fn cyclic_closure_loop_keeps_live_objects_bounded() {
    let iterations: usize = if cfg!(debug_assertions) {
        200_000
    } else {
        1_000_000
    };
    let (max_seen, after, collections, result) = run_on_big_stack(move || {
        assert!(gc_api::is_enabled());
        let buf = SharedBuf::default();
        let interp = Interp::new(Box::new(buf.clone()), Vec::new());
        let src = format!(
            "
(define (make-cycle k)
  (define (helper) k)      ; the frame holds helper; helper's environment is the frame
  helper)
(define max-tracked 0)
(define total 0)
(do ((i 0 (+ i 1))) ((= i {iterations}))
  (set! total (+ total ((make-cycle 1))))
  (when (= (remainder i 5000) 0)
    (set! max-tracked (max max-tracked (tracked-objects)))))
(display (list total max-tracked))
"
        );
        let r = interp.run_source(&src);
        assert!(r.is_ok(), "{:?}", r.err());
        let after = gc_api::get_objects(None).unwrap().len();
        let collections = gc_api::get_stats()[0].collections;
        let out = String::from_utf8_lossy(&buf.0.borrow()).into_owned();
        drop(interp);
        (
            gc_api::get_objects(None).unwrap().len().max(after),
            after,
            collections,
            out,
        )
    });
    let parts: Vec<usize> = result
        .trim_matches(['(', ')'])
        .split(' ')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(parts[0], iterations, "every iteration ran");
    assert!(
        parts[1] < BOUND,
        "live tracked objects peaked at {}",
        parts[1]
    );
    assert!(after < BOUND, "{after} tracked objects alive at the end");
    assert!(max_seen < BOUND);
    assert!(
        collections > 100,
        "only {collections} automatic collections"
    );
}

#[test]
fn cycles_are_freed_only_by_the_collector_when_it_is_disabled() {
    run_on_big_stack(|| {
        let interp = Interp::new(Box::new(SharedBuf::default()), Vec::new());
        interp
            .run_source("(define (make-cycle) (define (h) h) h) (gc-collect) (gc-disable)")
            .unwrap();
        let before = gc_api::get_objects(None).unwrap().len();
        interp
            .run_source("(do ((i 0 (+ i 1))) ((= i 1000)) (make-cycle))")
            .unwrap();
        let grown = gc_api::get_objects(None).unwrap().len();
        assert!(grown >= before + 2000, "{before} -> {grown}");
        let freed = gc_api::collect();
        assert!(freed >= 2000, "collect() freed {freed}");
        gc_api::enable();
    });
}
