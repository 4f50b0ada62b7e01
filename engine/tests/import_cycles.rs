//! No import circles in the engine. Each source file of `engine/src` is a module; a `crate::`
//! path in its code (a `use` with its brace groups expanded, or a path written inline) is an
//! edge to the longest module that path names. Any strongly connected component of more than
//! one module is a circle, reported with its members; the same check runs on the top-level
//! modules (`broker`, `client`, `wire`, ...), so layers point one way too. Test code (files
//! named `tests.rs` or `*_tests.rs`, and a trailing `#[cfg(test)] mod tests`) is left out: it
//! may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Source files read at most (a bound on the walk).
const FILES_MAX: usize = 2_000;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("the crate's src is readable")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        assert!(
            files.len() < FILES_MAX,
            "more than {FILES_MAX} source files"
        );
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// `broker/node/replica.rs` -> `broker::node::replica`; `wire/mod.rs` -> `wire`; `lib.rs` -> ``.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts.join("::")
}

fn is_test_file(module: &str) -> bool {
    let last = module.rsplit("::").next().unwrap_or_default();
    last == "tests" || last.ends_with("_tests")
}

/// The code of a file without its line comments and its trailing unit-test module.
fn code_of(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &source[..at],
        None => source,
    };
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            expand(item)
                .into_iter()
                .map(|path| format!("{prefix}{path}"))
        })
        .collect()
}

/// Every path the code names that starts with `prefix` (`crate::` or `super::`), without it.
fn named_paths(code: &str, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = String::with_capacity(code.len());
    // `use <prefix>...;` statements (with brace groups), then what remains for inline paths.
    let statement_start = format!("use {prefix}");
    let mut remaining = code;
    while let Some(at) = remaining.find(&statement_start) {
        rest.push_str(&remaining[..at]);
        let statement = &remaining[at + statement_start.len()..];
        let end = statement.find(';').expect("a use statement ends with ;");
        paths.extend(expand(&statement[..end]));
        remaining = &statement[end + 1..];
    }
    rest.push_str(remaining);
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(found) = rest[from..].find(prefix) {
        let at = from + found;
        let before = at.checked_sub(1).map(|i| bytes[i] as char);
        from = at + prefix.len();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        let path: String = rest[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(path);
    }
    paths
}

/// Every module path the code of `module` names: its `crate::` paths, and its `super::` paths
/// made absolute (`super::body::Keys` in `history::line` is `history::body::Keys`), so that
/// two siblings naming each other through `super::` form a circle too.
fn module_paths(module: &str, code: &str) -> Vec<String> {
    let mut paths = named_paths(code, "crate::");
    for relative in named_paths(code, "super::") {
        let mut base: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        base.pop();
        let mut rest = relative.as_str();
        while let Some(up) = rest.strip_prefix("super::") {
            base.pop();
            rest = up;
        }
        base.push(rest);
        paths.push(base.join("::"));
    }
    paths
}

/// The longest known module a path names (`broker::node::shared::Shared` -> `broker::node::shared`).
fn target_of(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let segments: Vec<&str> = path
        .split("::")
        .filter(|segment| !segment.is_empty() && *segment != "self")
        .collect();
    (1..=segments.len())
        .rev()
        .map(|count| segments[..count].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// The module graph of one crate of the workspace (`engine`, `harness`, `reports`, ...).
fn module_graph_of(crate_dir: &str) -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src");
    let mut files = Vec::new();
    source_files(&root, &mut files);
    let sources: BTreeMap<String, String> = files
        .iter()
        .map(|file| (module_of(&root, file), file))
        .filter(|(module, _)| !is_test_file(module))
        .map(|(module, file)| (module, fs::read_to_string(file).expect("readable source")))
        .collect();
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let mut graph = Graph::new();
    for (module, source) in &sources {
        let edges = graph.entry(module.clone()).or_default();
        for path in module_paths(module, &code_of(source)) {
            if let Some(target) = target_of(&modules, &path) {
                if &target != module {
                    edges.insert(target);
                }
            }
        }
    }
    graph
}

/// The graph between top-level modules (`broker::node::shared` counts as `broker`).
fn layer_graph(graph: &Graph) -> Graph {
    let top = |module: &str| module.split("::").next().unwrap_or_default().to_string();
    let mut layers = Graph::new();
    for (source, targets) in graph {
        let edges = layers.entry(top(source)).or_default();
        for target in targets {
            if top(target) != top(source) {
                edges.insert(top(target));
            }
        }
    }
    layers
}

/// Tarjan's strongly connected components of more than one node, each sorted.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let next = walk.index.len();
        walk.index.insert(node, next);
        walk.low.insert(node, next);
        walk.stack.push(node);
        walk.on_stack.insert(node);
        let graph = walk.graph;
        for target in graph.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !walk.index.contains_key(target) {
                visit(walk, target);
                let low = walk.low[node].min(walk.low[target]);
                walk.low.insert(node, low);
            } else if walk.on_stack.contains(target) {
                let low = walk.low[node].min(walk.index[target]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(member) = walk.stack.pop() {
                walk.on_stack.remove(member);
                component.push(member.to_string());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

#[test]
fn the_engine_has_no_import_circles() {
    let graph = module_graph_of("engine");
    assert!(
        graph.contains_key("broker::core"),
        "the walk found the engine's modules"
    );
    assert!(
        graph["broker::node::dispatch"].contains("broker::node::shared"),
        "the walk found the engine's imports"
    );
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles between modules: {found:#?}"
    );
}

#[test]
fn the_engine_layers_point_one_way() {
    let layers = layer_graph(&module_graph_of("engine"));
    let found = circles(&layers);
    assert!(
        found.is_empty(),
        "import circles between layers: {found:#?}"
    );
}

/// The harness, the reports and faultfs are held to the same rule as the engine, between
/// modules. (Between their top-level folders it does not hold yet: the harness's `run` builds
/// the systems and the systems name `run::context`; faultfs's `effect` and `model` share types.)
#[test]
fn the_other_crates_have_no_import_circles() {
    for crate_dir in ["harness", "reports", "faultfs"] {
        let graph = module_graph_of(crate_dir);
        assert!(graph.len() > 3, "the walk found {crate_dir}'s modules");
        let found = circles(&graph);
        assert!(
            found.is_empty(),
            "import circles between {crate_dir}'s modules: {found:#?}"
        );
    }
}

/// The seam (design.md §12): outside `systems/`, only the engine's own command-line verbs
/// (`serve`, `bench` and its parts `bench_*`, `demo`, and the local cluster they start) name
/// the engine.
#[test]
fn the_harness_names_the_engine_only_behind_the_seam() {
    const ENGINE_VERBS: [&str; 4] = ["serve", "bench", "demo", "local_cluster"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../harness/src");
    let mut files = Vec::new();
    source_files(&root, &mut files);
    let mut offenders = Vec::new();
    for file in &files {
        let module = module_of(&root, file);
        let behind_seam = module == "systems" || module.starts_with("systems::");
        let engine_verb = ENGINE_VERBS.contains(&module.as_str()) || module.starts_with("bench_");
        if behind_seam || is_test_file(&module) || engine_verb {
            continue;
        }
        let code = code_of(&fs::read_to_string(file).expect("readable source"));
        let names_engine = code.match_indices("engine::").any(|(at, _)| {
            let before = code[..at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        });
        if names_engine {
            offenders.push(module);
        }
    }
    assert!(files.len() > 50, "the walk found the harness's files");
    assert!(
        offenders.is_empty(),
        "these harness modules name the engine outside systems/: {offenders:?}"
    );
}

#[test]
fn the_check_sees_a_circle() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .fold(Graph::new(), |mut graph, (from, to)| {
            graph.entry(from.into()).or_default().insert(to.into());
            graph.entry(to.into()).or_default();
            graph
        });
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        expand("broker::{core::{Effect, WaiterId}, node}"),
        vec![
            "broker::core::Effect",
            "broker::core::WaiterId",
            "broker::node"
        ]
    );
    assert_eq!(
        module_paths(
            "history::line",
            "use super::{body::Keys, op::F};\nsuper::super::run::go();"
        ),
        vec!["history::body::Keys", "history::op::F", "run::go"]
    );
}
