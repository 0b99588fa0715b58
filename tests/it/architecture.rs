//! The crate's structure, checked: which module may import which. The Layout table
//! (`docs/layout.md`) is the rule; this test reads the source files, finds every path a module uses
//! (`use` trees, inline `crate::…`, `super::…` and child-module paths) and fails when
//!
//! * a module imports one the table does not allow it (so the table stays true),
//! * the files import each other in a circle (so the structure can be drawn floor by floor),
//! * code below the web layer names actix (the rules run without HTTP: CLI, tests).
//!
//! Comments, string literals and `#[cfg(test)]` modules are not part of the structure.

use latchkey::config::DISCOVERY_SUFFIX;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path relative to the crate root, e.g. `["auth", "login"]`; the root is `[]`.
pub(crate) type ModPath = Vec<String>;

pub(crate) struct SourceFile {
    pub(crate) module: ModPath,
    pub(crate) code: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (not `main.rs`) with its module path and its code without
/// comments, string contents and test modules.
pub(crate) fn source_files() -> Vec<SourceFile> {
    let mut files = Vec::new();
    collect(&src_dir(), &mut files);
    files.sort_by(|a, b| a.module.cmp(&b.module));
    files
}

fn collect(dir: &Path, out: &mut Vec<SourceFile>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src_dir()).expect("under src");
            let mut module: ModPath = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match module.last().map(String::as_str) {
                Some("main") if module.len() == 1 => continue,
                Some("lib") if module.len() == 1 => module.clear(),
                Some("mod") => {
                    module.pop();
                }
                _ => {}
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push(SourceFile {
                module,
                code: strip(&text),
            });
        }
    }
}

/// The code without comments, string and char literal contents, and without the
/// `#[cfg(test)]` module at the end of a file.
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&chars, i) {
            // r"…" or r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&chars, i) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

/// `'a'`, `'\n'`, `'\''` are literals; `'a` (a lifetime) is not.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// Splits code into identifiers and single punctuation characters (`::` is one token).
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// The paths of a `use` tree starting at `tokens[*i]`, fully expanded (`a::{b, c::d}` gives
/// `a::b` and `a::c::d`); stops after the tree.
fn use_tree(tokens: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while *i < tokens.len() {
        let t = tokens[*i].as_str();
        match t {
            "{" => {
                *i += 1;
                loop {
                    use_tree(tokens, i, &path, out);
                    match tokens.get(*i).map(String::as_str) {
                        Some(",") => {
                            *i += 1;
                            if tokens.get(*i).map(String::as_str) == Some("}") {
                                *i += 1;
                                return;
                            }
                        }
                        Some("}") => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            "::" => *i += 1,
            "as" => {
                *i += 2;
                out.push(path);
                return;
            }
            "," | "}" | ";" => {
                if path.len() > prefix.len() {
                    out.push(path);
                }
                return;
            }
            "*" => {
                *i += 1;
                out.push(path);
                return;
            }
            _ => {
                path.push(t.to_owned());
                *i += 1;
            }
        }
    }
}

/// Every path this file names that may point into the crate, as written.
fn written_paths(code: &str) -> Vec<Vec<String>> {
    let toks = tokens(code);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == "use" {
            i += 1;
            use_tree(&toks, &mut i, &[], &mut paths);
            continue;
        }
        let starts_path =
            toks.get(i + 1).map(String::as_str) == Some("::") && (i == 0 || toks[i - 1] != "::");
        if starts_path {
            let mut path = vec![toks[i].clone()];
            let mut j = i + 1;
            while toks.get(j).map(String::as_str) == Some("::")
                && toks
                    .get(j + 1)
                    .is_some_and(|t| t.chars().all(|c| c.is_alphanumeric() || c == '_'))
            {
                path.push(toks[j + 1].clone());
                j += 2;
            }
            paths.push(path);
            i = j;
            continue;
        }
        i += 1;
    }
    paths
}

/// The module a written path points into, if it is one of ours: the longest known module
/// prefix after resolving `crate`, `$crate`, `self`, `super` and child-module names.
fn resolve(from: &ModPath, written: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base: ModPath;
    let mut rest = written;
    match written.first().map(String::as_str) {
        Some("crate") | Some("$crate") => {
            base = Vec::new();
            rest = &written[1..];
        }
        Some("self") => {
            base = from.clone();
            rest = &written[1..];
        }
        Some("super") => {
            base = from.clone();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A child module of this one, named directly.
            let mut child = from.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
            base = from.clone();
        }
        None => return None,
    }
    let mut target = base.clone();
    for segment in rest {
        let mut deeper = target.clone();
        deeper.push(segment.clone());
        if modules.contains(&deeper) {
            target = deeper;
        } else {
            break;
        }
    }
    Some(target)
}

/// File-level edges: module → the modules it uses (without itself and its own ancestors
/// through `super` of a test module, which are stripped anyway).
fn file_graph(files: &[SourceFile]) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph = BTreeMap::new();
    for f in files {
        let mut targets = BTreeSet::new();
        for written in written_paths(&f.code) {
            if let Some(target) = resolve(&f.module, &written, &modules) {
                // Naming the crate root's own items (its re-exports) counts as importing
                // `lib`, which no module may: name the module that defines the item.
                if target != f.module {
                    targets.insert(target);
                }
            }
        }
        graph.insert(f.module.clone(), targets);
    }
    graph
}

/// The top-level module (floor unit) a module belongs to.
fn top(m: &ModPath) -> String {
    m.first().cloned().unwrap_or_else(|| "lib".to_owned())
}

fn name(m: &ModPath) -> String {
    if m.is_empty() {
        "lib".to_owned()
    } else {
        m.join("::")
    }
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct State<N> {
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        on_stack: BTreeSet<N>,
        stack: Vec<N>,
        next: usize,
        found: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(n: &N, g: &BTreeMap<N, BTreeSet<N>>, s: &mut State<N>) {
        s.index.insert(n.clone(), s.next);
        s.low.insert(n.clone(), s.next);
        s.next += 1;
        s.stack.push(n.clone());
        s.on_stack.insert(n.clone());
        for m in g.get(n).into_iter().flatten() {
            if !s.index.contains_key(m) {
                visit(m, g, s);
                let low = s.low[n].min(s.low[m]);
                s.low.insert(n.clone(), low);
            } else if s.on_stack.contains(m) {
                let low = s.low[n].min(s.index[m]);
                s.low.insert(n.clone(), low);
            }
        }
        if s.low[n] == s.index[n] {
            let mut component = Vec::new();
            while let Some(m) = s.stack.pop() {
                s.on_stack.remove(&m);
                let done = &m == n;
                component.push(m);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for n in graph.keys() {
        if !s.index.contains_key(n) {
            visit(n, graph, &mut s);
        }
    }
    s.found
}

fn module_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in file_graph(files) {
        let entry = graph.entry(top(&from)).or_default();
        for t in targets {
            if top(&t) != top(&from) {
                entry.insert(top(&t));
            }
        }
    }
    // lib.rs declares every module: its edges are the tree, not imports.
    graph.remove("lib");
    graph
}

/// The Layout table (`docs/layout.md`): a `module` and a `may import` column, one row per
/// top-level module, the allowed imports as a comma list of `code` names (or "nothing").
fn layout_rules() -> BTreeMap<String, BTreeSet<String>> {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/layout.md"))
            .expect("docs/layout.md");
    let section = page
        .strip_prefix("# Layout\n")
        .expect("docs/layout.md begins with its \"# Layout\" heading")
        .split("\n#")
        .next()
        .unwrap_or_default();
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let header = rows.first().expect("the Layout section has a table");
    let column = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("the Layout table has no {name:?} column"))
    };
    let (module_column, imports_column) = (column("module"), column("may import"));
    let mut rules = BTreeMap::new();
    for cells in &rows[1..] {
        let (Some(module), Some(imports)) = (cells.get(module_column), cells.get(imports_column))
        else {
            continue;
        };
        let Some(module) = module
            .strip_prefix('`')
            .and_then(|m| m.split('`').next())
            .map(str::to_owned)
        else {
            continue;
        };
        let allowed: BTreeSet<String> = imports
            .split(',')
            .filter_map(|i| i.trim().strip_prefix('`'))
            .filter_map(|i| i.split('`').next())
            .map(str::to_owned)
            .collect();
        rules.insert(module, allowed);
    }
    assert!(!rules.is_empty(), "the Layout section has no module table");
    rules
}

#[test]
fn the_source_files_import_each_other_without_circles() {
    let graph = file_graph(&source_files());
    let found = cycles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(" ↔ "))
        .collect();
    assert!(
        shown.is_empty(),
        "import circles between files:\n{}",
        shown.join("\n")
    );
}

#[test]
fn the_top_level_modules_form_floors_without_circles() {
    let graph = module_graph(&source_files());
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import circles between modules: {found:?}\ngraph: {graph:#?}"
    );
}

#[test]
fn every_module_imports_only_what_the_layout_table_allows() {
    let graph = module_graph(&source_files());
    let rules = layout_rules();
    let mut problems = Vec::new();
    for (module, imports) in &graph {
        let Some(allowed) = rules.get(module) else {
            problems.push(format!(
                "{module}: not in the Layout table (docs/layout.md)"
            ));
            continue;
        };
        for import in imports.difference(allowed) {
            problems.push(format!(
                "{module} imports {import}, which the Layout table does not allow"
            ));
        }
    }
    for module in rules.keys() {
        if !graph.contains_key(module) {
            problems.push(format!(
                "{module}: in the Layout table but not a module of src/"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The layers that hold the rules: callable from the CLI and from tests, so no HTTP types.
const BELOW_THE_WEB: &[&str] = &[
    "auth",
    "config",
    "crypto",
    "db",
    "domain",
    "mail",
    "messages",
    "sync",
    "telemetry",
    "templates",
    "times",
];

#[test]
fn nothing_below_the_web_layer_names_actix() {
    let mut found = Vec::new();
    for f in source_files() {
        if !BELOW_THE_WEB.contains(&top(&f.module).as_str()) {
            continue;
        }
        for written in written_paths(&f.code) {
            if written.first().is_some_and(|s| s.starts_with("actix")) {
                found.push(format!("{}: {}", name(&f.module), written.join("::")));
            }
        }
    }
    found.dedup();
    assert!(
        found.is_empty(),
        "actix below the web layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_use_trees_inline_paths_and_child_modules() {
    let modules: BTreeSet<ModPath> = [
        vec![],
        vec!["a".to_owned()],
        vec!["a".to_owned(), "b".to_owned()],
        vec!["c".to_owned()],
        vec!["c".to_owned(), "d".to_owned()],
    ]
    .into_iter()
    .collect();
    let code = strip(
        "use crate::{a::{b::Thing, Other}, c};\n// crate::nope\nfn f() { super::d::g(); let s = \"crate::no\"; d::h(); }\n",
    );
    let from = vec!["c".to_owned()];
    let found: BTreeSet<ModPath> = written_paths(&code)
        .iter()
        .filter_map(|p| resolve(&from, p, &modules))
        .collect();
    let expected: BTreeSet<ModPath> = [
        vec!["a".to_owned(), "b".to_owned()],
        vec!["a".to_owned()],
        vec!["c".to_owned()],
        vec!["c".to_owned(), "d".to_owned()],
        vec![],
    ]
    .into_iter()
    .collect();
    assert_eq!(found, expected);
    let graph: BTreeMap<u8, BTreeSet<u8>> = [
        (1, [2].into()),
        (2, [3].into()),
        (3, [1].into()),
        (4, [1].into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(cycles(&graph), vec![vec![1, 2, 3]]);
}

/// `config` is the leaf every module may read: plain settings that read none of the crate's
/// modules. No file under `src/config/` names a `crate::` path, nor a path that leads out of
/// `config` (`super::super::…`, or another top-level module's name).
#[test]
fn config_imports_nothing_of_ours() {
    let files = source_files();
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let top_level: BTreeSet<&str> = modules
        .iter()
        .filter(|m| m.len() == 1)
        .map(|m| m[0].as_str())
        .collect();
    let config_files: Vec<&SourceFile> = files
        .iter()
        .filter(|f| top(&f.module) == "config")
        .collect();
    assert!(!config_files.is_empty(), "no source file of config found");
    let mut found = Vec::new();
    for f in config_files {
        for written in written_paths(&f.code) {
            let first = written.first().map(String::as_str).unwrap_or_default();
            let target = resolve(&f.module, &written, &modules);
            let names_crate = first == "crate" || first == "$crate";
            let leaves_config = target.as_ref().is_some_and(|t| top(t) != "config");
            let names_another_module = top_level.contains(first)
                && first != "config"
                && target.as_ref().is_none_or(|t| top(t) != "config");
            if names_crate || leaves_config || names_another_module {
                found.push(format!("{}: {}", name(&f.module), written.join("::")));
            }
        }
    }
    found.dedup();
    assert!(
        found.is_empty(),
        "config imports what is not its own:\n{}",
        found.join("\n")
    );
}

/// The string literals of a source file outside comments and its `#[cfg(test)]` module, each
/// with its line number and the code before it on that line.
fn string_literals(text: &str) -> Vec<(usize, String, String)> {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let (mut line, mut line_start) = (1, 0);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        if c == '\n' {
            line += 1;
            line_start = i + 1;
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    i += 1;
                }
            }
        } else if (c == '"' || (c == 'r' && is_raw_string(&chars, i)))
            && !(c == '"' && i > 0 && chars[i - 1] == 'b')
        {
            let (hashes, body) = if c == 'r' {
                let mut j = i + 1;
                while chars.get(j) == Some(&'#') {
                    j += 1;
                }
                (j - i - 1, j + 1)
            } else {
                (0, i + 1)
            };
            let mut j = body;
            while j < chars.len() {
                if c == '"' && chars[j] == '\\' {
                    j += 2;
                    continue;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            let literal: String = chars[body..j.min(chars.len())].iter().collect();
            let before: String = chars[line_start..start].iter().collect();
            found.push((line, literal, before));
            for &ch in &chars[start..j.min(chars.len())] {
                if ch == '\n' {
                    line += 1;
                }
            }
            i = j + 1 + hashes;
            if let Some(nl) = chars[start..i.min(chars.len())]
                .iter()
                .rposition(|&ch| ch == '\n')
            {
                line_start = start + nl + 1;
            }
        } else if c == '\'' && is_char_literal(&chars, i) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The paths of `src/urls.rs`: its literals that begin with `/`, a pattern (`/confirm/{token}`)
/// counting as the path before its `{…}` segment.
fn route_paths() -> BTreeSet<String> {
    let table = std::fs::read_to_string(src_dir().join("urls.rs")).expect("read src/urls.rs");
    string_literals(&table)
        .into_iter()
        .map(|(_, literal, _)| literal)
        .filter(|literal| literal.starts_with('/'))
        .map(|literal| match literal.find("/{") {
            Some(i) if i > 0 => literal[..i].to_owned(),
            _ => literal,
        })
        .collect()
}

/// Whether a literal spells one of the route paths: the path itself, or the path followed by
/// a query, a deeper segment or a fragment; `/` only as itself.
fn spells_a_route(literal: &str, paths: &BTreeSet<String>) -> bool {
    // A format string that puts an origin first ("{}/us-verify-link?id={}") spells one too.
    if let Some((_, rest)) = literal.strip_prefix('{').and_then(|r| r.split_once('}')) {
        if rest != "/" && spells_a_route(rest, paths) {
            return true;
        }
    }
    paths.iter().any(|path| {
        literal == path
            || (path != "/"
                && literal
                    .strip_prefix(path.as_str())
                    .and_then(|rest| rest.chars().next())
                    .is_some_and(|c| matches!(c, '?' | '/' | '#')))
    })
}

/// A `/` that joins path segments (`.join("/")`, `.replace('\\', "/")`) names no route.
fn is_a_separator(literal: &str, before: &str) -> bool {
    let before = before.trim_end();
    literal == "/"
        && (before.ends_with(".join(") || (before.contains(".replace(") && before.ends_with(',')))
}

#[test]
fn route_paths_are_written_in_one_file() {
    let paths = route_paths();
    for expected in ["/", "/login", "/confirm", "/tf-setup", "/static"] {
        assert!(
            paths.contains(expected),
            "src/urls.rs has no {expected:?}: {paths:?}"
        );
    }
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src_dir()).expect("under src");
        // config/paths.rs holds the SECURITY_*_URL keys' defaults, as config holds every
        // key's; web::state's tests check them equal to the URL table's.
        if rel == Path::new("urls.rs") || rel == Path::new("config/paths.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        for (line, literal, before) in string_literals(&text) {
            // Social login reads other providers' discovery documents at the path OpenID
            // Connect Discovery fixes; Latchkey's own (Route::OidcDiscovery) is the same
            // path by the same rule, checked equal below.
            if rel == Path::new("config/oauth.rs") && literal == DISCOVERY_SUFFIX {
                continue;
            }
            if spells_a_route(&literal, &paths) && !is_a_separator(&literal, &before) {
                found.push(format!("src/{}:{line}: {literal:?}", rel.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "route paths written outside src/urls.rs (name a urls::Route instead):\n{}",
        found.join("\n")
    );
    assert_eq!(
        latchkey::urls::Urls::default().path(latchkey::urls::Route::OidcDiscovery),
        DISCOVERY_SUFFIX
    );
    let checker = string_literals(concat!(
        "let a = \"/login?next=x\"; // \"/login\"\n",
        "let b = r#\"/tf-setup/x\"#; let c = '\"';\n",
        "let d = \"/loginx\"; let e = \"/\"; x.join(\"/\");\n",
        "#[cfg(test)]\nmod t { \"/login\" }",
    ));
    assert!(spells_a_route("{}/us-verify-link?id={}", &paths));
    assert!(spells_a_route("{base}/login", &paths));
    assert!(!spells_a_route("{}/{}", &paths));
    assert!(!spells_a_route("{}/", &paths));
    let spelled: Vec<(usize, &str)> = checker
        .iter()
        .filter(|(_, l, before)| spells_a_route(l, &paths) && !is_a_separator(l, before))
        .map(|(line, l, _)| (*line, l.as_str()))
        .collect();
    assert_eq!(
        spelled,
        [(1, "/login?next=x"), (2, "/tf-setup/x"), (3, "/")]
    );
}
