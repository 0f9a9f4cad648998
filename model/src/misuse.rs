//! API misuse: `object_at` on arbitrary integers (near live objects and anywhere),
//! invalid generations, and finalizers, `Drop` impls, weak callbacks and collection
//! callbacks that call back into the collector (collect, collect a generation, freeze,
//! look objects up) and allocate (plain objects and cycles). Nothing may crash or
//! misbehave: a collection asked for while one runs returns 0, `object_at` answers only
//! with the object at that address, every value is dropped exactly once, and once every
//! handle is gone and a full collection ran the allocator is back where it started.

use crate::interp::{Injected, install_panic_filter, panic_text};
use arbitrary::{Arbitrary, Unstructured};
use gc_api::{CallbackId, DebugFlags, Finalize, Gc, GcAny, GcError, Trace, Weak};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a hook (finalizer, `Drop`, weak callback, collection callback) does.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Nothing.
    Nothing,
    /// `collect()`.
    Collect,
    /// `collect_generation(g)`, any `g`.
    CollectGeneration(u8),
    /// Allocates `n % 8` plain nodes and drops them.
    Allocate(u8),
    /// Allocates a two-node cycle and drops it (left for a later collection).
    AllocateCycle,
    /// Allocates a node and keeps it in the store.
    AllocateAndKeep,
    /// `object_at` on an arbitrary integer.
    ObjectAt(usize),
    /// `get_objects`, `get_referrers` and `get_referents` on what it finds.
    Introspect,
    /// `freeze()` then `unfreeze()`.
    FreezeThaw,
    /// Panics (not in `Drop`, whose panics are tested by `graph_ops`).
    Panic,
}

/// One step of a misuse program.
#[derive(Arbitrary, Clone, Debug)]
pub enum MisuseOp {
    /// A node whose finalizer and `Drop` run the given hooks.
    Alloc {
        /// Finalizer hook.
        finalize: Hook,
        /// `Drop` hook (`Panic` acts as `Nothing` there).
        drop: Hook,
    },
    /// Drops a handle.
    Drop(u8),
    /// Adds an edge between the objects of two handles.
    Link(u8, u8),
    /// `object_at(id + offset)` for the id of a handle.
    ObjectNear(u8, i16),
    /// `object_at` on an arbitrary integer.
    ObjectAt(usize),
    /// `collect_generation` with any generation; 255 is `collect()`.
    Collect(u8),
    /// `get_objects(Some(g))` with any `g`, or `None`.
    GetObjects(Option<u8>),
    /// A collection callback running a hook at both phases.
    AddCallback(Hook),
    /// Removes a callback (or an id already removed).
    RemoveCallback(u8),
    /// A weak reference whose callback runs a hook.
    WeakCallback(u8, Hook),
    /// Drops a weak reference.
    DropWeak(u8),
    /// Runs a hook directly.
    Run(Hook),
    /// `set_threshold` with small values.
    Threshold(u8),
    /// SAVEALL on or off.
    SaveAll(bool),
}

#[derive(Default)]
struct Tally {
    next_id: Cell<usize>,
    drops: RefCell<HashMap<usize, usize>>,
    finals: RefCell<HashMap<usize, usize>>,
    store: RefCell<Vec<Gc<MNode>>>,
    in_collection: Cell<bool>,
    violations: RefCell<Vec<String>>,
}

thread_local! {
    static TALLY: Tally = Tally::default();
}

fn violation(msg: String) {
    TALLY.with(|t| t.violations.borrow_mut().push(msg));
}

#[derive(Trace)]
struct MNode {
    #[gc(skip)]
    id: usize,
    #[gc(skip)]
    finalize: Hook,
    #[gc(skip)]
    drop: Hook,
    next: RefCell<Vec<Gc<MNode>>>,
}

impl MNode {
    fn make(finalize: Hook, drop: Hook) -> Gc<MNode> {
        let id = TALLY.with(|t| {
            let id = t.next_id.get();
            t.next_id.set(id + 1);
            id
        });
        Gc::new(MNode {
            id,
            finalize,
            drop,
            next: RefCell::new(Vec::new()),
        })
    }
}

impl Finalize for MNode {
    fn finalize(&self) {
        TALLY.with(|t| *t.finals.borrow_mut().entry(self.id).or_default() += 1);
        run_hook(self.finalize);
    }
}

impl Drop for MNode {
    fn drop(&mut self) {
        TALLY.with(|t| *t.drops.borrow_mut().entry(self.id).or_default() += 1);
        if self.drop != Hook::Panic && !std::thread::panicking() {
            run_hook(self.drop);
        }
    }
}

fn run_hook(hook: Hook) {
    let nested = TALLY.with(|t| t.in_collection.get());
    match hook {
        Hook::Nothing => {}
        Hook::Collect => {
            let n = gc_api::collect();
            if nested && n != 0 {
                violation(format!("collect() inside a collection returned {n}"));
            }
        }
        Hook::CollectGeneration(g) => match gc_api::collect_generation(usize::from(g)) {
            Ok(n) if g < 3 && (!nested || n == 0) => {}
            Err(GcError::InvalidGeneration(x)) if g >= 3 && x == usize::from(g) => {}
            other => violation(format!(
                "collect_generation({g}) gave {other:?} (inside a collection: {nested})"
            )),
        },
        Hook::Allocate(n) => {
            for _ in 0..n % 8 {
                drop(MNode::make(Hook::Nothing, Hook::Nothing));
            }
        }
        Hook::AllocateCycle => {
            let a = MNode::make(Hook::Nothing, Hook::Nothing);
            let b = MNode::make(Hook::Nothing, Hook::Nothing);
            a.next.borrow_mut().push(b.clone());
            b.next.borrow_mut().push(a);
        }
        Hook::AllocateAndKeep => {
            let a = MNode::make(Hook::Nothing, Hook::Nothing);
            TALLY.with(|t| t.store.borrow_mut().push(a));
        }
        Hook::ObjectAt(x) => check_object_at(x),
        Hook::Introspect => {
            let objs = gc_api::get_objects(None).unwrap_or_default();
            let some: Vec<GcAny> = objs.into_iter().take(4).collect();
            for o in &some {
                let _ = (o.type_name(), o.is_tracked(), o.strong_count());
                check_object_at(o.id());
            }
            drop(gc_api::get_referrers(&some));
            drop(gc_api::get_referents(&some));
        }
        Hook::FreezeThaw => {
            gc_api::freeze();
            gc_api::unfreeze();
        }
        Hook::Panic => std::panic::panic_any(Injected(usize::MAX)),
    }
}

/// `object_at(x)` answers only with the object whose id is `x`.
fn check_object_at(x: usize) {
    if let Some(o) = gc_api::object_at(x) {
        if o.id() != x {
            violation(format!("object_at({x:#x}) gave the object {:#x}", o.id()));
        }
        let _ = (o.type_name(), o.is_tracked(), o.is_dead());
        if let Ok(n) = o.downcast::<MNode>()
            && let Some(v) = Gc::try_deref(&n)
        {
            let _ = v.next.try_borrow().map(|e| e.len());
        }
    }
}

fn guarded(f: impl FnOnce()) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => Ok(()),
        Err(p) if p.is::<Injected>() => Ok(()),
        Err(p) => Err(format!("unexpected panic: {}", panic_text(&*p))),
    }
}

/// Operations per input, at most.
const MAX_OPS: usize = 200;

/// Decodes and runs a misuse program from raw bytes; `Err` on the first broken rule.
pub fn run(data: &[u8]) -> Result<(), String> {
    install_panic_filter();
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match MisuseOp::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run_ops(&ops)
}

/// Runs a misuse program.
pub fn run_ops(ops: &[MisuseOp]) -> Result<(), String> {
    install_panic_filter();
    let thresholds = gc_api::get_threshold();
    let enabled = gc_api::is_enabled();
    let debug = gc_api::get_debug();
    gc_api::collect();
    let base_blocks = gc_api::malloc_stats().blocks_in_use();
    TALLY.with(|t| {
        t.drops.borrow_mut().clear();
        t.finals.borrow_mut().clear();
        t.violations.borrow_mut().clear();
        t.next_id.set(0);
    });
    let tracker = gc_api::add_callback(|phase, _| {
        TALLY.with(|t| t.in_collection.set(phase == gc_api::Phase::Start));
    });
    let mut handles: Vec<Gc<MNode>> = Vec::new();
    let mut weaks: Vec<Weak<MNode>> = Vec::new();
    let mut callbacks: Vec<CallbackId> = Vec::new();
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        let r = step(op, &mut handles, &mut weaks, &mut callbacks);
        let r = r.and_then(|()| match TALLY.with(|t| t.violations.borrow_mut().pop()) {
            Some(v) => Err(v),
            None => Ok(()),
        });
        if let Err(e) = r {
            result = Err(format!("op #{i} {op:?}: {e}"));
            break;
        }
    }
    // Teardown: every handle, callback and setting goes; then full collections.
    for id in callbacks {
        gc_api::remove_callback(id);
    }
    gc_api::set_debug(DebugFlags::empty());
    let mut end = guarded(move || drop((handles, weaks)));
    for _ in 0..4 {
        let store = TALLY.with(|t| std::mem::take(&mut *t.store.borrow_mut()));
        end = end.and(guarded(move || drop(store)));
        end = end.and(guarded(gc_api::clear_garbage));
        gc_api::unfreeze();
        end = end.and(guarded(|| {
            gc_api::collect();
        }));
    }
    gc_api::remove_callback(tracker);
    TALLY.with(|t| t.in_collection.set(false));
    gc_api::set_threshold(thresholds);
    if enabled {
        gc_api::enable();
    } else {
        gc_api::disable();
    }
    gc_api::set_debug(debug);
    result?;
    end?;
    if let Some(v) = TALLY.with(|t| t.violations.borrow_mut().pop()) {
        return Err(format!("teardown: {v}"));
    }
    TALLY.with(|t| {
        let made = t.next_id.get();
        let drops = t.drops.borrow();
        let finals = t.finals.borrow();
        for id in 0..made {
            let d = drops.get(&id).copied().unwrap_or(0);
            if d != 1 {
                return Err(format!("node {id} of {made} dropped {d} times"));
            }
            if finals.get(&id).copied().unwrap_or(0) > 1 {
                return Err(format!("finalizer of node {id} ran more than once"));
            }
        }
        Ok(())
    })?;
    let blocks = gc_api::malloc_stats().blocks_in_use();
    if blocks != base_blocks {
        return Err(format!(
            "{blocks} blocks in use after teardown, {base_blocks} before"
        ));
    }
    Ok(())
}

fn step(
    op: &MisuseOp,
    handles: &mut Vec<Gc<MNode>>,
    weaks: &mut Vec<Weak<MNode>>,
    callbacks: &mut Vec<CallbackId>,
) -> Result<(), String> {
    let pick = |n: u8, len: usize| (len > 0).then(|| usize::from(n) % len);
    match *op {
        MisuseOp::Alloc { finalize, drop } => {
            if handles.len() < 32 {
                let mut made = None;
                guarded(|| made = Some(MNode::make(finalize, drop)))?;
                handles.extend(made);
            }
        }
        MisuseOp::Drop(h) => {
            if let Some(i) = pick(h, handles.len()) {
                let g = handles.remove(i);
                guarded(move || drop(g))?;
            }
        }
        MisuseOp::Link(a, b) => {
            if let (Some(a), Some(b)) = (pick(a, handles.len()), pick(b, handles.len()))
                && handles[a].next.borrow().len() < 4
            {
                let target = handles[b].clone();
                handles[a].next.borrow_mut().push(target);
            }
        }
        MisuseOp::ObjectNear(h, off) => {
            if let Some(i) = pick(h, handles.len()) {
                let id = Gc::id(&handles[i]);
                let x = id.wrapping_add_signed(isize::from(off));
                check_object_at(x);
                match gc_api::object_at(id) {
                    Some(o) if o.id() == id && o.is::<MNode>() => {}
                    other => return Err(format!("object_at of a live handle gave {other:?}")),
                }
            }
        }
        MisuseOp::ObjectAt(x) => check_object_at(x),
        MisuseOp::Collect(g) => {
            if g == 255 {
                guarded(|| {
                    gc_api::collect();
                })?;
            } else {
                let mut r = Ok(0);
                guarded(|| r = gc_api::collect_generation(usize::from(g)))?;
                match r {
                    Ok(_) if g < 3 => {}
                    Err(GcError::InvalidGeneration(x)) if g >= 3 && x == usize::from(g) => {
                        if GcError::InvalidGeneration(x).to_string().is_empty() {
                            return Err("empty error text".into());
                        }
                    }
                    other => return Err(format!("collect_generation({g}) gave {other:?}")),
                }
            }
        }
        MisuseOp::GetObjects(g) => match (g, gc_api::get_objects(g.map(usize::from))) {
            (None, Ok(_)) => {}
            (Some(g), Ok(_)) if g < 3 => {}
            (Some(g), Err(GcError::InvalidGeneration(x))) if g >= 3 && x == usize::from(g) => {}
            (g, other) => return Err(format!("get_objects({g:?}) gave {other:?}")),
        },
        MisuseOp::AddCallback(hook) => {
            if callbacks.len() < 4 {
                callbacks.push(gc_api::add_callback(move |_, _| run_hook(hook)));
            }
        }
        MisuseOp::RemoveCallback(i) => {
            if let Some(i) = pick(i, callbacks.len()) {
                let id = callbacks.remove(i);
                if !gc_api::remove_callback(id) || gc_api::remove_callback(id) {
                    return Err("remove_callback answered wrongly".into());
                }
            }
        }
        MisuseOp::WeakCallback(h, hook) => {
            if let Some(i) = pick(h, handles.len())
                && weaks.len() < 16
            {
                let mut made = None;
                let target = &handles[i];
                guarded(|| made = Some(Weak::with_callback(target, move || run_hook(hook))))?;
                weaks.extend(made);
            }
        }
        MisuseOp::DropWeak(w) => {
            if let Some(i) = pick(w, weaks.len()) {
                let w = weaks.remove(i);
                guarded(move || drop(w))?;
            }
        }
        MisuseOp::Run(hook) => guarded(|| run_hook(hook))?,
        MisuseOp::Threshold(t) => gc_api::set_threshold([usize::from(t % 16), 2, 2]),
        MisuseOp::SaveAll(on) => gc_api::set_debug(if on {
            DebugFlags::SAVEALL
        } else {
            DebugFlags::empty()
        }),
    }
    Ok(())
}
