//! Attacks on sessions, second factors and tokens that worked on the code these tests were
//! written against. Each test runs the attack and asserts the secure behaviour: second-factor
//! guesses have their own per-account budget, a refreshed API token is never "fresh", tokens
//! die with the session they came with, sending a unified sign-in code does not reveal an
//! account, a mailed code works once whatever copy of the cookie presents it, recovery codes
//! shown from the session belong to whoever is logged in, and "remember this browser" ends
//! with a new authenticator. JSON API unless a test says HTML.

use crate::common;
use crate::mail_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    new_email, set_cookies, set_up_authenticator, spawn_app_with, TestApp, TestClient, PASSWORD,
};
use latchkey::auth::totp::{code_at, TotpSecret};
use reqwest::header::{ACCEPT, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const HEADER: &str = "Authentication-Token";
const TWO_FACTOR_SUBJECT: &str = "Two-Factor Login";
const CHANGE_EMAIL_SUBJECT: &str = "Confirm your new email address";

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// Two-factor settings as tests/it/two_factor.rs has them, plus `extra`.
fn tf_settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "attacks-sessions-test-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_CHANGEABLE", "true"),
    ];
    all.extend_from_slice(extra);
    all
}

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A browser whose every request comes through the trusted proxy from `ip`.
fn client_from(app: &TestApp, ip: &str) -> TestClient {
    TestClient::with_headers(&app.address, &[("X-Forwarded-For", ip)])
}

/// A new account (registered, then logged in in a browser of its own).
async fn logged_in_account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (email, c)
}

/// The password step of a login through the JSON API; asserts it was accepted and that the
/// second factor is asked for. Returns the answer's `response`.
async fn password_step_needing_code(c: &TestClient, email: &str, path: &str) -> Value {
    let token = c.json_csrf_token().await;
    let (status, body) = json(
        c.post_json(
            path,
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the password step of {email} was not accepted: {body}"
    );
    assert_eq!(
        body["response"]["tf_required"], true,
        "setup: the password step must ask for the second factor: {body}"
    );
    body["response"].clone()
}

/// `code` sent to `/tf-validate` (JSON, with this session's CSRF token).
async fn send_tf_code(c: &TestClient, code: &str) -> Response {
    c.post_json_via("/tf-validate", "/tf-validate", &json!({"code": code}))
        .await
}

/// A six-digit code that is not `key`'s code for any step near now.
fn wrong_code_for(key: &TotpSecret) -> String {
    let t = now();
    let near: Vec<String> = (0..=20u64)
        .map(|i| code_at(key, t - 300 + 30 * i))
        .collect();
    ["000000", "111111", "222222", "333333", "444444", "555555"]
        .iter()
        .find(|c| !near.iter().any(|n| n == *c))
        .expect("one of six codes is not near")
        .to_string()
}

fn six_digits(mail: &mail_support::Received) -> String {
    let text = mail.part("text/plain").unwrap_or_else(|| mail.data.clone());
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code in the mail")
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// 1. Second-factor guesses
// ---------------------------------------------------------------------------------------

/// Attack: alternate password logins (each clears the failures of its address) with wrong
/// second-factor codes, from two client addresses, to guess the code without ever being
/// throttled. Secure: wrong codes count per account across addresses, a right password
/// never clears them; past 5 the next code (even the right one) is a 429 with Retry-After.
#[actix_web::test]
async fn second_factor_codes_are_budgeted_per_account_across_logins() {
    let app = spawn_app_with(&tf_settings(&[("TRUSTED_PROXY_COUNT", "1")])).await;
    let (email, owner) = logged_in_account(&app, "tf-budget").await;
    let key = set_up_authenticator(&owner).await;
    let wrong = wrong_code_for(&key);

    // (address, wrong codes sent after that login's password): 8 codes, 3 logins.
    let rounds = [
        ("198.51.100.21", 3),
        ("203.0.113.22", 3),
        ("198.51.100.21", 2),
    ];
    let mut statuses = Vec::new();
    let mut throttled: Option<(TestClient, Response)> = None;
    let mut logins = 0;
    'rounds: for (ip, codes) in rounds {
        let c = client_from(&app, ip);
        password_step_needing_code(&c, &email, "/login").await;
        logins += 1;
        for _ in 0..codes {
            let r = send_tf_code(&c, &wrong).await;
            statuses.push(r.status().as_u16());
            match r.status() {
                StatusCode::BAD_REQUEST => {}
                StatusCode::TOO_MANY_REQUESTS => {
                    throttled = Some((c, r));
                    break 'rounds;
                }
                other => panic!(
                    "a wrong code answered {other}: {}",
                    r.text().await.unwrap_or_default()
                ),
            }
        }
    }
    let Some((guesser, refusal)) = throttled else {
        // What the last guesser's right code does now, for the message.
        let last = client_from(&app, "192.0.2.44");
        password_step_needing_code(&last, &email, "/login").await;
        let right = send_tf_code(&last, &code_at(&key, now())).await.status();
        panic!(
            "no 429 after {} wrong second-factor codes over {logins} password logins from 2 \
             addresses (statuses {statuses:?}); the right code then answered {right}: guesses \
             are not budgeted per account",
            statuses.len()
        );
    };
    assert!(
        statuses.len() <= 8,
        "the 429 came only after {} codes",
        statuses.len()
    );
    assert!(
        refusal.headers().contains_key(RETRY_AFTER),
        "a 429 without Retry-After"
    );

    // The right code is refused too, here and after a new password login elsewhere.
    let right = code_at(&key, now());
    let r = send_tf_code(&guesser, &right).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right code after the budget was spent: {}",
        r.text().await.unwrap_or_default()
    );
    let elsewhere = client_from(&app, "192.0.2.33");
    let token = elsewhere.json_csrf_token().await;
    let r = elsewhere
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await;
    if r.status() == StatusCode::OK {
        let r = send_tf_code(&elsewhere, &right).await;
        assert_eq!(
            r.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "the right code from a new address after a new password login: {}",
            r.text().await.unwrap_or_default()
        );
    } else {
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(!guesser.is_authenticated().await);
    assert!(!elsewhere.is_authenticated().await);
}

// ---------------------------------------------------------------------------------------
// 2. Refresh tokens and freshness
// ---------------------------------------------------------------------------------------

/// Tokens with refresh tokens in the body, email changes, two-factor, and a freshness window
/// of `freshness`.
async fn refresh_app(freshness: &str) -> TestApp {
    spawn_app_with(&tf_settings(&[
        ("SECURITY_API_ENABLED_METHODS", "session,token"),
        ("SECURITY_REFRESH_TOKEN", "true"),
        ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", ""),
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator"),
        ("SECURITY_FRESHNESS", freshness),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
    ]))
    .await
}

/// A user with an authenticator, logged in through the API with both factors:
/// (email, authentication token, refresh token).
async fn token_login_with_second_factor(app: &TestApp, tag: &str) -> (String, String, String) {
    let (email, owner) = logged_in_account(app, tag).await;
    let key = set_up_authenticator(&owner).await;
    let api = app.client();
    password_step_needing_code(&api, &email, "/login?include_auth_token").await;
    // The setup used this step's code.
    let r = api
        .post_json_via(
            "/tf-validate",
            "/tf-validate?include_auth_token",
            &json!({"code": code_at(&key, now() - 30)}),
        )
        .await;
    let (status, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "setup: the second factor: {body}");
    let user = &body["response"]["user"];
    let token = user["authentication_token"]
        .as_str()
        .unwrap_or_else(|| panic!("setup: no authentication_token: {body}"))
        .to_owned();
    let refresh = user["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("setup: no refresh_token: {body}"))
        .to_owned();
    (email, token, refresh)
}

/// Exchanges `refresh_token`: (new authentication token, new refresh token).
async fn refreshed(app: &TestApp, refresh_token: &str) -> (String, String) {
    let (status, body) = json(
        app.client()
            .post_json_via(
                "/login",
                "/refresh-token",
                &json!({"refresh_token": refresh_token}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: /refresh-token: {body}");
    let user = &body["response"]["user"];
    (
        user["authentication_token"]
            .as_str()
            .unwrap_or_else(|| panic!("setup: no new token: {body}"))
            .to_owned(),
        user["refresh_token"]
            .as_str()
            .unwrap_or_else(|| panic!("setup: no new refresh token: {body}"))
            .to_owned(),
    )
}

/// A JSON POST authenticated by the token alone.
async fn post_with_token(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    json(
        reqwest::Client::new()
            .post(format!("{}{path}", app.address))
            .header(ACCEPT, "application/json")
            .header(HEADER, token)
            .json(&body)
            .send()
            .await
            .expect("POST"),
    )
    .await
}

/// `None` if the answer is the stale-login refusal (401 with `reauth_required`), else what
/// it was.
fn not_reauth(what: &str, (status, body): &(StatusCode, Value)) -> Option<String> {
    if *status == StatusCode::UNAUTHORIZED && body["response"]["reauth_required"] == true {
        None
    } else {
        Some(format!(
            "{what} answered {status} instead of 401 reauth_required: {body}"
        ))
    }
}

async fn assert_nothing_changed(
    app: &TestApp,
    email: &str,
    new_address: &str,
    problems: Vec<String>,
) {
    let mut problems = problems;
    app.mail_settled().await;
    let sent = mail_support::eml_messages_to(&app.mail_dir, new_address, CHANGE_EMAIL_SUBJECT);
    if !sent.is_empty() {
        problems.push(format!(
            "{} change-email mail(s) went to {new_address}",
            sent.len()
        ));
    }
    if app.user(email).tf_primary_method.is_none() {
        problems.push("the second factor was switched off".to_owned());
    }
    assert!(
        problems.is_empty(),
        "a refreshed token passed the freshness check:\n{}",
        problems.join("\n")
    );
}

/// Attack: right after a login, exchange the refresh token and use the new API token for a
/// change that needs a recent password (`/change-email`). Secure: a token from a refresh
/// token proves no password, so it is refused like a stale login (401 `reauth_required`).
#[actix_web::test]
async fn a_refreshed_token_is_never_fresh_even_right_after_the_login() {
    // A window long enough that the original token is surely fresh throughout.
    let app = refresh_app("60 seconds").await;
    let (email, token, refresh) = token_login_with_second_factor(&app, "refresh-now").await;
    let r = reqwest::Client::new()
        .get(format!("{}/change-email", app.address))
        .header(ACCEPT, "application/json")
        .header(HEADER, &token)
        .send()
        .await
        .expect("GET /change-email");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "setup: the login's own token is fresh: {}",
        r.text().await.unwrap_or_default()
    );
    let (new_token, _) = refreshed(&app, &refresh).await;
    let new_address = new_email("hijack-now");
    let answer = post_with_token(
        &app,
        &new_token,
        "/change-email",
        json!({"email": new_address}),
    )
    .await;
    let problems = not_reauth("/change-email with the refreshed token", &answer)
        .into_iter()
        .collect();
    assert_nothing_changed(&app, &email, &new_address, problems).await;
}

/// Attack: a stolen refresh token outlives the freshness window; each refresh mints a token
/// whose issue time counts as a fresh password, so the thief changes the email or switches
/// the second factor off. Secure: once stale, the original token and every refreshed one
/// get 401 `reauth_required` on `/change-email` and `/tf-setup` disable.
#[actix_web::test]
async fn a_refreshed_token_does_not_renew_freshness_after_the_window() {
    let app = refresh_app("3 seconds").await;
    let (email, token, refresh) = token_login_with_second_factor(&app, "refresh-late").await;
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let new_address = new_email("hijack-late");

    // Sanity: the original token is stale now.
    let answer =
        post_with_token(&app, &token, "/change-email", json!({"email": new_address})).await;
    assert!(
        not_reauth("the stale original token", &answer).is_none(),
        "setup: {answer:?}"
    );

    let mut problems = Vec::new();
    let (second, refresh) = refreshed(&app, &refresh).await;
    let answer = post_with_token(
        &app,
        &second,
        "/change-email",
        json!({"email": new_address}),
    )
    .await;
    problems.extend(not_reauth("/change-email with a refreshed token", &answer));
    let (third, _) = refreshed(&app, &refresh).await;
    let answer = post_with_token(&app, &third, "/tf-setup", json!({"setup": "disable"})).await;
    problems.extend(not_reauth(
        "/tf-setup disable with a refreshed token",
        &answer,
    ));
    assert_nothing_changed(&app, &email, &new_address, problems).await;
}

// ---------------------------------------------------------------------------------------
// 3. Tokens die with their session
// ---------------------------------------------------------------------------------------

const API_AGENT: &str = "Api-Client-A/1";

async fn token_app() -> TestApp {
    spawn_app_with(&[
        ("SECURITY_API_ENABLED_METHODS", "session,token"),
        ("SECURITY_REFRESH_TOKEN", "true"),
        ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", ""),
    ])
    .await
}

/// Client A (its own User-Agent) logs in through the API with `?include_auth_token`; client
/// B logs in in a browser. Returns (B, A's token, A's refresh token, A's login handle).
async fn api_login_and_browser(app: &TestApp, email: &str) -> (TestClient, String, String, String) {
    let a = TestClient::with_headers(&app.address, &[("User-Agent", API_AGENT)]);
    let csrf = a.json_csrf_token().await;
    let (status, body) = json(
        a.post_json(
            "/login?include_auth_token",
            &json!({"email": email, "password": PASSWORD}),
            Some(&csrf),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: A's login: {body}");
    let token = body["response"]["user"]["authentication_token"]
        .as_str()
        .unwrap_or_else(|| panic!("setup: no token: {body}"))
        .to_owned();
    let refresh = body["response"]["user"]["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("setup: no refresh token: {body}"))
        .to_owned();
    assert_eq!(
        profile_status(app, &token).await,
        StatusCode::OK,
        "setup: A's token works before"
    );

    let b = app.logged_in_client(email, PASSWORD, false).await;
    let (status, list) = json(b.get_json("/sessions").await).await;
    assert_eq!(status, StatusCode::OK, "setup: B's sessions list: {list}");
    let handle = list["response"]["sessions"]
        .as_array()
        .expect("setup: a sessions list")
        .iter()
        .find(|s| s["user_agent"] == API_AGENT)
        .unwrap_or_else(|| panic!("setup: A's login is not on the sessions page: {list}"))
        ["handle"]
        .as_str()
        .expect("setup: a handle")
        .to_owned();
    (b, token, refresh, handle)
}

async fn profile_status(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{}/profile", app.address))
        .header(ACCEPT, "application/json")
        .header(HEADER, token)
        .send()
        .await
        .expect("GET /profile")
        .status()
}

/// After A's login was ended from the sessions page: A's token and refresh token are dead,
/// B still works.
async fn assert_a_is_out(app: &TestApp, b: &TestClient, token: &str, refresh: &str) {
    let mut problems = Vec::new();
    let status = profile_status(app, token).await;
    if status != StatusCode::UNAUTHORIZED {
        problems.push(format!(
            "A's API token on GET /profile answered {status}, not 401"
        ));
    }
    let (status, body) = json(
        app.client()
            .post_json_via(
                "/login",
                "/refresh-token",
                &json!({"refresh_token": refresh}),
            )
            .await,
    )
    .await;
    if !status.is_client_error() || body["response"]["user"]["authentication_token"].is_string() {
        problems.push(format!(
            "A's refresh token at /refresh-token answered {status}: {body}"
        ));
    }
    assert!(
        problems.is_empty(),
        "A's login was signed out but its tokens live on:\n{}",
        problems.join("\n")
    );
    assert!(b.is_authenticated().await, "B's own session still works");
}

/// Attack: a thief holds an API token and refresh token from the victim's login; the victim
/// uses "Sign out all other sessions". Secure: the tokens issued with those logins (and
/// their refresh families) end with them.
#[actix_web::test]
async fn signing_out_all_other_sessions_ends_their_api_and_refresh_tokens() {
    let app = token_app().await;
    let email = new_email("others-tokens");
    app.create_user(&email, PASSWORD).await;
    let (b, token, refresh, _) = api_login_and_browser(&app, &email).await;

    let csrf = b.csrf_token("/sessions").await;
    let r = b
        .post_form("/sessions/revoke-others", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/sessions"),
        "setup: revoke-others answered {}",
        r.status()
    );
    assert_a_is_out(&app, &b, &token, &refresh).await;
}

/// Attack: as above, but the victim ends only the thief's login with its "Sign out" button
/// (`/sessions/revoke` with that login's handle). Secure: the token and refresh family
/// issued with that login end with it.
#[actix_web::test]
async fn signing_out_one_session_ends_its_api_and_refresh_tokens() {
    let app = token_app().await;
    let email = new_email("one-token");
    app.create_user(&email, PASSWORD).await;
    let (b, token, refresh, handle) = api_login_and_browser(&app, &email).await;

    let csrf = b.csrf_token("/sessions").await;
    let r = b
        .post_form(
            "/sessions/revoke",
            &[("session", &handle), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        r.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/sessions"),
        "setup: revoke answered {}",
        r.status()
    );
    assert_a_is_out(&app, &b, &token, &refresh).await;
}

// ---------------------------------------------------------------------------------------
// 4. Unified sign-in codes under generic responses
// ---------------------------------------------------------------------------------------

/// What an answer shows, with what differs by request alone blanked out.
#[derive(Debug)]
struct Seen {
    status: u16,
    location: Option<String>,
    /// Set-Cookie names and the length of each value.
    cookies: BTreeMap<String, usize>,
    body: String,
}

fn blank_csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(marker) {
        let start = at + marker.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        rest = &rest[rest.find('"').unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

async fn seen(r: Response, address: &str) -> Seen {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    // Compared decoded: the encrypted value is base64, whose `+` and `/` travel
    // percent-encoded, so the encoded length varies at random with the ciphertext.
    let cookies = set_cookies(r.headers())
        .iter()
        .map(|c| {
            let decoded = percent_encoding::percent_decode_str(c.value()).count();
            (c.name().to_owned(), decoded)
        })
        .collect();
    let text = r.text().await.unwrap_or_default();
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(mut j) => {
            if let Some(response) = j.get_mut("response").and_then(Value::as_object_mut) {
                response.remove("csrf_token");
            }
            j.to_string()
        }
        Err(_) => blank_csrf(&text),
    };
    Seen {
        status,
        location,
        cookies,
        body: body.replace(address, "ADDRESS"),
    }
}

/// `/us-signin/send-code` for `address` by a new visitor, as JSON or as the HTML form.
async fn send_code_as(app: &TestApp, address: &str, as_json: bool) -> Seen {
    let c = app.client();
    let r = if as_json {
        let csrf = c.json_csrf_token().await;
        c.post_json(
            "/us-signin/send-code",
            &json!({"identity": address, "chosen_method": "email"}),
            Some(&csrf),
        )
        .await
    } else {
        let csrf = c.csrf_token("/us-signin").await;
        c.post_form(
            "/us-signin/send-code",
            &[
                ("identity", address),
                ("chosen_method", "email"),
                ("csrf_token", &csrf),
            ],
        )
        .await
    };
    seen(r, address).await
}

/// Attack: with generic responses on, ask `/us-signin/send-code` for an address and compare
/// the answer with one for an address without an account: the Set-Cookie headers (an extra
/// one in JSON, a longer session cookie in the form) tell them apart. Secure: status,
/// Location, cookie names, cookie value lengths and blanked body are the same.
#[actix_web::test]
async fn sending_a_signin_code_does_not_reveal_the_account_under_generic_responses() {
    let app = spawn_app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TOTP_SECRETS", "attacks-sessions-us-secret"),
    ])
    .await;
    // Same-length addresses, so that nothing differs by the address's length.
    let known = new_email("known");
    app.create_user(&known, PASSWORD).await;
    app.set_confirmed(&known);
    let owner = app.logged_in_client(&known, PASSWORD, false).await;
    let (status, body) = json(
        owner
            .post_json_via("/us-setup", "/us-setup", &json!({"chosen_method": "email"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: /us-setup: {body}");
    let state = body["response"]["state"]
        .as_str()
        .expect("setup: a state")
        .to_owned();
    let mails = mail_support::wait_for_eml(&app.mail_dir, &known, "Verification Code", 1).await;
    let (status, body) = json(
        owner
            .post_json_via(
                "/us-setup",
                &format!("/us-setup/{state}"),
                &json!({"passcode": six_digits(&mails[0])}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: email codes: {body}");

    let mut problems = Vec::new();
    for as_json in [true, false] {
        let format = if as_json { "JSON" } else { "form" };
        let unknown = new_email("nobdy");
        let with_account = send_code_as(&app, &known, as_json).await;
        let without = send_code_as(&app, &unknown, as_json).await;
        assert!(
            with_account.status < 500 && without.status < 500,
            "setup: {format} answered {} and {}",
            with_account.status,
            without.status
        );
        if with_account.status != without.status {
            problems.push(format!(
                "{format}: status {} (account) vs {} (none)",
                with_account.status, without.status
            ));
        }
        if with_account.location != without.location {
            problems.push(format!(
                "{format}: Location {:?} (account) vs {:?} (none)",
                with_account.location, without.location
            ));
        }
        let names = |s: &Seen| s.cookies.keys().cloned().collect::<Vec<_>>();
        if names(&with_account) != names(&without) {
            problems.push(format!(
                "{format}: Set-Cookie names {:?} (account) vs {:?} (none)",
                names(&with_account),
                names(&without)
            ));
        } else if with_account.cookies != without.cookies {
            problems.push(format!(
                "{format}: Set-Cookie value lengths {:?} (account) vs {:?} (none)",
                with_account.cookies, without.cookies
            ));
        }
        if with_account.body != without.body {
            problems.push(format!(
                "{format}: bodies differ:\n  account: {}\n  none:    {}",
                with_account.body, without.body
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "/us-signin/send-code tells an account from no account:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 5. A mailed second-factor code, presented by copies of the cookie
// ---------------------------------------------------------------------------------------

/// Attack: the pending login lives in the session cookie; copies of it present the one mailed
/// code in parallel (20 at once), and the saved copy replays it after a success. Secure:
/// exactly one completed login; every other attempt and the replay are refused.
#[actix_web::test]
async fn a_mailed_second_factor_code_works_once_whatever_cookie_copy_presents_it() {
    let app = spawn_app_with(&tf_settings(&[("TRUSTED_PROXY_COUNT", "1")])).await;
    let (email, owner) = logged_in_account(&app, "tf-mail-race").await;
    let (status, body) = json(
        owner
            .post_json_via("/tf-setup", "/tf-setup", &json!({"setup": "email"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: /tf-setup email: {body}");
    let state = body["response"]["tf_state_token"]
        .as_str()
        .expect("setup: a state token")
        .to_owned();
    let mails = mail_support::wait_for_eml(&app.mail_dir, &email, TWO_FACTOR_SUBJECT, 1).await;
    let (status, body) = json(
        owner
            .post_json_via(
                "/tf-setup",
                &format!("/tf-setup/{state}"),
                &json!({"code": six_digits(&mails[0])}),
            )
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the email second factor: {body}"
    );

    let pending = app.client();
    let step = password_step_needing_code(&pending, &email, "/login").await;
    assert_eq!(step["tf_method"], "email", "setup: {step}");
    let mails = mail_support::wait_for_eml(&app.mail_dir, &email, TWO_FACTOR_SUBJECT, 2).await;
    let code = six_digits(&mails[1]);
    let (status, page) = json(pending.get_json("/tf-validate").await).await;
    assert_eq!(status, StatusCode::OK, "setup: GET /tf-validate: {page}");
    let csrf = page["response"]["csrf_token"]
        .as_str()
        .expect("setup: a CSRF token")
        .to_owned();
    let cookie = pending.cookie("session").expect("setup: a session cookie");

    // Each copy from its own address, so that no per-address throttle hides the race.
    let copies: Vec<TestClient> = (0..20)
        .map(|i| {
            let c = client_from(&app, &format!("203.0.113.{}", 100 + i));
            c.set_cookie("session", &cookie);
            c
        })
        .collect();
    let answers = futures_util::future::join_all(copies.iter().map(|c| {
        let (code, csrf) = (code.clone(), csrf.clone());
        async move {
            let (status, body) = json(
                c.post_json("/tf-validate", &json!({"code": code}), Some(&csrf))
                    .await,
            )
            .await;
            (status.as_u16(), body)
        }
    }))
    .await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || (400..500).contains(s)),
        "{statuses:?}"
    );
    let mut problems = Vec::new();
    if won != 1 {
        problems.push(format!(
            "{won} of 20 cookie copies logged in with the one code (statuses {statuses:?})"
        ));
    }

    let replay = client_from(&app, "198.51.100.200");
    replay.set_cookie("session", &cookie);
    let (status, body) = json(
        replay
            .post_json("/tf-validate", &json!({"code": code}), Some(&csrf))
            .await,
    )
    .await;
    if status == StatusCode::OK {
        problems.push(format!(
            "the saved cookie copy replayed the used code and logged in: {body}"
        ));
    }
    assert!(
        problems.is_empty(),
        "one mailed code, one login:\n{}",
        problems.join("\n")
    );
    assert!(!replay.is_authenticated().await);
}

// ---------------------------------------------------------------------------------------
// 6. Recovery codes kept in the session
// ---------------------------------------------------------------------------------------

/// Attack: user A generates recovery codes (kept in the session for `show_codes`), then user
/// B logs in in the same browser without logging out, and asks to see "their" codes.
/// Secure: `/mf-recovery-codes?show_codes=true` never shows A's codes to B.
#[actix_web::test]
async fn recovery_codes_shown_from_the_session_belong_to_who_generated_them() {
    let app = spawn_app_with(&tf_settings(&[])).await;
    let (_a, browser) = logged_in_account(&app, "codes-a").await;
    let (status, body) = json(
        browser
            .post_json_via("/mf-recovery-codes", "/mf-recovery-codes", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: A's recovery codes: {body}");
    let codes: Vec<String> = serde_json::from_value(body["response"]["recovery_codes"].clone())
        .expect("setup: a list of codes");
    assert!(!codes.is_empty(), "setup: {body}");

    let b = new_email("codes-b");
    app.create_user(&b, PASSWORD).await;
    let (status, body) = json(browser.login_json(&b, PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "setup: B's login: {body}");
    let (status, who) = json(browser.get_json("/profile").await).await;
    assert_eq!(status, StatusCode::OK, "setup: {who}");
    assert_eq!(
        who["response"]["user"]["email"],
        b.as_str(),
        "setup: B is logged in"
    );

    let (status, shown) = json(browser.get_json("/mf-recovery-codes?show_codes=true").await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: GET /mf-recovery-codes: {shown}"
    );
    let html = browser
        .get("/mf-recovery-codes?show_codes=true")
        .await
        .text()
        .await
        .unwrap_or_default();
    let leaked_json: Vec<&String> = codes
        .iter()
        .filter(|c| shown.to_string().contains(c.as_str()))
        .collect();
    let leaked_html: Vec<&String> = codes.iter().filter(|c| html.contains(c.as_str())).collect();
    assert!(
        leaked_json.is_empty() && leaked_html.is_empty(),
        "B sees A's recovery codes: {} in JSON, {} in HTML ({shown})",
        leaked_json.len(),
        leaked_html.len()
    );
}

// ---------------------------------------------------------------------------------------
// 7. "Remember this browser" and a new authenticator
// ---------------------------------------------------------------------------------------

/// Attack: a browser remembered for the second factor (`tf_validity`) keeps skipping it
/// after the owner sets up a new authenticator (e.g. because the old one was lost or
/// copied). Secure: a new authenticator ends every remembered browser.
#[actix_web::test]
async fn a_remembered_browser_must_give_the_code_after_a_new_authenticator() {
    let app = spawn_app_with(&tf_settings(&[(
        "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE",
        "false",
    )]))
    .await;
    let (email, owner) = logged_in_account(&app, "tf-remembered").await;
    let key = set_up_authenticator(&owner).await;

    let browser = app.client();
    password_step_needing_code(&browser, &email, "/login").await;
    let r = browser
        .post_json_via(
            "/tf-validate",
            "/tf-validate",
            &json!({"code": code_at(&key, now() - 30), "remember_device": true}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "setup: the code with remember_device"
    );
    let validity = common::set_cookie(r.headers(), "tf_validity")
        .expect("setup: a tf_validity cookie")
        .value()
        .to_owned();
    // Sanity: the cookie skips the second factor now.
    let check = app.client();
    check.set_cookie("tf_validity", &validity);
    let (status, body) = json(check.login_json(&email, PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "setup: {body}");
    assert_eq!(
        body["response"]["tf_required"], false,
        "setup: the remembered browser skips the code: {body}"
    );

    // The owner sets up a new authenticator.
    let new_key = set_up_authenticator(&owner).await;
    assert_ne!(new_key.base32(), key.base32(), "setup: a new key");

    let returning = app.client();
    returning.set_cookie("tf_validity", &validity);
    let (status, body) = json(returning.login_json(&email, PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "setup: the password step: {body}");
    assert_eq!(
        body["response"]["tf_required"], true,
        "a browser remembered before the new authenticator skipped the second factor: {body}"
    );
    assert!(!returning.is_authenticated().await);
}

/// Attack: a saved copy of the cookie of a pending login that has since completed, sent with
/// a new, valid authenticator code (another time step, so the code itself was never used):
/// the copy logs in a second browser. Secure: a pending login completes once, in the
/// database, whatever copies of its cookie exist.
#[actix_web::test]
async fn a_pending_login_completes_once_whatever_cookie_copy_presents_it() {
    let app = spawn_app_with(&tf_settings(&[])).await;
    let (email, owner) = logged_in_account(&app, "tf-pending-copy").await;
    let key = set_up_authenticator(&owner).await;
    let pending = app.client();
    password_step_needing_code(&pending, &email, "/login").await;
    let (status, page) = json(pending.get_json("/tf-validate").await).await;
    assert_eq!(status, StatusCode::OK, "setup: GET /tf-validate: {page}");
    let csrf = page["response"]["csrf_token"]
        .as_str()
        .expect("setup: a CSRF token")
        .to_owned();
    let cookie = pending.cookie("session").expect("setup: a session cookie");
    let (status, body) = json(send_tf_code(&pending, &code_at(&key, now())).await).await;
    assert_eq!(status, StatusCode::OK, "setup: the login completes: {body}");
    assert!(pending.is_authenticated().await, "setup: logged in");

    let copy = app.client();
    copy.set_cookie("session", &cookie);
    let next_step = code_at(&key, now() + 30);
    let (status, body) = json(
        copy.post_json("/tf-validate", &json!({"code": next_step}), Some(&csrf))
            .await,
    )
    .await;
    assert!(
        status.is_client_error(),
        "the copy of a completed pending login logged in again ({status}): {body}"
    );
    assert!(!copy.is_authenticated().await, "the copy is not logged in");
}
