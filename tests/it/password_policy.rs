//! The password policy (ASVS V2.1) over HTTP, on every form that sets a password: register
//! (form and JSON), reset and change. One app turns every rule on — a 12-character
//! minimum, zxcvbn at Flask-Security's default score 3 with the account's own words, and
//! the offline common-password list — and each case below trips exactly one rule. The CLI
//! applies the same rules (`tests/it/cli.rs`).

use crate::common;
use crate::mail_support;

use common::{
    assert_form_rejected, assert_json_error, form_errors, new_email, spawn_app_with, TestApp,
};
use mail_support::wait_for_eml;
use reqwest::StatusCode;
use serde_json::json;

/// Long, uncommon, and scored 3+ by zxcvbn.
const STRONG: &str = "violet-anchor-93-drum";
const STRONG_2: &str = "пароль-🔑-mossy-kettle-71";

const TOO_SHORT: &str = "Password must be at least 12 characters";
const TOO_LONG: &str = "Password must be at most 128 characters";
const BREACHED: &str = "Password on breached list";
const TOO_SIMPLE: &str = "Password not complex enough";

const POLICY: &[(&str, &str)] = &[
    ("SECURITY_PASSWORD_LENGTH_MIN", "12"),
    ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
    ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
    ("SECURITY_RECOVERABLE", "true"),
    ("SECURITY_CHANGEABLE", "true"),
];

async fn policy_app() -> TestApp {
    spawn_app_with(POLICY).await
}

/// Refused passwords for the account `email`, each with the one message it must get.
fn refused_cases(email: &str) -> Vec<(String, &'static str)> {
    vec![
        ("eleven-char".to_owned(), TOO_SHORT),
        ("🔑".repeat(11), TOO_SHORT),
        (
            format!("{STRONG}{}", "x".repeat(129 - STRONG.len())),
            TOO_LONG,
        ),
        // On Django's list (and at least 12 long, so only the list refuses it).
        ("telechargement".to_owned(), BREACHED),
        ("TeleChargement".to_owned(), BREACHED),
        ("1qaz2wsx3edc".to_owned(), BREACHED),
        // Not on the list, long enough, but guessable.
        ("abcdefghijklmnop".to_owned(), TOO_SIMPLE),
        ("aaaaaaaaaaaaaaaa".to_owned(), TOO_SIMPLE),
        // Strong on its own (random hex in it), weak as the user's own email.
        (email.to_owned(), TOO_SIMPLE),
    ]
}

/// The rules are on the page before the first try: beside every new-password field (register,
/// change, reset) and the username field, tied to the field for screen readers.
#[actix_web::test]
async fn the_rules_are_hints_before_the_first_submit() {
    let mut settings = POLICY.to_vec();
    settings.push(("SECURITY_USERNAME_ENABLE", "true"));
    let app = spawn_app_with(&settings).await;
    let rules = "Use at least 12 characters. Avoid common words, names and patterns. \
                 Passwords known from data breaches are refused.";
    let html = app.client().get("/register").await.text().await.unwrap();
    assert!(
        html.contains(&format!(
            r#"<p class="hint" id="password-hint">{rules}</p>"#
        )),
        "{html}"
    );
    assert!(
        html.contains(r#"aria-describedby="password-hint""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p class="hint" id="username-hint">4 to 32 letters or digits.</p>"#),
        "{html}"
    );
    // With errors, the field names both the hint and the errors.
    let body = app
        .client()
        .register(&new_email("hint"), "short")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(r#"aria-describedby="password-hint password-errors""#),
        "{body}"
    );

    let email = new_email("hinted");
    app.create_user(&email, STRONG).await;
    let browser = app.logged_in_client(&email, STRONG, false).await;
    let html = browser.get("/change").await.text().await.unwrap();
    assert!(html.contains(r#"id="new_password-hint""#), "{html}");
    assert!(html.contains(rules), "{html}");

    // Without a strength check or the list, only the length is promised, in German too.
    let plain = common::spawn_app().await;
    let html = plain.client().get("/register").await.text().await.unwrap();
    assert!(
        html.contains(r#"<p class="hint" id="password-hint">Use at least 8 characters.</p>"#),
        "{html}"
    );
    let client = plain.client();
    let german = client
        .http
        .get(client.url("/register"))
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(german.contains("Mindestens 8 Zeichen."), "{german}");
}

#[actix_web::test]
async fn register_form_applies_every_rule() {
    let app = policy_app().await;
    let email = new_email("gwendolyn");
    for (password, expected) in refused_cases(&email) {
        let browser = app.client();
        let body = assert_form_rejected(browser.register(&email, &password).await).await;
        assert_eq!(form_errors(&body), [expected], "{password:?}");
        assert!(app.find_user(&email).is_none(), "{password:?}");
    }
    // The user's email is only weak for that user: another account may use it.
    let other = new_email("other");
    app.create_user(&other, &email).await;
    app.create_user(&email, STRONG_2).await;
    app.logged_in_client(&email, STRONG_2, false).await;
}

#[actix_web::test]
async fn register_json_applies_every_rule_on_the_password_field() {
    let app = policy_app().await;
    let email = new_email("json");
    let browser = app.client();
    let csrf = browser.json_csrf_token().await;
    for (password, expected) in refused_cases(&email) {
        let r = browser
            .post_json(
                "/register",
                &json!({"email": email, "password": password, "password_confirm": password}),
                Some(&csrf),
            )
            .await;
        let j = assert_json_error(r, 400).await;
        assert_eq!(
            j["response"]["field_errors"]["password"],
            json!([expected]),
            "{password:?}: {j}"
        );
    }
    let r = browser
        .post_json(
            "/register",
            &json!({"email": email, "password": STRONG, "password_confirm": STRONG}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.find_user(&email).is_some());
}

#[actix_web::test]
async fn reset_applies_every_rule_and_keeps_the_link_alive_until_accepted() {
    let app = policy_app().await;
    let email = new_email("reset");
    app.create_user(&email, STRONG).await;
    app.client().submit("/reset", &[("email", &email)]).await;
    let mails = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let path = mails[0].link_path("/reset/");
    let hash_before = app.user(&email).password;

    for (password, expected) in refused_cases(&email) {
        let browser = app.client();
        let r = browser
            .submit(
                &path,
                &[("password", &password), ("password_confirm", &password)],
            )
            .await;
        let body = assert_form_rejected(r).await;
        assert_eq!(form_errors(&body), [expected], "{password:?}");
    }
    assert_eq!(app.user(&email).password, hash_before);

    let r = app
        .client()
        .submit(
            &path,
            &[("password", STRONG_2), ("password_confirm", STRONG_2)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    app.logged_in_client(&email, STRONG_2, false).await;
}

#[actix_web::test]
async fn change_applies_every_rule_to_the_new_password() {
    let app = policy_app().await;
    let email = new_email("change");
    app.create_user(&email, STRONG).await;
    let browser = app.logged_in_client(&email, STRONG, false).await;

    for (password, expected) in refused_cases(&email) {
        let r = browser.change_password(STRONG, &password).await;
        let body = assert_form_rejected(r).await;
        assert_eq!(form_errors(&body), [expected], "{password:?}");
    }
    let r = browser.change_password(STRONG, STRONG_2).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    app.logged_in_client(&email, STRONG_2, false).await;
}

#[actix_web::test]
async fn change_json_names_the_new_password_field() {
    let app = policy_app().await;
    let email = new_email("changejson");
    app.create_user(&email, STRONG).await;
    let browser = app.logged_in_client(&email, STRONG, false).await;
    let csrf = browser.json_csrf_token().await;
    let r = browser
        .post_json(
            "/change",
            &json!({"password": STRONG, "new_password": "telechargement",
                    "new_password_confirm": "telechargement"}),
            Some(&csrf),
        )
        .await;
    let j = assert_json_error(r, 400).await;
    assert_eq!(
        j["response"]["field_errors"]["new_password"],
        json!([BREACHED]),
        "{j}"
    );
}

#[actix_web::test]
async fn by_default_only_length_applies_as_in_flask_security() {
    let app = spawn_app_with(&[]).await;
    for password in ["telechargement", "abcdefghijklmnop", "password"] {
        let email = new_email("default");
        app.create_user(&email, password).await;
    }
    let body = assert_form_rejected(app.client().register(&new_email("d"), "seven77").await).await;
    assert_eq!(
        form_errors(&body),
        ["Password must be at least 8 characters"]
    );
}

#[actix_web::test]
async fn the_new_messages_can_be_reworded() {
    let app = spawn_app_with(&[
        ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
        ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
        (
            "SECURITY_MSG_PASSWORD_BREACHED",
            "Pick one nobody else uses",
        ),
        ("SECURITY_MSG_PASSWORD_TOO_SIMPLE", "Too easy to guess"),
    ])
    .await;
    let body =
        assert_form_rejected(app.client().register(&new_email("m"), "password1").await).await;
    assert_eq!(form_errors(&body), ["Pick one nobody else uses"]);
    let body = assert_form_rejected(
        app.client()
            .register(&new_email("m"), "abcdefghijklmnop")
            .await,
    )
    .await;
    assert_eq!(form_errors(&body), ["Too easy to guess"]);
}
