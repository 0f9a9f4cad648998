//! Multi-threaded graph programs on the thread-safe heap (`gc_api::sync`), checked against
//! a shadow reachability model.
//!
//! The input decodes into 2 or 3 threads and up to 64 rounds. In each round every thread
//! runs the operation the input gives it (or none) at the same time as the others, between
//! two barriers; the main thread checks the shadow at each barrier, when nothing runs:
//!
//! - nothing the shadow reaches from a root (the threads' handles, the global cells, the
//!   channels) has been dropped, and every handle a thread holds is alive and intact;
//! - an object nothing refers to any more has been dropped (refcounting; every collection
//!   of the round, and the references it held, has ended);
//! - if a thread ran `collect()` in the round, everything that was garbage when the round
//!   began is gone (completeness), except what a weak upgrade of the round may have
//!   brought back;
//! - a weak upgrade that failed was to an object that is gone;
//! - no value is finalized or dropped twice, and at the end every object made is dropped
//!   and finalized exactly once.
//!
//! Operations on shared state (edges, global cells, channels) update the shadow under one
//! lock together with the heap; allocation, clone, drop, downgrade, upgrade and collection
//! run outside it, so collections race with everything else.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use gc_api::sync::{self, AtomicGc, Gc, GcMutex, Weak};
use gc_api::{Finalize, Trace};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, mpsc};

const MAX_THREADS: usize = 3;
const MAX_ROUNDS: usize = 64;
const MAX_OBJECTS: usize = 192;
const CELLS: usize = 4;
const MAGIC: u64 = 0x0bad_c0de_feed_f00d;

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Op {
    New { e0: Option<u8>, e1: Option<u8> },
    Clone { h: u8 },
    Drop { h: u8 },
    SetEdge { h: u8, slot: bool, to: Option<u8> },
    Follow { h: u8, slot: bool },
    CellSwap { c: u8, h: Option<u8> },
    Downgrade { h: u8 },
    Upgrade { w: u8 },
    Send { h: u8, to: u8 },
    Recv,
    Collect,
    CollectYoung { g: bool },
}

#[derive(Debug)]
struct Program {
    threads: usize,
    rounds: Vec<[Option<Op>; MAX_THREADS]>,
}

impl Program {
    fn decode(data: &[u8]) -> Program {
        let mut u = Unstructured::new(data);
        let threads = 2 + usize::from(u.arbitrary::<bool>().unwrap_or(false));
        let mut rounds = Vec::new();
        while rounds.len() < MAX_ROUNDS && !u.is_empty() {
            let mut round = [None; MAX_THREADS];
            for op in round.iter_mut().take(threads) {
                *op = u.arbitrary().unwrap_or(None);
            }
            rounds.push(round);
        }
        Program { threads, rounds }
    }
}

struct Registry {
    dropped: Vec<AtomicUsize>,
    finalized: Vec<AtomicUsize>,
    errors: AtomicUsize,
}

#[derive(Trace)]
struct Node {
    id: usize,
    magic: u64,
    payload: Vec<u64>,
    e0: GcMutex<Option<Gc<Node>>>,
    e1: AtomicGc<Node>,
    #[gc(skip)]
    reg: Arc<Registry>,
}

fn payload_of(id: usize) -> Vec<u64> {
    (0..4).map(|i| MAGIC.rotate_left(id as u32 + i)).collect()
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

#[derive(Clone, Debug, Default)]
struct ShadowObj {
    edges: [Option<usize>; 2],
    dropped: bool,
}

#[derive(Debug, Default)]
struct Shadow {
    objs: Vec<ShadowObj>,
    handles: Vec<Vec<usize>>,
    cells: Vec<Option<usize>>,
    channels: Vec<VecDeque<usize>>,
    /// Objects a weak upgrade of this round tried to bring back.
    upgraded: Vec<usize>,
    /// Objects a weak upgrade of this round found gone.
    upgrade_failed: Vec<usize>,
    /// Whether a thread ran `collect()` this round.
    collected: bool,
}

impl Shadow {
    fn roots(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.handles.iter().flatten().copied().collect();
        r.extend(self.cells.iter().flatten());
        r.extend(self.channels.iter().flatten());
        r
    }

    fn reach(&self, from: Vec<usize>) -> Vec<bool> {
        let mut seen = vec![false; self.objs.len()];
        let mut stack = from;
        while let Some(o) = stack.pop() {
            if !std::mem::replace(&mut seen[o], true) {
                stack.extend(self.objs[o].edges.iter().flatten());
            }
        }
        seen
    }

    /// At a barrier: every invariant; `garbage_before` is what was unreachable when the
    /// round began.
    fn check(&mut self, reg: &Registry, garbage_before: &[bool]) {
        assert_eq!(reg.errors.load(SeqCst), 0, "a finalizer or Drop saw damage");
        for (id, o) in self.objs.iter_mut().enumerate() {
            let d = reg.dropped[id].load(SeqCst);
            assert!(d <= 1, "object {id} dropped {d} times");
            assert!(reg.finalized[id].load(SeqCst) <= 1, "{id} finalized twice");
            o.dropped = d == 1;
        }
        let reachable = self.reach(self.roots());
        for (id, o) in self.objs.iter().enumerate() {
            assert!(
                !(reachable[id] && o.dropped),
                "reachable object {id} was dropped"
            );
        }
        for &id in &self.upgrade_failed {
            assert!(
                self.objs[id].dropped,
                "an upgrade of {id} failed, yet it lives"
            );
        }
        if self.collected {
            let upgraded = std::mem::take(&mut self.upgraded);
            let revived = self.reach(upgraded);
            for (id, &g) in garbage_before.iter().enumerate() {
                if g && !revived[id] {
                    assert!(
                        self.objs[id].dropped,
                        "object {id} was garbage before collect() and survived it"
                    );
                }
            }
        }
        self.upgraded.clear();
        self.upgrade_failed.clear();
        self.collected = false;
        for o in self.objs.iter_mut().filter(|o| o.dropped) {
            o.edges = [None, None];
        }
        let mut referenced = vec![false; self.objs.len()];
        for r in self.roots() {
            referenced[r] = true;
        }
        for o in self.objs.iter().filter(|o| !o.dropped) {
            for &e in o.edges.iter().flatten() {
                referenced[e] = true;
            }
        }
        for (id, o) in self.objs.iter().enumerate() {
            assert!(
                o.dropped || referenced[id],
                "unreferenced object {id} was not freed"
            );
        }
    }

    fn garbage(&self) -> Vec<bool> {
        let reachable = self.reach(self.roots());
        self.objs
            .iter()
            .enumerate()
            .map(|(id, o)| !o.dropped && !reachable[id])
            .collect()
    }
}

struct World {
    shadow: Mutex<Shadow>,
    cells: Vec<GcMutex<Option<Gc<Node>>>>,
    reg: Arc<Registry>,
    threads: usize,
}

struct Local {
    me: usize,
    handles: Vec<Gc<Node>>,
    weaks: Vec<(Weak<Node>, usize)>,
    senders: Vec<mpsc::Sender<Gc<Node>>>,
    inbox: mpsc::Receiver<Gc<Node>>,
}

fn idx(i: u8, n: usize) -> Option<usize> {
    (n > 0).then(|| usize::from(i) % n)
}

fn run_op(w: &World, l: &mut Local, op: Op) {
    let (me, reg) = (l.me, &w.reg);
    let n = l.handles.len();
    match op {
        Op::New { e0, e1 } => {
            let mut sh = w.shadow.lock().unwrap();
            if sh.objs.len() >= MAX_OBJECTS {
                return;
            }
            // The id is taken under the lock, the allocation (which may collect) outside.
            let id = sh.objs.len();
            let ends = [e0.and_then(|e| idx(e, n)), e1.and_then(|e| idx(e, n))];
            let edges = ends.map(|e| e.map(|h| sh.handles[me][h]));
            sh.objs.push(ShadowObj {
                edges,
                dropped: false,
            });
            // Held by this thread's handle from now on (the handle comes right below).
            sh.handles[me].push(id);
            drop(sh);
            let [r0, r1] = ends.map(|e| e.map(|h| l.handles[h].clone()));
            let g = Gc::new(Node {
                id,
                magic: MAGIC ^ id as u64,
                payload: payload_of(id),
                e0: GcMutex::new(r0),
                e1: AtomicGc::new(r1),
                reg: reg.clone(),
            });
            l.handles.push(g);
        }
        Op::Clone { h } => {
            if let Some(h) = idx(h, n) {
                let g = l.handles[h].clone();
                let id = check_live(&g, reg, "clone");
                l.handles.push(g);
                w.shadow.lock().unwrap().handles[me].push(id);
            }
        }
        Op::Drop { h } => {
            if let Some(h) = idx(h, n) {
                let g = l.handles.swap_remove(h);
                let id = check_live(&g, reg, "drop");
                drop(g);
                let mut sh = w.shadow.lock().unwrap();
                assert_eq!(sh.handles[me].swap_remove(h), id);
            }
        }
        Op::SetEdge { h, slot, to } => {
            if let Some(h) = idx(h, n) {
                let to = to.and_then(|t| idx(t, n));
                let mut sh = w.shadow.lock().unwrap();
                let from = sh.handles[me][h];
                let real = to.map(|t| l.handles[t].clone());
                if slot {
                    l.handles[h].e1.store(real);
                } else {
                    *l.handles[h].e0.lock() = real;
                }
                sh.objs[from].edges[usize::from(slot)] = to.map(|t| sh.handles[me][t]);
            }
        }
        Op::Follow { h, slot } => {
            if let Some(h) = idx(h, n) {
                let mut sh = w.shadow.lock().unwrap();
                let from = sh.handles[me][h];
                let got = if slot {
                    l.handles[h].e1.load()
                } else {
                    l.handles[h].e0.lock().clone()
                };
                let got_id = got.as_ref().map(|g| check_live(g, reg, "follow"));
                assert_eq!(
                    got_id,
                    sh.objs[from].edges[usize::from(slot)],
                    "edge of {from}"
                );
                if let (Some(g), Some(id)) = (got, got_id) {
                    l.handles.push(g);
                    sh.handles[me].push(id);
                }
            }
        }
        Op::CellSwap { c, h } => {
            let c = usize::from(c) % CELLS;
            let h = h.and_then(|h| idx(h, n));
            let mut sh = w.shadow.lock().unwrap();
            let put = h.map(|h| (l.handles.swap_remove(h), sh.handles[me].swap_remove(h)));
            let (real, id) = match put {
                Some((g, id)) => (Some(g), Some(id)),
                None => (None, None),
            };
            let old = std::mem::replace(&mut *w.cells[c].lock(), real);
            let old_id = old.as_ref().map(|g| check_live(g, reg, "cell"));
            assert_eq!(old_id, sh.cells[c], "cell {c}");
            sh.cells[c] = id;
            if let (Some(g), Some(i)) = (old, old_id) {
                l.handles.push(g);
                sh.handles[me].push(i);
            }
        }
        Op::Downgrade { h } => {
            if let Some(h) = idx(h, n) {
                let id = check_live(&l.handles[h], reg, "downgrade");
                l.weaks.push((Gc::downgrade(&l.handles[h]), id));
            }
        }
        Op::Upgrade { w: k } => {
            if let Some(k) = idx(k, l.weaks.len()) {
                let id = l.weaks[k].1;
                w.shadow.lock().unwrap().upgraded.push(id);
                match l.weaks[k].0.upgrade() {
                    Some(g) => {
                        assert_eq!(check_live(&g, reg, "upgrade"), id);
                        l.handles.push(g);
                        w.shadow.lock().unwrap().handles[me].push(id);
                    }
                    None => w.shadow.lock().unwrap().upgrade_failed.push(id),
                }
            }
        }
        Op::Send { h, to } => {
            if let Some(h) = idx(h, n) {
                let to = usize::from(to) % w.threads;
                let mut sh = w.shadow.lock().unwrap();
                let g = l.handles.swap_remove(h);
                let id = sh.handles[me].swap_remove(h);
                l.senders[to].send(g).expect("inboxes live until the end");
                sh.channels[to].push_back(id);
            }
        }
        Op::Recv => {
            let mut sh = w.shadow.lock().unwrap();
            match l.inbox.try_recv() {
                Ok(g) => {
                    let id = check_live(&g, reg, "recv");
                    assert_eq!(sh.channels[me].pop_front(), Some(id), "channel order");
                    l.handles.push(g);
                    sh.handles[me].push(id);
                }
                Err(_) => assert!(sh.channels[me].is_empty(), "a sent handle is missing"),
            }
        }
        Op::Collect => {
            // Flagged before: the coordinator looks only after the round's barrier.
            w.shadow.lock().unwrap().collected = true;
            sync::collect();
        }
        Op::CollectYoung { g } => {
            sync::collect_generation(usize::from(g)).expect("a valid generation");
        }
    }
    for g in &l.handles {
        check_live(g, reg, "after the operation");
    }
}

/// Records the first failure; later operations of everyone are skipped.
fn guarded(failure: &Mutex<Option<String>>, f: impl FnOnce()) {
    if failure.lock().unwrap().is_some() {
        return;
    }
    if let Err(e) = catch_unwind(AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        failure.lock().unwrap().get_or_insert(msg);
    }
}

fn run(program: &Program) -> Result<(), String> {
    let threads = program.threads;
    let reg = Arc::new(Registry {
        dropped: (0..MAX_OBJECTS).map(|_| AtomicUsize::new(0)).collect(),
        finalized: (0..MAX_OBJECTS).map(|_| AtomicUsize::new(0)).collect(),
        errors: AtomicUsize::new(0),
    });
    let world = World {
        shadow: Mutex::new(Shadow {
            handles: vec![Vec::new(); threads],
            cells: vec![None; CELLS],
            channels: vec![VecDeque::new(); threads],
            ..Shadow::default()
        }),
        cells: (0..CELLS).map(|_| GcMutex::new(None)).collect(),
        reg: reg.clone(),
        threads,
    };
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let barrier = Barrier::new(threads + 1);
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..threads).map(|_| mpsc::channel()).unzip();
    std::thread::scope(|s| {
        for (me, inbox) in inboxes.into_iter().enumerate() {
            let (world, failure, barrier) = (&world, &failure, &barrier);
            let senders = senders.clone();
            s.spawn(move || {
                let mut l = Local {
                    me,
                    handles: Vec::new(),
                    weaks: Vec::new(),
                    senders,
                    inbox,
                };
                for round in &program.rounds {
                    barrier.wait();
                    if let Some(op) = round[me] {
                        guarded(failure, || run_op(world, &mut l, op));
                    }
                    barrier.wait();
                }
                // The end: everything this thread holds is dropped.
                barrier.wait();
                drop(l.handles);
                drop(l.weaks);
                let pending: Vec<Gc<Node>> = l.inbox.try_iter().collect();
                drop(pending);
                barrier.wait();
            });
        }
        for _ in &program.rounds {
            let garbage_before = world.shadow.lock().unwrap().garbage();
            barrier.wait();
            barrier.wait();
            guarded(&failure, || {
                world.shadow.lock().unwrap().check(&reg, &garbage_before)
            });
        }
        barrier.wait();
        barrier.wait();
    });
    drop(senders);
    if let Some(msg) = failure.into_inner().unwrap() {
        return Err(msg);
    }
    // Everything released: one collection drops every object made, exactly once.
    for c in &world.cells {
        c.lock().take();
    }
    sync::collect();
    let made = world.shadow.lock().unwrap().objs.len();
    for id in 0..made {
        let (d, f) = (reg.dropped[id].load(SeqCst), reg.finalized[id].load(SeqCst));
        if d != 1 || f != 1 {
            return Err(format!(
                "object {id}: dropped {d} times, finalized {f} times"
            ));
        }
    }
    if reg.errors.load(SeqCst) != 0 {
        return Err("a finalizer or Drop saw damage".into());
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let program = Program::decode(data);
    if let Err(e) = run(&program) {
        panic!("graph_ops_sync: {e}\nprogram: {program:?}");
    }
});
