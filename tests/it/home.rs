//! The home page, the stylesheet, and unknown URLs.

use crate::common;

use common::{content_type, new_email, spawn_app, unescape_html, PASSWORD};
use reqwest::StatusCode;

#[actix_web::test]
async fn anonymous_visitor_sees_hello_world() {
    let app = spawn_app().await;

    let r = app.get("/").await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(content_type(&r).starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("Hello, world!"), "{body}");
    assert!(!body.contains("You are logged in as"), "{body}");
}

#[actix_web::test]
async fn logged_in_user_sees_their_email_on_the_home_page() {
    let app = spawn_app().await;
    let email = new_email("home");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;

    let body = browser.get("/").await.text().await.unwrap();

    assert!(
        body.contains(&format!("Hello, world! You are logged in as {email}")),
        "{body}"
    );
}

#[actix_web::test]
async fn an_email_with_markup_characters_is_shown_escaped() {
    let app = spawn_app().await;
    let email = format!("o'neil&co-{}@example.com", common::random_hex(4));
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;

    let body = browser.get("/").await.text().await.unwrap();

    assert!(
        !body.contains(&email),
        "the raw email must not appear unescaped: {body}"
    );
    assert!(body.contains("o&#x27;neil&amp;co-") || body.contains("o&#39;neil&amp;co-"));
    assert!(
        unescape_html(&body).contains(&format!("You are logged in as {email}")),
        "{body}"
    );
}

#[actix_web::test]
async fn the_stylesheet_is_served_as_css() {
    let app = spawn_app().await;

    let r = app.get("/static/latchkey.css").await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        content_type(&r).starts_with("text/css"),
        "{}",
        content_type(&r)
    );
    assert!(!r.text().await.unwrap().is_empty());
}

#[actix_web::test]
async fn an_unknown_page_is_404() {
    let app = spawn_app().await;

    let r = app.get("/no-such-page").await;

    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn head_requests_answer_like_get_without_a_body() {
    let app = spawn_app().await;
    let mut wrong = Vec::new();
    for path in ["/", "/login", "/register", "/static/latchkey.css"] {
        let r = app.http.head(app.url(path)).send().await.unwrap();

        let status = r.status();
        let body = r.text().await.unwrap();
        if status != StatusCode::OK || !body.is_empty() {
            wrong.push(format!("HEAD {path}: {status}, {} bytes", body.len()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[actix_web::test]
async fn a_wrong_method_on_a_page_is_405() {
    let app = spawn_app().await;
    let mut wrong = Vec::new();
    for path in [
        "/",
        "/profile",
        "/premium",
        "/login",
        "/register",
        "/logout",
    ] {
        let r = app.http.delete(app.url(path)).send().await.unwrap();

        if r.status() != StatusCode::METHOD_NOT_ALLOWED {
            wrong.push(format!("DELETE {path}: {}", r.status()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[actix_web::test]
async fn static_files_outside_the_static_folder_are_not_served() {
    let app = spawn_app().await;
    for path in [
        "/static/..%2fCargo.toml",
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e%2fCargo.toml",
        "/static/..%5cCargo.toml",
    ] {
        let r = app.get(path).await;

        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(!body.contains("[package]"), "{path} leaked Cargo.toml");
    }
}

#[actix_web::test]
async fn without_a_static_folder_the_built_in_stylesheet_is_served() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("no-such-folder");
    let app = common::spawn_app_with(&[("STATIC_DIR", &missing.to_string_lossy())]).await;

    let r = app.get("/static/latchkey.css").await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(content_type(&r).starts_with("text/css"));
    assert!(!r.text().await.unwrap().is_empty());
}

#[actix_web::test]
async fn a_template_of_the_same_name_in_the_templates_folder_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "{% extends \"base.html\" %}{% block content %}<h1>Our own home page</h1>{% endblock content %}",
    )
    .unwrap();
    let app =
        common::spawn_app_with(&[("SECURITY_TEMPLATES_DIR", &dir.path().to_string_lossy())]).await;

    let body = app.get("/").await.text().await.unwrap();
    assert!(body.contains("Our own home page"), "{body}");
    assert!(!body.contains("Hello, world!"), "{body}");
    // The other pages keep the built-in templates.
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("name=\"csrf_token\""), "{login}");
}

#[actix_web::test]
async fn a_broken_template_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("security")).unwrap();
    std::fs::write(
        dir.path().join("security/login_user.html"),
        "{% extends \"base.html\" %}{% block content %}{{ unclosed {% endblock content %}",
    )
    .unwrap();

    let result =
        common::try_spawn_app_with(&[("SECURITY_TEMPLATES_DIR", &dir.path().to_string_lossy())])
            .await;

    let err = result.err().expect("start-up fails");
    assert!(
        format!("{err:#}").contains("login_user.html"),
        "the template is named: {err:#}"
    );
}
