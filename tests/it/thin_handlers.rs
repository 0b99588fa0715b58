//! The web layers make no decisions (docs/layout.md, "Handlers"): under `src/routes` and
//! `src/web` no code emits a security event, opens a transaction or touches the database
//! itself, no handler is over 60 lines, and no sign-in handler checks a credential except
//! through the login state machine (`auth::signin::factors`). Read from the source files as
//! `architecture` reads them: comments, string contents and test modules left out.

use crate::architecture::{source_files, SourceFile};

/// The library's files under `src/routes` and `src/web`.
fn web_layers() -> Vec<SourceFile> {
    source_files()
        .into_iter()
        .filter(|f| matches!(f.module.first().map(String::as_str), Some("routes" | "web")))
        .collect()
}

fn name(f: &SourceFile) -> String {
    format!("src/{}", f.module.join("/"))
}

/// The places in `files` where code says one of `words`.
fn said(files: &[SourceFile], words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for f in files {
        for (n, line) in f.code.lines().enumerate() {
            for word in words {
                if line.contains(word) {
                    found.push(format!("{}:{}: {}", name(f), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_web_layers_emit_no_event_and_open_no_transaction() {
    let found = said(
        &web_layers(),
        &[
            "emit(",
            "transaction(",
            "exclusive(",
            ".run(",
            ".run_with(",
            "sql_query",
        ],
    );
    assert!(
        found.is_empty(),
        "rules emit events and own their transactions (call a function in auth):\n{}",
        found.join("\n")
    );
}

#[test]
fn sign_in_handlers_check_credentials_only_through_the_login_state_machine() {
    let routes: Vec<SourceFile> = web_layers()
        .into_iter()
        .filter(|f| f.module.first().map(String::as_str) == Some("routes"))
        .collect();
    let found = said(
        &routes,
        &[
            "login_with_password",
            "check_counted",
            "check_code(",
            "use_recovery_code",
            "finish_authentication",
            "unified::sign_in(",
            "unified::check_link",
            "unified::reverify",
            "reprove_password",
            "first_factor_proved",
            "second_factor_proved",
        ],
    );
    assert!(
        found.is_empty(),
        "a sign-in handler makes one call, into auth::signin::factors:\n{}",
        found.join("\n")
    );
}

/// The length in lines of each top-level function of `code` (from its `fn` line to its
/// closing brace in the first column), with its name.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let is_fn = ["pub async fn ", "async fn ", "pub fn ", "fn "]
            .iter()
            .find(|p| line.starts_with(*p));
        if let Some(prefix) = is_fn {
            let name: String = line[prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let start = i;
            while i < lines.len() && lines[i] != "}" {
                i += 1;
            }
            out.push((name, start + 1, i + 1 - start));
        }
        i += 1;
    }
    out
}

#[test]
fn no_handler_is_over_sixty_lines() {
    let mut long = Vec::new();
    for f in web_layers() {
        if f.module.first().map(String::as_str) != Some("routes") {
            continue;
        }
        for (function, line, length) in functions(&f.code) {
            if length > 60 {
                long.push(format!("{}:{line}: {function} ({length} lines)", name(&f)));
            }
        }
    }
    assert!(
        long.is_empty(),
        "handlers parse, call one rule and render (move the rest into auth):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checkers_find_what_they_look_for() {
    let code = "fn short() {\n    one();\n}\n\npub async fn long() {\n    a();\n    b();\n}\n";
    assert_eq!(
        functions(code),
        vec![("short".to_owned(), 1, 3), ("long".to_owned(), 5, 4)]
    );
    let file = SourceFile {
        module: vec!["routes".to_owned(), "x".to_owned()],
        code: "fn f() {\n    services.emit(e);\n}\n".to_owned(),
    };
    assert_eq!(
        said(&[file], &["emit("]),
        vec!["src/routes/x:2: services.emit(e);".to_owned()]
    );
}
