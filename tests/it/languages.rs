//! Languages: pages, messages and mails in the language a request asks for
//! (`Accept-Language`, or the `lang` cookie set through `/lang`), the shipped German and
//! French, `SECURITY_MSG_*` and configured subjects winning over translations, and a
//! Flask-Security translation loaded from a folder (`SECURITY_I18N_DIRNAME`).

use crate::common;
use crate::mail_support;

use base64::Engine;
use common::{
    crate_dir, csrf_from_html, flashes, form_errors, location, new_email, set_cookie,
    spawn_app_with, try_spawn_app_with, TestApp, TestClient, PASSWORD,
};
use mail_support::{eml_messages, Received};
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

async fn get_in(client: &TestClient, path: &str, lang: &str) -> Response {
    client
        .http
        .get(client.url(path))
        .header(ACCEPT_LANGUAGE, lang)
        .send()
        .await
        .expect("GET")
}

/// Fills in `path`'s form (with its CSRF token) as a browser that accepts `lang`.
async fn submit_in(
    client: &TestClient,
    path: &str,
    lang: &str,
    fields: &[(&str, &str)],
) -> Response {
    let token = client.csrf_token(path).await;
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    client
        .http
        .post(client.url(path))
        .header(ACCEPT_LANGUAGE, lang)
        .form(&all)
        .send()
        .await
        .expect("POST")
}

/// Chooses `lang` with the footer's form, coming back to `next`.
async fn choose_language(client: &TestClient, lang: &str, next: &str) -> Response {
    let page = client.get("/login").await.text().await.unwrap();
    let token = csrf_from_html(&page).expect("csrf token");
    assert!(
        page.contains("name=\"lang_form\""),
        "the chooser is on the page"
    );
    client
        .post_form(
            "/lang",
            &[("lang", lang), ("next", next), ("csrf_token", &token)],
        )
        .await
}

/// A mail header with its RFC 2047 encoded words decoded.
fn decoded_header(mail: &Received, name: &str) -> String {
    // Unfolded here: `Received::header` drops the folding whitespace, which is text.
    let head = mail.data.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let raw = unfolded
        .split("\r\n")
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let mut out = String::new();
    // Whitespace between two encoded words is not part of the text (RFC 2047, 6.2).
    let mut previous_encoded = false;
    for word in raw.split_whitespace() {
        let parts: Vec<&str> = word.split('?').collect();
        let decoded = match parts.as_slice() {
            ["=", _charset, enc, text, "="] if enc.eq_ignore_ascii_case("b") => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .expect("base64 word");
                Some(String::from_utf8(bytes).expect("utf-8 word"))
            }
            _ => None,
        };
        let joins_encoded_words = previous_encoded && decoded.is_some();
        if !out.is_empty() && !joins_encoded_words {
            out.push(' ');
        }
        previous_encoded = decoded.is_some();
        out.push_str(decoded.as_deref().unwrap_or(word));
    }
    out
}

/// The newest mail to `email`, after waiting for the outbox.
async fn last_mail_to(app: &TestApp, email: &str) -> Received {
    app.mail_settled().await;
    for _ in 0..200 {
        if let Some(mail) = eml_messages(&app.mail_dir)
            .into_iter()
            .rev()
            .find(|m| m.is_to(email))
        {
            return mail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no mail to {email}");
}

async fn recoverable_app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("SECURITY_RECOVERABLE", "true")];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

#[actix_web::test]
async fn a_page_follows_accept_language_and_html_lang_follows_the_page() {
    let app = recoverable_app(&[]).await;
    let client = app.client();
    for (accept, lang, text) in [
        ("de-DE,de;q=0.9,en;q=0.5", "de", "Angemeldet bleiben"),
        ("fr-CA, en;q=0.3", "fr", "Se souvenir de moi"),
        ("es, ja;q=0.5", "en", "Remember me"),
        ("en-GB", "en", "Remember me"),
    ] {
        let page = get_in(&client, "/login", accept)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("<html lang=\"{lang}\">")),
            "{accept}: {page}"
        );
        assert!(page.contains(text), "{accept}: {page}");
        // The form's contract does not change with the language.
        assert!(page.contains("name=\"login_user_form\""));
        assert!(page.contains("value=\"Login\""));
    }
    // The anonymous page cache keeps one copy per language.
    let again = get_in(&client, "/login", "de").await.text().await.unwrap();
    assert!(again.contains("Angemeldet bleiben"));
    let english = client.get("/login").await.text().await.unwrap();
    assert!(english.contains("Remember me") && english.contains("<html lang=\"en\">"));
}

#[actix_web::test]
async fn the_lang_cookie_chosen_on_the_page_wins_over_accept_language() {
    let app = recoverable_app(&[]).await;
    let client = app.client();
    let r = choose_language(&client, "fr", "/reset").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/reset"));
    let cookie = set_cookie(r.headers(), "lang").expect("a lang cookie");
    assert_eq!(cookie.value(), "fr");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));

    let page = get_in(&client, "/reset", "de").await.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    assert!(page.contains("Récupérer le mot de passe"), "{page}");
    assert!(
        page.contains("<option value=\"fr\" lang=\"fr\" selected>Français</option>"),
        "{page}"
    );

    // German through the chooser's GET form as well.
    let r = client.get("/lang?lang=de&next=%2Flogin").await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let page = client.get("/login").await.text().await.unwrap();
    assert!(page.contains("<html lang=\"de\">") && page.contains("Angemeldet bleiben"));
}

#[actix_web::test]
async fn the_chooser_refuses_foreign_redirects_unknown_languages_and_missing_csrf() {
    let app = recoverable_app(&[("SESSION_COOKIE_SECURE", "true")]).await;
    let client = app.client();
    let r = choose_language(&client, "de", "https://evil.example/").await;
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(set_cookie(r.headers(), "lang").is_none());

    let r = client
        .post_json_via("/login", "/lang", &json!({"lang": "xx"}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["errors"][0], "Unknown language");

    let r = client
        .post_form("/lang", &[("lang", "de"), ("next", "/")])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a POST without its CSRF token"
    );
    assert!(set_cookie(r.headers(), "lang").is_none());

    let r = client
        .post_json_via("/login", "/lang", &json!({"lang": "fr"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = set_cookie(r.headers(), "lang").expect("cookie");
    assert_eq!(
        cookie.secure(),
        Some(true),
        "Secure when SESSION_COOKIE_SECURE"
    );

    let r = client.get_json("/lang").await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["languages"], json!(["de", "en", "fr"]));
}

#[actix_web::test]
async fn form_errors_flashes_and_json_errors_are_in_the_requests_language() {
    let app = recoverable_app(&[]).await;
    let email = new_email("lang-msg");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    // A form error.
    let r = submit_in(
        &client,
        "/login",
        "de",
        &[("email", &email), ("password", "wrong-password-1")],
    )
    .await;
    let page = r.text().await.unwrap();
    let errors = form_errors(&page);
    assert!(
        errors.contains(&"Falsches Passwort".to_owned()),
        "{errors:?} {page}"
    );

    // A flash, in French through the cookie.
    choose_language(&client, "fr", "/").await;
    let r = client.submit("/reset", &[("email", &email)]).await;
    let page = r.text().await.unwrap();
    assert!(
        flashes(&page).contains(&format!(
            "Les instructions pour réinitialiser votre mot de passe ont été envoyées à {email}."
        )),
        "{page}"
    );

    // JSON errors: a rejected form and an error of the web layer (401).
    let fresh = app.client();
    let token = fresh.json_csrf_token().await;
    let r = fresh
        .http
        .post(fresh.url("/login"))
        .header(ACCEPT, "application/json")
        .header(ACCEPT_LANGUAGE, "fr")
        .header("X-CSRF-Token", &token)
        .json(&json!({"email": email, "password": "wrong-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["response"]["errors"][0], "Mot de passe incorrect",
        "{body}"
    );
    let r = fresh
        .http
        .get(fresh.url("/profile"))
        .header(ACCEPT, "application/json")
        .header(ACCEPT_LANGUAGE, "de")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["response"]["errors"][0], "Bitte melden Sie sich an, um diese Seite zu sehen.",
        "{body}"
    );
}

#[actix_web::test]
async fn mails_and_their_subjects_are_in_the_language_of_the_request_that_sent_them() {
    let app = recoverable_app(&[]).await;
    let email = new_email("lang-mail");
    app.create_user(&email, PASSWORD).await;

    // German from Accept-Language.
    let client = app.client();
    submit_in(&client, "/reset", "de-AT, en;q=0.1", &[("email", &email)]).await;
    let mail = last_mail_to(&app, &email).await;
    assert_eq!(
        decoded_header(&mail, "Subject"),
        "Anleitung zum Zurücksetzen des Passworts"
    );
    let text = mail.part("text/plain").expect("text part");
    assert!(
        text.contains("Über den Link unten setzen Sie Ihr Passwort zurück:"),
        "{text}"
    );
    let html = mail.part("text/html").expect("html part");
    assert!(html.contains("<html lang=\"de\">"), "{html}");

    // French from the lang cookie, although the browser asks for German.
    let other = new_email("lang-mail-fr");
    app.create_user(&other, PASSWORD).await;
    let client = app.client();
    choose_language(&client, "fr", "/").await;
    submit_in(&client, "/reset", "de", &[("email", &other)]).await;
    let mail = last_mail_to(&app, &other).await;
    assert_eq!(
        decoded_header(&mail, "Subject"),
        "Instructions de réinitialisation du mot de passe"
    );
    let text = mail.part("text/plain").expect("text part");
    assert!(
        text.contains("Cliquez sur le lien ci-dessous pour réinitialiser votre mot de passe :"),
        "{text}"
    );
}

#[actix_web::test]
async fn security_msg_overrides_and_configured_subjects_win_over_translations() {
    let app = recoverable_app(&[
        (
            "SECURITY_MSG_PASSWORD_RESET_REQUEST",
            "Look in %(email)s's mailbox.",
        ),
        (
            "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET",
            "Your Acme reset link",
        ),
    ])
    .await;
    let email = new_email("lang-override");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    let page = submit_in(&client, "/reset", "de", &[("email", &email)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        flashes(&page).contains(&format!("Look in {email}'s mailbox.")),
        "{page}"
    );
    // The rest of the page is still German.
    assert!(page.contains("<html lang=\"de\">"));
    let mail = last_mail_to(&app, &email).await;
    assert_eq!(decoded_header(&mail, "Subject"), "Your Acme reset link");
    assert!(mail
        .part("text/plain")
        .unwrap()
        .contains("Über den Link unten"));
}

#[actix_web::test]
async fn a_flask_security_translation_in_a_folder_translates_messages_and_pages() {
    // tests/fixtures/i18n: scripts/make-test-po.py's Esperanto (.po) and Interlingua (.mo).
    let app =
        recoverable_app(&[("SECURITY_I18N_DIRNAME", &crate_dir("tests/fixtures/i18n"))]).await;
    let email = new_email("lang-po");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    let page = submit_in(&client, "/reset", "eo", &[("email", &email)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        flashes(&page).contains(&format!(
            "Instrukcioj por restarigi vian pasvorton estis senditaj al {email}."
        )),
        "{page}"
    );
    assert!(page.contains("<html lang=\"eo\">"));
    let mail = last_mail_to(&app, &email).await;
    assert_eq!(
        decoded_header(&mail, "Subject"),
        "Instrukcioj por restarigi la pasvorton"
    );

    let page = get_in(&client, "/login", "ia").await.text().await.unwrap();
    assert!(
        page.contains("Memorar me"),
        "the .mo translates pages too: {page}"
    );
    // A text the file lacks stays English; the shipped languages are still there.
    assert!(page.contains("Forgot password?"), "{page}");
    let german = get_in(&client, "/login", "de").await.text().await.unwrap();
    assert!(german.contains("Angemeldet bleiben"));
}

#[actix_web::test]
async fn a_broken_translation_file_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("de").join("LC_MESSAGES");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("flask_security.po"),
        "msgid \"Login\"\nmsgstr \"Anmelden\n",
    )
    .unwrap();
    let err = try_spawn_app_with(&[("SECURITY_I18N_DIRNAME", &dir.path().to_string_lossy())])
        .await
        .err()
        .expect("start-up refused")
        .to_string();
    assert!(err.contains("SECURITY_I18N_DIRNAME"), "{err}");
    assert!(
        err.contains("de/LC_MESSAGES/flask_security.po: line 2"),
        "{err}"
    );

    let err = try_spawn_app_with(&[("BABEL_DEFAULT_LOCALE", "tlh")])
        .await
        .err()
        .expect("an unknown default language is refused")
        .to_string();
    assert!(err.contains("BABEL_DEFAULT_LOCALE"), "{err}");
}

#[actix_web::test]
async fn the_default_language_serves_requests_that_ask_for_none() {
    let app = spawn_app_with(&[("BABEL_DEFAULT_LOCALE", "fr_FR")]).await;
    let client = app.client();
    let page = client.get("/login").await.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr\">") && page.contains("Se souvenir de moi"));
    let page = get_in(&client, "/login", "en").await.text().await.unwrap();
    assert!(page.contains("Remember me"));
}

/// The `translations` folder of the reference virtualenv's Flask-Security.
fn flask_security_translations() -> std::path::PathBuf {
    let out = std::process::Command::new(common::reference::python())
        .args([
            "-c",
            "import flask_security, os; print(os.path.join(os.path.dirname(flask_security.__file__), 'translations'))",
        ])
        .output()
        .expect("run the reference Python");
    assert!(out.status.success(), "{out:?}");
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(dir.join("pl_PL").is_dir(), "{}", dir.display());
    dir
}

#[actix_web::test]
async fn flask_securitys_plural_forms_headers_choose_the_forms_of_an_apps_plural_texts() {
    use latchkey::messages::{Lang, Messages};
    let translations = flask_security_translations();
    // The app's own catalogue, merged over Flask-Security's: plural forms without a header,
    // so the expression is the one Flask-Security's pl_PL and ru_RU catalogues give.
    let app_dir = tempfile::tempdir().unwrap();
    for (lang, forms) in [
        (
            "pl_PL",
            ["%(num)s minuta", "%(num)s minuty", "%(num)s minut"],
        ),
        (
            "ru_RU",
            ["%(num)s минута", "%(num)s минуты", "%(num)s минут"],
        ),
    ] {
        let folder = app_dir.path().join(lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&folder).unwrap();
        let mut po = "msgid \"%(num)s minute\"\nmsgid_plural \"%(num)s minutes\"\n".to_owned();
        for (i, form) in forms.iter().enumerate() {
            po.push_str(&format!("msgstr[{i}] \"{form}\"\n"));
        }
        std::fs::write(folder.join("flask_security.po"), po).unwrap();
    }
    let dirs = [translations.clone(), app_dir.path().to_owned()];
    let messages = Messages::default()
        .with_translation_dirs(&dirs, "flask_security")
        .expect("all of Flask-Security's catalogues and their Plural-Forms are read");
    let minutes = |tag: &str, n: u64| {
        messages
            .in_language(&Lang::parse(tag).unwrap())
            .period(std::time::Duration::from_secs(60 * n))
    };
    assert!(messages
        .plural_forms(&Lang::parse("pl-PL").unwrap())
        .is_some_and(|rule| rule.starts_with("nplurals=3;")));
    for (n, pl, ru) in [
        (1, "1 minuta", "1 минута"),
        (2, "2 minuty", "2 минуты"),
        (5, "5 minut", "5 минут"),
        (21, "21 minut", "21 минута"),
        (22, "22 minuty", "22 минуты"),
        (25, "25 minut", "25 минут"),
    ] {
        assert_eq!(minutes("pl-PL", n), pl, "Polish {n}");
        assert_eq!(minutes("ru-RU", n), ru, "Russian {n}");
    }
    // The server starts on the same folders (every header of the 21 languages is read).
    let setting = format!("{};{}", translations.display(), app_dir.path().display());
    let app = spawn_app_with(&[("SECURITY_I18N_DIRNAME", &setting)]).await;
    let page = get_in(&app.client(), "/login", "ru")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"ru"), "{page}");
}
