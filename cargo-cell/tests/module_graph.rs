//! cargo-cell's modules form no cycle: each stage imports only the stages below it, so the
//! binary reads top-down (`commands` → `build`/`deploy`/`lifecycle` → `phase1` → `record`
//! → `workspace`, ...). A new `use` that closes a circle fails here, naming the circle.
//!
//! The references are read from the tokens of each `src/*.rs` (comments and doc links are
//! not tokens): `crate::name` and `use crate::{a, b}` both count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules `tokens` names through `crate::`.
fn references(tokens: TokenStream, out: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => references(g.stream(), out),
            TokenTree::Ident(id) if id == "crate" => {
                let colons = matches!(
                    (trees.get(i + 1), trees.get(i + 2)),
                    (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                        if a.as_char() == ':' && b.as_char() == ':'
                );
                if !colons {
                    continue;
                }
                match trees.get(i + 3) {
                    Some(TokenTree::Ident(name)) => {
                        out.insert(name.to_string());
                    }
                    // `use crate::{a, b::c}`: the first name of each path.
                    Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                        let mut first = true;
                        for t in g.stream() {
                            match &t {
                                TokenTree::Ident(name) if first => {
                                    out.insert(name.to_string());
                                    first = false;
                                }
                                TokenTree::Punct(p) if p.as_char() == ',' => first = true,
                                _ => first = false,
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(src).expect("src/ is readable") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "main" || name == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let tokens: TokenStream = text
            .parse()
            .unwrap_or_else(|e| panic!("{} does not lex: {e:?}", path.display()));
        let mut refs = BTreeSet::new();
        references(tokens, &mut refs);
        refs.remove(&name);
        graph.insert(name, refs);
    }
    // Names that are not modules (re-exports of `lib.rs`, such as `docker`) are no edges.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for refs in graph.values_mut() {
        refs.retain(|r| modules.contains(r));
    }
    graph
}

/// One cycle of `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn cargo_cell_modules_import_each_other_in_no_cycle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 10, "the modules were found: {graph:?}");
    // The stages the layering rests on are seen with their imports.
    assert!(graph["commands"].contains("deploy"), "{graph:?}");
    assert!(graph["deploy"].contains("phase1"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "cargo-cell's modules import each other in a circle: {}\n\
             Move what both need into a lower module (see docs/architecture.md).",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_check_finds_a_cycle_through_a_braced_use() {
    let mut refs = BTreeSet::new();
    references(
        "use crate::{cli::Args, error::Error}; fn f() { crate::deploy::plan(); }"
            .parse()
            .unwrap(),
        &mut refs,
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["cli", "deploy", "error"]
    );
    let graph: Graph = [
        ("commands", &["deploy"][..]),
        ("deploy", &["report", "commands"][..]),
        ("report", &[][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph).unwrap(),
        ["commands", "deploy", "commands"]
    );
    let mut acyclic = graph.clone();
    acyclic.get_mut("deploy").unwrap().remove("commands");
    assert_eq!(find_cycle(&acyclic), None);
}
