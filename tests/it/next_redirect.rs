//! `next`: after login the browser goes back where it came from, but only ever to a page
//! of this site.

use crate::common;

use common::{assert_form_rejected, form_errors, location, new_email, spawn_app, PASSWORD};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Response, StatusCode};

const OFFSITE: &str = "Redirections outside the domain are forbidden";

/// Every spelling of "somewhere else" that must not be followed.
const UNSAFE_NEXT: &[&str] = &[
    "https://evil.com",
    "http://evil.com/profile",
    "//evil.com",
    "///evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "javascript:alert(1)",
    " /profile",
    "%2F%2Fevil.com",
    "/%2F%2Fevil.com",
    "/%5Cevil.com",
    "/profile%0d%0aSet-Cookie:x=1",
    "/profile\r\nSet-Cookie: x=1",
];

fn query_value(v: &str) -> String {
    utf8_percent_encode(v, NON_ALPHANUMERIC).to_string()
}

async fn login_with_next_field(browser: &common::TestClient, email: &str, next: &str) -> Response {
    browser
        .submit(
            "/login",
            &[("email", email), ("password", PASSWORD), ("next", next)],
        )
        .await
}

async fn login_with_next_query(browser: &common::TestClient, email: &str, next: &str) -> Response {
    browser
        .submit(
            &format!("/login?next={}", query_value(next)),
            &[("email", email), ("password", PASSWORD)],
        )
        .await
}

/// The login was refused because of `next`, and nothing points or leaks off-site.
async fn assert_refused_offsite(r: Response, next: &str) {
    assert!(
        r.headers().get("x").is_none(),
        "{next:?}: a header was injected"
    );
    for c in common::set_cookies(r.headers()) {
        assert_ne!(c.name(), "x", "{next:?}: a cookie was injected");
    }
    if let Some(loc) = location(&r) {
        panic!("{next:?}: redirected to {loc:?}");
    }
    let body = assert_form_rejected(r).await;
    assert!(
        form_errors(&body).contains(&OFFSITE.to_owned()),
        "{next:?}: {:?}",
        form_errors(&body)
    );
}

#[actix_web::test]
async fn next_in_the_form_brings_the_user_back() {
    let app = spawn_app().await;
    let email = new_email("next-form");
    app.create_user(&email, PASSWORD).await;

    let r = login_with_next_field(&app, &email, "/profile").await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
    assert!(app.is_authenticated().await);
}

#[actix_web::test]
async fn next_in_the_query_brings_the_user_back() {
    let app = spawn_app().await;
    let email = new_email("next-query");
    app.create_user(&email, PASSWORD).await;

    let r = login_with_next_query(&app, &email, "/profile").await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
}

#[actix_web::test]
async fn local_spellings_of_next_are_followed() {
    let app = spawn_app().await;
    let email = new_email("next-local");
    app.create_user(&email, PASSWORD).await;
    let own = format!("{}/profile", app.address);
    for (next, expected) in [
        ("/profile?tab=1&x=2", "/profile?tab=1&x=2"),
        ("profile", "/profile"),
        (own.as_str(), "/profile"),
    ] {
        let browser = app.client();

        let r = login_with_next_field(&browser, &email, next).await;

        assert_eq!(r.status(), StatusCode::FOUND, "{next}");
        assert_eq!(location(&r).as_deref(), Some(expected), "{next}");
    }
}

#[actix_web::test]
async fn offsite_next_in_the_form_refuses_the_login() {
    let app = spawn_app().await;
    let email = new_email("offsite-form");
    app.create_user(&email, PASSWORD).await;
    for next in UNSAFE_NEXT {
        let browser = app.client();

        let r = login_with_next_field(&browser, &email, next).await;

        assert_refused_offsite(r, next).await;
        assert!(!browser.is_authenticated().await, "{next:?}");
    }
}

#[actix_web::test]
async fn offsite_next_in_the_query_refuses_the_login() {
    let app = spawn_app().await;
    let email = new_email("offsite-query");
    app.create_user(&email, PASSWORD).await;
    for next in UNSAFE_NEXT {
        let browser = app.client();

        let r = login_with_next_query(&browser, &email, next).await;

        assert_refused_offsite(r, next).await;
        assert!(!browser.is_authenticated().await, "{next:?}");
    }
}

async fn register_with_next(browser: &common::TestClient, email: &str, next: &str) -> Response {
    browser
        .submit(
            "/register",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("next", next),
            ],
        )
        .await
}

#[actix_web::test]
async fn offsite_next_on_registration_creates_no_account() {
    let app = spawn_app().await;
    for next in ["https://evil.com", "//evil.com", "/\\evil.com"] {
        let browser = app.client();
        let email = new_email("offsite-register");

        let r = register_with_next(&browser, &email, next).await;

        assert_eq!(location(&r), None, "{next}");
        assert_form_rejected(r).await;
        assert!(app.find_user(&email).is_none(), "{next}");
        assert!(!browser.is_authenticated().await, "{next}");
    }
}

#[actix_web::test]
async fn offsite_next_on_registration_tells_the_user_why() {
    let app = spawn_app().await;

    let r = register_with_next(&app, &new_email("offsite-why"), "https://evil.com").await;

    assert_refused_offsite(r, "https://evil.com").await;
}

#[actix_web::test]
async fn registering_with_a_local_next_goes_there() {
    let app = spawn_app().await;

    let r = app
        .submit(
            "/register",
            &[
                ("email", new_email("reg-next").as_str()),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("next", "/profile"),
            ],
        )
        .await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
}

#[actix_web::test]
async fn an_anonymous_visit_to_a_protected_page_goes_to_login_and_back() {
    let app = spawn_app().await;
    let email = new_email("round-trip");
    app.create_user(&email, PASSWORD).await;

    let r = app.get("/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let login_url = location(&r).unwrap();
    assert_eq!(login_url, "/login?next=/profile");

    // The login page carries next along...
    let page = common::unescape_html(&app.get(&login_url).await.text().await.unwrap());
    assert!(page.contains("name=\"next\" value=\"/profile\""), "{page}");
    // ...and submitting it lands on the page asked for first.
    let r = app
        .submit(
            &login_url,
            &[("email", email.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/profile"));
}

#[actix_web::test]
async fn the_login_redirect_keeps_the_whole_query_of_the_page_asked_for() {
    let app = spawn_app().await;
    let email = new_email("query-keep");
    app.create_user(&email, PASSWORD).await;

    let r = app.get("/premium?a=1&b=2").await;
    let login_url = location(&r).unwrap();
    assert!(login_url.starts_with("/login?next="), "{login_url}");

    let r = app
        .submit(
            &login_url,
            &[("email", email.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/premium?a=1&b=2"));
}
