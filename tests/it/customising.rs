//! Customising without recompiling: template overrides by name, broken overrides refused at
//! start-up, edits picked up in development, escaping of user input, and the subject and
//! message keys.

use crate::common;
use crate::mail_support;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    flashes, form_errors, location, new_email, spawn_app_with, try_spawn_app_with, TestApp,
    PASSWORD,
};
use mail_support::{eml_messages, wait_for_eml};
use reqwest::StatusCode;

/// Every page template a user may override, with the URL that shows it.
const PAGES: &[&str] = &[
    "index.html",
    "profile.html",
    "premium.html",
    "security/login_user.html",
    "security/register_user.html",
    "security/send_confirmation.html",
    "security/forgot_password.html",
    "security/reset_password.html",
    "security/change_password.html",
    "security/sessions.html",
    "security/verify_user.html",
];

/// Every mail a user may override (each as `.txt` and `.html`).
const MAILS: &[&str] = &[
    "welcome",
    "welcome_existing",
    "confirmation_instructions",
    "reset_instructions",
    "reset_notice",
    "change_notice",
];

fn write(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn marker(name: &str) -> String {
    format!("override:{name}")
}

/// Overrides of every page, partial, layout and mail, each showing its marker. Pages keep
/// a CSRF field and mails their links, so that the flows still work through them.
fn override_everything(dir: &Path) {
    for page in PAGES {
        write(
            dir,
            page,
            &format!(
                "{{% extends \"base.html\" %}}{{% block content %}}<p>{}</p>\
                 <input type=\"hidden\" name=\"csrf_token\" value=\"{{{{ csrf_token }}}}\">\
                 {{% endblock content %}}",
                marker(page)
            ),
        );
    }
    write(
        dir,
        "base.html",
        &format!(
            "<!doctype html><html><head><title>{{% block title %}}{{% endblock title %}}</title></head>\
             <body><p>{}</p>{{% include \"security/_menu.html\" %}}{{% include \"security/_messages.html\" %}}\
             {{% block content %}}{{% endblock content %}}</body></html>",
            marker("base.html")
        ),
    );
    write(
        dir,
        "security/_menu.html",
        &format!("<nav>{}</nav>", marker("security/_menu.html")),
    );
    write(
        dir,
        "security/_messages.html",
        &format!(
            "<div>{}</div>{{% for f in flashes %}}<p class=\"flash flash-{{{{ f.category }}}}\">{{{{ f.message }}}}</p>{{% endfor %}}",
            marker("security/_messages.html")
        ),
    );
    for mail in MAILS {
        for ext in ["txt", "html"] {
            let name = format!("security/email/{mail}.{ext}");
            write(
                dir,
                &name,
                &format!(
                    "{} {{% if confirmation_link %}}{{{{ confirmation_link }}}}{{% endif %}} \
                     {{% if reset_link %}}{{{{ reset_link }}}}{{% endif %}}\n",
                    marker(&name)
                ),
            );
        }
    }
}

async fn page_text(client: &common::TestClient, path: &str) -> String {
    let r = client.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.unwrap()
}

#[actix_web::test]
async fn every_page_partial_layout_and_mail_can_be_overridden_by_name() {
    let dir = tempfile::tempdir().unwrap();
    override_everything(dir.path());
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
    ])
    .await;
    let email = new_email("overrides");
    let browser = app.client();
    assert_eq!(
        browser.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    // Sent while unconfirmed: confirmation_instructions (a resend).
    app.client().submit("/confirm", &[("email", &email)]).await;
    app.set_confirmed(&email);
    app.set_premium(&email, true);
    // Generic responses need registration not to log in: log in now, confirmed.
    let browser = app.logged_in_client(&email, PASSWORD, false).await;

    let anonymous = app.client();
    let shown_to = |path: &'static str, logged_in: bool| {
        let client = if logged_in { &browser } else { &anonymous };
        page_text(client, path)
    };
    let mut seen = vec![
        ("index.html", shown_to("/", false).await),
        ("security/login_user.html", shown_to("/login", false).await),
        (
            "security/register_user.html",
            shown_to("/register", false).await,
        ),
        (
            "security/send_confirmation.html",
            shown_to("/confirm", false).await,
        ),
        (
            "security/forgot_password.html",
            shown_to("/reset", false).await,
        ),
        ("profile.html", shown_to("/profile", true).await),
        ("premium.html", shown_to("/premium", true).await),
        (
            "security/change_password.html",
            shown_to("/change", true).await,
        ),
        ("security/sessions.html", shown_to("/sessions", true).await),
        ("security/verify_user.html", shown_to("/verify", true).await),
    ];
    // A reset link, from the overridden reset mail.
    anonymous.submit("/reset", &[("email", &email)]).await;
    let reset = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let reset_path = reset[0].link_path("/reset/");
    seen.push((
        "security/reset_password.html",
        page_text(&anonymous, &reset_path).await,
    ));
    for (name, html) in &seen {
        assert!(html.contains(&marker(name)), "{name}: {html}");
        for part in [
            "base.html",
            "security/_menu.html",
            "security/_messages.html",
        ] {
            assert!(html.contains(&marker(part)), "{part} in {name}: {html}");
        }
    }
    assert_eq!(seen.len(), PAGES.len());

    // Every mail: welcome (registration), confirmation_instructions (resend, above),
    // welcome_existing (registering a taken address), reset_instructions (above),
    // reset_notice (using the reset link), change_notice (changing the password).
    anonymous.register(&email, PASSWORD).await;
    let r = anonymous
        .submit(
            &reset_path,
            &[
                ("password", "a-new-password-1"),
                ("password_confirm", "a-new-password-1"),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let changer = app
        .logged_in_client(&email, "a-new-password-1", false)
        .await;
    changer
        .change_password("a-new-password-1", "another-password-2")
        .await;
    wait_for_eml(&app.mail_dir, &email, "Your password has been changed", 1).await;
    let mails = eml_messages(&app.mail_dir);
    for mail in MAILS {
        let text = format!("security/email/{mail}.txt");
        let html = format!("security/email/{mail}.html");
        let found = mails.iter().any(|m| {
            m.part("text/plain")
                .is_some_and(|t| t.contains(&marker(&text)))
                && m.part("text/html")
                    .is_some_and(|h| h.contains(&marker(&html)))
        });
        assert!(found, "no mail shows the {mail} overrides");
    }
}

async fn start_up_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        write(dir.path(), name, body);
    }
    let templates = dir.path().to_string_lossy().into_owned();
    match try_spawn_app_with(&[("SECURITY_TEMPLATES_DIR", &templates)]).await {
        Ok(_) => panic!("start-up must fail for {files:?}"),
        Err(e) => format!("{e:#}"),
    }
}

#[actix_web::test]
async fn a_broken_override_stops_start_up_naming_the_file_and_line() {
    // A syntax error on line 3.
    let err = start_up_error(&[(
        "security/login_user.html",
        "{% extends \"base.html\" %}\n{% block content %}\n<p>{{ unclosed </p>\n{% endblock content %}",
    )])
    .await;
    assert!(err.contains("security/login_user.html"), "{err}");
    assert!(err.contains("3:"), "the line is named: {err}");

    // A parent that does not exist.
    let err = start_up_error(&[(
        "index.html",
        "{% extends \"layout.html\" %}{% block content %}x{% endblock content %}",
    )])
    .await;
    assert!(err.contains("index.html"), "{err}");
    assert!(err.contains("layout.html"), "{err}");

    // A variable that no page gets, and a macro that does not exist.
    let err = start_up_error(&[(
        "profile.html",
        "{% extends \"base.html\" %}{% block content %}{{ current_user.email }} {{ account.balance }}{% endblock content %}",
    )])
    .await;
    assert!(err.contains("profile.html"), "{err}");
    assert!(err.contains("account.balance"), "{err}");

    let err = start_up_error(&[(
        "security/forgot_password.html",
        "{% extends \"base.html\" %}{% import \"security/_macros.html\" as m %}{% block content %}{{ m::nonexistent() }}{% endblock content %}",
    )])
    .await;
    assert!(err.contains("forgot_password.html"), "{err}");

    // A mail referring to a link it is never given.
    let err = start_up_error(&[("security/email/welcome.txt", "Hi {{ user.nickname }}")]).await;
    assert!(err.contains("security/email/welcome.txt"), "{err}");
}

async fn wait_for_body(app: &TestApp, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if app.get("/").await.text().await.unwrap().contains(needle) {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn home_page(text: &str) -> String {
    format!("{{% extends \"base.html\" %}}{{% block content %}}<h1>Hello, world!</h1><p>{text}</p>{{% endblock content %}}")
}

#[actix_web::test]
async fn in_development_an_edited_template_is_used_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "index.html", &home_page("first version"));
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[("SECURITY_TEMPLATES_DIR", &templates)]).await;
    assert!(wait_for_body(&app, "first version").await);

    write(
        dir.path(),
        "index.html",
        &home_page("second, longer version"),
    );
    assert!(
        wait_for_body(&app, "second, longer version").await,
        "the edit is picked up"
    );

    // A broken edit is not used: the page keeps working with the last good version.
    write(
        dir.path(),
        "index.html",
        "{% extends \"base.html\" %}{% block content %}{{ broken",
    );
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let r = app.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("second, longer version"));

    // Once fixed, a new override file is picked up too.
    write(dir.path(), "index.html", &home_page("fixed version"));
    write(
        dir.path(),
        "security/_menu.html",
        "<nav>a brand-new menu</nav>",
    );
    assert!(wait_for_body(&app, "a brand-new menu").await);
}

#[actix_web::test]
async fn in_production_templates_are_fixed_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "index.html", &home_page("first version"));
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("APP_ENV", "production"),
        ("SESSION_COOKIE_SECURE", "true"),
    ])
    .await;
    assert!(wait_for_body(&app, "first version").await);
    write(
        dir.path(),
        "index.html",
        &home_page("second, longer version"),
    );
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let body = app.get("/").await.text().await.unwrap();
    assert!(body.contains("first version"), "{body}");
}

#[actix_web::test]
async fn user_input_is_escaped_in_pages_and_html_mails() {
    let app = spawn_app_with(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;

    // A rejected address is shown again in the form: escaped.
    let hostile = "<script>alert(1)</script>\"'@example.com";
    let r = app.client().register(hostile, PASSWORD).await;
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "{page}"
    );

    // A valid address with characters HTML cares about, in flashes, pages and mails.
    let email = format!("o'neil&sons-{}@example.com", common::random_hex(3));
    let browser = app.client();
    let r = browser.register(&email, PASSWORD).await;
    let home = browser.follow(r, "/").await;
    let escaped = email.replace('&', "&amp;").replace('\'', "&#x27;");
    assert!(home.contains(&escaped), "{home}");
    assert!(!home.contains(&email), "raw in the page: {home}");
    assert!(flashes(&home).iter().any(|f| f.contains(&email)), "{home}");

    let welcome = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let html = welcome[0].part("text/html").unwrap();
    assert!(html.contains(&escaped), "{html}");
    assert!(!html.contains(&email), "raw in the HTML mail: {html}");
    let text = welcome[0].part("text/plain").unwrap();
    assert!(text.contains(&email), "the text part is not HTML: {text}");
}

#[actix_web::test]
async fn subjects_and_messages_follow_their_keys() {
    let app = spawn_app_with(&[
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
        ("SECURITY_EMAIL_SUBJECT_REGISTER", "Bienvenue"),
        ("SECURITY_EMAIL_SUBJECT_PASSWORD_RESET", "Votre lien"),
        ("SECURITY_MSG_INVALID_PASSWORD", "Mot de passe incorrect"),
        (
            "SECURITY_MSG_PASSWORD_RESET_REQUEST",
            "Regardez votre boîte %(email)s !",
        ),
    ])
    .await;
    let email = new_email("keys");
    app.client().register(&email, PASSWORD).await;
    wait_for_eml(&app.mail_dir, &email, "Bienvenue", 1).await;

    let r = app.client().login(&email, "wrong-password-1", false).await;
    let page = r.text().await.unwrap();
    assert!(
        form_errors(&page).contains(&"Mot de passe incorrect".to_owned()),
        "{page}"
    );
    let api = app.client();
    let csrf = api.json_csrf_token().await;
    let r = api
        .post_json(
            "/login",
            &serde_json::json!({"email": email, "password": "wrong-password-1"}),
            Some(&csrf),
        )
        .await;
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        j["response"]["field_errors"]["password"][0], "Mot de passe incorrect",
        "{j}"
    );

    app.set_confirmed(&email);
    let r = app.client().submit("/reset", &[("email", &email)]).await;
    let page = r.text().await.unwrap();
    assert!(
        flashes(&page).contains(&format!("Regardez votre boîte {email} !")),
        "{page}"
    );
    wait_for_eml(&app.mail_dir, &email, "Votre lien", 1).await;

    // A key with a placeholder its message does not have is refused at start-up.
    let err = try_spawn_app_with(&[("SECURITY_MSG_INVALID_PASSWORD", "Bad %(pasword)s")])
        .await
        .err()
        .expect("start-up fails");
    assert!(
        format!("{err:#}").contains("SECURITY_MSG_INVALID_PASSWORD"),
        "{err:#}"
    );
}

#[actix_web::test]
async fn the_show_password_script_is_served_and_included() {
    let app = spawn_app_with(&[]).await;
    let r = app.get("/static/latchkey.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(common::content_type(&r).starts_with("text/javascript"));
    assert!(r.text().await.unwrap().contains("toggle-password"));
    let login = app.get("/login").await.text().await.unwrap();
    assert!(
        login.contains("<script src=\"/static/latchkey.js\" defer></script>"),
        "{login}"
    );
    assert!(!login.contains("<script>"), "no inline script: {login}");
}

/// The two-factor pages and mails, overridable like the others (Flask-Security's names).
const TWO_FACTOR_PAGES: &[&str] = &[
    "security/two_factor_setup.html",
    "security/two_factor_verify_code.html",
    "security/two_factor_select.html",
    "security/mf_recovery_codes.html",
    "security/mf_recovery.html",
];
const TWO_FACTOR_MAILS: &[&str] = &["two_factor_instructions", "two_factor_rescue"];

#[actix_web::test]
async fn the_two_factor_pages_and_mails_can_be_overridden_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for page in TWO_FACTOR_PAGES {
        write(
            dir.path(),
            page,
            &format!(
                "{{% extends \"base.html\" %}}{{% block content %}}<p>{}</p>{{% endblock content %}}",
                marker(page)
            ),
        );
    }
    for mail in TWO_FACTOR_MAILS {
        for ext in ["txt", "html"] {
            let name = format!("security/email/{mail}.{ext}");
            write(
                dir.path(),
                &name,
                &format!("{} {{{{ token | default(value=\"\") }}}}\n", marker(&name)),
            );
        }
    }
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "customising-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("MAIL_DEFAULT_SENDER", "support@example.com"),
    ])
    .await;
    let email = new_email("tf-overrides");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    let mut seen = vec![
        (
            "security/two_factor_setup.html",
            page_text(&owner, "/tf-setup").await,
        ),
        (
            "security/mf_recovery_codes.html",
            page_text(&owner, "/mf-recovery-codes").await,
        ),
    ];
    // Email as the second factor (the JSON API needs no template): its code mail.
    let token = owner.json_csrf_token().await;
    let r = owner
        .post_json(
            "/tf-setup",
            &serde_json::json!({"setup": "email"}),
            Some(&token),
        )
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    let state = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mail = wait_for_eml(&app.mail_dir, &email, "Two-Factor Login", 1).await;
    let code = mail[0]
        .part("text/plain")
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let r = owner
        .post_json(
            &format!("/tf-setup/{state}"),
            &serde_json::json!({"code": code}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A login now stops at the code, whose pages are the overridden ones.
    let half = app.client();
    let r = half.login(&email, PASSWORD, false).await;
    assert_eq!(location(&r).as_deref(), Some("/tf-validate"));
    seen.push((
        "security/two_factor_verify_code.html",
        page_text(&half, "/tf-validate").await,
    ));
    seen.push((
        "security/two_factor_select.html",
        page_text(&half, "/tf-select").await,
    ));
    seen.push((
        "security/mf_recovery.html",
        page_text(&half, "/mf-recovery").await,
    ));
    for (name, html) in &seen {
        assert!(html.contains(&marker(name)), "{name}: {html}");
    }
    assert_eq!(seen.len(), TWO_FACTOR_PAGES.len());
    // "I cannot use my second factor": the rescue mail to the support address.
    let csrf = {
        let r = half.get_json("/tf-rescue").await;
        let body: serde_json::Value = r.json().await.unwrap();
        body["response"]["csrf_token"].as_str().unwrap().to_owned()
    };
    let r = half
        .post_json(
            "/tf-rescue",
            &serde_json::json!({"help_setup": "help"}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_eml(&app.mail_dir, "support@example.com", "Two-Factor Rescue", 1).await;
    let mails = eml_messages(&app.mail_dir);
    for mail in TWO_FACTOR_MAILS {
        let text = format!("security/email/{mail}.txt");
        let html = format!("security/email/{mail}.html");
        let found = mails.iter().any(|m| {
            m.part("text/plain")
                .is_some_and(|t| t.contains(&marker(&text)))
                && m.part("text/html")
                    .is_some_and(|h| h.contains(&marker(&html)))
        });
        assert!(found, "no mail shows the {mail} overrides");
    }
}

/// The passkey pages, overridable like the others (Flask-Security's names, and Latchkey's
/// own `wan_signup.html`), and the script they run.
const PASSKEY_PAGES: &[&str] = &[
    "security/wan_register.html",
    "security/wan_signin.html",
    "security/wan_verify.html",
    "security/wan_signup.html",
];

#[actix_web::test]
async fn the_passkey_pages_can_be_overridden_by_name_and_their_script_is_served() {
    let dir = tempfile::tempdir().unwrap();
    for page in PASSKEY_PAGES {
        write(
            dir.path(),
            page,
            &format!(
                "{{% extends \"base.html\" %}}{{% block content %}}<p>{}</p>{{% endblock content %}}",
                marker(page)
            ),
        );
    }
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true"),
    ])
    .await;
    let email = new_email("wan-overrides");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    let anonymous = app.client();
    let seen = [
        (
            "security/wan_register.html",
            page_text(&owner, "/wan-register").await,
        ),
        (
            "security/wan_verify.html",
            page_text(&owner, "/wan-verify").await,
        ),
        (
            "security/wan_signin.html",
            page_text(&anonymous, "/wan-signin").await,
        ),
        (
            "security/wan_signup.html",
            page_text(&anonymous, "/wan-signup").await,
        ),
    ];
    for (name, html) in &seen {
        assert!(html.contains(&marker(name)), "{name}: {html}");
    }
    assert_eq!(seen.len(), PASSKEY_PAGES.len());

    // The default pages: the login page offers a passkey, the script is served, no inline
    // script anywhere (the CSP allows none).
    let app = spawn_app_with(&[("SECURITY_WEBAUTHN", "true")]).await;
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("Sign in with a passkey"), "{login}");
    let r = app.get("/static/webauthn.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("navigator.credentials"));
    let page = app.get("/wan-signin").await.text().await.unwrap();
    assert!(page.contains("/static/webauthn.js"), "{page}");
    assert!(!page.contains("<script>"), "no inline script: {page}");
}

/// The unified sign-in pages and mail, overridable like the others (Flask-Security's names,
/// and Latchkey's own `us_verify_link.html`, the question a link asks in another browser).
#[actix_web::test]
async fn the_unified_sign_in_pages_and_mail_can_be_overridden_by_name() {
    const PAGES: &[&str] = &[
        "security/us_signin.html",
        "security/us_setup.html",
        "security/us_verify.html",
        "security/us_verify_link.html",
    ];
    let dir = tempfile::tempdir().unwrap();
    for page in PAGES {
        write(
            dir.path(),
            page,
            &format!(
                "{{% extends \"base.html\" %}}{{% block content %}}<p>{}</p>{{% endblock content %}}",
                marker(page)
            ),
        );
    }
    for ext in ["txt", "html"] {
        let name = format!("security/email/us_instructions.{ext}");
        write(
            dir.path(),
            &name,
            &format!("{} {{{{ login_token }}}}\n", marker(&name)),
        );
    }
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_TOTP_SECRETS", "customising-secret"),
    ])
    .await;
    let email = new_email("us-overrides");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    let anonymous = app.client();
    let seen = [
        (
            "security/us_signin.html",
            page_text(&anonymous, "/us-signin").await,
        ),
        (
            "security/us_setup.html",
            page_text(&owner, "/us-setup").await,
        ),
        (
            "security/us_verify.html",
            page_text(&owner, "/us-verify").await,
        ),
        (
            "security/us_verify_link.html",
            page_text(&anonymous, "/us-verify-link?id=x&code=123456").await,
        ),
    ];
    for (name, html) in &seen {
        assert!(html.contains(&marker(name)), "{name}: {html}");
    }
    // The code mail: setting up codes by email sends one.
    let token = owner.json_csrf_token().await;
    let r = owner
        .post_json(
            "/us-setup",
            &serde_json::json!({"chosen_method": "email"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mail = wait_for_eml(&app.mail_dir, &email, "Verification Code", 1).await;
    let text = mail[0].part("text/plain").unwrap();
    assert!(
        text.contains(&marker("security/email/us_instructions.txt")),
        "{text}"
    );
}

/// Flask-Security's `SECURITY_*_TEMPLATE` keys name the file a page or mail is rendered
/// from (a mail by its name without extension, both parts), and Flask-Security's own name
/// of the confirm-it's-you page (`security/verify.html`) is used without a key.
#[actix_web::test]
async fn template_keys_name_the_files_pages_and_mails_are_rendered_from() {
    let dir = tempfile::tempdir().unwrap();
    let page = |text: &str| {
        format!(
            "{{% extends \"base.html\" %}}{{% block content %}}<p>{text}</p>\
             {{% endblock content %}}"
        )
    };
    write(
        dir.path(),
        "myapp/login.html",
        &page("override:myapp-login"),
    );
    write(
        dir.path(),
        "security/verify.html",
        &page("override:flask-verify"),
    );
    write(
        dir.path(),
        "myapp/email/hello.txt",
        "override:hello-txt {{ user.email }}",
    );
    write(
        dir.path(),
        "myapp/email/hello.html",
        "<p>override:hello-html</p>",
    );
    let templates = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_LOGIN_USER_TEMPLATE", "myapp/login.html"),
        ("SECURITY_REGISTER_EMAIL_TEMPLATE", "myapp/email/hello"),
    ])
    .await;
    let c = app.client();
    assert!(page_text(&c, "/login")
        .await
        .contains("override:myapp-login"));

    let email = new_email("template-keys");
    assert_eq!(
        c.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    assert!(page_text(&c, "/verify")
        .await
        .contains("override:flask-verify"));
    let mail = wait_for_eml(&app.mail_dir, &email, "Welcome", 1)
        .await
        .remove(0);
    let text = mail.part("text/plain").unwrap();
    assert!(
        text.contains(&format!("override:hello-txt {email}")),
        "{text}"
    );
    assert!(mail
        .part("text/html")
        .unwrap()
        .contains("override:hello-html"));
}

/// A key that names a file there is not stops start-up, naming the key.
#[actix_web::test]
async fn a_template_key_naming_no_file_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().to_string_lossy().into_owned();
    let err = match try_spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_LOGIN_USER_TEMPLATE", "myapp/missing.html"),
    ])
    .await
    {
        Ok(_) => panic!("start-up must fail"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("SECURITY_LOGIN_USER_TEMPLATE"), "{err}");
    assert!(err.contains("myapp/missing.html"), "{err}");
}
