//! The crate's module structure, checked from its source: no import circles between modules, and
//! no module imports a higher layer. Reads every `src/**/*.rs` (tests excluded), collects the
//! `crate::` / `super::` paths each file names, and resolves them to module files.
//!
//! Run alone: `cargo test -p integration-tests --test layering`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from lowest to highest layer; a module may use its own layer or lower ones.
const LAYERS: &[&[&str]] = &[
    &[
        "error", "config", "fsutil", "seed", "device", "malloc", "task",
    ],
    &["image"],
    &["metrics", "models"],
    &["condense"],
    &["source", "cache"],
    &["select"],
    &["dataset"],
    &["train"],
    &["repro"],
    &["cli"],
];

type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

/// Every module file under `src/` (except the crate root and binaries) by module path.
fn module_files() -> BTreeMap<Module, PathBuf> {
    fn visit(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let mut module = prefix.to_vec();
            if path.is_dir() {
                if name != "bin" {
                    module.push(name);
                    visit(&path, &module, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                if name != "mod" {
                    module.push(name);
                }
                if !(module.is_empty() || module == ["lib"]) {
                    out.insert(module, path);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(&src_dir(), &[], &mut out);
    out
}

/// The file's text without its `#[cfg(test)]` module(s) and comments.
fn non_test_code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `use` trees (`a::{b, c::{d}}`) into flat paths; other code is scanned for paths too.
fn named_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&format!("{prefix}{head}"), &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&format!("{prefix}{head}"), &inner[start..], out);
        } else if !tree.is_empty() {
            out.push(format!("{prefix}{tree}"));
        }
    }
    let mut out = Vec::new();
    for (i, _) in code.match_indices("use ") {
        let line_start = code[..i].rfind('\n').map_or(0, |n| n + 1);
        let lead = code[line_start..i].trim();
        let is_use =
            lead.is_empty() || lead == "pub" || (lead.starts_with("pub(") && lead.ends_with(')'));
        if let (true, Some(end)) = (is_use, code[i..].find(';')) {
            expand("", &code[i + 4..i + end], &mut out);
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        for (i, _) in code.match_indices(start) {
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
                continue;
            }
            let end = code[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| i + e);
            out.push(code[i..end].to_string());
        }
    }
    out
}

/// The module a path names (the longest module prefix), relative to the file's module `from`.
fn resolve(path: &str, from: &Module, modules: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let segments: Vec<&str> = path
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let (mut base, rest): (Module, &[&str]) = match segments.first() {
        Some(&"crate") => (Vec::new(), &segments[1..]),
        Some(&"super") => {
            // `super` of module a::b is `a`, whether it lives in `a/b.rs` or `a/b/mod.rs`.
            let mut m = from.clone();
            let mut k = 0;
            while segments.get(k) == Some(&"super") {
                m.pop();
                k += 1;
            }
            (m, &segments[k..])
        }
        _ => return None,
    };
    let mut best = None;
    if modules.contains_key(&base) {
        best = Some(base.clone());
    }
    for s in rest {
        base.push(s.to_string());
        if modules.contains_key(&base) {
            best = Some(base.clone());
        }
    }
    best
}

/// Module -> modules it uses (self, ancestors' re-exports of descendants excluded).
fn edges(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut out = BTreeMap::new();
    for (module, file) in modules {
        let text = std::fs::read_to_string(file).expect("read module");
        let mut targets = BTreeSet::new();
        for path in named_paths(&non_test_code(&text)) {
            if let Some(t) = resolve(&path, module, modules) {
                // A parent declaring or re-exporting its own children is not an import circle.
                if t != *module && !t.starts_with(module) {
                    targets.insert(t);
                }
            }
        }
        out.insert(module.clone(), targets);
    }
    out
}

fn layer(module: &Module) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module[0].as_str()))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let tops: BTreeSet<String> = module_files().keys().map(|m| m[0].clone()).collect();
    let missing: Vec<_> = tops
        .iter()
        .filter(|t| layer(&vec![t.to_string()]).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in LAYERS: {missing:?}"
    );
    assert!(
        tops.len() >= 10,
        "found only {tops:?}: is src/ where this test looks?"
    );
}

#[test]
fn no_module_imports_a_higher_layer() {
    let modules = module_files();
    let mut bad = Vec::new();
    for (from, targets) in edges(&modules) {
        for to in targets {
            if let (Some(a), Some(b)) = (layer(&from), layer(&to)) {
                if b > a {
                    bad.push(format!("{} -> {}", from.join("::"), to.join("::")));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports of higher layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_import_circles_between_modules() {
    let graph = edges(&module_files());
    // Depth-first search for a back edge; reports every circle found as a path.
    fn dfs(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        circles: &mut Vec<String>,
    ) {
        if let Some(pos) = stack.iter().position(|s| s == m) {
            let cycle: Vec<String> = stack[pos..]
                .iter()
                .chain([m])
                .map(|s| s.join("::"))
                .collect();
            circles.push(cycle.join(" -> "));
            return;
        }
        if done.contains(m) {
            return;
        }
        stack.push(m.clone());
        for t in graph.get(m).into_iter().flatten() {
            dfs(t, graph, stack, done, circles);
        }
        stack.pop();
        done.insert(m.clone());
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        dfs(m, &graph, &mut Vec::new(), &mut done, &mut circles);
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    // Guards the parser itself: a known import must be found.
    let modules = module_files();
    let graph = edges(&modules);
    let image_io = vec!["image".to_string(), "io".to_string()];
    assert!(
        graph[&image_io].contains(&vec!["error".to_string()]),
        "image::io uses crate::error; the parser missed it: {:?}",
        graph[&image_io]
    );
}
