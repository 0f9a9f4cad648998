//! Peer collectors: the measurement [`Job`]s run with the Rust GC crates a user might pick
//! instead of ours, so `gc-stress --compare` can put them side by side.
//!
//! Each crate gets one file that builds the same object graphs as [`crate::graphs`] with
//! the crate's own handle, interior-mutability type and tracing derive (or trait), and
//! implements the small [`PeerGc`] trait; the job loops themselves live here, shared by
//! every peer, so all peers are timed the same way.
//!
//! | peer | kind of collector | automatic collection |
//! | --- | --- | --- |
//! | `gcmodule` | refcount + CPython-style scan of every tracked object | none |
//! | `dumpster` (`unsync`) | refcount + search from dropped-but-alive handles | after more drops than live `Gc`s |
//! | `rust-cc` | refcount + trial deletion from buffered candidate roots | allocated-bytes threshold |
//! | `bacon_rajan_cc` | refcount + Bacon–Rajan trial deletion from buffered roots | none |
//! | `gc` | mark-and-sweep over all objects (no refcounts) | allocated-bytes threshold |
//!
//! Destructor runs are counted by the node types themselves (a thread-local counter), as
//! our own benchmark counts them.

use crate::jobs::{ChurnResult, Job, JobResult, LiveResult, RingsResult, TreesResult};
use crate::rss::current_rss_bytes;
use std::cell::Cell;
use std::time::{Duration, Instant};

mod bacon_rajan_cc;
mod dumpster;
mod gc;
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
}

impl Peer {
    /// Every peer, in the order tables list them.
    pub const ALL: [Peer; 5] = [
        Peer::Gcmodule,
        Peer::Dumpster,
        Peer::RustCc,
        Peer::BaconRajanCc,
        Peer::Gc,
    ];

    /// The crate's name as on crates.io: `gcmodule`, `dumpster`, `rust-cc`,
    /// `bacon_rajan_cc` or `gc`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Gcmodule => "gcmodule",
            Peer::Dumpster => "dumpster",
            Peer::RustCc => "rust-cc",
            Peer::BaconRajanCc => "bacon_rajan_cc",
            Peer::Gc => "gc",
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
        Peer::Gcmodule => run_with::<gcmodule::Peer>(job),
        Peer::Dumpster => run_with::<dumpster::Peer>(job),
        Peer::RustCc => run_with::<rust_cc::Peer>(job),
        Peer::BaconRajanCc => run_with::<bacon_rajan_cc::Peer>(job),
        Peer::Gc => run_with::<gc::Peer>(job),
    }
}

/// What one peer crate provides to the shared job loops below.
trait PeerGc {
    /// A handle to one ring (its first node).
    type Ring: Clone;
    /// A handle to the root of a binary tree.
    type Tree;

    /// Whether a collection only examines objects the crate has buffered as possible cycle
    /// roots (handles dropped while their object stayed alive), rather than every object.
    /// For such a crate a collection over a live heap nobody touched does nothing at all,
    /// so [`live`] first makes every ring a candidate (see [`touch`]).
    const CANDIDATE_ROOTS_ONLY: bool;

    /// Whether the crate collects on its own (and [`PeerGc::set_auto_collect`] can switch
    /// that off).
    const HAS_AUTO_COLLECT: bool;

    /// A new ring node pointing at `next`.
    fn node(next: Option<Self::Ring>) -> Self::Ring;

    /// Points `node` at `next` (closing a ring).
    fn set_next(node: &Self::Ring, next: Self::Ring);

    /// A new tree node with these children.
    fn tree_node(left: Option<Self::Tree>, right: Option<Self::Tree>) -> Self::Tree;

    /// A tree node's children.
    fn children(tree: &Self::Tree) -> [Option<&Self::Tree>; 2];

    /// Builds one ring of `size` nodes the way [`crate::graphs::gc_rings`] does (first
    /// node, a chain of `size - 1` nodes each pointing at the previous one, then
    /// `first.next = last`) and returns its first node.
    fn ring(size: usize) -> Self::Ring {
        let first = Self::node(None);
        let mut prev = first.clone();
        for _ in 1..size {
            prev = Self::node(Some(prev));
        }
        Self::set_next(&first, prev);
        first
    }

    /// A complete tree of `depth` levels below the root, built recursively.
    fn tree(depth: u32) -> Self::Tree {
        if depth == 0 {
            Self::tree_node(None, None)
        } else {
            Self::tree_node(Some(Self::tree(depth - 1)), Some(Self::tree(depth - 1)))
        }
    }

    /// Nodes in a tree.
    fn check(tree: &Self::Tree) -> usize {
        1 + Self::children(tree)
            .into_iter()
            .flatten()
            .map(Self::check)
            .sum::<usize>()
    }

    /// The crate's explicit whole-heap collection; returns the number of objects it
    /// reports freed, where the crate reports one.
    fn collect() -> Option<u64>;

    /// Switches the crate's automatic collection off (`false`) or back to its default
    /// policy (`true`). A no-op for crates without one ([`PeerGc::HAS_AUTO_COLLECT`]).
    fn set_auto_collect(on: bool);
}

/// Makes a live ring a possible cycle root for a [`PeerGc::CANDIDATE_ROOTS_ONLY`] crate:
/// dropping a clone decrements the count without reaching zero, which is exactly what
/// buffers an object as a candidate in these collectors.
fn touch<R: Clone>(ring: &R) {
    drop(ring.clone());
}

thread_local! {
    /// Destructor runs of peer node types on this thread.
    static DROPPED: Cell<u64> = const { Cell::new(0) };
}

/// Counts one destructor run; called from each peer's ring-node `Drop`.
fn count_drop() {
    DROPPED.with(|d| d.set(d.get() + 1));
}

/// Destructor runs counted on this thread since the last [`reset_dropped`].
fn dropped() -> u64 {
    DROPPED.with(Cell::get)
}

/// Restarts the destructor count.
fn reset_dropped() {
    DROPPED.with(|d| d.set(0));
}

/// A zero-sized field that counts its own drop, for node types whose `Trace` derive also
/// writes the node's `Drop` impl (`rust-cc`, `gc`). It holds no handle, so leaving it out
/// of tracing is sound.
struct DropCount;

impl Drop for DropCount {
    fn drop(&mut self) {
        count_drop();
    }
}

fn run_with<P: PeerGc>(job: &Job) -> Result<JobResult, String> {
    match *job {
        Job::Rings { nodes, ring_size } => rings::<P>(nodes, ring_size).map(JobResult::Rings),
        Job::Live {
            nodes,
            ring_size,
            reps,
        } => live::<P>(nodes, ring_size, reps).map(JobResult::Live),
        Job::Trees { depth } => Ok(JobResult::Trees(trees::<P>(depth))),
        Job::Churn { cycles } => Ok(JobResult::Churn(churn::<P>(cycles))),
        Job::Mixed { .. } => {
            Err("the mixed workload measures generations, which no peer crate has".to_string())
        }
    }
}

/// The number of rings, or why `nodes` objects cannot be laid out in rings of `ring_size`.
fn ring_count(nodes: usize, ring_size: usize) -> Result<usize, String> {
    if nodes == 0 || ring_size == 0 {
        return Err("nodes and ring_size must both be positive".to_string());
    }
    if nodes % ring_size != 0 {
        return Err(format!(
            "nodes ({nodes}) must be a multiple of ring_size ({ring_size})"
        ));
    }
    Ok(nodes / ring_size)
}

fn build_rings<P: PeerGc>(rings: usize, ring_size: usize) -> Vec<P::Ring> {
    (0..rings).map(|_| P::ring(ring_size)).collect()
}

/// Calls the collection until `target` destructors have run in all or a call frees
/// nothing more; returns the time of all calls and the sum of the reported counts.
fn collect_until<P: PeerGc>(target: u64) -> (Duration, Option<u64>) {
    let start = Instant::now();
    let mut reported: Option<u64> = None;
    loop {
        let before = dropped();
        if let Some(n) = P::collect() {
            *reported.get_or_insert(0) += n;
        }
        let after = dropped();
        if after >= target || after == before {
            break;
        }
    }
    (start.elapsed(), reported)
}

fn per_obj(time: Duration, objects: usize) -> f64 {
    time.as_nanos() as f64 / objects as f64
}

fn rss_now() -> u64 {
    current_rss_bytes().map_or(0, |b| b as u64)
}

fn rings<P: PeerGc>(nodes: usize, ring_size: usize) -> Result<RingsResult, String> {
    let rings = ring_count(nodes, ring_size)?;
    // Collection is left to the timed collect phase where the crate allows it; `gc`'s
    // threshold is raised out of reach, `rust-cc` and `dumpster` get auto-collection off.
    P::set_auto_collect(false);
    reset_dropped();

    let rss_before = rss_now();
    let start = Instant::now();
    let handles = build_rings::<P>(rings, ring_size);
    let alloc = start.elapsed();
    let rss_after = rss_now();

    let start = Instant::now();
    drop(handles);
    let drop_time = start.elapsed();

    let (collect, reported) = collect_until::<P>(nodes as u64);
    let dropped = dropped();
    P::set_auto_collect(true);

    Ok(RingsResult {
        alloc_ns_per_obj: per_obj(alloc, nodes),
        drop_ns_per_obj: per_obj(drop_time, nodes),
        collect_ns_per_obj: per_obj(collect, nodes),
        dropped,
        reported_collected: reported,
        peak_rss_bytes: rss_after.saturating_sub(rss_before),
    })
}

fn live<P: PeerGc>(nodes: usize, ring_size: usize, reps: usize) -> Result<LiveResult, String> {
    let rings = ring_count(nodes, ring_size)?;
    if reps == 0 {
        return Err("reps must be at least 1".to_string());
    }
    P::set_auto_collect(false);
    let handles = build_rings::<P>(rings, ring_size);
    reset_dropped();

    // Candidate-root collectors only look at objects whose count was decremented since
    // the last collection; make every ring such a candidate (untimed) before each
    // collection, so the collection has to prove the whole live heap alive, as a full
    // collection of ours (or of `gcmodule` and `gc`) does.
    let prepare = |handles: &[P::Ring]| {
        if P::CANDIDATE_ROOTS_ONLY {
            handles.iter().for_each(touch);
        }
    };
    prepare(&handles);
    P::collect();
    let mut best = Duration::MAX;
    for _ in 0..reps {
        prepare(&handles);
        let start = Instant::now();
        P::collect();
        best = best.min(start.elapsed());
    }
    let collected = dropped();

    drop(handles);
    collect_until::<P>(collected + nodes as u64);
    P::set_auto_collect(true);

    Ok(LiveResult {
        full_collect_ns_per_obj: per_obj(best, nodes),
        collected,
        young_collect_ns: None,
        young_collect_empty_ns: None,
    })
}

fn trees<P: PeerGc>(max_depth: u32) -> TreesResult {
    let start = Instant::now();
    let mut total = P::check(&P::tree(max_depth + 1));
    let long_lived = P::tree(max_depth);
    let mut depth = 4;
    while depth <= max_depth {
        let iterations = 1usize << (max_depth - depth + 4);
        for _ in 0..iterations {
            total += P::check(&P::tree(depth));
        }
        depth += 2;
    }
    total += P::check(&long_lived);
    drop(long_lived);
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    // Untimed clean-up: `gc` leaves its last trees for the next collection.
    P::collect();
    TreesResult {
        total_ms,
        checksum: total as u64,
    }
}

/// Creates and drops `cycles` 2-node garbage cycles; returns the wall time in ms.
fn churn_loop<P: PeerGc>(cycles: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..cycles {
        drop(P::ring(2));
    }
    start.elapsed().as_secs_f64() * 1e3
}

fn churn<P: PeerGc>(cycles: usize) -> ChurnResult {
    // Plain run, with the crate's default automatic collection: what a program pays.
    reset_dropped();
    let total_ms = churn_loop::<P>(cycles);
    // Untimed: whatever the automatic policy left behind.
    collect_until::<P>(2 * cycles as u64);
    let dropped = dropped();

    // The same loop with automatic collection off, for crates that have one to switch
    // off (the others never collect on their own, so `total_ms` already is that figure).
    let total_ms_gc_off = P::HAS_AUTO_COLLECT.then(|| {
        P::set_auto_collect(false);
        reset_dropped();
        let ms = churn_loop::<P>(cycles);
        P::set_auto_collect(true);
        collect_until::<P>(2 * cycles as u64);
        ms
    });

    ChurnResult {
        total_ms,
        dropped,
        total_ms_gc_off,
        collections: None,
        pauses_us: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphs::rc_binary_trees;

    #[test]
    fn names_round_trip() {
        for peer in Peer::ALL {
            assert_eq!(Peer::from_name(peer.name()), Some(peer));
        }
        assert_eq!(Peer::from_name("rust_cc"), Some(Peer::RustCc));
        assert_eq!(Peer::from_name("bacon-rajan-cc"), Some(Peer::BaconRajanCc));
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
    fn trees_checksum_matches_rc() {
        let expected = rc_binary_trees(6) as u64;
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
