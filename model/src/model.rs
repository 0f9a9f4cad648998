//! The plain model: a graph with the same objects, handles and edges as the real heap,
//! where reachability is computed by a simple search over a `Vec`. It predicts every
//! observable effect of an operation: which values are dropped (by refcounting or by a
//! collection), which finalizers and weak callbacks run, whether a panic comes out, what
//! `collect` returns, and the counts and statistics of the three generations.

use crate::ops::{Kind, SLOTS};

/// A node's strong edges in the model: its `SLOTS` edge slots, then its weak slot (a
/// strong edge to a weak cell, at index [`WEAK_SLOT`]).
pub type Edges = [Option<usize>; SLOTS + 1];

/// Index of the weak slot in [`Edges`].
pub const WEAK_SLOT: usize = SLOTS;
use std::collections::VecDeque;

/// Generation a tracked object is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Generation 0, 1 or 2.
    Gen(usize),
    /// The permanent generation (`freeze`).
    Permanent,
    /// Not tracked: an untracked type, or an object whose value is gone.
    Untracked,
}

/// What a model object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// A `Node` (tracked, with edges and a finalizer of the given kind).
    Node(Kind),
    /// A `Leaf` (untracked: its type holds no `Gc`).
    Leaf,
    /// The weak cell behind a `Weak` handle.
    Cell,
}

/// One object of the model.
#[derive(Clone, Debug)]
pub struct Obj {
    /// What it is.
    pub what: What,
    /// Outgoing strong edges (model ids), nodes only.
    pub edges: Edges,
    /// Strong count: handles, edges of objects whose value is alive, the resurrection
    /// store, `garbage()`.
    pub rc: usize,
    /// The value has not been dropped.
    pub alive: bool,
    /// The memory has been released.
    pub freed: bool,
    /// The finalizer ran.
    pub finalized: bool,
    /// Where the collector keeps it.
    pub place: Place,
    /// Cells: the target, until the weak reference is cleared.
    pub target: Option<usize>,
    /// Cells: whether a callback was registered and has not run yet.
    pub callback_pending: bool,
}

/// What the model expects one operation to produce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Finalizers run (node ids).
    pub finalized: Vec<usize>,
    /// Values dropped (node and leaf ids).
    pub dropped: Vec<usize>,
    /// Weak callbacks run (cell ids).
    pub callbacks: Vec<usize>,
    /// Whether an injected panic comes out of the operation.
    pub panics: bool,
    /// Collections: (generation, collected).
    pub collections: Vec<(usize, usize)>,
}

impl Effects {
    /// Sorts the id lists, so that two `Effects` compare as multisets.
    pub fn normalized(mut self) -> Effects {
        self.finalized.sort_unstable();
        self.dropped.sort_unstable();
        self.callbacks.sort_unstable();
        self
    }
}

/// The model heap.
#[derive(Clone, Debug)]
pub struct Model {
    /// Every object ever made, indexed by model id.
    pub objs: Vec<Obj>,
    /// Strong handles held by the interpreter (model ids), in interpreter order.
    pub handles: Vec<usize>,
    /// Weak handles held by the interpreter (cell ids), in interpreter order.
    pub weaks: Vec<usize>,
    /// What finalizers stored to resurrect (model ids).
    pub saved: Vec<usize>,
    /// `gc_api::garbage()` (model ids).
    pub garbage: Vec<usize>,
    /// `get_count()`.
    pub counts: [usize; 3],
    /// `get_threshold()`.
    pub thresholds: [usize; 3],
    /// `is_enabled()`.
    pub enabled: bool,
    /// `SAVEALL` is on.
    pub save_all: bool,
    /// `get_stats()`: (collections, collected) per generation.
    pub stats: [(usize, usize); 3],
    /// Effects of the operation in progress.
    pub fx: Effects,
    /// During a collection's weak-reference pass: which objects are garbage.
    doomed: Vec<bool>,
}

impl Default for Model {
    fn default() -> Self {
        Model::new([700, 10, 10], true)
    }
}

impl Model {
    /// A model of an empty heap with these settings (counts start at 0).
    pub fn new(thresholds: [usize; 3], enabled: bool) -> Model {
        Model {
            objs: Vec::new(),
            handles: Vec::new(),
            weaks: Vec::new(),
            saved: Vec::new(),
            garbage: Vec::new(),
            counts: [0; 3],
            thresholds,
            enabled,
            save_all: false,
            stats: [(0, 0); 3],
            fx: Effects::default(),
            doomed: Vec::new(),
        }
    }

    /// Takes the effects recorded since the last call.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.fx).normalized()
    }

    fn tracked(what: What) -> bool {
        !matches!(what, What::Leaf)
    }

    /// Counts one allocation of a tracked object; returns whether an automatic
    /// collection must run now (CPython's rule, before the object exists).
    pub fn count_allocation(&mut self, what: What) -> bool {
        if !Model::tracked(what) {
            return false;
        }
        self.counts[0] += 1;
        self.counts[0] > self.thresholds[0] && self.enabled && self.thresholds[0] != 0
    }

    /// Whether generation `g` is a valid choice for an automatic collection now: its
    /// count exceeds its threshold, and no younger-than-2 older generation qualifies
    /// (generation 2 may be skipped by the 25% rule, which the model does not follow).
    pub fn plausible_automatic(&self, g: usize) -> bool {
        if g > 2 || self.counts[g] <= self.thresholds[g] {
            return false;
        }
        (g + 1..2).all(|h| self.counts[h] <= self.thresholds[h])
    }

    /// Adds an object with strong count 0 (the caller adds its handle); `edges` must
    /// already be counted (with [`Model::inc`]: the value held them before the object
    /// existed). Returns its id.
    pub fn add(&mut self, what: What, edges: Edges) -> usize {
        let target = None;
        self.objs.push(Obj {
            what,
            edges,
            rc: 0,
            alive: true,
            freed: false,
            finalized: false,
            place: if Model::tracked(what) {
                Place::Gen(0)
            } else {
                Place::Untracked
            },
            target,
            callback_pending: false,
        });
        self.objs.len() - 1
    }

    /// Records a value that was built but never became an object (its allocation
    /// panicked): its edges go, its value is dropped once.
    pub fn add_stillborn(&mut self, what: What, edges: Edges) -> usize {
        let id = self.add(what, edges);
        let o = &mut self.objs[id];
        o.alive = false;
        o.freed = true;
        o.place = Place::Untracked;
        let edges = std::mem::take(&mut o.edges);
        if !matches!(what, What::Cell) {
            self.fx.dropped.push(id);
        }
        for t in edges.into_iter().flatten() {
            self.dec(t);
        }
        id
    }

    /// One more strong reference.
    pub fn inc(&mut self, id: usize) {
        self.objs[id].rc += 1;
    }

    /// One strong reference less; the last one frees the object.
    pub fn dec(&mut self, id: usize) {
        let o = &mut self.objs[id];
        assert!(o.rc > 0, "model: strong count of {id} below zero");
        o.rc -= 1;
        if o.rc == 0 {
            self.release(id);
        }
    }

    fn untrack(&mut self, id: usize) {
        let o = &mut self.objs[id];
        if o.place != Place::Untracked {
            o.place = Place::Untracked;
            self.counts[0] = self.counts[0].saturating_sub(1);
        }
    }

    /// Refcounting frees `id`: finalizer first (once), then the weak references die,
    /// then the value is dropped (releasing its edges), then the memory goes.
    fn release(&mut self, id: usize) {
        if self.objs[id].alive {
            if let What::Node(kind) = self.objs[id].what
                && !self.objs[id].finalized
            {
                // The object is unreachable from everything, so its own edges never lead
                // back to it: a self-resurrecting finalizer finds nothing here.
                self.run_finalizer(id, kind);
            }
            if self.objs[id].rc > 0 {
                return;
            }
            self.kill(id);
        }
        let o = &mut self.objs[id];
        o.freed = true;
        if o.what == What::Cell {
            o.target = None;
            o.callback_pending = false;
            self.untrack(id);
        }
    }

    /// Clears the weak references to `id`; callbacks of live weak references run.
    fn clear_weakrefs(&mut self, id: usize) {
        for c in 0..self.objs.len() {
            let o = &mut self.objs[c];
            if o.what == What::Cell && !o.freed && o.target == Some(id) {
                o.target = None;
                // A weak reference that is itself garbage never calls back.
                if self.doomed.get(c).copied().unwrap_or(false) {
                    o.callback_pending = false;
                } else if o.callback_pending {
                    o.callback_pending = false;
                    self.fx.callbacks.push(c);
                }
            }
        }
    }

    /// Drops the value of `id` (not its memory): weak references die, it leaves the
    /// collector, its edges are released.
    fn kill(&mut self, id: usize) {
        self.clear_weakrefs(id);
        self.untrack(id);
        let o = &mut self.objs[id];
        o.alive = false;
        o.target = None;
        o.callback_pending = false;
        let edges = std::mem::take(&mut o.edges);
        let what = o.what;
        if what != What::Cell {
            self.fx.dropped.push(id);
        }
        if what == What::Node(Kind::PanicDrop) {
            self.fx.panics = true;
        }
        for t in edges.into_iter().flatten() {
            self.dec(t);
        }
    }

    /// Whether `id` can be reached from its own edges (what a self-resurrecting
    /// finalizer searches).
    fn reaches_itself(&self, id: usize) -> bool {
        let mut seen = vec![false; self.objs.len()];
        let mut queue: VecDeque<usize> = self.objs[id].edges.iter().flatten().copied().collect();
        while let Some(n) = queue.pop_front() {
            if n == id {
                return true;
            }
            if std::mem::replace(&mut seen[n], true) || !self.objs[n].alive {
                continue;
            }
            queue.extend(self.objs[n].edges.iter().flatten());
        }
        false
    }

    fn run_finalizer(&mut self, id: usize, kind: Kind) {
        self.objs[id].finalized = true;
        self.fx.finalized.push(id);
        match kind {
            Kind::ResurrectSelf => {
                if self.reaches_itself(id) {
                    self.saved.push(id);
                    self.inc(id);
                }
            }
            Kind::ResurrectEdges => {
                let edges = self.objs[id].edges;
                for t in edges[..SLOTS].iter().copied().flatten() {
                    self.saved.push(t);
                    self.inc(t);
                }
            }
            Kind::PanicFinalize => self.fx.panics = true,
            Kind::Quiet | Kind::PanicDrop | Kind::Untracked => {}
        }
    }

    /// Objects of `set` not reachable from outside it (CPython's trial deletion).
    fn unreachable_in(&self, set: &[usize]) -> Vec<usize> {
        let mut in_set = vec![false; self.objs.len()];
        for &o in set {
            in_set[o] = true;
        }
        let mut refs: Vec<usize> = self.objs.iter().map(|o| o.rc).collect();
        for &o in set {
            for &t in self.objs[o].edges.iter().flatten() {
                if in_set[t] {
                    refs[t] = refs[t].saturating_sub(1);
                }
            }
        }
        let mut reached = vec![false; self.objs.len()];
        let mut queue: VecDeque<usize> = set.iter().copied().filter(|&o| refs[o] > 0).collect();
        while let Some(o) = queue.pop_front() {
            if std::mem::replace(&mut reached[o], true) {
                continue;
            }
            for &t in self.objs[o].edges.iter().flatten() {
                if in_set[t] && !reached[t] {
                    queue.push_back(t);
                }
            }
        }
        set.iter().copied().filter(|&o| !reached[o]).collect()
    }

    /// One collection of generations `0..=g`; returns what `collect` returns.
    pub fn collect(&mut self, g: usize) -> usize {
        if g + 1 < 3 {
            self.counts[g + 1] += 1;
        }
        for c in &mut self.counts[..=g] {
            *c = 0;
        }
        let young: Vec<usize> = (0..self.objs.len())
            .filter(|&o| matches!(self.objs[o].place, Place::Gen(x) if x <= g))
            .collect();
        let old = (g + 1).min(2);
        let unreachable = self.unreachable_in(&young);
        for &o in &young {
            self.objs[o].place = Place::Gen(old);
        }
        // Weak references to the garbage die first; callbacks of live ones run.
        self.doomed = vec![false; self.objs.len()];
        for &o in &unreachable {
            self.doomed[o] = true;
        }
        for &o in &unreachable {
            self.clear_weakrefs(o);
        }
        self.doomed.clear();
        // PEP 442 finalizers, once per object, while every value is intact.
        let mut any_finalizer = false;
        for &o in &unreachable {
            if let What::Node(kind) = self.objs[o].what
                && !self.objs[o].finalized
            {
                any_finalizer = true;
                self.run_finalizer(o, kind);
            }
        }
        let garbage = if any_finalizer {
            self.unreachable_in(&unreachable)
        } else {
            unreachable
        };
        let collected = garbage.len();
        if self.save_all {
            for &o in &garbage {
                self.garbage.push(o);
                self.inc(o);
            }
        } else {
            // Hold each while the values go, as the collector does, then let go. Weak
            // references in the garbage stay garbage meanwhile: one whose target dies by
            // refcounting during the deletion (an untracked leaf, say) does not call back.
            self.doomed = vec![false; self.objs.len()];
            for &o in &garbage {
                self.doomed[o] = true;
                self.inc(o);
            }
            for &o in &garbage {
                if self.objs[o].alive {
                    self.kill(o);
                }
            }
            for &o in &garbage {
                self.dec(o);
            }
            self.doomed.clear();
        }
        self.stats[g].0 += 1;
        self.stats[g].1 += collected;
        self.fx.collections.push((g, collected));
        collected
    }

    /// `freeze()`.
    pub fn freeze(&mut self) {
        for o in &mut self.objs {
            if matches!(o.place, Place::Gen(_)) {
                o.place = Place::Permanent;
            }
        }
        self.counts[0] = 0;
    }

    /// `unfreeze()`.
    pub fn unfreeze(&mut self) {
        for o in &mut self.objs {
            if o.place == Place::Permanent {
                o.place = Place::Gen(2);
            }
        }
    }

    /// `clear_garbage()`.
    pub fn clear_garbage(&mut self) {
        for o in std::mem::take(&mut self.garbage) {
            self.dec(o);
        }
    }

    /// Drops the resurrection store.
    pub fn release_saved(&mut self) {
        let mut saved = std::mem::take(&mut self.saved);
        // In id order, as the interpreter drops them.
        saved.sort_unstable();
        for o in saved {
            self.dec(o);
        }
    }

    /// Objects in the permanent generation.
    pub fn freeze_count(&self) -> usize {
        self.objs
            .iter()
            .filter(|o| o.place == Place::Permanent)
            .count()
    }

    /// Tracked objects in generations 0..=2 (what `get_objects(None)` lists).
    pub fn tracked_count(&self) -> usize {
        self.objs
            .iter()
            .filter(|o| matches!(o.place, Place::Gen(_)))
            .count()
    }

    /// Whether a weak reference (cell id) still upgrades.
    pub fn weak_target(&self, cell: usize) -> Option<usize> {
        let t = self.objs[cell].target?;
        self.objs[t].alive.then_some(t)
    }
}
