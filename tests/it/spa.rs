//! Single-page apps, as Flask-Security serves them: the CSRF cookie a script reads and sends
//! back in `X-XSRF-Token` (`SECURITY_CSRF_COOKIE_NAME`, `SECURITY_CSRF_COOKIE`,
//! `SECURITY_CSRF_HEADER`), and `SECURITY_REDIRECT_BEHAVIOR=spa`, where the links of the mails
//! redirect to the app's own views with their outcome in the query string.

use crate::common;
use crate::mail_support;

use common::{
    location, new_email, set_cookie, set_cookies, spawn_app, spawn_app_with, TestApp, PASSWORD,
};
use mail_support::wait_for_eml;
use reqwest::StatusCode;
use serde_json::{json, Value};

const COOKIE: &str = "XSRF-TOKEN";
const WITH_COOKIE: &[(&str, &str)] = &[("SECURITY_CSRF_COOKIE_NAME", COOKIE)];

/// POSTs `body` as JSON with `token` in `X-XSRF-Token`.
async fn post_xsrf(
    client: &common::TestClient,
    path: &str,
    body: &Value,
    token: &str,
) -> reqwest::Response {
    client
        .http
        .post(client.url(path))
        .header("Accept", "application/json")
        .header("X-XSRF-Token", token)
        .json(body)
        .send()
        .await
        .expect("POST")
}

#[actix_web::test]
async fn a_script_reads_the_csrf_cookie_and_sends_it_in_x_xsrf_token() {
    let app = spawn_app_with(WITH_COOKIE).await;
    let email = new_email("xsrf");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    // The JSON GET of the login form sets the cookie: readable by scripts, SameSite=Strict.
    let r = client.get_json("/login").await;
    let cookie = set_cookie(r.headers(), COOKIE).expect("the CSRF cookie");
    assert_ne!(cookie.http_only(), Some(true), "scripts must read it");
    assert_eq!(
        cookie.same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    assert_eq!(cookie.path(), Some("/"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["csrf_token"], json!(cookie.value()));
    let before = client.cookie(COOKIE).expect("the browser keeps it");

    let r = post_xsrf(
        &client,
        "/login",
        &json!({"email": email, "password": PASSWORD}),
        &before,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(client.is_authenticated().await);
    // The login gave the session a new token, and the cookie follows it.
    let after = client.cookie(COOKIE).expect("the cookie after login");
    assert_ne!(after, before);

    // A protected call with the old token is refused; with the cookie's new one it works.
    let r = post_xsrf(&client, "/logout", &json!({}), &before).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(client.is_authenticated().await);
    let r = post_xsrf(&client, "/logout", &json!({}), &after).await;
    assert_eq!(r.status(), StatusCode::OK);
    let removal = set_cookie(r.headers(), COOKIE).expect("logout clears the cookie");
    assert_eq!(removal.value(), "");
    assert!(client.cookie(COOKIE).is_none(), "the browser dropped it");
    assert!(!client.is_authenticated().await);
}

#[actix_web::test]
async fn a_wrong_x_xsrf_token_is_refused_with_a_json_400() {
    let app = spawn_app_with(WITH_COOKIE).await;
    let email = new_email("xsrf-wrong");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    client.get_json("/login").await;
    assert!(client.cookie(COOKIE).is_some());

    for token in ["", "bogus", &app.client().json_csrf_token().await] {
        let r = post_xsrf(
            &client,
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            token,
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{token:?}");
        let body: Value = r.json().await.expect("a JSON answer");
        assert_eq!(body["meta"]["code"], json!(400), "{body}");
        assert!(!client.is_authenticated().await);
    }
}

#[actix_web::test]
async fn no_csrf_cookie_without_the_setting_but_the_header_still_counts() {
    let app = spawn_app().await;
    let email = new_email("no-xsrf");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    let r = client.get_json("/login").await;
    assert!(set_cookie(r.headers(), COOKIE).is_none());
    let token = r.json::<Value>().await.unwrap()["response"]["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Flask-Security always adds SECURITY_CSRF_HEADER to the headers the token may come in.
    let r = post_xsrf(
        &client,
        "/login",
        &json!({"email": email, "password": PASSWORD}),
        &token,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let names: Vec<String> = set_cookies(r.headers())
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == COOKIE), "{names:?}");
    assert!(client.cookie(COOKIE).is_none());
}

#[actix_web::test]
async fn the_cookie_follows_the_configured_attributes_header_and_refresh() {
    let app = spawn_app_with(&[
        ("SECURITY_CSRF_COOKIE_NAME", "csrf-cookie"),
        (
            "SECURITY_CSRF_COOKIE",
            r#"{"samesite": "Lax", "httponly": false, "secure": false, "path": "/"}"#,
        ),
        ("SECURITY_CSRF_HEADER", "X-My-Csrf"),
        ("SECURITY_CSRF_COOKIE_REFRESH_EACH_REQUEST", "true"),
    ])
    .await;
    let email = new_email("xsrf-custom");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    let first = client.get_json("/login").await;
    let cookie = set_cookie(first.headers(), "csrf-cookie").expect("the cookie");
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    // Refreshed with every answer, not only when the token changes.
    let second = client.get_json("/login").await;
    let again = set_cookie(second.headers(), "csrf-cookie").expect("sent again");
    assert_eq!(again.value(), cookie.value());

    let r = client
        .http
        .post(client.url("/login"))
        .header("Accept", "application/json")
        .header("X-My-Csrf", cookie.value())
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(client.is_authenticated().await);
}

/// SPA mode with its views on another host, as Flask-Security's docs set it up.
const SPA: &[(&str, &str)] = &[
    ("SECURITY_REDIRECT_BEHAVIOR", "spa"),
    ("SECURITY_REDIRECT_HOST", "localhost:8081"),
    ("SECURITY_POST_CONFIRM_VIEW", "/confirmed"),
    ("SECURITY_CONFIRM_ERROR_VIEW", "/confirm-error"),
    ("SECURITY_RESET_VIEW", "/reset-view"),
    ("SECURITY_RESET_ERROR_VIEW", "/reset-error"),
    ("SECURITY_POST_CHANGE_EMAIL_VIEW", "/email-changed"),
    ("SECURITY_CHANGE_EMAIL_ERROR_VIEW", "/email-error"),
];

async fn spa_app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = SPA.to_vec();
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// A redirect's target split into its address and its query parameters.
fn target(r: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = location(r).expect("a Location");
    let (base, query) = location.split_once('?').unwrap_or((&location, ""));
    let params = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (base.to_owned(), params)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[actix_web::test]
async fn in_spa_mode_the_confirmation_link_leads_to_the_apps_views() {
    let app = spa_app(&[("SECURITY_CONFIRMABLE", "true")]).await;
    let email = new_email("spa-confirm");
    let r = app.client().register(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let link = mails[0].link_path("/confirm/");

    let browser = app.client();
    let (view, params) = target(&browser.get(&link).await);
    assert_eq!(view, "//localhost:8081/confirmed");
    assert_eq!(
        params,
        pairs(&[
            ("email", &email),
            ("identity", &email),
            ("success", "Thank you. Your email has been confirmed."),
        ])
    );
    assert!(app.user(&email).confirmed_at.is_some());

    // A link that does not confirm: the error view, with the message and nothing about the
    // account.
    let (view, params) = target(&browser.get("/confirm/not-a-token").await);
    assert_eq!(view, "//localhost:8081/confirm-error");
    assert_eq!(params, pairs(&[("error", "Invalid confirmation token.")]));
}

#[actix_web::test]
async fn in_spa_mode_the_reset_link_hands_the_token_to_the_apps_form() {
    let app = spa_app(&[("SECURITY_RECOVERABLE", "true")]).await;
    let email = new_email("spa-reset");
    app.create_user(&email, PASSWORD).await;
    let api = app.client();
    let r = api
        .post_json_via("/reset", "/reset", &json!({ "email": email }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let link = mails[0].link_path("/reset/");
    let token = link.trim_start_matches("/reset/").to_owned();

    let (view, params) = target(&app.client().get(&link).await);
    assert_eq!(view, "//localhost:8081/reset-view");
    assert_eq!(params, pairs(&[("token", &token)]));

    // The app posts the new password to the token's address through the JSON API.
    let new_password = "a-brand-new-password-7";
    let r = api
        .post_json_via(
            "/login",
            &link,
            &json!({"password": new_password, "password_confirm": new_password}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.client().login_json(&email, new_password).await.status(),
        StatusCode::OK
    );

    let (view, params) = target(&app.client().get(&link).await);
    assert_eq!(view, "//localhost:8081/reset-error");
    assert_eq!(params, pairs(&[("error", "Invalid reset password token.")]));
}

#[actix_web::test]
async fn in_spa_mode_the_change_email_link_leads_to_the_apps_views() {
    let app = spa_app(&[("SECURITY_CHANGE_EMAIL", "true")]).await;
    let old = new_email("spa-old");
    app.create_user(&old, PASSWORD).await;
    let browser = app.logged_in_client(&old, PASSWORD, false).await;
    let new = new_email("spa-new");
    let r = browser
        .post_json_via("/change-email", "/change-email", &json!({ "email": new }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, &new, "Confirm your new email address", 1).await;
    let link = mails[0].link_path("/change-email/");

    let (view, params) = target(&app.client().get(&link).await);
    assert_eq!(view, "//localhost:8081/email-changed");
    assert_eq!(
        params[..2],
        pairs(&[("email", &new), ("identity", &new)])[..]
    );
    assert_eq!(params[2].0, "success");
    assert!(app.find_user(&new).is_some());

    let (view, params) = target(&app.client().get(&link).await);
    assert_eq!(view, "//localhost:8081/email-error");
    assert_eq!(params.len(), 1);
    assert_eq!(params[0].0, "error");
}

/// Without `SECURITY_REDIRECT_BEHAVIOR=spa` the links answer as before: Latchkey's pages,
/// or the views when set (on `SECURITY_REDIRECT_HOST`), with no query parameters.
#[actix_web::test]
async fn without_spa_mode_links_keep_their_pages_or_go_to_the_views_plainly() {
    let app = spawn_app_with(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CONFIRM_ERROR_VIEW", "/confirm-error"),
    ])
    .await;
    let email = new_email("no-spa");
    app.client().register(&email, PASSWORD).await;
    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let link = mails[0].link_path("/confirm/");

    let r = app.client().get(&link).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let r = app.client().get("/confirm/not-a-token").await;
    assert_eq!(location(&r).as_deref(), Some("/confirm-error"));
    let r = app.client().get("/reset/not-a-token").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
}

/// `next` may name another host when `SECURITY_REDIRECT_BASE_DOMAIN` and
/// `SECURITY_REDIRECT_ALLOWED_SUBDOMAINS` list it, and only then.
#[actix_web::test]
async fn next_may_lead_to_the_hosts_the_redirect_keys_allow() {
    let app = spawn_app_with(&[
        ("SECURITY_REDIRECT_BASE_DOMAIN", "example.org"),
        ("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "app"),
    ])
    .await;
    let email = new_email("spa-next");
    app.create_user(&email, PASSWORD).await;

    let fields = |next: &'static str| {
        [
            ("email", email.clone()),
            ("password", PASSWORD.to_owned()),
            ("next", next.to_owned()),
        ]
    };
    let browser = app.client();
    let allowed = fields("https://app.example.org/after?x=1");
    let allowed: Vec<(&str, &str)> = allowed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = browser.submit("/login", &allowed).await;
    assert_eq!(
        location(&r).as_deref(),
        Some("https://app.example.org/after?x=1")
    );

    for next in [
        "https://evil.example.org/",
        "https://example.org/",
        "https://app.example.org.evil.com/",
    ] {
        let browser = app.client();
        let refused = fields(next);
        let refused: Vec<(&str, &str)> = refused.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = browser.submit("/login", &refused).await;
        assert_ne!(r.status(), StatusCode::FOUND, "{next}");
        assert!(!browser.is_authenticated().await, "{next}");
    }
}

/// `SECURITY_POST_LOGIN_VIEW`: where a login goes when it was given no `next`.
#[actix_web::test]
async fn a_login_without_next_goes_to_the_post_login_view() {
    let app = spawn_app_with(&[("SECURITY_POST_LOGIN_VIEW", "/dashboard")]).await;
    let email = new_email("post-login");
    app.create_user(&email, PASSWORD).await;

    let r = app.client().login(&email, PASSWORD, false).await;
    assert_eq!(location(&r).as_deref(), Some("/dashboard"));
    let browser = app.client();
    let r = browser
        .submit(
            "/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/profile"),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    // Logged in already: the login page sends the browser there too.
    assert_eq!(
        location(&browser.get("/login").await).as_deref(),
        Some("/dashboard")
    );
}

/// `SECURITY_POST_REGISTER_VIEW`, `SECURITY_POST_CHANGE_VIEW`, `SECURITY_POST_LOGOUT_VIEW` and
/// `SECURITY_POST_RESET_VIEW`: where those forms go when given no `next`.
#[actix_web::test]
async fn the_post_action_views_place_register_change_logout_and_reset() {
    let app = spawn_app_with(&[
        ("SECURITY_REGISTERABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_POST_REGISTER_VIEW", "/welcome"),
        ("SECURITY_POST_CHANGE_VIEW", "/changed"),
        ("SECURITY_POST_LOGOUT_VIEW", "/bye"),
        ("SECURITY_POST_RESET_VIEW", "/reset-done"),
    ])
    .await;
    let email = new_email("post-views");
    let browser = app.client();
    let r = browser.register(&email, PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/welcome"));
    let new_password = "another-good-password-9";
    let r = browser.change_password(PASSWORD, new_password).await;
    assert_eq!(location(&r).as_deref(), Some("/changed"));
    let r = browser.logout().await;
    assert_eq!(location(&r).as_deref(), Some("/bye"));

    let r = app.client().submit("/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let link = mails[0].link_path("/reset/");
    let third = "a-third-good-password-3";
    let r = app
        .client()
        .submit(&link, &[("password", third), ("password_confirm", third)])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/reset-done"));
}

/// `SECURITY_CORS_ALLOWED_ORIGINS` (Latchkey's own): a listed origin's preflight is answered
/// and its answers are readable by it with credentials; any other origin, or no setting,
/// gets no CORS header.
#[actix_web::test]
async fn cors_answers_only_the_listed_origins() {
    const SPA_ORIGIN: &str = "http://localhost:8081";
    let app = spawn_app_with(&[("SECURITY_CORS_ALLOWED_ORIGINS", SPA_ORIGIN)]).await;
    let client = app.client();

    let r = client
        .http
        .request(reqwest::Method::OPTIONS, client.url("/login"))
        .header("Origin", SPA_ORIGIN)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, x-xsrf-token",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(SPA_ORIGIN)
    );
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let allowed = header(&r, "access-control-allow-headers").unwrap_or_default();
    assert!(allowed.contains("X-XSRF-Token"), "{allowed}");
    assert!(allowed.contains("Content-Type"), "{allowed}");

    let r = client
        .http
        .get(client.url("/login"))
        .header("Origin", SPA_ORIGIN)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(SPA_ORIGIN)
    );

    for (app, origin) in [
        (&app, "http://evil.example"),
        (&spawn_app().await, SPA_ORIGIN),
    ] {
        let client = app.client();
        let r = client
            .http
            .get(client.url("/login"))
            .header("Origin", origin)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(header(&r, "access-control-allow-credentials").is_none());
    }
}
