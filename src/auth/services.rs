//! What the rules need, in one value: the settings, the database, the password hasher, the
//! link-token issuer and the templates that mail is rendered from. The web app holds one
//! (inside its `AppState`), the CLI builds one, tests build one; every rule in [`crate::auth`]
//! takes it and plain values, so none of them knows about HTTP.

use std::sync::Arc;

use crate::config::{ConfigError, MessageSettings, Settings};
use crate::db::{Db, PoolOptions};
use crate::mail::{Mailer, OutboxKey};
use crate::messages::{Lang, Messages};
use crate::templates::Templates;

use super::events::{EventLog, Events, SecurityEvent};
use super::hashing::PasswordHasher;
use super::login::ClientInfo;
use super::sms::SmsSender;
use super::totp::TotpKeys;
use super::user_tokens::TokenIssuer;

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub templates: Arc<Templates>,
    /// Seals queued mail bodies (and tags recipients in logs).
    pub outbox_key: OutboxKey,
    /// `SECURITY_TOTP_SECRETS`, parsed: encrypts stored TOTP secrets.
    pub totp_keys: Option<TotpKeys>,
    /// Sends the `sms` second factor's codes; replace it to use a provider.
    pub sms: Arc<dyn SmsSender>,
    /// Stores API tokens and signs refresh tokens.
    pub api_token_keys: super::api_token_keys::TokenKeys,
    /// The hooks: emit security events, subscribe to them (see [`super::events`]).
    pub events: Events,
    /// The account overview's reads, coalesced across concurrent requests.
    pub overview_reads: super::page_reads::OverviewReads,
    /// The sessions page's reads, coalesced across concurrent requests.
    pub session_page_reads: super::page_reads::SessionPageReads,
    /// Social login's provider clients (their discovery documents, fetched when needed).
    pub oauth: super::oauth::client::Providers,
    /// The texts in the language of the request being served (the default language until
    /// [`Services::in_language`]): messages the rules word and the mails they queue.
    pub messages: Messages,
    /// Where every route is served (`SECURITY_URL_PREFIX`, the `SECURITY_*_URL` keys): the
    /// one table pages, mails and redirects name paths from.
    pub urls: crate::urls::Urls,
}

/// The names a `SECURITY_MSG_<NAME>` key may have (`config::keys` checks them).
pub fn message_names() -> Vec<&'static str> {
    crate::messages::ALL.iter().map(|msg| msg.name).collect()
}

/// The catalogue of user-facing texts the settings describe: the shipped translations, then
/// the gettext files of `SECURITY_I18N_DIRNAME` (Flask's layout
/// `<dir>/<lang>/LC_MESSAGES/<domain>.mo|.po`, domain `SECURITY_I18N_DOMAIN`), then
/// `SECURITY_MSG_<NAME>` replacements over all of them; `BABEL_DEFAULT_LOCALE` is the language
/// of requests that ask for none the catalogue has. A file, a replacement or a language it
/// cannot use is a [`ConfigError`] naming the key. [`Services::start`] calls it; the CLI
/// calls it first, so that every command refuses such a setting as a configuration error.
pub fn load_messages(settings: &MessageSettings) -> Result<Messages, ConfigError> {
    let default_lang = match &settings.default_locale {
        None => Lang::english(),
        Some(raw) => Lang::parse(raw).ok_or_else(|| {
            ConfigError::new(
                "BABEL_DEFAULT_LOCALE",
                format!("expected a language tag such as en or de_DE, got {raw:?}"),
            )
        })?,
    };
    let messages = Messages::with_overrides(|key| settings.override_for(key))
        .map_err(|e| ConfigError::new(&e.key, e.reason))?
        .with_translation_dirs(&settings.translation_dirs, &settings.domain)
        .map_err(|e| ConfigError::new("SECURITY_I18N_DIRNAME", e.to_string()))?;
    let languages = messages.languages();
    // `de_DE` where the catalogue has `de`: its language.
    let default_lang = match Lang::parse(default_lang.primary()) {
        Some(primary) if !languages.contains(&default_lang) && languages.contains(&primary) => {
            primary
        }
        _ => default_lang,
    };
    if !languages.contains(&default_lang) {
        return Err(ConfigError::new(
            "BABEL_DEFAULT_LOCALE",
            format!(
                "no translation for {default_lang} (neither shipped nor in SECURITY_I18N_DIRNAME)"
            ),
        ));
    }
    Ok(messages.with_default_language(default_lang))
}

/// Why the services could not start: each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0:#}")]
    Database(anyhow::Error),
    #[error(transparent)]
    Templates(#[from] crate::templates::TemplateError),
    #[error(transparent)]
    Hashing(#[from] super::hashing::HashError),
}

impl Services {
    /// Checks the settings the rules own, connects to the database (applying migrations),
    /// loads and checks the templates and starts the hashing threads. Blocking: call it off
    /// the async executor.
    pub fn start(settings: Settings, pool: PoolOptions) -> Result<Self, StartError> {
        let messages = load_messages(&settings.messages)?;
        super::throttle::check_policy(&settings.login_throttle)?;
        let totp_keys = match &settings.two_factor.totp_secrets {
            Some(value) => Some(
                TotpKeys::parse(value.expose())
                    .map_err(|e| ConfigError::new("SECURITY_TOTP_SECRETS", e.to_string()))?,
            ),
            None => None,
        };
        // Outside production, edited templates are used without a restart.
        let watch_templates = settings.environment == crate::config::Environment::Development;
        // Connecting (and migrating) and checking the templates are the two halves of a
        // start-up: they run side by side. A database error is reported first, as before.
        let (db, templates) = std::thread::scope(|scope| {
            let templates = scope.spawn(|| {
                Templates::load(
                    &settings.templates_dir,
                    &settings.template_names,
                    watch_templates,
                    &messages,
                )
            });
            let db = Db::connect_with(&settings.database_url, pool);
            let templates = templates
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (db, templates)
        });
        let db = db.map_err(StartError::Database)?;
        let templates = templates?;
        let hasher = PasswordHasher::new(
            settings.password_salt.clone(),
            settings.password_hash,
            settings.bcrypt_rounds,
        )?
        .with_queue(settings.hash_queue);
        let events = Events::start(settings.events.queue);
        events.subscribe(Arc::new(EventLog::new(
            db.clone(),
            settings.events.retention,
        )));
        Ok(Self {
            events,
            tokens: TokenIssuer::new(&settings.secret_key),
            api_token_keys: super::api_token_keys::TokenKeys::new(&settings.secret_key),
            outbox_key: OutboxKey::derive(&settings.secret_key),
            totp_keys,
            sms: super::sms::configured(&settings.sms, settings.mail.log_links),
            messages,
            oauth: super::oauth::client::Providers::new(settings.oauth.http_timeout),
            overview_reads: super::page_reads::overview_reads(
                db.clone(),
                settings.webauthn.enabled,
            ),
            session_page_reads: super::page_reads::session_page_reads(db.clone()),
            urls: crate::urls::Urls::new(&settings.paths.prefix, &settings.paths.keys),
            settings: Arc::new(settings),
            db,
            hasher,
            templates: Arc::new(templates),
        })
    }

    /// Starts the worker that delivers the outbox (one per process; stop it after the
    /// server with [`crate::mail::worker::WorkerHandle::shutdown`]).
    pub fn spawn_mail_worker(
        &self,
    ) -> Result<crate::mail::worker::WorkerHandle, crate::mail::worker::SetupError> {
        crate::mail::worker::spawn(
            self.db.clone(),
            &self.settings.mail,
            self.outbox_key.clone(),
        )
    }

    /// Emits a security event about `user_id`, caused by `client` (`&ClientInfo::default()`
    /// outside a request): queued for the subscribers, never blocking (see
    /// [`super::events`]).
    pub fn emit(&self, event: SecurityEvent, user_id: Option<i32>, client: &ClientInfo) {
        self.events.emit(event, user_id, client);
    }

    /// The keys stored TOTP secrets are encrypted with (`SECURITY_TOTP_SECRETS`).
    pub fn totp_keys(&self) -> Option<&TotpKeys> {
        self.totp_keys.as_ref()
    }

    /// The same services speaking `lang`: what a request's handler passes to the rules, so
    /// that their messages and mails are in the request's language. Cheap (shared parts).
    pub fn in_language(&self, lang: &Lang) -> Self {
        let mut services = self.clone();
        services.messages = self.messages.in_language(lang);
        services
    }

    /// Renders the mails the rules queue, in [`Services::messages`]' language.
    pub fn mailer(&self) -> Mailer<'_> {
        Mailer::new(&self.templates, &self.settings, &self.messages, self.urls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    fn message_settings(pairs: &[(&str, &str)]) -> MessageSettings {
        let mut all = vec![
            ("SECRET_KEY", "a-development-secret-key-of-enough-length"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "test.db"),
        ];
        all.extend_from_slice(pairs);
        Settings::from_source(&Source::from_pairs(all))
            .expect("settings")
            .messages
    }

    #[test]
    fn the_catalogue_is_loaded_from_the_texts_settings() {
        let messages = load_messages(&message_settings(&[])).unwrap();
        assert_eq!(messages.default_language(), &Lang::english());
        // A regional default falls back to the language the catalogue has.
        let messages = load_messages(&message_settings(&[("BABEL_DEFAULT_LOCALE", "de_DE")]));
        assert_eq!(messages.unwrap().default_language().as_str(), "de");
    }

    #[test]
    fn what_the_catalogue_cannot_use_names_its_key() {
        for (key, value) in [
            ("BABEL_DEFAULT_LOCALE", "not a language"),
            ("BABEL_DEFAULT_LOCALE", "tlh"),
            ("SECURITY_MSG_INVALID_PASSWORD", "Bad %(pasword)s"),
            ("SECURITY_I18N_DIRNAME", "/nonexistent/latchkey-i18n"),
        ] {
            match load_messages(&message_settings(&[(key, value)])) {
                Err(e) => assert_eq!(e.key, key, "{key}={value}: {e}"),
                Ok(_) => panic!("{key}={value} was accepted"),
            }
        }
    }
}
