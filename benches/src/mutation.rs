//! `gc-stress graph`: seeded random mutation of an object graph (nodes and edges added
//! and removed, roots taken and dropped) with automatic collection on, checked against a
//! shadow graph of plain ids.
//!
//! Every `check_every` steps a full collection runs, then: every node the shadow graph
//! reaches from the roots is alive and has exactly the shadow's edges, and every node it
//! does not reach has been dropped (nothing unreachable survives a full collection).

// Debug output of a cyclic graph would never end.
#![allow(missing_debug_implementations)]

use std::cell::RefCell;
use std::time::Instant;

use gc_api::{Finalize, Gc, Trace};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

thread_local! {
    /// `ALIVE[id]`: node `id` has not been dropped.
    static ALIVE: RefCell<Vec<bool>> = const { RefCell::new(Vec::new()) };
}

/// A node of the mutated graph.
#[derive(Trace, Finalize)]
pub struct GraphNode {
    #[gc(skip)]
    id: u32,
    edges: RefCell<Vec<Gc<GraphNode>>>,
}

impl Drop for GraphNode {
    fn drop(&mut self) {
        ALIVE.with(|a| a.borrow_mut()[self.id as usize] = false);
    }
}

/// Parameters of the `graph` workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphConfig {
    /// Mutation steps.
    pub steps: usize,
    /// Roots held at most.
    pub max_roots: usize,
    /// A full collection and a check every this many steps.
    pub check_every: usize,
    /// Seed of the mutation sequence.
    pub seed: u64,
}

/// What the `graph` workload did and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphReport {
    /// The parameters.
    pub config: GraphConfig,
    /// Nodes created.
    pub nodes_created: u64,
    /// Nodes dropped by the end (after the last full collection, with every root gone).
    pub nodes_freed: u64,
    /// Checks run.
    pub checks: u64,
    /// Reachable nodes examined over all checks.
    pub nodes_checked: u64,
    /// Most nodes alive at a check.
    pub max_live: u64,
    /// Collections per generation during the run.
    pub collections: [u64; 3],
    /// Objects the collections freed.
    pub collected: u64,
    /// Wall time, checks included.
    pub total_ms: f64,
    /// What went wrong (empty when the heap agreed with the shadow graph every time).
    pub violations: Vec<String>,
}

struct Mutator {
    rng: SmallRng,
    roots: Vec<Gc<GraphNode>>,
    /// Shadow: edges by id, and the root ids in the order of `roots`.
    edges: Vec<Vec<u32>>,
    root_ids: Vec<u32>,
}

impl Mutator {
    fn new_node(&mut self, edges: Vec<Gc<GraphNode>>) -> Gc<GraphNode> {
        let id = self.edges.len() as u32;
        self.edges.push(edges.iter().map(|e| e.id).collect());
        ALIVE.with(|a| a.borrow_mut().push(true));
        Gc::new(GraphNode {
            id,
            edges: RefCell::new(edges),
        })
    }

    /// A node reached by a short random walk from a random root.
    fn pick(&mut self) -> Option<Gc<GraphNode>> {
        if self.roots.is_empty() {
            return None;
        }
        let mut node = self.roots[self.rng.gen_range(0..self.roots.len())].clone();
        for _ in 0..self.rng.gen_range(0..5) {
            let next = {
                let edges = node.edges.borrow();
                if edges.is_empty() {
                    break;
                }
                edges[self.rng.gen_range(0..edges.len())].clone()
            };
            node = next;
        }
        Some(node)
    }

    fn drop_root(&mut self) {
        if !self.roots.is_empty() {
            let i = self.rng.gen_range(0..self.roots.len());
            self.roots.swap_remove(i);
            self.root_ids.swap_remove(i);
        }
    }

    fn step(&mut self, max_roots: usize) {
        let roll = self.rng.gen_range(0..100);
        match roll {
            // A new node pointing at up to three existing ones, hung under an existing
            // node or kept as a root.
            0..30 => {
                let k = self.rng.gen_range(0..=3);
                let targets: Vec<_> = (0..k).filter_map(|_| self.pick()).collect();
                let node = self.new_node(targets);
                match self.pick() {
                    Some(parent) if self.rng.gen_bool(0.7) => {
                        self.edges[parent.id as usize].push(node.id);
                        parent.edges.borrow_mut().push(node);
                    }
                    _ => {
                        if self.roots.len() >= max_roots {
                            self.drop_root();
                        }
                        self.root_ids.push(node.id);
                        self.roots.push(node);
                    }
                }
            }
            // An edge between two reachable nodes (cycles included).
            30..55 => {
                if let (Some(a), Some(b)) = (self.pick(), self.pick()) {
                    self.edges[a.id as usize].push(b.id);
                    a.edges.borrow_mut().push(b);
                }
            }
            // An edge removed.
            55..80 => {
                if let Some(a) = self.pick() {
                    let mut edges = a.edges.borrow_mut();
                    if !edges.is_empty() {
                        let i = self.rng.gen_range(0..edges.len());
                        let removed = edges.swap_remove(i);
                        self.edges[a.id as usize].swap_remove(i);
                        drop(edges);
                        drop(removed);
                    }
                }
            }
            // A root dropped.
            80..90 => self.drop_root(),
            // A reachable node becomes a root.
            _ => {
                if let Some(n) = self.pick() {
                    if self.roots.len() >= max_roots {
                        self.drop_root();
                    }
                    self.root_ids.push(n.id);
                    self.roots.push(n);
                }
            }
        }
    }

    /// Full collection, then the heap against the shadow graph.
    fn check(&self, violations: &mut Vec<String>) -> (u64, u64) {
        gc_api::collect();
        let n = self.edges.len();
        let mut reached = vec![false; n];
        let mut stack: Vec<u32> = self.root_ids.clone();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut reached[id as usize], true) {
                continue;
            }
            stack.extend(&self.edges[id as usize]);
        }
        let alive = ALIVE.with(|a| a.borrow().clone());
        let mut checked = 0;
        let mut live = 0;
        for id in 0..n {
            if alive[id] {
                live += 1;
            }
            if reached[id] && !alive[id] {
                violations.push(format!("node {id} is reachable but was dropped"));
            } else if !reached[id] && alive[id] {
                violations.push(format!(
                    "node {id} is unreachable but survived a full collection"
                ));
            }
        }
        // The real edges, walked from the real roots, match the shadow's.
        let mut seen = vec![false; n];
        let mut stack: Vec<Gc<GraphNode>> = self.roots.clone();
        for (root, &id) in self.roots.iter().zip(&self.root_ids) {
            if root.id != id {
                violations.push(format!("root {id} holds node {}", root.id));
            }
        }
        while let Some(node) = stack.pop() {
            let id = node.id as usize;
            if std::mem::replace(&mut seen[id], true) {
                continue;
            }
            checked += 1;
            let edges = node.edges.borrow();
            let real: Vec<u32> = edges.iter().map(|e| e.id).collect();
            if real != self.edges[id] {
                violations.push(format!(
                    "node {id} has edges {real:?}, the shadow graph {:?}",
                    self.edges[id]
                ));
            }
            stack.extend(edges.iter().cloned());
        }
        (checked, live)
    }
}

/// Runs the `graph` workload on the calling thread's heap.
pub fn run(cfg: GraphConfig) -> GraphReport {
    gc_api::collect();
    gc_api::enable();
    ALIVE.with(|a| a.borrow_mut().clear());
    let stats_before = gc_api::get_stats();
    let start = Instant::now();
    let mut m = Mutator {
        rng: SmallRng::seed_from_u64(cfg.seed),
        roots: Vec::new(),
        edges: Vec::new(),
        root_ids: Vec::new(),
    };
    let max_roots = cfg.max_roots.max(1);
    let mut violations = Vec::new();
    let (mut checks, mut nodes_checked, mut max_live) = (0, 0, 0);
    for i in 1..=cfg.steps {
        m.step(max_roots);
        if i % cfg.check_every.max(1) == 0 || i == cfg.steps {
            let (checked, live) = m.check(&mut violations);
            checks += 1;
            nodes_checked += checked;
            max_live = max_live.max(live);
            if violations.len() > 20 {
                break;
            }
        }
    }
    // Everything goes: with no roots, a full collection must free every node.
    let created = m.edges.len() as u64;
    m.roots.clear();
    m.root_ids.clear();
    m.check(&mut violations);
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    let stats_after = gc_api::get_stats();
    let freed = ALIVE.with(|a| a.borrow().iter().filter(|alive| !**alive).count()) as u64;
    GraphReport {
        config: cfg,
        nodes_created: created,
        nodes_freed: freed,
        checks,
        nodes_checked,
        max_live,
        collections: [0, 1, 2]
            .map(|g| (stats_after[g].collections - stats_before[g].collections) as u64),
        collected: (0..3)
            .map(|g| (stats_after[g].collected - stats_before[g].collected) as u64)
            .sum(),
        total_ms,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_agrees_with_the_shadow_graph_and_frees_everything() {
        let report = run(GraphConfig {
            steps: 3000,
            max_roots: 8,
            check_every: 500,
            seed: 7,
        });
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(report.nodes_created > 500);
        assert_eq!(report.nodes_freed, report.nodes_created);
        assert_eq!(report.checks, 6);
        assert!(report.nodes_checked > 0);
    }
}
