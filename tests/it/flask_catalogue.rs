//! Flask-Security's own translations, whole (issue 26, item 7): with
//! `SECURITY_I18N_DIRNAME` at an installed Flask-Security's `translations` folder, the
//! login, register, reset and account pages in Japanese, Polish, Russian and Spanish show
//! no English text that Flask-Security's catalogue translates. The test reads the
//! catalogue's `.po` files itself (not through Latchkey's reader) and looks at every text a
//! reader sees: text, the title, labels, placeholders, tooltips and the words of buttons.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{new_email, reference, spawn_app_with, unescape_html, TestClient, PASSWORD};
use latchkey::messages::flask_msgids::EQUIVALENTS;
use reqwest::header::ACCEPT_LANGUAGE;
use reqwest::StatusCode;

/// The installed Flask-Security's `translations` folder (the reference app's virtualenv).
fn flask_translations() -> PathBuf {
    let python = reference::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import flask_security, os; \
             print(os.path.join(os.path.dirname(flask_security.__file__), 'translations'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(out.status.success(), "{out:?}");
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(dir.join("ja_JP").is_dir(), "no ja_JP in {}", dir.display());
    dir
}

/// The quoted strings of one `.po` keyword's lines, joined and unescaped.
fn po_string(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        let Some(quoted) = line
            .find('"')
            .and_then(|start| line.rfind('"').map(|end| &line[start + 1..end]))
        else {
            continue;
        };
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// The English msgids (singular and plural) that a `.po` file translates: a non-empty
/// `msgstr` (or `msgstr[0]`) other than the msgid, not marked fuzzy; the header left out.
fn translated_msgids(po: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(po).unwrap_or_else(|e| panic!("{}: {e}", po.display()));
    let mut found = BTreeSet::new();
    for entry in text.split("\n\n") {
        let lines: Vec<&str> = entry.lines().map(str::trim).collect();
        if lines
            .iter()
            .any(|l| l.starts_with("#,") && l.contains("fuzzy"))
        {
            continue;
        }
        // Each keyword's value runs over its line and the bare strings after it.
        let mut fields: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut current = None;
        for line in &lines {
            if line.starts_with('#') {
                current = None;
            } else if line.starts_with('"') {
                if let Some(key) = current {
                    fields.entry(key).or_default().push(line);
                }
            } else if let Some((key, _)) = line.split_once(' ') {
                current = Some(key);
                fields.entry(key).or_default().push(line);
            }
        }
        let get = |key: &str| fields.get(key).map(|l| po_string(l)).unwrap_or_default();
        let translation = if fields.contains_key("msgstr") {
            get("msgstr")
        } else {
            get("msgstr[0]")
        };
        let id = get("msgid");
        // A word the language spells the same ("Menu" in Polish) is not English left over.
        if id.is_empty() || translation.is_empty() || translation == id {
            continue;
        }
        found.insert(id);
        let plural = get("msgid_plural");
        if !plural.is_empty() {
            found.insert(plural);
        }
    }
    found
}

/// Every text of a page a reader sees: the text between tags (scripts and styles left
/// out), and the `placeholder`, `title`, `aria-label` and `alt` attributes and the `value`
/// of an `<input>` button. Each unescaped, its whitespace collapsed, and a title's parts
/// ("Sign in · Latchkey") apart.
fn visible_texts(html: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut push = |raw: &str| {
        let text = unescape_html(raw)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for part in text.split(" · ") {
            if !part.is_empty() {
                texts.push(part.to_owned());
            }
        }
    };
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push(&rest[..open]);
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let close = rest.find('>').map_or(rest.len(), |i| i + 1);
        let tag = &rest[..close];
        rest = &rest[close..];
        let name: String = tag[1..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        for attr in attributes(tag) {
            let shown = matches!(
                attr.0.as_str(),
                "placeholder" | "title" | "aria-label" | "alt"
            ) || (attr.0 == "value"
                && name == "input"
                && attributes(tag).iter().any(|(k, v)| {
                    k == "type" && matches!(v.as_str(), "submit" | "button" | "reset")
                }));
            if shown {
                push(&attr.1);
            }
        }
        if name == "script" || name == "style" {
            let end = format!("</{name}");
            rest = rest.find(&end).map_or("", |i| &rest[i..]);
        }
    }
    push(rest);
    texts
}

/// The attributes of a start tag, names lower-cased.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let inner = tag.trim_start_matches('<').trim_end_matches('>');
    let inner = inner.trim_end_matches('/');
    let mut out = Vec::new();
    let mut rest = inner.find(char::is_whitespace).map_or("", |i| &inner[i..]);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            out.push((name, String::new()));
            continue;
        };
        let after = after.trim_start();
        let (value, tail) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or(""))
            }
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push((name, value.to_owned()));
        rest = tail;
    }
}

/// A text and a msgid say the same words: equal but for case and a closing `.`, `:` or
/// `?` ("Sign in" and Flask-Security's "Sign In").
fn same_words(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim()
            .trim_end_matches(['.', ':', '?', '!'])
            .trim()
            .to_lowercase()
    };
    norm(a) == norm(b)
}

async fn page_in(client: &TestClient, path: &str, accept: &str) -> String {
    let r = client
        .http
        .get(client.url(path))
        .header(ACCEPT_LANGUAGE, accept)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK, "GET {path} in {accept}");
    r.text().await.unwrap()
}

/// Every feature on: confirmation, recovery, password and email changes, usernames,
/// two-factor (with texts and recovery codes), unified sign-in, passkeys.
fn every_feature(dir: &str, usernames: bool) -> Vec<(&str, &str)> {
    vec![
        ("SECURITY_I18N_DIRNAME", dir),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_TRACKABLE", "true"),
        (
            "SECURITY_USERNAME_ENABLE",
            if usernames { "true" } else { "false" },
        ),
        (
            "SECURITY_USERNAME_RECOVERY",
            if usernames { "true" } else { "false" },
        ),
        (
            "SECURITY_CHANGE_USERNAME",
            if usernames { "true" } else { "false" },
        ),
        ("SECURITY_TWO_FACTOR", "true"),
        (
            "SECURITY_TWO_FACTOR_ENABLED_METHODS",
            "authenticator,email,sms",
        ),
        ("SECURITY_TOTP_SECRETS", "flask-catalogue-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_WEBAUTHN", "true"),
    ]
}

/// The pages issue 26 names (login, register, reset, the account pages) and the other pages
/// of the same flows that a plain GET shows.
const ANONYMOUS_PAGES: &[&str] = &["/login", "/register", "/reset", "/confirm", "/us-signin"];
const ACCOUNT_PAGES: &[&str] = &[
    "/profile",
    "/change",
    "/tf-setup",
    "/us-setup",
    "/wan-register",
    "/sessions",
    "/verify",
    "/us-verify",
    "/change-email",
    "/mf-recovery-codes",
];
/// Served only with usernames on.
const USERNAME_PAGES: &[(&str, bool)] = &[("/recover-username", false), ("/change-username", true)];

#[actix_web::test]
async fn flask_securitys_catalogue_leaves_no_english_it_translates_on_the_pages() {
    let translations = flask_translations();
    let dir = translations.to_string_lossy().into_owned();
    let mut english_left: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for usernames in [false, true] {
        let app = spawn_app_with(&every_feature(&dir, usernames)).await;
        let email = new_email("flask-catalogue");
        app.create_user(&email, PASSWORD).await;
        let anonymous = app.client();
        let owner = app.logged_in_client(&email, PASSWORD, false).await;
        for (folder, accept) in [
            ("ja_JP", "ja-JP"),
            ("pl_PL", "pl-PL"),
            ("ru_RU", "ru-RU"),
            ("es_ES", "es-ES"),
        ] {
            let po = translations
                .join(folder)
                .join("LC_MESSAGES/flask_security.po");
            let msgids = translated_msgids(&po);
            assert!(msgids.len() >= 50, "{folder}: {} msgids", msgids.len());
            let lang_attr = format!("<html lang=\"{}\">", accept.to_ascii_lowercase());
            let pages = ANONYMOUS_PAGES
                .iter()
                .map(|p| (&anonymous, *p))
                .chain(ACCOUNT_PAGES.iter().map(|p| (&owner, *p)))
                .chain(
                    USERNAME_PAGES
                        .iter()
                        .filter(|_| usernames)
                        .map(|(p, signed_in)| (if *signed_in { &owner } else { &anonymous }, *p)),
                );
            for (client, path) in pages {
                let html = page_in(client, path, accept).await;
                assert!(html.contains(&lang_attr), "{path} in {accept}: {html}");
                let english: BTreeSet<String> = visible_texts(&page_in(client, path, "en").await)
                    .into_iter()
                    .collect();
                for text in visible_texts(&html) {
                    if let Some(msgid) = msgids.iter().find(|m| same_words(m, &text)) {
                        failures.push(format!(
                            "{folder} {path} (usernames {usernames}): {text:?} is \
                             Flask-Security's {msgid:?}"
                        ));
                    } else if english.contains(&text) {
                        english_left
                            .entry(text)
                            .or_default()
                            .insert(format!("{folder} {path}"));
                    }
                }
            }
        }
    }
    // Latchkey's own texts, which Flask-Security's catalogue does not have, may stay
    // English: listed for the reader (`--nocapture`).
    for (text, seen) in &english_left {
        let first = seen.iter().next().map_or("", String::as_str);
        eprintln!("left in English: {text:?} ({first}, {} pages)", seen.len());
    }
    // The table of equivalents names Flask-Security's msgids as its catalogue spells them.
    let pot = std::fs::read_to_string(translations.join("flask_security.pot")).unwrap();
    for (latchkey, flask) in EQUIVALENTS {
        for msgid in *flask {
            assert!(
                pot.contains(&format!("msgid \"{msgid}\"")),
                "{latchkey:?}: {msgid:?} is not a msgid of Flask-Security's catalogue"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
