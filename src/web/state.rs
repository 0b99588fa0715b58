//! What every request shares: the rules' [`Services`], plus what only the web layer keeps
//! (the coalesced session lookups and the settings' part of every page). It dereferences to
//! the services, so a handler reaches `state.db` or `state.settings` directly.

use std::ops::Deref;

use crate::auth::login::SessionLookups;
use crate::auth::services::StartError;
use crate::auth::Services;
use crate::config::Settings;
use crate::db::PoolOptions;

pub struct AppState {
    pub services: Services,
    /// Who is logged in, for every request with a session cookie.
    pub session_lookups: SessionLookups,
    /// The settings' part of every page context (see [`super::page::page_defaults`]).
    pub page_defaults: tera::Context,
}

impl AppState {
    /// Starts the services (database with migrations, templates, hashing) for a server.
    /// Blocking: call it off the async executor.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        let pool = PoolOptions::server(&settings.database_url);
        Ok(Self::with_services(Services::start(settings, pool)?))
    }

    /// The web state around services built elsewhere.
    pub fn with_services(services: Services) -> Self {
        let page_defaults = super::page::page_defaults(&services.settings);
        let session_lookups = crate::auth::login::session_lookups(
            services.db.clone(),
            services.settings.session_policy.clone(),
        );
        Self {
            services,
            session_lookups,
            page_defaults,
        }
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
