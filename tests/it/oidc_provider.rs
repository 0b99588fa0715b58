//! "Sign in with Latchkey" (issue 27): discovery, authorize with consent, code and PKCE,
//! tokens, userinfo and refresh, over HTTP against a running app, with the ID token checked
//! by `openidconnect`'s own verifier against the published JWKS; and the attacks the issue
//! lists (code replay, another client's code, a wrong verifier, a redirect URI with an
//! extra path or query, an expired code, a rotated refresh token presented again), and a
//! password change ending the apps' tokens.

use crate::common;

use base64::Engine;
use common::{
    csrf_from_html, location, new_email, spawn_app, spawn_app_with, TestApp, TestClient, PASSWORD,
};
use diesel::prelude::*;
use latchkey::auth::login::ClientInfo;
use latchkey::auth::oidc::clients::{self, NewClient};
use latchkey::db::schema::oidc_grant;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier))
}

struct App {
    id: String,
    secret: Option<String>,
}

async fn register_client(app: &TestApp, public: bool, scopes: &[&str]) -> App {
    register(
        app,
        NewClient {
            name: "Grafana".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![SIGNED_OUT.into()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            public,
            id_token_alg: None,
        },
    )
    .await
}

/// Registers `client` as the CLI would; its id and secret.
async fn register(app: &TestApp, client: NewClient) -> App {
    let created = clients::create(&app.services(), client, &ClientInfo::default())
        .await
        .expect("client");
    App {
        id: created.client.client_id,
        secret: created.secret,
    }
}

/// The provider's discovery document, as `c` reads it.
async fn discovery(c: &TestClient) -> Value {
    c.get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("discovery JSON")
}

fn authorize_path(app: &App, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://x/oidc/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    format!("{}?{}", url.path(), url.query().unwrap())
}

fn query_of(to: &str) -> std::collections::HashMap<String, String> {
    Url::parse(to)
        .unwrap_or_else(|e| panic!("{to}: {e}"))
        .query_pairs()
        .into_owned()
        .collect()
}

/// Through the consent page (allowing), to the redirect with the code: its query.
async fn authorize(
    c: &TestClient,
    app: &App,
    extra: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let path = authorize_path(app, extra);
    let r = c.get(&path).await;
    let to = if r.status() == StatusCode::OK {
        let page = r.text().await.unwrap();
        assert!(page.contains("Grafana"), "{page}");
        let csrf = csrf_from_html(&page).expect("a CSRF token");
        let mut fields: Vec<(String, String)> =
            query_of(&format!("http://x{path}")).into_iter().collect();
        fields.push(("csrf_token".into(), csrf));
        fields.push(("decision".into(), "allow".into()));
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = c.post_form("/oidc/authorize", &borrowed).await;
        assert_eq!(r.status(), StatusCode::FOUND);
        location(&r).unwrap()
    } else {
        assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap());
        location(&r).unwrap()
    };
    assert!(to.starts_with(REDIRECT), "{to}");
    query_of(&to)
}

async fn token(c: &TestClient, app: &App, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = c.http.post(c.url("/oidc/token")).form(form);
    if let Some(secret) = &app.secret {
        request = request.basic_auth(&app.id, Some(secret));
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, r.json().await.unwrap())
}

async fn exchange(c: &TestClient, app: &App, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        c,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The tokens a signed-in browser `c` gets `client` (the authorization code flow with
/// PKCE, answered 200).
async fn issued(c: &TestClient, client: &App) -> Value {
    let code = authorize(c, client, &[]).await["code"].clone();
    let (status, tokens) = exchange(c, client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn userinfo(c: &TestClient, access: &str) -> StatusCode {
    c.http
        .get(c.url("/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

async fn signed_in(app: &TestApp, tag: &str) -> (TestClient, String) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    (app.logged_in_client(&email, PASSWORD, false).await, email)
}

#[actix_web::test]
async fn discovery_authorize_token_and_userinfo_work_and_the_id_token_verifies() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, email) = signed_in(&app, "oidc-flow").await;

    let discovery = discovery(&c).await;
    assert_eq!(discovery["issuer"], app.address.as_str());
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}/oidc/token", app.address)
    );
    assert_eq!(discovery["code_challenge_methods_supported"][0], "S256");

    let answer = authorize(&c, &client, &[]).await;
    assert_eq!(answer["state"], "st-1");
    assert_eq!(answer["iss"], app.address.as_str());
    let (status, tokens) = exchange(&c, &client, &answer["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");

    let jwks: CoreJsonWebKeySet = c.get("/oidc/jwks").await.json().await.unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(client.id.clone()),
        ClientSecret::new(client.secret.clone().unwrap()),
        IssuerUrl::new(app.address.clone()).unwrap(),
        jwks,
    );
    let id_token: CoreIdToken = serde_json::from_value(tokens["id_token"].clone()).unwrap();
    let claims = id_token
        .claims(&verifier, &Nonce::new("n-1".into()))
        .expect("the ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(email.as_str()));
    assert_ne!(claims.subject().as_str(), email);
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert!(claims.auth_time().is_some());

    let info = c
        .http
        .get(c.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["email"], email.as_str());
    assert_eq!(info["sub"], claims.subject().as_str());

    // The second time, the consent is remembered: straight back with a code.
    let r = c.get(&authorize_path(&client, &[])).await;
    assert_eq!(r.status(), StatusCode::FOUND);
}

#[actix_web::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_bought() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-replay").await;
    let code = authorize(&c, &client, &[]).await["code"].clone();
    let (status, tokens) = exchange(&c, &client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&c, access).await, StatusCode::OK);

    let (status, error) = exchange(&c, &client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");
    assert_eq!(userinfo(&c, access).await, StatusCode::UNAUTHORIZED);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = token(
        &c,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_wrong_verifier_another_clients_code_and_an_expired_code_are_refused() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let other = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-attacks").await;

    let code = authorize(&c, &client, &[]).await["code"].clone();
    let wrong = "x".repeat(43);
    let (status, error) = exchange(&c, &client, &code, &wrong).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Refused once, the code is spent: the right verifier comes too late.
    let (status, _) = exchange(&c, &client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let code = authorize(&c, &client, &[]).await["code"].clone();
    let (status, error) = exchange(&c, &other, &code, VERIFIER).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let code = authorize(&c, &client, &[]).await["code"].clone();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    diesel::update(oidc_grant::table)
        .set(oidc_grant::code_expires_at.eq(past))
        .execute(&mut app.db())
        .unwrap();
    let (status, error) = exchange(&c, &client, &code, VERIFIER).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let mut bad_secret = App {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let (status, error) = exchange(&c, &bad_secret, "whatever", VERIFIER).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    bad_secret.secret = None;
    let (status, _) = exchange(&c, &bad_secret, "whatever", VERIFIER).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-redirect").await;
    for wrong in [
        "http://127.0.0.1:9/callback/extra",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/Callback",
        "http://evil.example/callback",
    ] {
        let path = authorize_path(&client, &[]).replace(
            &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(wrong.as_bytes()).collect::<String>(),
        );
        let r = c.get(&path).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{wrong}");
        assert_eq!(location(&r), None, "{wrong}");
    }
    let unknown = App {
        id: "nobody".into(),
        secret: None,
    };
    let r = c.get(&authorize_path(&unknown, &[])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Known client and URI: other errors go back to the app, with its state.
    let r = c
        .get(&authorize_path(&client, &[]).replace("response_type=code", "response_type=token"))
        .await;
    let back = query_of(&location(&r).unwrap());
    assert_eq!(back["error"], "unsupported_response_type");
    assert_eq!(back["state"], "st-1");
}

#[actix_web::test]
async fn a_public_client_must_use_pkce_and_nobody_signed_in_goes_to_the_login() {
    let app = spawn_app().await;
    let public = register_client(&app, true, &[]).await;
    let (c, _) = signed_in(&app, "oidc-public").await;
    let no_pkce = authorize_path(&public, &[])
        .replace(&format!("&code_challenge={}", challenge(VERIFIER)), "")
        .replace("&code_challenge_method=S256", "");
    let back = query_of(&location(&c.get(&no_pkce).await).unwrap());
    assert_eq!(back["error"], "invalid_request");

    let code = authorize(&c, &public, &[]).await["code"].clone();
    let (status, tokens) = token(
        &c,
        &public,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &public.id),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    let anonymous = app.client();
    let r = anonymous.get(&authorize_path(&public, &[])).await;
    let to = location(&r).unwrap();
    assert!(to.starts_with("/login?next="), "{to}");
    let r = anonymous
        .get(&authorize_path(&public, &[("prompt", "none")]))
        .await;
    assert_eq!(query_of(&location(&r).unwrap())["error"], "login_required");
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_family() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-refresh").await;
    let first = issued(&c, &client).await;
    let refresh = |t: &Value| t["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = token(
        &c,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh(&first)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(refresh(&first), refresh(&second));
    assert!(second["id_token"].is_string());

    let (status, error) = token(
        &c,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh(&first)),
        ],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The reuse ended the family: the newest refresh and access tokens too.
    let (status, _) = token(
        &c,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh(&second)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&c, access).await, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn another_clients_refresh_token_is_refused_and_left_as_it_was() {
    let app = spawn_app().await;
    let owner = register_client(&app, false, &[]).await;
    let other = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-refresh-other").await;
    let first = issued(&c, &owner).await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];

    // Another registered client presents it: refused, and it neither spends the token nor
    // ends the owner's grant (RFC 6749 section 6: the token must have been issued to the
    // client that presents it; a stranger's attempt is not a reuse by its holder).
    let (status, error) = token(&c, &other, &form).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{error}"
    );
    let (status, second) = token(&c, &owner, &form).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second["id_token"].is_string());
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&c, access).await, StatusCode::OK);
}

#[actix_web::test]
async fn a_password_change_ends_the_apps_tokens() {
    let app = spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-lifecycle").await;
    let tokens = issued(&c, &client).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&c, access).await, StatusCode::OK);

    let r = c.change_password(PASSWORD, "another-horse-42").await;
    assert_eq!(r.status(), StatusCode::FOUND);

    assert_eq!(userinfo(&c, access).await, StatusCode::UNAUTHORIZED);
    let (status, _) = token(
        &c,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_consent_page_cannot_be_framed_and_declining_tells_the_app() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-consent").await;
    let path = authorize_path(&client, &[]);
    let r = c.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    let csrf = csrf_from_html(&page).unwrap();
    let mut fields: Vec<(String, String)> =
        query_of(&format!("http://x{path}")).into_iter().collect();
    fields.push(("csrf_token".into(), csrf));
    fields.push(("decision".into(), "deny".into()));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = c.post_form("/oidc/authorize", &borrowed).await;
    let back = query_of(&location(&r).unwrap());
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "st-1");
    // Without the CSRF token, nothing is agreed to.
    let without: Vec<(&str, &str)> = borrowed
        .iter()
        .copied()
        .filter(|(k, _)| *k != "csrf_token")
        .map(|(k, v)| {
            if k == "decision" {
                (k, "allow")
            } else {
                (k, v)
            }
        })
        .collect();
    let r = c.post_form("/oidc/authorize", &without).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// authlib (PyPI), a relying party no one here wrote: discovery, code with PKCE, the ID
/// token verified against the JWKS by authlib's own JOSE, userinfo, refresh, introspection,
/// revocation and RP-initiated logout.
#[actix_web::test]
async fn authlib_signs_a_user_in_through_latchkey() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let email = new_email("oidc-authlib");
    app.create_user(&email, PASSWORD).await;
    let python = tokio::task::spawn_blocking(common::oidc::python)
        .await
        .expect("the virtualenv");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authlib_relying_party.py");
    let args = [
        app.address.clone(),
        client.id.clone(),
        client.secret.clone().unwrap(),
        email.clone(),
        PASSWORD.to_owned(),
        REDIRECT.to_owned(),
        SIGNED_OUT.to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args(args)
            .output()
            .expect("run the relying party")
    })
    .await
    .expect("the relying party's thread");
    assert!(
        out.status.success(),
        "authlib failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(seen["consent_asked"], true);
    assert!(
        seen["callback_query"].as_str().unwrap().contains(&format!(
            "iss={}",
            url::form_urlencoded::byte_serialize(app.address.as_bytes()).collect::<String>()
        )),
        "{seen}"
    );
    assert_eq!(seen["id_token"]["email"], email.as_str());
    assert_eq!(seen["id_token"]["amr"], serde_json::json!(["pwd"]));
    assert_eq!(seen["userinfo"]["email"], email.as_str());
    assert_eq!(seen["userinfo"]["sub"], seen["id_token"]["sub"]);
    assert_eq!(seen["refresh_rotated"], true);
    assert_eq!(seen["introspected"]["active"], true, "{seen}");
    assert_eq!(seen["introspected"]["client_id"], client.id.as_str());
    assert_eq!(seen["after_revocation"], json!({"active": false}), "{seen}");
    assert_eq!(
        seen["signed_out_to"],
        "http://127.0.0.1:9/signed-out?state=bye"
    );
    assert_eq!(seen["signed_in_after_logout"], false);
}

/// The ID token's payload, read without checking (the other tests check the signature).
fn payload(id_token: &Value) -> Value {
    let middle = id_token.as_str().unwrap().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(middle)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[actix_web::test]
async fn a_login_with_a_second_factor_is_pwd_otp_mfa_in_the_id_token() {
    use latchkey::auth::totp::code_at;
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "two-factor-test-secret"),
    ])
    .await;
    let client = register_client(&app, false, &[]).await;
    let email = new_email("oidc-mfa");
    app.create_user(&email, PASSWORD).await;
    let setup = app.logged_in_client(&email, PASSWORD, false).await;
    let key = common::set_up_authenticator(&setup).await;

    let c = app.client();
    let login = serde_json::json!({"email": email, "password": PASSWORD});
    let r = c.post_json_via("/login", "/login", &login).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Another time step's code than the setup's (codes work once).
    let code = code_at(&key, chrono::Utc::now().timestamp() as u64 - 30);
    let r = c
        .post_json_via(
            "/tf-validate",
            "/tf-validate",
            &serde_json::json!({"code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let tokens = issued(&c, &client).await;
    let claims = payload(&tokens["id_token"]);
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "2");

    // A password alone, on an account without a second factor: one factor.
    let (plain, _) = signed_in(&app, "oidc-single").await;
    let tokens = issued(&plain, &client).await;
    let claims = payload(&tokens["id_token"]);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "1");
}

async fn introspect(c: &TestClient, by: &App, token: &str) -> (StatusCode, Value) {
    let mut request = c
        .http
        .post(c.url("/oidc/introspect"))
        .form(&[("token", token)]);
    if let Some(secret) = &by.secret {
        request = request.basic_auth(&by.id, Some(secret));
    }
    let r = request.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn revoke(c: &TestClient, by: &App, token: &str) -> StatusCode {
    c.http
        .post(c.url("/oidc/revoke"))
        .basic_auth(&by.id, by.secret.as_ref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

/// A JWT with this header, the payload of `like` (an ID token), and this signature part.
fn forged(header: Value, like: &Value, signature: &str) -> String {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!("{}.{}.{signature}", b64(&header), b64(&payload(like)))
}

#[actix_web::test]
async fn introspection_and_revocation_answer_clients_and_forged_tokens_are_inactive() {
    use hmac::{Hmac, Mac};
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let api = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-introspect").await;
    let tokens = issued(&c, &client).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let (status, seen) = introspect(&c, &api, access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], client.id.as_str());
    assert_eq!(seen["token_type"], "access_token");
    assert_eq!(seen["sub"], payload(&tokens["id_token"])["sub"]);
    assert_eq!(
        introspect(&c, &api, refresh).await.1["token_type"],
        "refresh_token"
    );

    // Signed tokens that Latchkey did not sign: alg none, and HS256 under the client's secret.
    let none = forged(
        json!({"alg": "none", "typ": "JWT"}),
        &tokens["id_token"],
        "",
    );
    assert_eq!(
        introspect(&c, &api, &none).await.1,
        json!({"active": false})
    );
    let unsigned = forged(
        json!({"alg": "HS256", "typ": "JWT"}),
        &tokens["id_token"],
        "",
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(client.secret.as_ref().unwrap().as_bytes()).unwrap();
    mac.update(unsigned.trim_end_matches('.').as_bytes());
    let hs256 = format!(
        "{unsigned}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(
        introspect(&c, &api, &hs256).await.1,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&c, &api, tokens["id_token"].as_str().unwrap())
            .await
            .1,
        json!({"active": false})
    );
    let anonymous = App {
        id: api.id.clone(),
        secret: None,
    };
    assert_eq!(
        introspect(&c, &anonymous, access).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Another client cannot revoke this one's token (and is not told so).
    assert_eq!(revoke(&c, &api, access).await, StatusCode::OK);
    assert_eq!(introspect(&c, &api, access).await.1["active"], true);
    // The client revokes its access token: the refresh token stays.
    assert_eq!(revoke(&c, &client, access).await, StatusCode::OK);
    assert_eq!(introspect(&c, &api, access).await.1["active"], false);
    assert_eq!(userinfo(&c, access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&c, &api, refresh).await.1["active"], true);
    // Its refresh token: the family ends.
    assert_eq!(revoke(&c, &client, refresh).await, StatusCode::OK);
    assert_eq!(introspect(&c, &api, refresh).await.1["active"], false);
    assert_eq!(revoke(&c, &client, "never-issued").await, StatusCode::OK);
}

#[actix_web::test]
async fn rp_initiated_logout_asks_first_and_goes_only_to_a_registered_uri() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-logout").await;
    let tokens = issued(&c, &client).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let logout_path = |hint: &str, to: &str| {
        let mut url = Url::parse("http://x/oidc/logout").unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", to)
            .append_pair("state", "bye");
        format!("{}?{}", url.path(), url.query().unwrap())
    };

    for wrong in ["http://127.0.0.1:9/signed-out/x", "http://evil.example/"] {
        let r = c.get(&logout_path(hint, wrong)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{wrong}");
        assert_eq!(location(&r), None);
    }
    let none = forged(json!({"alg": "none"}), &tokens["id_token"], "");
    let r = c.get(&logout_path(&none, SIGNED_OUT)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A GET alone signs nobody out: it asks.
    let path = logout_path(hint, SIGNED_OUT);
    let r = c.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(c.is_authenticated().await);
    let mut fields: Vec<(String, String)> =
        query_of(&format!("http://x{path}")).into_iter().collect();
    fields.push(("csrf_token".into(), csrf_from_html(&page).unwrap()));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = c.post_form("/oidc/logout", &borrowed).await;
    assert_eq!(
        location(&r).as_deref(),
        Some("http://127.0.0.1:9/signed-out?state=bye")
    );
    assert!(!c.is_authenticated().await);

    // Nobody signed in: straight back to the app.
    let r = c.get(&path).await;
    assert_eq!(
        location(&r).as_deref(),
        Some("http://127.0.0.1:9/signed-out?state=bye")
    );
}

#[actix_web::test]
async fn removing_an_apps_access_ends_its_tokens_and_the_next_sign_in_asks_again() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-apps").await;
    let tokens = issued(&c, &client).await;
    let access = tokens["access_token"].as_str().unwrap();

    let profile = c.get("/profile").await.text().await.unwrap();
    assert!(profile.contains("href=\"/apps\""), "{profile}");
    let page = c.get("/apps").await.text().await.unwrap();
    assert!(page.contains("Grafana"), "{page}");
    let csrf = csrf_from_html(&page).unwrap();
    let r = c
        .post_form(
            "/apps/revoke",
            &[("csrf_token", &csrf), ("client_id", &client.id)],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/apps"));
    assert_eq!(userinfo(&c, access).await, StatusCode::UNAUTHORIZED);
    let page = c.get("/apps").await.text().await.unwrap();
    assert!(page.contains("No app has access"), "{page}");
    assert!(page.contains("Access removed for Grafana."), "{page}");
    // The consent is forgotten: the app must ask again.
    assert_eq!(
        c.get(&authorize_path(&client, &[])).await.status(),
        StatusCode::OK
    );
    let r = c
        .post_form(
            "/apps/revoke",
            &[("csrf_token", &csrf), ("client_id", "nobody")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_admin_page_lists_the_registered_apps() {
    use latchkey::db::roles;
    let app = spawn_app().await;
    let client = register_client(&app, true, &[]).await;
    let (c, email) = signed_in(&app, "oidc-admin").await;
    assert_eq!(c.get("/admin").await.status(), StatusCode::FORBIDDEN);
    {
        let mut conn = app.db();
        let role = roles::create(&mut conn, "admin", None).unwrap().unwrap();
        roles::add_to_user(&mut conn, app.user(&email).id, role.id).unwrap();
    }
    let page = c.get("/admin").await.text().await.unwrap();
    assert!(page.contains("Grafana"), "{page}");
    assert!(page.contains(&client.id), "{page}");
    assert!(page.contains("127.0.0.1:9"), "{page}");
    let json: Value = c.get_json("/admin").await.json().await.unwrap();
    assert_eq!(
        json["response"]["clients"][0]["client_id"],
        client.id.as_str()
    );
    assert_eq!(json["response"]["clients"][0]["is_public"], true);
    assert_eq!(json["response"]["clients"][0]["redirect_uris"][0], REDIRECT);
    assert!(json["response"]["clients"][0]
        .get("secret_digest")
        .is_none());
}

/// A browser arriving from one of Latchkey's own pages (after the login form) gets a page
/// that moves on by itself: its form's `form-action` would block a redirect to the app.
#[actix_web::test]
async fn a_browser_coming_from_a_latchkey_page_continues_to_the_app_by_a_page() {
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-continue").await;
    authorize(&c, &client, &[]).await;
    let path = authorize_path(&client, &[]);
    let r = c
        .http
        .get(c.url(&path))
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = common::unescape_html(&r.text().await.unwrap());
    assert!(
        page.contains(
            "<meta http-equiv=\"refresh\" content=\"0;url=http://127.0.0.1:9/callback?code="
        ),
        "{page}"
    );
    assert!(page.contains("Continuing to Grafana"), "{page}");
    // From the app's own page (another site): a plain redirect.
    let r = c
        .http
        .get(c.url(&path))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
}

/// Latchkey's own social login (a relying party on `127.0.0.1`) signs its user in through a
/// second Latchkey (the provider, on `localhost`): one browser, each site's cookies apart.
#[actix_web::test]
async fn latchkeys_social_login_signs_in_through_another_latchkey() {
    use latchkey::db::schema::oidc_client;
    let provider = common::try_spawn_app_on(&[], "localhost")
        .await
        .expect("the provider");
    let email = new_email("oidc-two-latchkeys");
    provider.create_user(&email, PASSWORD).await;
    provider.set_confirmed(&email);
    let created = clients::create(
        &provider.services(),
        NewClient {
            name: "The other Latchkey".into(),
            // Replaced below, once the relying party's port is known.
            redirect_uris: vec!["http://127.0.0.1:1/login/oauthresponse/latchkey".into()],
            ..NewClient::default()
        },
        &ClientInfo::default(),
    )
    .await
    .expect("client");
    let metadata = format!("{}/.well-known/openid-configuration", provider.address);
    let secret = created.secret.clone().unwrap();
    let relying = spawn_app_with(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "latchkey"),
        ("LATCHKEY_CLIENT_ID", &created.client.client_id),
        ("LATCHKEY_CLIENT_SECRET", &secret),
        ("LATCHKEY_SERVER_METADATA_URL", &metadata),
    ])
    .await;
    let callback = format!("{}/login/oauthresponse/latchkey", relying.address);
    diesel::update(oidc_client::table)
        .set(oidc_client::redirect_uris.eq(json!([callback]).to_string()))
        .execute(&mut provider.db())
        .unwrap();
    relying.create_user(&email, PASSWORD).await;
    relying.set_confirmed(&email);

    // One browser, signed in at the provider.
    let b = relying.client();
    let at_provider = |path: &str| format!("{}{path}", provider.address);
    let login = b.http.get(at_provider("/login")).send().await.unwrap();
    let csrf = csrf_from_html(&login.text().await.unwrap()).unwrap();
    let fields = [
        ("email", email.as_str()),
        ("password", PASSWORD),
        ("csrf_token", &csrf),
    ];
    let r = b
        .http
        .post(at_provider("/login"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);

    let csrf = b.csrf_token("/login").await;
    let r = b
        .post_form("/login/oauthstart/latchkey", &[("csrf_token", &csrf)])
        .await;
    let to = location(&r).expect("to the provider");
    assert!(to.starts_with(&provider.address), "{to}");
    let page = b.http.get(&to).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("The other Latchkey"), "{page}");
    let mut fields: Vec<(String, String)> = query_of(&to).into_iter().collect();
    fields.push(("csrf_token".into(), csrf_from_html(&page).unwrap()));
    fields.push(("decision".into(), "allow".into()));
    let r = b
        .http
        .post(at_provider("/oidc/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let back = location(&r).expect("back to the relying party");
    assert!(back.starts_with(&callback), "{back}");
    let r = b.http.get(&back).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let landed = location(&r).unwrap();
    let page = b.get(&landed).await.text().await.unwrap();
    assert!(
        b.is_authenticated().await,
        "signed in through the other Latchkey; landed on {landed}: {:?}",
        common::flashes(&page)
    );
}

/// A client registered for EdDSA gets Ed25519-signed ID tokens, verifiable against the
/// JWKS; the others stay RS256.
#[actix_web::test]
async fn a_client_registered_for_eddsa_gets_eddsa_id_tokens() {
    use latchkey::auth::oidc::keys::Alg;
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let app = spawn_app().await;
    let client = register(
        &app,
        NewClient {
            name: "Grafana".into(),
            redirect_uris: vec![REDIRECT.into()],
            id_token_alg: Some(Alg::EdDsa),
            ..NewClient::default()
        },
    )
    .await;
    let (c, _) = signed_in(&app, "oidc-eddsa").await;
    let discovery = discovery(&c).await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
    let code = authorize(&c, &client, &[]).await["code"].clone();
    let (status, tokens) = exchange(&c, &client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let header = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwks: CoreJsonWebKeySet = c.get("/oidc/jwks").await.json().await.unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(client.id.clone()),
        ClientSecret::new(client.secret.clone().unwrap()),
        IssuerUrl::new(app.address.clone()).unwrap(),
        jwks,
    )
    .set_allowed_algs([CoreJwsSigningAlgorithm::EdDsa]);
    let id_token: CoreIdToken = serde_json::from_value(tokens["id_token"].clone()).unwrap();
    id_token
        .claims(&verifier, &Nonce::new("n-1".into()))
        .expect("the EdDSA ID token verifies against the JWKS");
}

/// `max_age` and `prompt=login` send a signed-in person whose proof is too old to prove
/// themselves again (Latchkey's own re-authentication); the proof then satisfies the request.
#[actix_web::test]
async fn prompt_login_and_max_age_ask_an_old_login_to_prove_itself_again() {
    use latchkey::db::schema::login_session;
    let app = spawn_app().await;
    let client = register_client(&app, false, &[]).await;
    let (c, _) = signed_in(&app, "oidc-fresh").await;
    authorize(&c, &client, &[]).await;
    // Just signed in: fresh enough for both.
    for extra in [("max_age", "60"), ("prompt", "login")] {
        let r = c.get(&authorize_path(&client, &[extra])).await;
        assert!(location(&r).unwrap().starts_with(REDIRECT), "{extra:?}");
    }
    let ten_minutes_ago = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10);
    diesel::update(login_session::table)
        .set(login_session::authenticated_at.eq(Some(ten_minutes_ago)))
        .execute(&mut app.db())
        .unwrap();
    for extra in [("max_age", "60"), ("prompt", "login")] {
        let r = c.get(&authorize_path(&client, &[extra])).await;
        let to = location(&r).unwrap();
        assert!(to.starts_with("/verify?next="), "{extra:?}: {to}");
    }
    // Without either, the old login is enough.
    let r = c.get(&authorize_path(&client, &[])).await;
    assert!(location(&r).unwrap().starts_with(REDIRECT));

    let to = location(
        &c.get(&authorize_path(&client, &[("prompt", "login")]))
            .await,
    )
    .unwrap();
    let csrf = c.csrf_token(&to).await;
    let r = c
        .post_form(&to, &[("password", PASSWORD), ("csrf_token", &csrf)])
        .await;
    let back = location(&r).expect("back to the request");
    assert!(back.starts_with("/oidc/authorize?"), "{back}");
    assert!(!back.contains("prompt=login"), "{back}");
    let r = c.get(&back).await;
    assert!(location(&r).unwrap().starts_with(REDIRECT));
}
