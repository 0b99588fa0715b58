//! The "Check your email" card after every form that mails a link or a reminder: registering
//! (with confirmation), `/confirm`, `/reset` and `/recover-username`. It names the address as
//! typed, hints at the spam folder, offers to send again, shows once, and looks the same
//! whether or not an account has the address.

use crate::common;
use crate::mail_support;

use common::{flashes, new_email, spawn_app_with, TestApp, PASSWORD};
use mail_support::wait_for_eml;
use reqwest::StatusCode;

async fn app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_USERNAME_RECOVERY", "true"),
        ("HOUSEKEEPING_INTERVAL", "0"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// The card's resend form: it posts `address` back to `to`.
fn assert_card(page: &str, address: &str, to: &str) {
    assert!(page.contains("Check your email"), "{page}");
    assert!(
        page.contains(&format!(
            r#"<p class="check-email-address"><strong>{address}</strong></p>"#
        )),
        "{page}"
    );
    assert!(page.contains("Look in your spam or junk folder"), "{page}");
    assert!(
        page.contains(&format!(
            r#"<form action="{to}" method="post" name="resend_form""#
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            r#"<input type="hidden" name="email" value="{address}">"#
        )),
        "{page}"
    );
    assert!(page.contains("data-resend-after=\"60\""), "{page}");
}

#[actix_web::test]
async fn registering_shows_the_card_once_and_it_sends_the_link_again() {
    let app = app(&[]).await;
    let email = new_email("card");
    let browser = app.client();
    let r = browser.register(&email, PASSWORD).await;
    let home = browser.follow(r, "/").await;
    assert_card(&home, &email, "/confirm");
    assert!(home.contains("Open it to confirm your account."), "{home}");
    // Flask-Security's message stays, above the card.
    assert!(flashes(&home).iter().any(|f| f.contains(&email)), "{home}");
    let again = browser.get("/").await.text().await.unwrap();
    assert!(!again.contains("Check your email"), "shown once: {again}");

    wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let csrf = common::csrf_from_html(&home).expect("the card's CSRF token");
    let r = browser
        .post_form(
            "/confirm",
            &[("email", email.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert_card(&page, &email, "/confirm");
    assert!(page.contains("a new link is on its way"), "{page}");
    wait_for_eml(&app.mail_dir, &email, "Please confirm your email", 1).await;
}

#[actix_web::test]
async fn a_reset_and_a_username_reminder_end_on_the_card() {
    let app = app(&[]).await;
    let email = new_email("forgot");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let browser = app.client();

    let r = browser.submit("/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert_card(&page, &email, "/reset");
    assert!(page.contains("a link to choose a new password"), "{page}");
    assert!(
        !page.contains(r#"name="forgot_password_form""#),
        "the card replaces the form: {page}"
    );
    wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;

    let r = browser
        .submit("/recover-username", &[("email", &email)])
        .await;
    let login = browser.follow(r, "/login").await;
    assert_card(&login, &email, "/recover-username");
    assert!(login.contains("its username is on its way"), "{login}");
}

/// With generic responses, an address without an account gets the very same page as one
/// with an account (the address aside), so the card tells a stranger nothing.
#[actix_web::test]
async fn the_card_is_the_same_for_an_address_without_an_account() {
    let app = app(&[("SECURITY_RETURN_GENERIC_RESPONSES", "true")]).await;
    let known = new_email("known");
    app.create_user(&known, PASSWORD).await;
    app.set_confirmed(&known);
    let unknown = new_email("unknown");

    let mut pages = Vec::new();
    for address in [&known, &unknown] {
        let browser = app.client();
        let r = browser.submit("/reset", &[("email", address)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert_card(&page, address, "/reset");
        let token = common::csrf_from_html(&page).expect("a CSRF token");
        pages.push(
            page.replace(address.as_str(), "ADDRESS")
                .replace(&token, "TOKEN"),
        );
    }
    assert_eq!(pages[0], pages[1]);
}
