//! Strongly connected components and one cycle through each, for the dependency graphs of
//! [`super::txn_graph`]. Tarjan's algorithm, iterative: a history's graph can have millions of
//! vertices in one long chain (every write of a key follows the previous one), far deeper than
//! a thread's stack would allow recursion. Both functions are linear in vertices plus edges.

/// A directed graph in compressed rows: the out-edges of vertex `v` are
/// `targets[starts[v]..starts[v + 1]]`, each with a label the caller filters on.
#[derive(Clone, Debug, Default)]
pub struct Graph<L> {
    starts: Vec<u32>,
    targets: Vec<(u32, L)>,
}

impl<L: Copy> Graph<L> {
    /// Builds the graph over `vertices` vertices from `(from, to, label)` edges, in any order.
    /// Each vertex's out-edges keep the order a stable sort by (source, target) gives. The
    /// edges are reordered where they lie and then narrowed to the rows where they lie too:
    /// the only other memory is a `u32` per edge for the counting sort, never a second copy.
    pub fn new(vertices: usize, mut edges: Vec<(u32, u32, L)>) -> Graph<L> {
        assert!(vertices < u32::MAX as usize && edges.len() < u32::MAX as usize);
        let mut starts = vec![0u32; vertices + 1];
        for &(from, _, _) in &edges {
            starts[from as usize + 1] += 1;
        }
        for v in 0..vertices {
            starts[v + 1] += starts[v];
        }
        // A stable counting sort by source: `placed[slot]` is the edge that belongs at `slot`.
        let mut placed = vec![PLACED_DONE; edges.len()];
        let mut next = starts.clone();
        for (id, &(from, _, _)) in edges.iter().enumerate() {
            let slot = &mut next[from as usize];
            placed[*slot as usize] = id as u32;
            *slot += 1;
        }
        drop(next);
        permute_in_place(&mut edges, &mut placed);
        drop(placed);
        // Then a stable sort of each (short) row by target: the order a stable sort by
        // (source, target) gives, in linear time.
        for v in 0..vertices {
            edges[starts[v] as usize..starts[v + 1] as usize].sort_by_key(|&(_, to, _)| to);
        }
        // Collected where the edges lie (std reuses the allocation of a vector consumed by
        // `into_iter().map()` when the new items are no larger), then shrunk.
        let mut targets: Vec<(u32, L)> = edges
            .into_iter()
            .map(|(_, to, label)| (to, label))
            .collect();
        targets.shrink_to_fit();
        Graph { starts, targets }
    }

    pub fn vertices(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn edges(&self, from: u32) -> &[(u32, L)] {
        let from = from as usize;
        &self.targets[self.starts[from] as usize..self.starts[from + 1] as usize]
    }
}

const UNSEEN: u32 = u32::MAX;

/// Marks a slot of the counting sort's permutation already filled.
const PLACED_DONE: u32 = u32::MAX;

/// Reorders `items` so that position `slot` holds what was at `placed[slot]` (a permutation),
/// following each cycle of the permutation once: linear, and no second copy of `items`.
/// Leaves every entry of `placed` at [`PLACED_DONE`].
fn permute_in_place<T: Copy>(items: &mut [T], placed: &mut [u32]) {
    assert_eq!(items.len(), placed.len());
    for start in 0..items.len() {
        if placed[start] == PLACED_DONE {
            continue;
        }
        let first = items[start];
        let mut slot = start;
        // Each step fills one slot for good, so a cycle takes at most `items.len()` steps.
        for _ in 0..items.len() {
            let source = placed[slot] as usize;
            placed[slot] = PLACED_DONE;
            if source == start {
                items[slot] = first;
                break;
            }
            items[slot] = items[source];
            slot = source;
        }
    }
}

/// The strongly connected components with more than one vertex, over the edges whose label
/// `keep` accepts. Each component's vertices are sorted; components come in the order
/// Tarjan's algorithm closes them.
pub fn components<L: Copy>(graph: &Graph<L>, keep: impl Fn(L) -> bool) -> Vec<Vec<u32>> {
    let n = graph.vertices();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    // The explicit call stack: (vertex, position of the next out-edge to look at).
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut next_index = 0u32;
    let mut found = Vec::new();

    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        calls.push((root, 0));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;

        while let Some(&mut (v, ref mut at)) = calls.last_mut() {
            let edges = graph.edges(v);
            if let Some(&(w, label)) = edges.get(*at as usize) {
                *at += 1;
                if !keep(label) {
                    continue;
                }
                let (vi, wi) = (v as usize, w as usize);
                if index[wi] == UNSEEN {
                    index[wi] = next_index;
                    low[wi] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    calls.push((w, 0));
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            // Every edge of v is done: close v, and hand its low link to its caller.
            calls.pop();
            let vi = v as usize;
            if let Some(&(caller, _)) = calls.last() {
                low[caller as usize] = low[caller as usize].min(low[vi]);
            }
            if low[vi] == index[vi] {
                // Most vertices are their own component: close those without allocating.
                if stack.last() == Some(&v) {
                    stack.pop();
                    on_stack[vi] = false;
                    continue;
                }
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    found.push(component);
                }
            }
        }
    }
    found
}

/// A shortest path from `from` to a different vertex `to` inside `component` (sorted) over
/// edges `keep` accepts, as the edges taken: `(from, to, label)`. Breadth-first, linear in the
/// component's edges. A cycle through an edge `a -> b` is that edge after `path(b, a)`.
pub fn path<L: Copy>(
    graph: &Graph<L>,
    component: &[u32],
    from: u32,
    to: u32,
    keep: impl Fn(L) -> bool,
) -> Option<Vec<(u32, u32, L)>> {
    if from == to {
        return None;
    }
    let inside = |v: u32| component.binary_search(&v).ok();
    // Per component position: the edge that first reached it.
    let mut reached: Vec<Option<(u32, L)>> = vec![None; component.len()];
    let mut seen = vec![false; component.len()];
    seen[inside(from)?] = true;
    let mut queue = std::collections::VecDeque::from([from]);
    'search: while let Some(v) = queue.pop_front() {
        for &(w, label) in graph.edges(v) {
            let Some(at) = inside(w) else { continue };
            if !keep(label) || seen[at] {
                continue;
            }
            seen[at] = true;
            reached[at] = Some((v, label));
            if w == to {
                break 'search;
            }
            queue.push_back(w);
        }
    }
    let mut edges = Vec::new();
    let mut v = to;
    // Walk back from `to`; each step is a vertex reached earlier, so at most the component.
    for _ in 0..component.len() {
        let (previous, label) = reached[inside(v)?]?;
        edges.push((previous, v, label));
        if previous == from {
            edges.reverse();
            return Some(edges);
        }
        v = previous;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_of_a_small_graph() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 -> 4 is not; 4 <-> 5 is one only over label 1.
        let graph = Graph::new(
            6,
            vec![
                (0, 1, 0),
                (1, 2, 0),
                (2, 0, 0),
                (3, 4, 0),
                (4, 5, 0),
                (5, 4, 1),
            ],
        );
        assert_eq!(
            components(&graph, |_| true),
            vec![vec![0, 1, 2], vec![4, 5]]
        );
        assert_eq!(components(&graph, |label| label == 0), vec![vec![0, 1, 2]]);
        let back = path(&graph, &[0, 1, 2], 1, 0, |_| true).unwrap();
        assert_eq!(back, vec![(1, 2, 0), (2, 0, 0)]);
        assert_eq!(path(&graph, &[0, 1, 2], 0, 0, |_| true), None);
        let through = path(&graph, &[4, 5], 4, 5, |_| true).unwrap();
        assert_eq!(through, vec![(4, 5, 0)]);
    }

    #[test]
    fn permute_in_place_gathers_by_slot() {
        let mut items = ['a', 'b', 'c', 'd', 'e'];
        let mut placed = [3, 0, 4, 1, 2];
        permute_in_place(&mut items, &mut placed);
        assert_eq!(items, ['d', 'a', 'e', 'b', 'c']);
        assert!(placed.iter().all(|&p| p == PLACED_DONE));
    }

    #[test]
    fn rows_keep_the_order_of_a_stable_sort() {
        // Parallel edges 0 -> 1 keep the order they were given in, labels tell them apart.
        let graph = Graph::new(3, vec![(2, 0, 'x'), (0, 1, 'b'), (0, 0, 'c'), (0, 1, 'a')]);
        assert_eq!(graph.edges(0), &[(0, 'c'), (1, 'b'), (1, 'a')]);
        assert_eq!(graph.edges(1), &[]);
        assert_eq!(graph.edges(2), &[(0, 'x')]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        // A million vertices in one ring: recursion would need a million frames.
        let n = 1_000_000u32;
        let edges = (0..n).map(|v| (v, (v + 1) % n, ())).collect();
        let graph = Graph::new(n as usize, edges);
        let found = components(&graph, |_| true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n as usize);
        let back = path(&graph, &found[0], 6, 5, |_| true).unwrap();
        assert_eq!(back.len(), n as usize - 1);
    }
}
