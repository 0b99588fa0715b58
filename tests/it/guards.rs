//! Guards for library users: an app that mounts Latchkey and adds its own routes behind
//! `AuthenticatedUser`, `RolesRequired`, `RolesAccepted`, `Premium` and their middleware
//! forms; and the built-in `/admin` page.

use crate::common;

use actix_web::{web, HttpResponse, HttpServer};
use common::{location, new_email, TestApp, TestClient, PASSWORD};
use latchkey::config::Source;
use latchkey::db::roles;
use latchkey::web::guards::{
    auth_required, premium_required, roles_accepted, roles_required, AuthenticatedUser, Premium,
    RolesAccepted, RolesRequired,
};
use latchkey::{AppState, Settings};
use reqwest::StatusCode;
use serde_json::Value;

latchkey::role_set!(Staff = ["editor", "admin"]);
latchkey::role_set!(EditorAuditor = ["editor", "auditor"]);

async fn whoami(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().body(format!("user {}", user.0.user.id))
}

async fn staff(g: RolesAccepted<Staff>) -> HttpResponse {
    HttpResponse::Ok().body(format!("staff {}", g.user.user.id))
}

async fn editor_auditor(g: RolesRequired<EditorAuditor>) -> HttpResponse {
    HttpResponse::Ok().body(format!("editor+auditor {}", g.user.user.id))
}

async fn gold(p: Premium) -> HttpResponse {
    HttpResponse::Ok().body(format!("premium {}", p.0.user.id))
}

async fn open() -> HttpResponse {
    HttpResponse::Ok().body("inside")
}

/// A host route that chooses its own policy and caching (an embeddable widget, say).
async fn own_headers() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Security-Policy", HOST_CSP))
        .insert_header(("Cache-Control", "public, max-age=60"))
        .body("cacheable")
}

const HOST_CSP: &str = "default-src 'self'; frame-ancestors https://partner.example";

/// The host app's own routes, as the README's example mounts them.
fn host_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/x/whoami", web::get().to(whoami))
        .route("/x/own-headers", web::get().to(own_headers))
        .route("/x/staff", web::get().to(staff))
        .route("/x/editor-auditor", web::get().to(editor_auditor))
        .route("/x/gold", web::get().to(gold))
        .service(
            web::scope("/mw-auth")
                .wrap(auth_required())
                .route("", web::get().to(open)),
        )
        .service(
            web::scope("/mw-any")
                .wrap(roles_accepted(["editor", "admin"]))
                .route("", web::get().to(open)),
        )
        .service(
            web::scope("/mw-all")
                .wrap(roles_required(["editor", "auditor"]))
                .route("", web::get().to(open)),
        )
        .service(
            web::scope("/mw-premium")
                .wrap(premium_required())
                .route("", web::get().to(open)),
        );
}

/// A host app (Latchkey + [`host_routes`]) on the database and secrets of `base`.
struct Host {
    base: TestApp,
    address: String,
}

async fn host() -> Host {
    let base = common::spawn_app().await;
    let settings = Settings::from_source(&Source::from_pairs([
        ("SECRET_KEY", base.secret_key.as_str()),
        ("SECURITY_PASSWORD_SALT", base.salt.as_str()),
        ("DATABASE_URL", base.database_url.as_str()),
        ("SECURITY_BCRYPT_ROUNDS", "4"),
        ("SECURITY_REGISTERABLE", "true"),
        ("SECURITY_TEMPLATES_DIR", &common::crate_dir("templates")),
        ("STATIC_DIR", &common::crate_dir("static")),
    ]))
    .unwrap();
    let state = web::Data::new(
        actix_web::rt::task::spawn_blocking(move || AppState::new(settings))
            .await
            .unwrap()
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || latchkey::app(state.clone()).configure(host_routes))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    Host { base, address }
}

impl Host {
    fn client(&self) -> TestClient {
        TestClient::new(&self.address)
    }

    /// A registered, logged-in user holding `role_names` (created as needed).
    async fn user_with(&self, role_names: &[&str]) -> (String, TestClient) {
        let email = new_email("guard");
        let c = self.client();
        assert_eq!(
            c.register(&email, PASSWORD).await.status(),
            StatusCode::FOUND
        );
        let user_id = self.base.user(&email).id;
        let mut conn = self.base.db();
        for name in role_names {
            let role = match roles::find_by_name(&mut conn, name).unwrap() {
                Some(r) => r,
                None => roles::create(&mut conn, name, None).unwrap().unwrap(),
            };
            roles::add_to_user(&mut conn, user_id, role.id).unwrap();
        }
        (email, c)
    }
}

async fn status(c: &TestClient, path: &str) -> StatusCode {
    c.get(path).await.status()
}

/// Anonymous: a redirect to the login page (HTML) and 401 (JSON).
async fn assert_login_required(c: &TestClient, path: &str) {
    let r = c.get(path).await;
    assert_eq!(r.status(), StatusCode::FOUND, "{path}");
    let to = location(&r).unwrap();
    assert!(to.starts_with("/login?next="), "{path} -> {to}");
    assert!(to.contains(path.trim_start_matches('/')), "{path} -> {to}");
    common::assert_json_error(c.get_json(path).await, 401).await;
}

/// Logged in but lacking: 403 in both formats.
async fn assert_forbidden(c: &TestClient, path: &str) {
    assert_eq!(status(c, path).await, StatusCode::FORBIDDEN, "{path}");
    common::assert_json_error(c.get_json(path).await, 403).await;
}

#[actix_web::test]
async fn anonymous_visitors_are_sent_to_log_in_by_every_guard() {
    let host = host().await;
    let anon = host.client();

    for path in [
        "/x/whoami",
        "/x/staff",
        "/x/editor-auditor",
        "/x/gold",
        "/mw-auth",
        "/mw-any",
        "/mw-all",
        "/mw-premium",
        "/admin",
    ] {
        assert_login_required(&anon, path).await;
    }
}

#[actix_web::test]
async fn authenticated_user_guard_lets_any_logged_in_user_through() {
    let host = host().await;
    let (email, c) = host.user_with(&[]).await;

    let r = c.get("/x/whoami").await;

    assert_eq!(r.status(), StatusCode::OK);
    let id = host.base.user(&email).id;
    assert_eq!(r.text().await.unwrap(), format!("user {id}"));
    assert_eq!(status(&c, "/mw-auth").await, StatusCode::OK);
}

#[actix_web::test]
async fn roles_accepted_needs_any_one_of_the_roles() {
    let host = host().await;
    let (_, nobody) = host.user_with(&[]).await;
    let (_, auditor) = host.user_with(&["auditor"]).await;
    let (_, editor) = host.user_with(&["editor"]).await;
    let (_, admin) = host.user_with(&["admin"]).await;

    for c in [&nobody, &auditor] {
        assert_forbidden(c, "/x/staff").await;
        assert_forbidden(c, "/mw-any").await;
    }
    for c in [&editor, &admin] {
        assert_eq!(status(c, "/x/staff").await, StatusCode::OK);
        assert_eq!(status(c, "/mw-any").await, StatusCode::OK);
    }
}

#[actix_web::test]
async fn roles_required_needs_every_role() {
    let host = host().await;
    let (_, editor) = host.user_with(&["editor"]).await;
    let (_, auditor) = host.user_with(&["auditor"]).await;
    let (_, both) = host.user_with(&["editor", "auditor"]).await;

    for c in [&editor, &auditor] {
        assert_forbidden(c, "/x/editor-auditor").await;
        assert_forbidden(c, "/mw-all").await;
    }
    assert_eq!(status(&both, "/x/editor-auditor").await, StatusCode::OK);
    assert_eq!(status(&both, "/mw-all").await, StatusCode::OK);
}

#[actix_web::test]
async fn roles_are_read_at_each_request() {
    let host = host().await;
    let (email, c) = host.user_with(&[]).await;
    assert_forbidden(&c, "/x/staff").await;
    let mut conn = host.base.db();
    let role = roles::create(&mut conn, "editor", None).unwrap().unwrap();
    let id = host.base.user(&email).id;

    roles::add_to_user(&mut conn, id, role.id).unwrap();

    assert_eq!(status(&c, "/x/staff").await, StatusCode::OK);
    roles::remove_from_user(&mut conn, id, role.id).unwrap();
    assert_forbidden(&c, "/x/staff").await;
}

#[actix_web::test]
async fn premium_guard_needs_the_premium_flag() {
    let host = host().await;
    let (email, c) = host.user_with(&[]).await;

    assert_forbidden(&c, "/x/gold").await;
    assert_forbidden(&c, "/mw-premium").await;
    assert_forbidden(&c, "/premium").await;
    host.base.set_premium(&email, true);

    assert_eq!(status(&c, "/x/gold").await, StatusCode::OK);
    assert_eq!(status(&c, "/mw-premium").await, StatusCode::OK);
    assert_eq!(status(&c, "/premium").await, StatusCode::OK);
}

#[actix_web::test]
async fn the_admin_page_finds_users_by_email_and_shows_their_state() {
    let host = host().await;
    let (editor_email, _) = host.user_with(&["editor"]).await;
    let (admin_email, admin) = host.user_with(&["admin"]).await;
    host.base.set_active(&editor_email, false);

    // Part of one address, in other case: only that account, and how many there are.
    let local = editor_email.split('@').next().unwrap().to_uppercase();
    let r = admin.get(&format!("/admin?q={local}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    // The list of users (the events below it name everyone).
    let start = html
        .find(r#"class="admin-users""#)
        .expect("the list of users");
    let end = html.find("admin-events-heading").expect("the events");
    let listed = &html[start..end];
    assert!(listed.contains(&editor_email), "{listed}");
    assert!(
        !listed.contains(&admin_email),
        "only the match is listed: {listed}"
    );
    assert!(html.contains("1 of 2 users match"), "{html}");
    assert!(
        html.contains(r#"<li class="badge badge-danger">Deactivated</li>"#),
        "{html}"
    );
    assert!(html.contains("Two-factor off"), "{html}");
    // The field keeps what was searched for.
    assert!(html.contains(&format!(r#"value="{local}""#)), "{html}");

    let j: Value = admin
        .get_json("/admin?q=nobody-has-this")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j["response"]["users"], serde_json::json!([]), "{j}");
    assert_eq!(j["response"]["total"], 2, "{j}");
    let j: Value = admin.get_json("/admin").await.json().await.unwrap();
    let users = j["response"]["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{j}");
    assert!(
        users
            .iter()
            .all(|u| u["two_factor"].is_null() && u["confirmed"].is_boolean()),
        "{j}"
    );
    // Without a match the page says so.
    let html = admin
        .get("/admin?q=nobody-has-this")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No user matches."), "{html}");
}

#[actix_web::test]
async fn the_admin_page_lists_users_for_admins_only() {
    let host = host().await;
    let (plain_email, plain) = host.user_with(&["editor"]).await;
    let (admin_email, admin) = host.user_with(&["admin"]).await;
    host.base.set_premium(&plain_email, true);
    host.base.set_active(&plain_email, false);

    let r = admin.get("/admin").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&plain_email) && html.contains(&admin_email),
        "{html}"
    );
    assert!(
        html.contains(r#"<li class="badge badge-role">editor</li>"#)
            && html.contains(r#"<li class="badge badge-role">admin</li>"#),
        "{html}"
    );
    let j: Value = admin.get_json("/admin").await.json().await.unwrap();
    let users = j["response"]["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{j}");
    let p = users
        .iter()
        .find(|u| u["email"] == plain_email.as_str())
        .unwrap();
    assert_eq!(p["roles"], serde_json::json!(["editor"]));
    assert_eq!(p["premium"], true);
    assert_eq!(p["active"], false);
    assert!(p.get("last_login_at").is_some(), "{p}");
    assert!(
        p.get("password").is_none() && p.get("fs_uniquifier").is_none(),
        "{p}"
    );
    // A non-admin gets 403; the deactivated one is logged out.
    let (_, editor) = host.user_with(&["editor"]).await;
    assert_forbidden(&editor, "/admin").await;
    assert_login_required(&plain, "/admin").await;
}

/// The security headers do not overwrite a host route's own `Content-Security-Policy` or
/// `Cache-Control` (Flask-Security's bug #1263 has this shape); a route that sets neither
/// still gets Latchkey's.
#[actix_web::test]
async fn a_host_routes_own_policy_and_caching_are_kept() {
    let host = host().await;
    let r = host.client().get("/x/own-headers").await;
    assert_eq!(r.status(), StatusCode::OK);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-security-policy").as_deref(), Some(HOST_CSP));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));

    let r = host.client().get("/mw-auth").await;
    let csp = r.headers().get("content-security-policy").unwrap();
    assert_eq!(csp, latchkey::web::headers::CONTENT_SECURITY_POLICY);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
}
