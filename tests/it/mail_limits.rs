//! The limits of the forms that send mail (`/reset`, `/confirm`, `/register`) protect the
//! mailbox without handing strangers a way to block its owner: a client's requests for an
//! address count against that client only, all mail to one address is capped (except for
//! clients its account logged in from), and past a limit the answer stays the same while
//! nothing more is sent. Only bulk use from one client address is refused (429). Client
//! addresses vary through `X-Forwarded-For` with `TRUSTED_PROXY_COUNT=1`.

use crate::common;
use crate::mail_support;

use std::sync::Arc;

use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use mail_support::eml_messages_to;
use reqwest::{Response, StatusCode};

const RESET: &str = "Password reset instructions";
const CONFIRM: &str = "Please confirm your email";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut config = vec![
        ("TRUSTED_PROXY_COUNT", "1"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ];
    config.extend_from_slice(extra);
    spawn_app_with(&config).await
}

/// A form submission from `ip`, in a browser of its own.
async fn submit_from(c: &TestClient, ip: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let token = c.csrf_token(path).await;
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    c.http
        .post(c.url(path))
        .header("X-Forwarded-For", ip)
        .form(&all)
        .send()
        .await
        .expect("POST")
}

/// Status and flashed messages of a `/reset` or `/confirm` request for `email` from `ip`.
async fn ask(app: &TestApp, ip: &str, path: &str, email: &str) -> (StatusCode, Vec<String>) {
    let r = submit_from(&app.client(), ip, path, &[("email", email)]).await;
    let status = r.status();
    let page = r.text().await.unwrap_or_default();
    (status, common::flashes(&page))
}

/// The mails with `subject` to `email`, once everything queued has been delivered.
async fn delivered(app: &TestApp, email: &str, subject: &str) -> usize {
    app.mail_settled().await;
    eml_messages_to(&app.mail_dir, email, subject).len()
}

/// The finding: five requests from a stranger used to make the owner's own request a 429
/// without mail, for an hour, renewable at will.
#[actix_web::test]
async fn a_stranger_cannot_block_the_owners_password_reset_or_confirmation_mail() {
    // The cap on all mail to one address is tested below; here, only the per-client share.
    let app = app_with(&[("SECURITY_MAILBOX_LIMIT", "0")]).await;
    let email = new_email("owner");
    app.create_user(&email, PASSWORD).await;
    for (path, subject, per_client) in [("/confirm", CONFIRM, 5), ("/reset", RESET, 5)] {
        if path == "/reset" {
            // A reset needs a confirmed address.
            app.set_confirmed(&email);
        }
        let before = delivered(&app, &email, subject).await;
        // Twice the per-address allowance from the stranger: every answer as usual.
        let mut answers = Vec::new();
        for _ in 0..2 * per_client {
            answers.push(ask(&app, "203.0.113.9", path, &email).await);
        }
        let usual = answers[0].clone();
        assert_eq!(usual.0, StatusCode::OK, "{path}");
        assert!(answers.iter().all(|a| *a == usual), "{path}: {answers:?}");
        assert_eq!(
            delivered(&app, &email, subject).await - before,
            per_client,
            "{path}: the stranger's share, no more"
        );
        // The owner, elsewhere, gets the usual answer and the mail.
        let owner = ask(&app, "198.51.100.7", path, &email).await;
        assert_eq!(owner, usual, "{path}");
        assert_eq!(
            delivered(&app, &email, subject).await - before,
            per_client + 1,
            "{path}: the owner's mail went out"
        );
    }
}

#[actix_web::test]
async fn all_mail_to_one_address_is_capped_but_spares_the_owners_known_addresses() {
    // Five mails an hour to one address: the welcome mail, then four more.
    let app = app_with(&[("SECURITY_MAILBOX_LIMIT", "5")]).await;
    let email = new_email("flooded");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    // The owner's usual address: a login makes it known.
    let owner = app.client();
    let token = owner.json_csrf_token().await;
    let r = owner
        .http
        .post(owner.url("/login"))
        .header("X-Forwarded-For", "198.51.100.7")
        .header("X-CSRF-Token", &token)
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let before = delivered(&app, &email, RESET).await;

    // Ten addresses of a botnet, one request each: four mails, then nothing more...
    let usual = ask(&app, "203.0.113.100", "/reset", &email).await;
    for i in 1..10 {
        let answer = ask(&app, &format!("203.0.113.{}", 100 + i), "/reset", &email).await;
        assert_eq!(answer, usual, "the answer never changes");
    }
    assert_eq!(delivered(&app, &email, RESET).await - before, 4);
    // ...but the owner's known address still gets its mail.
    assert_eq!(ask(&app, "198.51.100.7", "/reset", &email).await, usual);
    assert_eq!(delivered(&app, &email, RESET).await - before, 5);
}

/// Several requests at once (several instances, in production) cannot overshoot the cap:
/// the count and the check are one exclusive transaction.
#[actix_web::test]
async fn concurrent_requests_from_many_addresses_send_at_most_the_cap() {
    // The welcome mail, then three more.
    let app = Arc::new(app_with(&[("SECURITY_MAILBOX_LIMIT", "4")]).await);
    let email = new_email("raced-mailbox");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let before = delivered(&app, &email, RESET).await;
    let burst: Vec<_> = (0..24)
        .map(|i| {
            let (app, email) = (app.clone(), email.clone());
            actix_web::rt::spawn(async move {
                ask(&app, &format!("203.0.113.{i}"), "/reset", &email).await
            })
        })
        .collect();
    for task in burst {
        assert_eq!(task.await.expect("a request").0, StatusCode::OK);
    }
    assert_eq!(delivered(&app, &email, RESET).await - before, 3);
}

#[actix_web::test]
async fn bulk_requests_from_one_client_address_are_refused_with_429() {
    let app = app_with(&[("SECURITY_RESET_LIMIT_PER_IP", "3")]).await;
    for i in 0..3 {
        let (status, _) = ask(&app, "203.0.113.50", "/reset", &new_email(&format!("t{i}"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let r = submit_from(
        &app.client(),
        "203.0.113.50",
        "/reset",
        &[("email", &new_email("t4"))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(reqwest::header::RETRY_AFTER));
    let (status, _) = ask(&app, "203.0.113.51", "/reset", &new_email("t5")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another client address is not affected"
    );
}

#[actix_web::test]
async fn registrations_for_one_address_mail_its_owner_within_the_same_limits() {
    let app = app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_REGISTER_LIMIT_PER_ADDRESS", "2"),
    ])
    .await;
    let email = new_email("registered");
    let register = |ip: &'static str| {
        let (c, email) = (app.client(), email.clone());
        async move {
            submit_from(
                &c,
                ip,
                "/register",
                &[
                    ("email", &email),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await
            .status()
        }
    };
    // The account, then a stranger registering it again and again: the same answer each
    // time; its owner gets the welcome mail and one notice (the stranger's share of two),
    // not six.
    for _ in 0..7 {
        assert_eq!(register("203.0.113.70").await, StatusCode::FOUND);
    }
    assert_eq!(delivered(&app, &email, "Welcome").await, 2);
    // Someone else's registration of the address still reaches its owner.
    assert_eq!(register("198.51.100.70").await, StatusCode::FOUND);
    assert_eq!(delivered(&app, &email, "Welcome").await, 3);
}

/// A form refused because its username is taken sends nothing, so it must not use up the
/// address's share: the form that finally goes through still gets its welcome mail.
#[actix_web::test]
async fn registrations_refused_for_a_taken_username_do_not_use_up_the_share() {
    let app = app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_REGISTER_LIMIT_PER_ADDRESS", "1"),
    ])
    .await;
    let taken_by = new_email("first");
    let r = submit_from(
        &app.client(),
        "203.0.113.80",
        "/register",
        &[
            ("email", &taken_by),
            ("username", "popular"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let email = new_email("second");
    for _ in 0..3 {
        let r = submit_from(
            &app.client(),
            "203.0.113.81",
            "/register",
            &[
                ("email", &email),
                ("username", "Popular"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "the username is taken");
    }
    let r = submit_from(
        &app.client(),
        "203.0.113.81",
        "/register",
        &[
            ("email", &email),
            ("username", "unusual"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(delivered(&app, &email, "Welcome").await, 1);
}
