//! Building the application: state, middleware stack, routes, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_identity::IdentityMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::auth::events::{EventSubscriber, Events};
use crate::config::Settings;
use crate::crypto::derive_key;
use crate::mail::worker::WorkerHandle;
use crate::urls::{Route, Urls};
use crate::web::current_user::resolve_current_user;
use crate::web::error::negotiate_errors;
use crate::web::AppError;
pub use crate::web::AppState;

/// How long a stopping server waits for in-flight requests.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// The blocking threads (database work) each worker may have: its share of the pooled
/// connections, plus two for the coalesced reads' workers (more would only wait for a
/// connection).
/// The default (512 shared out among the workers) let each burst of logged-in pages start
/// dozens of threads, each keeping its stack and allocator pages: about 0.6 MB resident
/// apiece after the benchmark. Work beyond it waits in the runtime's queue.
fn blocking_threads_per_worker(settings: &Settings) -> usize {
    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let connections = usize::try_from(settings.database_pool.max_size).unwrap_or(16);
    connections.div_ceil(workers) + 2
}

/// The complete Latchkey app: middleware stack and routes. Library users can mount this
/// directly, or use [`crate::routes::configure`] inside an app that adds the same middleware.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let settings = state.settings.clone();
    let session_key = Key::from(&derive_key(&settings.secret_key, "session-cookie"));
    let sessions = SessionMiddleware::builder(CookieSessionStore::default(), session_key)
        .cookie_name(settings.session_cookie_name().to_owned())
        .cookie_secure(settings.cookie_secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path(crate::urls::ROOT.to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(BrowserSession::default())
        .build();
    let static_dir = settings.static_dir.clone();
    let urls = state.urls;
    App::new()
        .app_data(state)
        .configure(move |cfg| {
            crate::routes::configure(cfg, &settings, urls);
            static_files(cfg, &static_dir, urls);
        })
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
        // Listed innermost first: errors are negotiated last, sessions wrap identity, and the
        // current user is resolved inside both.
        .wrap(from_fn(resolve_current_user))
        // Sees the session after the handler: the CSRF cookie follows its token.
        .wrap(from_fn(crate::web::csrf::cookie))
        .wrap(IdentityMiddleware::default())
        .wrap(sessions)
        .wrap(from_fn(negotiate_errors))
        // Cross-origin answers (SECURITY_CORS_ALLOWED_ORIGINS), errors included.
        .wrap(from_fn(crate::web::cors::cors))
        // Sees every final answer (routes, static files, errors) to add the security headers.
        .wrap(from_fn(crate::web::headers::security_headers))
        // Outermost: the request span covers every line logged while serving the request.
        .wrap(from_fn(crate::web::request_log::log_requests))
}

/// The built-in stylesheet and scripts, served when `STATIC_DIR` has no file of that name.
const BUILT_IN_ASSETS: &[(&str, &str, &str)] = &[
    (
        "latchkey.css",
        "text/css; charset=utf-8",
        include_str!("../static/latchkey.css"),
    ),
    (
        "latchkey.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/latchkey.js"),
    ),
    (
        "codes.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/codes.js"),
    ),
    (
        "resend.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/resend.js"),
    ),
    (
        "webauthn.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/webauthn.js"),
    ),
];

/// The built-in icon (`static/favicon.ico`), served at `/favicon.ico` unless `STATIC_DIR` has one.
const FAVICON: &[u8] = include_bytes!("../static/favicon.ico");

/// Files under `STATIC_DIR`, and the built-in assets that folder does not replace.
fn static_files(cfg: &mut web::ServiceConfig, dir: &std::path::Path, urls: Urls) {
    let own_icon = dir.join("favicon.ico");
    cfg.route(
        urls.path(Route::Favicon),
        web::get().to(move || {
            let own_icon = own_icon.clone();
            async move {
                let body = match actix_web::web::block(move || std::fs::read(own_icon)).await {
                    Ok(Ok(bytes)) => bytes,
                    _ => FAVICON.to_vec(),
                };
                HttpResponse::Ok()
                    .content_type("image/x-icon")
                    .insert_header((
                        actix_web::http::header::CACHE_CONTROL,
                        "public, max-age=86400",
                    ))
                    .body(body)
            }
        }),
    );
    for &(name, content_type, body) in BUILT_IN_ASSETS {
        if !dir.join(name).is_file() {
            cfg.route(
                &urls.with_token(Route::StaticFile, name),
                web::get().to(move || async move {
                    HttpResponse::Ok().content_type(content_type).body(body)
                }),
            );
        }
    }
    if dir.is_dir() {
        cfg.service(actix_files::Files::new(urls.path(Route::Static), dir));
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    mail_worker: Option<WorkerHandle>,
    events: Events,
}

impl Application {
    /// Binds `HOST:PORT` (port 0 picks a free one, for tests) and prepares the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Vec::new()).await
    }

    /// [`Application::build`], with security event subscribers registered before the first
    /// request (see [`crate::auth::events`]).
    pub async fn build_with(
        settings: Settings,
        subscribers: Vec<Arc<dyn EventSubscriber>>,
    ) -> anyhow::Result<Self> {
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let blocking_threads = blocking_threads_per_worker(&settings);
        let state = web::Data::new(
            actix_web::rt::task::spawn_blocking(move || AppState::new(settings)).await??,
        );
        state.hasher.warm_up();
        for subscriber in subscribers {
            state.events.subscribe(subscriber);
        }
        let events = state.events.clone();
        // One mail delivery worker per process (requests only enqueue); stopped after the
        // server in `run_until_stopped`.
        let mail_worker = state.spawn_mail_worker()?;
        // One housekeeping task per process, on this (the main) runtime.
        state.spawn_housekeeping();
        tracing::info!(
            port,
            backend = state.settings.database_url.backend_name(),
            "Latchkey listening on {address}"
        );
        // SIGTERM/SIGINT stop accepting at once and give in-flight requests this long.
        let mut server = HttpServer::new(move || app(state.clone()))
            .listen(listener)?
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
            .worker_max_blocking_threads(blocking_threads);
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            mail_worker: Some(mail_worker),
            events,
        })
    }

    /// Stops the server programmatically (as SIGTERM does).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The security event bus: subscribe to it, or read how many events were dropped.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Serves until SIGTERM/SIGINT (or [`Application::handle`]'s stop): in-flight requests
    /// finish (up to 10 s), then the mail worker finishes the message it is sending.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        // Events emitted by the last requests reach their subscribers before the end.
        let events = self.events.clone();
        let _ = actix_web::rt::task::spawn_blocking(move || {
            events.flush(std::time::Duration::from_secs(SHUTDOWN_TIMEOUT_SECS))
        })
        .await;
        if let Some(worker) = self.mail_worker {
            worker.shutdown().await;
            tracing::info!("mail worker stopped");
        }
        tracing::info!("Latchkey stopped");
        result
    }
}
