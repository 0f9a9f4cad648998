//! API misuse: `object_at` on arbitrary integers, invalid generations, finalizers and
//! callbacks that call back into the collector and allocate (see `gc_model::misuse`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = gc_model::misuse::run(data) {
        panic!("api_misuse: {e}");
    }
});
