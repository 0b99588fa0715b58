//! Social login (`SECURITY_OAUTH_ENABLE`, issue 25) against a real OpenID Connect provider:
//! `oidc-provider-mock` (PyPI, pinned below), started per test on loopback as a subprocess.
//! It serves discovery and JWKS, signs real ID tokens, takes a user's claims by
//! `PUT /users/<sub>` and the approving subject by its authorize form's `sub` field.
//! It is started by [`common::oidc::Provider`]; a missing Python or provider fails the
//! tests, it never skips them. GitHub (plain OAuth 2) is tested against
//! a fake of its documented endpoints (authorize, access token with PKCE S256 checked, `/user`,
//! `/user/emails`), set through authlib's `GITHUB_*_URL` keys. The attacks a well-behaved
//! provider cannot make (a wrong nonce, another key, another audience, an expired ID token, a
//! code accepted twice) are played by a misbehaving provider written here ([`Trick`]), its
//! messages the `openidconnect` crate's own. On SQLite, and on PostgreSQL
//! with `LATCHKEY_TEST_POSTGRES_URL`.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::oidc::Provider;
use common::{
    flashes, location, new_email, set_up_authenticator, spawn_app_with, TestApp, TestClient,
    PASSWORD,
};
use diesel::prelude::*;
use latchkey::db::schema::{oauth_identity, security_event};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

const CLIENT_ID: &str = "latchkey-it";

// ---------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------

/// Latchkey with one provider, `acme`, found by discovery (as the conformance suite's
/// `oauth` profile configures it), confirmation on.
async fn app_with(provider: &Provider, extra: &[(&str, &str)]) -> TestApp {
    let metadata = provider.metadata_url();
    let mut settings = vec![
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", CLIENT_ID),
        ("ACME_CLIENT_SECRET", "latchkey-it-secret"),
        ("ACME_SERVER_METADATA_URL", metadata.as_str()),
        ("SECURITY_CONFIRMABLE", "true"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// A registered account whose address is confirmed.
async fn confirmed_account(app: &TestApp, tag: &str) -> String {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    email
}

/// `POST /login/oauthstart/acme` with this browser's CSRF token (and `query`).
async fn start(c: &TestClient, query: &str) -> reqwest::Response {
    let token = c.csrf_token("/login").await;
    start_with(c, query, &token).await
}

async fn start_with(c: &TestClient, query: &str, token: &str) -> reqwest::Response {
    c.post_form(
        &format!("/login/oauthstart/acme{query}"),
        &[("csrf_token", token)],
    )
    .await
}

/// The authorization URL a start sends the browser to.
async fn authorize_url(c: &TestClient, query: &str) -> String {
    let r = start(c, query).await;
    assert_eq!(r.status(), StatusCode::FOUND, "the start answered");
    location(&r).expect("Location")
}

/// The app-relative path and query of the provider's redirect back.
fn callback_path(back: &Url) -> String {
    match back.query() {
        Some(q) => format!("{}?{q}", back.path()),
        None => back.path().to_owned(),
    }
}

/// A whole round trip in browser `c`: the start, the provider's approval as `sub` (with
/// `claims`), and the callback. The callback's answer and its path.
async fn round_trip(
    provider: &Provider,
    c: &TestClient,
    sub: &str,
    claims: Value,
    query: &str,
) -> (reqwest::Response, String) {
    provider.set_user(sub, claims).await;
    let url = authorize_url(c, query).await;
    let back = callback_path(&provider.approve(&url, sub, false).await);
    (c.get(&back).await, back)
}

/// The flashed messages of the page a redirect answer leads to, after asserting it goes to
/// `path`.
async fn flashed_at(c: &TestClient, r: reqwest::Response, path: &str) -> Vec<String> {
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r).expect("Location");
    assert_eq!(to, path, "redirected to {to}");
    flashes(&c.get(&to).await.text().await.expect("the page"))
}

fn identities_of(app: &TestApp, user_id: i32) -> Vec<(String, String)> {
    oauth_identity::table
        .filter(oauth_identity::user_id.eq(user_id))
        .select((oauth_identity::provider, oauth_identity::subject))
        .load(&mut app.db())
        .expect("read oauth_identity")
}

fn count_identities(app: &TestApp) -> i64 {
    oauth_identity::table
        .count()
        .get_result(&mut app.db())
        .expect("count oauth_identity")
}

/// The stored security events (kind, detail), oldest first, once the queue has drained.
async fn events(app: &TestApp, user_id: Option<i32>) -> Vec<(String, Option<String>)> {
    let bus = app.events.clone();
    let drained = tokio::task::spawn_blocking(move || bus.flush(Duration::from_secs(10)))
        .await
        .expect("flush");
    assert!(drained, "the event queue did not drain");
    let query = security_event::table
        .order(security_event::id.asc())
        .select((security_event::kind, security_event::detail));
    match user_id {
        Some(id) => query
            .filter(security_event::user_id.eq(id))
            .load(&mut app.db()),
        None => query
            .filter(security_event::user_id.is_null())
            .load(&mut app.db()),
    }
    .expect("read security_event")
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_login_page_offers_the_provider_and_the_start_is_guarded() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let c = app.client();
    let r = c.get("/login").await;
    // The button's form is redirected to the provider: the page's form-action allows it
    // (browsers apply it to a form's redirects; tests/browser.rs signs in through it).
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {};", provider.base)),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(
        page.contains("action=\"/login/oauthstart/acme\""),
        "no form for acme on the login page: {page}"
    );
    assert!(page.contains("Continue with acme"));

    // No CSRF token: 400, and no trip to the provider.
    let r = c.post_form("/login/oauthstart/acme", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A provider that is not configured: 404.
    let token = c.csrf_token("/login").await;
    let r = c
        .post_form("/login/oauthstart/nosuch", &[("csrf_token", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The response URL answers GET only.
    let r = c.post_form("/login/oauthresponse/acme", &[]).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Signed in already: home (JSON: 400 ANONYMOUS_USER_REQUIRED).
    let email = confirmed_account(&app, "signed-in").await;
    let signed_in = app.logged_in_client(&email, PASSWORD, false).await;
    let token = signed_in.csrf_token("/profile").await;
    let r = start_with(&signed_in, "", &token).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    let r = signed_in
        .post_json_via("/login", "/login/oauthstart/acme", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["response"]["errors"][0],
        "You can only access this endpoint when not logged in."
    );
}

#[actix_web::test]
async fn the_start_sends_the_browser_to_the_provider_with_pkce_state_and_nonce() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let (c, other) = (app.client(), app.client());
    let url = Url::parse(&authorize_url(&c, "").await).unwrap();
    assert_eq!(
        format!("{}://{}", url.scheme(), url.authority()),
        provider.base
    );
    assert_eq!(url.path(), "/oauth2/authorize");
    let q = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {url}"))
    };
    assert_eq!(q("response_type"), "code");
    assert_eq!(q("client_id"), CLIENT_ID);
    assert_eq!(
        q("redirect_uri"),
        format!("{}/login/oauthresponse/acme", app.address)
    );
    let scopes = q("scope");
    let scopes: Vec<&str> = scopes.split(' ').collect();
    assert!(scopes.contains(&"openid") && scopes.contains(&"email"));
    // PKCE S256: a 43-character base64url SHA-256 digest.
    assert_eq!(q("code_challenge_method"), "S256");
    let challenge = q("code_challenge");
    assert_eq!(challenge.len(), 43, "{challenge}");
    assert!(challenge
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
    // Fresh, unguessable state and nonce per round trip.
    let (state, nonce) = (q("state"), q("nonce"));
    assert!(state.len() >= 16 && nonce.len() >= 16);
    let again = Url::parse(&authorize_url(&other, "").await).unwrap();
    let again: Vec<(String, String)> = again.query_pairs().into_owned().collect();
    for name in ["state", "nonce", "code_challenge"] {
        let value = again.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        assert_ne!(value, Some(&q(name)), "{name} repeated");
    }
    // Neither the state nor the PKCE verifier is readable in the browser's cookies.
    let cookie = c.cookie("session").expect("the session cookie");
    assert!(!cookie.contains(&state));
}

#[actix_web::test]
async fn a_verified_email_links_a_confirmed_account_then_the_subject_alone_signs_in() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let email = confirmed_account(&app, "linked").await;
    let user = app.user(&email);
    let sub = format!("sub-{}", common::random_hex(6));

    // First sign-in: linked by the verified address, signed in, sent on to `next`.
    let c = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, &sub, claims, "?next=/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    assert!(c.is_authenticated().await);
    assert_eq!(
        identities_of(&app, user.id),
        [("acme".to_owned(), sub.clone())]
    );

    // Later the provider says another, unverified address: the subject still finds the
    // account (never the email).
    let later = app.client();
    let claims = json!({"email": "someone-else@example.com", "email_verified": false});
    let (r, _) = round_trip(&provider, &later, &sub, claims, "").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(later.is_authenticated().await);
    assert_eq!(count_identities(&app), 1);

    let kinds = events(&app, Some(user.id)).await;
    let linked = ("identity_linked".to_owned(), Some("acme".to_owned()));
    let signed_in = ("login_succeeded".to_owned(), Some("oauth".to_owned()));
    assert_eq!(
        kinds.iter().filter(|k| **k == linked).count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == signed_in).count(),
        2,
        "{kinds:?}"
    );
}

#[actix_web::test]
async fn an_unverified_or_unasserted_email_signs_in_no_one_and_links_nothing() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let email = confirmed_account(&app, "victim").await;
    for (n, claims) in [
        json!({"email": email, "email_verified": false}),
        json!({"email": email}),
    ]
    .into_iter()
    .enumerate()
    {
        let attacker = app.client();
        let sub = format!("attacker-{n}-{}", common::random_hex(4));
        let (r, _) = round_trip(&provider, &attacker, &sub, claims.clone(), "").await;
        let shown = flashed_at(&attacker, r, "/login").await;
        assert_eq!(
            shown,
            [format!("Identity {email} not registered")],
            "{claims}"
        );
        assert!(!attacker.is_authenticated().await, "{claims}");
    }
    assert_eq!(count_identities(&app), 0);
    let user = app.user(&email);
    let refused = events(&app, None).await;
    assert_eq!(
        refused
            .iter()
            .filter(|(kind, detail)| kind == "login_failed"
                && detail.as_deref() == Some("oauth:identity_not_registered"))
            .count(),
        2,
        "{refused:?}"
    );
    let theirs = events(&app, Some(user.id)).await;
    assert!(
        !theirs
            .iter()
            .any(|(kind, _)| kind == "login_succeeded" || kind == "identity_linked"),
        "{theirs:?}"
    );
}

#[actix_web::test]
async fn an_unconfirmed_account_is_not_linked_by_its_address() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let email = new_email("unconfirmed");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, "sub-unconfirmed", claims, "").await;
    let shown = flashed_at(&c, r, "/login").await;
    assert_eq!(shown, [format!("Identity {email} not registered")]);
    assert!(!c.is_authenticated().await);
    assert_eq!(count_identities(&app), 0);
}

#[actix_web::test]
async fn an_unknown_identity_gets_flask_securitys_message() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let stranger = new_email("nobody");
    let c = app.client();
    let claims = json!({"email": stranger, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, "sub-stranger", claims, "").await;
    let shown = flashed_at(&c, r, "/login").await;
    assert_eq!(shown, [format!("Identity {stranger} not registered")]);
    assert!(!c.is_authenticated().await);
    assert_eq!(app.count_users(), 0, "no account is made");
}

/// Sign-up through a provider on (`SECURITY_OAUTH_REGISTER`).
const SIGN_UP: &[(&str, &str)] = &[("SECURITY_OAUTH_REGISTER", "true")];

#[actix_web::test]
async fn sign_up_makes_a_confirmed_passwordless_account_from_a_verified_address() {
    let provider = Provider::start().await;
    let app = app_with(&provider, SIGN_UP).await;
    let email = new_email("newcomer");
    let sub = format!("sub-{}", common::random_hex(6));
    let c = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, &sub, claims, "?next=/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    assert!(c.is_authenticated().await);
    assert_eq!(app.count_users(), 1);
    let user = app.user(&email);
    assert!(user.confirmed_at.is_some(), "confirmed at once");
    assert_eq!(user.active, Some(true));
    assert!(user.password_hash().is_none(), "no password");
    assert_eq!(
        identities_of(&app, user.id),
        [("acme".to_owned(), sub.clone())]
    );

    // The subject alone signs in next time; no second account.
    let later = app.client();
    let claims = json!({"email": email});
    let (r, _) = round_trip(&provider, &later, &sub, claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(later.is_authenticated().await);
    assert_eq!(app.count_users(), 1);

    let kinds: Vec<String> = events(&app, Some(user.id))
        .await
        .into_iter()
        .map(|(kind, detail)| format!("{kind}:{}", detail.unwrap_or_default()))
        .collect();
    for want in [
        "registered:",
        "identity_linked:acme",
        "login_succeeded:oauth",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} in {kinds:?}");
    }
}

#[actix_web::test]
async fn sign_up_is_off_by_default_and_without_registerable() {
    let provider = Provider::start().await;
    for extra in [
        &[][..],
        &[
            ("SECURITY_OAUTH_REGISTER", "true"),
            ("SECURITY_REGISTERABLE", "false"),
        ][..],
    ] {
        let app = app_with(&provider, extra).await;
        let email = new_email("not-signed-up");
        let c = app.client();
        let claims = json!({"email": email, "email_verified": true});
        let sub = format!("sub-{}", common::random_hex(6));
        let (r, _) = round_trip(&provider, &c, &sub, claims, "").await;
        let shown = flashed_at(&c, r, "/login").await;
        assert_eq!(
            shown,
            [format!("Identity {email} not registered")],
            "{extra:?}"
        );
        assert!(!c.is_authenticated().await);
        assert_eq!(app.count_users(), 0, "{extra:?}");
        assert_eq!(count_identities(&app), 0);
    }
}

#[actix_web::test]
async fn sign_up_needs_a_verified_address_that_no_account_has() {
    let provider = Provider::start().await;
    let app = app_with(&provider, SIGN_UP).await;

    // Unverified, or not asserted: no account.
    let email = new_email("unverified");
    for (n, claims) in [
        json!({"email": email, "email_verified": false}),
        json!({"email": email}),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let c = app.client();
        let sub = format!("unverified-{n}-{}", common::random_hex(4));
        let (r, _) = round_trip(&provider, &c, &sub, claims.clone(), "").await;
        let shown = flashed_at(&c, r, "/login").await;
        assert_eq!(shown.len(), 1, "{claims}");
        assert!(shown[0].ends_with(" not registered"), "{shown:?}");
        assert!(!c.is_authenticated().await, "{claims}");
    }
    assert_eq!(app.count_users(), 0);

    // Taken by an account whose address is not confirmed: no account, no link.
    let taken = new_email("taken");
    app.create_user(&taken, PASSWORD).await;
    let c = app.client();
    let claims = json!({"email": taken, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, "sub-taken", claims, "").await;
    let shown = flashed_at(&c, r, "/login").await;
    assert_eq!(shown, [format!("Identity {taken} not registered")]);
    assert!(!c.is_authenticated().await);
    assert_eq!(app.count_users(), 1);
    assert_eq!(count_identities(&app), 0);
    assert!(app.user(&taken).confirmed_at.is_none());

    // Taken by a confirmed account: linked to it (as without sign-up), no new account.
    let owner = confirmed_account(&app, "owner").await;
    let c = app.client();
    let claims = json!({"email": owner, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, "sub-owner", claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert_eq!(app.count_users(), 2);
    let owner = app.user(&owner);
    assert_eq!(
        identities_of(&app, owner.id),
        [("acme".to_owned(), "sub-owner".to_owned())]
    );
    assert!(
        owner.password_hash().is_some(),
        "the owner's password is kept"
    );
}

#[actix_web::test]
async fn a_social_sign_in_spends_the_accounts_login_throttle() {
    let provider = Provider::start().await;
    let app = app_with(
        &provider,
        &[
            ("SECURITY_LOGIN_FREE_ATTEMPTS", "3"),
            ("SECURITY_LOGIN_DELAY", "60 seconds"),
        ],
    )
    .await;
    let email = confirmed_account(&app, "throttled").await;
    let sub = format!("sub-{}", common::random_hex(6));
    let claims = json!({"email": email, "email_verified": true});
    // Linked and signed in while the account is not throttled.
    let (r, _) = round_trip(&provider, &app.client(), &sub, claims.clone(), "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));

    // Wrong passwords from this address until the account waits here.
    let guesser = app.client();
    for _ in 0..3 {
        let r = guesser.login_json(&email, "wrong-password-123").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let r = guesser.login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // The linked identity waits too, as the password does: no sign-in, no 500.
    let c = app.client();
    let (r, _) = round_trip(&provider, &c, &sub, claims, "").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("Retry-After"), "{:?}", r.headers());
    assert!(!c.is_authenticated().await);
    let user = app.user(&email);
    let signed_in = events(&app, Some(user.id))
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "login_succeeded")
        .count();
    assert_eq!(signed_in, 1, "only the first sign-in");
}

/// The provider's redirect back, followed as a JSON client would (`Accept:
/// application/json`).
async fn json_round_trip(
    provider: &Provider,
    c: &TestClient,
    sub: &str,
    claims: Value,
) -> reqwest::Response {
    provider.set_user(sub, claims).await;
    // The start is a redirect to the provider for JSON too.
    let r = c
        .post_json_via("/login", "/login/oauthstart/acme?next=/profile", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::FOUND, "the JSON start");
    let to = location(&r).expect("to the provider");
    assert!(to.starts_with(&provider.base), "{to}");
    let back = callback_path(&provider.approve(&to, sub, false).await);
    c.get_json(&back).await
}

#[actix_web::test]
async fn json_answers_are_flask_securitys_redirects() {
    let provider = Provider::start().await;
    let app = app_with(
        &provider,
        &[
            ("SECURITY_TWO_FACTOR", "true"),
            ("SECURITY_TOTP_SECRETS", "social-login-test-secret"),
        ],
    )
    .await;
    // A completed sign-in: a redirect to `next`, signed in.
    let email = confirmed_account(&app, "json").await;
    let c = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let r = json_round_trip(&provider, &c, "sub-json", claims).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    assert!(c.is_authenticated().await);

    // A refusal: a redirect to the login page, the message flashed.
    let stranger = new_email("json-stranger");
    let s = app.client();
    let claims = json!({"email": stranger, "email_verified": true});
    let r = json_round_trip(&provider, &s, "sub-json-stranger", claims).await;
    let shown = flashed_at(&s, r, "/login").await;
    assert_eq!(shown, [format!("Identity {stranger} not registered")]);

    // A second factor asked for: the login's JSON, as Flask-Security's tf_enter answers.
    let owner = confirmed_account(&app, "json-2fa").await;
    let o = app.logged_in_client(&owner, PASSWORD, false).await;
    set_up_authenticator(&o).await;
    let b = app.client();
    let claims = json!({"email": owner, "email_verified": true});
    let r = json_round_trip(&provider, &b, "sub-json-2fa", claims).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["tf_required"], true, "{body}");
    assert!(!b.is_authenticated().await);
}

#[actix_web::test]
async fn a_missing_wrong_or_replayed_state_signs_in_no_one() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let email = confirmed_account(&app, "state").await;
    let sub = "sub-state";
    let claims = json!({"email": email, "email_verified": true});
    provider.set_user(sub, claims.clone()).await;
    let handshake = "An error occurred while communicating with the OAuth provider";

    // No round trip began in this browser.
    let c = app.client();
    let r = c
        .get("/login/oauthresponse/acme?code=forged&state=forged")
        .await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].starts_with(handshake), "{shown:?}");
    assert!(!c.is_authenticated().await);

    // A wrong state, then the right answer: the round trip was used up by the first.
    let c = app.client();
    let back = provider
        .approve(&authorize_url(&c, "").await, sub, false)
        .await;
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let r = c
        .get(&format!(
            "/login/oauthresponse/acme?code={code}&state=wrong"
        ))
        .await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].contains("invalid_state"), "{shown:?}");
    let r = c.get(&callback_path(&back)).await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].starts_with(handshake), "{shown:?}");
    assert!(!c.is_authenticated().await);

    // The state but no code at all.
    let c = app.client();
    let url = Url::parse(&authorize_url(&c, "").await).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let r = c
        .get(&format!("/login/oauthresponse/acme?state={state}"))
        .await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].starts_with(handshake), "{shown:?}");

    // A completed round trip replayed: in the same browser, in another one, and with a
    // copy of the session cookie taken before the answer.
    let c = app.client();
    provider.set_user(sub, claims).await;
    let url = authorize_url(&c, "").await;
    let before = c.cookie("session").expect("the session cookie");
    let back = callback_path(&provider.approve(&url, sub, false).await);
    let r = c.get(&back).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(c.is_authenticated().await);
    c.logout().await;
    let r = c.get(&back).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(!c.is_authenticated().await);
    let other = app.client();
    let r = other.get(&back).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(!other.is_authenticated().await);
    let copy = app.client();
    copy.set_cookie("session", &before);
    let r = copy.get(&back).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(!copy.is_authenticated().await);
}

#[actix_web::test]
async fn a_denied_consent_or_an_unreachable_provider_returns_to_the_login_page() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let c = app.client();
    let back = provider
        .approve(&authorize_url(&c, "").await, "sub-deny", true)
        .await;
    let r = c.get(&callback_path(&back)).await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].contains("access_denied"), "{shown:?}");
    assert!(!c.is_authenticated().await);

    // A provider that is down: the login page and the handshake error, no 500, no hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let metadata = format!("http://127.0.0.1:{closed}/.well-known/openid-configuration");
    let down = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", CLIENT_ID),
        ("ACME_CLIENT_SECRET", "s"),
        ("ACME_SERVER_METADATA_URL", &metadata),
    ])
    .await;
    let c = down.client();
    let r = start(&c, "").await;
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].contains("discovery_failed"), "{shown:?}");
}

#[actix_web::test]
async fn the_second_factor_is_still_asked_after_a_social_sign_in() {
    let provider = Provider::start().await;
    let app = app_with(
        &provider,
        &[
            ("SECURITY_TWO_FACTOR", "true"),
            ("SECURITY_TOTP_SECRETS", "social-login-test-secret"),
        ],
    )
    .await;
    let email = confirmed_account(&app, "two-factor").await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let key = set_up_authenticator(&c).await;

    let b = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(&provider, &b, "sub-2fa", claims, "?next=/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/tf-validate"));
    assert!(
        !b.is_authenticated().await,
        "the provider alone is no login"
    );
    // The code of another time step than the setup's: codes work once.
    let now = chrono::Utc::now().timestamp() as u64;
    let code = latchkey::auth::totp::code_at(&key, now - 30);
    let r = b.submit("/tf-validate", &[("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    assert!(b.is_authenticated().await);
    let user = app.user(&email);
    let kinds = events(&app, Some(user.id)).await;
    assert!(
        kinds.contains(&(
            "login_succeeded".to_owned(),
            Some("oauth+authenticator".to_owned())
        )),
        "{kinds:?}"
    );
}

/// A browser signed in with the password of an account whose identity `sub` is linked (by a
/// first social sign-in in another browser), and the account's address.
async fn linked_account(app: &TestApp, provider: &Provider, sub: &str) -> (String, TestClient) {
    let email = confirmed_account(app, "verify").await;
    let first = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(provider, &first, sub, claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (email, c)
}

/// A re-authentication round trip in `c` as `sub`: the verify start (CSRF token from
/// `/verify`), the approval, the answer.
async fn verify_round_trip(provider: &Provider, c: &TestClient, sub: &str) -> reqwest::Response {
    let token = c.csrf_token("/verify").await;
    let r = c
        .post_form(
            "/login/oauth-verify-start/acme?next=/change",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let url = location(&r).expect("Location");
    let redirect_uri = Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert!(
        redirect_uri.is_some_and(|u| u.ends_with("/login/oauth-verify-response/acme")),
        "{url}"
    );
    let back = provider.approve(&url, sub, false).await;
    c.get(&callback_path(&back)).await
}

const STALE: &[(&str, &str)] = &[
    ("SECURITY_CHANGEABLE", "true"),
    ("SECURITY_FRESHNESS", "0 seconds"),
    ("SECURITY_FRESHNESS_GRACE_PERIOD", "1 hours"),
];

#[actix_web::test]
async fn the_linked_identity_re_authenticates_its_user() {
    let provider = Provider::start().await;
    let app = app_with(&provider, STALE).await;
    let sub = "sub-verify";
    let (_, c) = linked_account(&app, &provider, sub).await;
    let r = c.get("/change").await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fchange"));
    // `/verify` offers the provider the account is linked with.
    let page = c.get("/verify?next=/change").await.text().await.unwrap();
    assert!(
        page.contains("action=\"/login/oauth-verify-start/acme?next=%2Fchange\""),
        "{page}"
    );
    let r = verify_round_trip(&provider, &c, sub).await;
    let shown = flashed_at(&c, r, "/change").await;
    assert_eq!(shown, ["Reauthentication successful"]);
    assert_eq!(c.get("/change").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn another_identity_does_not_re_authenticate_and_an_anonymous_start_signs_in_first() {
    let provider = Provider::start().await;
    let app = app_with(&provider, STALE).await;
    let (email, c) = linked_account(&app, &provider, "sub-owner").await;
    // Someone else's identity, and one linked to no account, claiming the same address.
    linked_account(&app, &provider, "sub-other").await;
    for sub in ["sub-other", "sub-unlinked"] {
        let claims = json!({"email": email, "email_verified": true});
        provider.set_user(sub, claims).await;
        let r = verify_round_trip(&provider, &c, sub).await;
        let shown = flashed_at(&c, r, "/verify?next=%2Fchange").await;
        assert_eq!(shown, [format!("Identity {email} not registered")], "{sub}");
        let r = c.get("/change").await;
        assert_eq!(
            location(&r).as_deref(),
            Some("/verify?next=%2Fchange"),
            "{sub} made the login fresh"
        );
    }
    assert_eq!(count_identities(&app), 2, "nothing is linked by a verify");

    // Not signed in: the verify start asks for a sign-in first, and sends nobody anywhere.
    let anonymous = app.client();
    let token = anonymous.csrf_token("/login").await;
    let r = anonymous
        .post_form("/login/oauth-verify-start/acme", &[("csrf_token", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r).unwrap();
    assert!(to.starts_with("/login"), "{to}");
}

/// The account page's link form for acme: `POST /oauth-link/acme` with the page's token, the
/// approval as `sub`, and the answer (at the verify response URL).
async fn link_round_trip(provider: &Provider, c: &TestClient, sub: &str) -> reqwest::Response {
    let page = c.get("/profile").await.text().await.unwrap();
    assert!(
        page.contains("action=\"/oauth-link/acme\""),
        "no link form: {page}"
    );
    let token = common::csrf_from_html(&page).expect("a CSRF token on /profile");
    let r = c
        .post_form("/oauth-link/acme", &[("csrf_token", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let url = location(&r).expect("Location");
    assert!(url.starts_with(&provider.base), "{url}");
    let back = provider.approve(&url, sub, false).await;
    assert_eq!(back.path(), "/login/oauth-verify-response/acme");
    c.get(&callback_path(&back)).await
}

/// `POST /oauth-unlink` of identity `id` with the account page's token.
async fn unlink(c: &TestClient, id: &str) -> reqwest::Response {
    let token = c.csrf_token("/profile").await;
    c.post_form("/oauth-unlink", &[("csrf_token", &token), ("id", id)])
        .await
}

fn identity_ids(app: &TestApp, user_id: i32) -> Vec<i32> {
    oauth_identity::table
        .filter(oauth_identity::user_id.eq(user_id))
        .select(oauth_identity::id)
        .load(&mut app.db())
        .expect("read oauth_identity")
}

const NOTICE: &str = "Your social logins have changed";

#[actix_web::test]
async fn the_account_page_links_and_unlinks_an_identity_with_events_and_notices() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[("SECURITY_SEND_NOTICE_SOCIAL_LOGIN", "true")]).await;
    let email = confirmed_account(&app, "linking").await;
    let user = app.user(&email);
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let sub = "sub-linked-on-the-page";
    // Linking needs no matching address: the signed-in owner proved both sides.
    let claims = json!({"email": "elsewhere@example.org", "email_verified": false});
    provider.set_user(sub, claims).await;
    let r = link_round_trip(&provider, &c, sub).await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(
        shown,
        ["Your acme account is linked: it can now sign you in."]
    );
    assert_eq!(
        identities_of(&app, user.id),
        [("acme".to_owned(), sub.to_owned())]
    );
    let page = c.get("/profile").await.text().await.unwrap();
    assert!(page.contains("elsewhere@example.org"), "{page}");
    // Linking it again changes nothing.
    let r = link_round_trip(&provider, &c, sub).await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(shown, ["That acme account was linked to yours already."]);
    assert_eq!(count_identities(&app), 1);

    // It signs in now.
    let other = app.client();
    let claims = json!({"email": "elsewhere@example.org"});
    let (r, _) = round_trip(&provider, &other, sub, claims.clone(), "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(other.is_authenticated().await);

    // Unlinked: it signs in no more.
    let id = identity_ids(&app, user.id)[0].to_string();
    let r = unlink(&c, &id).await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(
        shown,
        ["Your acme account is unlinked: it no longer signs you in."]
    );
    assert_eq!(count_identities(&app), 0);
    let third = app.client();
    let (r, _) = round_trip(&provider, &third, sub, claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(!third.is_authenticated().await);

    let kinds: Vec<String> = events(&app, Some(user.id))
        .await
        .into_iter()
        .filter(|(kind, _)| kind.starts_with("identity_"))
        .map(|(kind, detail)| format!("{kind}:{}", detail.unwrap_or_default()))
        .collect();
    assert_eq!(kinds, ["identity_linked:acme", "identity_unlinked:acme"]);
    let mails = crate::mail_support::wait_for_eml(&app.mail_dir, &email, NOTICE, 2).await;
    assert_eq!(mails.len(), 2);
}

#[actix_web::test]
async fn linking_is_fresh_only_and_never_moves_anothers_identity() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let owner = confirmed_account(&app, "owner").await;
    let owner_id = app.user(&owner).id;
    let claims = json!({"email": owner, "email_verified": true});
    let (r, _) = round_trip(&provider, &app.client(), "sub-owned", claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));

    let email = confirmed_account(&app, "taker").await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let r = link_round_trip(&provider, &c, "sub-owned").await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(shown, ["That acme account is linked to another account."]);
    assert_eq!(
        identities_of(&app, owner_id),
        [("acme".to_owned(), "sub-owned".to_owned())]
    );
    // Another account's identity cannot be unlinked by its id either.
    let id = identity_ids(&app, owner_id)[0].to_string();
    let r = unlink(&c, &id).await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(shown, ["That linked account does not exist."]);
    assert_eq!(count_identities(&app), 1);

    // A stale login is sent to re-authenticate first.
    let stale = app_with(&provider, STALE).await;
    let email = confirmed_account(&stale, "stale").await;
    let c = stale.logged_in_client(&email, PASSWORD, false).await;
    let token = c.csrf_token("/profile").await;
    let r = c
        .post_form("/oauth-link/acme", &[("csrf_token", &token)])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fprofile"));
    let r = c
        .post_form("/oauth-unlink", &[("csrf_token", &token), ("id", "1")])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fprofile"));
}

#[actix_web::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let provider = Provider::start().await;
    let app = app_with(&provider, &[]).await;
    let email = confirmed_account(&app, "only-way").await;
    let user = app.user(&email);
    let c = app.client();
    let claims = json!({"email": email, "email_verified": true});
    let (r, _) = round_trip(&provider, &c, "sub-only", claims, "").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    // No password: the identity is the only way in.
    diesel::update(latchkey::db::schema::user::table.find(user.id))
        .set(latchkey::db::schema::user::password.eq(""))
        .execute(&mut app.db())
        .unwrap();
    let id = identity_ids(&app, user.id)[0].to_string();
    let r = unlink(&c, &id).await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(
        shown,
        ["That is the only way you can sign in: set a password or add another way first."]
    );
    assert_eq!(identity_ids(&app, user.id).len(), 1);
    // A garbled id is refused as unknown, not a 500.
    let r = unlink(&c, "not-a-number").await;
    let shown = flashed_at(&c, r, "/profile").await;
    assert_eq!(shown, ["That linked account does not exist."]);
}

// ---------------------------------------------------------------------------------------
// GitHub: a fake that speaks its documented endpoints (authorize, access token, /user,
// /user/emails), configured through authlib's GITHUB_* URLs
// ---------------------------------------------------------------------------------------

/// What the fake GitHub knows: the signed-in GitHub user and its addresses, the codes it
/// issued (with their PKCE challenge and redirect URI) and the tokens it gave out.
#[derive(Default)]
struct FakeGitHubState {
    id: u64,
    emails: Value,
    codes: std::collections::HashMap<String, (String, String)>,
    tokens: Vec<String>,
}

type Shared = std::sync::Arc<Mutex<FakeGitHubState>>;

/// GitHub's authorize page, approving at once: a code bound to the PKCE challenge (S256
/// only) and the redirect URI, back to the app with the state.
async fn gh_authorize(
    state: actix_web::web::Data<Shared>,
    q: actix_web::web::Query<std::collections::HashMap<String, String>>,
) -> actix_web::HttpResponse {
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return actix_web::HttpResponse::BadRequest().body("PKCE S256 required");
    }
    let code = common::random_hex(10);
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let challenge = q.get("code_challenge").cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    s.codes.insert(code.clone(), (challenge, redirect.clone()));
    let back_state = q.get("state").cloned().unwrap_or_default();
    actix_web::HttpResponse::Found()
        .insert_header((
            "Location",
            format!("{redirect}?code={code}&state={back_state}"),
        ))
        .finish()
}

/// GitHub's token endpoint: a code once, with the verifier of its challenge and the same
/// redirect URI.
async fn gh_token(
    state: actix_web::web::Data<Shared>,
    form: actix_web::web::Form<std::collections::HashMap<String, String>>,
) -> actix_web::HttpResponse {
    use base64::Engine as _;
    let mut s = state.lock().unwrap();
    let issued = form.get("code").and_then(|c| s.codes.remove(c));
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let digest = Sha256::digest(verifier.as_bytes());
    let answer = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    match issued {
        Some((challenge, redirect))
            if challenge == answer && form.get("redirect_uri") == Some(&redirect) =>
        {
            let token = format!("gho_{}", common::random_hex(8));
            s.tokens.push(token.clone());
            actix_web::HttpResponse::Ok()
                .json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}))
        }
        _ => actix_web::HttpResponse::BadRequest().json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
        })),
    }
}

fn gh_authorized(state: &Shared, req: &actix_web::HttpRequest) -> bool {
    let bearer = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let has_agent = req.headers().contains_key("User-Agent");
    has_agent && bearer.is_some_and(|t| state.lock().unwrap().tokens.contains(&t))
}

async fn gh_user(
    state: actix_web::web::Data<Shared>,
    req: actix_web::HttpRequest,
) -> actix_web::HttpResponse {
    if !gh_authorized(&state, &req) {
        return actix_web::HttpResponse::Unauthorized().finish();
    }
    let id = state.lock().unwrap().id;
    // The public profile address: never used for linking.
    actix_web::HttpResponse::Ok()
        .json(json!({"id": id, "login": "octocat", "email": "public@example.com"}))
}

async fn gh_emails(
    state: actix_web::web::Data<Shared>,
    req: actix_web::HttpRequest,
) -> actix_web::HttpResponse {
    if !gh_authorized(&state, &req) {
        return actix_web::HttpResponse::Unauthorized().finish();
    }
    let emails = state.lock().unwrap().emails.clone();
    actix_web::HttpResponse::Ok().json(emails)
}

/// Starts the fake on a free loopback port: its base URL and state.
fn fake_github() -> (String, Shared, actix_web::dev::ServerHandle) {
    use actix_web::web;
    let shared: Shared = Shared::default();
    let data = web::Data::new(shared.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/login/oauth/authorize", web::get().to(gh_authorize))
            .route("/login/oauth/access_token", web::post().to(gh_token))
            .route("/api/user", web::get().to(gh_user))
            .route("/api/user/emails", web::get().to(gh_emails))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind the fake GitHub");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), shared, handle)
}

#[actix_web::test]
async fn github_signs_in_by_its_user_id_and_links_only_a_primary_verified_address() {
    let (base, fake, handle) = fake_github();
    let (authorize, token, api) = (
        format!("{base}/login/oauth/authorize"),
        format!("{base}/login/oauth/access_token"),
        format!("{base}/api"),
    );
    let app = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "github"),
        ("GITHUB_CLIENT_ID", "gh-client"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("GITHUB_AUTHORIZE_URL", &authorize),
        ("GITHUB_ACCESS_TOKEN_URL", &token),
        ("GITHUB_API_BASE_URL", &api),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = confirmed_account(&app, "octocat").await;
    let user = app.user(&email);
    let page = app.client().get("/login").await.text().await.unwrap();
    assert!(page.contains("action=\"/login/oauthstart/github\""));

    // A round trip through the fake: start, GitHub's redirect back, the answer.
    let sign_in = |c: TestClient| {
        let app_url = app.address.clone();
        async move {
            let token = c.csrf_token("/login").await;
            let r = c
                .post_form("/login/oauthstart/github", &[("csrf_token", &token)])
                .await;
            let to = location(&r).expect("to GitHub");
            let r = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(&to)
                .send()
                .await
                .unwrap();
            let back = location(&r).expect("back from GitHub");
            let path = back.strip_prefix(&app_url).expect("to the app").to_owned();
            assert!(path.starts_with("/login/oauthresponse/github?"), "{path}");
            let answer = c.get(&path).await;
            (c, answer)
        }
    };

    // The primary address unverified (the public profile shows the account's, unused): no.
    {
        let mut s = fake.lock().unwrap();
        s.id = 583231;
        s.emails = json!([
            {"email": email, "primary": true, "verified": false},
            {"email": "other@example.com", "primary": false, "verified": true},
        ]);
    }
    let (c, r) = sign_in(app.client()).await;
    let shown = flashed_at(&c, r, "/login").await;
    // No address GitHub vouches for: the identity is named by its id.
    assert_eq!(shown, ["Identity 583231 not registered"]);
    assert_eq!(count_identities(&app), 0);

    // Verified and primary: linked by the user id, signed in.
    fake.lock().unwrap().emails = json!([{"email": email, "primary": true, "verified": true}]);
    let (c, r) = sign_in(app.client()).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(c.is_authenticated().await);
    assert_eq!(
        identities_of(&app, user.id),
        [("github".to_owned(), "583231".to_owned())]
    );

    // Later the addresses change: the id alone decides.
    fake.lock().unwrap().emails = json!([]);
    let (c, r) = sign_in(app.client()).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(c.is_authenticated().await);
    handle.stop(false).await;
}

#[actix_web::test]
async fn a_provider_that_hangs_is_given_up_after_the_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let metadata = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
    let app = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", CLIENT_ID),
        ("ACME_CLIENT_SECRET", "s"),
        ("ACME_SERVER_METADATA_URL", &metadata),
        ("SECURITY_OAUTH_HTTP_TIMEOUT", "1"),
    ])
    .await;
    let c = app.client();
    let token = c.csrf_token("/login").await;
    let began = Instant::now();
    let r = start_with(&c, "", &token).await;
    let waited = began.elapsed();
    let shown = flashed_at(&c, r, "/login").await;
    assert!(shown[0].contains("discovery_failed"), "{shown:?}");
    assert!(
        waited < Duration::from_secs(5),
        "answered after {waited:?} (the timeout is 1 s)"
    );
}

// ---------------------------------------------------------------------------------------
// A misbehaving OpenID Connect provider, for the attacks `oidc-provider-mock` cannot make:
// a wrong nonce, an ID token signed by another key, for another audience, expired, and a
// code accepted twice. Every message is the `openidconnect` crate's own (discovery, JWKS,
// ID token signed with `CoreRsaPrivateSigningKey`); no JOSE is written here.
// ---------------------------------------------------------------------------------------

/// What the rogue provider does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trick {
    /// Nothing: a correct provider (the attacks' control).
    Honest,
    /// The ID token carries another `nonce` than the authorization request's.
    WrongNonce,
    /// The ID token is signed by a key that is not in the JWKS (under the JWKS key's id).
    OtherKey,
    /// The ID token is for another client (`aud`).
    OtherAudience,
    /// The ID token expired ten minutes ago.
    Expired,
    /// The provider accepts a code more than once.
    CodeTwice,
}

/// Two RSA keys (PKCS#1 PEM), made once per process with `openssl genrsa`: the one the
/// JWKS publishes, and another.
fn rsa_keys() -> &'static (String, String) {
    static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let key = || {
            let out = Command::new("openssl")
                .args(["genrsa", "-traditional", "2048"])
                .stderr(Stdio::null())
                .output()
                .expect("run openssl genrsa (the rogue provider's keys; needs openssl on PATH)");
            assert!(out.status.success(), "openssl genrsa failed");
            String::from_utf8(out.stdout).expect("a PEM")
        };
        (key(), key())
    })
}

struct RogueState {
    base: String,
    trick: Trick,
    /// The address the ID token asserts (verified).
    email: String,
    /// Codes issued: their `nonce`.
    codes: std::collections::HashMap<String, String>,
    /// How many ID tokens were given out.
    tokens_issued: usize,
}

type Rogue = std::sync::Arc<Mutex<RogueState>>;

const ROGUE_KID: &str = "key1";

fn signing_key(pem: &str) -> openidconnect::core::CoreRsaPrivateSigningKey {
    openidconnect::core::CoreRsaPrivateSigningKey::from_pem(
        pem,
        Some(openidconnect::JsonWebKeyId::new(ROGUE_KID.to_owned())),
    )
    .expect("an RSA key")
}

async fn rogue_discovery(state: actix_web::web::Data<Rogue>) -> actix_web::HttpResponse {
    use openidconnect::core::{
        CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreSubjectIdentifierType,
    };
    use openidconnect::{
        AuthUrl, EmptyAdditionalProviderMetadata, IssuerUrl, JsonWebKeySetUrl, ResponseTypes,
        TokenUrl,
    };
    let base = state.lock().unwrap().base.clone();
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(base.clone()).unwrap(),
        AuthUrl::new(format!("{base}/authorize")).unwrap(),
        JsonWebKeySetUrl::new(format!("{base}/jwks")).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(TokenUrl::new(format!("{base}/token")).unwrap()));
    actix_web::HttpResponse::Ok().json(metadata)
}

/// The JWKS: the first key only.
async fn rogue_jwks() -> actix_web::HttpResponse {
    use openidconnect::PrivateSigningKey as _;
    let jwks = openidconnect::core::CoreJsonWebKeySet::new(vec![
        signing_key(&rsa_keys().0).as_verification_key()
    ]);
    actix_web::HttpResponse::Ok().json(jwks)
}

/// The authorize endpoint, approving at once: a code remembered with the request's nonce,
/// back to the redirect URI with the state.
async fn rogue_authorize(
    state: actix_web::web::Data<Rogue>,
    q: actix_web::web::Query<std::collections::HashMap<String, String>>,
) -> actix_web::HttpResponse {
    let code = common::random_hex(10);
    let nonce = q.get("nonce").cloned().unwrap_or_default();
    state.lock().unwrap().codes.insert(code.clone(), nonce);
    let mut back = Url::parse(q.get("redirect_uri").map_or("", String::as_str)).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map_or("", String::as_str));
    actix_web::HttpResponse::Found()
        .insert_header(("Location", back.to_string()))
        .finish()
}

/// The token endpoint: an ID token for the code's nonce, with the trick played.
async fn rogue_token(
    state: actix_web::web::Data<Rogue>,
    form: actix_web::web::Form<std::collections::HashMap<String, String>>,
) -> actix_web::HttpResponse {
    use openidconnect::core::{
        CoreIdToken, CoreIdTokenClaims, CoreIdTokenFields, CoreJwsSigningAlgorithm,
        CoreTokenResponse, CoreTokenType,
    };
    use openidconnect::{
        AccessToken, Audience, EmptyAdditionalClaims, EmptyExtraTokenFields, EndUserEmail,
        IssuerUrl, Nonce, StandardClaims, SubjectIdentifier,
    };
    let mut s = state.lock().unwrap();
    let code = form.get("code").cloned().unwrap_or_default();
    let nonce = if s.trick == Trick::CodeTwice {
        s.codes.get(&code).cloned()
    } else {
        s.codes.remove(&code)
    };
    let Some(nonce) = nonce else {
        return actix_web::HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    s.tokens_issued += 1;
    let now = chrono::Utc::now();
    let (issued, expires) = match s.trick {
        Trick::Expired => (
            now - chrono::Duration::minutes(20),
            now - chrono::Duration::minutes(10),
        ),
        _ => (now, now + chrono::Duration::minutes(5)),
    };
    let audience = match s.trick {
        Trick::OtherAudience => "another-client",
        _ => CLIENT_ID,
    };
    let nonce = match s.trick {
        Trick::WrongNonce => "a-nonce-of-another-round-trip".to_owned(),
        _ => nonce,
    };
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(s.base.clone()).unwrap(),
        vec![Audience::new(audience.to_owned())],
        expires,
        issued,
        StandardClaims::new(SubjectIdentifier::new("rogue-sub".to_owned()))
            .set_email(Some(EndUserEmail::new(s.email.clone())))
            .set_email_verified(Some(true)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let (published, other) = rsa_keys();
    let key = match s.trick {
        Trick::OtherKey => signing_key(other),
        _ => signing_key(published),
    };
    let access = AccessToken::new(format!("at-{}", common::random_hex(8)));
    let id_token = CoreIdToken::new(
        claims,
        &key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .expect("sign the ID token");
    let response = CoreTokenResponse::new(
        access,
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
    );
    actix_web::HttpResponse::Ok().json(response)
}

/// Starts the rogue provider on a free loopback port, playing `trick` and asserting `email`.
fn rogue_provider(trick: Trick, email: &str) -> (String, Rogue, actix_web::dev::ServerHandle) {
    use actix_web::web;
    let shared: Rogue = std::sync::Arc::new(Mutex::new(RogueState {
        base: String::new(),
        trick,
        email: email.to_owned(),
        codes: Default::default(),
        tokens_issued: 0,
    }));
    let data = web::Data::new(shared.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route(
                "/.well-known/openid-configuration",
                web::get().to(rogue_discovery),
            )
            .route("/jwks", web::get().to(rogue_jwks))
            .route("/authorize", web::get().to(rogue_authorize))
            .route("/token", web::post().to(rogue_token))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind the rogue provider");
    let base = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    shared.lock().unwrap().base = base.clone();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, shared, handle)
}

/// An app whose provider `acme` is the rogue one, with a confirmed account for the address
/// the rogue asserts (a naive client would sign in to it and link the rogue's identity).
async fn rogue_app(trick: Trick) -> (TestApp, Rogue, actix_web::dev::ServerHandle, String) {
    let email = new_email("rogue-target");
    let (base, rogue, handle) = rogue_provider(trick, &email);
    let metadata = format!("{base}/.well-known/openid-configuration");
    let app = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", CLIENT_ID),
        ("ACME_CLIENT_SECRET", "latchkey-it-secret"),
        ("ACME_SERVER_METADATA_URL", &metadata),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_OAUTH_REGISTER", "true"),
    ])
    .await;
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    (app, rogue, handle, email)
}

/// The start in browser `c` and the rogue's redirect back: the app-relative callback.
async fn rogue_callback(app: &TestApp, c: &TestClient) -> String {
    let to = authorize_url(c, "").await;
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&to)
        .send()
        .await
        .unwrap();
    let back = location(&r).expect("back from the rogue provider");
    back.strip_prefix(&app.address)
        .expect("to the app")
        .to_owned()
}

/// Plays `trick` once: the ID token is refused with the handshake error on the login page
/// (a redirect, never a 500), nobody is signed in, nothing is linked, no account is made.
async fn refused_by_the_id_token_check(trick: Trick, says: &str) {
    let (app, rogue, handle, email) = rogue_app(trick).await;
    let c = app.client();
    let back = rogue_callback(&app, &c).await;
    let r = c.get(&back).await;
    assert_eq!(
        rogue.lock().unwrap().tokens_issued,
        1,
        "the rogue was asked"
    );
    let shown = flashed_at(&c, r, "/login").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("An error occurred while communicating with the OAuth provider")
            && shown[0].contains("invalid_id_token"),
        "{trick:?}: {shown:?}"
    );
    assert!(shown[0].contains(says), "{trick:?}: {shown:?}");
    assert!(!c.is_authenticated().await, "{trick:?} signed in");
    assert_eq!(count_identities(&app), 0, "{trick:?} linked");
    assert_eq!(app.count_users(), 1, "{trick:?} made an account");
    let user = app.user(&email);
    let theirs = events(&app, Some(user.id)).await;
    assert!(
        !theirs
            .iter()
            .any(|(kind, _)| kind == "login_succeeded" || kind == "identity_linked"),
        "{theirs:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn the_rogue_provider_signs_in_when_it_plays_fair() {
    // The control: the same provider without a trick links the account and signs in, so the
    // attacks below are refused for their trick alone.
    let (app, rogue, handle, email) = rogue_app(Trick::Honest).await;
    let c = app.client();
    let back = rogue_callback(&app, &c).await;
    let r = c.get(&back).await;
    // Seen once in CI under load: no redirect. Say what came instead.
    if location(&r).as_deref() != Some("/") {
        let status = r.status();
        panic!(
            "not signed in: {status}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    assert!(c.is_authenticated().await);
    assert_eq!(rogue.lock().unwrap().tokens_issued, 1);
    assert_eq!(
        identities_of(&app, app.user(&email).id),
        [("acme".to_owned(), "rogue-sub".to_owned())]
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn an_id_token_with_another_nonce_signs_in_no_one() {
    refused_by_the_id_token_check(Trick::WrongNonce, "once").await;
}

#[actix_web::test]
async fn an_id_token_signed_by_another_key_signs_in_no_one() {
    refused_by_the_id_token_check(Trick::OtherKey, "ignature").await;
}

#[actix_web::test]
async fn an_id_token_for_another_audience_signs_in_no_one() {
    refused_by_the_id_token_check(Trick::OtherAudience, "udience").await;
}

#[actix_web::test]
async fn an_expired_id_token_signs_in_no_one() {
    refused_by_the_id_token_check(Trick::Expired, "xpire").await;
}

#[actix_web::test]
async fn a_code_the_provider_accepts_twice_signs_in_once() {
    let (app, rogue, handle, email) = rogue_app(Trick::CodeTwice).await;
    let c = app.client();
    // The session as it was before the answer: the round trip's secrets still in it.
    let to = authorize_url(&c, "").await;
    let before = c.cookie("session").expect("the session cookie");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&to)
        .send()
        .await
        .unwrap();
    let back = location(&r).expect("back from the rogue provider");
    let back = back.strip_prefix(&app.address).unwrap().to_owned();
    let r = c.get(&back).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(c.is_authenticated().await);
    let user = app.user(&email);

    // The code and state again, with the copied session: the provider hands out a second
    // ID token for the same code, and the app still refuses.
    let copy = app.client();
    copy.set_cookie("session", &before);
    let r = copy.get(&back).await;
    assert_eq!(
        rogue.lock().unwrap().tokens_issued,
        2,
        "the rogue played along"
    );
    let shown = flashed_at(&copy, r, "/login").await;
    assert!(
        shown[0].starts_with("An error occurred while communicating with the OAuth provider")
            && shown[0].contains("already used"),
        "{shown:?}"
    );
    assert!(!copy.is_authenticated().await);
    let signed_in = events(&app, Some(user.id))
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "login_succeeded")
        .count();
    assert_eq!(signed_in, 1);
    handle.stop(false).await;
}

/// The built-in `google` provider is Google's discovery (`GOOGLE_SERVER_METADATA_URL`,
/// authlib's key, points it at a stand-in here): it signs in and links as any OpenID
/// Connect provider, under its own name and paths.
#[actix_web::test]
async fn the_built_in_google_provider_signs_in_through_its_discovery() {
    let provider = Provider::start().await;
    let metadata = provider.metadata_url();
    let app = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "google"),
        ("GOOGLE_CLIENT_ID", CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", "latchkey-it-secret"),
        ("GOOGLE_SERVER_METADATA_URL", metadata.as_str()),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = confirmed_account(&app, "google").await;
    let user = app.user(&email);
    let sub = format!("g-{}", common::random_hex(6));
    provider
        .set_user(&sub, json!({"email": email, "email_verified": true}))
        .await;
    let c = app.client();
    let page = c.get("/login").await.text().await.unwrap();
    assert!(page.contains("/login/oauthstart/google"), "{page}");
    let token = c.csrf_token("/login").await;
    let r = c
        .post_form(
            "/login/oauthstart/google",
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let url = location(&r).expect("Location");
    let back = callback_path(&provider.approve(&url, &sub, false).await);
    assert!(back.starts_with("/login/oauthresponse/google"), "{back}");
    let r = c.get(&back).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(c.is_authenticated().await);
    assert_eq!(identities_of(&app, user.id), [("google".to_owned(), sub)]);
}
