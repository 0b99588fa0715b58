//! Whatever a client sends, the answer is a 4xx or a form error, never a 5xx, and the
//! server keeps answering.

use crate::common;

use common::{assert_form_rejected, form_errors, new_email, spawn_app, TestApp, PASSWORD};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;

/// POSTs raw bytes with a content type, carrying a valid CSRF token in the header so that
/// only the body can be the reason for a refusal.
async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> StatusCode {
    let token = app.csrf_token("/login").await;
    let r = app
        .http
        .post(app.url(path))
        .header(CONTENT_TYPE, content_type)
        .header(ACCEPT, "application/json")
        .header("X-CSRF-Token", token)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    r.status()
}

async fn assert_still_serving(app: &TestApp) {
    let r = app.client().get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let big = format!("email={}&password=x", "a".repeat(65 * 1024));

    for (path, ct, body) in [
        (
            "/login",
            "application/x-www-form-urlencoded",
            big.clone().into_bytes(),
        ),
        (
            "/register",
            "application/x-www-form-urlencoded",
            big.clone().into_bytes(),
        ),
        (
            "/login",
            "application/json",
            format!("{{\"email\":\"{}\"}}", "a".repeat(65 * 1024)).into_bytes(),
        ),
    ] {
        assert_eq!(
            post_raw(&app, path, ct, body).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path} {ct}"
        );
    }
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn a_body_just_under_the_limit_is_read() {
    let app = spawn_app().await;
    let email = "a".repeat(60 * 1024);

    let r = app
        .submit("/login", &[("email", &email), ("password", PASSWORD)])
        .await;

    assert_form_rejected(r).await;
}

#[actix_web::test]
async fn json_that_is_not_an_object_of_strings_is_refused_with_400() {
    let app = spawn_app().await;
    // Not a JSON object at all: refused everywhere.
    for body in [
        "[1,2]",
        "{not json",
        "\"just a string\"",
        "null",
        "{\"email\": \"a@example.com\"",
    ] {
        for path in ["/login", "/register", "/logout"] {
            let status = post_raw(&app, path, "application/json", body.into()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        }
    }
    // A field of the wrong type.
    for body in [
        "{\"email\": 5, \"password\": \"correct-horse-9\"}",
        "{\"email\": [\"a@example.com\"], \"password\": \"x\"}",
        "{\"email\": \"a@example.com\", \"password\": {\"a\": 1}}",
    ] {
        for path in ["/login", "/register"] {
            let status = post_raw(&app, path, "application/json", body.into()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        }
    }
    assert_eq!(app.count_users(), 0);
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn a_nul_character_in_a_field_is_refused() {
    let app = spawn_app().await;
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            b"email=a%00b%40example.com&password=correct-horse-9".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"email=a@example.com&password=correct\x00horse".to_vec(),
        ),
        (
            "application/json",
            br#"{"email": "a\u0000b@example.com", "password": "correct-horse-9"}"#.to_vec(),
        ),
    ] {
        for path in ["/login", "/register"] {
            let status = post_raw(&app, path, ct, body.clone()).await;
            assert!(status.is_client_error(), "{path} {ct}: {status}");
        }
    }
    assert_eq!(app.count_users(), 0);
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn a_form_that_is_not_utf8_is_refused() {
    let app = spawn_app().await;
    for body in [
        b"email=\xff\xfe@example.com&password=x".to_vec(),
        b"email=%ff%fe%40example.com&password=x".to_vec(),
        vec![0xff; 32],
    ] {
        for path in ["/login", "/register"] {
            let status = post_raw(
                &app,
                path,
                "application/x-www-form-urlencoded",
                body.clone(),
            )
            .await;
            assert!(status.is_client_error(), "{path}: {status}");
        }
    }
    let status = post_raw(&app, "/login", "application/json", vec![0xff, 0xfe]).await;
    assert!(status.is_client_error(), "json: {status}");
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn ten_thousand_character_fields_are_ordinary_form_errors() {
    let app = spawn_app().await;
    let email = new_email("long");
    app.create_user(&email, PASSWORD).await;
    let long_email = format!("{}@example.com", "a".repeat(10_000));
    let long_password = "p".repeat(10_000);

    let r = app
        .submit("/login", &[("email", &long_email), ("password", PASSWORD)])
        .await;
    let body = assert_form_rejected(r).await;
    assert!(!form_errors(&body).is_empty());

    let r = app
        .submit("/login", &[("email", &email), ("password", &long_password)])
        .await;
    let body = assert_form_rejected(r).await;
    assert_eq!(form_errors(&body), vec!["Invalid password".to_owned()]);

    let r = app
        .submit(
            "/register",
            &[
                ("email", &long_email),
                ("password", &long_password),
                ("password_confirm", &long_password),
            ],
        )
        .await;
    let body = assert_form_rejected(r).await;
    let errors = form_errors(&body);
    assert!(
        errors.contains(&"Invalid email address".to_owned()),
        "{errors:?}"
    );
    assert!(
        errors.contains(&"Password must be at most 128 characters".to_owned()),
        "{errors:?}"
    );
    assert_eq!(app.count_users(), 1);
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn unknown_content_types_are_refused_with_415() {
    let app = spawn_app().await;
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/xml",
    ] {
        for path in ["/login", "/register", "/logout"] {
            let body = b"email=a@example.com&password=correct-horse-9".to_vec();
            let status = post_raw(&app, path, ct, body).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path} {ct}");
        }
    }
    assert_still_serving(&app).await;
}

#[actix_web::test]
async fn odd_query_strings_do_not_break_the_forms() {
    let app = spawn_app().await;
    for path in [
        "/login?next=%ff",
        "/login?next=%",
        "/login?next",
        "/login?&&==&",
        "/register?next=%00",
    ] {
        let r = app.client().get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn repeated_fields_take_the_first_value() {
    let app = spawn_app().await;
    let email = new_email("repeat");
    app.create_user(&email, PASSWORD).await;
    let token = app.csrf_token("/login").await;

    let r = app
        .post_form(
            "/login",
            &[
                ("email", email.as_str()),
                ("email", "someone-else@example.com"),
                ("password", PASSWORD),
                ("password", "wrong-password-1"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;

    assert_eq!(r.status(), StatusCode::FOUND);
}
