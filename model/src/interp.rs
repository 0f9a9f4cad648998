//! The interpreter: runs a [`Program`] on the real heap (through `gc_api` only) and on
//! the [`Model`] side by side, and compares them after every operation.

use crate::model::{Effects, Model, WEAK_SLOT, What};
use crate::ops::{Kind, Op, Program, SLOTS, small_thresholds};
use gc_api::{CallbackId, DebugFlags, Finalize, Gc, Phase, Trace, Weak};
use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Strong handles the interpreter keeps, at most (allocations beyond are skipped).
const MAX_HANDLES: usize = 48;
/// Weak handles the interpreter keeps, at most.
const MAX_WEAKS: usize = 24;

/// The payload of every panic the interpreter injects (finalizers and `Drop` impls of
/// the `Panic*` kinds); any other panic is a defect.
#[derive(Debug)]
pub struct Injected(pub usize);

/// What user code running inside the heap reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Finalized(usize),
    Dropped(usize),
    WeakCallback(usize),
    Start(usize),
    Stop(usize, usize),
}

#[derive(Default)]
struct Probe {
    events: RefCell<Vec<Event>>,
    /// What finalizers stored to resurrect.
    saved: RefCell<Vec<Ref>>,
    /// Broken expectations seen from inside user code.
    violations: RefCell<Vec<String>>,
}

thread_local! {
    static PROBE: Probe = Probe::default();
}

fn record(e: Event) {
    PROBE.with(|p| p.events.borrow_mut().push(e));
}

fn violation(msg: String) {
    PROBE.with(|p| p.violations.borrow_mut().push(msg));
}

/// The data a node or leaf with id `id` carries.
pub fn payload_of(id: usize) -> u64 {
    (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x00C0_FFEE
}

/// A strong edge or handle: to a node or to a leaf.
#[derive(Trace, Finalize, Clone, Debug)]
pub enum Ref {
    /// A tracked node.
    Node(Gc<Node>),
    /// An untracked leaf.
    Leaf(Gc<Leaf>),
}

impl Ref {
    /// The model id the object carries, if its value is alive.
    fn id(&self) -> Option<usize> {
        match self {
            Ref::Node(g) => Gc::try_deref(g).map(|n| n.id),
            Ref::Leaf(g) => Gc::try_deref(g).map(|l| l.id),
        }
    }

    fn strong_count(&self) -> usize {
        match self {
            Ref::Node(g) => Gc::strong_count(g),
            Ref::Leaf(g) => Gc::strong_count(g),
        }
    }

    fn is_tracked(&self) -> bool {
        match self {
            Ref::Node(g) => Gc::is_tracked(g),
            Ref::Leaf(g) => Gc::is_tracked(g),
        }
    }

    fn is_finalized(&self) -> bool {
        match self {
            Ref::Node(g) => Gc::is_finalized(g),
            Ref::Leaf(g) => Gc::is_finalized(g),
        }
    }

    /// The payload is the one its id says.
    fn intact(&self) -> bool {
        match self {
            Ref::Node(g) => Gc::try_deref(g).is_some_and(|n| n.payload == payload_of(n.id)),
            Ref::Leaf(g) => Gc::try_deref(g).is_some_and(|l| l.payload == payload_of(l.id)),
        }
    }
}

/// A tracked object with edge slots; its finalizer and `Drop` do what its kind says.
#[derive(Trace)]
pub struct Node {
    #[gc(skip)]
    id: usize,
    #[gc(skip)]
    kind: Kind,
    #[gc(skip)]
    payload: u64,
    edges: RefCell<[Option<Ref>; SLOTS]>,
    weak: RefCell<Option<WeakRef>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edges: the graph may be cyclic.
        write!(f, "Node({}, {:?})", self.id, self.kind)
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        record(Event::Finalized(self.id));
        if self.payload != payload_of(self.id) {
            violation(format!("finalizer of {} sees a corrupt payload", self.id));
        }
        let edges = match self.edges.try_borrow() {
            Ok(e) => e.clone(),
            Err(_) => {
                violation(format!("finalizer of {}: edges are borrowed", self.id));
                return;
            }
        };
        for e in edges.iter().flatten() {
            if !e.intact() {
                violation(format!(
                    "finalizer of {} sees a dropped or corrupt neighbour",
                    self.id
                ));
            }
        }
        match self.kind {
            Kind::ResurrectSelf => {
                if let Some(me) = find_path_back(self.id, &edges) {
                    PROBE.with(|p| p.saved.borrow_mut().push(Ref::Node(me)));
                }
            }
            Kind::ResurrectEdges => {
                PROBE.with(|p| p.saved.borrow_mut().extend(edges.iter().flatten().cloned()));
            }
            Kind::PanicFinalize => std::panic::panic_any(Injected(self.id)),
            Kind::Quiet | Kind::PanicDrop | Kind::Untracked => {}
        }
    }
}

/// Searches the graph from `edges` for the node `id`; a handle to it if found.
fn find_path_back(id: usize, edges: &[Option<Ref>]) -> Option<Gc<Node>> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: VecDeque<Gc<Node>> = edges
        .iter()
        .flatten()
        .filter_map(|r| match r {
            Ref::Node(g) => Some(g.clone()),
            Ref::Leaf(_) => None,
        })
        .collect();
    while let Some(g) = queue.pop_front() {
        let Some(n) = Gc::try_deref(&g) else {
            continue;
        };
        if n.id == id {
            return Some(g);
        }
        if !seen.insert(n.id) {
            continue;
        }
        if let Ok(e) = n.edges.try_borrow() {
            for r in e.iter().flatten() {
                if let Ref::Node(t) = r {
                    queue.push_back(t.clone());
                }
            }
        }
    }
    None
}

impl Drop for Node {
    fn drop(&mut self) {
        record(Event::Dropped(self.id));
        if self.kind == Kind::PanicDrop && !std::thread::panicking() {
            std::panic::panic_any(Injected(self.id));
        }
    }
}

/// An untracked object: its type can hold no `Gc`.
#[derive(Trace, Finalize, Debug)]
pub struct Leaf {
    id: usize,
    payload: u64,
}

impl Drop for Leaf {
    fn drop(&mut self) {
        record(Event::Dropped(self.id));
    }
}

/// A weak handle to a node or a leaf.
#[derive(Trace, Finalize, Clone, Debug)]
pub enum WeakRef {
    /// To a node.
    Node(Weak<Node>),
    /// To a leaf.
    Leaf(Weak<Leaf>),
}

impl WeakRef {
    fn upgrade(&self) -> Option<Ref> {
        match self {
            WeakRef::Node(w) => w.upgrade().map(Ref::Node),
            WeakRef::Leaf(w) => w.upgrade().map(Ref::Leaf),
        }
    }
}

/// Installs (once per process) a panic hook that keeps injected panics quiet and hands
/// every other panic to the hook that was there before (libFuzzer's aborts).
pub fn install_panic_filter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Injected>() {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload that is not an injected one.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Result of one operation on the real heap: `Ok(panicked_with_injected)`.
fn guarded(f: impl FnOnce()) -> Result<bool, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => Ok(false),
        Err(p) if p.is::<Injected>() => Ok(true),
        Err(p) => Err(format!("unexpected panic: {}", panic_text(&*p))),
    }
}

/// Numbers of what one run did, for reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// Operations run (including teardown).
    pub ops: usize,
    /// Collections seen (explicit and automatic).
    pub collections: usize,
    /// Objects made.
    pub objects: usize,
    /// Injected panics that came out of operations.
    pub panics: usize,
}

/// Runs a program on the real heap and the model; `Err` describes the first
/// disagreement. Leaves the thread's heap as it found it (settings, callbacks, no
/// objects of its own), and checks that every value it made was dropped exactly once.
pub fn run(program: &Program) -> Result<RunStats, String> {
    install_panic_filter();
    let mut r = Runner::start(program)?;
    let mut result = Ok(());
    for (i, op) in program.ops.iter().enumerate() {
        if let Err(e) = r.step(op) {
            result = Err(format!("op #{i} {op:?}: {e}"));
            break;
        }
    }
    let end = r.finish();
    result?;
    end
}

struct Runner {
    model: Model,
    handles: Vec<Ref>,
    weaks: Vec<WeakRef>,
    callback: CallbackId,
    before: (Vec<usize>, bool, DebugFlags),
    base_stats: [gc_api::GenerationStats; 3],
    base_blocks: usize,
    base_objects: usize,
    base_frozen: usize,
    drops: HashMap<usize, usize>,
    finals: HashMap<usize, usize>,
    stats: RunStats,
}

impl Runner {
    fn start(program: &Program) -> Result<Runner, String> {
        let before = (
            gc_api::get_threshold().to_vec(),
            gc_api::is_enabled(),
            gc_api::get_debug(),
        );
        gc_api::disable();
        gc_api::set_debug(DebugFlags::empty());
        PROBE.with(|p| {
            p.events.borrow_mut().clear();
            p.violations.borrow_mut().clear();
        });
        gc_api::collect();
        if gc_api::get_count() != [0, 0, 0] {
            return Err(format!(
                "counts after a full collection: {:?}",
                gc_api::get_count()
            ));
        }
        let callback = gc_api::add_callback(|phase, info| match phase {
            Phase::Start => record(Event::Start(info.generation)),
            Phase::Stop => record(Event::Stop(info.generation, info.collected)),
        });
        gc_api::set_threshold(program.thresholds);
        if program.enabled {
            gc_api::enable();
        }
        Ok(Runner {
            model: Model::new(program.thresholds, program.enabled),
            handles: Vec::new(),
            weaks: Vec::new(),
            callback,
            before,
            base_stats: gc_api::get_stats(),
            base_blocks: gc_api::malloc_stats().blocks_in_use(),
            base_objects: gc_api::get_objects(None).map_err(|e| e.to_string())?.len(),
            base_frozen: gc_api::get_freeze_count(),
            drops: HashMap::new(),
            finals: HashMap::new(),
            stats: RunStats::default(),
        })
    }

    fn pick(n: u8, len: usize) -> Option<usize> {
        (len > 0).then(|| usize::from(n) % len)
    }

    /// Applies the automatic collection seen in `events` (if the model calls for one).
    fn replay_automatic(&mut self, due: bool, events: &[Event]) -> Result<(), String> {
        let started: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                Event::Start(g) => Some(*g),
                _ => None,
            })
            .collect();
        match (due, started.first()) {
            (false, None) => Ok(()),
            (true, Some(&g)) => {
                if !self.model.plausible_automatic(g) {
                    return Err(format!(
                        "automatic collection of generation {g} with counts {:?} and thresholds {:?}",
                        self.model.counts, self.model.thresholds
                    ));
                }
                self.model.collect(g);
                Ok(())
            }
            (due, _) => Err(format!(
                "automatic collection due: {due}, collections seen: {started:?} (counts {:?}, thresholds {:?}, enabled {})",
                self.model.counts, self.model.thresholds, self.model.enabled
            )),
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        self.stats.ops += 1;
        let mut real_collected: Option<usize> = None;
        let panicked = match *op {
            Op::Alloc { kind, edges } => {
                if self.handles.len() >= MAX_HANDLES {
                    return Ok(());
                }
                let id = self.model.objs.len();
                let what = if kind == Kind::Untracked {
                    What::Leaf
                } else {
                    What::Node(kind)
                };
                let mut real_edges: [Option<Ref>; SLOTS] = Default::default();
                let mut model_edges = [None; SLOTS + 1];
                if what != What::Leaf {
                    for (slot, e) in edges.iter().enumerate() {
                        if let Some(i) = e.and_then(|e| Runner::pick(e, self.handles.len())) {
                            real_edges[slot] = Some(self.handles[i].clone());
                            model_edges[slot] = Some(self.model.handles[i]);
                            self.model.inc(self.model.handles[i]);
                        }
                    }
                }
                let due = self.model.count_allocation(what);
                let mut made = None;
                let panicked = guarded(|| {
                    made = Some(match what {
                        What::Leaf => Ref::Leaf(Gc::new(Leaf {
                            id,
                            payload: payload_of(id),
                        })),
                        _ => Ref::Node(Gc::new(Node {
                            id,
                            kind,
                            payload: payload_of(id),
                            edges: RefCell::new(real_edges),
                            weak: RefCell::new(None),
                        })),
                    })
                })?;
                let events = self.peek_events();
                self.replay_automatic(due, &events)?;
                self.stats.objects += 1;
                match made {
                    Some(r) => {
                        let got = self.model.add(what, model_edges);
                        debug_assert_eq!(got, id);
                        self.model.inc(id);
                        self.model.handles.push(id);
                        self.handles.push(r);
                    }
                    None => {
                        self.model.add_stillborn(what, model_edges);
                    }
                }
                panicked
            }
            Op::Clone { h } => {
                let Some(i) = Runner::pick(h, self.handles.len()) else {
                    return Ok(());
                };
                if self.handles.len() >= MAX_HANDLES {
                    return Ok(());
                }
                let id = self.model.handles[i];
                self.model.inc(id);
                self.model.handles.push(id);
                self.handles.push(self.handles[i].clone());
                false
            }
            Op::Drop { h } => {
                let Some(i) = Runner::pick(h, self.handles.len()) else {
                    return Ok(());
                };
                let id = self.model.handles.remove(i);
                self.model.dec(id);
                let r = self.handles.remove(i);
                guarded(move || drop(r))?
            }
            Op::SetEdge { h, slot, target } => {
                let (Some(i), Some(t)) = (
                    Runner::pick(h, self.handles.len()),
                    Runner::pick(target, self.handles.len()),
                ) else {
                    return Ok(());
                };
                let Ref::Node(node) = &self.handles[i] else {
                    return Ok(());
                };
                let slot = usize::from(slot) % SLOTS;
                let (nid, tid) = (self.model.handles[i], self.model.handles[t]);
                self.model.inc(tid);
                let old = self.model.objs[nid].edges[slot].replace(tid);
                if let Some(old) = old {
                    self.model.dec(old);
                }
                let new = self.handles[t].clone();
                let node = node.clone();
                guarded(move || {
                    let old = node.edges.borrow_mut()[slot].replace(new);
                    drop(old);
                })?
            }
            Op::ClearEdge { h, slot } => {
                let Some(i) = Runner::pick(h, self.handles.len()) else {
                    return Ok(());
                };
                let Ref::Node(node) = &self.handles[i] else {
                    return Ok(());
                };
                let slot = usize::from(slot) % SLOTS;
                let nid = self.model.handles[i];
                if let Some(old) = self.model.objs[nid].edges[slot].take() {
                    self.model.dec(old);
                }
                let node = node.clone();
                guarded(move || {
                    let old = node.edges.borrow_mut()[slot].take();
                    drop(old);
                })?
            }
            Op::Downgrade { h, callback } => {
                let Some(i) = Runner::pick(h, self.handles.len()) else {
                    return Ok(());
                };
                if self.weaks.len() >= MAX_WEAKS {
                    return Ok(());
                }
                let target = self.model.handles[i];
                let cell = self.model.objs.len();
                let due = self.model.count_allocation(What::Cell);
                let r = &self.handles[i];
                let mut made = None;
                let panicked = guarded(|| {
                    let on_death = move || record(Event::WeakCallback(cell));
                    made = Some(match (r, callback) {
                        (Ref::Node(g), false) => WeakRef::Node(Gc::downgrade(g)),
                        (Ref::Node(g), true) => WeakRef::Node(Weak::with_callback(g, on_death)),
                        (Ref::Leaf(g), false) => WeakRef::Leaf(Gc::downgrade(g)),
                        (Ref::Leaf(g), true) => WeakRef::Leaf(Weak::with_callback(g, on_death)),
                    })
                })?;
                let events = self.peek_events();
                self.replay_automatic(due, &events)?;
                match made {
                    Some(w) => {
                        let got = self.model.add(What::Cell, [None; SLOTS + 1]);
                        debug_assert_eq!(got, cell);
                        self.model.objs[cell].target = Some(target);
                        self.model.objs[cell].callback_pending = callback;
                        self.model.inc(cell);
                        self.model.weaks.push(cell);
                        self.weaks.push(w);
                    }
                    None => {
                        self.model.add_stillborn(What::Cell, [None; SLOTS + 1]);
                    }
                }
                panicked
            }
            Op::CloneWeak { w } => {
                let Some(i) = Runner::pick(w, self.weaks.len()) else {
                    return Ok(());
                };
                if self.weaks.len() >= MAX_WEAKS {
                    return Ok(());
                }
                let cell = self.model.weaks[i];
                self.model.inc(cell);
                self.model.weaks.push(cell);
                self.weaks.push(self.weaks[i].clone());
                false
            }
            Op::StoreWeak { h, w } => {
                let (Some(i), Some(j)) = (
                    Runner::pick(h, self.handles.len()),
                    Runner::pick(w, self.weaks.len()),
                ) else {
                    return Ok(());
                };
                let Ref::Node(node) = &self.handles[i] else {
                    return Ok(());
                };
                let (nid, cell) = (self.model.handles[i], self.model.weaks[j]);
                self.model.inc(cell);
                if let Some(old) = self.model.objs[nid].edges[WEAK_SLOT].replace(cell) {
                    self.model.dec(old);
                }
                let new = self.weaks[j].clone();
                let node = node.clone();
                guarded(move || {
                    let old = node.weak.borrow_mut().replace(new);
                    drop(old);
                })?
            }
            Op::ClearWeak { h } => {
                let Some(i) = Runner::pick(h, self.handles.len()) else {
                    return Ok(());
                };
                let Ref::Node(node) = &self.handles[i] else {
                    return Ok(());
                };
                let nid = self.model.handles[i];
                if let Some(old) = self.model.objs[nid].edges[WEAK_SLOT].take() {
                    self.model.dec(old);
                }
                let node = node.clone();
                guarded(move || {
                    let old = node.weak.borrow_mut().take();
                    drop(old);
                })?
            }
            Op::DropWeak { w } => {
                let Some(i) = Runner::pick(w, self.weaks.len()) else {
                    return Ok(());
                };
                let cell = self.model.weaks.remove(i);
                self.model.dec(cell);
                let w = self.weaks.remove(i);
                guarded(move || drop(w))?
            }
            Op::Upgrade { w } => {
                let Some(i) = Runner::pick(w, self.weaks.len()) else {
                    return Ok(());
                };
                let expected = self.model.weak_target(self.model.weaks[i]);
                let got = self.weaks[i].upgrade();
                match (expected, got) {
                    (None, None) => {}
                    (Some(t), Some(r)) => {
                        if r.id() != Some(t) {
                            return Err(format!("upgrade gave {:?}, model says {t}", r.id()));
                        }
                        if self.handles.len() < MAX_HANDLES {
                            self.model.inc(t);
                            self.model.handles.push(t);
                            self.handles.push(r);
                        }
                    }
                    (e, g) => {
                        return Err(format!(
                            "upgrade gave {:?}, model says {e:?}",
                            g.map(|r| r.id())
                        ));
                    }
                }
                false
            }
            Op::Collect { generation } => {
                let g = usize::from(generation);
                if g == 255 {
                    let mut n = 0;
                    let p = guarded(|| n = gc_api::collect())?;
                    real_collected = (!p).then_some(n);
                    self.model.collect(2);
                    p
                } else if g >= 3 {
                    match gc_api::collect_generation(g) {
                        Err(gc_api::GcError::InvalidGeneration(x)) if x == g => false,
                        other => {
                            return Err(format!("collect_generation({g}) gave {other:?}"));
                        }
                    }
                } else {
                    let mut n = Ok(0);
                    let p = guarded(|| n = gc_api::collect_generation(g))?;
                    if !p {
                        real_collected = Some(n.map_err(|e| e.to_string())?);
                    }
                    self.model.collect(g);
                    p
                }
            }
            Op::SetThreshold { t } => {
                let t = small_thresholds(t);
                gc_api::set_threshold(t);
                self.model.thresholds = t;
                false
            }
            Op::Enable => {
                gc_api::enable();
                self.model.enabled = true;
                false
            }
            Op::Disable => {
                gc_api::disable();
                self.model.enabled = false;
                false
            }
            Op::Freeze => {
                gc_api::freeze();
                self.model.freeze();
                false
            }
            Op::Unfreeze => {
                gc_api::unfreeze();
                self.model.unfreeze();
                false
            }
            Op::SaveAll { on } => {
                gc_api::set_debug(if on {
                    DebugFlags::SAVEALL
                } else {
                    DebugFlags::empty()
                });
                self.model.save_all = on;
                false
            }
            Op::ClearGarbage => {
                self.model.clear_garbage();
                guarded(gc_api::clear_garbage)?
            }
            Op::ReleaseSaved => {
                self.model.release_saved();
                let mut saved = PROBE.with(|p| std::mem::take(&mut *p.saved.borrow_mut()));
                // The model releases in id order too: finalizers fill the store in an
                // order the model does not predict, and the release order is observable
                // (which object dies while a weak cell is still alive).
                saved.sort_by_key(Ref::id);
                guarded(move || drop(saved))?
            }
        };
        let expected = self.model.take_effects();
        if let (Some(n), Some(&(_, m))) = (real_collected, expected.collections.last())
            && n != m
        {
            return Err(format!("collect returned {n}, model says {m}"));
        }
        self.compare(expected, panicked)?;
        self.check_heap()
    }

    fn peek_events(&self) -> Vec<Event> {
        PROBE.with(|p| p.events.borrow().clone())
    }

    /// Compares what user code reported during the operation with the model's effects.
    fn compare(&mut self, expected: Effects, panicked: bool) -> Result<(), String> {
        let events = PROBE.with(|p| std::mem::take(&mut *p.events.borrow_mut()));
        if let Some(v) = PROBE.with(|p| p.violations.borrow_mut().drain(..).next()) {
            return Err(v);
        }
        let mut seen = Effects {
            panics: panicked,
            ..Effects::default()
        };
        let mut open = None;
        for e in &events {
            match *e {
                Event::Finalized(id) => {
                    seen.finalized.push(id);
                    *self.finals.entry(id).or_default() += 1;
                    if self.finals[&id] > 1 {
                        return Err(format!("finalizer of {id} ran twice"));
                    }
                }
                Event::Dropped(id) => {
                    seen.dropped.push(id);
                    *self.drops.entry(id).or_default() += 1;
                    if self.drops[&id] > 1 {
                        return Err(format!("value of {id} dropped twice"));
                    }
                }
                Event::WeakCallback(c) => seen.callbacks.push(c),
                Event::Start(g) => {
                    if open.replace(g).is_some() {
                        return Err("a collection started inside another".into());
                    }
                }
                Event::Stop(g, n) => {
                    if open.take() != Some(g) {
                        return Err(format!("collection of {g} stopped without starting"));
                    }
                    seen.collections.push((g, n));
                }
            }
        }
        self.stats.collections += seen.collections.len();
        self.stats.panics += usize::from(panicked);
        let seen = seen.normalized();
        if seen != expected {
            return Err(format!(
                "the heap did {seen:?}\nthe model expected {expected:?}"
            ));
        }
        Ok(())
    }

    /// Compares the whole visible state of the heap with the model.
    fn check_heap(&self) -> Result<(), String> {
        let m = &self.model;
        let counts = gc_api::get_count();
        if counts != m.counts {
            return Err(format!("get_count {counts:?}, model {:?}", m.counts));
        }
        let stats = gc_api::get_stats();
        for (g, (got, base)) in stats.iter().zip(&self.base_stats).enumerate() {
            let want = (
                base.collections + m.stats[g].0,
                base.collected + m.stats[g].1,
            );
            if (got.collections, got.collected) != want || got.uncollectable != 0 {
                return Err(format!("get_stats[{g}] {got:?}, model {want:?}"));
            }
        }
        if gc_api::get_threshold() != m.thresholds || gc_api::is_enabled() != m.enabled {
            return Err("thresholds or enabled flag changed".into());
        }
        let frozen = gc_api::get_freeze_count();
        if frozen != self.base_frozen + m.freeze_count() {
            return Err(format!("freeze count {frozen}, model {}", m.freeze_count()));
        }
        // `garbage()` holds weak cells as well as nodes: compare the totals, and the
        // nodes by id.
        let all_garbage = gc_api::garbage();
        let total_garbage = all_garbage.len();
        let mut garbage: Vec<usize> = all_garbage
            .into_iter()
            .filter_map(|g| g.downcast::<Node>().ok())
            .filter_map(|g| Gc::try_deref(&g).map(|n| n.id))
            .collect();
        let mut model_garbage: Vec<usize> = m
            .garbage
            .iter()
            .copied()
            .filter(|&o| matches!(m.objs[o].what, What::Node(_)) && m.objs[o].alive)
            .collect();
        garbage.sort_unstable();
        model_garbage.sort_unstable();
        if total_garbage != m.garbage.len() || garbage != model_garbage {
            return Err(format!(
                "garbage: {total_garbage} objects, nodes {garbage:?}; model: {} objects, \
                 nodes {model_garbage:?}",
                m.garbage.len()
            ));
        }
        let objects = gc_api::get_objects(None).map_err(|e| e.to_string())?.len();
        if objects != self.base_objects + m.tracked_count() {
            return Err(format!(
                "get_objects: {objects}, model {}",
                m.tracked_count()
            ));
        }
        let live_blocks = m.objs.iter().filter(|o| !o.freed).count();
        let blocks = gc_api::malloc_stats().blocks_in_use();
        if blocks != self.base_blocks + live_blocks {
            return Err(format!(
                "blocks in use {blocks}, expected {} + {live_blocks}",
                self.base_blocks
            ));
        }
        // Every handle and everything reachable from handles and the store: alive,
        // intact, with the model's edges and strong count.
        let saved: Vec<Ref> = PROBE.with(|p| p.saved.borrow().clone());
        let mut saved_ids: Vec<usize> = saved.iter().filter_map(Ref::id).collect();
        let mut model_saved = m.saved.clone();
        saved_ids.sort_unstable();
        model_saved.sort_unstable();
        if saved_ids != model_saved {
            return Err(format!("store {saved_ids:?}, model {model_saved:?}"));
        }
        for (i, r) in self.handles.iter().enumerate() {
            if r.id() != Some(m.handles[i]) {
                return Err(format!(
                    "handle {i} is {:?}, model {}",
                    r.id(),
                    m.handles[i]
                ));
            }
        }
        let mut queue: VecDeque<Ref> = self.handles.iter().chain(&saved).cloned().collect();
        let mut seen: Vec<Option<Ref>> = vec![None; m.objs.len()];
        while let Some(r) = queue.pop_front() {
            let Some(id) = r.id() else {
                return Err("a reachable object is dead".into());
            };
            if seen[id].is_some() {
                continue;
            }
            let o = &m.objs[id];
            if !o.alive || !r.intact() {
                return Err(format!("reachable object {id} is not intact"));
            }
            if r.is_tracked() != (o.what != What::Leaf) || r.is_finalized() != o.finalized {
                return Err(format!("tracked/finalized flags of {id} disagree"));
            }
            if let Ref::Node(g) = &r {
                let edges = g.edges.borrow().clone();
                for (slot, e) in edges.iter().enumerate() {
                    let got = e.as_ref().and_then(Ref::id);
                    if got != o.edges[slot] || e.is_some() != got.is_some() {
                        return Err(format!(
                            "edge {slot} of {id}: {got:?}, model {:?}",
                            o.edges[slot]
                        ));
                    }
                }
                queue.extend(edges.into_iter().flatten());
                let weak = g.weak.borrow().clone();
                let cell = o.edges[WEAK_SLOT];
                let got = weak.as_ref().and_then(|w| w.upgrade()).and_then(|r| r.id());
                if weak.is_some() != cell.is_some() || got != cell.and_then(|c| m.weak_target(c)) {
                    return Err(format!(
                        "weak slot of {id}: upgrades to {got:?}, model cell {cell:?}"
                    ));
                }
            }
            seen[id] = Some(r);
        }
        // Now each visited object has exactly one extra handle in `seen`, plus one per
        // entry of the local copy of the store.
        for (id, r) in seen.iter().enumerate() {
            let Some(r) = r else { continue };
            let extra = saved.iter().filter(|s| s.id() == Some(id)).count();
            let rc = r.strong_count() - 1 - extra;
            if rc != m.objs[id].rc {
                return Err(format!(
                    "strong count of {id}: {rc}, model {}",
                    m.objs[id].rc
                ));
            }
        }
        for (i, w) in self.weaks.iter().enumerate() {
            let got = w.upgrade().and_then(|r| r.id());
            let want = m.weak_target(m.weaks[i]);
            if got != want {
                return Err(format!("weak {i} upgrades to {got:?}, model {want:?}"));
            }
        }
        Ok(())
    }

    /// Lets go of everything, collects, checks that every value went exactly once and
    /// that the allocator is back where it started, and restores the settings.
    fn finish(mut self) -> Result<RunStats, String> {
        let mut result = self.teardown();
        gc_api::remove_callback(self.callback);
        // Whatever happened above, leave nothing behind for the next input.
        self.handles.clear();
        self.weaks.clear();
        // Finalizers may resurrect again on each round (a node freed by refcounting when
        // the store is released stores its neighbours): repeat until nothing changes.
        let mut last = usize::MAX;
        for _ in 0..1000 {
            let saved = PROBE.with(|p| std::mem::take(&mut *p.saved.borrow_mut()));
            let _ = guarded(move || drop(saved));
            let _ = guarded(gc_api::clear_garbage);
            gc_api::set_debug(DebugFlags::empty());
            gc_api::unfreeze();
            let _ = guarded(|| {
                gc_api::collect();
            });
            let blocks = gc_api::malloc_stats().blocks_in_use();
            let store_empty = PROBE.with(|p| p.saved.borrow().is_empty());
            if blocks == last && store_empty && gc_api::garbage().is_empty() {
                break;
            }
            last = blocks;
        }
        PROBE.with(|p| {
            p.events.borrow_mut().clear();
            p.violations.borrow_mut().clear();
        });
        let (thresholds, enabled, debug) = &self.before;
        gc_api::set_threshold([thresholds[0], thresholds[1], thresholds[2]]);
        if *enabled {
            gc_api::enable();
        } else {
            gc_api::disable();
        }
        gc_api::set_debug(*debug);
        if result.is_ok() {
            let blocks = gc_api::malloc_stats().blocks_in_use();
            if blocks != self.base_blocks {
                result = Err(format!(
                    "after teardown: {blocks} blocks in use, {} at the start",
                    self.base_blocks
                ));
            }
        }
        result.map(|()| self.stats)
    }

    fn teardown(&mut self) -> Result<(), String> {
        let ctx = |what: &str, e: String| format!("teardown ({what}): {e}");
        self.step(&Op::SaveAll { on: false })
            .map_err(|e| ctx("saveall", e))?;
        while !self.handles.is_empty() {
            self.step(&Op::Drop { h: 0 }).map_err(|e| ctx("drop", e))?;
        }
        while !self.weaks.is_empty() {
            self.step(&Op::DropWeak { w: 0 })
                .map_err(|e| ctx("drop weak", e))?;
        }
        // Each round may resurrect more (finalizers run when the store is released), but
        // each finalizer runs once, so rounds are bounded by the objects there are.
        let rounds = self.model.objs.len() + 2;
        for _ in 0..rounds {
            if self.model.objs.iter().all(|o| o.freed) {
                break;
            }
            self.step(&Op::ReleaseSaved)
                .map_err(|e| ctx("release", e))?;
            self.step(&Op::ClearGarbage)
                .map_err(|e| ctx("clear garbage", e))?;
            self.step(&Op::Unfreeze).map_err(|e| ctx("unfreeze", e))?;
            self.step(&Op::Collect { generation: 255 })
                .map_err(|e| ctx("collect", e))?;
        }
        if let Some(id) = self.model.objs.iter().position(|o| !o.freed) {
            return Err(format!(
                "model object {id} survives teardown: {:?}",
                self.model.objs[id]
            ));
        }
        for (id, o) in self.model.objs.iter().enumerate() {
            let drops = self.drops.get(&id).copied().unwrap_or(0);
            if o.what != What::Cell && drops != 1 {
                return Err(format!("value of {id} dropped {drops} times"));
            }
            if self.finals.get(&id).copied().unwrap_or(0) > 1 {
                return Err(format!("finalizer of {id} ran more than once"));
            }
        }
        Ok(())
    }
}
