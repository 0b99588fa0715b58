//! Feature switches: a feature that is off has no URLs and no links.

use crate::common;

use common::{new_email, spawn_app, spawn_app_with, PASSWORD};
use reqwest::StatusCode;

const OPTIONAL_PAGES: &[&str] = &["/change", "/reset", "/confirm"];

#[actix_web::test]
async fn the_basic_profile_has_no_change_reset_or_confirm_pages() {
    let app = spawn_app().await;
    let anonymous = app.client();
    let token = anonymous.csrf_token("/login").await;

    for path in OPTIONAL_PAGES {
        assert_eq!(
            anonymous.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
        let r = anonymous
            .post_form(path, &[("email", "a@example.com"), ("csrf_token", &token)])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    for path in ["/reset/some-token", "/confirm/some-token"] {
        assert_eq!(
            anonymous.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
    }
}

#[actix_web::test]
async fn the_optional_pages_are_404_for_a_logged_in_user_too() {
    let app = spawn_app().await;
    app.register(&new_email("features"), PASSWORD).await;

    for path in OPTIONAL_PAGES {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[actix_web::test]
async fn pages_do_not_link_to_switched_off_features() {
    let app = spawn_app_with(&[("SECURITY_REGISTERABLE", "false")]).await;

    let login = app.get("/login").await.text().await.unwrap();
    let home = app.get("/").await.text().await.unwrap();

    for page in [&login, &home] {
        for path in ["/register", "/change", "/reset", "/confirm"] {
            assert!(
                !page.contains(&format!("href=\"{path}\"")),
                "{path}: {page}"
            );
        }
    }
}

#[actix_web::test]
async fn with_registration_on_the_pages_link_to_it() {
    let app = spawn_app().await;

    let login = app.get("/login").await.text().await.unwrap();

    assert!(login.contains("href=\"/register\""), "{login}");
}
