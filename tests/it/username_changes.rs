//! Usernames that change and can be recovered (`SECURITY_CHANGE_USERNAME`,
//! `SECURITY_USERNAME_RECOVERY`), as Flask-Security 5.9's `/change-username` and
//! `/recover-username`, on SQLite and (with `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: a new
//! name passes the sign-up checks (no look-alikes), a race for one name has one winner, and
//! recovery answers the same for every address.

use crate::common;
use crate::mail_support;

use common::{
    assert_json_error, flashes, location, new_email, random_hex, spawn_app_with,
    try_spawn_app_with, TestApp, TestClient, PASSWORD,
};
use mail_support::{eml_messages_to, wait_for_eml};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CHANGED_SUBJECT: &str = "Your username has been changed";
const RECOVERY_SUBJECT: &str = "Your requested username";

async fn app() -> TestApp {
    spawn_app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_CHANGE_USERNAME", "true"),
        ("SECURITY_USERNAME_RECOVERY", "true"),
    ])
    .await
}

fn new_username() -> String {
    format!("user{}", random_hex(4))
}

/// An account with `username` and a browser logged in to it.
async fn account(app: &TestApp, username: &str) -> (String, TestClient) {
    let email = new_email("named");
    let r = app
        .client()
        .submit(
            "/register",
            &[
                ("email", &email),
                ("username", username),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    (email, browser)
}

async fn change(browser: &TestClient, username: &str) -> reqwest::Response {
    browser
        .post_json_via(
            "/change-username",
            "/change-username",
            &json!({ "username": username }),
        )
        .await
}

async fn recover(client: &TestClient, email: &str) -> (StatusCode, Value) {
    let r = client
        .post_json_via(
            "/recover-username",
            "/recover-username",
            &json!({ "email": email }),
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_user_changes_their_username_and_is_told_by_mail() {
    let app = app().await;
    let old = new_username();
    let (email, browser) = account(&app, &old).await;

    let r: Value = browser
        .get_json("/change-username")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["response"]["current_username"], old.as_str(), "{r}");

    let new = new_username();
    let r = change(&browser, &new.to_uppercase()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["response"]["current_username"],
        new.as_str(),
        "stored folded"
    );
    assert_eq!(app.user(&email).username.as_deref(), Some(new.as_str()));
    let notice = &wait_for_eml(&app.mail_dir, &email, CHANGED_SUBJECT, 1).await[0];
    assert!(notice.part("text/plain").unwrap().contains(&new));

    // The new name logs in; the old one is free and names no one.
    assert_eq!(
        app.client().login_json(&new, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_ne!(
        app.client().login_json(&old, PASSWORD).await.status(),
        StatusCode::OK
    );
    // The browser stays logged in.
    assert!(browser.is_authenticated().await);

    // The HTML form: a redirect home with Flask-Security's message.
    let third = new_username();
    let r = browser
        .submit("/change-username", &[("username", &third)])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    let home = browser.get("/").await.text().await.unwrap();
    assert!(
        flashes(&home).contains(&"You successfully changed your username".to_owned()),
        "{home}"
    );
}

#[actix_web::test]
async fn taken_look_alike_and_malformed_names_are_refused_on_the_field() {
    let app = app().await;
    let taken = format!("legacy{}", random_hex(3));
    account(&app, &taken).await;
    let mine = new_username();
    let (email, browser) = account(&app, &mine).await;

    for (typed, words) in [
        (
            taken.to_uppercase(),
            "is already associated with an account",
        ),
        (mine.clone(), "is already associated with an account"),
        // A Cyrillic "е" among Latin letters.
        (taken.replacen('e', "\u{0435}", 1), "different scripts"),
        ("a\u{200b}dmin".to_owned(), ""),
        ("ab".to_owned(), "at least"),
        ("".to_owned(), "Username not provided"),
    ] {
        let body = assert_json_error(change(&browser, &typed).await, 400).await;
        let errors = &body["response"]["field_errors"]["username"];
        assert!(
            errors[0].as_str().is_some_and(|e| e.contains(words)),
            "{typed:?}: {body}"
        );
    }
    assert_eq!(app.user(&email).username.as_deref(), Some(mine.as_str()));
    app.mail_settled().await;
    assert!(eml_messages_to(&app.mail_dir, &email, CHANGED_SUBJECT).is_empty());
}

#[actix_web::test]
async fn two_accounts_racing_for_one_name_get_one_winner() {
    let app = app().await;
    let mut browsers = Vec::new();
    for _ in 0..6 {
        browsers.push(account(&app, &new_username()).await);
    }
    let wanted = new_username();
    let answers = futures_util::future::join_all(
        browsers.iter().map(|(_, browser)| change(browser, &wanted)),
    )
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    let holders = browsers
        .iter()
        .filter(|(email, _)| app.user(email).username.as_deref() == Some(wanted.as_str()))
        .count();
    assert_eq!(holders, 1);
}

#[actix_web::test]
async fn changing_the_username_needs_a_login() {
    let app = app().await;
    let r = app.client().get("/change-username").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(location(&r).unwrap().starts_with("/login"));
}

#[actix_web::test]
async fn recovery_mails_the_username_and_answers_the_same_for_everyone() {
    let app = app().await;
    let username = new_username();
    let (email, _) = account(&app, &username).await;
    let without_username = new_email("nameless");
    app.create_user(&without_username, PASSWORD).await;
    let unknown = new_email("unknown");

    let client = app.client();
    let known_answer = recover(&client, &email).await;
    assert_eq!(known_answer.0, StatusCode::OK);
    for other in [&unknown, &without_username] {
        assert_eq!(recover(&client, other).await, known_answer, "{other}");
    }
    let mail = &wait_for_eml(&app.mail_dir, &email, RECOVERY_SUBJECT, 1).await[0];
    let text = mail.part("text/plain").unwrap();
    assert!(
        text.contains(&format!("Your username is: {username}")),
        "{text}"
    );
    app.mail_settled().await;
    assert!(eml_messages_to(&app.mail_dir, &unknown, RECOVERY_SUBJECT).is_empty());
    assert!(eml_messages_to(&app.mail_dir, &without_username, RECOVERY_SUBJECT).is_empty());

    // A malformed address is a field error; the HTML form goes to the login page.
    let body = assert_json_error(
        client
            .post_json_via(
                "/recover-username",
                "/recover-username",
                &json!({"email": "nope"}),
            )
            .await,
        400,
    )
    .await;
    assert!(
        body["response"]["field_errors"]["email"].is_array(),
        "{body}"
    );
    let r = client
        .submit("/recover-username", &[("email", &unknown)])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let login = client.get("/login").await.text().await.unwrap();
    assert!(
        flashes(&login)
            .contains(&"If registered, your username will be sent to your email.".to_owned()),
        "{login}"
    );
    assert!(login.contains("href=\"/recover-username\""), "{login}");
}

#[actix_web::test]
async fn recovery_mails_to_one_address_are_limited_without_refusing_anyone() {
    let app = spawn_app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_USERNAME_RECOVERY", "true"),
        ("SECURITY_USERNAME_RECOVERY_LIMIT_PER_ADDRESS", "2"),
    ])
    .await;
    let username = new_username();
    let (email, _) = account(&app, &username).await;
    let client = app.client();
    for _ in 0..4 {
        assert_eq!(recover(&client, &email).await.0, StatusCode::OK);
    }
    app.mail_settled().await;
    assert_eq!(
        eml_messages_to(&app.mail_dir, &email, RECOVERY_SUBJECT).len(),
        2
    );
}

#[actix_web::test]
async fn the_account_page_links_to_the_username_form() {
    let app = app().await;
    let (_, browser) = account(&app, &new_username()).await;
    let page = browser.get("/profile").await.text().await.unwrap();
    // With the way back to the account area (see account_page).
    assert!(
        page.contains("href=\"/change-username?next=%2Fprofile\""),
        "{page}"
    );
}

#[actix_web::test]
async fn username_features_without_usernames_refuse_to_start() {
    for key in ["SECURITY_CHANGE_USERNAME", "SECURITY_USERNAME_RECOVERY"] {
        let err = try_spawn_app_with(&[(key, "true")])
            .await
            .err()
            .unwrap_or_else(|| panic!("{key} started without usernames"));
        let text = format!("{err:#}");
        assert!(
            text.contains(key) && text.contains("SECURITY_USERNAME_ENABLE"),
            "{text}"
        );
    }
}
