//! `SECURITY_RETURN_GENERIC_RESPONSES=true`: no answer may tell whether an account exists.
//! Every route that takes an email is asked the same thing twice, once for an address with
//! an account and once for one without, as a form and as JSON, and the two answers are
//! compared: status, redirect, the names of the cookies set, and the body with the address
//! and the CSRF token blanked out.

use crate::common;
use crate::mail_support;

use common::{new_email, spawn_app_with, TestApp, PASSWORD};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::Response;
use serde_json::{json, Value};

/// What an answer shows a visitor, with what differs by request alone blanked out.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

async fn seen(r: Response, address: &str) -> Seen {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let mut cookies: Vec<String> = common::set_cookies(r.headers())
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    cookies.sort();
    let text = r.text().await.unwrap();
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

fn blank_csrf(html: &str) -> String {
    // Every form of the page carries the token (the page's own and the language chooser).
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

/// `fields` posted to `path` by a new visitor, as a form or as JSON.
async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)], as_json: bool) -> Response {
    let c = app.client();
    if as_json {
        let token = c.json_csrf_token().await;
        let body: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        c.http
            .post(c.url(path))
            .header(ACCEPT, "application/json")
            .header("X-CSRF-Token", token)
            .json(&body)
            .send()
            .await
            .unwrap()
    } else {
        c.submit(path, fields).await
    }
}

/// Asks `path` with `fields` for `known` and then for `unknown` (`{}` in a field stands for
/// the address), both formats, and asserts the answers are the same.
async fn same_answer(app: &TestApp, path: &str, fields: &[(&str, &str)], known: &str) {
    for as_json in [false, true] {
        let mut answers = Vec::new();
        for address in [known.to_owned(), new_email("nobody")] {
            let filled: Vec<(String, String)> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.replace("{}", &address)))
                .collect();
            let borrowed: Vec<(&str, &str)> = filled
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            answers.push(seen(post(app, path, &borrowed, as_json).await, &address).await);
        }
        assert_eq!(
            answers[0],
            answers[1],
            "{path} ({}): an account and no account answer differently",
            if as_json { "JSON" } else { "form" }
        );
    }
}

fn generic_profile(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut settings = vec![
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_TRACKABLE", "true"),
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
    ];
    settings.extend_from_slice(extra);
    settings
}

#[actix_web::test]
async fn every_route_answers_the_same_for_an_address_with_and_without_an_account() {
    let app = spawn_app_with(&generic_profile(&[])).await;
    let unconfirmed = new_email("unconfirmed");
    app.create_user(&unconfirmed, PASSWORD).await;
    let confirmed = new_email("confirmed");
    app.create_user(&confirmed, PASSWORD).await;
    app.set_confirmed(&confirmed);

    for known in [&unconfirmed, &confirmed] {
        let register = [
            ("email", "{}"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ];
        same_answer(&app, "/register", &register, known).await;
        same_answer(
            &app,
            "/login",
            &[("email", "{}"), ("password", "wrong-guess-9")],
            known,
        )
        .await;
        same_answer(&app, "/reset", &[("email", "{}")], known).await;
        same_answer(&app, "/confirm", &[("email", "{}")], known).await;
    }
}

/// The finding: with usernames on, registering a taken email together with a taken username
/// named the email as taken too, while a fresh email got only the username's error.
#[actix_web::test]
async fn a_taken_username_is_said_alone_whether_or_not_the_email_has_an_account() {
    let app = spawn_app_with(&generic_profile(&[("SECURITY_USERNAME_ENABLE", "true")])).await;
    let owner = new_email("owner");
    let c = app.client();
    let r = c
        .submit(
            "/register",
            &[
                ("email", &owner),
                ("username", "takenname"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 302);
    let fields = [
        ("email", "{}"),
        ("username", "TakenName"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    same_answer(&app, "/register", &fields, &owner).await;
    // Refused for the username: the owner was not mailed about it.
    app.mail_settled().await;
    let welcome = mail_support::eml_messages_to(&app.mail_dir, &owner, "Welcome");
    assert_eq!(welcome.len(), 1, "only the owner's own welcome mail");
    let fresh_username = [
        ("email", "{}"),
        ("username", "freshname"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    same_answer(&app, "/register", &fresh_username, &owner).await;
}
