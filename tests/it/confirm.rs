//! Email confirmation (`SECURITY_CONFIRMABLE`): the welcome mail carries `/confirm/<token>`;
//! no login before confirming; `/confirm` sends the instructions again.

use crate::common;
use crate::mail_support;

use common::{
    assert_json_error, flashes, form_errors, location, new_email, spawn_app_with, TestApp, PASSWORD,
};
use mail_support::{eml_messages, wait_for_eml};
use reqwest::StatusCode;
use serde_json::json;

const WELCOME: &str = "Welcome";
const CONFIRM_SUBJECT: &str = "Please confirm your email";
const CONFIRMED: &str = "Thank you. Your email has been confirmed.";
const INVALID_TOKEN: &str = "Invalid confirmation token.";

async fn confirmable_app(extra: &[(&str, &str)]) -> TestApp {
    let mut config = vec![("SECURITY_CONFIRMABLE", "true")];
    config.extend_from_slice(extra);
    spawn_app_with(&config).await
}

/// Registers `email` and returns the path of the confirmation link in its welcome mail.
async fn register_and_get_link(app: &TestApp, email: &str) -> String {
    let r = app.client().register(email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let mails = wait_for_eml(&app.mail_dir, email, WELCOME, 1).await;
    let link = mails[0].link("/confirm/");
    assert!(
        link.starts_with(&format!("{}/confirm/", app.address)),
        "{link}"
    );
    mails[0].link_path("/confirm/")
}

/// The right password of an unconfirmed account gets "Email requires confirmation." and a
/// button that mails the link again; a wrong password gets neither the message nor the button.
#[actix_web::test]
async fn an_unconfirmed_login_offers_to_send_the_link_again() {
    let app = confirmable_app(&[
        ("HOUSEKEEPING_INTERVAL", "0"),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;
    let email = new_email("resend");
    register_and_get_link(&app, &email).await;

    let browser = app.client();
    let wrong = browser.login(&email, "not-the-password", false).await;
    let page = wrong.text().await.unwrap();
    assert!(!page.contains("send_confirmation_form"), "{page}");

    let page = browser
        .login(&email, PASSWORD, false)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Email requires confirmation."), "{page}");
    assert!(page.contains(r#"name="send_confirmation_form""#), "{page}");
    assert!(
        page.contains(&format!(
            r#"<input type="hidden" name="email" value="{email}">"#
        )),
        "the button resends to the address typed: {page}"
    );
    // The button is a post of /confirm's own form: the link goes out again.
    let csrf = common::csrf_from_html(&page).expect("the form's CSRF token");
    let r = browser
        .post_form(
            "/confirm",
            &[("email", email.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_eml(&app.mail_dir, &email, CONFIRM_SUBJECT, 1).await;

    // "Forgot password" of an unconfirmed account offers the same.
    let r = browser.submit("/reset", &[("email", &email)]).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("Email requires confirmation."), "{page}");
    assert!(page.contains(r#"name="send_confirmation_form""#), "{page}");
}

#[actix_web::test]
async fn following_the_welcome_link_confirms_and_allows_login() {
    // The sweeper's first pass (within a second of start-up) removes used links, after which
    // the link below reads as unknown: on a busy machine the test is still running by then.
    let app = confirmable_app(&[("HOUSEKEEPING_INTERVAL", "0")]).await;
    let email = new_email("confirm");
    let path = register_and_get_link(&app, &email).await;
    assert!(app.user(&email).confirmed_at.is_none());

    let browser = app.client();
    let r = browser.login(&email, PASSWORD, false).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "login refused before confirmation"
    );
    let page = r.text().await.unwrap();
    assert!(
        form_errors(&page).contains(&"Email requires confirmation.".to_owned())
            || page.contains("Email requires confirmation."),
        "{page}"
    );
    assert!(!browser.is_authenticated().await);

    let r = browser.get(&path).await;
    let page = browser.follow(r, "/login").await;
    assert!(flashes(&page).contains(&CONFIRMED.to_owned()), "{page}");
    assert!(app.user(&email).confirmed_at.is_some());

    browser.login(&email, PASSWORD, false).await;
    assert!(browser.is_authenticated().await);

    // The link has done its job.
    let again = app.client();
    let r = again.get(&path).await;
    let page = again.follow(r, "/confirm").await;
    assert!(
        flashes(&page).contains(&"Your email has already been confirmed.".to_owned()),
        "{page}"
    );
}

#[actix_web::test]
async fn login_without_confirmation_can_be_allowed() {
    let app = confirmable_app(&[("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true")]).await;
    let email = new_email("early");
    register_and_get_link(&app, &email).await;
    let browser = app.client();
    browser.login(&email, PASSWORD, false).await;
    assert!(browser.is_authenticated().await);
    assert!(app.user(&email).confirmed_at.is_none());
}

#[actix_web::test]
async fn the_instructions_can_be_sent_again_and_the_new_link_works() {
    let app = confirmable_app(&[]).await;
    let email = new_email("resend");
    register_and_get_link(&app, &email).await;

    let browser = app.client();
    let r = browser.submit("/confirm", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        flashes(&page).contains(&format!(
            "Confirmation instructions have been sent to {email}."
        )),
        "{page}"
    );
    let mails = wait_for_eml(&app.mail_dir, &email, CONFIRM_SUBJECT, 1).await;
    let r = browser.get(&mails[0].link_path("/confirm/")).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(app.user(&email).confirmed_at.is_some());

    // Confirmed accounts and unknown addresses are told so (generic responses are off).
    let r = browser.submit("/confirm", &[("email", &email)]).await;
    let page = r.text().await.unwrap();
    assert!(
        form_errors(&page).contains(&"Your email has already been confirmed.".to_owned()),
        "{page}"
    );
    let r = browser
        .submit("/confirm", &[("email", &new_email("nobody"))])
        .await;
    let page = r.text().await.unwrap();
    assert!(
        form_errors(&page).contains(&"Specified user does not exist".to_owned()),
        "{page}"
    );
}

#[actix_web::test]
async fn an_expired_link_is_refused_and_fresh_instructions_are_mailed() {
    let app = confirmable_app(&[("SECURITY_CONFIRM_EMAIL_WITHIN", "2 seconds")]).await;
    let email = new_email("late");
    let path = register_and_get_link(&app, &email).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2500)).await;

    let browser = app.client();
    let r = browser.get(&path).await;
    let page = browser.follow(r, "/confirm").await;
    // Flask-Security's message (its msgid ends with a space); new instructions went out.
    assert!(
        flashes(&page)
            .iter()
            .any(|f| f.starts_with("You did not confirm your email within ")),
        "{page}"
    );
    assert!(
        page.contains("Check your email") && page.contains(&email),
        "{page}"
    );
    assert!(app.user(&email).confirmed_at.is_none());
    let fresh = wait_for_eml(&app.mail_dir, &email, CONFIRM_SUBJECT, 1).await;
    let fresh_path = fresh[0].link_path("/confirm/");
    assert_ne!(fresh_path, path);
    // Used at once, the fresh link is within its two seconds.
    let r = browser.get(&fresh_path).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(app.user(&email).confirmed_at.is_some());
}

#[actix_web::test]
async fn garbage_tampered_and_foreign_tokens_are_refused_without_errors() {
    let app = confirmable_app(&[]).await;
    let email = new_email("forged");
    let path = register_and_get_link(&app, &email).await;
    let token = path.trim_start_matches("/confirm/").to_owned();
    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };

    let candidates = [
        String::from_utf8(flipped).unwrap(),
        token[..token.len() - 2].to_owned(),
        "not-a-token".to_owned(),
        "%FF%FE".to_owned(),
        "y".repeat(4000),
    ];
    for bad in &candidates {
        let browser = app.client();
        let r = browser.get(&format!("/confirm/{bad}")).await;
        let page = browser.follow(r, "/confirm").await;
        assert!(
            flashes(&page).contains(&INVALID_TOKEN.to_owned()),
            "{bad}: {page}"
        );
        assert!(
            flashes(&page)
                .iter()
                .any(|f| f.starts_with("A confirmation link works once")),
            "{bad}: {page}"
        );
        let r = browser.get_json(&format!("/confirm/{bad}")).await;
        let j = assert_json_error(r, 400).await;
        assert_eq!(j["response"]["errors"][0], INVALID_TOKEN);
    }

    // A token made by an instance with another SECRET_KEY, on the same database.
    let other = confirmable_app(&[("DATABASE_URL", app.database_url.as_str())]).await;
    let r = other.client().get(&path).await;
    assert_eq!(location(&r).as_deref(), Some("/confirm"));
    assert!(app.user(&email).confirmed_at.is_none());

    // The genuine link still works.
    let r = app.client().get(&path).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(app.user(&email).confirmed_at.is_some());
}

#[actix_web::test]
async fn the_json_api_confirms_and_resends() {
    let app = confirmable_app(&[]).await;
    let email = new_email("json-confirm");
    let path = register_and_get_link(&app, &email).await;

    let api = app.client();
    let csrf = api.json_csrf_token().await;
    let r = api.login_json(&email, PASSWORD).await;
    let j = assert_json_error(r, 400).await;
    assert!(
        j.to_string().contains("Email requires confirmation."),
        "{j}"
    );

    let r = api
        .post_json("/confirm", &json!({"email": email}), Some(&csrf))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let resent = wait_for_eml(&app.mail_dir, &email, CONFIRM_SUBJECT, 1).await;

    // Only the newest link counts: the welcome mail's one was retired by the resend.
    let r = api.get_json(&path).await;
    assert_json_error(r, 400).await;
    let r = api.get_json(&resent[0].link_path("/confirm/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.user(&email).confirmed_at.is_some());
    let r = api.login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[actix_web::test]
async fn with_generic_responses_resending_and_registering_answer_the_same_for_everyone() {
    let app = confirmable_app(&[("SECURITY_RETURN_GENERIC_RESPONSES", "true")]).await;
    let confirmed = new_email("confirmed");
    let path = register_and_get_link(&app, &confirmed).await;
    app.client().get(&path).await;
    let pending = new_email("pending");
    register_and_get_link(&app, &pending).await;
    let unknown = new_email("unknown");

    // Resend: the same flashes for a pending, a confirmed and an unknown address.
    let mut seen = Vec::new();
    for email in [&pending, &confirmed, &unknown] {
        let browser = app.client();
        let r = browser.submit("/confirm", &[("email", email)]).await;
        let status = r.status();
        let page = r.text().await.unwrap();
        let csrf = browser.json_csrf_token().await;
        let api = browser
            .post_json("/confirm", &json!({"email": email}), Some(&csrf))
            .await;
        let flashes: Vec<String> = flashes(&page)
            .iter()
            .map(|f| f.replace(email.as_str(), "EMAIL"))
            .collect();
        seen.push((status, flashes, api.status(), api.text().await.unwrap()));
    }
    assert_eq!(seen[0].0, StatusCode::OK);
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    // Only the pending account is mailed (twice: form and API).
    wait_for_eml(&app.mail_dir, &pending, CONFIRM_SUBJECT, 2).await;
    let all = eml_messages(&app.mail_dir);
    assert!(all.iter().all(|m| !m.is_to(&unknown)));
    assert!(!all
        .iter()
        .any(|m| m.is_to(&confirmed) && m.header("Subject").as_deref() == Some(CONFIRM_SUBJECT)));

    // Registering a taken address looks like registering a new one.
    let fresh = new_email("fresh");
    let new_answer = app.client().register(&fresh, PASSWORD).await;
    let taken_answer = app.client().register(&confirmed, "other-password-1").await;
    assert_eq!(new_answer.status(), taken_answer.status());
    assert_eq!(location(&new_answer), location(&taken_answer));
}
