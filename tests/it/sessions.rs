//! Logins as server-side records: remember-me, revocation on logout, and the account
//! changes (new `fs_uniquifier`, deactivation) that end every login of a user.

use crate::common;

use actix_web::cookie::time::{Duration as CookieDuration, OffsetDateTime};
use actix_web::cookie::SameSite;
use common::{new_email, set_cookie, spawn_app, PASSWORD};
use reqwest::StatusCode;

#[actix_web::test]
async fn remember_me_sets_a_year_long_http_only_cookie() {
    let app = spawn_app().await;
    let email = new_email("remember");
    app.create_user(&email, PASSWORD).await;

    let r = app.login(&email, PASSWORD, true).await;

    assert_eq!(r.status(), StatusCode::FOUND);
    let cookie = set_cookie(r.headers(), "remember_token").expect("remember_token is set");
    assert!(!cookie.value().is_empty());
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    let expires = cookie.expires_datetime().expect("an Expires date");
    let left = expires - OffsetDateTime::now_utc();
    assert!(
        left > CookieDuration::days(364) && left <= CookieDuration::days(366),
        "expires in {left}"
    );
    assert!(app.cookie("remember_token").is_some());
}

#[actix_web::test]
async fn without_remember_me_there_is_no_remember_cookie() {
    let app = spawn_app().await;
    let email = new_email("no-remember");
    app.create_user(&email, PASSWORD).await;

    let r = app.login(&email, PASSWORD, false).await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(set_cookie(r.headers(), "remember_token").is_none());
    assert_eq!(app.cookie("remember_token"), None);
}

#[actix_web::test]
async fn a_browser_holding_only_the_remember_cookie_is_logged_in_again() {
    let app = spawn_app().await;
    let email = new_email("restart");
    app.create_user(&email, PASSWORD).await;
    let before_restart = app.logged_in_client(&email, PASSWORD, true).await;
    let remember = before_restart.cookie("remember_token").unwrap();

    // The browser restarts: the session cookie is gone, the remember cookie stays.
    let after_restart = app.client();
    after_restart.set_cookie("remember_token", &remember);
    let r = after_restart.get("/profile").await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie(r.headers(), "session").is_some(),
        "the session is restored"
    );
    assert!(r.text().await.unwrap().contains(&email));
    assert!(after_restart.is_authenticated().await);
}

#[actix_web::test]
async fn a_forged_remember_cookie_is_ignored_and_removed() {
    let app = spawn_app().await;
    let email = new_email("forged");
    app.create_user(&email, PASSWORD).await;
    let real = app.logged_in_client(&email, PASSWORD, true).await;
    let value = real.cookie("remember_token").unwrap();
    let (id, _secret) = value.split_once('.').expect("id.secret");

    for forged in [
        format!("{id}.not-the-secret"),
        format!("{id}."),
        id.to_owned(),
        "garbage".to_owned(),
        format!("{}.{}", "x".repeat(40), "y".repeat(40)),
    ] {
        let browser = app.client();
        browser.set_cookie("remember_token", &forged);

        let r = browser.get("/profile").await;

        assert_eq!(r.status(), StatusCode::FOUND, "{forged}");
        let removal = set_cookie(r.headers(), "remember_token");
        assert_eq!(removal.map(|c| c.value().to_owned()), Some(String::new()));
    }
    assert!(real.is_authenticated().await, "the real login is untouched");
}

#[actix_web::test]
async fn copies_of_the_cookies_stop_working_after_logout() {
    let app = spawn_app().await;
    let email = new_email("revoke");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, true).await;
    let session = browser.cookie("session").unwrap();
    let remember = browser.cookie("remember_token").unwrap();
    // A copy made before logout works while the login lasts.
    let thief = app.client();
    thief.set_cookie("session", &session);
    thief.set_cookie("remember_token", &remember);
    assert!(thief.is_authenticated().await);

    let r = browser.logout().await;
    assert_eq!(r.status(), StatusCode::FOUND);

    let session_copy = app.client();
    session_copy.set_cookie("session", &session);
    assert!(!session_copy.is_authenticated().await);
    let both_copies = app.client();
    both_copies.set_cookie("session", &session);
    both_copies.set_cookie("remember_token", &remember);
    assert!(!both_copies.is_authenticated().await);
    assert!(!thief.is_authenticated().await);
}

#[actix_web::test]
async fn a_copied_remember_cookie_alone_stops_working_after_logout() {
    let app = spawn_app().await;
    let email = new_email("revoke-remember");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, true).await;
    let remember = browser.cookie("remember_token").unwrap();

    browser.logout().await;

    let copy = app.client();
    copy.set_cookie("remember_token", &remember);
    let r = copy.get("/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(!copy.is_authenticated().await);
}

#[actix_web::test]
async fn a_new_fs_uniquifier_logs_out_every_browser_at_the_next_request() {
    let app = spawn_app().await;
    let email = new_email("rotate");
    app.create_user(&email, PASSWORD).await;
    let with_session = app.logged_in_client(&email, PASSWORD, false).await;
    let remembered = app.logged_in_client(&email, PASSWORD, true).await;
    let only_remember = app.client();
    only_remember.set_cookie(
        "remember_token",
        &remembered.cookie("remember_token").unwrap(),
    );
    assert!(only_remember.is_authenticated().await);

    app.rotate_uniquifier(&email);

    assert!(!with_session.is_authenticated().await);
    assert!(!remembered.is_authenticated().await);
    let fresh = app.client();
    fresh.set_cookie(
        "remember_token",
        &remembered.cookie("remember_token").unwrap_or_default(),
    );
    assert!(!fresh.is_authenticated().await);
    // Logging in again works, with the new uniquifier.
    app.logged_in_client(&email, PASSWORD, false).await;
}

#[actix_web::test]
async fn deactivating_an_account_logs_it_out_at_the_next_request() {
    let app = spawn_app().await;
    let email = new_email("deactivate");
    app.create_user(&email, PASSWORD).await;
    let with_session = app.logged_in_client(&email, PASSWORD, false).await;
    let remembered = app.logged_in_client(&email, PASSWORD, true).await;
    let remember = remembered.cookie("remember_token").unwrap();

    app.set_active(&email, false);

    assert!(!with_session.is_authenticated().await);
    assert!(!remembered.is_authenticated().await);
    let only_remember = app.client();
    only_remember.set_cookie("remember_token", &remember);
    assert!(!only_remember.is_authenticated().await);
    // Reactivation does not bring the ended logins back.
    app.set_active(&email, true);
    assert!(!with_session.is_authenticated().await);
}

#[actix_web::test]
async fn anonymous_visits_never_write_to_the_database() {
    let app = spawn_app().await;
    let email = new_email("quiet");
    app.create_user(&email, PASSWORD).await;
    let users_before = format!("{:?}", app.users());
    let sessions_before = app.count_login_sessions();

    for _ in 0..3 {
        let visitor = app.client();
        for path in ["/", "/login", "/register"] {
            let r = visitor.get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
        }
        assert_eq!(visitor.get("/profile").await.status(), StatusCode::FOUND);
    }

    assert_eq!(app.count_login_sessions(), sessions_before);
    assert_eq!(format!("{:?}", app.users()), users_before);
}

#[actix_web::test]
async fn each_login_is_one_row_and_logout_removes_it() {
    let app = spawn_app().await;
    let email = new_email("rows");
    app.create_user(&email, PASSWORD).await;
    let after_register = app.count_login_sessions();
    assert_eq!(after_register, 1, "registering logs in once");

    let a = app.logged_in_client(&email, PASSWORD, false).await;
    let b = app.logged_in_client(&email, PASSWORD, true).await;
    assert_eq!(app.count_login_sessions(), 3);

    a.logout().await;
    b.logout().await;
    assert_eq!(app.count_login_sessions(), 1);
}

#[actix_web::test]
async fn secure_cookies_are_marked_secure() {
    let app = common::spawn_app_with(&[("SESSION_COOKIE_SECURE", "true")]).await;
    let email = new_email("secure");
    app.create_user(&email, PASSWORD).await;
    // A Secure cookie is not sent back over plain HTTP, so read the answer's headers.
    let browser = app.client();
    let token = browser.csrf_token("/login").await;
    let r = browser
        .http
        .post(browser.url("/login"))
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("remember", "y"),
            ("csrf_token", token.as_str()),
        ])
        .header(
            "Cookie",
            format!("session={}", browser.cookie("session").unwrap_or_default()),
        )
        .send()
        .await
        .unwrap();

    for name in ["session", "remember_token"] {
        let cookie = set_cookie(r.headers(), name).unwrap_or_else(|| panic!("{name} is set"));
        assert_eq!(cookie.secure(), Some(true), "{name}");
    }
}

#[actix_web::test]
async fn the_remember_duration_is_configurable() {
    let app = common::spawn_app_with(&[("REMEMBER_COOKIE_DURATION", "2 days")]).await;
    let email = new_email("two-days");
    app.create_user(&email, PASSWORD).await;

    let r = app.login(&email, PASSWORD, true).await;

    let cookie = set_cookie(r.headers(), "remember_token").expect("remember_token");
    let left = cookie.expires_datetime().expect("Expires") - OffsetDateTime::now_utc();
    assert!(
        left > CookieDuration::days(1) && left <= CookieDuration::days(2),
        "expires in {left}"
    );
}

#[actix_web::test]
async fn an_expired_remember_cookie_no_longer_logs_in() {
    use diesel::prelude::*;
    use latchkey::db::schema::login_session;

    let app = spawn_app().await;
    let email = new_email("expired");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, true).await;
    let remember = browser.cookie("remember_token").unwrap();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    let n = diesel::update(login_session::table.filter(login_session::remember_hash.is_not_null()))
        .set(login_session::remember_expires_at.eq(Some(past)))
        .execute(&mut app.db())
        .unwrap();
    assert_eq!(n, 1);

    let returning = app.client();
    returning.set_cookie("remember_token", &remember);

    assert!(!returning.is_authenticated().await);
}

#[actix_web::test]
async fn viewing_pages_does_not_rewrite_the_session_cookie() {
    let app = spawn_app().await;
    let email = new_email("quiet-cookie");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    // The first page may settle the session (a CSRF token); after that, page views leave
    // it alone: no re-encrypted cookie with every answer.
    browser.get("/profile").await;
    for path in ["/profile", "/", "/profile"] {
        let r = browser.get(path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            set_cookie(r.headers(), "session").is_none(),
            "{path} rewrote the session"
        );
    }
}

/// Session lookups of concurrent requests are answered together (`db::coalesce`): in a
/// burst mixing many logins, each request still gets its own user, and a revoked login
/// none, on every request after the revocation.
#[actix_web::test]
async fn concurrent_requests_of_many_logins_each_get_their_own_user() {
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for i in 0..8 {
        let email = new_email(&format!("burst{i}"));
        app.create_user(&email, PASSWORD).await;
        let client = app.logged_in_client(&email, PASSWORD, false).await;
        clients.push((email, client));
    }
    let revoked = clients[3].0.clone();
    app.set_active(&revoked, false);

    let requests = (0..12).flat_map(|_| {
        clients.iter().map(|(email, client)| async move {
            let r = client.get_json("/profile").await;
            (email, r.status(), r.text().await.unwrap_or_default())
        })
    });
    let answers = futures_util::future::join_all(requests).await;

    assert_eq!(answers.len(), 96);
    for (email, status, body) in answers {
        if *email == revoked {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{email}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{email}: {body}");
        let j: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(j["response"]["user"]["email"], serde_json::json!(email));
    }
}

/// The rule behind the coalesced lookups, without HTTP: of a batch of login ids, the valid
/// ones come back by id; unknown ids, repeated ids and a deactivated user's login do not
/// disturb the others, and the deactivated login is cleared.
#[actix_web::test]
async fn a_batch_of_login_ids_resolves_each_valid_login_to_its_user() {
    use diesel::prelude::*;
    use latchkey::auth::login::resolve_sessions;
    use latchkey::db::schema::login_session;

    let app = spawn_app().await;
    let (kept, deactivated) = (new_email("batch-kept"), new_email("batch-off"));
    let mut ids = Vec::new();
    for email in [&kept, &deactivated] {
        app.create_user(email, PASSWORD).await;
        app.logged_in_client(email, PASSWORD, false).await;
        let user_id = app.user(email).id;
        // Registration logged in too: take one of the user's logins.
        let id: String = login_session::table
            .filter(login_session::user_id.eq(user_id))
            .select(login_session::id)
            .first(&mut app.db())
            .expect("a login row");
        ids.push(id);
    }
    app.set_active(&deactivated, false);
    let policy = day_long_policy();
    let batch = [
        ids[0].clone(),
        "no-such-login".to_owned(),
        ids[1].clone(),
        ids[0].clone(),
    ];

    let found = resolve_sessions(&mut app.db(), &batch, &policy).expect("the batch query");

    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[&ids[0]].user.email.as_deref(), Some(kept.as_str()));
    assert_eq!(found[&ids[0]].session_id, ids[0]);
    let remaining = |id: &str| -> i64 {
        login_session::table
            .filter(login_session::id.eq(id))
            .count()
            .get_result(&mut app.db())
            .expect("count")
    };
    assert_eq!(remaining(&ids[0]), 1);
    assert_eq!(remaining(&ids[1]), 0, "the deactivated login is cleared");
}

/// The login lookup with the account pages' reads riding along: every key of a valid login
/// gets its user, and the rows of the page it asked for (two logins of one user asking for
/// the same page both get them); a key without a page gets none, an unknown login nothing.
#[actix_web::test]
async fn a_batch_of_login_lookups_brings_each_asked_page_its_rows() {
    use diesel::prelude::*;
    use latchkey::auth::login::resolve_sessions_with_pages;
    use latchkey::auth::page_reads::{PageRead, PageRows};
    use latchkey::db::schema::login_session;

    let app = spawn_app().await;
    let (two, one) = (new_email("pages-two"), new_email("pages-one"));
    app.create_user(&two, PASSWORD).await;
    app.create_user(&one, PASSWORD).await;
    app.logged_in_client(&two, PASSWORD, false).await;
    app.logged_in_client(&two, PASSWORD, false).await;
    app.logged_in_client(&one, PASSWORD, false).await;
    let logins_of = |email: &str| -> Vec<String> {
        login_session::table
            .filter(login_session::user_id.eq(app.user(email).id))
            .select(login_session::id)
            .order(login_session::id)
            .load(&mut app.db())
            .expect("login rows")
    };
    let (a, b) = (logins_of(&two), logins_of(&one));
    assert!(a.len() >= 2 && !b.is_empty(), "{a:?} {b:?}");
    let policy = day_long_policy();
    let keys = [
        (a[0].clone(), Some(PageRead::Sessions)),
        (a[1].clone(), Some(PageRead::Sessions)),
        (a[0].clone(), None),
        (a[0].clone(), Some(PageRead::Overview)),
        (b[0].clone(), Some(PageRead::Sessions)),
        ("no-such-login".to_owned(), Some(PageRead::Overview)),
    ];

    let found =
        resolve_sessions_with_pages(&mut app.db(), &keys, &policy, true).expect("the batch query");

    assert_eq!(found.len(), 5, "{:?}", found.keys().collect::<Vec<_>>());
    let sessions_of = |key: &(String, Option<PageRead>)| -> Vec<String> {
        match found[key].1.clone() {
            Some(PageRows::Sessions((logins, _tokens))) => {
                let mut ids: Vec<String> = logins.into_iter().map(|l| l.id).collect();
                ids.sort();
                ids
            }
            other => panic!("{key:?}: expected the sessions page's rows, got {other:?}"),
        }
    };
    assert_eq!(
        sessions_of(&keys[0]),
        a,
        "both logins of one user get its logins"
    );
    assert_eq!(sessions_of(&keys[1]), a);
    assert_eq!(sessions_of(&keys[4]), b, "another user gets their own");
    assert!(found[&keys[2]].1.is_none(), "no page asked, no rows");
    match &found[&keys[3]].1 {
        Some(PageRows::Overview((passkeys, _events))) => {
            assert_eq!(passkeys.as_deref().map(<[_]>::len), Some(0));
        }
        other => panic!("expected the overview's rows, got {other:?}"),
    }
    for key in &keys[..5] {
        assert_eq!(found[key].0.session_id, key.0);
    }
    assert_eq!(found[&keys[4]].0.user.email.as_deref(), Some(one.as_str()));
}

/// Logins that idle out after an hour and end after a day, with no freshness window.
fn day_long_policy() -> latchkey::config::SessionPolicy {
    use std::time::Duration;
    latchkey::config::SessionPolicy {
        idle_timeout: Duration::from_secs(3600),
        absolute_timeout: Duration::from_secs(86_400),
        freshness: None,
        freshness_grace: Duration::from_secs(60),
    }
}
