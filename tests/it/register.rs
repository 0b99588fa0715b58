//! Creating an account through the registration form.

use crate::common;

use common::{
    assert_form_rejected, form_errors, location, new_email, spawn_app, TestApp, PASSWORD,
};
use futures_util::future::join_all;
use reqwest::StatusCode;

/// Registers with explicit fields (CSRF token added).
async fn register_fields(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.submit("/register", fields).await
}

#[actix_web::test]
async fn the_registration_form_has_its_fields() {
    let app = spawn_app().await;

    let r = app.get("/register").await;

    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    for name in [
        "email",
        "password",
        "password_confirm",
        "csrf_token",
        "next",
    ] {
        assert!(body.contains(&format!("name=\"{name}\"")), "{name}: {body}");
    }
}

#[actix_web::test]
async fn registering_logs_the_user_in_and_goes_home() {
    let app = spawn_app().await;
    let email = new_email("reg");

    let r = app.register(&email, PASSWORD).await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    assert!(app.is_authenticated().await);
    let profile = app.get("/profile").await.text().await.unwrap();
    assert!(profile.contains(&email), "{profile}");
}

#[actix_web::test]
async fn a_new_account_is_stored_active_with_a_flask_style_password_hash() {
    let app = spawn_app().await;
    let email = new_email("row");

    app.create_user(&email, PASSWORD).await;

    let user = app.user(&email);
    assert_eq!(user.active, Some(true));
    assert_eq!(user.premium, None);
    assert_eq!(user.confirmed_at, None);
    assert_eq!(user.login_count, None);
    let hash = user.password_hash().unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    assert_eq!(hash.len(), 60);
    assert_eq!(user.fs_uniquifier.len(), 32);
    assert!(user
        .fs_uniquifier
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
}

#[actix_web::test]
async fn registering_an_email_that_is_taken_is_refused() {
    let app = spawn_app().await;
    let email = new_email("dup");
    app.create_user(&email, PASSWORD).await;

    let r = app.register(&email, "another-pass-1").await;

    let body = assert_form_rejected(r).await;
    assert!(
        form_errors(&body).contains(&format!("{email} is already associated with an account.")),
        "{body}"
    );
    assert!(!app.is_authenticated().await);
    assert_eq!(app.count_users(), 1);
    // The original account keeps its password; the second one was never stored.
    app.logged_in_client(&email, PASSWORD, false).await;
    let r = app.client().login(&email, "another-pass-1", false).await;
    assert_form_rejected(r).await;
}

#[actix_web::test]
async fn registering_an_email_differing_only_in_case_is_refused() {
    let app = spawn_app().await;
    let suffix = common::random_hex(4);
    app.create_user(&format!("Case.{suffix}@Example.com"), PASSWORD)
        .await;

    let other = format!("case.{suffix}@example.COM");
    let r = app.register(&other, PASSWORD).await;

    let body = assert_form_rejected(r).await;
    assert!(
        body.contains("is already associated with an account."),
        "{body}"
    );
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn password_length_is_checked_at_both_ends() {
    let app = spawn_app().await;
    for (password, accepted) in [
        ("1234567".to_owned(), false),
        ("12345678".to_owned(), true),
        ("x".repeat(128), true),
        ("x".repeat(129), false),
    ] {
        let browser = app.client();
        let email = new_email("len");

        let r = browser.register(&email, &password).await;

        let len = password.len();
        if accepted {
            assert_eq!(r.status(), StatusCode::FOUND, "{len} characters");
            assert!(browser.is_authenticated().await, "{len} characters");
        } else {
            let body = assert_form_rejected(r).await;
            let expected = if len < 8 {
                "Password must be at least 8 characters"
            } else {
                "Password must be at most 128 characters"
            };
            assert!(
                form_errors(&body).iter().any(|e| e == expected),
                "{len} characters: {:?}",
                form_errors(&body)
            );
            assert!(!browser.is_authenticated().await);
            assert!(app.find_user(&email).is_none(), "{len} characters");
        }
    }
}

#[actix_web::test]
async fn password_length_counts_characters_after_nfkd_normalisation() {
    let app = spawn_app().await;
    let email = new_email("nfkd");
    // Four precomposed letters: eight code points once decomposed.
    let password = "\u{e9}\u{e8}\u{ea}\u{eb}";

    let r = app.register(&email, password).await;

    assert_eq!(r.status(), StatusCode::FOUND);
    // The decomposed spelling is the same password.
    let decomposed = "e\u{301}e\u{300}e\u{302}e\u{308}";
    app.logged_in_client(&email, decomposed, false).await;
}

#[actix_web::test]
async fn mismatched_passwords_are_refused() {
    let app = spawn_app().await;
    let email = new_email("mismatch");

    let r = register_fields(
        &app,
        &[
            ("email", &email),
            ("password", PASSWORD),
            ("password_confirm", &format!("{PASSWORD}x")),
        ],
    )
    .await;

    let body = assert_form_rejected(r).await;
    assert!(form_errors(&body).contains(&"Passwords do not match".to_owned()));
    assert!(!app.is_authenticated().await);
    assert!(app.find_user(&email).is_none());
}

#[actix_web::test]
async fn a_missing_password_confirmation_is_refused() {
    let app = spawn_app().await;
    let email = new_email("noconfirm");

    let r = register_fields(&app, &[("email", &email), ("password", PASSWORD)]).await;

    let body = assert_form_rejected(r).await;
    assert!(
        form_errors(&body).contains(&"Password not provided".to_owned()),
        "{body}"
    );
    assert!(app.find_user(&email).is_none());
}

#[actix_web::test]
async fn invalid_email_addresses_are_refused() {
    let app = spawn_app().await;
    for bad in [
        "not-an-email",
        "a@",
        "@example.com",
        "a b@example.com",
        " lead@example.com",
        "trail@example.com ",
        "a@example.test",
        "a@localhost",
        "a..b@example.com",
    ] {
        let browser = app.client();

        let r = browser.register(bad, PASSWORD).await;

        let body = assert_form_rejected(r).await;
        assert!(
            form_errors(&body).contains(&"Invalid email address".to_owned()),
            "{bad:?}: {:?}",
            form_errors(&body)
        );
        assert!(!browser.is_authenticated().await, "{bad:?}");
    }
    let r = app.register("", PASSWORD).await;
    let body = assert_form_rejected(r).await;
    assert!(form_errors(&body).contains(&"Email not provided".to_owned()));
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn an_email_of_254_characters_is_accepted_and_of_255_refused() {
    let app = spawn_app().await;
    let local = "a".repeat(64);
    let domain = |last: usize| {
        format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(last)
        )
    };
    let at_limit = format!("{local}@{}", domain(57));
    let over = format!("{local}@{}", domain(58));
    assert_eq!(at_limit.len(), 254);
    assert_eq!(over.len(), 255);

    let r = app.client().register(&over, PASSWORD).await;
    let body = assert_form_rejected(r).await;
    assert!(form_errors(&body).contains(&"Invalid email address".to_owned()));

    let r = app.client().register(&at_limit, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn twenty_simultaneous_registrations_of_one_email_make_exactly_one_account() {
    // The race, not the per-address rate limit (tests/it/throttle.rs), is under test here.
    let app = common::spawn_app_with(&[("SECURITY_REGISTER_LIMIT_PER_ADDRESS", "0")]).await;
    let email = new_email("race");
    // Twenty browsers, each with its own session and CSRF token, fire together.
    let mut browsers = Vec::new();
    for _ in 0..20 {
        let b = app.client();
        let token = b.csrf_token("/register").await;
        browsers.push((b, token));
    }

    let answers = join_all(browsers.iter().map(|(b, token)| async {
        b.post_form(
            "/register",
            &[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", token.as_str()),
            ],
        )
        .await
    }))
    .await;

    let mut created = 0;
    for r in answers {
        let status = r.status();
        assert!(!status.is_server_error(), "{status}");
        if status == StatusCode::FOUND {
            created += 1;
            continue;
        }
        assert_eq!(status, StatusCode::OK);
        let body = r.text().await.unwrap();
        assert!(body.contains("already associated"), "{body}");
    }
    assert_eq!(created, 1, "exactly one registration wins");
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn registration_switched_off_hides_the_page() {
    let app = common::spawn_app_with(&[("SECURITY_REGISTERABLE", "false")]).await;

    assert_eq!(app.get("/register").await.status(), StatusCode::NOT_FOUND);
    let token = app.csrf_token("/login").await;
    let r = app
        .post_form(
            "/register",
            &[
                ("email", "x@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let login_page = app.get("/login").await.text().await.unwrap();
    assert!(!login_page.contains("href=\"/register\""), "{login_page}");
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn emails_are_stored_case_folded_so_that_case_never_makes_a_second_account() {
    let app = spawn_app().await;
    let tag = common::random_hex(4);

    app.create_user(&format!("Ann.{tag}@Example.COM"), PASSWORD)
        .await;
    let again = app
        .client()
        .register(&format!("ANN.{tag}@example.com"), PASSWORD)
        .await;
    let page = assert_form_rejected(again).await;
    assert!(
        page.contains("is already associated with an account"),
        "{page}"
    );

    let emails: Vec<String> = app.users().into_iter().filter_map(|u| u.email).collect();
    assert_eq!(emails, vec![format!("ann.{tag}@example.com")]);
}

#[actix_web::test]
async fn rejected_forms_do_not_count_against_the_registration_limit() {
    let app = common::spawn_app_with(&[("SECURITY_REGISTER_LIMIT_PER_ADDRESS", "1")]).await;
    let email = new_email("limit");
    let browser = app.client();
    for weak in ["short", "tiny", "no"] {
        assert_form_rejected(browser.register(&email, weak).await).await;
    }
    let r = browser.register(&email, PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "the first valid form goes through"
    );
    // Its welcome mail went out: the rejected forms did not use up the address's share.
    app.mail_settled().await;
    let welcome = std::fs::read_dir(&app.mail_dir)
        .map(|dir| dir.filter_map(Result::ok).count())
        .unwrap_or(0);
    assert_eq!(welcome, 1);
}
