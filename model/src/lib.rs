//! A plain model of gc-api's heap, and an interpreter that runs operation sequences on
//! the real heap and on the model side by side.
//!
//! The fuzz targets `graph_ops` and `api_misuse` (in `fuzz/`) and the proptest suite
//! `tests/tests/gc_model.rs` all drive the same code:
//!
//! * [`ops`]: the operations ([`Op`], [`Program`]), decoded from bytes with `arbitrary`;
//! * [`model`]: the model — objects, handles and edges in a `Vec`, reachability by a
//!   breadth-first search, refcounting, CPython's trial deletion, PEP 442 finalizers,
//!   weak references with callbacks, counts and statistics;
//! * [`interp`]: runs a [`Program`] on the real heap through `gc_api` and compares every
//!   observable effect with the model after every operation ([`run`]);
//! * [`misuse`]: the API-misuse program ([`misuse::run`]): `object_at` on arbitrary
//!   integers, invalid generations, hooks that call back into the collector and allocate.
//!
//! Everything runs on the calling thread's heap and leaves it as it found it.

pub mod interp;
pub mod misuse;
pub mod model;
pub mod ops;

pub use interp::{RunStats, run};
pub use model::Model;
pub use ops::{Kind, Op, Program};
