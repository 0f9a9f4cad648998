//! Integration tests of the workspace live in `tests/tests/`, one file per topic. This
//! library holds the helpers several of them share: the heap reset every test starts with
//! ([`reset_heap`]), counters ([`Tally`], [`Drops`]), panic capture ([`panic_of`]), the
//! tracked types and graph builders more than one file uses, and a `tracing` subscriber
//! ([`Capture`]).

use gc_api::{Finalize, Gc, Trace};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`; the message of the panic it raised, if any.
pub fn panic_of<R>(f: impl FnOnce() -> R) -> Option<String> {
    catch_unwind(AssertUnwindSafe(f))
        .err()
        .map(|payload| panic_message(payload.as_ref()))
}

/// Blocks in use in the calling thread's object allocator.
pub fn blocks_in_use() -> usize {
    gc_api::malloc_stats().blocks_in_use()
}

/// Puts the calling thread's heap in a known, quiet state; returns [`blocks_in_use`]
/// then, the baseline a test comes back to once it has dropped what it made.
///
/// Afterwards:
/// - automatic collection is off (`gc_api::disable()`): a test that wants it calls
///   `gc_api::enable()` itself;
/// - the thresholds are the defaults, `[700, 10, 10]`;
/// - no debug flag is set;
/// - `gc_api::garbage()` is empty (`gc_api::clear_garbage()`);
/// - nothing is frozen: a permanent generation, if any, is moved back (`unfreeze`) so the
///   collection below sees it;
/// - a full `gc_api::collect()` has run, so no garbage cycle is pending.
///
/// Callbacks registered with `gc_api::add_callback` are left alone (a test removes its own).
/// The heap and all these settings are per thread, and every `#[test]` runs on a thread of
/// its own: a test calls this first, and again wherever it wants a new baseline.
pub fn reset_heap() -> usize {
    gc_api::disable();
    gc_api::set_threshold([700, 10, 10]);
    gc_api::set_debug(gc_api::DebugFlags::empty());
    gc_api::clear_garbage();
    if gc_api::get_freeze_count() > 0 {
        gc_api::unfreeze();
    }
    gc_api::collect();
    blocks_in_use()
}

/// Counts events (drops, finalizer calls) per object id.
#[derive(Default, Debug)]
pub struct Tally(RefCell<HashMap<usize, usize>>);

impl Tally {
    /// Counts one event for `id`.
    pub fn hit(&self, id: usize) {
        *self.0.borrow_mut().entry(id).or_default() += 1;
    }
    /// Events counted for `id`.
    pub fn get(&self, id: usize) -> usize {
        self.0.borrow().get(&id).copied().unwrap_or(0)
    }
    /// Events counted in all.
    pub fn total(&self) -> usize {
        self.0.borrow().values().sum()
    }
    /// The most events counted for one id.
    pub fn max(&self) -> usize {
        self.0.borrow().values().copied().max().unwrap_or(0)
    }
}

/// Counts how many values were dropped.
pub type Drops = Rc<Cell<usize>>;

// ---------------------------------------------------------------------------------------
// Node: one edge, counted drops
// ---------------------------------------------------------------------------------------

/// A tracked node with one edge that counts its drops in a shared [`Drops`].
#[derive(Trace, Finalize)]
pub struct Node {
    /// The edge.
    pub next: RefCell<Option<Gc<Node>>>,
    #[gc(skip)]
    /// Where its drop is counted.
    pub drops: Drops,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edge: the graph may be cyclic.
        f.write_str("Node")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// A new [`Node`] with no edge, counting into `drops`.
pub fn node(drops: &Drops) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        drops: drops.clone(),
    })
}

/// Sets the edge of `from` to `to`.
pub fn link(from: &Gc<Node>, to: &Gc<Node>) {
    *from.next.borrow_mut() = Some(to.clone());
}

/// A ring of `n` [`Node`]s; returns its first node.
pub fn ring(n: usize, drops: &Drops) -> Gc<Node> {
    let first = node(drops);
    let mut prev = first.clone();
    for _ in 1..n {
        let next = node(drops);
        link(&prev, &next);
        prev = next;
    }
    link(&prev, &first);
    first
}

/// Two [`Node`]s pointing at each other; returns both.
pub fn pair(drops: &Drops) -> (Gc<Node>, Gc<Node>) {
    let a = node(drops);
    let b = node(drops);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    (a, b)
}

// ---------------------------------------------------------------------------------------
// Values a test can check for damage: name_of, payload_of, Peer, IdNode
// ---------------------------------------------------------------------------------------

/// The payload an object with id `id` carries (checked to spot a damaged value).
pub fn payload_of(id: usize) -> Vec<u64> {
    (0..8).map(|i| (id as u64) * 1_000 + i).collect()
}

/// The name an object with id `id` carries (checked to spot a damaged value).
pub fn name_of(id: usize) -> String {
    format!("object-{id}")
}

/// What the [`Peer`]s of a test saw: their drops, and what each `Drop` found when it read
/// its `next` neighbour.
#[derive(Default, Debug)]
pub struct PeerLog {
    /// Drops per peer id.
    pub drops: Tally,
    /// Neighbours found alive with their name and payload intact.
    pub intact: Cell<usize>,
    /// Neighbours found dead (their value already dropped), reported as such.
    pub dead: Cell<usize>,
    /// Neighbours found in any other state: a damaged value, or a dropped one not
    /// reported dead. Must stay 0.
    pub corrupt: Cell<usize>,
}

/// A tracked node whose `Drop` reads its `next` neighbour (through `Gc::try_deref`) and
/// logs in its [`PeerLog`] whether that neighbour was intact, dead or corrupt.
#[derive(Trace, Finalize)]
pub struct Peer {
    /// Its id.
    pub id: usize,
    /// `name_of(id)`.
    pub name: String,
    /// `payload_of(id)`.
    pub data: Vec<u64>,
    /// The neighbour its `Drop` reads.
    pub next: RefCell<Option<Gc<Peer>>>,
    #[gc(skip)]
    /// Where its drop and what it saw are logged.
    pub log: Rc<PeerLog>,
}

impl Peer {
    /// A new peer with no neighbour.
    pub fn new(id: usize, log: &Rc<PeerLog>) -> Gc<Peer> {
        Gc::new(Peer {
            id,
            name: name_of(id),
            data: payload_of(id),
            next: RefCell::new(None),
            log: log.clone(),
        })
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edge: peers form rings.
        f.debug_struct("Peer").field("id", &self.id).finish()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.log.drops.hit(self.id);
        let next = self.next.borrow();
        if let Some(n) = next.as_ref() {
            match Gc::try_deref(n) {
                Some(v) => {
                    if !Gc::is_dead(n) && v.name == name_of(v.id) && v.data == payload_of(v.id) {
                        self.log.intact.set(self.log.intact.get() + 1);
                    } else {
                        self.log.corrupt.set(self.log.corrupt.get() + 1);
                    }
                }
                None => {
                    if Gc::is_dead(n) {
                        self.log.dead.set(self.log.dead.get() + 1);
                    } else {
                        self.log.corrupt.set(self.log.corrupt.get() + 1);
                    }
                }
            }
        }
    }
}

/// Builds a ring of `n` peers with ids `first..first + n`; returns the handles.
pub fn peer_ring(first: usize, n: usize, log: &Rc<PeerLog>) -> Vec<Gc<Peer>> {
    let nodes: Vec<Gc<Peer>> = (first..first + n).map(|id| Peer::new(id, log)).collect();
    for (i, node) in nodes.iter().enumerate() {
        *node.next.borrow_mut() = Some(nodes[(i + 1) % n].clone());
    }
    nodes
}

/// A tracked node with an id, a name and any number of edges, which counts its drops per
/// id in a shared [`Tally`].
#[derive(Trace, Finalize)]
pub struct IdNode {
    /// Its id.
    pub id: usize,
    /// `name_of(id)`.
    pub name: String,
    /// The edges.
    pub edges: RefCell<Vec<Gc<IdNode>>>,
    #[gc(skip)]
    /// Where its drop is counted.
    pub drops: Rc<Tally>,
}

impl IdNode {
    /// A new node with no edges.
    pub fn new(id: usize, drops: &Rc<Tally>) -> Gc<IdNode> {
        Gc::new(IdNode {
            id,
            name: name_of(id),
            edges: RefCell::new(Vec::new()),
            drops: drops.clone(),
        })
    }
}

impl std::fmt::Debug for IdNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edges: the graph may be cyclic.
        f.debug_struct("IdNode").field("id", &self.id).finish()
    }
}

impl Drop for IdNode {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

/// A tracked value with a text and one edge, most often to itself (a self-cycle).
#[derive(Trace, Finalize)]
pub struct Cycle {
    /// The edge.
    pub me: RefCell<Option<Gc<Cycle>>>,
    /// Any text.
    pub text: String,
}

impl std::fmt::Debug for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the edge: it is a cycle.
        f.debug_struct("Cycle").field("text", &self.text).finish()
    }
}

// ---------------------------------------------------------------------------------------
// A tracing subscriber
// ---------------------------------------------------------------------------------------

/// A `tracing` subscriber for the collector's debug output: it keeps (target, message) of
/// every event, or, made by [`Capture::panicking`], panics on every event instead.
#[derive(Clone, Default, Debug)]
pub struct Capture {
    events: Arc<Mutex<Vec<(String, String)>>>,
    panics: bool,
}

impl Capture {
    /// A subscriber that panics ("subscriber panicked on purpose") on every event and
    /// keeps nothing.
    pub fn panicking() -> Capture {
        Capture {
            panics: true,
            ..Capture::default()
        }
    }

    /// Messages of events with target "gc".
    pub fn gc_messages(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, _)| target == "gc")
            .map(|(_, m)| m.clone())
            .collect()
    }
}

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if self.panics {
            panic!("subscriber panicked on purpose");
        }
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        self.events
            .lock()
            .unwrap()
            .push((event.metadata().target().to_string(), visitor.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
