//! Flask-Security's normalisation keys over HTTP: `SECURITY_PASSWORD_NORMALIZE_FORM` (a hash
//! Flask-Security made with NFC verifies only when Latchkey normalises in NFC too: the
//! fixture is made by `tests/fixtures/flask_nfc_hash.py` with the reference app),
//! `SECURITY_INPUT_NORMALIZE_FORM` and `SECURITY_USERNAME_ALLOWED_CHARS` (usernames),
//! `SECURITY_WAN_NAME_ALLOWED_CHARS` (passkey names), and `SECURITY_PASSWORD_BREACHED_COUNT`,
//! which Latchkey's offline list cannot honour above 1 and refuses at start-up.

use crate::common;

use common::passkey::SoftPasskey;
use common::{new_email, spawn_app_with, try_spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::auth::PasswordHasher;
use latchkey::config::{NormalizeForm, Secret};
use latchkey::db::models::NewUser;
use latchkey::db::schema::webauthn;
use latchkey::domain::Password;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// Made by Flask-Security-Too 5.9.2 with `SECURITY_PASSWORD_NORMALIZE_FORM="NFC"` and
/// `SECURITY_PASSWORD_SALT=FLASK_SALT` from [`TYPED`] (`tests/fixtures/flask_nfc_hash.py`).
const FLASK_NFC_HASH: &str = "$2b$12$8V7DtESBKSGw6bhMF4wLP.4Uz4sBDV54hJAMQKbKnjGezYK8dXbUG";
const FLASK_SALT: &str = "nfc-fixture-salt";
/// A "fi" ligature and a precomposed "é": NFC keeps both, NFKD takes both apart.
const TYPED: &str = "\u{FB01}nal-caf\u{E9}-9";

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An account as a Flask-Security database holds it: the hash as Flask-Security made it.
fn adopt(app: &TestApp, email: &str, hash: &str) {
    let new = NewUser {
        email: email.to_owned(),
        username: None,
        password: hash.to_owned(),
        active: Some(true),
        fs_uniquifier: common::random_hex(16),
        confirmed_at: None,
    };
    latchkey::db::users::insert(&mut app.db(), &new).expect("insert an adopted row");
}

#[actix_web::test]
async fn a_flask_hash_made_with_nfc_logs_in_only_when_the_form_is_nfc() {
    let email = "nfc@example.com";
    let nfc = spawn_app_with(&[
        ("SECURITY_PASSWORD_SALT", FLASK_SALT),
        ("SECURITY_PASSWORD_NORMALIZE_FORM", "NFC"),
    ])
    .await;
    adopt(&nfc, email, FLASK_NFC_HASH);
    let r = nfc.client().login(email, TYPED, false).await;
    assert_eq!(r.status(), StatusCode::FOUND, "NFC: the ligature is kept");
    // Typed already decomposed, NFC composes it again: the same password.
    let decomposed = "\u{FB01}nal-cafe\u{301}-9";
    let r = nfc.client().login(email, decomposed, false).await;
    assert_eq!(r.status(), StatusCode::FOUND, "NFC composes e + U+0301");

    // The default (NFKD) turns the ligature into "fi": not the password Flask hashed.
    let nfkd = spawn_app_with(&[("SECURITY_PASSWORD_SALT", FLASK_SALT)]).await;
    adopt(&nfkd, email, FLASK_NFC_HASH);
    let (status, _) = json(nfkd.client().login_json(email, TYPED).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "NFKD is another password");
}

#[actix_web::test]
async fn a_new_password_is_hashed_in_the_configured_form() {
    for (form, normalised, other) in [
        ("NFC", TYPED.to_owned(), NormalizeForm::Nfkd),
        ("NFKD", NormalizeForm::Nfkd.apply(TYPED), NormalizeForm::Nfc),
    ] {
        let app = spawn_app_with(&[("SECURITY_PASSWORD_NORMALIZE_FORM", form)]).await;
        let email = new_email("form");
        app.create_user(&email, TYPED).await;
        let hasher = PasswordHasher::bcrypt(Secret::new(app.salt.clone()), 4).unwrap();
        let stored = app.user(&email).password.expect("a password hash");
        assert!(
            hasher.verify_blocking(&Password::normalize(&normalised, None), &stored),
            "{form}: hashed as {normalised:?}"
        );
        assert!(
            !hasher.verify_blocking(&Password::normalize(TYPED, Some(other)), &stored),
            "{form}: not as {other}"
        );
        let r = app.client().login(&email, TYPED, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{form}");
    }
}

/// A registration as JSON with a username: the status and the field errors.
async fn register(app: &TestApp, email: &str, username: &str) -> (StatusCode, Value) {
    let c = app.client();
    let token = c.json_csrf_token().await;
    let (status, body) = json(
        c.post_json(
            "/register",
            &json!({"email": email, "username": username, "password": PASSWORD,
                    "password_confirm": PASSWORD}),
            Some(&token),
        )
        .await,
    )
    .await;
    (status, body["response"]["field_errors"].clone())
}

#[actix_web::test]
async fn usernames_follow_the_allowed_characters() {
    let app = spawn_app_with(&[("SECURITY_USERNAME_ENABLE", "true")]).await;
    for name in ["ann_marie", "ann-marie", "ann marie", "annie\u{301}"] {
        let (status, errors) = register(&app, &new_email("u"), name).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(
            errors["username"][0], "Username can contain only letters and numbers",
            "{name:?}"
        );
    }
    for name in ["bob&co", "<b>bob</b>"] {
        let (status, errors) = register(&app, &new_email("u"), name).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(
            errors["username"][0], "Value entered is not valid for the field",
            "{name:?}: Flask-Security's sanitiser would change it"
        );
    }
    assert_eq!(app.count_users(), 0);
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("4 to 32 letters or digits."), "{page}");

    let app = spawn_app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        (
            "SECURITY_USERNAME_ALLOWED_CHARS",
            r#"["L", "N", "Pc", "Pd"]"#,
        ),
    ])
    .await;
    // The hint no longer promises letters or digits only.
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("4 to 32 characters."), "{page}");
    for name in ["ann_marie", "ann-marie"] {
        let (status, errors) = register(&app, &new_email("u"), name).await;
        assert_eq!(status, StatusCode::OK, "{name:?}: {errors}");
        let r = app.client().login(name, PASSWORD, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{name:?} signs in");
    }
    let (status, errors) = register(&app, &new_email("u"), "ann marie").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors["username"][0],
        "Username can contain only letters and numbers"
    );
}

#[actix_web::test]
async fn usernames_are_normalised_in_the_input_form() {
    for (form, stored) in [
        ("NFC", "Jos\u{E9}"),
        ("NFKD", "Jose\u{301}"),
        ("", "Jos\u{E9}"),
    ] {
        let app = spawn_app_with(&[
            ("SECURITY_USERNAME_ENABLE", "true"),
            ("SECURITY_INPUT_NORMALIZE_FORM", form),
        ])
        .await;
        let email = new_email("u");
        let (status, errors) = register(&app, &email, "Jos\u{E9}").await;
        assert_eq!(status, StatusCode::OK, "{form:?}: {errors}");
        let user = app.user(&email);
        assert_eq!(
            user.username.as_deref(),
            Some(stored.to_lowercase().as_str()),
            "{form:?}: stored folded, in the form"
        );
        let r = app.client().login("JOS\u{C9}", PASSWORD, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{form:?}: signs in");
    }
}

/// Begins adding a passkey named `name`: the status and the body.
async fn begin_passkey(c: &TestClient, name: &str) -> (StatusCode, Value) {
    json(
        c.post_json_via(
            "/wan-register",
            "/wan-register",
            &json!({"name": name, "usage": "secondary"}),
        )
        .await,
    )
    .await
}

async fn passkey_app(extra: &[(&str, &str)]) -> (TestApp, TestClient) {
    let mut all = vec![("SECURITY_WEBAUTHN", "true")];
    all.extend_from_slice(extra);
    let app = spawn_app_with(&all).await;
    let email = new_email("wan");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (app, c)
}

#[actix_web::test]
async fn passkey_names_follow_the_allowed_characters() {
    let (_app, c) = passkey_app(&[]).await;
    for name in ["Ann's key", "key #2", "cle\u{301}"] {
        let (status, body) = begin_passkey(&c, name).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(
            body["response"]["field_errors"]["name"][0],
            "Passkey nicknames can contain only letters, numbers, and limited punctuation.",
            "{name:?}"
        );
    }
    let (status, body) = begin_passkey(&c, "my\u{A0}key").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["name"][0], "Value entered is not valid for the field",
        "a no-break space is a space (Zs), but Flask-Security's sanitiser writes it &nbsp;"
    );
    let (status, body) = begin_passkey(&c, "yubi-key_2 nfc").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_app, c) = passkey_app(&[("SECURITY_WAN_NAME_ALLOWED_CHARS", "L, Po, Zs")]).await;
    let (status, body) = begin_passkey(&c, "Ann's key").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = begin_passkey(&c, "yubi-key").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "Pd is no longer allowed");
}

#[actix_web::test]
async fn passkey_names_are_stored_in_the_input_form() {
    for (form, stored) in [("NFC", "cl\u{E9}"), ("NFKD", "cle\u{301}")] {
        let (app, c) = passkey_app(&[("SECURITY_INPUT_NORMALIZE_FORM", form)]).await;
        let (status, begun) = begin_passkey(&c, "cl\u{E9}").await;
        assert_eq!(status, StatusCode::OK, "{begun}");
        let mut key = SoftPasskey::new(&app.address);
        let answer = key.create(&begun["response"]["credential_options"]);
        let state = begun["response"]["wan_state"].as_str().unwrap();
        let (status, body) = json(
            c.post_json_via(
                "/wan-register",
                &format!("/wan-register/{state}"),
                &json!({"credential": answer.to_string()}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
        let names: Vec<String> = webauthn::table
            .select(webauthn::name)
            .load(&mut app.db())
            .unwrap();
        assert_eq!(names, [stored], "{form}");
    }
}

#[actix_web::test]
async fn breached_counts_above_one_are_refused_with_the_offline_list() {
    let err = try_spawn_app_with(&[
        ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
        ("SECURITY_PASSWORD_BREACHED_COUNT", "3"),
    ])
    .await
    .err()
    .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("SECURITY_PASSWORD_BREACHED_COUNT") && text.contains("no counts"),
        "{text}"
    );
    // 1 is what the list does; without the check the count means nothing, as in Flask.
    for pairs in [
        [
            ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
            ("SECURITY_PASSWORD_BREACHED_COUNT", "1"),
        ],
        [
            ("SECURITY_PASSWORD_CHECK_BREACHED", "false"),
            ("SECURITY_PASSWORD_BREACHED_COUNT", "3"),
        ],
    ] {
        assert!(try_spawn_app_with(&pairs).await.is_ok(), "{pairs:?}");
    }
}

#[actix_web::test]
async fn bad_forms_and_categories_stop_start_up_naming_the_key() {
    for (key, value) in [
        ("SECURITY_PASSWORD_NORMALIZE_FORM", "NFX"),
        ("SECURITY_INPUT_NORMALIZE_FORM", "unicode"),
        ("SECURITY_USERNAME_ALLOWED_CHARS", r#"["L", "Q"]"#),
        ("SECURITY_WAN_NAME_ALLOWED_CHARS", "letters"),
    ] {
        let err = try_spawn_app_with(&[(key, value)])
            .await
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains(key), "{key}: {err:#}");
    }
}
