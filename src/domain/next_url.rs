//! The `next` parameter: where to send the browser after logging in. Only local paths (or
//! absolute URLs on our own origin) are accepted, in every spelling an attacker might try.

use crate::urls;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// A redirect target that stays on this site and is safe to put in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeNext(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Redirections outside the domain are forbidden")]
pub struct UnsafeNext;

impl crate::messages::Described for UnsafeNext {
    fn described(&self) -> (crate::messages::Msg, Vec<(&'static str, String)>) {
        (crate::messages::INVALID_REDIRECT, vec![])
    }
}

/// Characters escaped when a local path goes into a `Location` header.
const LOCATION_ESCAPE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');
/// Characters escaped when a path becomes the value of `?next=`.
const QUERY_VALUE_ESCAPE: &AsciiSet = &LOCATION_ESCAPE.add(b'#').add(b'&').add(b'+').add(b'%');

impl SafeNext {
    /// `own_origin` is `BASE_URL` (`scheme://host[:port]`); absolute URLs must match it.
    pub fn parse(raw: &str, own_origin: &str) -> Result<Self, UnsafeNext> {
        if raw.is_empty() || raw.len() > 2048 {
            return Err(UnsafeNext);
        }
        if raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(UnsafeNext);
        }
        let path = if let Some(rest) = strip_origin(raw, own_origin) {
            if rest.is_empty() {
                urls::ROOT.to_owned()
            } else if rest.starts_with('/') || rest.starts_with('?') {
                format!("/{}", rest.trim_start_matches('/'))
            } else {
                return Err(UnsafeNext);
            }
        } else if raw.starts_with('/') {
            raw.to_owned()
        } else if has_scheme(raw) {
            return Err(UnsafeNext);
        } else {
            // Flask-Security treats a bare "profile" as the local "/profile".
            format!("/{raw}")
        };
        // Whatever the number of decoding rounds a browser or proxy applies, the target must
        // still be a local path.
        let mut candidate = path.clone();
        for _ in 0..3 {
            if !is_local_path(&candidate) {
                return Err(UnsafeNext);
            }
            let decoded = percent_decode_str(&candidate)
                .decode_utf8_lossy()
                .into_owned();
            if decoded == candidate {
                break;
            }
            candidate = decoded;
        }
        if !is_local_path(&candidate) {
            return Err(UnsafeNext);
        }
        Ok(SafeNext(
            utf8_percent_encode(&path, LOCATION_ESCAPE).to_string(),
        ))
    }

    /// As [`SafeNext::parse`], and an absolute `http(s)` URL on another host is accepted
    /// when `SECURITY_REDIRECT_ALLOW_SUBDOMAINS` and the host is a subdomain of `own_origin`'s,
    /// or when `SECURITY_REDIRECT_BASE_DOMAIN` and `SECURITY_REDIRECT_ALLOWED_SUBDOMAINS` name
    /// it (Flask-Security's `validate_redirect_url`).
    pub fn parse_with(
        raw: &str,
        own_origin: &str,
        redirects: &crate::config::SpaSettings,
    ) -> Result<Self, UnsafeNext> {
        match Self::parse(raw, own_origin) {
            Ok(next) => Ok(next),
            Err(e) if !redirects.allow_subdomains && redirects.allowed_hosts.is_empty() => Err(e),
            Err(e) => other_host(raw, own_origin, redirects).ok_or(e),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The login URL that brings the user back to `path_and_query` afterwards.
    pub fn login_url_for(login: &str, path_and_query: &str) -> String {
        format!(
            "{login}?next={}",
            utf8_percent_encode(path_and_query, QUERY_VALUE_ESCAPE)
        )
    }
}

/// `raw` when it is an absolute `http(s)` URL on a host the redirect settings allow.
fn other_host(
    raw: &str,
    own_origin: &str,
    redirects: &crate::config::SpaSettings,
) -> Option<SafeNext> {
    if raw.len() > 2048
        || raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let lower = raw.get(..8)?.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let netloc = |url: &url::Url| -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    };
    let target = netloc(&url)?;
    let own = url::Url::parse(own_origin).ok().and_then(|u| netloc(&u));
    let subdomain = redirects.allow_subdomains
        && own
            .as_deref()
            .is_some_and(|own| target == own || target.ends_with(&format!(".{own}")));
    let listed = redirects.allowed_hosts.contains(&target);
    (subdomain || listed).then(|| SafeNext(url.as_str().to_owned()))
}

fn has_scheme(raw: &str) -> bool {
    match raw.find(':') {
        Some(colon) => {
            let before = &raw[..colon];
            !before.contains('/') && !before.contains('?') && !before.contains('#')
        }
        None => false,
    }
}

/// `raw` without our own origin, if it starts with it (case-insensitively).
fn strip_origin<'a>(raw: &'a str, own_origin: &str) -> Option<&'a str> {
    let origin = own_origin.trim_end_matches('/');
    if raw.len() >= origin.len() && raw.is_char_boundary(origin.len()) {
        let (head, rest) = raw.split_at(origin.len());
        if head.eq_ignore_ascii_case(origin) && (rest.is_empty() || rest.starts_with(['/', '?'])) {
            return Some(rest);
        }
    }
    None
}

fn is_local_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && !p.chars().any(|c| c.is_control())
        && !p.trim_start().starts_with("/\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:8080";

    fn ok(raw: &str) -> String {
        SafeNext::parse(raw, ORIGIN)
            .unwrap_or_else(|_| panic!("{raw:?} should be accepted"))
            .0
    }

    #[test]
    fn local_paths_are_accepted() {
        assert_eq!(ok("/profile"), "/profile");
        assert_eq!(ok("/profile?a=1&b=2"), "/profile?a=1&b=2");
        assert_eq!(ok("profile"), "/profile");
        assert_eq!(ok("http://127.0.0.1:8080/profile"), "/profile");
        assert_eq!(ok("HTTP://127.0.0.1:8080/x?y"), "/x?y");
        assert_eq!(ok("/caf\u{e9}"), "/caf%C3%A9");
    }

    #[test]
    fn every_offsite_spelling_is_refused() {
        for bad in [
            "https://evil.com",
            "http://evil.com/profile",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "\\/evil.com",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            " /profile",
            "\t//evil.com",
            "/%2F%2Fevil.com",
            "/%2fevil.com",
            "%2F%2Fevil.com",
            "/%5Cevil.com",
            "/%252F%252Fevil.com",
            "http://127.0.0.1:8080@evil.com/",
            "http://127.0.0.1:80800/",
            "/profile\r\nSet-Cookie: x=1",
            "/profile%0d%0aSet-Cookie:%20x=1",
            "",
        ] {
            assert!(
                SafeNext::parse(bad, ORIGIN).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn other_hosts_only_as_the_redirect_settings_allow() {
        let origin = "http://example.com:8080";
        let none = crate::config::SpaSettings::default();
        let subdomains = crate::config::SpaSettings {
            allow_subdomains: true,
            ..Default::default()
        };
        let listed = crate::config::SpaSettings {
            allowed_hosts: vec!["app.other.org".to_owned(), "other.org".to_owned()],
            ..Default::default()
        };
        let ok = |raw: &str, s| SafeNext::parse_with(raw, origin, s).map(|n| n.0);
        assert!(ok("http://app.example.com:8080/x", &none).is_err());
        assert_eq!(
            ok("http://app.example.com:8080/x?a=1", &subdomains).as_deref(),
            Ok("http://app.example.com:8080/x?a=1")
        );
        assert!(
            ok("http://app.example.com/x", &subdomains).is_err(),
            "port differs"
        );
        assert!(ok("http://evilexample.com:8080/", &subdomains).is_err());
        assert!(ok("http://user@app.example.com:8080/", &subdomains).is_err());
        assert!(ok("javascript://app.example.com:8080/%0aalert(1)", &subdomains).is_err());
        assert_eq!(
            ok("https://app.other.org/spa", &listed).as_deref(),
            Ok("https://app.other.org/spa")
        );
        assert!(ok("https://other.org/", &listed).is_ok());
        assert!(ok("https://x.other.org/", &listed).is_err());
        assert!(ok("https://app.other.org.evil.com/", &listed).is_err());
        assert_eq!(ok("/local", &listed).as_deref(), Ok("/local"));
    }

    #[test]
    fn login_url_keeps_the_path_readable() {
        assert_eq!(
            SafeNext::login_url_for("/login", "/profile"),
            "/login?next=/profile"
        );
        assert_eq!(
            SafeNext::login_url_for("/login", "/a?b=1&c=2"),
            "/login?next=/a?b=1%26c=2"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Where a browser would go when following `location` from a page on `ORIGIN`.
        fn resolved_origin(location: &str) -> Option<String> {
            let base = url::Url::parse(&format!("{ORIGIN}/login")).ok()?;
            Some(base.join(location).ok()?.origin().ascii_serialization())
        }

        /// Prefixes attackers use to leave the site, and some harmless ones.
        fn tricky_prefix() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "",
                "/",
                "//",
                "///",
                "/\\",
                "\\",
                "\\\\",
                "http:",
                "https://",
                "http://evil.com",
                "HTTP://127.0.0.1:8080",
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080@",
                "http://127.0.0.1:80800",
                "javascript:",
                "data:",
                "%2f",
                "%2F%2F",
                "/%2f",
                "/%5c",
                "/%252f",
                "%5c",
                "/.//",
                "/./",
                "/..//",
                "\t",
                " ",
                "\r\n",
                "/%09/",
                "?",
                "#",
                "//%2e",
                "/\u{3000}/",
                "／／",
                "http:/",
                "http:evil.com",
                "ftp://",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            #[test]
            fn an_accepted_target_never_leaves_the_origin(
                prefix in tricky_prefix(),
                rest in "\\PC{0,40}|[/\\\\%.:@a-z0-9?#]{0,30}",
            ) {
                let raw = format!("{prefix}{rest}");
                if let Ok(next) = SafeNext::parse(&raw, ORIGIN) {
                    let s = next.as_str();
                    prop_assert!(s.starts_with('/') && !s.starts_with("//"), "{raw:?} -> {s:?}");
                    prop_assert!(!s.contains('\\') && !s.chars().any(|c| c.is_control() || c.is_whitespace()));
                    let origin = resolved_origin(s);
                    prop_assert_eq!(origin.as_deref(), Some(ORIGIN), "{:?} -> {:?}", raw, s);
                    // Decoding it (as a proxy might) still gives a local path.
                    let mut decoded = s.to_owned();
                    for _ in 0..3 {
                        decoded = percent_decode_str(&decoded).decode_utf8_lossy().into_owned();
                        prop_assert!(is_local_path(&decoded), "{raw:?} -> {decoded:?}");
                    }
                }
            }

            #[test]
            fn never_panics_on_any_text(raw in "\\PC{0,3000}") {
                let _ = SafeNext::parse(&raw, ORIGIN);
                let _ = SafeNext::login_url_for("/login", &raw);
            }

            #[test]
            fn plain_local_paths_are_kept(path in "(/[a-zA-Z0-9_.-]{1,12}){1,4}(\\?[a-z]{1,5}=[a-z0-9]{0,5})?") {
                prop_assert_eq!(SafeNext::parse(&path, ORIGIN).map(|n| n.0), Ok(path));
            }

            #[test]
            fn login_url_for_round_trips_through_the_query(path in "/\\PC{0,40}") {
                let url = SafeNext::login_url_for("/login", &path);
                let query = url.strip_prefix("/login?next=").unwrap_or_default();
                let decoded: Vec<(String, String)> =
                    url::form_urlencoded::parse(format!("next={query}").as_bytes()).into_owned().collect();
                prop_assert_eq!(decoded, vec![("next".to_owned(), path)]);
            }
        }
    }
}
