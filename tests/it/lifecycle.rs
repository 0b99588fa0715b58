//! The credential-lifecycle table (`auth::lifecycle::ends`, SECURITY.md "What ends what"),
//! tested as a table: for every event, an account is given one of every thing the table
//! names (this login and another, the other's remember-me cookie, an API token and a refresh
//! family for each, a remembered browser, a pending login, a revert link, a change-email
//! link, a first-factor and a second-factor passkey, a sign-in method, a linked social login
//! identity, a second factor and recovery codes), the event happens through `lifecycle::end`, and each thing is looked up
//! through the functions that decide whether it still works. Every cell must match the
//! table. Runs on the backend the tests run on (SQLite, or PostgreSQL with
//! `--features postgres`).

use crate::common;

use diesel::prelude::*;
use latchkey::auth::api_tokens;
use latchkey::auth::lifecycle::{self, Event, Reach, Scope};
use latchkey::auth::login::{self, ClientInfo, LoginOptions};
use latchkey::auth::services::Services;
use latchkey::auth::signin::PendingLogin;
use latchkey::auth::two_factor;
use latchkey::auth::user_tokens::{Purpose, TokenState};
use latchkey::config::{Settings, Source};
use latchkey::db::models::{NewPasskey, User};
use latchkey::db::schema::{fs_refresh, user, webauthn};
use latchkey::db::PoolOptions;

use common::*;

const SETTINGS: &[(&str, &str)] = &[
    ("SECURITY_API_ENABLED_METHODS", "session,token"),
    ("SECURITY_REFRESH_TOKEN", "true"),
    ("SECURITY_TWO_FACTOR", "true"),
    ("SECURITY_TOTP_SECRETS", "lifecycle-table-secret"),
];

/// One account with one of everything.
struct World {
    user: User,
    this_login: String,
    other_login: String,
    other_remember: String,
    this_token: String,
    other_token: String,
    this_family: String,
    other_family: String,
    validity: String,
    pending: PendingLogin,
    revert_link: String,
    change_email_link: String,
    /// The family of an app's tokens ("Sign in with Latchkey").
    app_family: String,
}

fn passkey(user_id: i32, name: &str, usage: &str) -> NewPasskey {
    let now = chrono::Utc::now().naive_utc();
    NewPasskey {
        credential_id: format!("{name}-{user_id}").into_bytes(),
        public_key: vec![1, 2, 3],
        sign_count: Some(0),
        transports: None,
        backup_state: false,
        device_type: "single_device".to_owned(),
        extensions: None,
        create_datetime: now,
        lastuse_datetime: now,
        name: name.to_owned(),
        usage: usage.to_owned(),
        user_id,
    }
}

async fn make_world(app: &TestApp, services: &Services, tag: &str) -> World {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let id = app.user(&email).id;
    let mut conn = app.db();
    diesel::update(user::table.find(id))
        .set((
            user::tf_primary_method.eq(Some("authenticator")),
            user::tf_totp_secret.eq(Some("stored-secret")),
            user::mf_recovery_codes.eq(Some("lk1$code")),
            user::us_totp_secrets.eq(Some(r#"{"authenticator": "x"}"#)),
        ))
        .execute(&mut conn)
        .unwrap();
    for (name, usage) in [("first-key", "first"), ("second-key", "secondary")] {
        diesel::insert_into(webauthn::table)
            .values(passkey(id, name, usage))
            .execute(&mut conn)
            .unwrap();
    }
    let now = chrono::Utc::now().naive_utc();
    latchkey::db::identities::insert(&mut conn, "acme", &format!("sub-{tag}"), id, None, now)
        .unwrap();
    let user = app.user(&email);
    let client = ClientInfo {
        ip: Some("192.0.2.1".to_owned()),
        user_agent: Some("Lifecycle/1".to_owned()),
    };
    let options = |remember| LoginOptions {
        remember,
        remember_for: std::time::Duration::from_secs(86_400),
        trackable: false,
    };
    let this = login::create(&mut conn, &user, &client, &options(false)).unwrap();
    let other = login::create(&mut conn, &user, &client, &options(true)).unwrap();
    let this_issued = api_tokens::issue_at_login(services, &user, &this.session_id, &client)
        .await
        .unwrap();
    let other_issued = api_tokens::issue_at_login(services, &user, &other.session_id, &client)
        .await
        .unwrap();
    let family = |raw: &Option<String>| {
        services
            .api_token_keys
            .parse_refresh(raw.as_deref().expect("a refresh token"))
            .expect("ours")
            .0
    };
    let until = two_factor::unix_now() + 3600;
    let revert_link = services
        .tokens
        .issue_with_detail(
            &mut conn,
            &user,
            Purpose::RevertEmail,
            std::time::Duration::from_secs(3600),
            Some(&format!("old-{email}")),
        )
        .unwrap();
    let change_email_link = services
        .tokens
        .issue_with_detail(
            &mut conn,
            &user,
            Purpose::ChangeEmail,
            std::time::Duration::from_secs(3600),
            Some(&format!("new-{email}")),
        )
        .unwrap();
    let app_family = format!("family-{tag}");
    let grant = latchkey::db::oidc_grants::GrantRow {
        id: 0,
        family: app_family.clone(),
        code_digest: format!("code-{tag}"),
        client_id: "some-app".into(),
        user_id: id,
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        amr: "pwd".into(),
        created_at: now,
        code_expires_at: now,
        code_used_at: Some(now),
        revoked_at: None,
    };
    latchkey::db::oidc_grants::insert_grant(&mut conn, &grant).unwrap();
    let later = now + chrono::Duration::hours(1);
    latchkey::db::oidc_grants::insert_token(
        &mut conn,
        &format!("access-{tag}"),
        &app_family,
        "access",
        now,
        later,
    )
    .unwrap();
    World {
        app_family,
        this_family: family(&this_issued.refresh_token),
        other_family: family(&other_issued.refresh_token),
        this_token: this_issued.authentication_token,
        other_token: other_issued.authentication_token,
        this_login: this.session_id,
        other_login: other.session_id,
        other_remember: other.remember_cookie.expect("remember-me"),
        validity: two_factor::validity_token(services, &user, until),
        pending: PendingLogin::new(&user, false, None, two_factor::unix_now()),
        revert_link,
        change_email_link,
        user,
    }
}

/// Which things still work (true) after the event, in the table's order.
fn survivors(app: &TestApp, services: &Services, world: &World) -> Vec<(&'static str, bool)> {
    let mut conn = app.db();
    let policy = &services.settings.session_policy;
    let user = app.user(world.user.email.as_deref().unwrap());
    let login_live = |conn: &mut _, id: &str| {
        login::resolve_sessions(conn, &[id.to_owned()], policy)
            .unwrap()
            .contains_key(id)
    };
    let token_live = |conn: &mut _, raw: &str| {
        api_tokens::resolve(conn, &services.api_token_keys, raw)
            .unwrap()
            .is_some()
    };
    let family_live = |conn: &mut latchkey::db::DbConnection, family: &str| {
        fs_refresh::table
            .filter(fs_refresh::refresh_family.eq(family))
            .select(fs_refresh::revoked_at)
            .first::<Option<chrono::NaiveDateTime>>(conn)
            .optional()
            .unwrap()
            .is_some_and(|revoked| revoked.is_none())
    };
    let link_live = |conn: &mut _, raw: &str, purpose| {
        matches!(
            services.tokens.check(conn, raw, purpose).unwrap(),
            TokenState::Valid(_)
        )
    };
    let passkey_live = |conn: &mut latchkey::db::DbConnection, usage: &str| {
        webauthn::table
            .filter(webauthn::user_id.eq(user.id))
            .filter(webauthn::usage.eq(usage))
            .count()
            .get_result::<i64>(conn)
            .unwrap()
            > 0
    };
    vec![
        ("this login", login_live(&mut conn, &world.this_login)),
        ("other login", login_live(&mut conn, &world.other_login)),
        (
            "other login's remember-me",
            login::resolve_remember(&mut conn, &world.other_remember, policy)
                .unwrap()
                .is_some(),
        ),
        (
            "this login's API token",
            token_live(&mut conn, &world.this_token),
        ),
        (
            "other login's API token",
            token_live(&mut conn, &world.other_token),
        ),
        (
            "this login's refresh family",
            family_live(&mut conn, &world.this_family),
        ),
        (
            "other login's refresh family",
            family_live(&mut conn, &world.other_family),
        ),
        (
            "remembered browser",
            two_factor::validity_accepts(services, &user, &world.validity, two_factor::unix_now()),
        ),
        ("pending login", world.pending.is_for(&user)),
        (
            "revert link",
            link_live(&mut conn, &world.revert_link, Purpose::RevertEmail),
        ),
        (
            "change-email link",
            link_live(&mut conn, &world.change_email_link, Purpose::ChangeEmail),
        ),
        ("first-factor passkey", passkey_live(&mut conn, "first")),
        ("sign-in method", user.us_totp_secrets.is_some()),
        (
            "linked identity",
            !latchkey::db::identities::for_user(&mut conn, user.id)
                .unwrap()
                .is_empty(),
        ),
        (
            "second factor",
            user.tf_primary_method.is_some() && passkey_live(&mut conn, "secondary"),
        ),
        ("recovery codes", user.mf_recovery_codes.is_some()),
        (
            "app's tokens",
            latchkey::db::oidc_grants::grant_by_family(&mut conn, &world.app_family)
                .unwrap()
                .is_some_and(|g| g.revoked_at.is_none()),
        ),
    ]
}

/// What the table says survives, in the same order.
fn expected(event: Event) -> Vec<bool> {
    let e = lifecycle::ends(event);
    let this_ends = matches!(e.logins, Reach::This | Reach::All);
    let others_end = matches!(e.logins, Reach::Others | Reach::All);
    vec![
        !this_ends,
        !others_end,
        !others_end,
        !this_ends,
        !others_end,
        !this_ends,
        !others_end,
        !e.remembered_browsers,
        !e.pending_logins,
        !e.revert_links,
        !e.change_email_links,
        !e.first_factor_passkeys,
        !e.signin_methods,
        !e.linked_identities,
        !e.second_factors,
        !e.recovery_codes,
        // Apps' tokens end with every login.
        e.logins != Reach::All,
    ]
}

#[actix_web::test]
async fn every_event_ends_exactly_what_the_table_says() {
    let app = spawn_app_with(SETTINGS).await;
    let services = tokio::task::spawn_blocking({
        let (key, salt, url) = (
            app.secret_key.clone(),
            app.salt.clone(),
            app.database_url.clone(),
        );
        move || {
            let fake = FakeApp { key, salt, url };
            fake.services()
        }
    })
    .await
    .unwrap();
    let mut wrong = Vec::new();
    for (i, event) in Event::ALL.into_iter().enumerate() {
        let world = make_world(&app, &services, &format!("lc{i}")).await;
        // Before: everything works.
        let before = survivors(&app, &services, &world);
        for (thing, live) in &before {
            assert!(
                live,
                "setup for {event:?}: {thing} does not work to begin with"
            );
        }
        if event == Event::SecondFactorChange {
            // The event itself: a new authenticator secret.
            diesel::update(user::table.find(world.user.id))
                .set(user::tf_totp_secret.eq(Some("a-new-secret")))
                .execute(&mut app.db())
                .unwrap();
        }
        let scope = Scope {
            login: Some(world.this_login.clone()),
            ..Scope::user(world.user.id)
        };
        lifecycle::end(&services, event, scope)
            .await
            .unwrap_or_else(|e| panic!("{event:?}: {e}"));
        let after = survivors(&app, &services, &world);
        for ((thing, live), should_live) in after.iter().zip(expected(event)) {
            if *live != should_live {
                wrong.push(format!(
                    "{:<40} {:<30} {} (table: {})",
                    event.as_str(),
                    thing,
                    if *live { "survives" } else { "ends" },
                    if should_live { "survives" } else { "ends" },
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that do not match the table:\n{}",
        wrong.join("\n")
    );
}

/// The table's promises, read off the table itself.
#[test]
fn the_table_keeps_its_rules() {
    for event in Event::ALL {
        let e = lifecycle::ends(event);
        if e.first_factor_passkeys || e.signin_methods {
            // A recovery that removes the ways in also ends every login and browser.
            assert_eq!(e.logins, Reach::All, "{event:?}");
        }
        if event != Event::EmailRevert {
            assert!(!e.revert_links, "{event:?} must not take the revert away");
        }
    }
    let first_proof = lifecycle::ends(Event::MailboxProven);
    assert!(first_proof.second_factors && first_proof.recovery_codes);
    assert!(first_proof.first_factor_passkeys && first_proof.signin_methods);
    let sign_out = lifecycle::ends(Event::SignOutOthers);
    assert_eq!(sign_out.logins, Reach::Others);
    assert!(!sign_out.remembered_browsers && !sign_out.second_factors);
}

/// What starting the rules needs (off the async executor: starting is blocking).
struct FakeApp {
    key: String,
    salt: String,
    url: String,
}

impl FakeApp {
    /// The app's own rules on the test's database.
    fn services(&self) -> Services {
        let mut pairs: Vec<(&str, &str)> = SETTINGS.to_vec();
        pairs.extend([
            ("SECRET_KEY", self.key.as_str()),
            ("SECURITY_PASSWORD_SALT", self.salt.as_str()),
            ("DATABASE_URL", self.url.as_str()),
        ]);
        let settings = Settings::from_source(&Source::from_pairs(pairs)).expect("settings");
        let pool = PoolOptions::server(&settings.database_url);
        Services::start(settings, pool).expect("services")
    }
}
