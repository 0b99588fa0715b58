//! Several Latchkey processes on one database behave as one: three instances of the built
//! binary behind a round-robin proxy, started at the same moment on a fresh database.
//!
//! On PostgreSQL (`LATCHKEY_TEST_POSTGRES_URL`, `--features postgres`) they share one
//! PostgreSQL database; otherwise one SQLite file (three processes on one SQLite file are a
//! valid deployment on one machine too). The state that must agree lives in the database:
//! logins (`login_session` rows), accounts, the mail outbox. The session cookie is encrypted
//! with a key derived from the shared `SECRET_KEY`, so any instance reads any other's.

use crate::common;
use crate::mail_support;
use crate::proxy_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{latchkey_command, location, new_email, random_hex, FreshDatabase, TestClient};
use common::{PASSWORD, POSTGRES_URL_VAR};
use diesel::prelude::*;
use latchkey::db::schema::{login_session, mail_outbox, user};
use mail_support::{eventually, SmtpSink};
use proxy_support::RoundRobinProxy;
use reqwest::cookie::Jar;
use reqwest::StatusCode;

const NEW_PASSWORD: &str = "battery-staple-42";

/// The settings every instance shares: the database, `SECRET_KEY`, the password salt.
struct Shared {
    database: FreshDatabase,
    secret: String,
    salt: String,
    smtp_port: u16,
}

impl Shared {
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database.url.clone()),
            ("SECRET_KEY", self.secret.clone()),
            ("SECURITY_PASSWORD_SALT", self.salt.clone()),
            ("SECURITY_BCRYPT_ROUNDS", "4".into()),
            ("SECURITY_REGISTERABLE", "true".into()),
            ("SECURITY_CHANGEABLE", "true".into()),
            ("MAIL_SERVER", "127.0.0.1".into()),
            ("MAIL_PORT", self.smtp_port.to_string()),
            ("RUST_LOG", "warn".into()),
        ]
    }

    /// `latchkey ARGS` against the shared database, as an operator would run it.
    fn cli(&self, args: &[&str]) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = latchkey_command(self.database.dir.path(), &env)
            .args(args)
            .output()
            .expect("run the latchkey CLI");
        assert!(out.status.success(), "latchkey {args:?}: {out:?}");
    }
}

/// One instance: the built binary on a free port, killed when dropped.
struct Instance {
    child: Child,
    socket: SocketAddr,
    url: String,
}

impl Instance {
    fn spawn(shared: &Shared) -> Self {
        let socket = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let url = format!("http://{socket}");
        let mut env = shared.env();
        env.extend([
            ("HOST", "127.0.0.1".into()),
            ("PORT", socket.port().to_string()),
            ("BASE_URL", url.clone()),
            ("WORKERS", "1".into()),
        ]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let child = latchkey_command(shared.database.dir.path(), &env)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the latchkey binary");
        Self { child, socket, url }
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/login", self.url)).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the instance on {} exited at start-up: {status}", self.url);
            }
            assert!(Instant::now() < deadline, "{} did not start", self.url);
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser (one cookie jar) talking to `base`. No connection reuse, so that through the
/// proxy each request may land on another instance.
fn browser(base: &str, jar: &Arc<Jar>) -> TestClient {
    let mut client = TestClient::new(base);
    client.jar = jar.clone();
    client.http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build reqwest client");
    client
}

/// Which instances see this browser logged in (`/profile` 200 rather than a redirect).
async fn signed_in_on(jar: &Arc<Jar>, instances: &[Instance]) -> Vec<bool> {
    let mut seen = Vec::new();
    for instance in instances {
        let r = browser(&instance.url, jar).get("/profile").await;
        match r.status() {
            StatusCode::OK => seen.push(true),
            StatusCode::FOUND => seen.push(false),
            other => panic!("/profile on {} answered {other}", instance.url),
        }
    }
    seen
}

async fn login(base: &str, jar: &Arc<Jar>, email: &str, password: &str) -> StatusCode {
    let r = browser(base, jar).login(email, password, false).await;
    if r.status() == StatusCode::FOUND {
        assert_eq!(location(&r).as_deref(), Some("/"), "login of {email}");
    }
    r.status()
}

fn user_id(shared: &Shared, email: &str) -> i32 {
    user::table
        .filter(user::email.eq(email))
        .select(user::id)
        .first(&mut shared.database.db())
        .expect("the user")
}

#[actix_web::test]
async fn three_instances_on_one_database_act_as_one() {
    let postgres_wanted = std::env::var(POSTGRES_URL_VAR).is_ok_and(|v| !v.trim().is_empty());
    let sink = SmtpSink::start().await;
    let shared = Shared {
        database: FreshDatabase::new(),
        secret: random_hex(32),
        salt: random_hex(16),
        smtp_port: sink.port(),
    };
    assert_eq!(shared.database.is_sqlite(), !postgres_wanted);
    println!(
        "three instances on one {} database",
        shared.database.backend_name()
    );

    // All three at once on the fresh database: one applies the migrations, the others wait.
    let mut instances: Vec<Instance> = (0..3).map(|_| Instance::spawn(&shared)).collect();
    for instance in &mut instances {
        instance.wait_ready().await;
    }
    let proxy = RoundRobinProxy::start("127.0.0.1:0", instances.iter().map(|i| i.socket).collect())
        .await
        .expect("start the proxy");
    let (a, b, c) = (&instances[0].url, &instances[1].url, &instances[2].url);

    // Registration through the proxy: the form comes from one instance, its CSRF token is
    // checked by the next.
    let emails: Vec<String> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|name| new_email(name))
        .collect();
    let [alice, bob, carol, dave] = [&emails[0], &emails[1], &emails[2], &emails[3]];
    for email in &emails {
        let r = browser(&proxy.url(), &Arc::new(Jar::default()))
            .register(email, PASSWORD)
            .await;
        assert_eq!(r.status(), StatusCode::FOUND, "registering {email}");
    }

    // A login made through A is valid on B and C; logout on B ends it on all.
    let alice_jar = Arc::new(Jar::default());
    assert_eq!(
        login(a, &alice_jar, alice, PASSWORD).await,
        StatusCode::FOUND
    );
    assert_eq!(signed_in_on(&alice_jar, &instances).await, [true; 3]);
    let r = browser(b, &alice_jar).logout().await;
    assert_eq!(r.status(), StatusCode::FOUND, "logout on B");
    assert_eq!(signed_in_on(&alice_jar, &instances).await, [false; 3]);

    // A password change on C ends bob's other login (made on A) everywhere; the new password
    // works on every instance and the old one on none.
    let (bob_phone, bob_laptop) = (Arc::new(Jar::default()), Arc::new(Jar::default()));
    assert_eq!(login(a, &bob_phone, bob, PASSWORD).await, StatusCode::FOUND);
    assert_eq!(
        login(b, &bob_laptop, bob, PASSWORD).await,
        StatusCode::FOUND
    );
    let r = browser(c, &bob_laptop)
        .change_password(PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::FOUND, "password change on C");
    assert_eq!(signed_in_on(&bob_phone, &instances).await, [false; 3]);
    assert_eq!(signed_in_on(&bob_laptop, &instances).await, [true; 3]);
    for instance in &instances {
        let jar = Arc::new(Jar::default());
        assert_eq!(
            login(&instance.url, &jar, bob, PASSWORD).await,
            StatusCode::OK,
            "the old password is refused on {}",
            instance.url
        );
        assert_eq!(
            login(&instance.url, &jar, bob, NEW_PASSWORD).await,
            StatusCode::FOUND,
            "the new password works on {}",
            instance.url
        );
    }

    // Deactivation with the CLI ends carol's login (made through the proxy) on every instance.
    let carol_jar = Arc::new(Jar::default());
    assert_eq!(
        login(&proxy.url(), &carol_jar, carol, PASSWORD).await,
        StatusCode::FOUND
    );
    assert_eq!(signed_in_on(&carol_jar, &instances).await, [true; 3]);
    shared.cli(&["users", "deactivate", carol]);
    assert_eq!(signed_in_on(&carol_jar, &instances).await, [false; 3]);
    for instance in &instances {
        let jar = Arc::new(Jar::default());
        assert_eq!(
            login(&instance.url, &jar, carol, PASSWORD).await,
            StatusCode::OK,
            "a deactivated account is refused on {}",
            instance.url
        );
    }

    // One of dave's logins revoked (its row deleted, as a "your sessions" page does): that
    // browser is out on every instance, his other login goes on everywhere.
    let (dave_kept, dave_revoked) = (Arc::new(Jar::default()), Arc::new(Jar::default()));
    assert_eq!(
        login(a, &dave_kept, dave, PASSWORD).await,
        StatusCode::FOUND
    );
    // Rows are told apart by creation time (kept to the second on SQLite).
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        login(c, &dave_revoked, dave, PASSWORD).await,
        StatusCode::FOUND
    );
    let dave_id = user_id(&shared, dave);
    let mut conn = shared.database.db();
    let newest: String = login_session::table
        .filter(login_session::user_id.eq(dave_id))
        .order(login_session::created_at.desc())
        .select(login_session::id)
        .first(&mut conn)
        .expect("dave's newest login");
    diesel::delete(login_session::table.filter(login_session::id.eq(&newest)))
        .execute(&mut conn)
        .expect("revoke the login");
    assert_eq!(signed_in_on(&dave_revoked, &instances).await, [false; 3]);
    assert_eq!(signed_in_on(&dave_kept, &instances).await, [true; 3]);

    // The outbox is shared: three delivery workers, each message sent exactly once.
    let mut expected: Vec<(String, &str)> = emails.iter().map(|e| (e.clone(), "Welcome")).collect();
    expected.push((bob.clone(), "Your password has been changed"));
    eventually(Duration::from_secs(60), "every mail delivered", || async {
        let left: i64 = mail_outbox::table
            .count()
            .get_result(&mut shared.database.db())
            .expect("count the outbox");
        sink.messages().len() >= expected.len() && left == 0
    })
    .await;
    // A little longer, to catch a duplicate.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for m in sink.messages() {
        let key = (
            m.header("To").unwrap_or_default(),
            m.header("Subject").unwrap_or_default(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    for (to, subject) in &expected {
        assert_eq!(
            counts.get(&(to.clone(), (*subject).to_owned())),
            Some(&1),
            "{to} {subject}: {counts:?}"
        );
    }
    assert_eq!(sink.messages().len(), expected.len(), "{counts:?}");
}
