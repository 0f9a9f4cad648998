//! Random multi-threaded graph programs on the thread-safe heap under shuttle's
//! randomised schedules, checked against a shadow reachability model after every step.
//!
//! Three shuttle threads run 20-40 random operations each (allocate, clone, drop, set or
//! clear an edge in a `GcMutex` or an `AtomicGc`, swap a global cell, send a handle to
//! another thread over a channel, downgrade, upgrade, collect). Each operation and its
//! shadow update happen under one shuttle mutex, so the shadow always matches the heap,
//! and the interleaving of the threads' operations is shuttle's to choose. After every
//! operation:
//!
//! - nothing the shadow can reach from a root (a thread's handles, a global cell, a
//!   channel) was dropped, and every handle a thread holds is alive and intact;
//! - an object nothing refers to (no root, no edge from a live value) was dropped at once
//!   (refcounting);
//! - a weak reference upgrades exactly while its target's value has not been dropped;
//! - after a `collect()`, every object the shadow cannot reach was dropped;
//! - no value is dropped or finalized twice.
//!
//! After the threads join, everything is released and one collection must drop every
//! object that was made, exactly once.
//!
//! Shuttle schedules only its own primitives: it cannot preempt inside the library
//! (whose atomics and locks are std and parking_lot), so what varies is the order of
//! whole operations across threads. No library lock is held across a shuttle primitive.

use gc_api::sync::{self, AtomicGc, Gc, GcMutex, Weak};
use gc_api::{Finalize, Trace};
use rand::Rng;
use shuttle::scheduler::PctScheduler;
use shuttle::sync::{Mutex, mpsc};
use shuttle::{Config, Runner};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

const THREADS: usize = 3;
const CELLS: usize = 3;
const MAX_OBJECTS: usize = 64;
const MAGIC: u64 = 0x5eed_cafe_f00d_d00d;

/// Drop and finalizer counters of one iteration's objects, by shadow id.
struct Registry {
    dropped: Vec<AtomicUsize>,
    finalized: Vec<AtomicUsize>,
    /// Finalizers or drops that found a value damaged, or ran in the wrong order.
    errors: AtomicUsize,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            dropped: (0..MAX_OBJECTS).map(|_| AtomicUsize::new(0)).collect(),
            finalized: (0..MAX_OBJECTS).map(|_| AtomicUsize::new(0)).collect(),
            errors: AtomicUsize::new(0),
        }
    }
}

#[derive(Trace)]
struct Node {
    id: usize,
    magic: u64,
    payload: Vec<u64>,
    /// Slot 0.
    e0: GcMutex<Option<Gc<Node>>>,
    /// Slot 1.
    e1: AtomicGc<Node>,
    #[gc(skip)]
    reg: Arc<Registry>,
}

fn payload_of(id: usize) -> Vec<u64> {
    (0..4).map(|i| MAGIC.rotate_left(id as u32) ^ i).collect()
}

impl Node {
    fn intact(&self) -> bool {
        self.magic == MAGIC ^ self.id as u64 && self.payload == payload_of(self.id)
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        if !self.intact() || self.reg.dropped[self.id].load(SeqCst) != 0 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
        self.reg.finalized[self.id].fetch_add(1, SeqCst);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.intact() || self.reg.finalized[self.id].load(SeqCst) != 1 {
            self.reg.errors.fetch_add(1, SeqCst);
        }
        self.reg.dropped[self.id].fetch_add(1, SeqCst);
        self.magic = 0;
    }
}

/// Checks a handle a thread holds: it must be alive, intact and not dropped.
fn check_live(g: &Gc<Node>, reg: &Registry, why: &str) -> usize {
    assert!(!Gc::is_dead(g), "{why}: a held handle is dead");
    let n = Gc::try_deref(g).unwrap_or_else(|| panic!("{why}: a held handle has no value"));
    assert!(n.intact(), "{why}: object {} is damaged", n.id);
    assert_eq!(
        reg.dropped[n.id].load(SeqCst),
        0,
        "{why}: {} was dropped",
        n.id
    );
    n.id
}

#[derive(Default, Clone, Debug)]
struct ShadowObj {
    edges: [Option<usize>; 2],
    dropped: bool,
}

/// The shadow heap: objects and edges, and every root.
#[derive(Default, Debug)]
struct Shadow {
    objs: Vec<ShadowObj>,
    handles: Vec<Vec<usize>>,
    cells: Vec<Option<usize>>,
    atom: Option<usize>,
    channels: Vec<VecDeque<usize>>,
    /// Operations checked so far.
    steps: usize,
}

impl Shadow {
    fn new() -> Shadow {
        Shadow {
            handles: vec![Vec::new(); THREADS],
            cells: vec![None; CELLS],
            channels: vec![VecDeque::new(); THREADS],
            ..Shadow::default()
        }
    }

    fn roots(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.handles.iter().flatten().copied().collect();
        r.extend(self.cells.iter().flatten());
        r.extend(self.atom);
        r.extend(self.channels.iter().flatten());
        r
    }

    fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.objs.len()];
        let mut stack = self.roots();
        while let Some(o) = stack.pop() {
            if !std::mem::replace(&mut seen[o], true) {
                stack.extend(self.objs[o].edges.iter().flatten());
            }
        }
        seen
    }

    /// Brings `dropped` up to date from the registry and checks every invariant that holds
    /// between two operations; after a collection also that all garbage went.
    fn check(&mut self, reg: &Registry, collected: bool, what: &str) {
        self.steps += 1;
        assert_eq!(
            reg.errors.load(SeqCst),
            0,
            "{what}: a finalizer or Drop saw damage"
        );
        for (id, o) in self.objs.iter_mut().enumerate() {
            let d = reg.dropped[id].load(SeqCst);
            assert!(d <= 1, "{what}: object {id} dropped {d} times");
            assert!(
                reg.finalized[id].load(SeqCst) <= 1,
                "{what}: {id} finalized twice"
            );
            if d == 1 && !o.dropped {
                o.dropped = true;
            }
        }
        let reachable = self.reachable();
        for (id, o) in self.objs.iter().enumerate() {
            if reachable[id] {
                assert!(
                    !o.dropped,
                    "{what}: reachable object {id} was dropped: {self:?}"
                );
            } else if collected {
                assert!(
                    o.dropped,
                    "{what}: collect() left garbage object {id}: {self:?}"
                );
            }
        }
        // A dropped value released its edges.
        for o in self.objs.iter_mut().filter(|o| o.dropped) {
            o.edges = [None, None];
        }
        // Refcounting: an object nothing refers to has been dropped.
        let mut referenced = vec![false; self.objs.len()];
        for r in self.roots() {
            referenced[r] = true;
        }
        for o in self.objs.iter().filter(|o| !o.dropped) {
            for e in o.edges.iter().flatten() {
                referenced[*e] = true;
            }
        }
        for (id, o) in self.objs.iter().enumerate() {
            assert!(
                o.dropped || referenced[id],
                "{what}: object {id} has no references left but was not freed: {self:?}"
            );
        }
    }
}

struct World {
    shadow: Mutex<Shadow>,
    cells: Vec<GcMutex<Option<Gc<Node>>>>,
    atom: AtomicGc<Node>,
    reg: Arc<Registry>,
}

/// What one thread owns.
struct Local {
    me: usize,
    handles: Vec<Gc<Node>>,
    weaks: Vec<(Weak<Node>, usize)>,
    senders: Vec<mpsc::Sender<Gc<Node>>>,
    inbox: mpsc::Receiver<Gc<Node>>,
}

fn set_edge(n: &Node, slot: usize, to: Option<Gc<Node>>) {
    if slot == 0 {
        *n.e0.lock() = to;
    } else {
        n.e1.store(to);
    }
}

fn read_edge(n: &Node, slot: usize) -> Option<Gc<Node>> {
    if slot == 0 {
        n.e0.lock().clone()
    } else {
        n.e1.load()
    }
}

/// One random operation of thread `l.me`, with its shadow update and the checks.
fn step(world: &World, l: &mut Local) {
    let mut rng = shuttle::rand::thread_rng();
    let op = rng.gen_range(0..13);
    let mut sh = world.shadow.lock().unwrap();
    let me = l.me;
    let reg = &world.reg;
    let n = l.handles.len();
    let pick = |rng: &mut shuttle::rand::rngs::ThreadRng| rng.gen_range(0..n.max(1));
    let mut collected = false;
    let what;
    match op {
        0 | 1 if sh.objs.len() < MAX_OBJECTS => {
            let id = sh.objs.len();
            let mut edges = [None, None];
            let mut real: [Option<Gc<Node>>; 2] = [None, None];
            for slot in 0..2 {
                if n > 0 && rng.gen_bool(0.5) {
                    let h = pick(&mut rng);
                    edges[slot] = Some(sh.handles[me][h]);
                    real[slot] = Some(l.handles[h].clone());
                }
            }
            let [r0, r1] = real;
            let g = Gc::new(Node {
                id,
                magic: MAGIC ^ id as u64,
                payload: payload_of(id),
                e0: GcMutex::new(r0),
                e1: AtomicGc::new(r1),
                reg: reg.clone(),
            });
            sh.objs.push(ShadowObj {
                edges,
                dropped: false,
            });
            sh.handles[me].push(id);
            l.handles.push(g);
            what = format!("t{me} new {id}");
        }
        2 if n > 0 => {
            let h = pick(&mut rng);
            let id = check_live(&l.handles[h], reg, "clone");
            l.handles.push(l.handles[h].clone());
            sh.handles[me].push(id);
            what = format!("t{me} clone {id}");
        }
        3 | 4 if n > 0 => {
            let h = pick(&mut rng);
            let g = l.handles.swap_remove(h);
            let id = sh.handles[me].swap_remove(h);
            assert_eq!(check_live(&g, reg, "drop"), id);
            drop(g);
            what = format!("t{me} drop {id}");
        }
        5 if n > 0 => {
            let (h, slot) = (pick(&mut rng), rng.gen_range(0..2));
            let target = rng.gen_bool(0.8).then(|| pick(&mut rng));
            let from = sh.handles[me][h];
            let to_id = target.map(|t| sh.handles[me][t]);
            set_edge(&l.handles[h], slot, target.map(|t| l.handles[t].clone()));
            sh.objs[from].edges[slot] = to_id;
            what = format!("t{me} edge {from}.{slot} = {to_id:?}");
        }
        6 if n > 0 => {
            // Follow an edge: a new handle to what it points at.
            let (h, slot) = (pick(&mut rng), rng.gen_range(0..2));
            let from = sh.handles[me][h];
            let got = read_edge(&l.handles[h], slot);
            let got_id = got.as_ref().map(|g| check_live(g, reg, "follow"));
            assert_eq!(got_id, sh.objs[from].edges[slot], "edge {from}.{slot}");
            if let (Some(g), Some(id)) = (got, got_id) {
                l.handles.push(g);
                sh.handles[me].push(id);
            }
            what = format!("t{me} follow {from}.{slot}");
        }
        7 => {
            // Swap a handle (or nothing) with a global cell.
            let c = rng.gen_range(0..CELLS);
            let put = (n > 0 && rng.gen_bool(0.7)).then(|| pick(&mut rng));
            let (real, id) = match put {
                Some(h) => (
                    Some(l.handles.swap_remove(h)),
                    Some(sh.handles[me].swap_remove(h)),
                ),
                None => (None, None),
            };
            let old = std::mem::replace(&mut *world.cells[c].lock(), real);
            let old_id = old.as_ref().map(|g| check_live(g, reg, "cell"));
            assert_eq!(old_id, sh.cells[c], "cell {c}");
            sh.cells[c] = id;
            if let (Some(g), Some(i)) = (old, old_id) {
                l.handles.push(g);
                sh.handles[me].push(i);
            }
            what = format!("t{me} cell {c} <- {id:?}");
        }
        8 => {
            let put = (n > 0 && rng.gen_bool(0.7)).then(|| pick(&mut rng));
            let (real, id) = match put {
                Some(h) => (Some(l.handles[h].clone()), Some(sh.handles[me][h])),
                None => (None, None),
            };
            let old = world.atom.swap(real);
            let old_id = old.as_ref().map(|g| check_live(g, reg, "atom"));
            assert_eq!(old_id, sh.atom, "the global AtomicGc");
            sh.atom = id;
            drop(old);
            what = format!("t{me} atom <- {id:?}");
        }
        9 if n > 0 => {
            let h = pick(&mut rng);
            let id = sh.handles[me][h];
            l.weaks.push((Gc::downgrade(&l.handles[h]), id));
            what = format!("t{me} downgrade {id}");
        }
        10 if !l.weaks.is_empty() => {
            let k = rng.gen_range(0..l.weaks.len());
            let (w, id) = &l.weaks[k];
            let id = *id;
            // Between operations nothing is half-freed: the registry says exactly whether
            // the value is gone.
            let gone = reg.dropped[id].load(SeqCst) > 0;
            match w.upgrade() {
                Some(g) => {
                    assert!(!gone, "upgrade of {id} gave a dropped object");
                    assert_eq!(check_live(&g, reg, "upgrade"), id);
                    l.handles.push(g);
                    sh.handles[me].push(id);
                }
                None => assert!(gone, "upgrade of {id} failed while its value lives"),
            }
            what = format!("t{me} upgrade {id}");
        }
        11 if n > 0 => {
            let h = pick(&mut rng);
            let to = rng.gen_range(0..THREADS);
            let g = l.handles.swap_remove(h);
            let id = sh.handles[me].swap_remove(h);
            l.senders[to].send(g).expect("receivers live until the end");
            sh.channels[to].push_back(id);
            what = format!("t{me} send {id} to t{to}");
        }
        12 => {
            match l.inbox.try_recv() {
                Ok(g) => {
                    let id = check_live(&g, reg, "recv");
                    assert_eq!(sh.channels[me].pop_front(), Some(id), "channel order");
                    l.handles.push(g);
                    sh.handles[me].push(id);
                }
                Err(_) => assert!(sh.channels[me].is_empty()),
            }
            what = format!("t{me} recv");
        }
        _ => {
            sync::collect();
            collected = true;
            what = format!("t{me} collect");
        }
    }
    for g in &l.handles {
        check_live(g, reg, &what);
    }
    sh.check(reg, collected, &what);
}

fn program() {
    let reg = Arc::new(Registry::new());
    let world = Arc::new(World {
        shadow: Mutex::new(Shadow::new()),
        cells: (0..CELLS).map(|_| GcMutex::new(None)).collect(),
        atom: AtomicGc::new(None),
        reg: reg.clone(),
    });
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
    let threads: Vec<_> = inboxes
        .into_iter()
        .enumerate()
        .map(|(me, inbox)| {
            let world = world.clone();
            let senders = senders.clone();
            shuttle::thread::spawn(move || {
                let mut l = Local {
                    me,
                    handles: Vec::new(),
                    weaks: Vec::new(),
                    senders,
                    inbox,
                };
                let ops = shuttle::rand::thread_rng().gen_range(20..=40);
                for _ in 0..ops {
                    step(&world, &mut l);
                }
                l
            })
        })
        .collect();
    drop(senders);
    let locals: Vec<Local> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    // Quiet now: one collection frees exactly the garbage.
    sync::collect();
    world.shadow.lock().unwrap().check(&reg, true, "after join");
    let made = world.shadow.lock().unwrap().objs.len();
    STEPS.fetch_add(world.shadow.lock().unwrap().steps, SeqCst);
    OBJECTS.fetch_add(made, SeqCst);

    // Release everything: every object is dropped and finalized exactly once.
    for l in locals {
        let Local {
            handles,
            weaks,
            inbox,
            ..
        } = l;
        for g in &handles {
            check_live(g, &reg, "at the end");
        }
        drop(handles);
        let pending: Vec<Gc<Node>> = inbox.try_iter().collect();
        drop(pending);
        drop(weaks);
    }
    for c in &world.cells {
        c.lock().take();
    }
    world.atom.take();
    sync::collect();
    for id in 0..made {
        assert_eq!(reg.dropped[id].load(SeqCst), 1, "object {id} dropped once");
        assert_eq!(
            reg.finalized[id].load(SeqCst),
            1,
            "object {id} finalized once"
        );
    }
    assert_eq!(reg.errors.load(SeqCst), 0);
}

/// Operations checked and objects made, over all iterations (to check the runs did work).
static STEPS: AtomicUsize = AtomicUsize::new(0);
static OBJECTS: AtomicUsize = AtomicUsize::new(0);

/// Iterations per run; `SYNC_SHUTTLE_ITERS` overrides (the default keeps the run short).
fn iterations() -> usize {
    std::env::var("SYNC_SHUTTLE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000)
}

/// The two tests must not overlap: a collection of the other test's heap may hold
/// references on this one's objects for a moment, which the refcounting check would see.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn random_graph_programs_agree_with_the_shadow_under_pct_schedules() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Small thresholds: automatic collections run inside the threads' allocations too.
    sync::set_threshold([10, 3, 3]);
    sync::enable();
    let mut config = Config::new();
    config.stack_size = 1 << 20;
    let seed = std::env::var("SYNC_SHUTTLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let scheduler = PctScheduler::new_from_seed(seed, 3, iterations());
    run_and_count(Runner::new(scheduler, config));
}

/// Runs the program under `runner` and checks that every iteration did its operations.
fn run_and_count<S: shuttle::scheduler::Scheduler + 'static>(runner: Runner<S>) {
    let (steps, objects) = (STEPS.load(SeqCst), OBJECTS.load(SeqCst));
    let iterations = runner.run(program);
    let steps = STEPS.load(SeqCst) - steps;
    let objects = OBJECTS.load(SeqCst) - objects;
    assert_eq!(iterations, self::iterations());
    assert!(
        steps >= iterations * THREADS * 20,
        "{steps} operations in {iterations} iterations"
    );
    assert!(
        objects >= iterations,
        "{objects} objects in {iterations} iterations"
    );
}

#[test]
fn random_graph_programs_agree_with_the_shadow_under_random_schedules() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    sync::set_threshold([10, 3, 3]);
    sync::enable();
    let mut config = Config::new();
    config.stack_size = 1 << 20;
    let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(0xfeed, iterations());
    run_and_count(Runner::new(scheduler, config));
}
