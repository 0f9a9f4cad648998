//! Heap pictures for people: the object graph as Graphviz DOT.

use crate::GcAny;
use gc_core::control::referents as raw_referents;
use gc_core::raw::object_state;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

/// The object graph reachable from `roots`, as a Graphviz `digraph`. Each node is labelled
/// with its type and id. Objects that the running collection found unreachable (when
/// called from a finalizer, a weak callback or a `Drop` during a collection) are drawn
/// red; finalized ones dashed; dead ones (value dropped) grey. Render with
/// `dot -Tsvg heap.dot > heap.svg`.
///
/// Each node's `refs=` is its strong count less the one this function holds while it
/// draws.
///
/// ```
/// use gc_api::{Gc, GcAny, debug};
///
/// let leaf = Gc::new(7u32);
/// let root = Gc::new(vec![leaf.clone(), leaf.clone()]);
/// let dot = debug::dump_dot(&[GcAny::from(root)]);
/// assert!(dot.starts_with("digraph heap {"));
/// assert!(dot.contains(&format!("{:#x}", Gc::id(&leaf))));
/// assert_eq!(dot.matches("n0 -> n1;").count(), 2, "two edges from the Vec to one leaf");
/// assert!(dot.contains("refs=3"), "the leaf: `leaf` and the Vec's two handles");
/// // std::fs::write("heap.dot", dot)?;
/// ```
pub fn dump_dot(roots: &[GcAny]) -> String {
    let mut ids: HashMap<usize, usize> = HashMap::new();
    let mut order: Vec<GcAny> = Vec::new();
    let mut queue: VecDeque<GcAny> = VecDeque::new();
    for r in roots {
        if !ids.contains_key(&r.id()) {
            ids.insert(r.id(), ids.len());
            order.push(r.clone());
            queue.push_back(r.clone());
        }
    }
    let mut edges = Vec::new();
    while let Some(obj) = queue.pop_front() {
        // SAFETY: the handle keeps `obj` live; the references come back owned.
        let targets = GcAny::from_owned_all(unsafe { raw_referents(obj.obj()) });
        for target in targets {
            if !ids.contains_key(&target.id()) {
                ids.insert(target.id(), ids.len());
                order.push(target.clone());
                queue.push_back(target.clone());
            }
            edges.push((ids[&obj.id()], ids[&target.id()]));
        }
    }
    let mut out = String::from("digraph heap {\n  node [shape=box, fontname=\"monospace\"];\n");
    for (n, obj) in order.iter().enumerate() {
        // SAFETY: the handle keeps `obj` live.
        let state = unsafe { object_state(obj.obj()) };
        let mut style = Vec::new();
        if state.unreachable {
            style.push("color=red, fontcolor=red");
        }
        if state.dead {
            style.push("color=grey, fontcolor=grey");
        }
        if state.finalized {
            style.push("style=dashed");
        }
        let extra = if style.is_empty() {
            String::new()
        } else {
            format!(", {}", style.join(", "))
        };
        let name = obj.type_name().replace('"', "\\\"");
        let _ = writeln!(
            out,
            "  n{n} [label=\"{name}\\n{:#x}\\nrefs={}\"{extra}];",
            obj.id(),
            obj.strong_count().saturating_sub(1)
        );
    }
    for (from, to) in edges {
        let _ = writeln!(out, "  n{from} -> n{to};");
    }
    out.push_str("}\n");
    out
}
