//! The integration tests: one test binary (`cargo test --test it`), one module per feature.
//! Every test starts its own Latchkey (own port, own database, see [`common`]) and talks to it
//! over HTTP, or runs the `latchkey` binary.
//!
//! All of them share one process: a test must not change process-wide state that another
//! test could see (environment variables, the current directory, the global `tracing`
//! subscriber: [`common::init_logging`] installs it). `cargo test --test it login::` runs one
//! module.
//!
//! The headless-browser tests (`tests/browser.rs`, `--features browser-tests`) and the
//! documentation's links (`tests/doc_links.rs`) are binaries of their own.

// The shared helpers.
mod common;
mod mail_support;
mod proxy_support;

mod account_page;
mod api_tokens;
mod architecture;
mod attacks_recovery;
mod attacks_sessions;
mod bad_input;
mod change;
mod change_email;
mod check_email;
mod cli;
mod cli_matches_forms;
mod confirm;
mod csrf;
mod customising;
mod db_pool;
mod features;
mod flask_catalogue;
mod flask_interop;
mod flow_keys;
mod generic_responses;
mod guards;
mod hash_queue;
mod home;
mod housekeeping;
mod json_api;
mod languages;
mod lifecycle;
mod login;
mod logout;
mod lookalikes;
mod mail_at_rest;
mod mail_delivery;
mod mail_dev_transport;
mod mail_limits;
mod mail_outage;
mod malformed_requests;
mod many_instances;
mod next_redirect;
mod normalize_keys;
mod oidc_foundation;
mod oidc_provider;
mod operations;
mod outage;
mod passkeys;
mod password_hashing;
mod password_policy;
mod pending_login;
mod protected_pages;
mod recover;
mod recovery_code_keys;
mod register;
mod security_events;
mod security_headers;
mod security_notices;
mod session_control;
mod sessions;
mod social_login;
mod spa;
mod startup;
mod thin_handlers;
mod throttle;
mod totp_passlib;
mod trackable;
mod two_factor;
mod unified_signin;
mod url_keys;
mod username;
mod username_changes;
mod view_keys;
