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

impl<L: Copy + Default> Graph<L> {
    /// Builds the graph over `vertices` vertices from `(from, to, label)` edges, in any order.
    /// Each vertex's out-edges keep the order a stable sort by (source, target) gives.
    pub fn new(vertices: usize, edges: Vec<(u32, u32, L)>) -> Graph<L> {
        Graph::from_edges(vertices, |edge| {
            for &(from, to, label) in &edges {
                edge(from, to, label);
            }
        })
    }

    /// Builds the graph over `vertices` vertices from the edges `each_edge` hands its
    /// argument as `(from, to, label)`. It is called twice and must hand the same edges in the
    /// same order both times: once to count each vertex's out-edges, once to place them in
    /// their rows. So the edges are never gathered in a list of their own: the rows, a `u32`
    /// per vertex and the edges' targets and labels, are all the memory it takes. Each
    /// vertex's out-edges keep the order a stable sort by (source, target) gives.
    pub fn from_edges(
        vertices: usize,
        mut each_edge: impl FnMut(&mut dyn FnMut(u32, u32, L)),
    ) -> Graph<L> {
        assert!(vertices < u32::MAX as usize);
        let mut starts = vec![0u32; vertices + 1];
        let mut count = 0u64;
        each_edge(&mut |from, _, _| {
            starts[from as usize + 1] += 1;
            count += 1;
        });
        assert!(count < u64::from(u32::MAX), "edges fit a u32");
        for v in 0..vertices {
            starts[v + 1] += starts[v];
        }
        // Each row fills from its start; `starts[v]` is row v's next free slot meanwhile, and
        // ends as the start of row v + 1.
        let mut targets = vec![(0u32, L::default()); count as usize];
        let mut placed = 0u64;
        each_edge(&mut |from, to, label| {
            let slot = &mut starts[from as usize];
            targets[*slot as usize] = (to, label);
            *slot += 1;
            placed += 1;
        });
        assert_eq!(placed, count, "the same edges both times");
        starts.copy_within(0..vertices, 1);
        starts[0] = 0;
        // Then a stable sort of each (short) row by target: the order a stable sort by
        // (source, target) gives, in linear time.
        for v in 0..vertices {
            targets[starts[v] as usize..starts[v + 1] as usize].sort_by_key(|&(to, _)| to);
        }
        Graph { starts, targets }
    }
}

impl<L: Copy> Graph<L> {
    pub fn vertices(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn edges(&self, from: u32) -> &[(u32, L)] {
        let from = from as usize;
        &self.targets[self.starts[from] as usize..self.starts[from + 1] as usize]
    }
}

/// `rindex` of a vertex not yet visited.
const UNSEEN: u32 = 0;

/// Set in a call frame's edge position once its vertex is known not to be its component's
/// root (it reaches a vertex visited before it).
const NOT_ROOT: u32 = 1 << 31;

/// The strongly connected components with more than one vertex, over the edges whose label
/// `keep` accepts. Each component's vertices are sorted; components come in the order
/// Tarjan's algorithm closes them.
///
/// Pearce's variant of Tarjan's algorithm ("A space-efficient algorithm for finding strongly
/// connected components", 2016): the same depth-first search, closing the same components at
/// the same moments, but one `u32` a vertex (`rindex`) stands for Tarjan's index, low link and
/// on-stack flag: a vertex's visit number, lowered to the least one it reaches while its
/// component is open, and a component number above every visit number once it is closed.
pub fn components<L: Copy>(graph: &Graph<L>, keep: impl Fn(L) -> bool) -> Vec<Vec<u32>> {
    let n = graph.vertices();
    assert!(
        n < (u32::MAX / 2) as usize && graph.targets.len() < NOT_ROOT as usize,
        "visit numbers stay below component numbers, edge positions below NOT_ROOT"
    );
    let mut rindex = vec![UNSEEN; n];
    // Visited vertices whose component is still open, other than the roots being called.
    let mut waiting: Vec<u32> = Vec::new();
    // The explicit call stack: (vertex, position in `targets` of its next out-edge, with
    // NOT_ROOT).
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut next_index = 1u32;
    // Component numbers count down from here, above every visit number (at most n).
    let mut closed = u32::MAX;
    let mut found = Vec::new();

    for root in 0..n as u32 {
        if rindex[root as usize] != UNSEEN {
            continue;
        }
        rindex[root as usize] = next_index;
        next_index += 1;
        calls.push((root, graph.starts[root as usize]));

        while let Some(&mut (v, ref mut at)) = calls.last_mut() {
            let vi = v as usize;
            let position = *at & !NOT_ROOT;
            if position < graph.starts[vi + 1] {
                *at += 1;
                let (w, label) = graph.targets[position as usize];
                if !keep(label) {
                    continue;
                }
                let wi = w as usize;
                if rindex[wi] == UNSEEN {
                    rindex[wi] = next_index;
                    next_index += 1;
                    calls.push((w, graph.starts[wi]));
                } else if rindex[wi] < rindex[vi] {
                    // w is open and was visited before: v is not its component's root.
                    rindex[vi] = rindex[wi];
                    *at |= NOT_ROOT;
                }
                continue;
            }
            // Every edge of v is done.
            let is_root = *at & NOT_ROOT == 0;
            calls.pop();
            if is_root {
                // v closes its component: itself and the waiting vertices visited after it.
                next_index -= 1;
                let mut component = Vec::new();
                while let Some(&w) = waiting.last() {
                    if rindex[w as usize] < rindex[vi] {
                        break;
                    }
                    waiting.pop();
                    rindex[w as usize] = closed;
                    next_index -= 1;
                    component.push(w);
                }
                rindex[vi] = closed;
                closed -= 1;
                // Most vertices are their own component: those are closed without allocating.
                if !component.is_empty() {
                    component.push(v);
                    component.sort_unstable();
                    found.push(component);
                }
            } else {
                waiting.push(v);
            }
            // Hand v's least reach to its caller (a closed v's number is above every visit).
            if let Some(&mut (caller, ref mut caller_at)) = calls.last_mut() {
                if rindex[vi] < rindex[caller as usize] {
                    rindex[caller as usize] = rindex[vi];
                    *caller_at |= NOT_ROOT;
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
