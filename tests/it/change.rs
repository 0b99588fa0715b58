//! Changing the password while logged in (`SECURITY_CHANGEABLE`): `/change` checks the
//! current password, ends every other login and mails a notice; the browser that made the
//! change stays logged in.

use crate::common;
use crate::mail_support;

use common::{
    assert_form_rejected, assert_json_error, flashes, form_errors, location, new_email,
    spawn_app_with, TestApp, TestClient, PASSWORD,
};
use mail_support::wait_for_eml;
use reqwest::StatusCode;
use serde_json::json;

const NEW_PASSWORD: &str = "brand-new-pass-42";
const CHANGE_NOTICE: &str = "Your password has been changed";

async fn changeable_app() -> TestApp {
    spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await
}

async fn change(
    browser: &TestClient,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    browser
        .submit(
            "/change",
            &[
                ("password", current),
                ("new_password", new),
                ("new_password_confirm", confirm),
            ],
        )
        .await
}

#[actix_web::test]
async fn changing_the_password_keeps_this_browser_and_ends_every_other_login() {
    let app = changeable_app().await;
    let email = new_email("change");
    app.create_user(&email, PASSWORD).await;
    let changer = app.logged_in_client(&email, PASSWORD, false).await;
    let other = app.logged_in_client(&email, PASSWORD, true).await;
    let other_remember = other.cookie("remember_token").expect("remember cookie");
    let uniquifier_before = app.user(&email).fs_uniquifier;

    let r = change(&changer, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    let home = changer.follow(r, "/").await;
    assert!(
        flashes(&home).contains(&"You successfully changed your password.".to_owned()),
        "{home}"
    );

    assert!(
        changer.is_authenticated().await,
        "the changing browser stays in"
    );
    assert!(!other.is_authenticated().await, "other sessions end");
    let replayed = app.client();
    replayed.set_cookie("remember_token", &other_remember);
    assert!(
        !replayed.is_authenticated().await,
        "old remember cookies end"
    );
    assert_ne!(app.user(&email).fs_uniquifier, uniquifier_before);

    let fresh = app.client();
    fresh.login(&email, PASSWORD, false).await;
    assert!(
        !fresh.is_authenticated().await,
        "the old password no longer works"
    );
    fresh.login(&email, NEW_PASSWORD, false).await;
    assert!(fresh.is_authenticated().await);
    wait_for_eml(&app.mail_dir, &email, CHANGE_NOTICE, 1).await;
}

#[actix_web::test]
async fn a_remembered_browser_that_changes_the_password_is_still_remembered() {
    let app = changeable_app().await;
    let email = new_email("remembered");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, true).await;
    let old_remember = browser.cookie("remember_token").unwrap();

    let r = change(&browser, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    let new_remember = browser
        .cookie("remember_token")
        .expect("a new remember cookie");
    assert_ne!(new_remember, old_remember);

    // The browser restarts: only the remember cookie survives.
    let restarted = app.client();
    restarted.set_cookie("remember_token", &new_remember);
    assert!(restarted.is_authenticated().await);
}

#[actix_web::test]
async fn the_change_form_checks_every_field() {
    let app = changeable_app().await;
    let email = new_email("rules");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;

    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "wrong-password-1",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "Invalid password",
        ),
        ("", NEW_PASSWORD, NEW_PASSWORD, "Password not provided"),
        (
            PASSWORD,
            "short",
            "short",
            "Password must be at least 8 characters",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "different-123",
            "Passwords do not match",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            "Your new password must be different than your previous password.",
        ),
    ];
    for (current, new, confirm, message) in cases {
        let page = assert_form_rejected(change(&browser, current, new, confirm).await).await;
        assert!(
            form_errors(&page).contains(&message.to_owned()),
            "{message:?} expected: {page}"
        );
    }
    assert!(browser.is_authenticated().await);
    let fresh = app.client();
    fresh.login(&email, PASSWORD, false).await;
    assert!(fresh.is_authenticated().await, "nothing was changed");
}

#[actix_web::test]
async fn anonymous_visitors_are_sent_to_log_in() {
    let app = changeable_app().await;
    let r = app.get("/change").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        location(&r).unwrap().starts_with("/login"),
        "{:?}",
        location(&r)
    );

    let r = app.get_json("/change").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let token = app.json_csrf_token().await;
    let r = app
        .post_json(
            "/change",
            &json!({"password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn the_json_api_changes_the_password() {
    let app = changeable_app().await;
    let email = new_email("json-change");
    app.create_user(&email, PASSWORD).await;
    let api = app.client();
    let r = api.login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Logging in starts a new session, with its own CSRF token.
    let csrf = api.json_csrf_token().await;

    let r = api
        .post_json(
            "/change",
            &json!({"password": "wrong-password-1", "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
            Some(&csrf),
        )
        .await;
    let j = assert_json_error(r, 400).await;
    assert_eq!(
        j["response"]["field_errors"]["password"][0],
        "Invalid password"
    );

    let r = api
        .post_json(
            "/change",
            &json!({"password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api.get_json("/change").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "still logged in after the change"
    );
}
