//! `gc-stress threads`: the thread-safe flavour `gc_api::sync` under several threads at
//! once, against `std::sync::Arc` (+ `parking_lot::Mutex`, cycles broken by hand),
//! `dumpster::sync::Gc` and `gcmodule::ThreadedCc`, with our thread-local `gc_api::Gc`
//! on one thread as the single-thread reference.
//!
//! Every thread runs the same three phases, all threads together (a barrier between
//! phases), each on the same amount of work per thread:
//!
//! 1. churn: short-lived 2-object garbage cycles (`a.next = b; b.next = a`, both let go),
//!    automatic collection at each contender's default;
//! 2. trees: binary-trees style, one long-lived tree per thread plus `trees` trees of
//!    `depth` levels, each built bottom-up, counted and dropped;
//! 3. shared: random mutation of one graph all threads share: a `Vec` of slots (our
//!    `AtomicGc`) each holding a node whose one edge sits in a lock (our `GcMutex`); 7 in 8
//!    operations swap the edges of two random nodes (one lock at a time), 1 in 8 replaces
//!    a slot's node with a new node pointing at another slot's node, so the old node may
//!    become (cyclic) garbage.
//!
//! For each phase the report gives ns per operation per thread (wall and the thread's CPU
//! time), and the speedup of N threads over 1 (both runs do the same work per thread, so
//! the ideal speedup of the total throughput is N). Each contender and thread count runs in
//! its own child process (`gc-stress threads-child`), as the other workloads do.
//!
//! Node and tree destructors are counted per thread and added up when a thread finishes,
//! so every run is checked: every object created is freed by the end (after a final
//! collection), except where a contender is known to leave some behind (its row says so).
//!
//! [`pause`] is the pause probe (`threads --pause`): mutator latency on one thread while
//! another runs a full collection over a big live heap.

use std::cell::Cell;
use std::fmt;
use std::path::Path;
use std::process::Command;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub mod contenders;
pub mod pause;

/// The thread-safe flavour measured here (one place to point at it).
pub use gc_api::sync as gsync;

// ---------------------------------------------------------------------------------------
// Drop counting across threads.

/// A thread's destructor runs not yet added to [`DROPPED`]; whatever is left goes there
/// when the thread exits.
struct LocalDrops(Cell<u64>);

impl Drop for LocalDrops {
    fn drop(&mut self) {
        DROPPED.fetch_add(self.0.get(), Ordering::Relaxed);
    }
}

thread_local! {
    static LOCAL_DROPS: LocalDrops = const { LocalDrops(Cell::new(0)) };
}

/// Destructor runs of every thread that has flushed its count.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Counts one destructor run (a thread-local add; [`flush_drops`] publishes it). Drops run
/// by another thread-local's destructor after this thread's count is gone (a collector's
/// per-thread state let go at thread exit) are added to [`DROPPED`] directly.
#[inline]
pub fn count_drop() {
    if LOCAL_DROPS.try_with(|d| d.0.set(d.0.get() + 1)).is_err() {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds this thread's destructor runs to the process-wide count.
pub fn flush_drops() {
    let n = LOCAL_DROPS.try_with(|d| d.0.replace(0)).unwrap_or(0);
    DROPPED.fetch_add(n, Ordering::Relaxed);
}

/// Destructor runs so far of every thread that flushed (the caller's included).
pub fn dropped() -> u64 {
    flush_drops();
    DROPPED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------
// Clocks.

pub use crate::clock::thread_cpu_time;

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------------------
// The contenders' common form.

/// A memory manager as the threads workload uses it: a node with one edge behind a lock,
/// a slot holding a node (the shared graph's roots), and a binary-tree node.
///
/// Nothing here asks for `Send`: the thread-local reference (our unsync `Gc`) implements
/// it too and runs on one thread; [`run_spawned`] asks the shared slots to be `Sync`.
pub trait Heap {
    /// A handle to a graph node.
    type Node: Clone;
    /// A handle to a binary-tree node.
    type Tree;
    /// A root slot of the shared graph.
    type Slot;
    /// What [`Heap::release`] keeps of a node taken out of its slot, to break its edge at
    /// the end (`Arc` only).
    type Kept;

    /// Whether there is a collector at all (`Arc` has none).
    const HAS_COLLECTOR: bool = true;

    /// A new node with this edge.
    fn node(next: Option<Self::Node>, payload: u64) -> Self::Node;

    /// Sets a node's edge under its lock; the old edge.
    fn replace_next(node: &Self::Node, next: Option<Self::Node>) -> Option<Self::Node>;

    /// A new tree node with these children.
    fn tree_node(left: Option<Self::Tree>, right: Option<Self::Tree>) -> Self::Tree;

    /// Nodes in a tree.
    fn count(tree: &Self::Tree) -> usize;

    /// A slot holding `node`.
    fn slot(node: Option<Self::Node>) -> Self::Slot;

    /// A new handle to the slot's node.
    fn load(slot: &Self::Slot) -> Option<Self::Node>;

    /// Puts `node` in the slot; the node it held.
    fn swap(slot: &Self::Slot, node: Option<Self::Node>) -> Option<Self::Node>;

    /// Lets go of the first node of a garbage 2-cycle (`Arc`: breaks the cycle first).
    #[inline]
    fn release_cycle(first: Self::Node) {
        drop(first);
    }

    /// Lets go of a node just taken out of its slot (`Arc`: clears its edge, and keeps a
    /// weak handle so that [`Heap::break_kept`] can clear it again if another thread set
    /// it meanwhile).
    #[inline]
    fn release(old: Self::Node) -> Option<Self::Kept> {
        drop(old);
        None
    }

    /// Untimed, at the end: breaks by hand whatever [`Heap::release`] kept.
    fn break_kept(kept: Vec<Self::Kept>) {
        drop(kept);
    }

    /// Untimed, at the end: lets go of the shared graph (`Arc`: clears every edge first).
    fn release_slots(slots: Vec<Self::Slot>) {
        drop(slots);
    }

    /// Untimed, before anything is allocated: sets the contender's collection policy.
    fn prepare() {}

    /// Called after a unit of work that allocated `objects` objects: a collector driven
    /// from outside collects here (`gcmodule`).
    #[inline]
    fn pace(objects: usize) {
        let _ = objects;
    }

    /// A full collection; the objects it reports freed, where it reports a count.
    fn collect() -> Option<u64>;

    /// Collections so far per generation (contenders with generations).
    fn collections() -> Option<[u64; 3]> {
        None
    }
}

/// A complete tree of `depth` levels below the root.
pub fn tree<H: Heap>(depth: u32) -> H::Tree {
    if depth == 0 {
        H::tree_node(None, None)
    } else {
        H::tree_node(Some(tree::<H>(depth - 1)), Some(tree::<H>(depth - 1)))
    }
}

/// Nodes in a complete tree of `depth` levels below the root.
pub fn tree_nodes(depth: u32) -> u64 {
    (1u64 << (depth + 1)) - 1
}

// ---------------------------------------------------------------------------------------
// Jobs and results.

/// One run of the threads workload with one contender and thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadsJob {
    /// Threads running the phases at once.
    pub threads: usize,
    /// Garbage 2-cycles per thread.
    pub cycles: usize,
    /// Depth of each tree.
    pub depth: u32,
    /// Trees built, counted and dropped per thread.
    pub trees: usize,
    /// Nodes (and slots) of the shared graph.
    pub shared_nodes: usize,
    /// Shared-graph operations per thread.
    pub shared_ops: usize,
    /// Seed of the shared graph and of every thread's operations.
    pub seed: u64,
}

/// The timing of one phase of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// Operations per thread (cycles, tree nodes, shared-graph operations).
    pub ops: u64,
    /// From the first thread's start to the last thread's end, ms.
    pub wall_ms: f64,
    /// Each thread's own wall time, ms.
    pub thread_wall_ms: Vec<f64>,
    /// Each thread's CPU time, ms.
    pub thread_cpu_ms: Vec<f64>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

impl PhaseTimes {
    /// Mean of the threads' wall time per operation, ns.
    pub fn ns_per_op_wall(&self) -> f64 {
        mean(&self.thread_wall_ms) * 1e6 / self.ops.max(1) as f64
    }

    /// Mean of the threads' CPU time per operation, ns.
    pub fn ns_per_op_cpu(&self) -> f64 {
        mean(&self.thread_cpu_ms) * 1e6 / self.ops.max(1) as f64
    }

    /// Operations of all threads per second of the phase's wall time.
    pub fn ops_per_sec(&self) -> f64 {
        let threads = self.thread_wall_ms.len().max(1) as f64;
        self.ops as f64 * threads / (self.wall_ms.max(1e-9) / 1e3)
    }
}

/// The phases' names, in order.
pub const PHASES: [&str; 3] = ["churn", "trees", "shared"];

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadsResult {
    /// Threads that ran.
    pub threads: usize,
    /// Churn, trees and shared, in [`PHASES`] order.
    pub phases: [PhaseTimes; 3],
    /// Objects created (nodes and tree nodes).
    pub created: u64,
    /// Destructor runs by the end, after a final collection.
    pub dropped: u64,
    /// Collections per generation during the three phases (ours).
    pub collections: Option<[u64; 3]>,
    /// The untimed final clean-up (letting go of the shared graph, collecting), ms.
    pub cleanup_ms: f64,
}

/// What one thread did.
struct WorkerOut<K> {
    phases: [(Instant, Instant, Duration); 3],
    created: u64,
    kept: Vec<K>,
    bad_count: Option<String>,
}

#[inline]
fn timed<R>(f: impl FnOnce() -> R) -> ((Instant, Instant, Duration), R) {
    let cpu = thread_cpu_time();
    let start = Instant::now();
    let r = f();
    let end = Instant::now();
    ((start, end, thread_cpu_time().saturating_sub(cpu)), r)
}

/// One thread's three phases; `index` seeds its operations.
fn worker<H: Heap>(
    index: usize,
    job: &ThreadsJob,
    slots: &[H::Slot],
    barrier: &Barrier,
) -> WorkerOut<H::Kept> {
    let mut created = 0u64;
    let mut bad_count = None;

    barrier.wait();
    let (churn, ()) = timed(|| {
        for i in 0..job.cycles {
            let a = H::node(None, i as u64);
            let b = H::node(Some(a.clone()), i as u64);
            drop(H::replace_next(&a, Some(b)));
            H::release_cycle(a);
            H::pace(2);
        }
    });
    created += 2 * job.cycles as u64;

    // Untimed: the long-lived tree of binary-trees, held through the phase.
    let long_lived = tree::<H>(job.depth);
    created += tree_nodes(job.depth);
    barrier.wait();
    let (trees, counted) = timed(|| {
        let mut counted = 0u64;
        for _ in 0..job.trees {
            let t = tree::<H>(job.depth);
            counted += H::count(&t) as u64;
            drop(t);
            H::pace(tree_nodes(job.depth) as usize);
        }
        counted
    });
    created += job.trees as u64 * tree_nodes(job.depth);
    let expected = job.trees as u64 * tree_nodes(job.depth);
    if counted != expected || H::count(&long_lived) as u64 != tree_nodes(job.depth) {
        bad_count = Some(format!(
            "trees counted {counted} nodes, expected {expected}"
        ));
    }
    drop(long_lived);

    let mut rng = SmallRng::seed_from_u64(job.seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9));
    let mut kept = Vec::new();
    let n = slots.len();
    barrier.wait();
    let (shared, replaced) = timed(|| {
        let mut replaced = 0u64;
        for k in 0..job.shared_ops {
            let i = rng.gen_range(0..n);
            let j = rng.gen_range(0..n);
            if k % 8 == 7 {
                let target = H::load(&slots[j]);
                let fresh = H::node(target, k as u64);
                if let Some(old) = H::swap(&slots[i], Some(fresh)) {
                    kept.extend(H::release(old));
                }
                replaced += 1;
                H::pace(1);
            } else if let (Some(a), Some(b)) = (H::load(&slots[i]), H::load(&slots[j])) {
                let x = H::replace_next(&a, None);
                let y = H::replace_next(&b, x);
                drop(H::replace_next(&a, y));
            }
        }
        replaced
    });
    created += replaced;
    flush_drops();
    WorkerOut {
        phases: [churn, trees, shared],
        created,
        kept,
        bad_count,
    }
}

/// The shared graph: `n` nodes, each pointing at a random one.
fn build_shared<H: Heap>(n: usize, seed: u64) -> Vec<H::Slot> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let nodes: Vec<H::Node> = (0..n).map(|i| H::node(None, i as u64)).collect();
    for node in &nodes {
        let target = nodes[rng.gen_range(0..n)].clone();
        drop(H::replace_next(node, Some(target)));
    }
    nodes.into_iter().map(|node| H::slot(Some(node))).collect()
}

/// Turns the threads' timings into the result and does the untimed clean-up.
fn finish<H: Heap>(
    job: &ThreadsJob,
    slots: Vec<H::Slot>,
    outs: Vec<WorkerOut<H::Kept>>,
    base: u64,
    before: Option<[u64; 3]>,
) -> Result<ThreadsResult, String> {
    let after = H::collections();
    if let Some(bad) = outs.iter().find_map(|o| o.bad_count.clone()) {
        return Err(bad);
    }
    let mut phases: [PhaseTimes; 3] = Default::default();
    for (p, phase) in phases.iter_mut().enumerate() {
        let start = outs.iter().map(|o| o.phases[p].0).min();
        let end = outs.iter().map(|o| o.phases[p].1).max();
        phase.wall_ms = match (start, end) {
            (Some(s), Some(e)) => e.duration_since(s).as_secs_f64() * 1e3,
            _ => 0.0,
        };
        phase.thread_wall_ms = outs
            .iter()
            .map(|o| o.phases[p].1.duration_since(o.phases[p].0).as_secs_f64() * 1e3)
            .collect();
        phase.thread_cpu_ms = outs
            .iter()
            .map(|o| o.phases[p].2.as_secs_f64() * 1e3)
            .collect();
    }
    phases[0].ops = job.cycles as u64;
    phases[1].ops = job.trees as u64 * tree_nodes(job.depth);
    phases[2].ops = job.shared_ops as u64;

    let created = job.shared_nodes as u64 + outs.iter().map(|o| o.created).sum::<u64>();
    let started = Instant::now();
    let kept: Vec<H::Kept> = outs.into_iter().flat_map(|o| o.kept).collect();
    H::break_kept(kept);
    H::release_slots(slots);
    if H::HAS_COLLECTOR {
        // Until everything is freed, or two collections in a row free nothing more.
        let mut idle = 0;
        while idle < 2 && dropped() - base < created {
            let before = dropped();
            H::collect();
            idle = if dropped() == before { idle + 1 } else { 0 };
        }
    }
    let cleanup_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(ThreadsResult {
        threads: job.threads,
        phases,
        created,
        dropped: dropped() - base,
        collections: before
            .zip(after)
            .map(|(b, a)| [0, 1, 2].map(|g| a[g] - b[g])),
        cleanup_ms,
    })
}

fn check_job(job: &ThreadsJob) -> Result<(), String> {
    if job.threads == 0 || job.shared_nodes == 0 {
        return Err("threads and shared nodes must be at least 1".into());
    }
    if job.depth > 20 {
        return Err(format!("depth {} is too large (at most 20)", job.depth));
    }
    Ok(())
}

/// Runs `job` with `job.threads` spawned threads sharing one graph.
pub fn run_spawned<H: Heap>(job: &ThreadsJob) -> Result<ThreadsResult, String>
where
    H::Slot: Sync,
    H::Kept: Send,
{
    check_job(job)?;
    H::prepare();
    H::collect();
    let base = dropped();
    let slots = build_shared::<H>(job.shared_nodes, job.seed);
    let barrier = Barrier::new(job.threads);
    let before = H::collections();
    let outs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..job.threads)
            .map(|t| {
                let (slots, barrier) = (&slots, &barrier);
                s.spawn(move || worker::<H>(t, job, slots, barrier))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a worker thread panicked".to_owned()))
            .collect::<Result<Vec<_>, _>>()
    })?;
    finish::<H>(job, slots, outs, base, before)
}

/// Runs `job` on the calling thread (one thread only: the thread-local reference).
pub fn run_inline<H: Heap>(job: &ThreadsJob) -> Result<ThreadsResult, String> {
    check_job(job)?;
    if job.threads != 1 {
        return Err("this contender cannot cross threads: it runs on one thread only".into());
    }
    H::prepare();
    H::collect();
    let base = dropped();
    let slots = build_shared::<H>(job.shared_nodes, job.seed);
    let before = H::collections();
    let out = worker::<H>(0, job, &slots, &Barrier::new(1));
    finish::<H>(job, slots, vec![out], base, before)
}

// ---------------------------------------------------------------------------------------
// Contenders and child processes.

/// Who the threads workload is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncContender {
    /// Our `gc_api::sync::Gc`, `GcMutex`, `AtomicGc`.
    OursSync,
    /// `std::sync::Arc` with `parking_lot::Mutex`, cycles broken by hand.
    Arc,
    /// `dumpster::sync::Gc` with `std::sync::Mutex`.
    Dumpster,
    /// `gcmodule::ThreadedCc` in one `ThreadedObjectSpace`, with `std::sync::Mutex`.
    Gcmodule,
    /// Our thread-local `gc_api::Gc` with `RefCell` (one thread only).
    OursUnsync,
}

impl SyncContender {
    /// Every contender, in table order.
    pub const ALL: [SyncContender; 5] = [
        SyncContender::OursSync,
        SyncContender::Arc,
        SyncContender::Dumpster,
        SyncContender::Gcmodule,
        SyncContender::OursUnsync,
    ];

    /// The name the child subcommand and the JSON use.
    pub fn key(self) -> &'static str {
        match self {
            SyncContender::OursSync => "ours-sync",
            SyncContender::Arc => "arc",
            SyncContender::Dumpster => "dumpster",
            SyncContender::Gcmodule => "gcmodule",
            SyncContender::OursUnsync => "ours-unsync",
        }
    }

    /// Parses [`SyncContender::key`].
    pub fn from_key(s: &str) -> Option<SyncContender> {
        SyncContender::ALL.into_iter().find(|c| c.key() == s)
    }

    /// Whether it can share objects between threads.
    pub fn crosses_threads(self) -> bool {
        self != SyncContender::OursUnsync
    }

    /// Runs `job` in this process.
    pub fn run_here(self, job: &ThreadsJob) -> Result<ThreadsResult, String> {
        use contenders::*;
        match self {
            SyncContender::OursSync => run_spawned::<OursSync>(job),
            SyncContender::Arc => run_spawned::<ArcHeap>(job),
            SyncContender::Dumpster => run_spawned::<DumpsterSync>(job),
            SyncContender::Gcmodule => run_spawned::<GcmoduleThreaded>(job),
            SyncContender::OursUnsync => run_inline::<OursUnsync>(job),
        }
    }

    /// What a contender leaves behind by design (its row notes it instead of failing).
    pub fn known_leftover(self) -> Option<&'static str> {
        None
    }
}

impl fmt::Display for SyncContender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncContender::OursSync => "ours sync (gc_api::sync)",
            SyncContender::Arc => "Arc + parking_lot",
            SyncContender::Dumpster => "dumpster 2.1.0 sync",
            SyncContender::Gcmodule => "gcmodule 0.3.3 Threaded",
            SyncContender::OursUnsync => "ours unsync (gc_api::Gc)",
        })
    }
}

/// Runs `job` with `contender` in a child process (`exe threads-child KEY JOB_JSON`).
pub fn run_in_child(
    exe: &Path,
    contender: SyncContender,
    job: &ThreadsJob,
) -> Result<ThreadsResult, String> {
    let job_json = serde_json::to_string(job).map_err(|e| format!("cannot encode job: {e}"))?;
    let mut command = Command::new(exe);
    command
        .arg("threads-child")
        .arg(contender.key())
        .arg(&job_json);
    let output = crate::compare::output_within(command, crate::compare::CHILD_TIME_LIMIT)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // A panic's message is the line after "panicked at"; otherwise the last line.
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let why = lines
            .iter()
            .position(|l| l.contains("panicked at"))
            .and_then(|i| lines.get(i + 1))
            .or(lines.last())
            .copied()
            .unwrap_or("no message");
        return Err(format!("failed ({}): {why}", output.status));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or("printed nothing")?;
    serde_json::from_str(line).map_err(|e| format!("unreadable output ({e}): {line}"))
}

// ---------------------------------------------------------------------------------------
// The report.

/// One row: a contender at one thread count.
#[derive(Debug, Clone)]
pub struct Row {
    /// Who ran.
    pub contender: SyncContender,
    /// Threads asked for.
    pub threads: usize,
    /// The figures, or why there are none.
    pub result: Result<ThreadsResult, String>,
}

impl Row {
    /// Problems with the figures (objects not freed).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        match &self.result {
            Ok(r) if r.dropped != r.created && self.contender.known_leftover().is_none() => {
                p.push(format!(
                    "{} of {} objects freed by the end",
                    r.dropped, r.created
                ));
            }
            Ok(_) => {}
            Err(e) if self.contender == SyncContender::OursSync => {
                p.push(format!("did not run: {e}"));
            }
            Err(_) => {}
        }
        p
    }
}

/// Every row of one `threads` run.
#[derive(Debug, Clone)]
pub struct ThreadsReport {
    /// The job (at the largest thread count).
    pub job: ThreadsJob,
    /// The rows, in table order.
    pub rows: Vec<Row>,
}

impl ThreadsReport {
    /// A run's figures (its timings stand even where it left objects unfreed; the table
    /// says so).
    fn result(&self, c: SyncContender, threads: usize) -> Option<&ThreadsResult> {
        self.rows
            .iter()
            .find(|r| r.contender == c && r.threads == threads)
            .and_then(|r| r.result.as_ref().ok())
    }

    /// Per contender and phase: CPU time per operation per thread with N threads over that
    /// with 1 (1.00: no cost from sharing; independent of how busy the machine is).
    pub fn cpu_growth(&self) -> Vec<(SyncContender, [f64; 3])> {
        let n = self.job.threads;
        SyncContender::ALL
            .into_iter()
            .filter_map(|c| {
                let one = self.result(c, 1)?;
                let many = self.result(c, n)?;
                Some((
                    c,
                    [0, 1, 2]
                        .map(|p| many.phases[p].ns_per_op_cpu() / one.phases[p].ns_per_op_cpu()),
                ))
            })
            .collect()
    }

    /// Per contender and phase: total throughput with N threads over that with 1.
    pub fn speedups(&self) -> Vec<(SyncContender, [f64; 3])> {
        let n = self.job.threads;
        SyncContender::ALL
            .into_iter()
            .filter_map(|c| {
                let one = self.result(c, 1)?;
                let many = self.result(c, n)?;
                Some((
                    c,
                    [0, 1, 2].map(|p| many.phases[p].ops_per_sec() / one.phases[p].ops_per_sec()),
                ))
            })
            .collect()
    }

    /// `(key, ours / theirs)`: ns per operation per thread (wall), ours sync against each
    /// other contender at the same thread count, and against our unsync flavour on one
    /// thread.
    pub fn ratios(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let n = self.job.threads;
        let mut counts = vec![1];
        if n != 1 {
            counts.push(n);
        }
        for threads in counts {
            let Some(ours) = self.result(SyncContender::OursSync, threads) else {
                continue;
            };
            for c in SyncContender::ALL.into_iter().skip(1) {
                let Some(theirs) = self.result(c, threads) else {
                    continue;
                };
                for (p, name) in PHASES.iter().enumerate() {
                    out.push((
                        format!("{name}_t{threads}_vs_{}", c.key().replace('-', "_")),
                        ours.phases[p].ns_per_op_wall() / theirs.phases[p].ns_per_op_wall(),
                    ));
                }
            }
        }
        out
    }

    /// Prints the tables.
    pub fn print(&self) {
        println!(
            "{:<26} {:>3} | {:>17} | {:>17} | {:>17} | {:>12}",
            "", "", "churn ns/cycle", "trees ns/node", "shared ns/op", ""
        );
        println!(
            "{:<26} {:>3} | {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>8} | {:>12}",
            "contender", "thr", "wall", "cpu", "wall", "cpu", "wall", "cpu", "collections"
        );
        for row in &self.rows {
            match &row.result {
                Ok(r) => {
                    let cols: Vec<String> = r
                        .phases
                        .iter()
                        .map(|p| format!("{:>8.1} {:>8.1}", p.ns_per_op_wall(), p.ns_per_op_cpu()))
                        .collect();
                    let colls = r
                        .collections
                        .map_or("-".to_owned(), |c| format!("{}/{}/{}", c[0], c[1], c[2]));
                    let problems = row.problems();
                    let note = if !problems.is_empty() {
                        format!("  NOT ALL FREED: {}", problems.join("; "))
                    } else if r.dropped != r.created {
                        format!(
                            "  ({} of {} objects freed: {})",
                            r.dropped,
                            r.created,
                            row.contender.known_leftover().unwrap_or("")
                        )
                    } else {
                        String::new()
                    };
                    println!(
                        "{:<26} {:>3} | {} | {} | {} | {:>12}{note}",
                        row.contender.to_string(),
                        row.threads,
                        cols[0],
                        cols[1],
                        cols[2],
                        colls
                    );
                }
                Err(e) => println!(
                    "{:<26} {:>3} | did not run: {e}",
                    row.contender.to_string(),
                    row.threads
                ),
            }
        }
        let speedups = self.speedups();
        if self.job.threads > 1 && !speedups.is_empty() {
            println!();
            println!(
                "speedup of {} threads over 1 (all threads' operations per second of wall \
                 time; the same work per thread; ideal {:.2}):",
                self.job.threads, self.job.threads as f64
            );
            println!("  {:<26} {:>7} {:>7} {:>7}", "", "churn", "trees", "shared");
            for (c, s) in speedups {
                println!(
                    "  {:<26} {:>7.2} {:>7.2} {:>7.2}",
                    c.to_string(),
                    s[0],
                    s[1],
                    s[2]
                );
            }
        }
        let growth = self.cpu_growth();
        if self.job.threads > 1 && !growth.is_empty() {
            println!();
            println!(
                "CPU time per operation per thread, {} threads over 1 (1.00: sharing costs \
                 nothing; not affected by other load on the machine):",
                self.job.threads
            );
            println!("  {:<26} {:>7} {:>7} {:>7}", "", "churn", "trees", "shared");
            for (c, g) in growth {
                println!(
                    "  {:<26} {:>7.2} {:>7.2} {:>7.2}",
                    c.to_string(),
                    g[0],
                    g[1],
                    g[2]
                );
            }
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            println!();
            println!(
                "ratios (ours sync / theirs, wall ns per operation per thread; below 1 ours \
                 is faster):"
            );
            for (k, v) in ratios {
                println!("  {k:<40} {v:>8.3}");
            }
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| match &r.result {
                Ok(res) => serde_json::json!({
                    "contender": r.contender.key(),
                    "threads": r.threads,
                    "ns_per_op_wall": res.phases.iter().map(PhaseTimes::ns_per_op_wall).collect::<Vec<_>>(),
                    "ns_per_op_cpu": res.phases.iter().map(PhaseTimes::ns_per_op_cpu).collect::<Vec<_>>(),
                    "ops_per_sec": res.phases.iter().map(PhaseTimes::ops_per_sec).collect::<Vec<_>>(),
                    "result": res,
                    "problems": r.problems(),
                }),
                Err(e) => serde_json::json!({
                    "contender": r.contender.key(),
                    "threads": r.threads,
                    "error": e,
                }),
            })
            .collect();
        let cpu_growth: serde_json::Map<String, serde_json::Value> = self
            .cpu_growth()
            .into_iter()
            .map(|(c, g)| (c.key().to_owned(), serde_json::json!(g)))
            .collect();
        let speedups: serde_json::Map<String, serde_json::Value> = self
            .speedups()
            .into_iter()
            .map(|(c, s)| (c.key().to_owned(), serde_json::json!(s)))
            .collect();
        let ratios: serde_json::Map<String, serde_json::Value> = self
            .ratios()
            .into_iter()
            .map(|(k, v)| (k, serde_json::json!(v)))
            .collect();
        serde_json::json!({
            "workload": "threads",
            "phases": PHASES,
            "job": self.job,
            "cores": cores(),
            "rows": rows,
            "speedups": speedups,
            "cpu_per_op_growth": cpu_growth,
            "ratios": ratios,
        })
    }

    /// Our problems (the tool fails when there are any).
    pub fn our_problems(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| {
                matches!(
                    r.contender,
                    SyncContender::OursSync | SyncContender::OursUnsync
                )
            })
            .flat_map(|r| {
                r.problems()
                    .into_iter()
                    .map(move |p| format!("{} with {} threads: {p}", r.contender, r.threads))
            })
            .collect()
    }
}

/// Runs `job` with each contender: every thread-safe one with 1 thread and with
/// `job.threads`, the thread-local one with 1; `runs` times over, round-robin, keeping
/// each one's fastest run (by the sum of its phases' wall time). `progress` hears of each
/// run before it starts.
pub fn measure(
    exe: &Path,
    job: &ThreadsJob,
    contenders: &[SyncContender],
    runs: usize,
    mut progress: impl FnMut(&str),
) -> ThreadsReport {
    let mut rows: Vec<Row> = Vec::new();
    for &c in contenders {
        rows.push(Row {
            contender: c,
            threads: 1,
            result: Err("did not run".into()),
        });
        if c.crosses_threads() && job.threads != 1 {
            rows.push(Row {
                contender: c,
                threads: job.threads,
                result: Err("did not run".into()),
            });
        }
    }
    let total = |r: &ThreadsResult| r.phases.iter().map(|p| p.wall_ms).sum::<f64>();
    for run in 0..runs.max(1) {
        for row in &mut rows {
            progress(&format!(
                "{}, {} thread(s), run {}",
                row.contender,
                row.threads,
                run + 1
            ));
            let one = ThreadsJob {
                threads: row.threads,
                ..job.clone()
            };
            let fresh = run_in_child(exe, row.contender, &one);
            let better = match (&row.result, &fresh) {
                (Err(_), _) if run == 0 => true,
                (Ok(old), Ok(new)) => total(new) < total(old),
                _ => false,
            };
            if better {
                row.result = fresh;
            }
        }
    }
    ThreadsReport {
        job: job.clone(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(threads: usize) -> ThreadsJob {
        ThreadsJob {
            threads,
            cycles: 500,
            depth: 4,
            trees: 8,
            shared_nodes: 50,
            shared_ops: 800,
            seed: 7,
        }
    }

    #[test]
    fn every_contender_frees_what_it_made() {
        for c in SyncContender::ALL {
            let threads = if c.crosses_threads() { 2 } else { 1 };
            let r = c.run_here(&small(threads)).unwrap();
            assert_eq!(r.threads, threads);
            assert_eq!(r.phases[1].ops, 8 * tree_nodes(4));
            assert_eq!(r.dropped, r.created, "{c}");
        }
    }

    #[test]
    fn keys_round_trip() {
        for c in SyncContender::ALL {
            assert_eq!(SyncContender::from_key(c.key()), Some(c));
        }
    }
}
