//! Tera templates: defaults compiled into the binary, overridden by files of the same name
//! under `SECURITY_TEMPLATES_DIR` (Flask-Security's "a template of the same name wins").
//!
//! Every template is rendered once with a sample of its documented context before the app
//! starts, so a broken override (syntax error, unknown parent, unknown variable or macro)
//! stops start-up naming the file, never a 500 later. Outside production the folder is
//! watched: an edited template is used from the next request (a broken edit is logged and
//! the previous version kept).

pub mod overlay;
pub mod page_cache;
pub mod pretranslate;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{json, Value};
use tera::{Context, Tera};

use crate::config::TemplateName;
use crate::messages::{Lang, Messages};
use crate::urls::{Route, Urls};

/// The built-in templates, by the names Flask-Security uses.
const DEFAULTS: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("premium.html", include_str!("../templates/premium.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "security/_macros.html",
        include_str!("../templates/security/_macros.html"),
    ),
    (
        "security/_wan_macros.html",
        include_str!("../templates/security/_wan_macros.html"),
    ),
    (
        "security/_menu.html",
        include_str!("../templates/security/_menu.html"),
    ),
    (
        "security/_messages.html",
        include_str!("../templates/security/_messages.html"),
    ),
    (
        "security/login_user.html",
        include_str!("../templates/security/login_user.html"),
    ),
    (
        "security/register_user.html",
        include_str!("../templates/security/register_user.html"),
    ),
    (
        "security/send_confirmation.html",
        include_str!("../templates/security/send_confirmation.html"),
    ),
    (
        "security/forgot_password.html",
        include_str!("../templates/security/forgot_password.html"),
    ),
    (
        "security/logout_user.html",
        include_str!("../templates/security/logout_user.html"),
    ),
    (
        "security/_resend_confirmation.html",
        include_str!("../templates/security/_resend_confirmation.html"),
    ),
    (
        "security/check_email.html",
        include_str!("../templates/security/check_email.html"),
    ),
    (
        "security/_check_email.html",
        include_str!("../templates/security/_check_email.html"),
    ),
    (
        "security/reset_password.html",
        include_str!("../templates/security/reset_password.html"),
    ),
    (
        "security/change_password.html",
        include_str!("../templates/security/change_password.html"),
    ),
    (
        "security/verify_user.html",
        include_str!("../templates/security/verify_user.html"),
    ),
    (
        "security/oidc_consent.html",
        include_str!("../templates/security/oidc_consent.html"),
    ),
    (
        "security/oidc_apps.html",
        include_str!("../templates/security/oidc_apps.html"),
    ),
    (
        "security/oidc_continue.html",
        include_str!("../templates/security/oidc_continue.html"),
    ),
    (
        "security/oidc_logout.html",
        include_str!("../templates/security/oidc_logout.html"),
    ),
    (
        "security/sessions.html",
        include_str!("../templates/security/sessions.html"),
    ),
    (
        "security/two_factor_setup.html",
        include_str!("../templates/security/two_factor_setup.html"),
    ),
    (
        "security/two_factor_verify_code.html",
        include_str!("../templates/security/two_factor_verify_code.html"),
    ),
    (
        "security/two_factor_select.html",
        include_str!("../templates/security/two_factor_select.html"),
    ),
    (
        "security/mf_recovery_codes.html",
        include_str!("../templates/security/mf_recovery_codes.html"),
    ),
    (
        "security/mf_recovery.html",
        include_str!("../templates/security/mf_recovery.html"),
    ),
    (
        "security/wan_register.html",
        include_str!("../templates/security/wan_register.html"),
    ),
    (
        "security/wan_signin.html",
        include_str!("../templates/security/wan_signin.html"),
    ),
    (
        "security/wan_verify.html",
        include_str!("../templates/security/wan_verify.html"),
    ),
    (
        "security/wan_signup.html",
        include_str!("../templates/security/wan_signup.html"),
    ),
    (
        "security/us_signin.html",
        include_str!("../templates/security/us_signin.html"),
    ),
    (
        "security/us_setup.html",
        include_str!("../templates/security/us_setup.html"),
    ),
    (
        "security/us_verify.html",
        include_str!("../templates/security/us_verify.html"),
    ),
    (
        "security/us_verify_link.html",
        include_str!("../templates/security/us_verify_link.html"),
    ),
    (
        "security/email/base.html",
        include_str!("../templates/security/email/base.html"),
    ),
    (
        "security/email/welcome.txt",
        include_str!("../templates/security/email/welcome.txt"),
    ),
    (
        "security/email/welcome.html",
        include_str!("../templates/security/email/welcome.html"),
    ),
    (
        "security/email/welcome_existing.txt",
        include_str!("../templates/security/email/welcome_existing.txt"),
    ),
    (
        "security/email/welcome_existing.html",
        include_str!("../templates/security/email/welcome_existing.html"),
    ),
    (
        "security/email/confirmation_instructions.txt",
        include_str!("../templates/security/email/confirmation_instructions.txt"),
    ),
    (
        "security/email/confirmation_instructions.html",
        include_str!("../templates/security/email/confirmation_instructions.html"),
    ),
    (
        "security/email/reset_instructions.txt",
        include_str!("../templates/security/email/reset_instructions.txt"),
    ),
    (
        "security/email/reset_instructions.html",
        include_str!("../templates/security/email/reset_instructions.html"),
    ),
    (
        "security/email/reset_notice.txt",
        include_str!("../templates/security/email/reset_notice.txt"),
    ),
    (
        "security/email/reset_notice.html",
        include_str!("../templates/security/email/reset_notice.html"),
    ),
    (
        "security/email/new_device_notice.txt",
        include_str!("../templates/security/email/new_device_notice.txt"),
    ),
    (
        "security/email/new_device_notice.html",
        include_str!("../templates/security/email/new_device_notice.html"),
    ),
    (
        "security/email/two_factor_notice.txt",
        include_str!("../templates/security/email/two_factor_notice.txt"),
    ),
    (
        "security/email/two_factor_notice.html",
        include_str!("../templates/security/email/two_factor_notice.html"),
    ),
    (
        "security/email/passkey_notice.txt",
        include_str!("../templates/security/email/passkey_notice.txt"),
    ),
    (
        "security/email/passkey_notice.html",
        include_str!("../templates/security/email/passkey_notice.html"),
    ),
    (
        "security/email/social_login_notice.txt",
        include_str!("../templates/security/email/social_login_notice.txt"),
    ),
    (
        "security/email/social_login_notice.html",
        include_str!("../templates/security/email/social_login_notice.html"),
    ),
    (
        "security/email/recovery_codes_notice.txt",
        include_str!("../templates/security/email/recovery_codes_notice.txt"),
    ),
    (
        "security/email/recovery_codes_notice.html",
        include_str!("../templates/security/email/recovery_codes_notice.html"),
    ),
    (
        "security/email/change_notice.txt",
        include_str!("../templates/security/email/change_notice.txt"),
    ),
    (
        "security/email/change_notice.html",
        include_str!("../templates/security/email/change_notice.html"),
    ),
    (
        "security/email/us_instructions.txt",
        include_str!("../templates/security/email/us_instructions.txt"),
    ),
    (
        "security/email/us_instructions.html",
        include_str!("../templates/security/email/us_instructions.html"),
    ),
    (
        "security/email/two_factor_instructions.txt",
        include_str!("../templates/security/email/two_factor_instructions.txt"),
    ),
    (
        "security/email/two_factor_instructions.html",
        include_str!("../templates/security/email/two_factor_instructions.html"),
    ),
    (
        "security/email/two_factor_rescue.txt",
        include_str!("../templates/security/email/two_factor_rescue.txt"),
    ),
    (
        "security/email/two_factor_rescue.html",
        include_str!("../templates/security/email/two_factor_rescue.html"),
    ),
    (
        "security/change_email.html",
        include_str!("../templates/security/change_email.html"),
    ),
    (
        "security/change_email_revert.html",
        include_str!("../templates/security/change_email_revert.html"),
    ),
    (
        "security/change_username.html",
        include_str!("../templates/security/change_username.html"),
    ),
    (
        "security/recover_username.html",
        include_str!("../templates/security/recover_username.html"),
    ),
    (
        "security/email/change_email_instructions.txt",
        include_str!("../templates/security/email/change_email_instructions.txt"),
    ),
    (
        "security/email/change_email_instructions.html",
        include_str!("../templates/security/email/change_email_instructions.html"),
    ),
    (
        "security/email/change_email_notice.txt",
        include_str!("../templates/security/email/change_email_notice.txt"),
    ),
    (
        "security/email/change_email_notice.html",
        include_str!("../templates/security/email/change_email_notice.html"),
    ),
    (
        "security/email/change_username_notice.txt",
        include_str!("../templates/security/email/change_username_notice.txt"),
    ),
    (
        "security/email/change_username_notice.html",
        include_str!("../templates/security/email/change_username_notice.html"),
    ),
    (
        "security/email/username_recovery.txt",
        include_str!("../templates/security/email/username_recovery.txt"),
    ),
    (
        "security/email/username_recovery.html",
        include_str!("../templates/security/email/username_recovery.html"),
    ),
];

/// What names a reusable page (see [`Templates::render_page`]).
pub struct ReusedPage<'a> {
    /// Everything its context holds but the CSRF token, language included.
    pub key: &'a [u8],
    pub csrf_token: &'a str,
    /// A logged-in user's page (kept apart from anonymous visitors' pages).
    pub signed_in: bool,
}

/// The compiled templates, possibly reloaded from their folder while running.
pub struct Templates {
    current: RwLock<Arc<Compiled>>,
    watch: Option<Watch>,
    /// Anonymous visitors' pages.
    pages: page_cache::PageCache,
    /// Logged-in users' reusable pages, apart: many users at once cannot crowd out the
    /// login page.
    signed_in_pages: page_cache::PageCache,
    /// The catalogue behind the `t` filter.
    messages: Messages,
}

thread_local! {
    /// The language of the render under way on this thread (rendering never awaits, so it
    /// cannot move to another task in between), read by the `t` filter.
    static RENDER_LANG: RefCell<Option<Lang>> = const { RefCell::new(None) };
}

/// Sets [`RENDER_LANG`] for as long as it lives; the previous value comes back on drop,
/// even when a render panics.
struct InLanguage(Option<Lang>);

impl InLanguage {
    fn set(lang: &Lang) -> Self {
        Self(RENDER_LANG.with(|current| current.replace(Some(lang.clone()))))
    }
}

impl Drop for InLanguage {
    fn drop(&mut self) {
        let previous = self.0.take();
        RENDER_LANG.with(|current| *current.borrow_mut() = previous);
    }
}

/// The `t` filter: `{{ "Sign in" | t }}` is the text in the page's language, and
/// `{{ "Sent to %(email)s." | t(email=user.email) }}` fills Flask-Security's placeholders
/// (after translating, so a translation can move them). A text no translation has is shown
/// as it is.
struct Translate(Messages);

impl tera::Filter for Translate {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let msgid = value
            .as_str()
            .ok_or_else(|| tera::Error::msg(format!("filter t: expected a text, got {value}")))?;
        let text = RENDER_LANG.with(|lang| match &*lang.borrow() {
            Some(lang) => self.0.lookup(lang, msgid).to_owned(),
            None => self.0.gettext(msgid).to_owned(),
        });
        if args.is_empty() {
            return Ok(Value::String(text));
        }
        let values: Vec<(&str, String)> = args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.as_str(), v)
            })
            .collect();
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(Value::String(crate::messages::fill(&text, &values)))
    }
}

/// How often (at most) a development server looks for edited templates.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

struct Watch {
    dir: PathBuf,
    names: Vec<TemplateName>,
    state: Mutex<WatchState>,
}

struct WatchState {
    checked_at: Instant,
    fingerprint: u64,
}

/// Why the templates could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{key}: names {name}, which is not a template under SECURITY_TEMPLATES_DIR")]
    Missing { key: String, name: String },
    #[error("template {name} ({origin}): {reason}")]
    Broken {
        name: String,
        origin: String,
        reason: String,
    },
}

impl Templates {
    /// Loads the defaults, then every `.html`/`.txt` file under `overrides_dir` (if it
    /// exists), and checks them all. With `watch`, edits under `overrides_dir` are picked up
    /// while running.
    /// `messages` is the catalogue of the `t` filter (any language's view of it).
    /// `names` are the files Flask-Security's `SECURITY_*_TEMPLATE` keys name instead of
    /// Latchkey's templates: each named override is used under Latchkey's name.
    pub fn load(
        overrides_dir: &Path,
        names: &[TemplateName],
        watch: bool,
        messages: &Messages,
    ) -> Result<Self, TemplateError> {
        let compiled = compile(overrides_dir, names, messages)?;
        let watch = watch.then(|| Watch {
            dir: overrides_dir.to_owned(),
            names: names.to_vec(),
            state: Mutex::new(WatchState {
                checked_at: Instant::now(),
                fingerprint: fingerprint(overrides_dir),
            }),
        });
        Ok(Self {
            current: RwLock::new(Arc::new(compiled)),
            watch,
            pages: page_cache::PageCache::new(),
            signed_in_pages: page_cache::PageCache::new(),
            messages: messages.clone(),
        })
    }

    /// Renders `name` with its texts in `lang` (the context's `lang` variable is the
    /// caller's to set).
    pub fn render(&self, lang: &Lang, name: &str, ctx: &Context) -> Result<String, tera::Error> {
        let tera = self.tera_in(lang)?;
        let _lang = InLanguage::set(lang);
        tera.render(name, ctx)
    }

    /// Renders `name` in `lang` with `values` over `defaults`, without copying the defaults
    /// (see [`overlay`]).
    pub fn render_over(
        &self,
        lang: &Lang,
        name: &str,
        defaults: &overlay::PageDefaults,
        values: Context,
    ) -> Result<String, tera::Error> {
        let tera = self.tera_in(lang)?;
        let _lang = InLanguage::set(lang);
        overlay::render_over(defaults, values, |ctx| tera.render(name, ctx))
    }

    /// A page whose context differs between requests only by `csrf_token` beyond what
    /// `page.key` names (a page without flashes, for an anonymous visitor or a logged-in
    /// page that names everything it shows): served from [`page_cache`] when the template
    /// allows it. The key must name the language too. `values(token, last)` makes the
    /// request's context over `defaults`, with `token` as `csrf_token` (see
    /// [`page_cache::PageCache::render`]).
    pub fn render_page(
        &self,
        lang: &Lang,
        name: &str,
        page: ReusedPage<'_>,
        defaults: &overlay::PageDefaults,
        mut values: impl FnMut(&str, bool) -> Context,
    ) -> Result<String, tera::Error> {
        let tera = self.tera_in(lang)?;
        let _lang = InLanguage::set(lang);
        let pages = if page.signed_in {
            &self.signed_in_pages
        } else {
            &self.pages
        };
        pages.render(page.key, page.csrf_token, |token, last| {
            overlay::render_over(defaults, values(token, last), |ctx| tera.render(name, ctx))
        })
    }

    /// The current templates with their fixed texts in `lang` (after picking up edits, when
    /// watching).
    fn tera_in(&self, lang: &Lang) -> Result<Arc<Tera>, tera::Error> {
        if let Some(watch) = &self.watch {
            self.reload_if_edited(watch);
        }
        let compiled = match self.current.read() {
            Ok(compiled) => Arc::clone(&compiled),
            // A panic while swapping cannot leave a half-written Arc: keep using it.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        compiled.in_language(lang, &self.messages)
    }

    fn reload_if_edited(&self, watch: &Watch) {
        // Another request is already checking: serve with what we have.
        let Ok(mut state) = watch.state.try_lock() else {
            return;
        };
        if state.checked_at.elapsed() < WATCH_INTERVAL {
            return;
        }
        state.checked_at = Instant::now();
        let now = fingerprint(&watch.dir);
        if now == state.fingerprint {
            return;
        }
        state.fingerprint = now;
        match compile(&watch.dir, &watch.names, &self.messages) {
            Ok(compiled) => {
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(compiled);
                }
                self.pages.clear();
                self.signed_in_pages.clear();
                tracing::info!(dir = %watch.dir.display(), "templates reloaded");
            }
            Err(e) => tracing::error!(error = %e, "edited template not used"),
        }
    }
}

/// Checked templates (defaults plus overrides): their sources, and the templates compiled
/// with their fixed texts in each language asked for so far (see [`pretranslate`]). Only the
/// default language's are made at start; another's, from the sources, when a page is first
/// rendered in it (a few milliseconds, once): each language's set costs about 3 MB.
struct Compiled {
    sources: Vec<Source>,
    by_language: RwLock<HashMap<Lang, Arc<Tera>>>,
}

impl Compiled {
    fn in_language(&self, lang: &Lang, messages: &Messages) -> Result<Arc<Tera>, tera::Error> {
        let known = self
            .by_language
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(lang)
            .map(Arc::clone);
        if let Some(tera) = known {
            return Ok(tera);
        }
        // The sources were checked when they were compiled first: this cannot fail but for
        // a bug, reported as a render error.
        let mut tera = parse(&self.sources, messages)
            .map_err(|e| tera::Error::msg(format!("compiling the templates again: {e}")))?;
        pretranslate::translate(&mut tera, |msgid| messages.lookup(lang, msgid).to_owned());
        let tera = Arc::new(tera);
        let mut by_language = self
            .by_language
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Pages only come in the catalogue's languages; a set for any other tag is made for
        // its render and not kept beyond a few (a bound on what odd tags can cost).
        if by_language.len() < KEPT_LANGUAGES {
            by_language.insert(lang.clone(), Arc::clone(&tera));
        }
        Ok(tera)
    }
}

/// How many languages' template sets [`Compiled`] keeps.
const KEPT_LANGUAGES: usize = 8;

/// Defaults plus overrides, compiled and checked by rendering each once, then with their
/// fixed texts in the default language.
fn compile(
    overrides_dir: &Path,
    names: &[TemplateName],
    messages: &Messages,
) -> Result<Compiled, TemplateError> {
    let mut sources: Vec<Source> = DEFAULTS
        .iter()
        .map(|(name, body)| Source {
            name: (*name).to_owned(),
            body: Cow::Borrowed(*body),
            path: None,
        })
        .collect();
    if overrides_dir.is_dir() {
        collect_overrides(overrides_dir, overrides_dir, &mut sources)?;
    }
    use_named(&mut sources, names)?;
    let mut tera = parse(&sources, messages)?;
    let samples = Samples::new();
    let tera_ref = &tera;
    on_every_core(&sources, |source| {
        for ctx in samples.for_template(&source.name) {
            tera_ref
                .render(&source.name, ctx)
                .map_err(|e| broken(&source.name, origin_of(&sources, &source.name), &e))?;
        }
        Ok(())
    })?;
    let lang = messages.default_language().clone();
    pretranslate::translate(&mut tera, |msgid| messages.lookup(&lang, msgid).to_owned());
    Ok(Compiled {
        sources,
        by_language: RwLock::new(HashMap::from([(lang, Arc::new(tera))])),
    })
}

/// The files `SECURITY_*_TEMPLATE` keys name, each put in place of Latchkey's template (so
/// that it is checked with that template's sample contexts and rendered under its name). A
/// file a key names must exist; Flask-Security's default name (`security/verify.html`) is
/// used only if there is such a file.
fn use_named(sources: &mut Vec<Source>, names: &[TemplateName]) -> Result<(), TemplateError> {
    for named in names {
        let Some(found) = sources.iter().find(|s| s.name == named.name) else {
            if named.explicit {
                return Err(TemplateError::Missing {
                    key: named.key.clone(),
                    name: named.name.clone(),
                });
            }
            continue;
        };
        let replacement = Source {
            name: named.latchkey.clone(),
            body: found.body.clone(),
            path: found.path.clone(),
        };
        sources.retain(|s| s.name != named.latchkey);
        sources.push(replacement);
    }
    Ok(())
}

/// Where a template came from: its override's path, or "built-in".
fn origin_of(sources: &[Source], name: &str) -> String {
    sources
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.path.as_ref())
        .map_or_else(|| "built-in".to_owned(), |p| p.display().to_string())
}

/// The sources parsed and linked (inheritance, macro imports), not yet rendered.
fn parse(sources: &[Source], messages: &Messages) -> Result<Tera, TemplateError> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".htm", ".xml"]);
    tera.register_filter("t", Translate(messages.clone()));
    // Parsing is most of the check (about 20 ms of a core for the built-in set): the
    // templates are parsed on every core at once, then linked as `add_raw_templates` does.
    for (name, template) in on_every_core(sources, |source| {
        tera::Template::new(&source.name, None, &source.body)
            .map(|template| (source.name.clone(), template))
            .map_err(|e| broken(&source.name, origin_of(sources, &source.name), &e))
    })? {
        tera.templates.insert(name, template);
    }
    tera.build_inheritance_chains()
        .and_then(|()| tera.check_macro_files())
        .map_err(|e| {
            // Tera's message names the template (quoted) that failed to inherit or import.
            let reason = describe_tera_error(&e);
            let name = sources
                .iter()
                .find(|s| {
                    reason.contains(&format!("'{}'", s.name))
                        || reason.contains(&format!("\"{}\"", s.name))
                })
                .map_or_else(|| "(several)".to_owned(), |s| s.name.clone());
            TemplateError::Broken {
                origin: origin_of(sources, &name),
                name,
                reason,
            }
        })?;
    Ok(tera)
}

struct Source {
    name: String,
    /// Kept while running (another language's set is compiled from it): the built-in
    /// templates' are borrowed from the binary.
    body: Cow<'static, str>,
    /// Where an override came from; `None` for a built-in template.
    path: Option<PathBuf>,
}

fn broken(name: &str, origin: String, e: &tera::Error) -> TemplateError {
    TemplateError::Broken {
        name: name.to_owned(),
        origin,
        reason: describe_tera_error(e),
    }
}

/// `check(item)` for every item, on as many threads as the machine has cores (items dealt
/// round-robin); the results in no particular order, or the first error met.
fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    check: impl Fn(&T) -> Result<R, TemplateError> + Sync,
) -> Result<Vec<R>, TemplateError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, items.len().max(1));
    let check = &check;
    let share = move |first: usize| -> Result<Vec<R>, TemplateError> {
        items
            .iter()
            .skip(first)
            .step_by(threads)
            .map(check)
            .collect()
    };
    std::thread::scope(|scope| {
        // The calling thread takes the first share itself.
        let others: Vec<_> = (1..threads)
            .map(|first| scope.spawn(move || share(first)))
            .collect();
        let mut all = share(0)?;
        for other in others {
            let results = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            all.extend(results);
        }
        Ok(all)
    })
}

/// Pages shown only to a logged-in user.
const LOGGED_IN_PAGES: &[&str] = &[
    "profile.html",
    "premium.html",
    "admin.html",
    "security/change_password.html",
    "security/sessions.html",
    "security/verify_user.html",
    "security/wan_register.html",
    "security/wan_verify.html",
    "security/us_setup.html",
    "security/us_verify.html",
    "security/change_email.html",
    "security/change_username.html",
];

/// The contexts templates are checked with, built once for all of them.
struct Samples {
    anonymous_page: Context,
    logged_in_page: Context,
    mail: Context,
}

impl Samples {
    fn new() -> Self {
        Self {
            anonymous_page: sample_page_context(false),
            logged_in_page: sample_page_context(true),
            mail: sample_mail_context(),
        }
    }

    /// Contexts a template is checked with: pages as an anonymous visitor and as a logged-in
    /// user (both branches of `{% if current_user %}`; only the latter for pages behind a
    /// login), mails with the mail context. Partials (`_macros.html`, ...) are checked
    /// through the pages that include them; extra templates of the app's own only have to
    /// parse.
    fn for_template(&self, name: &str) -> Vec<&Context> {
        let file = name.rsplit('/').next().unwrap_or(name);
        let known = DEFAULTS.iter().any(|(default, _)| *default == name);
        if !known || file.starts_with('_') {
            return Vec::new();
        }
        if name.starts_with("security/email/") {
            return vec![&self.mail];
        }
        if LOGGED_IN_PAGES.contains(&name) {
            return vec![&self.logged_in_page];
        }
        vec![&self.anonymous_page, &self.logged_in_page]
    }
}

/// The context every page gets, with every page-specific variable (`docs/customising.md`, "What templates are given").
pub fn sample_page_context(logged_in: bool) -> Context {
    let user = json!({
        "id": 1, "email": "ada@example.com", "username": "ada", "premium": false,
        "active": true, "confirmed_at": "2026-01-01T00:00:00",
        "last_login_at": "2026-01-01T00:00:00", "login_count": 1,
    });
    let mut ctx = Context::new();
    ctx.insert("lang", "en");
    ctx.insert(
        "languages",
        &json!([{"code": "en", "name": "English"}, {"code": "de", "name": "Deutsch"}]),
    );
    ctx.insert(
        "request_path",
        &Urls::default().with_query(Route::Login, "next=%2Fprofile"),
    );
    ctx.insert("current_user", &logged_in.then_some(&user));
    ctx.insert("csrf_token", "sample-csrf-token");
    ctx.insert(
        "check_email",
        &json!({"sent": "registered", "address": "ada@example.com",
                "resend_url": Urls::default().path(Route::Confirm), "resend_after_secs": 60}),
    );
    ctx.insert(
        "flashes",
        &json!([{"category": "info", "message": "A flashed message."}]),
    );
    ctx.insert(
        "config",
        &json!({
            "app_name": "Latchkey", "registerable": true, "confirmable": true,
            "recoverable": true, "changeable": true, "username_enable": true, "password_confirm_required": true, "password_required": true, "login_by_email": true, "login_by_username": true,
            "two_factor": true, "recovery_codes": true, "webauthn": true,
            "wan_first_factor": true, "unified_signin": true,
            "change_email": true, "change_username": true, "username_recovery": true,
            "password_rules": {"min": 8, "max": 128, "strength": true, "breached": true},
            "username_rules": {"min": 4, "max": 32, "letters_and_digits": true},
        }),
    );
    let mut urls = json!({
            "home": Urls::default().path(Route::Home),
            "login": Urls::default().path(Route::Login),
            "logout": Urls::default().path(Route::Logout),
            "register": Urls::default().path(Route::Register),
            "forgot_password": Urls::default().path(Route::Reset),
            "send_confirmation": Urls::default().path(Route::Confirm),
            "change_password": Urls::default().path(Route::Change),
            "profile": Urls::default().path(Route::Profile),
            "premium": Urls::default().path(Route::Premium),
            "admin": Urls::default().path(Route::Admin),
            "sessions": Urls::default().path(Route::Sessions),
            "sessions_revoke": Urls::default().path(Route::SessionsRevoke),
            "sessions_revoke_others": Urls::default().path(Route::SessionsRevokeOthers),
            "sessions_revoke_token": Urls::default().path(Route::SessionsRevokeToken),
            "lang": Urls::default().path(Route::Lang),
            "favicon": Urls::default().path(Route::Favicon),
            "static": Urls::default().base(Route::StaticFile),
            "verify": Urls::default().path(Route::Verify),
            "tf_setup": Urls::default().path(Route::TfSetup),
            "tf_validate": Urls::default().path(Route::TfValidate),
            "tf_select": Urls::default().path(Route::TfSelect),
            "tf_rescue": Urls::default().path(Route::TfRescue),
            "mf_recovery_codes": Urls::default().path(Route::MfRecoveryCodes),
            "mf_recovery": Urls::default().path(Route::MfRecovery),
            "wan_register": Urls::default().path(Route::WanRegister),
            "wan_delete": Urls::default().path(Route::WanDelete),
            "wan_signin": Urls::default().path(Route::WanSignin),
            "wan_verify": Urls::default().path(Route::WanVerify),
            "wan_signup": Urls::default().path(Route::WanSignup),
            "us_signin": Urls::default().path(Route::UsSignin),
            "us_signin_send_code": Urls::default().path(Route::UsSigninSendCode),
            "us_setup": Urls::default().path(Route::UsSetup),
            "us_verify": Urls::default().path(Route::UsVerify),
            "us_verify_send_code": Urls::default().path(Route::UsVerifySendCode),
            "us_verify_link": Urls::default().path(Route::UsVerifyLink),
            "change_email": Urls::default().path(Route::ChangeEmail),
            "change_username": Urls::default().path(Route::ChangeUsername),
            "recover_username": Urls::default().path(Route::RecoverUsername),
    });
    // The identity provider's pages (a second object: one `json!` this long would pass
    // the macro's recursion limit).
    for (name, route) in [
        ("oidc_authorize", Route::OidcAuthorize),
        ("oidc_logout", Route::OidcLogout),
        ("oidc_apps", Route::OidcApps),
        ("oidc_apps_revoke", Route::OidcAppsRevoke),
    ] {
        urls[name] = json!(Urls::default().path(route));
    }
    ctx.insert("urls", &urls);
    ctx.insert("errors", &json!({"email": ["A field error."]}));
    ctx.insert("form_errors", &json!(["A form-wide error."]));
    ctx.insert(
        "form",
        &json!({"email": "ada@example.com", "username": "ada", "remember": true,
                "identity": "ada@example.com", "chosen_method": "email"}),
    );
    ctx.insert("next", Urls::default().path(Route::Profile));
    ctx.insert(
        "reset_url",
        &Urls::default().with_token(Route::ResetToken, "sample-token"),
    );
    ctx.insert(
        "sessions",
        &json!([
            {"handle": "a1b2c3", "created_at": "2026-01-01 00:00:00",
             "last_seen_at": "2026-01-01 00:05:00", "ip": "192.0.2.1",
             "user_agent": "Firefox", "remembered": true,
             "remembered_until": "2027-01-01 00:00:00", "current": true},
            {"handle": "d4e5f6", "created_at": "2026-01-01 00:00:00",
             "last_seen_at": "2026-01-01 00:05:00", "ip": null, "user_agent": null,
             "remembered": false, "remembered_until": null, "current": false},
        ]),
    );
    ctx.insert(
        "api_tokens",
        &json!([{"handle": "f6e5d4", "created_at": "2026-01-01T00:00:00Z",
                 "last_used_at": "2026-01-01T00:05:00Z", "expires_at": "2026-01-01T00:15:00Z",
                 "ip": "192.0.2.1", "user_agent": "curl/8.5", "refreshable": true,
                 "current": false}]),
    );
    ctx.insert(
        "users",
        &json!([{
            "id": 1, "email": "ada@example.com", "username": "ada", "roles": ["admin"],
            "premium": true, "active": true, "confirmed": true,
            "last_login_at": "2026-01-01 00:00:00", "last_login_iso": "2026-01-01T00:00:00Z",
            "last_login_ip": "192.0.2.1", "login_count": 1, "two_factor": "authenticator",
        }]),
    );
    ctx.insert(
        "error",
        &json!({"status": 429, "title": "Too many attempts",
                "message": "Too many attempts. Please try again in 1 second.",
                "detail": "This pause protects your account from guessing.",
                "reference": "0af7651916cd43dd", "next": [{"url": Urls::default().path(Route::Home), "label": "Home"}]}),
    );
    ctx.insert("total", &1);
    ctx.insert("q", "");
    ctx.insert(
        "clients",
        &json!([{"client_id": "mZ3", "name": "Grafana", "is_public": false,
                 "redirect_uris": ["https://grafana.example.com/login/generic_oauth"],
                 "scopes": ["openid", "email"]}]),
    );
    // "Confirm it's you": every other way shows (`auth::signin::reauth::Ways`).
    ctx.insert(
        "reauth",
        &json!({"password": true, "codes": ["email", "sms"], "authenticator": true,
                "passkey": true, "oauth": ["acme"]}),
    );
    ctx.insert(
        "events",
        &json!([
            {"time": "2026-01-01 00:00:00 UTC", "user_id": 1, "email": "ada@example.com",
             "kind": "login_succeeded", "what": "Signed in with a password",
             "client": "Firefox on Linux", "ip": "192.0.2.1", "failure": false},
            {"time": "2026-01-01 00:00:00 UTC", "user_id": null, "email": null,
             "kind": "login_failed", "what": "Failed sign-in with a password",
             "client": "an unknown client", "ip": null, "failure": true},
        ]),
    );
    // Two-factor (`security/two_factor_*.html`), with an authenticator setup under way so
    // that the QR code branch renders (a small QR-like SVG stands for the real one).
    let qr_svg = concat!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="29" height="29""#,
        r#" viewBox="0 0 29 29" shape-rendering="crispEdges">"#,
        r##"<rect x="0" y="0" width="29" height="29" fill="#fff"/>"##,
        r##"<path fill="#000" d="M4 4h7v7H4V4M18 4h7v7H18V4M4 18h7v7H4V18M13 13h3v3H13V13"/>"##,
        "</svg>",
    );
    ctx.insert(
        "tf",
        &json!({
            "available_methods": ["email", "authenticator", "sms"],
            "primary_method": "email", "required": false, "phone": null,
        }),
    );
    ctx.insert(
        "setup",
        &json!({
            "method": "authenticator", "token": "sample-state-token", "sent_to": null,
            "state": "sample-state-token", "code_sent": false,
            "authenticator": {
                "key": "JBSW-Y3DP-EHPK-3PXP",
                "uri": "otpauth://totp/Latchkey:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Latchkey",
                "qr_svg": qr_svg,
                "issuer": "Latchkey", "account": "ada@example.com",
            },
        }),
    );
    ctx.insert("tf_method", "authenticator");
    ctx.insert(
        "recovery_options",
        &json!({"email": Urls::default().path(Route::TfRescue), "recovery_code": Urls::default().path(Route::MfRecovery)}),
    );
    ctx.insert("remember_device", &true);
    ctx.insert("signing_in_as", "ada@example.com");
    ctx.insert("tf_methods", &json!(["authenticator", "email"]));
    ctx.insert(
        "recovery_codes",
        &json!(["3f2a-9c41-b7d0", "0e8b-5d17-c2a9", "a4c6-1f03-9e5b"]),
    );
    ctx.insert("codes_left", &3);
    // The OpenID Connect provider's consent page.
    ctx.insert("client_name", "Grafana");
    ctx.insert("signed_in_as", "ada@example.com");
    ctx.insert(
        "to",
        "https://grafana.example.com/login/generic_oauth?code=c&state=s",
    );
    ctx.insert(
        "apps",
        &json!([{"client_id": "grafana", "name": "Grafana",
                 "sees": ["Who you are on this site", "Your email address"],
                 "agreed_at": "2026-01-01T00:00:00"}]),
    );
    ctx.insert(
        "scopes",
        &json!(["Who you are on this site", "Your email address"]),
    );
    ctx.insert(
        "params",
        &json!([{"name": "client_id", "value": "grafana"}, {"name": "scope", "value": "openid email"}]),
    );
    ctx.insert(
        "account",
        &json!({
            "email": "ada@example.com", "username": "ada",
            "password_change_url": Urls::default().path(Route::Change),
            "two_factor": {"method": "authenticator", "setup_url": Urls::default().path(Route::TfSetup)},
            "recovery_codes": {"left": 3, "url": Urls::default().path(Route::MfRecoveryCodes)},
            "sessions_url": Urls::default().path(Route::Sessions), "has_password": true,
            "activity": [
                {"time": "2026-01-01 00:00 UTC", "datetime": "2026-01-01T00:00:00Z",
                 "what": "Signed in with a password",
                 "client": "Firefox on Linux", "ip": "192.0.2.1", "failure": false},
                {"time": "2026-01-01 00:00 UTC", "datetime": "2026-01-01T00:00:00Z",
                 "what": "Failed sign-in with a password",
                 "client": "an unknown client", "ip": null, "failure": true},
            ],
            "signin_options": {"url": Urls::default().path(Route::UsSetup), "email": true, "sms": false,
                               "authenticator": true},
            "failed_signins": 2,
            "change_email_url": Urls::default().path(Route::ChangeEmail),
            "change_username_url": Urls::default().path(Route::ChangeUsername),
            "passkeys": {
                "list": [{"name": "Laptop", "usage": "first",
                          "created": "2026-01-01T00:00:00Z", "last_used": "2026-01-02T00:00:00Z"}],
                "manage_url": Urls::default().path(Route::WanRegister),
            },
            "social_logins": {
                "list": [{"id": 1, "provider": "google", "email": "ada@example.com",
                          "linked": "2026-01-01 00:00 UTC", "last_used": null}],
                "providers": [{"name": "google", "url": Urls::default().with_token(Route::OauthLink, "google")}],
                "unlink_url": Urls::default().path(Route::OauthUnlink),
            },
        }),
    );
    ctx.insert("has_password", &true);
    // Passkeys (`security/wan_*.html`): a ceremony under way, so that its form renders.
    ctx.insert(
        "registered_credentials",
        &json!([{
            "name": "Laptop", "credential_id": "AQID", "transports": ["internal"],
            "lastuse": "2026-01-02T00:00:00", "created": "2026-01-01T00:00:00",
            "usage": "first", "backup_state": false, "device_type": "single_device",
            "discoverable": true,
        }]),
    );
    ctx.insert("wan_allow_first", &true);
    ctx.insert("wan_state", "sample-wan-state");
    ctx.insert(
        "credential_options",
        r#"{"challenge":"AAAA","rpId":"example.com"}"#,
    );
    ctx.insert("name", "Laptop");
    ctx.insert("is_secondary", &false);
    ctx.insert("remember", &true);
    ctx.insert("email", "ada@example.com");
    ctx.insert("username", "ada");
    // Unified sign-in (`security/us_*.html`).
    ctx.insert(
        "available_methods",
        &json!(["password", "email", "authenticator", "sms"]),
    );
    ctx.insert("code_methods", &json!(["email", "sms"]));
    ctx.insert(
        "us",
        &json!({
            "identity_attributes": ["email"],
            "available_methods": ["password", "email", "authenticator", "sms"],
            "active_methods": ["password", "email"],
            "setup_methods": ["email", "authenticator", "sms"],
            "code_methods": ["email"],
            "phone": "+15551234567",
            "has_webauthn_verify_credential": false,
        }),
    );
    ctx.insert("link_id", "sample-uniquifier");
    ctx.insert("link_code", "123456");
    ctx.insert("link_email", "");
    // Change of email and username (`security/change_email*.html`, `change_username.html`).
    ctx.insert("current_email", "ada@example.com");
    ctx.insert("current_username", "ada");
    ctx.insert("valid", &true);
    ctx.insert(
        "revert_url",
        &Urls::default().with_token(Route::ChangeEmailRevert, "sample-token"),
    );
    ctx
}

/// The context every mail gets, with every mail-specific variable.
pub fn sample_mail_context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("lang", "en");
    ctx.insert(
        "user",
        &json!({"email": "ada@example.com", "username": "ada"}),
    );
    ctx.insert("config", &json!({"app_name": "Latchkey"}));
    ctx.insert("subject", "Sample subject");
    ctx.insert("login_link", "https://example.com/login");
    ctx.insert("recover_link", "https://example.com/reset");
    ctx.insert(
        "confirmation_link",
        "https://example.com/confirm/sample-token",
    );
    ctx.insert("reset_link", "https://example.com/reset/sample-token");
    ctx.insert("token", "123456");
    ctx.insert("login_token", "123456");
    ctx.insert("username", "ada@example.com");
    ctx.insert("within", "5 minutes");
    ctx.insert("link", "https://example.com/change-email/sample-token");
    ctx.insert("new_email", "a***@example.org");
    ctx.insert(
        "revert_link",
        "https://example.com/change-email/revert/sample-token",
    );
    // Security notices (`*_notice`): the common facts, and each notice's own.
    ctx.insert(
        "notice",
        &json!({
            "time": "2026-01-01 00:00 UTC", "client": "Firefox on Linux",
            "ip": "192.0.2.1", "sessions_link": "https://example.com/sessions",
        }),
    );
    ctx.insert(
        "two_factor",
        &json!({"change": "enabled", "method": "authenticator"}),
    );
    ctx.insert("passkey", &json!({"added": true, "name": "Laptop"}));
    ctx.insert(
        "identity",
        &json!({"linked": true, "provider": "google", "email": "ada@example.com"}),
    );
    ctx
}

/// Changes when a template file under `dir` is added, removed or edited.
fn fingerprint(dir: &Path) -> u64 {
    fn walk(dir: &Path, hasher: &mut DefaultHasher) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, hasher);
            } else if is_template(&path) {
                path.hash(hasher);
                if let Ok(meta) = path.metadata() {
                    meta.len().hash(hasher);
                    meta.modified()
                        .ok()
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .hash(hasher);
                }
            }
        }
    }
    let mut hasher = DefaultHasher::new();
    walk(dir, &mut hasher);
    hasher.finish()
}

fn is_template(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("html" | "txt")
    )
}

fn collect_overrides(root: &Path, dir: &Path, out: &mut Vec<Source>) -> Result<(), TemplateError> {
    let read_error = |path: &Path, e: std::io::Error| TemplateError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        if path.is_dir() {
            collect_overrides(root, &path, out)?;
            continue;
        }
        if !is_template(&path) {
            continue;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let name = relative.to_string_lossy().replace('\\', "/");
        let body = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
        // A later entry of the same name replaces the default.
        out.retain(|existing| existing.name != name);
        out.push(Source {
            name,
            body: Cow::Owned(body),
            path: Some(path),
        });
    }
    Ok(())
}
/// Tera's errors nest their cause; show the whole chain in the log.
pub fn describe_tera_error(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        source = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts the built-in templates pass through `t` (`"…" | t`) and the form labels
    /// (translated by `_macros.html`).
    fn template_msgids() -> Vec<(&'static str, String)> {
        let mut found = Vec::new();
        for (name, body) in DEFAULTS {
            let mut rest = *body;
            while let Some(at) = rest.find(" | t") {
                let before = &rest[..at];
                let quote = before.chars().last().unwrap_or(' ');
                if matches!(quote, '"' | '\'' | '`') {
                    let open = before[..before.len() - 1]
                        .rfind(quote)
                        .expect("opening quote");
                    found.push((*name, before[open + 1..before.len() - 1].to_owned()));
                }
                rest = &rest[at + 4..];
            }
            let mut rest = *body;
            while let Some(at) = rest.find("label=\"") {
                let value = &rest[at + 7..];
                let end = value.find('"').expect("closing quote");
                if !value[..end].contains('{') {
                    found.push((*name, value[..end].to_owned()));
                }
                rest = &value[end..];
            }
        }
        found
    }

    #[test]
    fn every_template_text_has_a_german_and_a_french_translation() {
        let texts = template_msgids();
        assert!(texts.len() > 300, "{}", texts.len());
        for tag in ["de", "fr"] {
            let lang = Lang::parse(tag).unwrap();
            let messages = Messages::default();
            for (name, msgid) in &texts {
                assert!(
                    messages.has_translation(&lang, msgid),
                    "{name}: {msgid:?} has no {tag} translation"
                );
            }
        }
    }

    /// Every built-in page and mail, with every sample context, in each language: the
    /// templates whose fixed texts were translated ahead render exactly what the `t` filter
    /// rendered at each render.
    #[test]
    fn texts_translated_ahead_render_as_the_filter_did() {
        let messages = Messages::default();
        let sources: Vec<Source> = DEFAULTS
            .iter()
            .map(|(name, body)| Source {
                name: (*name).to_owned(),
                body: Cow::Borrowed(*body),
                path: None,
            })
            .collect();
        let with_filter = parse(&sources, &messages).unwrap();
        let samples = Samples::new();
        let mut compared = 0;
        for tag in ["en", "de", "fr"] {
            let lang = Lang::parse(tag).unwrap();
            let mut ahead = parse(&sources, &messages).unwrap();
            pretranslate::translate(&mut ahead, |msgid| messages.lookup(&lang, msgid).to_owned());
            let _lang = InLanguage::set(&lang);
            for source in &sources {
                for ctx in samples.for_template(&source.name) {
                    let expected = with_filter.render(&source.name, ctx).unwrap();
                    let got = ahead.render(&source.name, ctx).unwrap();
                    assert_eq!(got, expected, "{} in {tag}", source.name);
                    compared += 1;
                }
            }
        }
        assert!(compared > 150, "{compared}");
    }

    #[test]
    fn logged_in_pages_cannot_crowd_out_the_anonymous_ones() {
        let messages = Messages::default();
        let templates =
            Templates::load(Path::new("/nonexistent/templates"), &[], false, &messages).unwrap();
        let defaults = overlay::PageDefaults::new(sample_page_context(false));
        let page = |key: &[u8], signed_in: bool, path: &str| {
            let reused = ReusedPage {
                key,
                // A real token's shape (a word such as "tok" is found in "token" too).
                csrf_token: "Vq3-sample_token_of_the_real_length_43chars",
                signed_in,
            };
            let values = |token: &str, _| {
                let mut ctx = Context::new();
                ctx.insert("request_path", path);
                ctx.insert("csrf_token", token);
                ctx
            };
            templates
                .render_page(
                    &Lang::english(),
                    "security/login_user.html",
                    reused,
                    &defaults,
                    values,
                )
                .unwrap()
        };
        // The login page, asked for twice: cut and kept, until it goes stale.
        page(b"login", false, "/login?v=1");
        page(b"login", false, "/login?v=1");
        std::thread::sleep(page_cache::FRESH_FOR + Duration::from_millis(100));
        // More logged-in pages at once than the cache holds, each asked for twice.
        for i in 0..page_cache::MAX_ENTRIES + 5 {
            let key = format!("user {i}");
            page(key.as_bytes(), true, "/profile");
            page(key.as_bytes(), true, "/profile");
        }
        // The login page is still kept: asked for twice, then served from the cache (its
        // key unchanged, a changed context shows whether it was rendered again).
        page(b"login", false, "/login?v=2");
        page(b"login", false, "/login?v=2");
        let third = page(b"login", false, "/login?v=3");
        assert!(third.contains("v=2") && !third.contains("v=3"), "{third}");
    }

    #[test]
    fn pages_and_mails_render_in_the_language_asked_for() {
        let messages = Messages::default();
        let templates =
            Templates::load(Path::new("/nonexistent/templates"), &[], false, &messages).unwrap();
        let mut ctx = sample_page_context(false);
        ctx.insert("lang", "fr");
        let page = templates
            .render(
                &Lang::parse("fr").unwrap(),
                "security/login_user.html",
                &ctx,
            )
            .unwrap();
        assert!(page.contains("<html lang=\"fr\">"), "{page}");
        assert!(page.contains("Se souvenir de moi"), "{page}");
        let mail = templates
            .render(
                &Lang::parse("de").unwrap(),
                "security/email/reset_instructions.txt",
                &sample_mail_context(),
            )
            .unwrap();
        assert!(mail.contains("Passwort zurück"), "{mail}");
        let english = templates
            .render(
                &Lang::english(),
                "security/login_user.html",
                &sample_page_context(false),
            )
            .unwrap();
        assert!(english.contains("Remember me"));
    }
}
