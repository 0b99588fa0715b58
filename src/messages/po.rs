//! Reading gettext catalogues: the `.po` text that translators edit and the `.mo` binary that
//! `pybabel compile` / `msgfmt` make from it (what Flask-Babel reads). Only what a message
//! catalogue needs: each translated `msgid` and its `msgstr`, every form of a plural entry,
//! and the header's `Plural-Forms`. Entries marked `fuzzy`, left untranslated, or with a
//! `msgctxt` are skipped (as `msgfmt` skips the first two). `super::plural` reads the header's
//! expression.

use std::collections::HashMap;

/// msgid → msgstr (a plural entry's first form, which is also its singular).
pub type Table = HashMap<String, String>;

/// A plural entry: its `msgid_plural` and every `msgstr[i]`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluralEntry {
    pub plural: String,
    pub forms: Vec<String>,
}

/// msgid → its plural entry.
pub type Plurals = HashMap<String, PluralEntry>;

/// What one catalogue file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Every translated msgid (plural entries by their first form).
    pub table: Table,
    /// The plural entries with all their forms.
    pub plurals: Plurals,
    /// The header's `Plural-Forms` value (`nplurals=3; plural=(n==1 ? 0 : …);`), if any.
    pub plural_forms: Option<String>,
}

impl Parsed {
    /// Takes the header's `Plural-Forms` from the header entry's text.
    fn read_header(&mut self, header: &str) {
        for line in header.lines() {
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("Plural-Forms") && !value.trim().is_empty() {
                    self.plural_forms = Some(value.trim().to_owned());
                }
            }
        }
    }
}

/// Why a catalogue could not be read; `line` is 1-based (0 for a `.mo` file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if *.line > 0 { format!("line {}: ", .line) } else { String::new() })]
pub struct PoError {
    pub line: usize,
    pub reason: String,
}

fn error(line: usize, reason: impl Into<String>) -> PoError {
    PoError {
        line,
        reason: reason.into(),
    }
}

#[derive(Default)]
struct Entry {
    context: Option<String>,
    id: Option<String>,
    /// `msgid_plural`.
    plural: Option<String>,
    /// `msgstr` or `msgstr[0]`.
    text: Option<String>,
    /// `msgstr[1]`, `msgstr[2]`, …
    other_forms: Vec<String>,
    fuzzy: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Context,
    Id,
    Plural,
    Text,
    OtherForm,
}

impl Entry {
    fn has_text(&self) -> bool {
        self.text.is_some()
    }

    fn finish(self, parsed: &mut Parsed) {
        let (Some(id), Some(text)) = (self.id, self.text) else {
            return;
        };
        if id.is_empty() && self.context.is_none() {
            parsed.read_header(&text);
            return;
        }
        // Untranslated and fuzzy entries, and entries in a context (Flask-Security uses none)
        // are not translations of a plain msgid.
        if id.is_empty() || text.is_empty() || self.fuzzy || self.context.is_some() {
            return;
        }
        if let Some(plural) = self.plural {
            // As msgfmt: a plural entry with a form left empty is not translated.
            if self.other_forms.iter().any(String::is_empty) {
                return;
            }
            let mut forms = vec![text.clone()];
            forms.extend(self.other_forms);
            parsed
                .plurals
                .insert(id.clone(), PluralEntry { plural, forms });
        }
        parsed.table.insert(id, text);
    }
}

/// Parses the text of a `.po` file.
pub fn parse_po(source: &str) -> Result<Parsed, PoError> {
    let mut parsed = Parsed::default();
    let mut entry = Entry::default();
    let mut field = Field::None;
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    for (index, raw) in source.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            // A comment after a complete entry starts the next one.
            if entry.has_text() {
                std::mem::take(&mut entry).finish(&mut parsed);
            }
            field = Field::None;
            if let Some(flags) = comment.strip_prefix(',') {
                if flags.split(',').any(|f| f.trim() == "fuzzy") {
                    entry.fuzzy = true;
                }
            }
            continue;
        }
        if line.starts_with('"') {
            let text = unquote(line).map_err(|r| error(line_no, r))?;
            let target = match field {
                Field::None => return Err(error(line_no, "a string outside any entry")),
                Field::Context => entry.context.as_mut(),
                Field::Id => entry.id.as_mut(),
                Field::Plural => entry.plural.as_mut(),
                Field::OtherForm => entry.other_forms.last_mut(),
                Field::Text => entry.text.as_mut(),
            };
            if let Some(target) = target {
                target.push_str(&text);
            }
            continue;
        }
        let (keyword, rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| error(line_no, format!("cannot read {line:?}")))?;
        let value = unquote(rest.trim()).map_err(|r| error(line_no, r))?;
        match keyword {
            "msgctxt" | "msgid" if entry.has_text() => {
                std::mem::take(&mut entry).finish(&mut parsed);
            }
            _ => {}
        }
        field = match keyword {
            "msgctxt" => {
                entry.context = Some(value);
                Field::Context
            }
            "msgid" => {
                if entry.id.is_some() {
                    return Err(error(line_no, "msgid without a msgstr before it"));
                }
                entry.id = Some(value);
                Field::Id
            }
            "msgid_plural" => {
                entry.plural = Some(value);
                Field::Plural
            }
            "msgstr" | "msgstr[0]" => {
                if entry.id.is_none() {
                    return Err(error(line_no, "msgstr without a msgid"));
                }
                entry.text = Some(value);
                Field::Text
            }
            k if k.starts_with("msgstr[") && k.ends_with(']') => {
                let index = k["msgstr[".len()..k.len() - 1]
                    .parse::<usize>()
                    .map_err(|_| error(line_no, format!("cannot read {k:?}")))?;
                if entry.text.is_none() || index != entry.other_forms.len() + 1 {
                    return Err(error(line_no, format!("{k} out of order")));
                }
                entry.other_forms.push(value);
                Field::OtherForm
            }
            other => return Err(error(line_no, format!("unknown keyword {other:?}"))),
        };
    }
    if entry.id.is_some() && !entry.has_text() {
        return Err(error(
            source.lines().count(),
            "the last msgid has no msgstr",
        ));
    }
    entry.finish(&mut parsed);
    Ok(parsed)
}

/// The contents of one `"…"` string, with its C escapes resolved.
fn unquote(quoted: &str) -> Result<String, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|_| quoted.len() >= 2)
        .ok_or_else(|| format!("expected a quoted string, found {quoted:?}"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => return Err(format!("unknown escape \\{other}")),
                None => return Err("a string ends with a backslash".to_owned()),
            },
            '"' => return Err("an unescaped quote inside a string".to_owned()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Parses a `.mo` file (GNU gettext's binary catalogue, either byte order), UTF-8 texts.
pub fn parse_mo(bytes: &[u8]) -> Result<Parsed, PoError> {
    let bad = |reason: &str| error(0, reason);
    let word_at = |at: usize, big_endian: bool| -> Result<usize, PoError> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated .mo file"))?;
        let n = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        usize::try_from(n).map_err(|_| bad("offset out of range"))
    };
    let big_endian = match bytes.get(..4) {
        Some([0xde, 0x12, 0x04, 0x95]) => false,
        Some([0x95, 0x04, 0x12, 0xde]) => true,
        _ => return Err(bad("not a .mo file (wrong magic number)")),
    };
    let word = |at: usize| word_at(at, big_endian);
    let count = word(8)?;
    let originals = word(12)?;
    let translations = word(16)?;
    let string = |table: usize, i: usize| -> Result<&str, PoError> {
        let len = word(table + 8 * i)?;
        let at = word(table + 8 * i + 4)?;
        let raw = bytes
            .get(
                at..at
                    .checked_add(len)
                    .ok_or_else(|| bad("offset out of range"))?,
            )
            .ok_or_else(|| bad("truncated .mo file"))?;
        std::str::from_utf8(raw).map_err(|_| bad("a string is not UTF-8"))
    };
    if count > bytes.len() / 8 {
        return Err(bad("truncated .mo file"));
    }
    let mut parsed = Parsed::default();
    for i in 0..count {
        let original = string(originals, i)?;
        let translated = string(translations, i)?;
        if original.is_empty() {
            parsed.read_header(translated);
            continue;
        }
        // Plural entries hold "singular\0plural" and their forms "one\0two\0…"; entries in a
        // context "ctx\x04msgid".
        let mut ids = original.split('\0');
        let id = ids.next().unwrap_or_default();
        let mut forms = translated.split('\0');
        let text = forms.next().unwrap_or_default();
        if id.is_empty() || text.is_empty() || id.contains('\u{4}') {
            continue;
        }
        if let Some(plural) = ids.next() {
            let forms: Vec<String> = translated.split('\0').map(str::to_owned).collect();
            parsed.plurals.insert(
                id.to_owned(),
                PluralEntry {
                    plural: plural.to_owned(),
                    forms,
                },
            );
        }
        parsed.table.insert(id.to_owned(), text.to_owned());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_po_file_gives_its_translated_entries() {
        let po = r#"# Translations template.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"

#: flask_security/core.py:1
msgid "Invalid password"
msgstr "Mot de passe \"invalide\""

msgid ""
"Instructions have been sent "
"to %(email)s."
msgstr "Envoyé à "
"%(email)s."

#, fuzzy
msgid "Login"
msgstr "Connexion"

msgid "Untranslated"
msgstr ""

msgctxt "menu"
msgid "Register"
msgstr "S'inscrire"

msgid "%(n)s code"
msgid_plural "%(n)s codes"
msgstr[0] "%(n)s Code"
msgstr[1] "%(n)s Codes"

#~ msgid "Obsolete"
#~ msgstr "Veraltet"
"#;
        let table = parse_po(po).unwrap().table;
        assert_eq!(table["Invalid password"], "Mot de passe \"invalide\"");
        assert_eq!(
            table["Instructions have been sent to %(email)s."],
            "Envoyé à %(email)s."
        );
        assert_eq!(table["%(n)s code"], "%(n)s Code");
        assert!(!table.contains_key("Login"), "fuzzy is skipped");
        assert!(!table.contains_key("Untranslated"));
        assert!(
            !table.contains_key("Register"),
            "context entries are skipped"
        );
        assert!(!table.contains_key("Obsolete"));
        assert!(!table.contains_key(""));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn plural_entries_keep_every_form_and_the_header_its_plural_forms() {
        let po = r#"msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && "
"(n%100<10 || n%100>=20) ? 1 : 2);\n"

msgid "%(n)s code"
msgid_plural "%(n)s codes"
msgstr[0] "%(n)s kod"
msgstr[1] "%(n)s kody"
msgstr[2] "%(n)s "
"kodów"

msgid "%(n)s day"
msgid_plural "%(n)s days"
msgstr[0] "%(n)s dzień"
msgstr[1] ""
msgstr[2] "%(n)s dni"
"#;
        let parsed = parse_po(po).unwrap();
        assert_eq!(
            parsed.plural_forms.as_deref(),
            Some("nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);")
        );
        assert_eq!(
            parsed.plurals["%(n)s code"],
            PluralEntry {
                plural: "%(n)s codes".to_owned(),
                forms: vec![
                    "%(n)s kod".into(),
                    "%(n)s kody".into(),
                    "%(n)s kodów".into()
                ],
            }
        );
        assert_eq!(parsed.table["%(n)s code"], "%(n)s kod");
        assert!(
            !parsed.plurals.contains_key("%(n)s day"),
            "a form left empty: untranslated"
        );
        assert!(!parsed.table.contains_key("%(n)s day"));
        let err = parse_po("msgid \"a\"\nmsgid_plural \"b\"\nmsgstr[0] \"x\"\nmsgstr[2] \"z\"\n")
            .unwrap_err();
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn broken_po_files_name_the_line() {
        let err = parse_po("msgid \"a\"\nmsgstr \"b\nmsgid \"c\"\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        let err = parse_po("msgid \"a\"\nmsgstr \"\\q\"\n").unwrap_err();
        assert!(
            err.to_string().starts_with("line 2: unknown escape"),
            "{err}"
        );
        let err = parse_po("msgid \"a\"\nmsgid \"b\"\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse_po("hello\n").is_err());
        assert!(parse_po("msgid \"a\"\n").is_err());
        assert!(parse_po("\"stray\"\n").is_err());
    }

    /// A `.mo` file as `msgfmt` lays it out: header, two tables, then the strings.
    fn mo(entries: &[(&str, &str)], big_endian: bool) -> Vec<u8> {
        let n = entries.len();
        let word = |v: usize| {
            let v = u32::try_from(v).unwrap();
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(word(0x9504_12de));
        out.extend(word(0));
        out.extend(word(n));
        out.extend(word(28));
        out.extend(word(28 + 8 * n));
        out.extend(word(0));
        out.extend(word(0));
        let mut strings = Vec::new();
        let start = 28 + 16 * n;
        let mut tables = (Vec::new(), Vec::new());
        for (id, text) in entries {
            tables.0.extend(word(id.len()));
            tables.0.extend(word(start + strings.len()));
            strings.extend(id.as_bytes());
            strings.push(0);
            tables.1.extend(word(text.len()));
            tables.1.extend(word(start + strings.len()));
            strings.extend(text.as_bytes());
            strings.push(0);
        }
        out.extend(tables.0);
        out.extend(tables.1);
        out.extend(strings);
        out
    }

    #[test]
    fn a_mo_file_in_either_byte_order_gives_its_entries() {
        for big_endian in [false, true] {
            let bytes = mo(
                &[
                    ("", "Content-Type: text/plain; charset=UTF-8\n"),
                    ("Invalid password", "Ungültiges Passwort"),
                    ("%(n)s code\0%(n)s codes", "%(n)s Code\0%(n)s Codes"),
                    ("menu\u{4}Register", "Registrieren"),
                ],
                big_endian,
            );
            let parsed = parse_mo(&bytes).unwrap();
            let table = &parsed.table;
            assert_eq!(table["Invalid password"], "Ungültiges Passwort");
            assert_eq!(table["%(n)s code"], "%(n)s Code");
            assert_eq!(
                parsed.plurals["%(n)s code"].forms,
                ["%(n)s Code", "%(n)s Codes"]
            );
            assert_eq!(table.len(), 2);
        }
    }

    #[test]
    fn broken_mo_files_are_refused() {
        assert!(parse_mo(b"not a catalogue").is_err());
        let mut bytes = mo(&[("a", "b")], false);
        bytes.truncate(bytes.len() - 3);
        assert!(parse_mo(&bytes).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in ".{0,200}") {
            let _ = parse_po(&text);
            let _ = parse_mo(text.as_bytes());
        }
    }
}
