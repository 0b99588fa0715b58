//! What the rules need, in one value: the settings, the database, the password hasher, the
//! link-token issuer and the templates that mail is rendered from. The web app holds one
//! (inside its `AppState`), the CLI builds one, tests build one; every rule in [`crate::auth`]
//! takes it and plain values, so none of them knows about HTTP.

use std::sync::Arc;

use crate::config::{ConfigError, Settings};
use crate::db::{Db, PoolOptions};
use crate::mail::{Mailer, OutboxKey};
use crate::messages::{Lang, Messages};
use crate::templates::Templates;

use super::events::{EventLog, Events, SecurityEvent};
use super::hashing::PasswordHasher;
use super::login::ClientInfo;
use super::sms::{DevelopmentSms, SmsSender};
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
    /// The texts in the language of the request being served (the default language until
    /// [`Services::in_language`]): messages the rules word and the mails they queue.
    pub messages: Messages,
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
                Templates::load(&settings.templates_dir, watch_templates, &settings.messages)
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
        .with_queue_limit(settings.hash_queue);
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
            sms: Arc::new(DevelopmentSms {
                dir: settings.sms_outbox_dir.clone(),
                log_text: settings.mail.log_links,
            }),
            messages: settings.messages.clone(),
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
        Mailer::new(&self.templates, &self.settings, &self.messages)
    }
}
