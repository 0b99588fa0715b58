//! Language tags and the choice of a language for a request: the `lang` cookie when it names
//! a language the catalogue has, else the best of `Accept-Language` (quality values), else the
//! default language.

use std::fmt;
use std::sync::Arc;

/// A language tag, normalised: lower case, subtags joined by `-` (`de`, `pt-br`). Gettext's
/// folder names (`de_DE`, `zh_Hans_CN`) and HTTP's (`de-DE`) give the same tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lang(Arc<str>);

impl Lang {
    /// A tag made of one to eight letters and then subtags of letters and digits; anything
    /// else (`*`, a path, an empty string) is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 35 {
            return None;
        }
        let mut tag = String::with_capacity(raw.len());
        for (i, sub) in raw.split(['-', '_']).enumerate() {
            let ok = (1..=8).contains(&sub.len())
                && if i == 0 {
                    sub.chars().all(|c| c.is_ascii_alphabetic())
                } else {
                    sub.chars().all(|c| c.is_ascii_alphanumeric())
                };
            if !ok {
                return None;
            }
            if i > 0 {
                tag.push('-');
            }
            tag.push_str(&sub.to_ascii_lowercase());
        }
        Some(Self(tag.into()))
    }

    /// English, the language of the message ids.
    pub fn english() -> Self {
        Self("en".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language without region or script: `pt` for `pt-br`.
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// This tag and, when it has a region or script, its primary language: where a
    /// translation is looked for, most specific first.
    pub fn fallbacks(&self) -> impl Iterator<Item = &str> {
        let primary = (self.primary() != self.as_str()).then(|| self.primary());
        std::iter::once(self.as_str()).chain(primary)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The language for a request: `cookie` if `supported`, else the best supported tag of
/// `accepted` (the request's `Accept-Language`, best first, without `*` or `q=0`: the web
/// layer reads it with actix-web's typed header; a region the catalogue lacks falls back to
/// its language, and a bare language to one of its regions), else `default`.
pub fn choose(cookie: Option<&str>, accepted: &[Lang], supported: &[Lang], default: &Lang) -> Lang {
    let find = |tag: &str| supported.iter().find(|l| l.as_str() == tag).cloned();
    if let Some(lang) = cookie.and_then(Lang::parse).and_then(|l| find(l.as_str())) {
        return lang;
    }
    for wanted in accepted {
        if let Some(lang) = wanted.fallbacks().find_map(find) {
            return lang;
        }
        if let Some(lang) = supported.iter().find(|l| l.primary() == wanted.as_str()) {
            return lang.clone();
        }
    }
    default.clone()
}

/// A language's name in that language, for the language chooser (the tag when unknown).
pub fn native_name(lang: &Lang) -> String {
    let name = match lang.as_str() {
        "en" => "English",
        "de" => "Deutsch",
        "fr" => "Français",
        "es" => "Español",
        "it" => "Italiano",
        "nl" => "Nederlands",
        "pt" => "Português",
        "pt-br" => "Português (Brasil)",
        "pt-pt" => "Português (Portugal)",
        "da" => "Dansk",
        "ca" => "Català",
        "eu" => "Euskara",
        "hu" => "Magyar",
        "is" => "Íslenska",
        "pl" => "Polski",
        "tr" => "Türkçe",
        "ru" => "Русский",
        "ja" => "日本語",
        "ar" => "العربية",
        "hy" => "Հայերեն",
        "af" => "Afrikaans",
        "zh-hans" | "zh-hans-cn" => "简体中文",
        "zh-hant" | "zh-hant-tw" => "繁體中文",
        tag => {
            // A language with a region (Flask-Security's folders: `ja_JP`, `pl_PL`) is named
            // as its language when that one has a name; an unknown one by its tag.
            let primary = lang.primary();
            return match Lang::parse(primary) {
                Some(base) if primary != tag => native_name(&base),
                _ => tag.to_owned(),
            };
        }
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(tags: &[&str]) -> Vec<Lang> {
        tags.iter().map(|t| Lang::parse(t).unwrap()).collect()
    }

    /// Flask-Security's translation folders are named by language and region (`ja_JP`,
    /// `pl_PL`): the chooser names each language in its own script, not by its tag.
    #[test]
    fn every_flask_security_language_is_named_in_its_own_script() {
        for folder in [
            "af_ZA",
            "ar",
            "ar_SA",
            "ca_ES",
            "da_DK",
            "de_DE",
            "es_ES",
            "eu_ES",
            "fr_FR",
            "hu_HU",
            "hy_AM",
            "is_IS",
            "it_IT",
            "ja_JP",
            "nl_NL",
            "pl_PL",
            "pt_BR",
            "pt_PT",
            "ru_RU",
            "tr_TR",
            "zh_Hans_CN",
        ] {
            let lang = Lang::parse(folder).unwrap();
            let name = native_name(&lang);
            assert_ne!(name, lang.as_str(), "{folder} is shown as its tag");
        }
        assert_eq!(native_name(&Lang::parse("ja_JP").unwrap()), "日本語");
        assert_eq!(native_name(&Lang::parse("pl_PL").unwrap()), "Polski");
        assert_eq!(
            native_name(&Lang::parse("pt_BR").unwrap()),
            "Português (Brasil)"
        );
    }

    #[test]
    fn tags_are_normalised_and_junk_refused() {
        assert_eq!(Lang::parse("de_DE").unwrap().as_str(), "de-de");
        assert_eq!(Lang::parse(" FR ").unwrap().as_str(), "fr");
        assert_eq!(Lang::parse("zh_Hans_CN").unwrap().primary(), "zh");
        for junk in ["", "*", "../etc", "d e", "de--x", "123", "abcdefghi"] {
            assert!(Lang::parse(junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn the_cookie_wins_then_accept_language_then_the_default() {
        let supported = langs(&["en", "de", "fr", "pt-br"]);
        let en = Lang::english();
        let pick =
            |cookie, accept: &[&str]| choose(cookie, &langs(accept), &supported, &en).to_string();
        assert_eq!(pick(Some("fr"), &["de"]), "fr");
        assert_eq!(pick(Some("xx"), &["de-AT", "fr"]), "de");
        assert_eq!(pick(None, &["es", "fr"]), "fr");
        assert_eq!(pick(None, &["pt"]), "pt-br");
        assert_eq!(pick(None, &["es"]), "en");
        assert_eq!(pick(None, &[]), "en");
    }
}
