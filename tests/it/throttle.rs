//! Throttling (ASVS 2.2.1): login delays per account and address, the per-account ceiling
//! that spares the owner's known addresses, password reset as the way back in, and the
//! per-address limit against spraying, IPv6 clients counted by their /64. (The mail-sending
//! forms' limits: tests/it/mail_limits.rs.) Client addresses vary through `X-Forwarded-For` with
//! `TRUSTED_PROXY_COUNT=1`.

use crate::common;
use crate::mail_support;

use std::time::{Duration, Instant};

use common::{content_type, new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use mail_support::wait_for_eml;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "brand-new-pass-42";
const WRONG: &str = "wrong-password-1";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut config = vec![("TRUSTED_PROXY_COUNT", "1")];
    config.extend_from_slice(extra);
    spawn_app_with(&config).await
}

/// A JSON login attempt from `ip` (the client needs a CSRF token from [`TestClient::json_csrf_token`]).
async fn login_from(c: &TestClient, csrf: &str, ip: &str, email: &str, password: &str) -> Response {
    post_json_from(
        c,
        csrf,
        ip,
        "/login",
        json!({"email": email, "password": password}),
    )
    .await
}

/// A JSON POST to `path` from `ip`, with this client's CSRF token.
async fn post_json_from(c: &TestClient, csrf: &str, ip: &str, path: &str, body: Value) -> Response {
    c.http
        .post(c.url(path))
        .header(ACCEPT, "application/json")
        .header("X-Forwarded-For", ip)
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await
        .expect("POST")
}

/// A form submission from `ip`, with this browser's CSRF token from `form_page`.
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

fn retry_after(r: &Response) -> u64 {
    r.headers()
        .get(RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// Logs `email` in from `ip` in a new browser; returns it when that worked.
async fn log_in_from(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
) -> (StatusCode, TestClient) {
    let c = app.client();
    let csrf = c.json_csrf_token().await;
    let r = login_from(&c, &csrf, ip, email, password).await;
    (r.status(), c)
}

#[actix_web::test]
async fn a_thousand_failures_from_fifty_addresses_leave_the_owner_a_way_in() {
    let app = app_with(&[("SECURITY_RECOVERABLE", "true")]).await;
    let email = new_email("target");
    app.create_user(&email, PASSWORD).await;
    // The owner's usual address: a successful login makes it known.
    let (status, _) = log_in_from(&app, "198.51.100.7", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    let attacker = app.client();
    let csrf = attacker.json_csrf_token().await;
    let started = Instant::now();
    let (mut checked, mut throttled) = (0, 0);
    for i in 0..1000 {
        let ip = format!("203.0.113.{}", i % 50);
        let r = login_from(&attacker, &csrf, &ip, &email, WRONG).await;
        match r.status() {
            StatusCode::BAD_REQUEST => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after(&r) >= 1);
                throttled += 1;
            }
            other => panic!("attempt {i}: {other}"),
        }
    }
    // The default ceiling is 30 failures an hour per account (ASVS: under 100).
    assert!(checked <= 30, "{checked} passwords were checked");
    assert_eq!(checked + throttled, 1000);
    assert!(started.elapsed() < Duration::from_secs(60));

    // The owner's known address still works, the attack notwithstanding...
    let (status, known) = log_in_from(&app, "198.51.100.7", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(known.is_authenticated().await);
    // ...a new one is refused while the attack lasts (the ceiling)...
    let (status, _) = log_in_from(&app, "192.0.2.55", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // ...and a password reset, from anywhere, lets the owner in from there.
    let owner = app.client();
    let r = submit_from(&owner, "192.0.2.55", "/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mail = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let path = mail[0].link_path("/reset/");
    let r = submit_from(
        &owner,
        "192.0.2.55",
        &path,
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let (status, fresh) = log_in_from(&app, "192.0.2.55", &email, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the reset cleared the failures");
    assert!(fresh.is_authenticated().await);
}

#[actix_web::test]
async fn a_lockout_from_one_address_does_not_block_another_and_ends_with_the_window() {
    let app = app_with(&[
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "3"),
        ("SECURITY_LOGIN_DELAY", "1 seconds"),
        ("SECURITY_LOGIN_MAX_DELAY", "60 seconds"),
        ("SECURITY_LOGIN_WINDOW", "2 seconds"),
        ("SECURITY_LOGIN_ACCOUNT_LIMIT", "8"),
    ])
    .await;
    let email = new_email("victim");
    app.create_user(&email, PASSWORD).await;
    let attacker = app.client();
    let csrf = attacker.json_csrf_token().await;

    // The attacker's address fails as often as it may for longer than the window.
    let until = Instant::now() + Duration::from_millis(2500);
    let mut locked_out = false;
    while Instant::now() < until {
        let r = login_from(&attacker, &csrf, "203.0.113.9", &email, WRONG).await;
        locked_out |= r.status() == StatusCode::TOO_MANY_REQUESTS;
        // Meanwhile the owner, elsewhere, is never held up.
        let (status, _) = log_in_from(&app, "192.0.2.1", &email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "the owner's address was blocked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(locked_out, "the attacker's address was never throttled");

    // The attacker's own delay is over one window after its last failure.
    let r = login_from(&attacker, &csrf, "203.0.113.9", &email, WRONG).await;
    if r.status() == StatusCode::TOO_MANY_REQUESTS {
        let wait = retry_after(&r);
        assert!(wait <= 2, "a lockout outlasting the window: {wait} s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let r = login_from(&attacker, &csrf, "203.0.113.9", &email, WRONG).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}

#[actix_web::test]
async fn the_ceiling_for_new_addresses_lifts_with_the_window() {
    let app = app_with(&[
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "2"),
        ("SECURITY_LOGIN_WINDOW", "2 seconds"),
        ("SECURITY_LOGIN_ACCOUNT_LIMIT", "6"),
    ])
    .await;
    let email = new_email("ceiling");
    app.create_user(&email, PASSWORD).await;
    let attacker = app.client();
    let csrf = attacker.json_csrf_token().await;
    for i in 0..20 {
        login_from(&attacker, &csrf, &format!("203.0.113.{i}"), &email, WRONG).await;
    }
    let (status, _) = log_in_from(&app, "192.0.2.77", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _) = log_in_from(&app, "192.0.2.77", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn throttled_logins_answer_429_with_retry_after_as_form_and_json() {
    let app = app_with(&[]).await;
    let email = new_email("delay");
    app.create_user(&email, PASSWORD).await;
    let browser = app.client();
    for _ in 0..5 {
        let r = submit_from(
            &browser,
            "203.0.113.1",
            "/login",
            &[("email", &email), ("password", WRONG)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "free attempts re-show the form");
    }
    let r = submit_from(
        &browser,
        "203.0.113.1",
        "/login",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), 1);
    assert!(content_type(&r).starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Too many attempts. Please try again in 1 second."),
        "{page}"
    );

    let api = app.client();
    let csrf = api.json_csrf_token().await;
    let r = login_from(&api, &csrf, "203.0.113.1", &email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) >= 1);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["meta"]["code"], 429);
    assert!(j["response"]["errors"][0]
        .as_str()
        .unwrap()
        .starts_with("Too many attempts"));

    // The delay doubles: waiting it out gives one more try.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login_from(&api, &csrf, "203.0.113.1", &email, WRONG).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = login_from(&api, &csrf, "203.0.113.1", &email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), 2);
}

#[actix_web::test]
async fn a_successful_login_clears_the_failures_of_its_address() {
    let app = app_with(&[]).await;
    let email = new_email("clear");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let csrf = c.json_csrf_token().await;
    for _ in 0..4 {
        let r = login_from(&c, &csrf, "203.0.113.4", &email, WRONG).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let (status, _) = log_in_from(&app, "203.0.113.4", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..5 {
        let r = login_from(&c, &csrf, "203.0.113.4", &email, WRONG).await;
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "the count started again"
        );
    }
    let r = login_from(&c, &csrf, "203.0.113.4", &email, WRONG).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn unknown_accounts_are_throttled_like_known_ones() {
    let app = app_with(&[]).await;
    let known = new_email("known");
    app.create_user(&known, PASSWORD).await;
    let unknown = new_email("nobody");
    let c = app.client();
    let csrf = c.json_csrf_token().await;
    for email in [&known, &unknown] {
        let statuses: Vec<u16> = {
            let mut v = Vec::new();
            for _ in 0..6 {
                v.push(
                    login_from(&c, &csrf, "203.0.113.5", email, WRONG)
                        .await
                        .status()
                        .as_u16(),
                );
            }
            v
        };
        assert_eq!(statuses, [400, 400, 400, 400, 400, 429], "{email}");
    }
    // Typed identities are never stored: only digests and account ids.
    use diesel::prelude::*;
    use latchkey::db::schema::auth_attempt;
    let subjects: Vec<String> = auth_attempt::table
        .select(auth_attempt::subject)
        .load(&mut app.db())
        .unwrap();
    assert!(subjects.iter().all(|s| !s.contains('@')), "{subjects:?}");
}

/// The race the throttle must not lose: every attempt is counted before its password is
/// checked, so however many arrive at once from one address, only the free attempts are
/// checked. (Counting after the check let all 40 through, and their failures then closed
/// the account to its owner's other addresses.) Cost 10 makes each hash slow enough that
/// the whole burst is in flight together.
#[actix_web::test]
async fn forty_concurrent_guesses_from_one_address_check_only_the_free_attempts() {
    let app = app_with(&[
        ("SECURITY_HASH_QUEUE", "40"),
        ("SECURITY_BCRYPT_ROUNDS", "10"),
        // A delay far longer than the burst: nothing after the free attempts may pass.
        ("SECURITY_LOGIN_DELAY", "60 seconds"),
        ("SECURITY_LOGIN_MAX_DELAY", "15 minutes"),
    ])
    .await;
    let email = new_email("raced");
    app.create_user(&email, PASSWORD).await;
    let attacker = std::sync::Arc::new(app.client());
    let csrf = attacker.json_csrf_token().await;

    let burst: Vec<_> = (0..40)
        .map(|_| {
            let (attacker, csrf, email) = (attacker.clone(), csrf.clone(), email.clone());
            actix_web::rt::spawn(async move {
                login_from(&attacker, &csrf, "203.0.113.66", &email, WRONG)
                    .await
                    .status()
            })
        })
        .collect();
    let mut checked = 0;
    for task in burst {
        match task.await.expect("a guess of the burst") {
            StatusCode::BAD_REQUEST => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("a guess got {other}"),
        }
    }
    assert!(checked >= 1, "the first guesses are checked");
    assert!(
        checked <= 5,
        "{checked} of 40 concurrent guesses were checked"
    );
    use diesel::prelude::*;
    use latchkey::db::schema::auth_attempt;
    let counted: i64 = auth_attempt::table
        .filter(auth_attempt::action.eq("login_failed"))
        .count()
        .get_result(&mut app.db())
        .unwrap();
    assert_eq!(counted, checked, "each checked guess counted once, no more");

    // The owner, from an address of their own, is not held up.
    let (status, owner) = log_in_from(&app, "192.0.2.10", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(owner.is_authenticated().await);
}

/// POST /change with `TRUSTED_PROXY_COUNT=1` from `ip`, as JSON.
async fn change_from(c: &TestClient, csrf: &str, ip: &str, current: &str) -> Response {
    let body = json!({
        "password": current,
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
    });
    post_json_from(c, csrf, ip, "/change", body).await
}

/// A stolen session that is still fresh must be no way around the login throttle: a wrong
/// current password on /change is a failed login of that account from that address.
#[actix_web::test]
async fn wrong_current_passwords_on_change_count_and_are_throttled_like_logins() {
    let app = app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "3"),
        ("SECURITY_LOGIN_DELAY", "60 seconds"),
    ])
    .await;
    let email = new_email("stolen");
    app.create_user(&email, PASSWORD).await;
    let (status, thief) = log_in_from(&app, "203.0.113.20", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = thief.json_csrf_token().await;
    let hash_before = app.user(&email).password;

    // Two failed logins and one failed change from the same address: three failures.
    let guesser = app.client();
    let guesser_csrf = guesser.json_csrf_token().await;
    for _ in 0..2 {
        let r = login_from(&guesser, &guesser_csrf, "203.0.113.20", &email, WRONG).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let r = change_from(&thief, &csrf, "203.0.113.20", WRONG).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let j: Value = r.json().await.unwrap();
    assert_eq!(
        j["response"]["field_errors"]["password"][0],
        "Invalid password"
    );

    // The fourth try is refused unchecked, on /change as on /login, even with the right
    // password.
    let r = change_from(&thief, &csrf, "203.0.113.20", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) > 50, "the configured delay");
    let r = login_from(&guesser, &guesser_csrf, "203.0.113.20", &email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.user(&email).password,
        hash_before,
        "nothing was changed"
    );

    // Another address is not affected, and a right current password there counts as a
    // success of that address.
    let r = change_from(&thief, &csrf, "198.51.100.20", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = log_in_from(&app, "198.51.100.20", &email, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

/// Password spraying: one address trying one password on many accounts. Each account's
/// own count stays low, so only a count per address across accounts stops it.
#[actix_web::test]
async fn one_address_spraying_forty_accounts_is_throttled_but_their_owners_are_not() {
    let app = app_with(&[("SECURITY_LOGIN_FAILURES_PER_IP", "20")]).await;
    let victims: Vec<String> = (0..40).map(|i| new_email(&format!("spray{i}"))).collect();
    for email in &victims[..2] {
        app.create_user(email, PASSWORD).await;
    }
    // The owner of the first account has logged in from the shared address before.
    let (status, _) = log_in_from(&app, "203.0.113.77", &victims[0], PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    let sprayer = app.client();
    let csrf = sprayer.json_csrf_token().await;
    let mut statuses = Vec::new();
    for email in &victims {
        statuses.push(
            login_from(&sprayer, &csrf, "203.0.113.77", email, WRONG)
                .await
                .status(),
        );
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert!((20..=21).contains(&checked), "{checked} of 40 were checked");
    assert!(statuses[..20].iter().all(|s| *s == StatusCode::BAD_REQUEST));
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);

    // A new owner on that address waits; the known one still gets in; elsewhere, nobody
    // is affected.
    let (status, _) = log_in_from(&app, "203.0.113.77", &victims[1], PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = log_in_from(&app, "203.0.113.77", &victims[0], PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = log_in_from(&app, "192.0.2.8", &victims[1], PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

/// A subscriber holds a whole /64: its addresses share one count.
#[actix_web::test]
async fn ipv6_addresses_of_one_64_share_their_limits() {
    let app = app_with(&[]).await;
    let email = new_email("v6");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let csrf = c.json_csrf_token().await;
    for i in 1..=5 {
        let ip = format!("2001:db8:7:7::{i:x}");
        let r = login_from(&c, &csrf, &ip, &email, WRONG).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{ip}");
    }
    let r = login_from(&c, &csrf, "2001:db8:7:7:ffff::1", &email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "same /64");
    let (status, _) = log_in_from(&app, "2001:db8:7:8::1", &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the next /64 is another subscriber");
}
