//! The documentation's links lead somewhere: every Markdown link in `README.md`, `SECURITY.md`,
//! `bench/README.md` and every page of the book in `docs/` is checked, and the book's
//! `docs/SUMMARY.md` lists every page in `docs/` (and nothing else).
//!
//! * `](#anchor)` must be the GitHub slug of a heading in the same file: lower case, every
//!   character but letters, digits, `-`, `_` and spaces dropped, spaces turned into `-`; a
//!   repeated heading gets `-1`, `-2`, … .
//! * `](relative/path)` must exist relative to the file, inside the repository; with
//!   `#anchor`, a Markdown target must have that heading.
//! * `http://`, `https://` and `mailto:` links are not followed.
//! * Links inside fenced code blocks, inline code and HTML comments are not links.
//! * A book page's headings get the same anchor from mdBook as from GitHub, so a link that
//!   resolves on GitHub resolves in the built book too.
//!
//! Plain std, no network: it runs with `cargo test --test doc_links`.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

/// The documents outside the book whose links are checked, relative to the crate root.
const DOCUMENTS: &[&str] = &["README.md", "SECURITY.md", "bench/README.md"];

/// The book's folder (`docs/book.toml`, `src = "."`) and its table of contents.
const BOOK: &str = "docs";
const SUMMARY: &str = "docs/SUMMARY.md";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// The documents
// ---------------------------------------------------------------------------------------

#[test]
fn every_readme_anchor_and_file_link_resolves() {
    assert_document_links_resolve("README.md");
}

#[test]
fn every_security_md_link_resolves() {
    assert_document_links_resolve("SECURITY.md");
}

#[test]
fn every_bench_readme_link_resolves() {
    assert_document_links_resolve("bench/README.md");
}

#[test]
fn every_book_page_link_resolves() {
    let pages = book_pages();
    assert!(
        pages.len() > 1,
        "no pages found in {BOOK}/ besides the summary: {pages:?}"
    );
    let mut broken = Vec::new();
    let mut seen = 0;
    for page in &pages {
        let path = root().join(page);
        let text = read(&path);
        seen += links(&text).len();
        broken.extend(broken_links(&path, &text));
    }
    // A book whose links the parser cannot see would pass vacuously.
    assert!(seen > pages.len(), "only {seen} links found in {pages:?}");
    assert!(
        broken.is_empty(),
        "{} broken link(s) in {BOOK}/:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn the_summary_lists_every_page_of_the_book_and_only_those() {
    let summary = read(&root().join(SUMMARY));
    let pages: Vec<String> = book_pages().into_iter().filter(|p| p != SUMMARY).collect();
    let problems = summary_problems(&summary, &pages);
    assert!(
        problems.is_empty(),
        "{SUMMARY} and the pages in {BOOK}/ disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn book_headings_get_the_same_anchor_in_the_book_as_on_github() {
    let mut differ = Vec::new();
    for page in book_pages() {
        let text = read(&root().join(&page));
        for (line_no, line) in prose_lines_keeping_code_spans(&text) {
            let Some(heading) = atx_heading(&line) else {
                continue;
            };
            let (github, mdbook) = (github_slug(&heading), mdbook_slug(&heading));
            if github != mdbook {
                differ.push(format!(
                    "{page}:{line_no}: {heading:?}: GitHub #{github}, mdBook #{mdbook}"
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "headings whose anchor differs between GitHub and the book (a link can only work in \
         one of them):\n{}",
        differ.join("\n")
    );
}

#[test]
fn the_sections_other_documents_rely_on_are_there() {
    // Sections that are linked from elsewhere (SECURITY.md, bench/README.md, the README's
    // quick start and mounting, tests/architecture.rs's Layout table). Deleting one of them
    // must fail here, not silently break those links.
    for (doc, anchor) in [
        ("README.md", "quick-start-two-commands"),
        ("README.md", "protecting-your-own-routes-mounting-latchkey"),
        ("docs/mail.md", "mail"),
        ("docs/passwords.md", "policy"),
        ("docs/benchmark.md", "benchmark"),
        ("docs/configuration.md", "configuration"),
        ("docs/layout.md", "layout"),
    ] {
        let slugs = heading_slugs(&read(&root().join(doc)));
        assert!(
            slugs.contains(anchor),
            "{doc} has no heading with the slug {anchor:?}; headings: {slugs:?}"
        );
    }
}

#[test]
fn every_checked_document_exists() {
    for doc in DOCUMENTS {
        assert!(root().join(doc).is_file(), "{doc} is missing");
    }
}

fn assert_document_links_resolve(doc: &str) {
    let path = root().join(doc);
    let text = read(&path);
    // A document whose links the parser cannot see would pass vacuously.
    assert!(!links(&text).is_empty(), "no links found in {doc}");
    let broken = broken_links(&path, &text);
    assert!(
        broken.is_empty(),
        "{} broken link(s) in {doc}:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The checker checks what it should (each of these fails if the checker lets a broken
// link through)
// ---------------------------------------------------------------------------------------

/// A document that does not exist on disk, in the crate root: its relative links resolve
/// against the real repository.
fn check(text: &str) -> Vec<String> {
    broken_links(&root().join("virtual-test-document.md"), text)
}

#[test]
fn an_anchor_without_a_matching_heading_is_reported() {
    let broken = check("# Title\n\nSee [mail](#mail).\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("#mail"), "{broken:?}");
    assert!(broken[0].contains(":3:"), "names the line: {broken:?}");
}

#[test]
fn an_anchor_matching_a_heading_passes() {
    assert_eq!(
        check("## Mail\n\nSee [mail](#mail).\n"),
        Vec::<String>::new()
    );
}

#[test]
fn a_link_to_a_missing_file_is_reported() {
    let broken = check("See [the notes](docs/no-such-file.md).\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("docs/no-such-file.md"), "{broken:?}");
}

#[test]
fn a_link_to_an_existing_file_or_folder_passes() {
    let text = "[manifest](Cargo.toml), [bench](bench/), [results](./bench/results), \
                [example](examples/mount.rs)\n";
    assert_eq!(check(text), Vec::<String>::new());
}

#[test]
fn an_anchor_into_another_markdown_file_is_checked_against_its_headings() {
    assert_eq!(
        check("[ok](README.md#quick-start-two-commands)\n"),
        Vec::<String>::new()
    );
    let broken = check("[gone](README.md#no-such-section-anywhere)\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("no-such-section-anywhere"), "{broken:?}");
}

#[test]
fn a_link_out_of_the_repository_is_reported() {
    let broken = check("[ref](../shared/ref/BEHAVIOUR.md)\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("outside the repository"), "{broken:?}");
}

#[test]
fn web_and_mail_links_are_not_followed() {
    let text = "[a](https://example.invalid/x#y) [b](http://example.invalid) \
                [c](mailto:nobody@example.invalid)\n";
    assert_eq!(check(text), Vec::<String>::new());
}

#[test]
fn links_in_fenced_code_inline_code_and_comments_are_ignored() {
    let text = "# T\n\n```markdown\n[x](#nowhere)\n```\n\n  ~~~\n  [y](missing.md)\n  ~~~\n\n\
                Use `[z](#nowhere)` like this.\n<!-- [w](#nowhere) -->\n<!--\n[v](gone.md)\n-->\n";
    assert_eq!(check(text), Vec::<String>::new());
    // …but a link after the fence is closed counts again.
    let after = format!("{text}[u](#nowhere)\n");
    assert_eq!(check(&after).len(), 1);
}

#[test]
fn headings_inside_fenced_code_are_not_anchors() {
    let broken = check("```text\n# Not a heading\n```\n[x](#not-a-heading)\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
}

#[test]
fn reference_style_definitions_are_checked_too() {
    let broken = check("See [the notes][n].\n\n[n]: docs/no-such-file.md\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
}

#[test]
fn slugs_follow_githubs_rules() {
    for (heading, slug) in [
        ("Quick start (two commands)", "quick-start-two-commands"),
        (
            "Protecting your own routes (mounting Latchkey)",
            "protecting-your-own-routes-mounting-latchkey",
        ),
        (
            "Adopting a Flask-Security-Too database",
            "adopting-a-flask-security-too-database",
        ),
        (
            "Sessions, timeouts and re-authentication",
            "sessions-timeouts-and-re-authentication",
        ),
        ("The diesel CLI", "the-diesel-cli"),
        ("`SECURITY_MSG_<NAME>` keys", "security_msg_name-keys"),
        ("[Linked](https://example.com) text", "linked-text"),
        ("Closing hashes ##", "closing-hashes"),
        ("What's new: 1.0 – ünïcode", "whats-new-10--ünïcode"),
        ("Two  spaces", "two--spaces"),
    ] {
        let line = format!("## {heading}");
        let text = atx_heading(&line).expect("a heading");
        assert_eq!(github_slug(&text), slug, "{heading:?}");
    }
}

#[test]
fn repeated_headings_get_numbered_slugs() {
    let slugs = heading_slugs("# Notes\n## Notes\n### Notes\n## Other\n");
    for slug in ["notes", "notes-1", "notes-2", "other"] {
        assert!(slugs.contains(slug), "{slug}: {slugs:?}");
    }
    assert_eq!(
        check("# Notes\n## Notes\n[second](#notes-1) [third](#notes-2)\n").len(),
        1,
        "only two headings: #notes-2 does not exist"
    );
}

#[test]
fn a_link_from_a_book_page_resolves_against_the_docs_folder() {
    let page = root().join(BOOK).join("virtual-test-page.md");
    let ok = "[mail](mail.md) [policy](passwords.md#policy) [front](../README.md) \
              [security](../SECURITY.md#what-ends-what-the-credential-lifecycle) \
              [example](../examples/mount.rs)\n";
    assert_eq!(broken_links(&page, ok), Vec::<String>::new());
    // Relative to docs/, not to the crate root: README.md there does not exist.
    let broken = broken_links(&page, "[front](README.md)\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("docs/README.md"), "{broken:?}");
    // An anchor into another page is checked against that page's headings.
    let broken = broken_links(&page, "[gone](passwords.md#no-such-section)\n");
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("no-such-section"), "{broken:?}");
}

#[test]
fn a_page_missing_from_the_summary_or_an_entry_without_a_page_is_reported() {
    let pages = vec!["docs/intro.md".to_owned(), "docs/mail.md".to_owned()];
    let summary = "# Summary\n\n[Intro](intro.md)\n\n# Part\n\n- [Mail](mail.md)\n";
    assert_eq!(summary_problems(summary, &pages), Vec::<String>::new());

    let missing = summary_problems("# Summary\n\n- [Mail](mail.md)\n", &pages);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("docs/intro.md"), "{missing:?}");

    let extra = summary_problems(&format!("{summary}- [Gone](gone.md)\n"), &pages);
    assert_eq!(extra.len(), 1, "{extra:?}");
    assert!(extra[0].contains("gone.md"), "{extra:?}");

    let twice = summary_problems(&format!("{summary}- [Again](mail.md)\n"), &pages);
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(twice[0].contains("more than once"), "{twice:?}");
}

#[test]
fn mdbook_slugs_match_githubs_for_ordinary_headings() {
    for heading in [
        "Quick start (two commands)",
        "Usernames: change and recovery",
        "What it does (and where it does better than the reference)",
        "`SECURITY_MSG_<NAME>` keys",
        "Über: 1.0 – ÜNÏCODE",
    ] {
        assert_eq!(mdbook_slug(heading), github_slug(heading), "{heading:?}");
    }
    // Where they part: mdBook turns any whitespace into `-`, GitHub only spaces.
    assert_ne!(mdbook_slug("Tab\tstop"), github_slug("Tab\tstop"));
}

// ---------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------

/// The book's Markdown files (the summary included), relative to the crate root, sorted;
/// sub-folders of `docs/` included.
fn book_pages() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join(BOOK), &mut found);
    let mut pages: Vec<String> = found.iter().map(|p| shown(p).replace('\\', "/")).collect();
    pages.sort();
    pages
}

/// What is wrong between a summary (`docs/SUMMARY.md`'s text) and the pages of the book
/// (crate-root relative, the summary left out): a page the summary does not list, an entry
/// whose page is not among them, an entry listed twice.
fn summary_problems(summary: &str, pages: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut listed = HashSet::new();
    for (line_no, target) in links(summary) {
        let lower = target.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            problems.push(format!(
                "{SUMMARY}:{line_no}: ({target}): a summary entry must be a page of the book"
            ));
            continue;
        }
        let file = target.split('#').next().unwrap_or_default();
        let page = normalize(&Path::new(BOOK).join(percent_decode(file)))
            .to_string_lossy()
            .replace('\\', "/");
        if !pages.contains(&page) {
            problems.push(format!(
                "{SUMMARY}:{line_no}: ({target}): no such page in {BOOK}/"
            ));
        }
        if !listed.insert(page.clone()) {
            problems.push(format!(
                "{SUMMARY}:{line_no}: ({target}): {page} is listed more than once"
            ));
        }
    }
    for page in pages {
        if !listed.contains(page) {
            problems.push(format!(
                "{page} is not in {SUMMARY}: mdBook would leave it out of the book"
            ));
        }
    }
    problems
}

/// mdBook's anchor for a heading (0.5's `id_from_content`): lower case, letters, digits, `-`
/// and `_` kept, each whitespace character a `-`, the rest dropped.
fn mdbook_slug(heading: &str) -> String {
    link_text_only(heading)
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One message per broken link, `file:line: (target): why`.
fn broken_links(doc: &Path, text: &str) -> Vec<String> {
    let own_slugs = heading_slugs(text);
    let mut broken = Vec::new();
    for (line_no, target) in links(text) {
        if let Err(why) = resolve(doc, &own_slugs, &target) {
            broken.push(format!("{}:{line_no}: ({target}): {why}", shown(doc)));
        }
    }
    broken
}

/// Checks one link target found in `doc`.
fn resolve(doc: &Path, own_slugs: &HashSet<String>, target: &str) -> Result<(), String> {
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
    {
        return Ok(());
    }
    if let Some(scheme) = scheme_of(target) {
        return Err(format!(
            "a {scheme}: link; only relative paths, #anchors and web/mail links are allowed"
        ));
    }
    let (path_part, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(percent_decode(a))),
        None => (target, None),
    };
    let path_part = path_part.split('?').next().unwrap_or("");
    if path_part.is_empty() {
        let anchor = anchor.unwrap_or_default();
        return if own_slugs.contains(&anchor) {
            Ok(())
        } else {
            Err(format!(
                "no heading in this file has the slug {anchor:?}{}",
                closest(&anchor, own_slugs)
            ))
        };
    }
    let decoded = percent_decode(path_part);
    let base = if decoded.starts_with('/') {
        root()
    } else {
        doc.parent().map_or_else(root, Path::to_path_buf)
    };
    let resolved = normalize(&base.join(decoded.trim_start_matches('/')));
    if !resolved.starts_with(normalize(&root())) {
        return Err(format!(
            "{} is outside the repository (it would not resolve in a clone)",
            resolved.display()
        ));
    }
    if !resolved.exists() {
        return Err(format!("{} does not exist", shown(&resolved)));
    }
    if let Some(anchor) = anchor {
        let is_markdown = resolved
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md"));
        if is_markdown && resolved.is_file() {
            let slugs = heading_slugs(&read(&resolved));
            if !slugs.contains(&anchor) {
                return Err(format!(
                    "{} has no heading with the slug {anchor:?}{}",
                    shown(&resolved),
                    closest(&anchor, &slugs)
                ));
            }
        }
    }
    Ok(())
}

/// `Some("ftp")` for `ftp://…`, `None` for a path (a scheme is letters, digits, `+-.` before
/// the first `:`, and comes before any `/`, `#` or `?`).
fn scheme_of(target: &str) -> Option<&str> {
    let colon = target.find(':')?;
    let scheme = &target[..colon];
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// A hint naming existing slugs that share a word with the wanted one, to make a typo
/// obvious.
fn closest(wanted: &str, slugs: &HashSet<String>) -> String {
    let words: Vec<&str> = wanted.split('-').filter(|w| w.len() >= 4).collect();
    let mut candidates: Vec<&String> = slugs
        .iter()
        .filter(|s| words.iter().any(|w| s.contains(w)))
        .collect();
    candidates.sort();
    if candidates.is_empty() {
        String::new()
    } else {
        format!(" (similar: {candidates:?})")
    }
}

/// `path` relative to the repository, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(normalize(&root()))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `a/./b/../c` → `a/c`, without touching the file system (the target may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The lines of `text` that are prose: `(line number, line)` with fenced code blocks and
/// HTML comments left out, and inline code spans blanked.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut in_comment = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((ch, len)) = fence {
            let run = trimmed.chars().take_while(|&c| c == ch).count();
            if run >= len && trimmed[run * ch.len_utf8()..].trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if !in_comment {
            if let Some(ch) = ['`', '~'].into_iter().find(|&c| trimmed.starts_with(c)) {
                let run = trimmed.chars().take_while(|&c| c == ch).count();
                if run >= 3 {
                    fence = Some((ch, run));
                    continue;
                }
            }
        }
        let (kept, still_in_comment) = strip_comments(line, in_comment);
        in_comment = still_in_comment;
        out.push((i + 1, blank_inline_code(&kept)));
    }
    out
}

/// Removes `<!-- … -->` from a line; `in_comment` says whether the line starts inside one.
fn strip_comments(line: &str, mut in_comment: bool) -> (String, bool) {
    let mut kept = String::new();
    let mut rest = line;
    loop {
        if in_comment {
            match rest.find("-->") {
                Some(end) => {
                    rest = &rest[end + 3..];
                    in_comment = false;
                }
                None => return (kept, true),
            }
        } else {
            match rest.find("<!--") {
                Some(start) => {
                    kept.push_str(&rest[..start]);
                    rest = &rest[start + 4..];
                    in_comment = true;
                }
                None => {
                    kept.push_str(rest);
                    return (kept, false);
                }
            }
        }
    }
}

/// Replaces each inline code span (a run of backticks up to the next run of the same
/// length) with spaces, so that nothing in it is taken for a link.
fn blank_inline_code(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&c| c == '`').count();
        // Find the closing run of exactly the same length.
        let mut j = i + run;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                if r == run {
                    close = Some(j);
                    break;
                }
                j += r;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                out.extend(std::iter::repeat_n(' ', j + run - i));
                i = j + run;
            }
            None => {
                // An unmatched run is literal text.
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// Every link target in `text`, with its line number: inline links and images
/// (`[text](target "title")`) and reference definitions (`[label]: target`).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (line_no, line) in prose_lines(text) {
        if let Some(target) = reference_definition(&line) {
            found.push((line_no, target));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let (target, used) = inline_target(after);
            if !target.is_empty() {
                found.push((line_no, target));
            }
            rest = &after[used..];
        }
    }
    found
}

/// The target of `[label]: target` at the start of a line (up to three spaces of indent).
fn reference_definition(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line.trim_start_matches(' ').strip_prefix('[')?;
    let close = rest.find("]:")?;
    if close == 0 || rest[..close].contains('[') {
        return None;
    }
    let target = rest[close + 2..].split_whitespace().next()?;
    Some(
        target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
    )
}

/// The target at the start of `after` (the text following `](`), and how many bytes of it
/// the link used.
fn inline_target(after: &str) -> (String, usize) {
    if let Some(inner) = after.strip_prefix('<') {
        return match inner.find('>') {
            Some(end) => (inner[..end].to_owned(), end + 2),
            None => (String::new(), 0),
        };
    }
    let mut depth = 0usize;
    for (i, c) in after.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return (after[..i].to_owned(), i + 1),
            ')' => depth -= 1,
            c if c.is_whitespace() => return (after[..i].to_owned(), i),
            _ => {}
        }
    }
    (after.to_owned(), after.len())
}

/// The anchors GitHub gives the headings of `text` (ATX headings outside code blocks).
fn heading_slugs(text: &str) -> HashSet<String> {
    let mut used = HashSet::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (_, line) in prose_lines_keeping_code_spans(text) {
        let Some(heading) = atx_heading(&line) else {
            continue;
        };
        let base = github_slug(&heading);
        let mut slug = base.clone();
        let n = counts.entry(base.clone()).or_insert(0);
        while used.contains(&slug) {
            *n += 1;
            slug = format!("{base}-{n}");
        }
        used.insert(slug);
    }
    used
}

/// Like [`prose_lines`] but with inline code kept: a heading's code span is part of its text.
fn prose_lines_keeping_code_spans(text: &str) -> Vec<(usize, String)> {
    let all: Vec<&str> = text.lines().collect();
    prose_lines(text)
        .into_iter()
        .map(|(n, _)| (n, all[n - 1].to_owned()))
        .collect()
}

/// The text of an ATX heading (`# …` to `###### …`), without the closing `#`s.
fn atx_heading(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let line = line.trim_start_matches(' ');
    let level = line.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let mut text = rest.trim();
    // A closing sequence of `#`s counts only after a space (or as the whole text).
    let without_closing = text.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        text = without_closing.trim_end();
    }
    Some(text.to_owned())
}

/// GitHub's anchor for a heading: links and images reduced to their text, lower case,
/// everything but letters, digits, `-`, `_` and spaces dropped, each space a `-`.
fn github_slug(heading: &str) -> String {
    let text = link_text_only(heading);
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// `[text](url)` → `text` (and `![alt](url)` → `alt`), as GitHub renders a heading before
/// taking its anchor.
fn link_text_only(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let (_, used) = inline_target(&rest[close + 2..]);
        let prefix = rest[..open].strip_suffix('!').unwrap_or(&rest[..open]);
        out.push_str(prefix);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[close + 2 + used..];
    }
    out.push_str(rest);
    out
}
