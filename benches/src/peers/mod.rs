//! Peer collectors: the Rust GC crates a user might pick instead of ours, so
//! `gc-stress --compare` can put them side by side.
//!
//! Each crate gets one file with its node types (the crate's own handle,
//! interior-mutability type and tracing derive or trait). The handle-based crates
//! implement [`Handles`](crate::harness::Handles), as ours and `Rc` do; `gc-arena`, whose
//! handles cannot leave an arena mutation, implements
//! [`Collector`](crate::harness::Collector) directly. Either way the workloads are the
//! shared ones of [`crate::native`], so every contender is timed the same way.
//!
//! | peer | kind of collector | automatic collection |
//! | --- | --- | --- |
//! | `gcmodule` | refcount + CPython-style scan of every tracked object | none |
//! | `dumpster` (`unsync`) | refcount + search from dropped-but-alive handles | after more drops than live `Gc`s |
//! | `rust-cc` | refcount + trial deletion from buffered candidate roots | allocated-bytes threshold |
//! | `bacon_rajan_cc` | refcount + Bacon–Rajan trial deletion from buffered roots | none |
//! | `gc` | mark-and-sweep over all objects (no refcounts) | allocated-bytes threshold |
//! | `gc-arena` | incremental mark-and-sweep inside an arena (no refcounts) | paced by allocation debt: `collect_debt()` after each unit of work |

use crate::harness::Rooted;
use crate::jobs::{Job, JobResult};
use crate::native::run_with;

mod bacon_rajan_cc;
mod dumpster;
mod gc;
mod gc_arena;
mod gcmodule;
mod rust_cc;

/// A Rust garbage-collection crate compared with ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// `gcmodule`: `Cc` with a CPython-style collector over all tracked objects.
    Gcmodule,
    /// `dumpster`: `unsync::Gc`, reference counting plus cycle search from dropped handles.
    Dumpster,
    /// `rust-cc`: `Cc`, reference counting plus trial deletion from candidate roots.
    RustCc,
    /// `bacon_rajan_cc`: `Cc`, the Bacon–Rajan synchronous cycle collector.
    BaconRajanCc,
    /// `gc`: `Gc`/`GcCell`, a thread-local mark-and-sweep collector.
    Gc,
    /// `gc-arena`: `Gc<'gc, T>` inside an `Arena`, incremental mark-and-sweep.
    GcArena,
}

impl Peer {
    /// Every peer, in the order tables list them.
    pub const ALL: [Peer; 6] = [
        Peer::Gcmodule,
        Peer::Dumpster,
        Peer::RustCc,
        Peer::BaconRajanCc,
        Peer::Gc,
        Peer::GcArena,
    ];

    /// The crate's name as on crates.io: `gcmodule`, `dumpster`, `rust-cc`,
    /// `bacon_rajan_cc`, `gc` or `gc-arena`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Gcmodule => "gcmodule",
            Peer::Dumpster => "dumpster",
            Peer::RustCc => "rust-cc",
            Peer::BaconRajanCc => "bacon_rajan_cc",
            Peer::Gc => "gc",
            Peer::GcArena => "gc-arena",
        }
    }

    /// The crate version `benches/Cargo.toml` pins (with `=`).
    pub fn version(self) -> &'static str {
        match self {
            Peer::Gcmodule => "0.3.3",
            Peer::Dumpster => "2.1.0",
            Peer::RustCc => "0.6.2",
            Peer::BaconRajanCc => "0.4.0",
            Peer::Gc => "0.5.1",
            Peer::GcArena => "0.7.0",
        }
    }

    /// The peer named `s`, as [`Peer::name`] spells it; like crates.io, `-` and `_` are
    /// interchangeable (`rust_cc` and `bacon-rajan-cc` are accepted too).
    pub fn from_name(s: &str) -> Option<Peer> {
        let wanted = s.replace('-', "_");
        Peer::ALL
            .into_iter()
            .find(|peer| peer.name().replace('-', "_") == wanted)
    }
}

/// Runs one job on the calling thread with this peer's collector.
///
/// Returns `Err` with a one-sentence reason for a job the peer cannot run meaningfully
/// ([`Job::Mixed`], which measures generations) or for sizes no job can run (zero
/// objects, a ring size that does not divide the object count, zero repetitions).
pub fn run(peer: Peer, job: &Job) -> Result<JobResult, String> {
    match peer {
        Peer::Gcmodule => run_with::<Rooted<gcmodule::Peer>>(job),
        Peer::Dumpster => run_with::<Rooted<dumpster::Peer>>(job),
        Peer::RustCc => run_with::<Rooted<rust_cc::Peer>>(job),
        Peer::BaconRajanCc => run_with::<Rooted<bacon_rajan_cc::Peer>>(job),
        Peer::Gc => run_with::<Rooted<gc::Peer>>(job),
        Peer::GcArena => run_with::<gc_arena::Heap>(job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::trees_checksum;

    #[test]
    fn names_round_trip() {
        for peer in Peer::ALL {
            assert_eq!(Peer::from_name(peer.name()), Some(peer));
        }
        assert_eq!(Peer::from_name("rust_cc"), Some(Peer::RustCc));
        assert_eq!(Peer::from_name("bacon-rajan-cc"), Some(Peer::BaconRajanCc));
        assert_eq!(Peer::from_name("gc_arena"), Some(Peer::GcArena));
        assert_eq!(Peer::from_name("ours"), None);
    }

    #[test]
    fn versions_match_cargo_toml() {
        let manifest = include_str!("../../Cargo.toml");
        for peer in Peer::ALL {
            let line = format!("{} = ", peer.name());
            let dep = manifest
                .lines()
                .find(|l| l.starts_with(&line))
                .unwrap_or_else(|| panic!("{} missing from benches/Cargo.toml", peer.name()));
            assert!(
                dep.contains(&format!("\"={}\"", peer.version())),
                "{dep:?} does not pin {}",
                peer.version()
            );
        }
    }

    #[test]
    fn rings_free_every_node() {
        for peer in Peer::ALL {
            let job = Job::Rings {
                nodes: 200,
                ring_size: 10,
            };
            let Ok(JobResult::Rings(r)) = run(peer, &job) else {
                panic!("{peer:?}: rings failed");
            };
            assert_eq!(r.dropped, 200, "{peer:?}");
            if let Some(n) = r.reported_collected {
                assert_eq!(n, 200, "{peer:?}");
            }
        }
    }

    #[test]
    fn live_collects_nothing() {
        for peer in Peer::ALL {
            let job = Job::Live {
                nodes: 200,
                ring_size: 10,
                reps: 3,
            };
            let Ok(JobResult::Live(r)) = run(peer, &job) else {
                panic!("{peer:?}: live failed");
            };
            assert_eq!(r.collected, 0, "{peer:?}");
        }
    }

    #[test]
    fn trees_checksum_is_the_formula() {
        let expected = trees_checksum(6);
        for peer in Peer::ALL {
            let Ok(JobResult::Trees(r)) = run(peer, &Job::Trees { depth: 6 }) else {
                panic!("{peer:?}: trees failed");
            };
            assert_eq!(r.checksum, expected, "{peer:?}");
        }
    }

    #[test]
    fn churn_frees_every_pair() {
        for peer in Peer::ALL {
            let Ok(JobResult::Churn(r)) = run(peer, &Job::Churn { cycles: 500 }) else {
                panic!("{peer:?}: churn failed");
            };
            assert_eq!(r.dropped, 1000, "{peer:?}");
        }
    }

    #[test]
    fn bad_sizes_and_mixed_are_refused() {
        for peer in Peer::ALL {
            let uneven = Job::Rings {
                nodes: 15,
                ring_size: 10,
            };
            assert!(run(peer, &uneven).is_err());
            let no_reps = Job::Live {
                nodes: 10,
                ring_size: 10,
                reps: 0,
            };
            assert!(run(peer, &no_reps).is_err());
            let mixed = Job::Mixed {
                old_objects: 10,
                ring_size: 10,
                young_cycles: 10,
                sample_every: 1,
            };
            assert!(run(peer, &mixed).is_err());
        }
    }
}
