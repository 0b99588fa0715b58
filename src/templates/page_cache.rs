//! Pages that differ only in their CSRF token, rendered about once a second instead of on
//! every request.
//!
//! What an anonymous visitor GETs, when no message is flashed to them, depends only on the
//! template, the settings, the handler's own context and the session's CSRF token. The
//! cache renders such a page with two different stand-in tokens and keeps the output, cut
//! where the token goes, only when the two renders agree everywhere else. A template that
//! transforms the token or shows anything random therefore never comes from the cache.
//! An entry serves for at most [`FRESH_FOR`] (a template showing the clock is never staler
//! than that), the cache is emptied when templates are reloaded, and it holds at most
//! [`MAX_ENTRIES`] contexts (a `?next=` per visitor cannot grow it without bound).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use tera::Context;

use crate::crypto::random_token;

/// How long one render is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How many different contexts are kept at once.
pub const MAX_ENTRIES: usize = 64;

pub struct PageCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Two tokens of the real tokens' shape (43 URL-safe characters), never sent anywhere.
    stand_ins: [String; 2],
}

struct Entry {
    /// The page cut at each place the token goes; `None` when the template is not a pure
    /// function of its context (rendered per request, but not tried again until stale).
    parts: Option<Vec<String>>,
    made: Instant,
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
            stand_ins: [random_token(32), random_token(32)],
        }
    }

    /// The page `render` makes from the context `make_context` builds, with `csrf_token`
    /// set to `token`. `key` must name everything in that context that can differ between
    /// calls (template name and handler context; the rest is fixed by the settings). The
    /// context is only built when the page is not cached.
    pub fn render(
        &self,
        key: &str,
        token: &str,
        make_context: impl FnOnce() -> Context,
        render: impl Fn(&Context) -> Result<String, tera::Error>,
    ) -> Result<String, tera::Error> {
        let cached = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .get(key)
                .filter(|entry| entry.made.elapsed() < FRESH_FOR)
                .map(|entry| entry.parts.as_ref().map(|parts| parts.join(token)))
        };
        if let Some(Some(page)) = cached {
            return Ok(page);
        }
        let mut ctx = make_context();
        if cached.is_none() {
            // Not seen yet, or stale: find out whether this page can be reused.
            match self.cut(&mut ctx, &render)? {
                Some(parts) => {
                    let page = parts.join(token);
                    self.store(key, Some(parts));
                    return Ok(page);
                }
                None => self.store(key, None),
            }
        }
        // Not a pure function of its context: rendered with the real token every time.
        ctx.insert("csrf_token", token);
        render(&ctx)
    }

    /// Renders with each stand-in; the parts around the token when both agree elsewhere.
    fn cut(
        &self,
        ctx: &mut Context,
        render: &impl Fn(&Context) -> Result<String, tera::Error>,
    ) -> Result<Option<Vec<String>>, tera::Error> {
        let [a, b] = &self.stand_ins;
        ctx.insert("csrf_token", a);
        let with_a = render(ctx)?;
        ctx.insert("csrf_token", b);
        let with_b = render(ctx)?;
        let parts: Vec<&str> = with_a.split(a.as_str()).collect();
        let same = with_b.split(b.as_str()).eq(parts.iter().copied());
        Ok(same.then(|| parts.into_iter().map(str::to_owned).collect()))
    }

    fn store(&self, key: &str, parts: Option<Vec<String>>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.retain(|_, entry| entry.made.elapsed() < FRESH_FOR);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                parts,
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

    use super::*;

    fn tera(body: &str) -> tera::Tera {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_template("page.html", body).unwrap();
        tera
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
        let render = |ctx: &Context| {
            renders.set(renders.get() + 1);
            tera.render("page.html", ctx)
        };
        for token in ["tok-1", "tok-2", "tok-3"] {
            let page = cache
                .render("page.html next=/x", token, || context("/x"), render)
                .unwrap();
            let mut expected = context("/x");
            expected.insert("csrf_token", token);
            assert_eq!(page, tera.render("page.html", &expected).unwrap());
        }
        // Two renders to build the entry, none after.
        assert_eq!(renders.get(), 2);
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
            let render = |ctx: &Context| {
                renders.set(renders.get() + 1);
                tera.render("page.html", ctx)
            };
            let token = "abcdefgh";
            let page = cache.render("k", token, Context::new, render).unwrap();
            if body.contains("upper") {
                assert_eq!(page, "ABCDEFGH");
            }
            let before = renders.get();
            cache.render("k", token, Context::new, render).unwrap();
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
        let render = |ctx: &Context| tera.render("page.html", ctx);
        for i in 0..(MAX_ENTRIES + 10) {
            let next = format!("n{i}");
            let page = cache.render(&next, "t", || context(&next), render).unwrap();
            assert_eq!(page, format!("{next} t"));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
