//! CSRF protection: every POST needs the token of its own session, in the form field
//! `csrf_token` or the header `X-CSRF-Token` / `X-CSRFToken`.

use crate::common;

use common::{new_email, spawn_app, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

/// A token that belongs to some other browser's session.
async fn someone_elses_token(app: &TestApp) -> String {
    app.client().csrf_token("/login").await
}

#[actix_web::test]
async fn login_without_a_valid_token_is_refused() {
    let app = spawn_app().await;
    let email = new_email("csrf-login");
    app.create_user(&email, PASSWORD).await;
    let foreign = someone_elses_token(&app).await;

    for token in [None, Some(""), Some("bogus-token"), Some(foreign.as_str())] {
        let browser = app.client();
        browser.get("/login").await; // has a session and a token of its own
        let mut fields = vec![("email", email.as_str()), ("password", PASSWORD)];
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }

        let r = browser.post_form("/login", &fields).await;

        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "token {token:?}");
        assert!(!browser.is_authenticated().await, "token {token:?}");
    }
    assert_eq!(
        app.count_login_sessions(),
        1,
        "only the registration's login"
    );
}

#[actix_web::test]
async fn registration_without_a_valid_token_creates_no_account() {
    let app = spawn_app().await;
    let foreign = someone_elses_token(&app).await;

    for token in [None, Some(""), Some("bogus-token"), Some(foreign.as_str())] {
        let browser = app.client();
        browser.get("/register").await;
        let email = new_email("csrf-register");
        let mut fields = vec![
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ];
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }

        let r = browser.post_form("/register", &fields).await;

        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "token {token:?}");
        assert!(!browser.is_authenticated().await, "token {token:?}");
        assert!(app.find_user(&email).is_none(), "token {token:?}");
    }
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn a_browser_without_any_session_is_refused() {
    let app = spawn_app().await;
    let email = new_email("no-session");
    app.create_user(&email, PASSWORD).await;
    let token = someone_elses_token(&app).await;

    // Never visited a form: no session cookie at all.
    let r = app
        .client()
        .post_form(
            "/login",
            &[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;

    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn api_clients_may_send_the_token_in_either_header() {
    let app = spawn_app().await;
    let email = new_email("csrf-header");
    app.create_user(&email, PASSWORD).await;

    for header in ["X-CSRF-Token", "X-CSRFToken"] {
        let client = app.client();
        let token = client.json_csrf_token().await;

        let r = client
            .http
            .post(client.url("/login"))
            .header("Accept", "application/json")
            .header(header, token)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();

        assert_eq!(r.status(), StatusCode::OK, "{header}");
        assert!(client.is_authenticated().await, "{header}");
    }
}

#[actix_web::test]
async fn api_clients_may_send_the_token_in_the_body() {
    let app = spawn_app().await;
    let email = new_email("csrf-body");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    let token = client.json_csrf_token().await;

    let r = client
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "csrf_token": token}),
            None,
        )
        .await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(client.is_authenticated().await);
}

#[actix_web::test]
async fn api_requests_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    let email = new_email("csrf-json");
    app.create_user(&email, PASSWORD).await;
    let foreign = app.client().json_csrf_token().await;

    for token in [None, Some(""), Some("bogus-token"), Some(foreign.as_str())] {
        let client = app.client();
        client.json_csrf_token().await;

        let r = client
            .post_json(
                "/login",
                &json!({"email": email, "password": PASSWORD}),
                token,
            )
            .await;

        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "token {token:?}");
        assert!(!client.is_authenticated().await, "token {token:?}");
    }
}

/// Whoever planted or read the anonymous session's token (a shared computer, a token in a
/// page cache) must not hold the logged-in user's: a login gives the session a new one.
#[actix_web::test]
async fn the_token_changes_at_login_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let email = new_email("csrf-rotate");
    app.create_user(&email, PASSWORD).await;
    let before = app.csrf_token("/login").await;

    let r = app
        .post_form(
            "/login",
            &[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("csrf_token", before.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let after = app.csrf_token("/profile").await;
    assert_ne!(
        after, before,
        "the login page's token is the profile page's"
    );

    // The anonymous session's token no longer logs out...
    let r = app
        .post_form("/logout", &[("csrf_token", before.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(app.is_authenticated().await);
    // ...the new one does.
    let r = app
        .post_form("/logout", &[("csrf_token", after.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(!app.is_authenticated().await);
}

#[actix_web::test]
async fn the_json_login_answers_with_a_new_token_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let email = new_email("csrf-rotate-json");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    let before = client.json_csrf_token().await;

    let r = client
        .post_json(
            "/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
            Some(&before),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let after = body["response"]["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(after, before);
    assert_eq!(
        client.json_csrf_token().await,
        after,
        "the session keeps the new one"
    );

    let r = client
        .post_json("/logout", &serde_json::json!({}), Some(&before))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(client.is_authenticated().await);
    let r = client
        .post_json("/logout", &serde_json::json!({}), Some(&after))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!client.is_authenticated().await);
}

#[actix_web::test]
async fn the_token_on_every_page_of_a_session_is_the_same() {
    let app = spawn_app().await;

    let a = app.csrf_token("/login").await;
    let b = app.csrf_token("/register").await;
    let c = app.csrf_token("/login").await;

    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_ne!(a, app.client().csrf_token("/login").await);
}

/// A form refused for its token is shown again: the 400 page sends the browser back to the
/// page the form was on (this site's `Referer`, else the form's own address) with
/// `Refresh`, and that page flashes "Your session expired, please try again." An API client
/// gets the plain 400 and no flash.
#[actix_web::test]
async fn a_refused_form_sends_the_browser_back_to_it_with_a_flash() {
    let app = spawn_app().await;
    let cases = [
        (
            Some(app.client().url("/sessions?x=1")),
            "0; url=/sessions?x=1",
        ),
        (
            Some("https://elsewhere.example/login".to_owned()),
            "0; url=/logout",
        ),
        (None, "0; url=/logout"),
    ];
    for (referer, expected) in cases {
        let browser = app.client();
        browser.get("/login").await;
        let mut request = browser
            .http
            .post(browser.url("/logout"))
            .form(&[("csrf_token", "bogus")]);
        if let Some(referer) = &referer {
            request = request.header(reqwest::header::REFERER, referer.as_str());
        }
        let r = request.send().await.expect("POST");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{referer:?}");
        let refresh = r
            .headers()
            .get(reqwest::header::REFRESH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(refresh.as_deref(), Some(expected), "{referer:?}");
        let body = r.text().await.expect("the page");
        assert!(body.contains("Your session expired"), "{body}");
        assert!(!body.contains("CSRF"), "no jargon on the page: {body}");
        let page = browser.get("/login").await.text().await.expect("page");
        assert!(
            page.contains("Your session expired, please try again."),
            "the flash on the next page ({referer:?})"
        );
    }

    let api = app.client();
    let token = api.csrf_token("/login").await;
    assert!(!token.is_empty());
    let r = api.post_json("/logout", &json!({}), Some("bogus")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(reqwest::header::REFRESH).is_none());
    let page = api.get("/login").await.text().await.expect("page");
    assert!(
        !page.contains("Your session expired"),
        "no flash for an API client"
    );
}
