//! Random graphs against a plain reachability model (proptest): after the handles go,
//! refcounting frees exactly the garbage no garbage cycle keeps alive, a collection frees
//! exactly the rest, each value once, and every reachable node is alive and intact with
//! exactly its modelled edges. (The operation interpreter of `gc-model`: `gc_model.rs`.)

use gc_api::{Finalize, Gc, Trace};
use gc_tests::{Tally, blocks_in_use, name_of, reset_heap};
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

#[derive(Trace, Finalize)]
struct Vertex {
    id: usize,
    label: String,
    edges: RefCell<Vec<Gc<Vertex>>>,
    #[gc(skip)]
    drops: Rc<Tally>,
}

impl Drop for Vertex {
    fn drop(&mut self) {
        self.drops.hit(self.id);
    }
}

/// Nodes reachable from `starts` over `adj`.
fn bfs(adj: &[Vec<usize>], starts: impl IntoIterator<Item = usize>) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut queue: VecDeque<usize> = starts.into_iter().collect();
    while let Some(v) = queue.pop_front() {
        if seen.insert(v) {
            queue.extend(adj[v].iter().copied());
        }
    }
    seen
}

/// Nodes of `set` that lie on a cycle made of nodes of `set` only.
fn on_cycle_within(adj: &[Vec<usize>], set: &HashSet<usize>) -> HashSet<usize> {
    set.iter()
        .copied()
        .filter(|&v| {
            let succ = adj[v].iter().copied().filter(|w| set.contains(w));
            let restricted: Vec<Vec<usize>> = adj
                .iter()
                .map(|es| es.iter().copied().filter(|w| set.contains(w)).collect())
                .collect();
            bfs(&restricted, succ).contains(&v)
        })
        .collect()
}

fn check_random_graph(n: usize, edges: &[(usize, usize)], roots: &[usize]) {
    let baseline = reset_heap();
    let drops = Rc::new(Tally::default());
    let nodes: Vec<Gc<Vertex>> = (0..n)
        .map(|id| {
            Gc::new(Vertex {
                id,
                label: name_of(id),
                edges: RefCell::new(Vec::new()),
                drops: drops.clone(),
            })
        })
        .collect();
    let mut adj = vec![Vec::new(); n];
    for &(from, to) in edges {
        let (from, to) = (from % n, to % n);
        nodes[from].edges.borrow_mut().push(nodes[to].clone());
        adj[from].push(to);
    }
    let roots: Vec<usize> = roots.iter().map(|r| r % n).collect();
    let root_handles: Vec<Gc<Vertex>> = roots.iter().map(|&r| nodes[r].clone()).collect();

    let reachable = bfs(&adj, roots.iter().copied());
    let garbage: HashSet<usize> = (0..n).filter(|v| !reachable.contains(v)).collect();
    // Refcounting frees garbage that no garbage cycle keeps alive.
    let cyclic = on_cycle_within(&adj, &garbage);
    let kept_by_cycles: HashSet<usize> = bfs(&adj, cyclic.iter().copied())
        .intersection(&garbage)
        .copied()
        .collect();

    drop(nodes);
    assert_eq!(
        drops.total(),
        garbage.len() - kept_by_cycles.len(),
        "refcounting frees exactly the acyclic garbage"
    );
    for &v in &reachable {
        assert_eq!(drops.get(v), 0);
    }

    let collected = gc_api::collect();
    assert_eq!(collected, kept_by_cycles.len());
    assert_eq!(drops.total(), garbage.len());
    for v in 0..n {
        let expected = usize::from(garbage.contains(&v));
        assert_eq!(
            drops.get(v),
            expected,
            "node {v} dropped the wrong number of times"
        );
    }

    // Everything reachable is alive, intact, and has exactly the modelled edges.
    let mut seen = HashSet::new();
    let mut queue: VecDeque<Gc<Vertex>> = root_handles.iter().cloned().collect();
    while let Some(g) = queue.pop_front() {
        let v = Gc::try_deref(&g).expect("a reachable node is dead");
        assert_eq!(v.label, name_of(v.id));
        if seen.insert(v.id) {
            let got: Vec<usize> = v.edges.borrow().iter().map(|e| e.id).collect();
            assert_eq!(got, adj[v.id]);
            queue.extend(v.edges.borrow().iter().cloned());
        }
    }
    assert_eq!(seen, reachable);
    assert_eq!(blocks_in_use(), baseline + reachable.len());

    drop(queue);
    drop(root_handles);
    gc_api::collect();
    assert_eq!(drops.total(), n);
    assert_eq!(drops.max(), 1);
    assert_eq!(blocks_in_use(), baseline);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graphs_match_a_reachability_model(
        n in 1usize..48,
        edges in proptest::collection::vec((0usize..48, 0usize..48), 0..120),
        roots in proptest::collection::vec(0usize..48, 0..6),
    ) {
        check_random_graph(n, &edges, &roots);
    }
}

#[test]
fn random_graph_model_handles_simple_shapes() {
    // Self-loop kept by a root, a garbage self-loop, a garbage chain hanging off a cycle.
    check_random_graph(1, &[(0, 0)], &[0]);
    check_random_graph(1, &[(0, 0)], &[]);
    check_random_graph(5, &[(0, 1), (1, 0), (1, 2), (2, 3)], &[4]);
    check_random_graph(4, &[(0, 1), (1, 2), (2, 3)], &[]);
}
