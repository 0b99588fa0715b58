//! Password recovery (`SECURITY_RECOVERABLE`): `/reset` mails a link, `/reset/<token>` sets
//! a new password. Links are single use, die when the password changes, expire, and are
//! refused cleanly when forged.

use crate::common;
use crate::mail_support;

use common::{
    assert_form_rejected, assert_json_error, flashes, form_errors, location, new_email,
    spawn_app_with, TestApp, PASSWORD,
};
use mail_support::{eml_messages, eml_messages_to, wait_for_eml};
use reqwest::StatusCode;
use serde_json::json;

const NEW_PASSWORD: &str = "brand-new-pass-42";
const RESET_SUBJECT: &str = "Password reset instructions";
const RESET_NOTICE_SUBJECT: &str = "Your password has been reset";
const INVALID_TOKEN: &str = "Invalid reset password token.";

async fn recoverable_app(extra: &[(&str, &str)]) -> TestApp {
    let mut config = vec![
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
    ];
    config.extend_from_slice(extra);
    spawn_app_with(&config).await
}

/// Asks for a reset link for `email` from a fresh browser; returns the link's path.
async fn request_reset(app: &TestApp, email: &str) -> String {
    let before = eml_messages_to(&app.mail_dir, email, RESET_SUBJECT).len();
    let r = app.client().submit("/reset", &[("email", email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        flashes(&page).contains(&format!(
            "Instructions to reset your password have been sent to {email}."
        )),
        "{page}"
    );
    let mails = wait_for_eml(&app.mail_dir, email, RESET_SUBJECT, before + 1).await;
    let link = mails[before].link("/reset/");
    assert!(
        link.starts_with(&format!("{}/reset/", app.address)),
        "{link}"
    );
    mails[before].link_path("/reset/")
}

/// Posts a new password to a reset link from a fresh browser. The CSRF token comes from the
/// forgot-password form, so that dead links can be posted to as well.
async fn set_new_password(app: &TestApp, path: &str, password: &str) -> reqwest::Response {
    let browser = app.client();
    let csrf = browser.csrf_token("/reset").await;
    browser
        .post_form(
            path,
            &[
                ("password", password),
                ("password_confirm", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
}

/// Whether `password` logs `email` in (from a fresh browser).
async fn can_log_in(app: &TestApp, email: &str, password: &str) -> bool {
    let browser = app.client();
    browser.login(email, password, false).await;
    browser.is_authenticated().await
}

#[actix_web::test]
async fn a_reset_link_sets_a_new_password_ends_every_login_and_logs_no_one_in() {
    let app = recoverable_app(&[]).await;
    let email = new_email("reset");
    app.create_user(&email, PASSWORD).await;
    let elsewhere = app.logged_in_client(&email, PASSWORD, true).await;
    let uniquifier_before = app.user(&email).fs_uniquifier;

    let path = request_reset(&app, &email).await;
    let resetting = app.client();
    let form = resetting.get(&path).await;
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap();
    assert!(form.contains("name=\"password_confirm\""), "{form}");

    let r = resetting
        .submit(
            &path,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    let login_page = resetting.follow(r, "/login").await;
    assert!(
        flashes(&login_page).contains(
            &"You successfully reset your password. Please authenticate using your new password."
                .to_owned()
        ),
        "{login_page}"
    );

    assert!(
        !resetting.is_authenticated().await,
        "no auto-login after reset"
    );
    assert!(
        !elsewhere.is_authenticated().await,
        "the other browser (session and remember cookie) is logged out"
    );
    assert_ne!(app.user(&email).fs_uniquifier, uniquifier_before);
    assert!(!can_log_in(&app, &email, PASSWORD).await);
    assert!(can_log_in(&app, &email, NEW_PASSWORD).await);
    let notice = wait_for_eml(&app.mail_dir, &email, RESET_NOTICE_SUBJECT, 1).await;
    assert_eq!(notice.len(), 1);
}

#[actix_web::test]
async fn a_reset_link_works_only_once() {
    let app = recoverable_app(&[]).await;
    let email = new_email("once");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;
    let r = set_new_password(&app, &path, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));

    let browser = app.client();
    let again = browser.get(&path).await;
    let page = browser.follow(again, "/reset").await;
    assert!(flashes(&page).contains(&INVALID_TOKEN.to_owned()), "{page}");
    // Then, in plain words, why and what to do.
    assert!(
        flashes(&page).iter().any(|f| f
            .starts_with("A reset link works once, and stops working when the password changes")),
        "{page}"
    );
    let r = set_new_password(&app, &path, "a-third-password").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    assert!(can_log_in(&app, &email, NEW_PASSWORD).await);
}

#[actix_web::test]
async fn a_reset_token_used_concurrently_succeeds_at_most_once() {
    let app = recoverable_app(&[]).await;
    let email = new_email("race");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;

    // Each racer has its own session and CSRF token, and its own new password.
    const RACERS: usize = 6;
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let browser = app.client();
        let token = browser.csrf_token(&path).await;
        racers.push((browser, token, format!("racer-password-{i}")));
    }
    let url = app.url(&path);
    let tasks: Vec<_> = racers
        .iter()
        .map(|(browser, token, pw)| {
            let request = browser.http.post(&url).form(&[
                ("password", pw.as_str()),
                ("password_confirm", pw.as_str()),
                ("csrf_token", token.as_str()),
            ]);
            actix_web::rt::spawn(request.send())
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().unwrap());
    }

    let mut winners = Vec::new();
    for (answer, (_, _, pw)) in answers.iter().zip(&racers) {
        match location(answer).as_deref() {
            Some("/login") => winners.push(pw.clone()),
            Some("/reset") => {}
            other => panic!("unexpected answer {} {other:?}", answer.status()),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one use of the token succeeds");
    assert!(can_log_in(&app, &email, &winners[0]).await);
    for (_, _, pw) in racers.iter().filter(|(_, _, pw)| *pw != winners[0]) {
        assert!(!can_log_in(&app, &email, pw).await, "{pw} must not work");
    }
    let notices = eml_messages_to(&app.mail_dir, &email, RESET_NOTICE_SUBJECT);
    assert!(notices.len() <= 1, "one notice for one reset");
}

#[actix_web::test]
async fn a_reset_link_dies_when_the_password_is_changed() {
    let app = recoverable_app(&[]).await;
    let email = new_email("changed");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;

    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    let r = browser.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/"));

    let r = app.client().get(&path).await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    let r = set_new_password(&app, &path, "attackers-choice-1").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    assert!(can_log_in(&app, &email, NEW_PASSWORD).await);
    assert!(!can_log_in(&app, &email, "attackers-choice-1").await);
}

#[actix_web::test]
async fn asking_for_a_new_reset_link_retires_the_older_one() {
    let app = recoverable_app(&[]).await;
    let email = new_email("two-links");
    app.create_user(&email, PASSWORD).await;
    let first = request_reset(&app, &email).await;
    let second = request_reset(&app, &email).await;
    assert_ne!(first, second);

    let r = set_new_password(&app, &first, "attackers-choice-1").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    let r = set_new_password(&app, &second, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    assert!(can_log_in(&app, &email, NEW_PASSWORD).await);
}

#[actix_web::test]
async fn garbage_and_tampered_tokens_are_refused_without_errors() {
    let app = recoverable_app(&[]).await;
    let email = new_email("tamper");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;
    let token = path.trim_start_matches("/reset/").to_owned();

    // One character changed, cut short, lengthened, and plain garbage.
    let mut flipped = token.clone().into_bytes();
    flipped[token.len() / 2] = if flipped[token.len() / 2] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let long = "x".repeat(5000);
    let candidates = [
        String::from_utf8(flipped).unwrap(),
        token[..token.len() - 1].to_owned(),
        format!("{token}A"),
        "garbage".to_owned(),
        "%00%ff%fe".to_owned(),
        "%C3%A9t%C3%A9".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        long,
    ];
    for bad in &candidates {
        let bad_path = format!("/reset/{bad}");
        let browser = app.client();
        let r = browser.get(&bad_path).await;
        let page = browser.follow(r, "/reset").await;
        assert!(
            flashes(&page).contains(&INVALID_TOKEN.to_owned()),
            "{bad}: {page}"
        );

        let r = set_new_password(&app, &bad_path, "attackers-choice-1").await;
        assert_eq!(location(&r).as_deref(), Some("/reset"), "{bad}");

        let api = app.client();
        let csrf = api.json_csrf_token().await;
        let r = api
            .post_json(
                &bad_path,
                &json!({"password": "attackers-choice-1", "password_confirm": "attackers-choice-1"}),
                Some(&csrf),
            )
            .await;
        let j = assert_json_error(r, 400).await;
        assert_eq!(j["response"]["errors"][0], INVALID_TOKEN, "{bad}");
    }
    // The genuine link still works after all that.
    let r = set_new_password(&app, &path, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
}

#[actix_web::test]
async fn a_token_from_an_instance_with_another_secret_key_is_refused() {
    let app = recoverable_app(&[]).await;
    let email = new_email("other-key");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;

    // Same database, different SECRET_KEY.
    let other = recoverable_app(&[("DATABASE_URL", app.database_url.as_str())]).await;
    assert_ne!(other.secret_key, app.secret_key);
    let r = set_new_password(&other, &path, "attackers-choice-1").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    assert!(can_log_in(&app, &email, PASSWORD).await);
}

#[actix_web::test]
async fn an_expired_link_is_refused_and_a_fresh_one_is_mailed() {
    let app = recoverable_app(&[("SECURITY_RESET_PASSWORD_WITHIN", "1 second")]).await;
    let email = new_email("expired");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;

    let r = set_new_password(&app, &path, "too-late-password").await;
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    let browser = app.client();
    let r = browser.get(&path).await;
    let page = browser.follow(r, "/reset").await;
    // Flask-Security's message (its msgid ends with a space); new instructions went out.
    assert!(
        flashes(&page)
            .iter()
            .any(|f| f.starts_with("You did not reset your password within ")),
        "{page}"
    );
    // A new link went out: the "Check your email" card says where.
    assert!(
        page.contains("Check your email") && page.contains(&email),
        "{page}"
    );
    let mails = wait_for_eml(&app.mail_dir, &email, RESET_SUBJECT, 2).await;
    assert_ne!(mails[1].link_path("/reset/"), path, "a fresh link");
    assert!(can_log_in(&app, &email, PASSWORD).await);
}

#[actix_web::test]
async fn the_reset_form_checks_the_new_password() {
    let app = recoverable_app(&[]).await;
    let email = new_email("rules");
    app.create_user(&email, PASSWORD).await;
    let path = request_reset(&app, &email).await;

    let browser = app.client();
    let r = browser
        .submit(
            &path,
            &[("password", "short"), ("password_confirm", "short")],
        )
        .await;
    let page = assert_form_rejected(r).await;
    assert!(
        form_errors(&page).contains(&"Password must be at least 8 characters".to_owned()),
        "{page}"
    );
    let r = browser
        .submit(
            &path,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", "something-else"),
            ],
        )
        .await;
    let page = assert_form_rejected(r).await;
    assert!(
        form_errors(&page).contains(&"Passwords do not match".to_owned()),
        "{page}"
    );
    // A refused attempt does not use the link up.
    let r = set_new_password(&app, &path, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
}

#[actix_web::test]
async fn the_json_api_resets_a_password() {
    let app = recoverable_app(&[]).await;
    let email = new_email("json-reset");
    app.create_user(&email, PASSWORD).await;
    let api = app.client();
    let csrf = api.json_csrf_token().await;

    let r = api
        .post_json("/reset", &json!({"email": email}), Some(&csrf))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, &email, RESET_SUBJECT, 1).await;
    let path = mails[0].link_path("/reset/");

    let r = api.get_json(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .post_json(
            &path,
            &json!({"password": NEW_PASSWORD, "password_confirm": "mismatch-1234"}),
            Some(&csrf),
        )
        .await;
    let j = assert_json_error(r, 400).await;
    assert!(
        j["response"]["field_errors"]["password_confirm"].is_array(),
        "{j}"
    );

    let r = api
        .post_json(
            &path,
            &json!({"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(can_log_in(&app, &email, NEW_PASSWORD).await);

    let r = api
        .post_json(
            "/reset",
            &json!({"email": new_email("nobody")}),
            Some(&csrf),
        )
        .await;
    let j = assert_json_error(r, 400).await;
    assert_eq!(
        j["response"]["field_errors"]["email"][0],
        "Specified user does not exist"
    );
}

#[actix_web::test]
async fn links_are_built_from_base_url_whatever_the_host_header_says() {
    let app = recoverable_app(&[("BASE_URL", "https://auth.example.test/")]).await;
    let email = new_email("host");
    app.create_user(&email, PASSWORD).await;

    let browser = app.client();
    let token = browser.csrf_token("/reset").await;
    let r = browser
        .http
        .post(app.url("/reset"))
        .header("Host", "attacker.example")
        .header("X-Forwarded-Host", "attacker.example")
        .header("X-Forwarded-Proto", "http")
        .header("Forwarded", "host=attacker.example;proto=http")
        .form(&[("email", email.as_str()), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mails = wait_for_eml(&app.mail_dir, &email, RESET_SUBJECT, 1).await;
    let link = mails[0].link("/reset/");
    assert!(
        link.starts_with("https://auth.example.test/reset/"),
        "{link}"
    );
    let html = mails[0].part("text/html").unwrap();
    assert!(!html.contains("attacker.example"), "{html}");
    assert!(html.contains("https://auth.example.test/reset/"), "{html}");
}

#[actix_web::test]
async fn with_generic_responses_forgot_password_answers_the_same_for_unknown_addresses() {
    let app = recoverable_app(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let known = new_email("known");
    app.create_user(&known, PASSWORD).await;
    app.set_confirmed(&known);
    let unknown = new_email("unknown");

    let answer = |email: String| {
        let browser = app.client();
        async move {
            let r = browser.submit("/reset", &[("email", &email)]).await;
            let status = r.status();
            let page = r.text().await.unwrap();
            let csrf = browser.json_csrf_token().await;
            let api = browser
                .post_json("/reset", &json!({"email": email}), Some(&csrf))
                .await;
            (
                status,
                flashes(&page),
                api.status(),
                api.text().await.unwrap(),
            )
        }
    };
    let (known_status, known_flashes, known_api_status, known_api) = answer(known.clone()).await;
    let (unknown_status, unknown_flashes, unknown_api_status, unknown_api) =
        answer(unknown.clone()).await;
    assert_eq!(known_status, StatusCode::OK);
    assert_eq!(known_status, unknown_status);
    assert_eq!(known_flashes, unknown_flashes);
    assert_eq!(
        known_flashes,
        ["If that email address is in our system, you will receive an email describing how to reset your password."]
    );
    assert_eq!(known_api_status, StatusCode::OK);
    assert_eq!(known_api_status, unknown_api_status);
    assert_eq!(known_api, unknown_api);

    // The real user still gets the link (twice: form and API); the unknown address nothing.
    wait_for_eml(&app.mail_dir, &known, RESET_SUBJECT, 2).await;
    assert!(eml_messages(&app.mail_dir)
        .iter()
        .all(|m| !m.is_to(&unknown)));
}
