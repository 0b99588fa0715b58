//! The admin commands and the web forms share their rules: the same bad input gets the same
//! messages from `latchkey users create` as from `/register`, and from
//! `latchkey users change-password` as from `/change`. Each case runs both against one app
//! and one database, and compares the CLI's error lines with the form's JSON `errors`.

use crate::common;

use common::{latchkey_command, new_email, spawn_app_with, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An app and the settings the CLI runs with against its database.
struct Both {
    app: TestApp,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Both {
    async fn start(settings: &[(&'static str, &'static str)]) -> Self {
        let app = spawn_app_with(settings).await;
        let mut env: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.extend([
            ("DATABASE_URL".to_owned(), app.database_url.clone()),
            ("SECRET_KEY".to_owned(), app.secret_key.clone()),
            ("SECURITY_PASSWORD_SALT".to_owned(), app.salt.clone()),
            ("SECURITY_BCRYPT_ROUNDS".to_owned(), "4".to_owned()),
        ]);
        Self {
            app,
            env,
            dir: tempfile::tempdir().expect("a folder without .env"),
        }
    }

    /// The CLI's refusal: exit code 3, one message per `latchkey: ` line.
    fn cli_refusal(&self, args: &[&str]) -> Vec<String> {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = latchkey_command(self.dir.path(), &env)
            .args(args)
            .output()
            .expect("run latchkey");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        let mut lines: Vec<String> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("latchkey: "))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

/// A form's refusal: 400 with its `errors`, sorted.
async fn form_refusal(r: reqwest::Response) -> Vec<String> {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json");
    let mut errors: Vec<String> = body["response"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e.as_str().expect("text").to_owned())
        .collect();
    errors.sort();
    errors
}

async fn register_refusal(
    app: &TestApp,
    email: &str,
    username: Option<&str>,
    password: &str,
) -> Vec<String> {
    let browser = app.client();
    let token = browser.json_csrf_token().await;
    let mut body = json!({"email": email, "password": password, "password_confirm": password});
    if let Some(username) = username {
        body["username"] = json!(username);
    }
    form_refusal(browser.post_json("/register", &body, Some(&token)).await).await
}

fn create_args<'a>(email: &'a str, username: Option<&'a str>, password: &'a str) -> Vec<&'a str> {
    let mut args = vec!["users", "create", email, "--password", password];
    if let Some(username) = username {
        args.extend(["--username", username]);
    }
    args
}

#[actix_web::test]
async fn users_create_and_the_registration_form_refuse_alike() {
    let both = Both::start(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_USERNAME_REQUIRED", "true"),
        ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
    ])
    .await;
    let taken = new_email("taken");
    let browser = both.app.client();
    let token = browser.json_csrf_token().await;
    let r = browser
        .post_json(
            "/register",
            &json!({"email": taken, "username": "takenname", "password": PASSWORD,
                    "password_confirm": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the account the conflicts are about"
    );

    let fresh = new_email("fresh");
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "an invalid email",
            "not-an-email".to_owned(),
            Some("alice"),
            PASSWORD,
        ),
        ("a short password", fresh.clone(), Some("alice"), "short"),
        (
            "a breached password",
            fresh.clone(),
            Some("alice"),
            "password123",
        ),
        (
            "a taken email",
            taken.to_uppercase(),
            Some("alice"),
            PASSWORD,
        ),
        (
            "a taken username",
            fresh.clone(),
            Some("TakenName"),
            PASSWORD,
        ),
        (
            "an invalid username",
            fresh.clone(),
            Some("no spaces"),
            PASSWORD,
        ),
        ("a missing username", fresh.clone(), None, PASSWORD),
    ];
    for (what, email, username, password) in cases {
        let from_form = register_refusal(&both.app, &email, username, password).await;
        let from_cli = both.cli_refusal(&create_args(&email, username, password));
        assert!(!from_form.is_empty(), "{what}");
        assert_eq!(from_cli, from_form, "{what}: the CLI and the form disagree");
    }
    assert_eq!(both.app.count_users(), 1, "nothing was created");
}

#[actix_web::test]
async fn users_change_password_and_the_change_form_refuse_alike() {
    let both = Both::start(&[("SECURITY_CHANGEABLE", "true")]).await;
    let email = new_email("changer");
    both.app.create_user(&email, PASSWORD).await;
    let browser = both.app.logged_in_client(&email, PASSWORD, false).await;
    let token = browser.json_csrf_token().await;

    for (what, new) in [
        ("a short password", "short"),
        ("the current password", PASSWORD),
    ] {
        let r = browser
            .post_json(
                "/change",
                &json!({"password": PASSWORD, "new_password": new, "new_password_confirm": new}),
                Some(&token),
            )
            .await;
        let from_form = form_refusal(r).await;
        let from_cli = both.cli_refusal(&["users", "change-password", &email, "--password", new]);
        assert!(!from_form.is_empty(), "{what}");
        assert_eq!(from_cli, from_form, "{what}: the CLI and the form disagree");
    }
    assert!(browser.is_authenticated().await, "nothing was changed");
}
