//! The thread-safe collector under concurrent mutation.
//!
//! - Completeness: a cycle that is garbage when `collect()` starts is freed by that call,
//!   while other threads clone, drop, swap cells and allocate.
//! - Nothing reachable is freed: worker threads move handles of a shared graph between
//!   `GcMutex`/`GcRwLock`/`AtomicGc` cells, their stacks and channels while another
//!   thread collects in a loop; every access checks the node's magic value, payload and
//!   drop counter. At the end everything is released and every node must have been
//!   finalized and dropped exactly once.
//!
//! `SYNC_STRESS_SECS` sets how long the second test runs (default 2 s; the long
//! run is `SYNC_STRESS_SECS=60 cargo test --release -p gc-tests --test sync_stress`).

use gc_api::sync::{self, AtomicGc, Gc, GcMutex, GcRwLock, Weak};
use gc_api::{Finalize, Trace};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

const MAGIC: u64 = 0x9e37_79b9_7f4a_7c15;

/// A small xorshift generator: each thread gets its own, seeded by its index.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// ---------------------------------------------------------------------------------------
// The node type of both tests
// ---------------------------------------------------------------------------------------

/// Per-node event counters, indexed by node id.
struct Registry {
    dropped: Vec<AtomicU8>,
    finalized: Vec<AtomicU8>,
    next_id: AtomicUsize,
    /// Damage a finalizer or `Drop` saw (reported at the end: they may run on any thread).
    errors: AtomicUsize,
}

impl Registry {
    fn new(capacity: usize) -> Arc<Registry> {
        Arc::new(Registry {
            dropped: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            finalized: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            next_id: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
        })
    }

    /// A fresh id, or `None` when the registry is full.
    fn id(&self) -> Option<usize> {
        let id = self.next_id.fetch_add(1, SeqCst);
        if id < self.dropped.len() {
            Some(id)
        } else {
            self.next_id.fetch_sub(1, SeqCst);
            None
        }
    }

    fn made(&self) -> usize {
        self.next_id.load(SeqCst)
    }
}

#[derive(Trace)]
struct SNode {
    id: usize,
    magic: u64,
    payload: Vec<u64>,
    e0: GcMutex<Option<Gc<SNode>>>,
    e1: GcRwLock<Option<Gc<SNode>>>,
    e2: AtomicGc<SNode>,
    #[gc(skip)]
    reg: Arc<Registry>,
}

fn payload_of(id: usize) -> Vec<u64> {
    (0..8)
        .map(|i| (id as u64).wrapping_mul(MAGIC) ^ i)
        .collect()
}

impl SNode {
    fn new(reg: &Arc<Registry>) -> Option<Gc<SNode>> {
        let id = reg.id()?;
        Some(Gc::new(SNode {
            id,
            magic: MAGIC ^ id as u64,
            payload: payload_of(id),
            e0: GcMutex::new(None),
            e1: GcRwLock::new(None),
            e2: AtomicGc::new(None),
            reg: reg.clone(),
        }))
    }

    fn intact(&self) -> bool {
        self.magic == MAGIC ^ self.id as u64 && self.payload == payload_of(self.id)
    }

    fn edge(&self, k: usize) -> Option<Gc<SNode>> {
        match k % 3 {
            0 => self.e0.lock().clone(),
            1 => self.e1.read().clone(),
            _ => self.e2.load(),
        }
    }

    fn set_edge(&self, k: usize, to: Option<Gc<SNode>>) -> Option<Gc<SNode>> {
        match k % 3 {
            0 => std::mem::replace(&mut *self.e0.lock(), to),
            1 => std::mem::replace(&mut *self.e1.write(), to),
            _ => self.e2.swap(to),
        }
    }
}

impl Finalize for SNode {
    fn finalize(&self) {
        if !self.intact() || self.reg.dropped[self.id].load(SeqCst) != 0 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
        if self.reg.finalized[self.id].fetch_add(1, SeqCst) != 0 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
    }
}

impl Drop for SNode {
    fn drop(&mut self) {
        if !self.intact() || self.reg.finalized[self.id].load(SeqCst) != 1 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
        if self.reg.dropped[self.id].fetch_add(1, SeqCst) != 0 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
        self.magic = 0xdead;
        self.payload.clear();
    }
}

/// Every access through a handle a thread holds: the object must be alive and intact.
fn check(g: &Gc<SNode>) -> &SNode {
    assert!(!Gc::is_dead(g), "a reachable object was collected");
    let n = Gc::try_deref(g).expect("a reachable object has its value");
    assert!(n.intact(), "object {} is damaged (freed?)", n.id);
    assert_eq!(
        n.reg.dropped[n.id].load(SeqCst),
        0,
        "reachable object {} was dropped",
        n.id
    );
    n
}

// ---------------------------------------------------------------------------------------
// Completeness
// ---------------------------------------------------------------------------------------

/// What hammer threads do until `stop`: clone, drop, swap cells, allocate (acyclic
/// objects and garbage cycles of their own), upgrade weak references.
fn hammer(seed: u64, shared: &[Gc<SNode>], reg: &Arc<Registry>, stop: &AtomicBool) -> usize {
    let mut rng = Rng::new(seed);
    let mut mine: Vec<Gc<SNode>> = Vec::new();
    let mut weaks: Vec<Weak<SNode>> = Vec::new();
    let mut ops = 0;
    while !stop.load(SeqCst) {
        ops += 1;
        match rng.below(7) {
            0 => mine.push(shared[rng.below(shared.len())].clone()),
            1 => {
                if !mine.is_empty() {
                    mine.swap_remove(rng.below(mine.len()));
                }
            }
            2 => {
                let s = &shared[rng.below(shared.len())];
                let to = mine.pop();
                if let Some(old) = check(s).set_edge(rng.below(3), to) {
                    check(&old);
                    mine.push(old);
                }
            }
            3 => {
                if let Some(n) = SNode::new(reg) {
                    if rng.chance(50) {
                        // A garbage cycle of the hammer's own.
                        let m = SNode::new(reg);
                        n.set_edge(rng.below(3), m.clone());
                        if let Some(m) = m {
                            m.set_edge(rng.below(3), Some(n.clone()));
                        }
                    } else {
                        weaks.push(Gc::downgrade(&n));
                        mine.push(n);
                    }
                }
            }
            4 => {
                if let Some(g) = weaks.pop().and_then(|w| w.upgrade()) {
                    check(&g);
                }
            }
            5 => {
                let s = &shared[rng.below(shared.len())];
                if let Some(e) = check(s).edge(rng.below(3)) {
                    check(&e);
                }
            }
            _ => {
                if mine.len() > 32 {
                    mine.truncate(8);
                }
            }
        }
    }
    ops
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// a -> b -> a through `GcMutex`es.
    Mutex2,
    /// A ring of `n` through the three kinds of cell in turn.
    Mixed(usize),
    /// A single node pointing at itself through its `AtomicGc`.
    SelfLoop,
    /// A ring of 3 promoted to an older generation before it becomes garbage.
    Old3,
    /// A ring of 4 handed to another thread, which drops the last handles.
    DroppedElsewhere,
}

#[test]
fn a_cycle_garbage_before_collect_is_freed_by_it_while_others_mutate() {
    let _alone = alone();
    let reg = Registry::new(1 << 20);
    let shared: Vec<Gc<SNode>> = (0..8).filter_map(|_| SNode::new(&reg)).collect();
    let stop = AtomicBool::new(false);
    let shapes = [
        Shape::Mutex2,
        Shape::Mixed(5),
        Shape::SelfLoop,
        Shape::Old3,
        Shape::DroppedElsewhere,
        Shape::Mixed(2),
    ];
    let (to_dropper, dropper_rx) = mpsc::channel::<(Vec<Gc<SNode>>, mpsc::Sender<()>)>();
    std::thread::scope(|s| {
        let hammers: Vec<_> = (0..2)
            .map(|t| {
                let (shared, reg, stop) = (&shared, &reg, &stop);
                s.spawn(move || hammer(t + 1, shared, reg, stop))
            })
            .collect();
        s.spawn(move || {
            for (nodes, done) in dropper_rx {
                drop(nodes);
                done.send(()).unwrap();
            }
        });
        let mine = Registry::new(4096);
        for round in 0..completeness_rounds() {
            let shape = shapes[round % shapes.len()];
            let before = mine.made();
            let n = match shape {
                Shape::Mutex2 => 2,
                Shape::Mixed(n) => n,
                Shape::SelfLoop => 1,
                Shape::Old3 => 3,
                Shape::DroppedElsewhere => 4,
            };
            let nodes: Vec<Gc<SNode>> = (0..n).map(|_| SNode::new(&mine).unwrap()).collect();
            for i in 0..n {
                let to = nodes[(i + 1) % n].clone();
                match shape {
                    Shape::Mutex2 => *nodes[i].e0.lock() = Some(to),
                    Shape::SelfLoop => nodes[i].e2.store(Some(to)),
                    _ => {
                        nodes[i].set_edge(i, Some(to));
                    }
                }
            }
            let weaks: Vec<Weak<SNode>> = nodes.iter().map(Gc::downgrade).collect();
            match shape {
                Shape::Old3 => {
                    sync::collect_generation(0).unwrap();
                    sync::collect_generation(1).unwrap();
                    drop(nodes);
                }
                Shape::DroppedElsewhere => {
                    let (done_tx, done_rx) = mpsc::channel();
                    to_dropper.send((nodes, done_tx)).unwrap();
                    done_rx.recv().unwrap();
                }
                _ => drop(nodes),
            }
            // Garbage now: the collection that starts next must free it.
            sync::collect();
            for id in before..mine.made() {
                assert_eq!(
                    mine.dropped[id].load(SeqCst),
                    1,
                    "round {round} ({shape:?}): node {id} survived collect()"
                );
                assert_eq!(mine.finalized[id].load(SeqCst), 1);
            }
            assert!(weaks.iter().all(|w| w.upgrade().is_none()));
        }
        assert_eq!(mine.errors.load(SeqCst), 0);
        drop(to_dropper);
        stop.store(true, SeqCst);
        for h in hammers {
            assert!(h.join().unwrap() > 0, "the hammer ran");
        }
    });
    for n in &shared {
        for k in 0..3 {
            check(n).set_edge(k, None);
        }
    }
    drop(shared);
    sync::collect();
    let made = reg.made();
    for id in 0..made {
        assert_eq!(reg.dropped[id].load(SeqCst), 1, "hammer node {id}");
    }
    assert_eq!(reg.errors.load(SeqCst), 0);
}

// ---------------------------------------------------------------------------------------
// Nothing reachable is freed
// ---------------------------------------------------------------------------------------

const WORKERS: usize = 4;
const ROOT_CELLS: usize = 32;
const STACK_MAX: usize = 48;

fn stress_duration() -> Duration {
    let secs = std::env::var("SYNC_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

struct Shared {
    reg: Arc<Registry>,
    cells: Vec<GcMutex<Option<Gc<SNode>>>>,
    rw_cells: Vec<GcRwLock<Vec<Gc<SNode>>>>,
    atoms: Vec<AtomicGc<SNode>>,
    stop: AtomicBool,
    /// Every worker has stopped sending.
    quiet: Barrier,
}

#[derive(Default, Debug)]
struct WorkerStats {
    ops: usize,
    checks: usize,
    sent: usize,
    received: usize,
    allocated: usize,
}

fn worker(
    me: usize,
    sh: &Shared,
    inbox: mpsc::Receiver<Gc<SNode>>,
    outboxes: Vec<mpsc::Sender<Gc<SNode>>>,
    mut stack: Vec<Gc<SNode>>,
) -> WorkerStats {
    let mut rng = Rng::new(0x1000 + me as u64);
    let mut st = WorkerStats::default();
    let mut weaks: Vec<Weak<SNode>> = Vec::new();
    let observe = |g: &Gc<SNode>, st: &mut WorkerStats| {
        check(g);
        st.checks += 1;
    };
    while !sh.stop.load(SeqCst) {
        st.ops += 1;
        match rng.below(14) {
            // Stack <-> root cells.
            0 => {
                let c = rng.below(ROOT_CELLS);
                let put = stack.pop();
                let old = std::mem::replace(&mut *sh.cells[c].lock(), put);
                if let Some(old) = old {
                    observe(&old, &mut st);
                    stack.push(old);
                }
            }
            1 => {
                let c = rng.below(ROOT_CELLS);
                let mut v = sh.rw_cells[c].write();
                if rng.chance(50) {
                    if let Some(g) = stack.pop() {
                        v.push(g);
                    }
                } else if !v.is_empty() {
                    let i = rng.below(v.len());
                    stack.push(v.swap_remove(i));
                }
            }
            2 => {
                let c = rng.below(ROOT_CELLS);
                let put = if rng.chance(50) { stack.pop() } else { None };
                if let Some(old) = sh.atoms[c].swap(put) {
                    observe(&old, &mut st);
                    stack.push(old);
                }
            }
            3 => {
                let c = rng.below(ROOT_CELLS);
                if let Some(g) = sh.atoms[c].load() {
                    observe(&g, &mut st);
                    stack.push(g);
                }
            }
            // Traverse: follow an edge of the top node.
            4 | 5 => {
                if let Some(top) = stack.last() {
                    let next = check(top).edge(rng.below(3));
                    if let Some(next) = next {
                        observe(&next, &mut st);
                        stack.push(next);
                    }
                }
            }
            // Rewire: an edge of one stack node to another (cycles form here).
            6 | 7 => {
                if !stack.is_empty() {
                    let a = rng.below(stack.len());
                    let b = rng.below(stack.len());
                    let to = stack[b].clone();
                    let old = check(&stack[a]).set_edge(rng.below(3), Some(to));
                    if let Some(old) = old {
                        observe(&old, &mut st);
                        if rng.chance(30) {
                            stack.push(old);
                        }
                    }
                }
            }
            8 => {
                if let Some(top) = stack.last() {
                    check(top).set_edge(rng.below(3), None);
                }
            }
            // Channels: hand a node to another worker, take what was sent here.
            9 => {
                if let Some(g) = stack.pop() {
                    let to = rng.below(WORKERS);
                    outboxes[to].send(g).expect("inboxes outlive the sending");
                    st.sent += 1;
                }
            }
            10 => {
                for g in inbox.try_iter().take(8) {
                    observe(&g, &mut st);
                    st.received += 1;
                    stack.push(g);
                }
            }
            11 => {
                if let Some(n) = SNode::new(&sh.reg) {
                    st.allocated += 1;
                    if let Some(top) = stack.last() {
                        n.set_edge(rng.below(3), Some(top.clone()));
                    }
                    stack.push(n);
                }
            }
            12 => {
                if let Some(top) = stack.last() {
                    weaks.push(Gc::downgrade(top));
                }
                if weaks.len() > 16 {
                    let w = weaks.swap_remove(rng.below(weaks.len()));
                    if let Some(g) = w.upgrade() {
                        observe(&g, &mut st);
                        stack.push(g);
                    }
                }
            }
            _ => {
                if !stack.is_empty() {
                    stack.swap_remove(rng.below(stack.len()));
                }
            }
        }
        if stack.len() > STACK_MAX {
            stack.drain(..STACK_MAX / 2);
        }
    }
    // Stop sending, wait until nobody sends, then take what is left in the inbox.
    sh.quiet.wait();
    for g in inbox.try_iter() {
        observe(&g, &mut st);
        st.received += 1;
        stack.push(g);
    }
    for g in &stack {
        check(g);
    }
    st
}

#[test]
fn nothing_reachable_is_freed_while_threads_mutate_and_a_thread_collects() {
    let _alone = alone();
    gc_core::sync::raw::flush_deferred_frees();
    let live_at_start = gc_core::sync::raw::live_objects();
    let duration = stress_duration();
    let reg = Registry::new(16 << 20);
    let sh = Shared {
        reg: reg.clone(),
        cells: (0..ROOT_CELLS).map(|_| GcMutex::new(None)).collect(),
        rw_cells: (0..ROOT_CELLS).map(|_| GcRwLock::new(Vec::new())).collect(),
        atoms: (0..ROOT_CELLS).map(|_| AtomicGc::new(None)).collect(),
        stop: AtomicBool::new(false),
        quiet: Barrier::new(WORKERS),
    };
    // The starting graph: 512 nodes with random edges, spread over cells and stacks.
    let mut rng = Rng::new(7);
    let nodes: Vec<Gc<SNode>> = (0..512).map(|_| SNode::new(&reg).unwrap()).collect();
    for n in &nodes {
        for k in 0..3 {
            if rng.chance(60) {
                n.set_edge(k, Some(nodes[rng.below(nodes.len())].clone()));
            }
        }
    }
    let mut stacks: Vec<Vec<Gc<SNode>>> = vec![Vec::new(); WORKERS];
    for (i, n) in nodes.into_iter().enumerate() {
        match i % 8 {
            0 => *sh.cells[rng.below(ROOT_CELLS)].lock() = Some(n),
            1 => sh.rw_cells[rng.below(ROOT_CELLS)].write().push(n),
            2 => sh.atoms[rng.below(ROOT_CELLS)].store(Some(n)),
            3 | 4 => stacks[rng.below(WORKERS)].push(n),
            _ => drop(n), // kept only by edges, if at all
        }
    }
    let (outboxes, inboxes): (Vec<_>, Vec<_>) = (0..WORKERS).map(|_| mpsc::channel()).unzip();
    let collections = AtomicUsize::new(0);
    let start = Instant::now();
    let stats: Vec<WorkerStats> = std::thread::scope(|s| {
        let collector = s.spawn(|| {
            let mut i = 0usize;
            while !sh.stop.load(SeqCst) {
                i += 1;
                if i.is_multiple_of(4) {
                    sync::collect_generation(i / 4 % 2).unwrap();
                } else {
                    sync::collect();
                }
                collections.fetch_add(1, SeqCst);
            }
        });
        let workers: Vec<_> = inboxes
            .into_iter()
            .zip(stacks)
            .enumerate()
            .map(|(me, (inbox, stack))| {
                let outboxes = outboxes.clone();
                let sh = &sh;
                s.spawn(move || worker(me, sh, inbox, outboxes, stack))
            })
            .collect();
        while start.elapsed() < duration {
            std::thread::park_timeout(duration.saturating_sub(start.elapsed()));
        }
        sh.stop.store(true, SeqCst);
        collector.join().unwrap();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    drop(outboxes);
    let ops: usize = stats.iter().map(|s| s.ops).sum();
    let sent: usize = stats.iter().map(|s| s.sent).sum();
    let received: usize = stats.iter().map(|s| s.received).sum();
    assert_eq!(sent, received, "every handle sent arrived: {stats:?}");
    assert!(ops > 1_000, "the workers ran: {stats:?}");
    assert!(collections.load(SeqCst) > 0, "the collector ran: {stats:?}");
    assert_eq!(reg.errors.load(SeqCst), 0, "a finalizer or Drop saw damage");

    // Release the roots: all that is left is garbage, and one collection frees it all.
    for c in &sh.cells {
        c.lock().take();
    }
    for c in &sh.rw_cells {
        c.write().clear();
    }
    for c in &sh.atoms {
        c.take();
    }
    sync::collect();
    let made = reg.made();
    let not_once: Vec<(usize, u8, u8)> = (0..made)
        .filter_map(|id| {
            let d = reg.dropped[id].load(SeqCst);
            let f = reg.finalized[id].load(SeqCst);
            (d != 1 || f != 1).then_some((id, d, f))
        })
        .collect();
    assert!(
        not_once.is_empty(),
        "{} of {made} nodes not finalized and dropped exactly once (id, drops, finalizations): {:?}",
        not_once.len(),
        &not_once[..not_once.len().min(20)]
    );
    assert_eq!(reg.errors.load(SeqCst), 0);
    // Memory is back where it started (debug builds count the sync heap's blocks).
    drop(sh);
    sync::collect();
    gc_core::sync::raw::flush_deferred_frees();
    assert_eq!(
        gc_core::sync::raw::live_objects(),
        live_at_start,
        "every block of the sync heap allocated by the run was freed"
    );
    eprintln!(
        "sync stress: {:.1} s, {ops} operations, {made} nodes, {} collections",
        start.elapsed().as_secs_f64(),
        collections.load(SeqCst)
    );
}

/// Rounds of the completeness test: 300, or `SYNC_COMPLETENESS_ROUNDS` (the sanitizer runs
/// use fewer).
fn completeness_rounds() -> usize {
    std::env::var("SYNC_COMPLETENESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The two tests of this file run one at a time: the stress test checks that the sync
/// heap's block count comes back to where it started, which a test allocating beside it
/// would upset.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}
