//! Random graph programs (allocate nodes and leaves, clone and drop handles, set and
//! clear edges, weak references with callbacks, collections, thresholds, enable/disable,
//! freeze/unfreeze, SAVEALL) run on the real heap and on `gc-model`'s plain reachability
//! model; any disagreement, double drop or leak is a crash.

#![no_main]

use gc_model::{Program, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let program = Program::from_bytes(data);
    if let Err(e) = run(&program) {
        panic!("graph_ops: {e}\nprogram: {program:?}");
    }
});
