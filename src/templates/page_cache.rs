//! Pages that differ only in their CSRF token, rendered about once a second instead of on
//! every request.
//!
//! What an anonymous visitor GETs, when no message is flashed to them, depends only on the
//! template, the settings, the handler's own context and the session's CSRF token; so does a
//! logged-in page whose handler names everything it shows in its context (the account page,
//! the sessions page), with the user in the key. The first time a context is asked for, the
//! page is rendered as usual and the context only noted. Asked for again within
//! [`FRESH_FOR`], the page is rendered with a stand-in token and with the real one, and the
//! output, cut where the token goes, is kept only when the two agree everywhere else. A
//! template that transforms the token or shows anything random therefore never comes from
//! the cache. An entry serves for at most [`FRESH_FOR`] (a template showing the clock is never
//! staler than that), the cache is emptied when templates are reloaded, and it holds at most
//! [`MAX_ENTRIES`] contexts (a `?next=` per visitor cannot grow it without bound).
//!
//! The key is the whole context, compared in full: one user's page can only be served to a
//! request whose page would be the very same bytes.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::crypto::random_token;

/// How long one render is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How many different contexts are kept at once.
pub const MAX_ENTRIES: usize = 64;

pub struct PageCache {
    entries: RwLock<HashMap<Vec<u8>, Entry>>,
    /// A token of the real tokens' shape (43 URL-safe characters), never sent anywhere.
    stand_in: String,
}

struct Entry {
    state: State,
    made: Instant,
}

enum State {
    /// Asked for once: rendered as usual, cut if asked for again while fresh.
    Seen,
    /// The page cut at each place the token goes.
    Cut(Vec<String>),
    /// Not a pure function of its context: rendered per request, not tried again until stale.
    Impure,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PageCache {
    pub fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            stand_in: random_token(32),
        }
    }

    /// The page `render` makes with `token` as the CSRF token. `key` must name everything
    /// else that can differ between calls (template name, user and handler context; the rest
    /// is fixed by the settings). `render(token, last)` is called at most twice, and `last`
    /// is true on its last call (what it holds for the render may be moved then). Nothing is
    /// rendered when the page is cached.
    pub fn render(
        &self,
        key: &[u8],
        token: &str,
        mut render: impl FnMut(&str, bool) -> Result<String, tera::Error>,
    ) -> Result<String, tera::Error> {
        enum Found {
            Page(String),
            Seen,
            Impure,
        }
        let found = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .get(key)
                .filter(|entry| entry.made.elapsed() < FRESH_FOR)
                .map(|entry| match &entry.state {
                    State::Cut(parts) => Found::Page(parts.join(token)),
                    State::Seen => Found::Seen,
                    State::Impure => Found::Impure,
                })
        };
        match found {
            Some(Found::Page(page)) => Ok(page),
            Some(Found::Impure) => render(token, true),
            Some(Found::Seen) => {
                // Asked for again: find out whether this page can be reused.
                let (page, parts) = self.cut(token, render)?;
                self.store(key, parts.map_or(State::Impure, State::Cut));
                Ok(page)
            }
            None => {
                // A page asked for once is rendered once, as without the cache.
                self.store(key, State::Seen);
                render(token, true)
            }
        }
    }

    /// Renders with the stand-in token and with `token`: the page with `token`, and the
    /// parts around the token when both renders agree elsewhere.
    fn cut(
        &self,
        token: &str,
        mut render: impl FnMut(&str, bool) -> Result<String, tera::Error>,
    ) -> Result<(String, Option<Vec<String>>), tera::Error> {
        let stand_in = self.stand_in.as_str();
        let with_stand_in = render(stand_in, false)?;
        let page = render(token, true)?;
        let parts: Vec<&str> = with_stand_in.split(stand_in).collect();
        let same = !token.is_empty() && page.split(token).eq(parts.iter().copied());
        let parts = same.then(|| parts.into_iter().map(str::to_owned).collect());
        Ok((page, parts))
    }

    fn store(&self, key: &[u8], state: State) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.retain(|_, entry| entry.made.elapsed() < FRESH_FOR);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(
            key.to_vec(),
            Entry {
                state,
                made: Instant::now(),
            },
        );
    }

    /// Forgets every page (the templates changed).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tera::Context;

    use super::*;

    fn tera(body: &str) -> tera::Tera {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_template("page.html", body).unwrap();
        tera
    }

    fn with_token(mut ctx: Context, token: &str) -> Context {
        ctx.insert("csrf_token", token);
        ctx
    }

    fn context(next: &str) -> Context {
        let mut ctx = Context::new();
        ctx.insert("next", next);
        ctx
    }

    #[test]
    fn a_cached_page_is_the_page_rendered_with_the_real_token() {
        let tera = tera(
            "<form><input name=csrf_token value=\"{{ csrf_token }}\">\
             <input name=next value=\"{{ next }}\"></form>{{ csrf_token }}",
        );
        let cache = PageCache::new();
        let renders = Cell::new(0);
        let render = |token: &str, _| {
            renders.set(renders.get() + 1);
            tera.render("page.html", &with_token(context("/x"), token))
        };
        for token in ["tok-1", "tok-2", "tok-3"] {
            let page = cache.render(b"page.html next=/x", token, render).unwrap();
            let mut expected = context("/x");
            expected.insert("csrf_token", token);
            assert_eq!(page, tera.render("page.html", &expected).unwrap());
        }
        // One render the first time (as without the cache), two to cut the page the second
        // time, none after.
        assert_eq!(renders.get(), 3);
    }

    #[test]
    fn a_page_asked_for_once_costs_one_render() {
        let tera = tera("{{ next }} {{ csrf_token }}");
        let cache = PageCache::new();
        let renders = Cell::new(0);
        for (i, next) in ["a", "b", "c"].into_iter().enumerate() {
            let render = |token: &str, _| {
                renders.set(renders.get() + 1);
                tera.render("page.html", &with_token(context(next), token))
            };
            let page = cache.render(next.as_bytes(), "tok", render).unwrap();
            assert_eq!(page, format!("{next} tok"));
            assert_eq!(renders.get(), i + 1);
        }
    }

    #[test]
    fn templates_that_transform_the_token_or_are_random_are_rendered_every_time() {
        for body in [
            "{{ csrf_token | upper }}",
            "{{ csrf_token | truncate(length=5) }}",
            "{{ get_random(end=1000000) }} {{ csrf_token }}",
        ] {
            let tera = tera(body);
            let cache = PageCache::new();
            let renders = Cell::new(0);
            let render = |token: &str, _| {
                renders.set(renders.get() + 1);
                tera.render("page.html", &with_token(Context::new(), token))
            };
            let token = "abcdefgh";
            // Noted, then tried (and found wanting), then rendered per request.
            for _ in 0..2 {
                let page = cache.render(b"k", token, render).unwrap();
                if body.contains("upper") {
                    assert_eq!(page, "ABCDEFGH");
                }
            }
            let before = renders.get();
            let page = cache.render(b"k", token, render).unwrap();
            if body.contains("upper") {
                assert_eq!(page, "ABCDEFGH");
            }
            assert_eq!(
                renders.get(),
                before + 1,
                "{body}: not rendered per request"
            );
        }
    }

    #[test]
    fn entries_are_bounded_and_cleared() {
        let tera = tera("{{ next }} {{ csrf_token }}");
        let cache = PageCache::new();
        for i in 0..(MAX_ENTRIES + 10) {
            let next = format!("n{i}");
            let render =
                |token: &str, _| tera.render("page.html", &with_token(context(&next), token));
            let page = cache.render(next.as_bytes(), "t", render).unwrap();
            assert_eq!(page, format!("{next} t"));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
