//! The account area (`/profile`), the sessions page and the passkeys page as a user reads
//! them: the security summary's facts, only what is switched on offered (recovery codes
//! with two-factor on, texts with SMS on), the failed sign-in prompt, device names on
//! `/sessions` and "Never" for a passkey never used.

use crate::common;

use std::time::Duration;

use common::{new_email, spawn_app_with, unescape_html, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::db::schema::{user, webauthn};
use reqwest::StatusCode;

const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn signed_in(app: &TestApp, agent: &str, email: &str) -> TestClient {
    let c = app.client_as(agent);
    assert_eq!(
        c.login(email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    c
}

/// Waits until every emitted security event is stored.
async fn flush(app: &TestApp) {
    let events = app.events.clone();
    let done = tokio::task::spawn_blocking(move || events.flush(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(done, "the event queue did not drain");
}

async fn page(c: &TestClient, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    unescape_html(&r.text().await.unwrap())
}

/// The text of the element with `id` (up to its closing tag), tags removed.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let from = &html[start..];
    let open_end = from.find('>').unwrap() + 1;
    let close = from.find("</").unwrap();
    let mut inner = from[open_end..close.max(open_end)].to_owned();
    // Nested tags: take up to the end of the paragraph instead.
    if inner.trim().is_empty() || from[open_end..].starts_with('<') {
        let end = from.find("</p>").unwrap_or(from.len());
        inner = from[open_end..end].to_owned();
    }
    let mut out = String::new();
    let mut in_tag = false;
    for ch in inner.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn add_passkey(app: &TestApp, email: &str, name: &str, used: bool) {
    let id = app.user(email).id;
    let created = latchkey::db::now() - chrono::Duration::days(3);
    let last = if used {
        created + chrono::Duration::days(1)
    } else {
        created
    };
    diesel::insert_into(webauthn::table)
        .values((
            webauthn::credential_id.eq(name.as_bytes().to_vec()),
            webauthn::public_key.eq(vec![1u8, 2, 3]),
            webauthn::sign_count.eq(Some(0)),
            webauthn::transports.eq(Some("internal")),
            webauthn::backup_state.eq(false),
            webauthn::device_type.eq("single_device"),
            webauthn::extensions.eq(None::<String>),
            webauthn::create_datetime.eq(created),
            webauthn::lastuse_datetime.eq(last),
            webauthn::name.eq(name),
            webauthn::usage.eq("first"),
            webauthn::user_id.eq(id),
        ))
        .execute(&mut app.db())
        .unwrap();
}

fn turn_on_two_factor(app: &TestApp, email: &str, codes: &str) {
    diesel::update(user::table.filter(user::email.eq(email)))
        .set((
            user::tf_primary_method.eq(Some("email")),
            user::mf_recovery_codes.eq(Some(codes)),
        ))
        .execute(&mut app.db())
        .unwrap();
}

#[actix_web::test]
async fn the_summary_states_two_factor_passkeys_and_recovery_codes_left() {
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "account-page-totp-secret"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_WEBAUTHN", "true"),
    ])
    .await;
    let email = new_email("summary");
    app.create_user(&email, PASSWORD).await;
    let c = signed_in(&app, FIREFOX_LINUX, &email).await;

    // Two-factor off: the summary says so, and no recovery codes are offered.
    let html = page(&c, "/profile").await;
    assert_eq!(
        text_of(&html, "security-summary"),
        "Two-factor off · 0 passkeys"
    );
    assert_eq!(text_of(&html, "two-factor-status"), "Off");
    assert!(!html.contains("recovery-codes-left"), "{html}");
    assert!(!html.contains("Get new recovery codes"), "{html}");
    assert!(html.contains("Turn on two-factor sign-in"), "{html}");

    turn_on_two_factor(
        &app,
        &email,
        "aaaa-bbbb-cccc,dddd-eeee-ffff,1111-2222-3333,4444-5555-6666",
    );
    add_passkey(&app, &email, "Work laptop", true);
    add_passkey(&app, &email, "Phone", false);
    let html = page(&c, "/profile").await;
    assert_eq!(
        text_of(&html, "security-summary"),
        "Two-factor on · 2 passkeys · 4 recovery codes left"
    );
    assert_eq!(
        text_of(&html, "two-factor-status"),
        "On, with codes by email"
    );
    assert!(html.contains("Get new recovery codes"), "{html}");
    // Actions are named for what they do; signing out is not the loudest button.
    assert!(html.contains(">Change password<") || !html.contains("Password"));
    assert!(html.contains("Manage passkeys"), "{html}");
    assert!(html.contains("<button type=\"submit\" class=\"secondary\">Sign out</button>"));
    // The passkey never used says so, not its creation time.
    let list = &html[html.find("id=\"account-passkeys\"").unwrap()..];
    let phone = &list[list.find("Phone").unwrap()..];
    let phone = &phone[..phone.find("</li>").unwrap()];
    assert!(phone.contains("Never"), "{phone}");
    let laptop = &list[list.find("Work laptop").unwrap()..];
    let laptop = &laptop[..laptop.find("</li>").unwrap()];
    assert!(laptop.contains("<time datetime=\""), "{laptop}");
    assert!(!laptop.contains("Never"), "{laptop}");
}

#[actix_web::test]
async fn sign_in_options_promise_only_the_enabled_methods() {
    let app = spawn_app_with(&[
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_TOTP_SECRETS", "account-page-totp-secret"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
    ])
    .await;
    let email = new_email("options");
    app.create_user(&email, PASSWORD).await;
    let c = signed_in(&app, FIREFOX_LINUX, &email).await;
    let html = page(&c, "/profile").await;
    let options = text_of(&html, "signin-options");
    assert!(options.contains("a code by email"), "{options}");
    assert!(!options.contains("text message"), "{options}");
    assert!(!html.contains("text message"), "SMS is off: {html}");
    assert!(!options.contains("authenticator"), "{options}");
    assert!(html.contains("Manage sign-in options"), "{html}");
}

#[actix_web::test]
async fn failed_sign_ins_since_the_last_success_are_pointed_out_until_the_next_one() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("failed");
    app.create_user(&email, PASSWORD).await;
    let mine = signed_in(&app, FIREFOX_LINUX, &email).await;
    flush(&app).await;
    let html = page(&mine, "/profile").await;
    assert!(!html.contains("id=\"failed-signins\""), "{html}");

    // Someone else tries a wrong password twice.
    let other = app.client_as(SAFARI_IPHONE);
    for _ in 0..2 {
        assert_eq!(
            other
                .login(&email, "not-the-Password-1", false)
                .await
                .status(),
            StatusCode::OK
        );
    }
    flush(&app).await;
    let html = page(&mine, "/profile").await;
    assert!(
        text_of(&html, "failed-signins")
            .contains("2 failed sign-ins since your last successful one."),
        "{html}"
    );

    // A successful sign-in afterwards: the prompt goes.
    let again = signed_in(&app, FIREFOX_LINUX, &email).await;
    flush(&app).await;
    let html = page(&again, "/profile").await;
    assert!(!html.contains("id=\"failed-signins\""), "{html}");
}

#[actix_web::test]
async fn sessions_are_named_by_device_with_this_device_first() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("devices");
    app.create_user(&email, PASSWORD).await;
    let laptop = signed_in(&app, FIREFOX_LINUX, &email).await;
    let _phone = signed_in(&app, SAFARI_IPHONE, &email).await;
    let html = page(&laptop, "/sessions").await;
    assert!(html.contains("Safari on iPhone"), "{html}");
    assert!(html.contains("Firefox on Linux"), "{html}");
    assert!(
        !html.contains(SAFARI_IPHONE),
        "raw User-Agent shown: {html}"
    );
    // This device first, with its badge.
    let first = html.find("class=\"card session").unwrap();
    let first = &html[first..];
    let first = &first[..first.find("</li>").unwrap()];
    assert!(first.contains("Firefox on Linux"), "{first}");
    assert!(first.contains("This device"), "{first}");
    // Each sign-out names its device and confirms first.
    assert!(
        html.contains(
            "<button type=\"submit\" class=\"danger\">Sign out Safari on iPhone</button>"
        ),
        "{html}"
    );
    assert!(html.contains("<details class=\"confirm\">"), "{html}");
    // Times are machine-readable and readable without JavaScript.
    assert!(
        html.contains("<time class=\"local-time\" datetime=\""),
        "{html}"
    );
    assert!(html.contains(" UTC</time>"), "{html}");
    // A way back to the account.
    assert!(html.contains("href=\"/profile\""), "{html}");
}

#[actix_web::test]
async fn the_passkeys_page_says_never_for_an_unused_passkey_and_confirms_deletion() {
    let app = spawn_app_with(&[("SECURITY_WEBAUTHN", "true")]).await;
    let email = new_email("wan-never");
    app.create_user(&email, PASSWORD).await;
    let c = signed_in(&app, FIREFOX_LINUX, &email).await;
    add_passkey(&app, &email, "Spare key", false);
    let html = page(&c, "/wan-register").await;
    let cell = &html[html.find("passkey-last-used").expect("the column")..];
    let cell = &cell[..cell.find("</td>").unwrap()];
    assert!(cell.contains("Never"), "{cell}");
    assert!(html.contains("Delete passkey Spare key"), "{html}");
    assert!(html.contains("<details class=\"confirm\">"), "{html}");
    assert!(html.contains("href=\"/profile\""), "{html}");
}

#[actix_web::test]
async fn turning_two_factor_on_says_it_is_on() {
    use latchkey::auth::totp::{code_at, TotpSecret};
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "account-page-totp-secret"),
    ])
    .await;
    let email = new_email("tf-on");
    app.create_user(&email, PASSWORD).await;
    let c = signed_in(&app, FIREFOX_LINUX, &email).await;
    let r = c
        .post_json_via(
            "/tf-setup",
            "/tf-setup",
            &serde_json::json!({"setup": "authenticator"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let key = TotpSecret::from_base32(body["response"]["tf_authr_key"].as_str().unwrap()).unwrap();
    let state = body["response"]["tf_state_token"].as_str().unwrap();
    let csrf = c.csrf_token("/profile").await;
    let code = code_at(&key, chrono::Utc::now().timestamp() as u64);
    let r = c
        .post_form(
            &format!("/tf-setup/{state}"),
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let html = page(&c, "/tf-setup").await;
    let flashes = common::flashes(&html);
    assert!(
        flashes.iter().any(|f| f == "Two-factor sign-in is on."),
        "{flashes:?}"
    );
    assert_eq!(text_of(&html, "tf-status"), "On, with an authenticator app");
}

/// The account area's change pages come back to it: its links carry `?next=/profile`, the
/// change goes there, a stale login is asked to confirm and comes back with the `next`
/// kept; without a `next` (Flask-Security's form) the change still goes home, and an
/// off-site `next` is passed over.
#[actix_web::test]
async fn changes_made_from_the_account_area_return_to_it() {
    let app = spawn_app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_CHANGE_USERNAME", "true"),
    ])
    .await;
    let email = new_email("back-to-account");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let account = c.get("/profile").await.text().await.unwrap();
    assert!(
        account.contains("href=\"/change?next=%2Fprofile\""),
        "{account}"
    );
    assert!(account.contains("href=\"/change-username?next=%2Fprofile\""));

    let form = c.get("/change?next=%2Fprofile").await.text().await.unwrap();
    assert!(
        form.contains("name=\"next\" value=\"&#x2F;profile\""),
        "{form}"
    );
    let token = c.csrf_token("/change").await;
    let r = c
        .post_form(
            "/change",
            &[
                ("password", PASSWORD),
                ("new_password", "a-new-password-1"),
                ("new_password_confirm", "a-new-password-1"),
                ("next", "/profile"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/profile");

    let token = c.csrf_token("/change-username").await;
    for (next, expected) in [
        (Some("/profile"), "/profile"),
        (None, "/"),
        (Some("https://evil.example/"), "/"),
    ] {
        let name = format!("user{}", expected.len() + next.map_or(0, str::len));
        let mut fields = vec![("username", name.as_str()), ("csrf_token", token.as_str())];
        if let Some(next) = next {
            fields.push(("next", next));
        }
        let r = c.post_form("/change-username", &fields).await;
        assert!(r.status().is_redirection(), "{next:?}: {}", r.status());
        assert_eq!(r.headers()["location"], expected, "{next:?}");
    }
}

/// The account pages' reads of several users at once (a coalesced batch: one query per table
/// on PostgreSQL, one per user on SQLite) give each user exactly their own rows: every
/// passkey, login and token, and the 50 newest events, newest first.
#[actix_web::test]
async fn the_reads_of_several_users_at_once_keep_each_users_rows_apart() {
    let app = spawn_app_with(&[("SECURITY_WEBAUTHN", "true")]).await;
    let (ada, bob, cy) = (new_email("ada"), new_email("bob"), new_email("cy"));
    for email in [&ada, &bob, &cy] {
        let r = app.client().register(email, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::FOUND, "registering {email}");
    }
    flush(&app).await;
    add_passkey(&app, &ada, "ada-laptop", true);
    add_passkey(&app, &ada, "ada-phone", false);
    add_passkey(&app, &bob, "bob-key", false);
    let ids = [app.user(&ada).id, app.user(&bob).id, app.user(&cy).id];
    let mut conn = app.db();
    // Ada has more events than a page reads, each a second apart and newer than the
    // registrations' own; Bob a few; Cy only her registration's.
    let start = latchkey::db::now() + chrono::Duration::seconds(1);
    for (user_id, count) in [(ids[0], 60), (ids[1], 3)] {
        for n in 0..count {
            latchkey::db::events::insert(
                &mut conn,
                &latchkey::db::models::NewSecurityEvent {
                    user_id: Some(user_id),
                    kind: "login_failed".into(),
                    detail: Some(format!("{n}")),
                    ip: None,
                    user_agent: None,
                    created_at: start + chrono::Duration::seconds(n),
                },
            )
            .unwrap();
        }
    }

    let mut events = latchkey::db::events::recent_for_users(&mut conn, &ids, 50).unwrap();
    for (id, want) in ids.iter().zip([50, 3, 0]) {
        let mine: Vec<_> = events
            .remove(id)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "login_failed")
            .collect();
        assert_eq!(mine.len(), want, "user {id}'s failed sign-ins");
        assert!(mine.iter().all(|e| e.user_id == Some(*id)));
        // Newest first: Ada's are her last 50, 59 down to 10.
        if let (Some(first), Some(last)) = (mine.first(), mine.last()) {
            let newest = if want == 50 { 59 } else { 2 };
            assert_eq!(first.detail.as_deref(), Some(newest.to_string().as_str()));
            assert_eq!(
                last.detail.as_deref(),
                Some((newest + 1 - want).to_string().as_str())
            );
        }
    }
    let all = latchkey::db::events::recent_for_users(&mut conn, &ids, 50).unwrap();
    assert!(
        all[&ids[0]].len() == 50,
        "the limit counts every kind of event"
    );

    let passkeys = latchkey::db::passkeys::for_users(&mut conn, &ids).unwrap();
    let names = |id: &i32| -> Vec<String> { passkeys[id].iter().map(|p| p.name.clone()).collect() };
    assert_eq!(names(&ids[0]), ["ada-laptop", "ada-phone"]);
    assert_eq!(names(&ids[1]), ["bob-key"]);
    assert!(names(&ids[2]).is_empty());

    let logins = latchkey::db::sessions::for_users(&mut conn, &ids).unwrap();
    let tokens = latchkey::db::api_tokens::for_users(&mut conn, &ids).unwrap();
    for id in &ids {
        assert_eq!(logins[id].len(), 1, "user {id}: the registration's login");
        assert!(logins[id].iter().all(|l| l.user_id == *id));
        assert!(tokens[id].is_empty());
    }
}

/// The account and sessions pages are reused for a second when the same login asks again
/// with the same context (`Web::reusable_page`): each login still gets its own page, its
/// own CSRF token (its sign-out works), and a change shows at the next request.
#[actix_web::test]
async fn reused_account_pages_stay_each_logins_own_and_show_a_change_at_once() {
    let app = spawn_app_with(&[]).await;
    let (ada, bob) = (new_email("ada-reuse"), new_email("bob-reuse"));
    app.create_user(&ada, PASSWORD).await;
    app.create_user(&bob, PASSWORD).await;
    let laptop = signed_in(&app, FIREFOX_LINUX, &ada).await;
    let phone = signed_in(&app, SAFARI_IPHONE, &ada).await;
    let bobs = signed_in(&app, FIREFOX_LINUX, &bob).await;
    let first_card = |html: &str| {
        let at = html.find("class=\"card session").expect("a session card");
        let card = &html[at..];
        card[..card.find("</li>").expect("card end")].to_owned()
    };
    let mut tokens = Vec::new();
    for (client, me, other, device) in [
        (&laptop, &ada, &bob, "Firefox on Linux"),
        (&phone, &ada, &bob, "Safari on iPhone"),
        (&bobs, &bob, &ada, "Firefox on Linux"),
    ] {
        let mut token = None;
        // Noted, cut, then served from the cache (within a second).
        for _ in 0..4 {
            for path in ["/profile", "/sessions"] {
                let html = page(client, path).await;
                assert!(html.contains(me.as_str()), "{path} of {me}: {html}");
                assert!(!html.contains(other.as_str()), "{path} of {me}: {html}");
                let t = common::csrf_from_html(&html).expect("a token");
                assert_eq!(token.get_or_insert_with(|| t.clone()), &t, "{path}");
                if path == "/sessions" {
                    let card = first_card(&html);
                    assert!(
                        card.contains(device) && card.contains("This device"),
                        "{card}"
                    );
                }
            }
        }
        tokens.extend(token);
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "each login has its own token");

    // The phone signs out (with the token of its reused page): the laptop's next page,
    // within the second, no longer lists it.
    assert!(page(&laptop, "/sessions")
        .await
        .contains("Safari on iPhone"));
    let r = phone.logout().await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "sign-out with the page's token"
    );
    assert!(!phone.is_authenticated().await);
    let html = page(&laptop, "/sessions").await;
    assert!(!html.contains("Safari on iPhone"), "{html}");
    assert!(laptop.is_authenticated().await && bobs.is_authenticated().await);
}

/// On PostgreSQL the account page's events read is one statement that a connection
/// prepares once: diesel never caches a `sql_query`, which PostgreSQL parsed and planned
/// again for every batch of account pages.
#[cfg(feature = "postgres")]
#[actix_web::test]
async fn the_account_pages_events_read_is_prepared_once_per_connection_on_postgres() {
    use common::POSTGRES_URL_VAR;
    use diesel::sql_types::BigInt;
    use latchkey::db::DbConnection;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    if std::env::var(POSTGRES_URL_VAR).map_or(true, |v| v.trim().is_empty()) {
        eprintln!("{POSTGRES_URL_VAR} is not set: SQLite has no statements to prepare remotely");
        return;
    }
    let app = common::spawn_app().await;
    let email = new_email("prepared");
    app.create_user(&email, PASSWORD).await;
    flush(&app).await;
    let id = app.user(&email).id;
    let mut conn = app.db();
    for _ in 0..3 {
        let events = latchkey::db::events::recent_for_users(&mut conn, &[id, id + 1], 5)
            .expect("the events read");
        assert!(!events[&id].is_empty(), "the registration's event");
    }
    let DbConnection::Postgres(pg) = &mut conn else {
        panic!("{POSTGRES_URL_VAR} is set but the app is not on PostgreSQL");
    };
    let prepared: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements \
         WHERE statement LIKE '%CROSS JOIN LATERAL%security_event%'",
    )
    .get_result(pg)
    .expect("pg_prepared_statements");
    assert_eq!(prepared.n, 1, "prepared once, used three times");
}
