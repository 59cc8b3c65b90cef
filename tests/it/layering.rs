//! The crate's modules form layers: `domain` (formatting, statistics, law)
//! imports nothing of fiscal, `config` only `domain`, and no module reaches
//! back into one that reaches it. Read from the source files, so a new import
//! that closes a cycle fails here, naming the cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module as the layering sees it: the top-level module, except under
/// `sources`, where each source (and each shared piece) is a module of its own.
fn key(path: &[String]) -> Option<String> {
    match path {
        [] => None,
        [first, second, ..] if first == "sources" => Some(format!("sources::{second}")),
        [first, ..] => Some(first.clone()),
    }
}

fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The identifier paths after each `crate::` or `super::` in `code`, resolved
/// against the module `here`.
fn references(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let ident = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        for part in s.split("::") {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_uppercase()) {
                break;
            }
            out.push(name.clone());
            if name.len() != part.len() {
                break;
            }
        }
        out
    };
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        for path in group_paths(rest) {
            found.push(ident(&path));
        }
    }
    // `super` from a file is its directory's module; a mod.rs is already the
    // directory's module, and its path has dropped the "mod".
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &code[i..];
        let mut up = 0;
        while let Some(after) = rest.strip_prefix("super::") {
            up += 1;
            rest = after;
        }
        let mut path = here[..here.len().saturating_sub(up)].to_vec();
        path.extend(ident(rest));
        found.push(path);
    }
    found
}

/// The paths a `use` tail names: `a::b` is one, `{a, b::{c, d}}` and
/// `a::{b, c}` are several, to any depth.
fn group_paths(tail: &str) -> Vec<String> {
    let tail = tail.trim_start();
    let Some(open) = tail.find('{') else {
        return vec![tail.to_string()];
    };
    // Only a brace that continues this path (`a::{` or a leading `{`) opens a group.
    let prefix = &tail[..open];
    if !(prefix.is_empty() || prefix.ends_with("::"))
        || prefix.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
    {
        return vec![tail.to_string()];
    }
    let mut depth = 0;
    let mut items = Vec::new();
    let mut start = open + 1;
    for (i, c) in tail.char_indices().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(&tail[start..i]);
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(&tail[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| {
            group_paths(item)
                .into_iter()
                .map(|p| format!("{prefix}{}", p.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let here = module_path(&src, &file);
        let Some(from) = key(&here) else { continue };
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        // Test modules may reach anywhere; comments name modules without using them.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for reference in references(&code, &here) {
            if let Some(to) = key(&reference) {
                if to != from {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        edges.entry(from).or_default();
    }
    edges
}

/// One cycle of `edges`, if there is any.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_reaches_back_into_one_that_reaches_it() {
    let edges = graph();
    assert!(edges.contains_key("sources::contracts"), "{edges:#?}");
    if let Some(found) = cycle(&edges) {
        panic!("module cycle: {}", found.join(" → "));
    }
}

#[test]
fn domain_imports_nothing_of_fiscal_and_config_only_domain() {
    let edges = graph();
    let domain = &edges["domain"];
    assert!(domain.is_empty(), "domain imports {domain:?}");
    let config: Vec<_> = edges["config"].iter().filter(|m| *m != "domain").collect();
    assert!(config.is_empty(), "config imports {config:?}");
}

#[test]
fn nested_use_groups_name_each_module() {
    assert_eq!(
        group_paths("sources::{load, portal::{self, Row}}, db};"),
        vec![
            "sources::load",
            "sources::portal::self",
            "sources::portal::Row"
        ]
    );
    assert_eq!(
        group_paths("{config, db::Pool}"),
        vec!["config", "db::Pool"]
    );
    assert_eq!(group_paths("queue::Backoff"), vec!["queue::Backoff"]);
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
