//! Change of email address (`SECURITY_CHANGE_EMAIL`) over HTTP, on SQLite and (with
//! `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: Flask-Security's `/change-email` and
//! `/change-email/<token>`, and where Latchkey is stricter: the link works once and dies
//! when the address or the password changes first, the change ends every other login, and
//! the old address gets a notice whose "this wasn't me" link takes the account back.

use crate::common;
use crate::mail_support;

use common::{
    assert_json_error, flashes, location, new_email, spawn_app_with, TestApp, TestClient, PASSWORD,
};
use mail_support::{eml_messages_to, wait_for_eml};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CONFIRM_SUBJECT: &str = "Confirm your new email address";
const NOTICE_SUBJECT: &str = "Your email address has been changed";
const RESET_SUBJECT: &str = "Password reset instructions";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// A new account and a browser logged in to it.
async fn account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    // Confirmed, for the apps that require it.
    app.set_confirmed(&email);
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    (email, browser)
}

async fn request_change(browser: &TestClient, new: &str) -> (StatusCode, Value) {
    let r = browser
        .post_json_via("/change-email", "/change-email", &json!({ "email": new }))
        .await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The confirmation link (its path) in the `n`-th mail to `new`.
async fn confirmation_link(app: &TestApp, new: &str, n: usize) -> String {
    let mails = wait_for_eml(&app.mail_dir, new, CONFIRM_SUBJECT, n).await;
    mails[n - 1].link_path("/change-email/")
}

/// Asks for `new` from `browser` and returns the link mailed to it.
async fn change_link(app: &TestApp, browser: &TestClient, new: &str) -> String {
    let (status, body) = request_change(browser, new).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    confirmation_link(app, new, 1).await
}

async fn logs_in(app: &TestApp, identity: &str, password: &str) -> bool {
    app.client().login_json(identity, password).await.status() == StatusCode::OK
}

#[actix_web::test]
async fn the_new_address_gets_the_link_and_the_account_moves_only_when_it_is_opened() {
    let app = app_with(&[]).await;
    let (old, browser) = account(&app, "mover").await;

    let r: Value = browser
        .get_json("/change-email")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["response"]["current_email"], old.as_str(), "{r}");

    let new = new_email("moved");
    let (status, _) = request_change(&browser, &new).await;
    assert_eq!(status, StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, &new, CONFIRM_SUBJECT, 1).await;
    let text = mails[0].part("text/plain").unwrap();
    assert!(text.contains("This link will expire in 2 hours."), "{text}");
    assert!(
        text.contains(&format!("Your currently registered email is {old}.")),
        "{text}"
    );
    // Nothing moves before the link is opened.
    assert!(logs_in(&app, &old, PASSWORD).await);
    assert!(!logs_in(&app, &new, PASSWORD).await);

    let r = browser.get(&mails[0].link_path("/change-email/")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    let home = browser.get("/").await.text().await.unwrap();
    assert!(
        flashes(&home).contains(&"Change of email address confirmed".to_owned()),
        "{home}"
    );
    assert!(!logs_in(&app, &old, PASSWORD).await);
    assert!(logs_in(&app, &new, PASSWORD).await);
    let user = app.user(&new);
    assert!(user.confirmed_at.is_some(), "the new address is proven");
    // The browser that asked (and opened the link) is still logged in, as the new address.
    let profile: Value = browser.get_json("/profile").await.json().await.unwrap();
    assert_eq!(
        profile["response"]["user"]["email"],
        new.as_str(),
        "{profile}"
    );
}

#[actix_web::test]
async fn the_link_works_once() {
    let app = app_with(&[]).await;
    let (_, browser) = account(&app, "once").await;
    let new = new_email("once-new");
    let link = change_link(&app, &browser, &new).await;

    assert_eq!(location(&browser.get(&link).await).as_deref(), Some("/"));
    let again = browser.get(&link).await;
    assert_eq!(location(&again).as_deref(), Some("/change-email"));
    let page = browser.get("/change-email").await.text().await.unwrap();
    assert!(
        flashes(&page)
            .iter()
            .any(|f| f.contains("not valid, or was already used")),
        "{page}"
    );
    // And a made-up token is refused the same way, without a 500.
    let forged = browser.get("/change-email/not-a-real-token").await;
    assert_eq!(location(&forged).as_deref(), Some("/change-email"));
}

#[actix_web::test]
async fn the_change_ends_every_other_login_and_the_link_logs_in_no_one() {
    let app = app_with(&[]).await;
    let (old, asking) = account(&app, "sessions").await;
    let other = app.logged_in_client(&old, PASSWORD, false).await;
    let remembered = app.logged_in_client(&old, PASSWORD, true).await;
    let remember_cookie = remembered
        .cookie("remember_token")
        .expect("remember cookie");
    let new = new_email("sessions-new");
    let link = change_link(&app, &asking, &new).await;

    // Opened in a browser that is not logged in: the switch happens, no one is logged in.
    let stranger = app.client();
    let r = stranger.get(&link).await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert_eq!(app.user(&new).email.as_deref(), Some(new.as_str()));
    assert!(!stranger.is_authenticated().await);
    for (name, browser) in [
        ("the asking browser", &asking),
        ("another login", &other),
        ("a remembered login", &remembered),
    ] {
        assert!(!browser.is_authenticated().await, "{name} survived");
    }
    // Even with only its remember-me cookie, the remembered browser stays out.
    let fresh = app.client();
    fresh.set_cookie("remember_token", &remember_cookie);
    assert!(!fresh.is_authenticated().await);
}

#[actix_web::test]
async fn the_link_dies_when_the_password_or_the_address_changes_first() {
    let app = app_with(&[]).await;
    let (old, browser) = account(&app, "bound").await;
    let new = new_email("bound-new");
    let link = change_link(&app, &browser, &new).await;

    let r = browser
        .change_password(PASSWORD, "another-long-passphrase")
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        location(&browser.get(&link).await).as_deref(),
        Some("/change-email")
    );
    assert_eq!(app.user(&old).email.as_deref(), Some(old.as_str()));

    // A second request replaces the first link, and only the newest one works.
    let first_target = new_email("first");
    let second_target = new_email("second");
    let first = change_link(&app, &browser, &first_target).await;
    let second = change_link(&app, &browser, &second_target).await;
    assert_eq!(
        location(&browser.get(&first).await).as_deref(),
        Some("/change-email")
    );
    assert_eq!(location(&browser.get(&second).await).as_deref(), Some("/"));
    assert_eq!(
        app.user(&second_target).email.as_deref(),
        Some(second_target.as_str())
    );
}

#[actix_web::test]
async fn a_taken_or_malformed_address_is_refused_on_the_field() {
    let app = app_with(&[]).await;
    let (mine, browser) = account(&app, "taker").await;
    let (theirs, _) = account(&app, "taken").await;

    for (typed, words) in [
        (
            theirs.to_uppercase(),
            "is already associated with an account",
        ),
        (mine.clone(), "is already associated with an account"),
        ("not-an-email".to_owned(), ""),
    ] {
        let r = browser
            .post_json_via("/change-email", "/change-email", &json!({ "email": typed }))
            .await;
        let body = assert_json_error(r, 400).await;
        let errors = &body["response"]["field_errors"]["email"];
        assert!(errors.is_array(), "{typed}: {body}");
        assert!(errors[0].as_str().unwrap().contains(words), "{body}");
    }
    // The HTML form shows the error on the page.
    let r = browser.submit("/change-email", &[("email", &theirs)]).await;
    let page = common::assert_form_rejected(r).await;
    assert!(
        page.contains("is already associated with an account"),
        "{page}"
    );
    app.mail_settled().await;
    assert!(eml_messages_to(&app.mail_dir, &theirs, CONFIRM_SUBJECT).is_empty());
}

#[actix_web::test]
async fn with_generic_responses_a_taken_address_looks_sent_and_nothing_is_sent() {
    let app = app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let (_, browser) = account(&app, "generic").await;
    let (taken, _) = account(&app, "generic-taken").await;
    let free = new_email("generic-free");

    let (taken_status, taken_body) = request_change(&browser, &taken).await;
    let (free_status, free_body) = request_change(&browser, &free).await;
    assert_eq!(taken_status, StatusCode::OK);
    assert_eq!((taken_status, &taken_body), (free_status, &free_body));
    wait_for_eml(&app.mail_dir, &free, CONFIRM_SUBJECT, 1).await;
    app.mail_settled().await;
    assert!(eml_messages_to(&app.mail_dir, &taken, CONFIRM_SUBJECT).is_empty());
}

#[actix_web::test]
async fn a_stranger_cannot_reach_the_form() {
    let app = app_with(&[]).await;
    let r = app.client().get("/change-email").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        location(&r).unwrap().starts_with("/login?next="),
        "{:?}",
        location(&r)
    );
    let r = app
        .client()
        .post_json("/change-email", &json!({"email": new_email("x")}), None)
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
}

#[actix_web::test]
async fn the_old_address_is_told_and_this_wasnt_me_takes_the_account_back() {
    let app = app_with(&[]).await;
    let (old, owner) = account(&app, "victim").await;
    // Whoever holds the session (and the password) moves the account to an address of theirs.
    let thief_address = new_email("thief");
    let link = change_link(&app, &owner, &thief_address).await;
    let thief = app.client();
    assert_eq!(location(&thief.get(&link).await).as_deref(), Some("/"));
    let thief = app.logged_in_client(&thief_address, PASSWORD, true).await;

    let notice = &wait_for_eml(&app.mail_dir, &old, NOTICE_SUBJECT, 1).await[0];
    let text = notice.part("text/plain").unwrap();
    assert!(
        !text.contains(&thief_address),
        "the new address is masked: {text}"
    );
    let (local, domain) = thief_address.split_once('@').unwrap();
    let masked = format!("{}***@{domain}", &local[..1]);
    assert!(text.contains(&masked), "{masked} in {text}");
    let revert = notice.link_path("/change-email/revert/");

    // Opening the link only asks (a mail scanner locks nothing).
    let owner_browser = app.client();
    let page = owner_browser.get(&revert).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Lock my account"), "{page}");
    assert!(thief.is_authenticated().await);

    let r = owner_browser.submit(&revert, &[]).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let login_page = owner_browser.get("/login").await.text().await.unwrap();
    assert!(
        flashes(&login_page)
            .iter()
            .any(|f| f.contains("Your account is locked") && f.contains(&old)),
        "{login_page}"
    );
    assert!(!thief.is_authenticated().await, "the thief's login ended");
    assert_eq!(app.user(&old).email.as_deref(), Some(old.as_str()));
    assert!(app.find_user(&thief_address).is_none());

    // The reset link went to the old address: the owner chooses a password the thief lacks.
    let reset = wait_for_eml(&app.mail_dir, &old, RESET_SUBJECT, 1).await[0].link_path("/reset/");
    let new_password = "taken-back-passphrase";
    let r = owner_browser
        .submit(
            &reset,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(logs_in(&app, &old, new_password).await);
    assert!(!logs_in(&app, &old, PASSWORD).await);

    // The link worked once.
    let again = owner_browser.get(&revert).await.text().await.unwrap();
    assert!(
        again.contains("not valid, has expired, or was already used"),
        "{again}"
    );
    let r = app
        .client()
        .post_json_via("/login", &revert, &json!({}))
        .await;
    assert_json_error(r, 400).await;
}

#[actix_web::test]
async fn a_second_change_does_not_cancel_the_first_owners_link() {
    let app = app_with(&[]).await;
    let (old, browser) = account(&app, "twice").await;
    let middle = new_email("middle");
    let link = change_link(&app, &browser, &middle).await;
    assert_eq!(location(&browser.get(&link).await).as_deref(), Some("/"));
    let owners_revert = wait_for_eml(&app.mail_dir, &old, NOTICE_SUBJECT, 1).await[0]
        .link_path("/change-email/revert/");

    // The new holder moves it again, hoping the first notice's link dies.
    let last = new_email("last");
    let link = change_link(&app, &browser, &last).await;
    assert_eq!(location(&browser.get(&link).await).as_deref(), Some("/"));
    wait_for_eml(&app.mail_dir, &middle, NOTICE_SUBJECT, 1).await;

    let r = app.client().submit(&owners_revert, &[]).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert_eq!(app.user(&old).email.as_deref(), Some(old.as_str()));
    assert!(!browser.is_authenticated().await);
}

#[actix_web::test]
async fn an_address_taken_meanwhile_is_not_restored_but_the_account_is_still_locked() {
    let app = app_with(&[]).await;
    let (old, browser) = account(&app, "squatted").await;
    let new = new_email("squatted-new");
    let link = change_link(&app, &browser, &new).await;
    assert_eq!(location(&browser.get(&link).await).as_deref(), Some("/"));
    let revert = wait_for_eml(&app.mail_dir, &old, NOTICE_SUBJECT, 1).await[0]
        .link_path("/change-email/revert/");
    // Someone registers the freed address.
    app.create_user(&old, PASSWORD).await;
    let holder = app.logged_in_client(&new, PASSWORD, false).await;

    let r = app.client().submit(&revert, &[]).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(!holder.is_authenticated().await);
    let moved = app.user(&new);
    assert_eq!(moved.email.as_deref(), Some(new.as_str()), "not restored");
    assert_ne!(app.user(&old).id, moved.id);
    // The reset for the locked account still went to the address that asked.
    wait_for_eml(&app.mail_dir, &old, RESET_SUBJECT, 1).await;
}

#[actix_web::test]
async fn the_account_page_links_to_the_form() {
    let app = app_with(&[]).await;
    let (_, browser) = account(&app, "page").await;
    let page = browser.get("/profile").await.text().await.unwrap();
    assert!(page.contains("href=\"/change-email\""), "{page}");
    let form = browser.get("/change-email").await.text().await.unwrap();
    assert!(form.contains("name=\"email\""), "{form}");

    let off = spawn_app_with(&[]).await;
    let email = new_email("off");
    off.create_user(&email, PASSWORD).await;
    let browser = off.logged_in_client(&email, PASSWORD, false).await;
    let page = browser.get("/profile").await.text().await.unwrap();
    assert!(!page.contains("/change-email"), "{page}");
    assert_eq!(
        browser.get("/change-email").await.status(),
        StatusCode::NOT_FOUND
    );
}
