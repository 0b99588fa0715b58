//! Attacks on account recovery and on the messages that prove a mailbox or a phone: the
//! "this wasn't me" link of a change of email address, the ways in an intruder leaves
//! behind, a passkey sign-up that squats an address, and the forms that send codes and
//! rescue mails. Each test runs the attack and asserts the secure outcome; the tests named
//! as controls document what must keep working.

use crate::common;
use crate::mail_support;

use std::time::{Duration, Instant};

use common::passkey::SoftPasskey;
use common::{new_email, set_up_authenticator, spawn_app_with, TestApp, TestClient, PASSWORD};
use latchkey::auth::totp::{code_at, TotpSecret};
use mail_support::{eml_messages, eml_messages_to, wait_for_eml};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const CONFIRM_SUBJECT: &str = "Confirm your new email address";
const NOTICE_SUBJECT: &str = "Your email address has been changed";
const RESET_SUBJECT: &str = "Password reset instructions";
const TWO_FACTOR_SUBJECT: &str = "Two-Factor Login";
const US_CODE_SUBJECT: &str = "Verification Code";
/// Today's answer to a dead "this wasn't me" link (`CHANGE_EMAIL_REVERT_INVALID`).
const REVERT_INVALID: &str = "This link is not valid, has expired, or was already used.";
const NEW_PASSWORD: &str = "a-brand-new-one-5";

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A JSON POST to `path` with the CSRF token of the JSON GET of `token_from`.
async fn post(c: &TestClient, token_from: &str, path: &str, body: Value) -> (StatusCode, Value) {
    json(c.post_json_via(token_from, path, &body).await).await
}

/// A new account (through the registration form) and a browser logged in to it.
async fn account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (email, c)
}

/// Asks (from the logged-in `c`) to move the account to `new`; returns the link mailed there.
async fn change_link(app: &TestApp, c: &TestClient, new: &str) -> String {
    let (status, body) = post(c, "/change-email", "/change-email", json!({ "email": new })).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: asking for {new} failed: {body}"
    );
    let mails = wait_for_eml(&app.mail_dir, new, CONFIRM_SUBJECT, 1).await;
    mails[0].link_path("/change-email/")
}

/// Opens the confirmation link in `c`; asserts the account moved to `new`.
async fn open_change_link(app: &TestApp, c: &TestClient, link: &str, new: &str) {
    let r = c.get(link).await;
    assert_eq!(
        common::location(&r).as_deref(),
        Some("/"),
        "setup: the confirmation link to {new} did not switch the account"
    );
    assert_eq!(
        app.find_user(new).and_then(|u| u.email).as_deref(),
        Some(new),
        "setup: the account does not have {new}"
    );
}

/// The "this wasn't me" link (its path) in the notice mailed to `old`.
async fn revert_link(app: &TestApp, old: &str) -> String {
    wait_for_eml(&app.mail_dir, old, NOTICE_SUBJECT, 1).await[0].link_path("/change-email/revert/")
}

/// A password login (JSON) that stops at the second factor; the half-logged-in browser.
async fn password_step_expecting_second_factor(
    app: &TestApp,
    email: &str,
    password: &str,
) -> TestClient {
    let c = app.client();
    let (status, body) = post(
        &c,
        "/login",
        "/login",
        json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: password step of {email}: {body}"
    );
    assert_eq!(
        body["response"]["tf_required"], true,
        "setup: {email} should need a second factor: {body}"
    );
    c
}

/// A full login with the password and an authenticator code. The code is two time steps
/// ahead (within the 120 s window): always a later step than the one the setup used, since
/// a code works once.
async fn login_with_authenticator(
    app: &TestApp,
    email: &str,
    password: &str,
    key: &TotpSecret,
) -> TestClient {
    let c = password_step_expecting_second_factor(app, email, password).await;
    let code = code_at(key, now() + 60);
    let (status, body) = post(&c, "/tf-validate", "/tf-validate", json!({"code": code})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the authenticator code was refused: {body}"
    );
    assert!(
        c.is_authenticated().await,
        "setup: not logged in after the code"
    );
    c
}

// -- Passkeys --------------------------------------------------------------------------

/// The two steps that make a passkey at `page` (`/wan-register`, `/wan-signup`).
async fn make_passkey(app: &TestApp, c: &TestClient, page: &str, body: Value) -> SoftPasskey {
    let (status, begun) = post(c, page, page, body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: {page} did not begin: {begun}"
    );
    let mut key = SoftPasskey::new(&app.address);
    let answer = key.create(&begun["response"]["credential_options"]);
    let state = begun["response"]["wan_state"]
        .as_str()
        .expect("setup: wan_state")
        .to_owned();
    let (status, finished) = post(
        c,
        page,
        &format!("{page}/{state}"),
        json!({"credential": answer.to_string()}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: {page} did not finish: {finished}"
    );
    key
}

/// A discoverable passkey sign-in with `key` in a new browser: the answer, and whether the
/// browser is logged in afterwards.
async fn passkey_signin(app: &TestApp, key: &mut SoftPasskey) -> (StatusCode, Value, bool) {
    let s = app.client();
    let (status, begun) = post(&s, "/wan-signin", "/wan-signin", json!({})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: /wan-signin did not begin: {begun}"
    );
    let options = begun["response"]["credential_options"].clone();
    let state = begun["response"]["wan_state"]
        .as_str()
        .expect("setup: wan_state")
        .to_owned();
    let answer = key.get(&options);
    let (status, body) = post(
        &s,
        "/wan-signin",
        &format!("/wan-signin/{state}"),
        json!({"credential": answer.to_string()}),
    )
    .await;
    (status, body, s.is_authenticated().await)
}

// -- Counting messages -------------------------------------------------------------------

/// The text messages written to `dir`, once no new one has appeared for 300 ms.
async fn settled_texts(dir: &std::path::Path) -> usize {
    let count = || {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()).count())
            .unwrap_or(0)
    };
    let mut last = count();
    let mut stable_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stable_since.elapsed() < Duration::from_millis(300) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = count();
        if n != last {
            last = n;
            stable_since = Instant::now();
        }
    }
    last
}

/// Every mail delivered to `to` (any subject), once the outbox is empty.
async fn delivered_to(app: &TestApp, to: &str) -> usize {
    app.mail_settled().await;
    eml_messages(&app.mail_dir)
        .iter()
        .filter(|m| m.is_to(to))
        .count()
}

/// The mails with `subject` delivered to `to`, once the outbox is empty.
async fn delivered(app: &TestApp, to: &str, subject: &str) -> usize {
    app.mail_settled().await;
    eml_messages_to(&app.mail_dir, to, subject).len()
}

// ---------------------------------------------------------------------------------------
// 1. The "this wasn't me" link
// ---------------------------------------------------------------------------------------

async fn change_email_app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// The owner (authenticator as second factor) moves the account from A to B, then signs in
/// again with the password and an authenticator code, a factor mailbox A never had, and
/// changes the password. Whoever holds mailbox A then uses the "this wasn't me" link mailed
/// to A: it must be dead, so a stolen old mailbox cannot take the account back.
#[actix_web::test]
async fn the_old_mailbox_loses_the_revert_once_the_owner_proves_a_second_factor() {
    let app = change_email_app(&[]).await;
    let (old, first_login) = account(&app, "owner-a").await;
    let key = set_up_authenticator(&first_login).await;

    // The owner moves the account to B; the link is opened in B's mail client (no login):
    // every login ends at the switch.
    let new = new_email("owner-b");
    let link = change_link(&app, &first_login, &new).await;
    open_change_link(&app, &app.client(), &link, &new).await;
    assert!(
        !first_login.is_authenticated().await,
        "setup: the switch should end every login"
    );
    let revert = revert_link(&app, &old).await;

    // The owner proves the second factor at B, and changes the password.
    let owner = login_with_authenticator(&app, &new, PASSWORD, &key).await;
    let (status, body) = post(
        &owner,
        "/change",
        "/change",
        json!({"password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the password change failed: {body}"
    );
    assert!(
        owner.is_authenticated().await,
        "setup: the owner stays logged in"
    );
    let account_id = app.user(&new).id;
    app.mail_settled().await;
    let resets_before = eml_messages_to(&app.mail_dir, &old, RESET_SUBJECT).len();

    // The attack: mailbox A's holder opens the link and confirms.
    let holder_of_a = app.client();
    let (page_status, page) = json(holder_of_a.get_json(&revert).await).await;
    let (post_status, posted) = post(&holder_of_a, &revert, &revert, json!({})).await;

    let mut wrong = Vec::new();
    if page_status != StatusCode::BAD_REQUEST || page["response"]["errors"][0] != REVERT_INVALID {
        wrong.push(format!("GET of the revert link answered {page_status} {page} (expected 400 {REVERT_INVALID:?})"));
    }
    if post_status != StatusCode::BAD_REQUEST || posted["response"]["errors"][0] != REVERT_INVALID {
        wrong.push(format!("POST of the revert link answered {post_status} {posted} (expected 400 {REVERT_INVALID:?})"));
    }
    let email_now = app
        .users()
        .into_iter()
        .find(|u| u.id == account_id)
        .and_then(|u| u.email);
    if email_now.as_deref() != Some(new.as_str()) {
        wrong.push(format!("the account's address is now {email_now:?}, not B"));
    }
    let resets = delivered(&app, &old, RESET_SUBJECT).await - resets_before;
    if resets != 0 {
        wrong.push(format!(
            "{resets} password reset mail(s) went to the old mailbox A"
        ));
    }
    if !owner.is_authenticated().await {
        wrong.push("the owner's session ended".to_owned());
    }
    assert!(
        wrong.is_empty(),
        "the old mailbox still took the account back after the owner proved a second factor: {}",
        wrong.join("; ")
    );
}

/// Control: a hijacker holding the owner's logged-in session (no second factor proven
/// since the change) moves the account to B and changes the password with the known one.
/// The owner's "this wasn't me" link at A must still work: address A back, every login
/// ended, a reset mailed to A.
#[actix_web::test]
async fn a_revert_still_works_when_nobody_proved_a_second_factor_since() {
    let app = change_email_app(&[]).await;
    let (old, setup_login) = account(&app, "ctl-owner").await;
    let key = set_up_authenticator(&setup_login).await;
    // The owner's full login (password and code, before the change): the hijacker holds it.
    let hijacked = login_with_authenticator(&app, &old, PASSWORD, &key).await;

    let thief_address = new_email("ctl-thief");
    let link = change_link(&app, &hijacked, &thief_address).await;
    open_change_link(&app, &hijacked, &link, &thief_address).await;
    assert!(
        hijacked.is_authenticated().await,
        "setup: the browser that opened the link stays logged in"
    );
    let (status, body) = post(
        &hijacked,
        "/change",
        "/change",
        json!({"password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the hijacker's password change failed: {body}"
    );
    let revert = revert_link(&app, &old).await;

    let owner = app.client();
    let page = owner.get(&revert).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Lock my account"),
        "the revert page must ask: {page}"
    );
    let r = owner.submit(&revert, &[]).await;
    assert_eq!(
        common::location(&r).as_deref(),
        Some("/login"),
        "the revert must go through"
    );
    assert_eq!(
        app.find_user(&old).and_then(|u| u.email).as_deref(),
        Some(old.as_str()),
        "address A is back"
    );
    assert!(app.find_user(&thief_address).is_none());
    assert!(
        !hijacked.is_authenticated().await,
        "the hijacker's login ended"
    );
    assert_eq!(app.count_login_sessions(), 0, "every login ended");
    wait_for_eml(&app.mail_dir, &old, RESET_SUBJECT, 1).await;
}

// ---------------------------------------------------------------------------------------
// 2. What a revert leaves of an intruder
// ---------------------------------------------------------------------------------------

/// An intruder with the owner's session adds a first-factor passkey and an authenticator
/// sign-in method, then moves the account to the intruder's address. The owner's "this
/// wasn't me" link must take those ways in away too: afterwards neither the intruder's
/// passkey nor the intruder's authenticator code signs in.
#[actix_web::test]
async fn a_revert_removes_the_intruders_ways_in() {
    let app = spawn_app_with(&[
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_WAN_ALLOW_AS_FIRST_FACTOR", "true"),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        (
            "SECURITY_US_ENABLED_METHODS",
            "password,email,authenticator",
        ),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;
    let (old, intruder) = account(&app, "ways-owner").await;

    // The intruder's passkey, as a first factor.
    let mut passkey = make_passkey(
        &app,
        &intruder,
        "/wan-register",
        json!({"name": "intruder", "usage": "first"}),
    )
    .await;
    // The intruder's authenticator, as a sign-in method.
    let (status, body) = post(
        &intruder,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "authenticator"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: /us-setup authenticator: {body}"
    );
    let key = TotpSecret::from_base32(
        body["response"]["authr_b32key"]
            .as_str()
            .expect("setup: authr_b32key"),
    )
    .expect("setup: the key");
    let state = body["response"]["state"]
        .as_str()
        .expect("setup: state")
        .to_owned();
    let (status, body) = post(
        &intruder,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code_at(&key, now())}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the authenticator was not set up: {body}"
    );

    // The move to the intruder's address.
    let intruders_address = new_email("ways-intruder");
    let link = change_link(&app, &intruder, &intruders_address).await;
    open_change_link(&app, &intruder, &link, &intruders_address).await;

    // The owner takes the account back.
    let revert = revert_link(&app, &old).await;
    let r = app.client().submit(&revert, &[]).await;
    assert_eq!(
        common::location(&r).as_deref(),
        Some("/login"),
        "setup: the revert did not go through"
    );
    assert_eq!(
        app.find_user(&old).and_then(|u| u.email).as_deref(),
        Some(old.as_str()),
        "setup: address A should be back"
    );

    // The attack: the intruder's ways in.
    let mut wrong = Vec::new();
    let (status, body, logged_in) = passkey_signin(&app, &mut passkey).await;
    if status == StatusCode::OK || logged_in {
        wrong.push(format!(
            "the intruder's passkey signed in ({status}, logged in: {logged_in}): {body}"
        ));
    }
    let s = app.client();
    let (status, body) = post(
        &s,
        "/us-signin",
        "/us-signin",
        json!({"identity": old, "passcode": code_at(&key, now() + 30)}),
    )
    .await;
    let logged_in = s.is_authenticated().await;
    if status == StatusCode::OK || logged_in {
        wrong.push(format!(
            "the intruder's authenticator code signed in at /us-signin ({status}, logged in: \
             {logged_in}): {body}"
        ));
    }
    assert!(
        wrong.is_empty(),
        "the revert left the intruder's ways in: {}",
        wrong.join("; ")
    );
}

// ---------------------------------------------------------------------------------------
// 3. A passkey sign-up that squats an address
// ---------------------------------------------------------------------------------------

/// A squatter signs up with a passkey and the victim's address (no confirmation). The
/// victim, refused at /register, proves the mailbox with a password reset and logs in.
/// That first proof of the mailbox must remove the squatter's passkey: it no longer signs
/// in.
#[actix_web::test]
async fn the_first_proof_of_the_mailbox_removes_a_squatters_passkey() {
    let app = spawn_app_with(&[
        ("SECURITY_REGISTERABLE", "true"),
        ("SECURITY_CONFIRMABLE", "false"),
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_WAN_ALLOW_AS_FIRST_FACTOR", "true"),
        ("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
    ])
    .await;
    let victims_address = new_email("squatted");

    // The squatter's sign-up, with a passkey and no password.
    let squatter = app.client();
    let mut passkey = make_passkey(
        &app,
        &squatter,
        "/wan-signup",
        json!({"email": victims_address, "name": "squatter"}),
    )
    .await;
    assert_eq!(
        app.user(&victims_address).password_hash(),
        None,
        "setup: a passkey-only account"
    );

    // The victim cannot register the address...
    let r = app.client().register(&victims_address, PASSWORD).await;
    let page = common::assert_form_rejected(r).await;
    assert!(
        page.contains("is already associated with an account"),
        "setup: /register should refuse the taken address: {page}"
    );
    // ...so proves the mailbox with a password reset, and logs in.
    let r = app
        .client()
        .submit("/reset", &[("email", &victims_address)])
        .await;
    assert_eq!(r.status(), StatusCode::OK, "setup: /reset refused");
    let reset = wait_for_eml(&app.mail_dir, &victims_address, RESET_SUBJECT, 1).await[0]
        .link_path("/reset/");
    let r = app
        .client()
        .submit(
            &reset,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        common::location(&r).as_deref(),
        Some("/login"),
        "setup: the reset link did not set the password"
    );
    app.logged_in_client(&victims_address, NEW_PASSWORD, false)
        .await;

    // The attack: the squatter's passkey.
    let (status, body, logged_in) = passkey_signin(&app, &mut passkey).await;
    assert!(
        status != StatusCode::OK && !logged_in,
        "the squatter's passkey still signs in to the victim's account after the victim \
         proved the mailbox ({status}, logged in: {logged_in}): {body}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Budgets of the forms that send codes
// ---------------------------------------------------------------------------------------

const SUPPORT: &str = "support@example.com";
/// A valid number of the attacker's choosing, never verified by the account.
const VICTIM_PHONE: &str = "+1 650 555 0100";

/// From one logged-in account, 30 text-message setups at /tf-setup and 30 at /us-setup,
/// all to a number the account never verified (someone else's phone, to pester or to bill
/// for). At most 3 texts go out in all (per account and window), at least 1, and the
/// requests past the limit are answered 429.
#[actix_web::test]
async fn sending_codes_is_budgeted_per_account_and_destination() {
    let sms = tempfile::tempdir().expect("setup: a folder for texts");
    let sms_path = sms.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
        (
            "SECURITY_TWO_FACTOR_ENABLED_METHODS",
            "email,authenticator,sms",
        ),
        ("SMS_OUTBOX_DIR", &sms_path),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,sms,email"),
        ("SECURITY_TWO_FACTOR_RESCUE_MAIL", SUPPORT),
    ])
    .await;
    let (_, c) = account(&app, "texter").await;

    let mut statuses = Vec::new();
    for i in 0..30 {
        let (status, body) = post(
            &c,
            "/tf-setup",
            "/tf-setup",
            json!({"setup": "sms", "phone": VICTIM_PHONE}),
        )
        .await;
        if i == 0 {
            assert_eq!(
                status,
                StatusCode::OK,
                "setup: the first /tf-setup sms: {body}"
            );
        }
        statuses.push(("/tf-setup", status));
    }
    for _ in 0..30 {
        let (status, _) = post(
            &c,
            "/us-setup",
            "/us-setup",
            json!({"chosen_method": "sms", "phone": VICTIM_PHONE}),
        )
        .await;
        statuses.push(("/us-setup", status));
    }
    let texts = settled_texts(sms.path()).await;
    let ok = statuses
        .iter()
        .filter(|(_, s)| *s == StatusCode::OK)
        .count();
    let refused = statuses
        .iter()
        .filter(|(_, s)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let other: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| *s != StatusCode::OK && *s != StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        (1..=3).contains(&texts) && ok <= 3 && refused == statuses.len() - ok && other.is_empty(),
        "60 setups to an unverified number: {texts} text(s) sent (expected 1..=3), {ok} \
         answered 200 (expected at most 3), {refused} answered 429 (expected all the others); \
         other answers: {other:?}"
    );
}

/// A user with an authenticator second factor, halfway through a login (password only),
/// asks support for help 30 times and for a mailed rescue code 30 times, interleaved. At
/// most 10 mails reach support and at most 10 rescue codes reach the user (a per-account
/// budget per window), at least one of each, and no answer is a 5xx.
#[actix_web::test]
async fn help_and_rescue_mails_are_budgeted() {
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
        ("SECURITY_TWO_FACTOR_RESCUE_MAIL", SUPPORT),
    ])
    .await;
    let (email, c) = account(&app, "rescued").await;
    set_up_authenticator(&c).await;
    let pending = password_step_expecting_second_factor(&app, &email, PASSWORD).await;
    let support_before = delivered_to(&app, SUPPORT).await;
    let codes_before = delivered(&app, &email, TWO_FACTOR_SUBJECT).await;

    let mut server_errors = Vec::new();
    for i in 0..30 {
        for how in ["help", "email"] {
            let (status, body) = post(
                &pending,
                "/tf-rescue",
                "/tf-rescue",
                json!({"help_setup": how}),
            )
            .await;
            if i == 0 {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "setup: the first {how} rescue: {body}"
                );
            }
            if status.is_server_error() {
                server_errors.push(format!("{how}: {status}"));
            }
        }
    }
    let to_support = delivered_to(&app, SUPPORT).await - support_before;
    let codes = delivered(&app, &email, TWO_FACTOR_SUBJECT).await - codes_before;
    assert!(
        (1..=10).contains(&to_support) && (1..=10).contains(&codes) && server_errors.is_empty(),
        "30 + 30 rescue requests: {to_support} mail(s) to support (expected 1..=10), {codes} \
         rescue code mail(s) to the user (expected 1..=10), server errors: {server_errors:?}"
    );
}

/// A logged-in user with codes by email asks /us-verify/send-code 30 times: at most 10 mails
/// go out (a per-account budget per window), at least one, and no answer is a 5xx.
#[actix_web::test]
async fn us_verify_send_code_is_budgeted() {
    let app = spawn_app_with(&[
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
    ])
    .await;
    let (email, c) = account(&app, "reverified").await;
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "email"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: /us-setup email: {body}");
    let state = body["response"]["state"]
        .as_str()
        .expect("setup: state")
        .to_owned();
    let mail = &wait_for_eml(&app.mail_dir, &email, US_CODE_SUBJECT, 1).await[0];
    let text = mail.part("text/plain").expect("setup: a text part");
    let code = text
        .split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("setup: a code in the setup mail")
        .to_owned();
    let (status, body) = post(
        &c,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the email method was not set up: {body}"
    );
    let before = delivered(&app, &email, US_CODE_SUBJECT).await;

    let mut server_errors = Vec::new();
    for i in 0..30 {
        let (status, body) = post(
            &c,
            "/us-verify",
            "/us-verify/send-code",
            json!({"chosen_method": "email"}),
        )
        .await;
        if i == 0 {
            assert_eq!(status, StatusCode::OK, "setup: the first send-code: {body}");
        }
        if status.is_server_error() {
            server_errors.push(status);
        }
    }
    let sent = delivered(&app, &email, US_CODE_SUBJECT).await - before;
    assert!(
        (1..=10).contains(&sent) && server_errors.is_empty(),
        "30 × /us-verify/send-code: {sent} mail(s) sent (expected 1..=10), server errors: \
         {server_errors:?}"
    );
}

/// Attack: a stranger asks `/us-signin/send-code` for the owner's address from many client
/// addresses, hoping to spend the account's sending budget so that the owner's own
/// second-factor code is withheld at their next login. Secure: anonymous code requests go by
/// the mail forms' limits (per client, the mailbox cap), never by the account's sending
/// budget; the owner's login code still goes out.
#[actix_web::test]
async fn a_stranger_cannot_spend_the_owners_sending_budget() {
    let app = spawn_app_with(&[
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "attacks-recovery-secret"),
        ("TRUSTED_PROXY_COUNT", "1"),
    ])
    .await;
    let (email, c) = account(&app, "budget-owner").await;
    // Email sign-in codes, and an email second factor.
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "email"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "setup: /us-setup email: {body}");
    let state = body["response"]["state"]
        .as_str()
        .expect("setup: state")
        .to_owned();
    let mail = &wait_for_eml(&app.mail_dir, &email, US_CODE_SUBJECT, 1).await[0];
    let code = six_digits_of(mail);
    let (status, body) = post(
        &c,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the email sign-in method: {body}"
    );
    let (status, body) = post(&c, "/tf-setup", "/tf-setup", json!({"setup": "email"})).await;
    assert_eq!(status, StatusCode::OK, "setup: /tf-setup email: {body}");
    let token = body["response"]["tf_state_token"]
        .as_str()
        .expect("setup: token")
        .to_owned();
    let mail = &wait_for_eml(&app.mail_dir, &email, TWO_FACTOR_SUBJECT, 1).await[0];
    let code = six_digits_of(mail);
    let (status, body) = post(
        &c,
        "/tf-setup",
        &format!("/tf-setup/{token}"),
        json!({"code": code}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the email second factor: {body}"
    );

    // The stranger, from 12 addresses.
    for i in 0..12 {
        let s = TestClient::with_headers(
            &app.address,
            &[("X-Forwarded-For", &format!("198.51.100.{}", 10 + i))],
        );
        let csrf = s.json_csrf_token().await;
        let r = s
            .post_json(
                "/us-signin/send-code",
                &json!({"identity": email, "chosen_method": "email"}),
                Some(&csrf),
            )
            .await;
        assert!(
            !r.status().is_server_error(),
            "the stranger's request {i}: {}",
            r.status()
        );
    }
    let before = delivered(&app, &email, TWO_FACTOR_SUBJECT).await;

    // The owner logs in from their own address: the second factor's code goes out.
    let owner = TestClient::with_headers(&app.address, &[("X-Forwarded-For", "203.0.113.5")]);
    let (status, body) = post(
        &owner,
        "/login",
        "/login",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setup: the owner's password step: {body}"
    );
    assert_eq!(body["response"]["tf_required"], true, "setup: {body}");
    let after = delivered(&app, &email, TWO_FACTOR_SUBJECT).await;
    assert_eq!(
        after - before,
        1,
        "the owner's login code was withheld after a stranger's sign-in code requests"
    );
}

fn six_digits_of(mail: &mail_support::Received) -> String {
    let text = mail.part("text/plain").unwrap_or_else(|| mail.data.clone());
    text.split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code in the mail")
        .to_owned()
}
