//! Password hashing never stalls the server: hashes run on a bounded pool with a bounded
//! queue (a wait budget, `SECURITY_HASH_WAIT`, or a fixed `SECURITY_HASH_QUEUE`). A burst of
//! logins beyond it is answered at once with 503 and `Retry-After` (form and JSON), cheap
//! pages keep answering meanwhile, and a burst that fits the budget is answered in full. Behaviour is
//! asserted, not timings (speed is the benchmark's business: bench/run.sh).

use crate::common;

use common::{spawn_app_with, TestApp, TestClient, PASSWORD};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

const BURST: usize = 12;

/// What one login of the burst got back.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    json: bool,
    body: String,
}

async fn fire(client: TestClient, email: String, json: bool) -> Answer {
    let r = if json {
        let token = client.json_csrf_token().await;
        client
            .post_json(
                "/login",
                &serde_json::json!({"email": email, "password": PASSWORD}),
                Some(&token),
            )
            .await
    } else {
        let token = client.csrf_token("/login").await;
        client
            .post_form(
                "/login",
                &[
                    ("email", &email),
                    ("password", PASSWORD),
                    ("csrf_token", &token),
                ],
            )
            .await
    };
    Answer {
        status: r.status(),
        retry_after: r
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        json: r
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        body: r.text().await.unwrap_or_default(),
    }
}

async fn slow_hashing_app() -> TestApp {
    // Cost 13: each hash takes long enough that a burst overlaps; one may wait. The burst
    // logs one account in from one address, which the login throttle would cut down to its
    // free attempts (every attempt is counted before its hash): give it room, so that only
    // the queue decides here (the throttle is tested in tests/it/throttle.rs).
    spawn_app_with(&[
        ("SECURITY_BCRYPT_ROUNDS", "13"),
        ("SECURITY_HASH_QUEUE", "1"),
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "20"),
        ("SECURITY_LOGIN_ACCOUNT_LIMIT", "0"),
    ])
    .await
}

#[actix_web::test]
async fn a_login_burst_beyond_the_queue_gets_quick_503s_while_pages_still_answer() {
    let app = slow_hashing_app().await;
    let email = common::new_email("burst");
    app.create_user(&email, PASSWORD).await;

    let burst: Vec<_> = (0..BURST)
        .map(|i| actix_web::rt::spawn(fire(app.client(), email.clone(), i % 2 == 1)))
        .collect();
    // While the burst is being hashed, a cheap page answers.
    let page = app.client().get("/login").await;
    assert_eq!(page.status(), StatusCode::OK, "GET /login during the burst");
    let home = app.client().get("/").await;
    assert_eq!(home.status(), StatusCode::OK, "GET / during the burst");

    let mut answers = Vec::new();
    for task in burst {
        answers.push(task.await.expect("a login of the burst"));
    }
    let busy: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let logged_in = answers
        .iter()
        .filter(|a| a.status == StatusCode::FOUND || a.status == StatusCode::OK)
        .count();
    assert!(
        !busy.is_empty(),
        "some of {BURST} logins are refused as busy"
    );
    assert!(logged_in >= 1, "the admitted logins go through");
    assert_eq!(busy.len() + logged_in, BURST, "nothing else");
    for a in &busy {
        assert_eq!(
            a.retry_after.as_deref(),
            Some("1"),
            "503 carries Retry-After"
        );
    }
    let busy_json: Vec<&&Answer> = busy.iter().filter(|a| a.json).collect();
    let busy_html: Vec<&&Answer> = busy.iter().filter(|a| !a.json).collect();
    assert!(
        !busy_json.is_empty() && !busy_html.is_empty(),
        "both form and JSON clients were turned away"
    );
    for a in busy_json {
        let v: Value = serde_json::from_str(&a.body).expect("a JSON error");
        assert_eq!(v["meta"]["code"], 503);
        assert!(v["response"]["errors"][0]
            .as_str()
            .is_some_and(|m| m.contains("try again")));
    }
    for a in busy_html {
        assert!(a.body.contains("503"), "{}", a.body);
    }

    // Once the burst is over, logins are admitted again.
    let r = app.client().login(&email, PASSWORD, false).await;
    assert_eq!(r.status(), StatusCode::FOUND, "a login after the burst");
}

#[actix_web::test]
async fn registrations_beyond_the_queue_are_refused_with_retry_after_and_create_nobody() {
    let app = slow_hashing_app().await;
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let client = app.client();
            let email = common::new_email(&format!("reg{i}"));
            actix_web::rt::spawn(async move {
                let r = client.register(&email, PASSWORD).await;
                (
                    r.status(),
                    r.headers()
                        .get(RETRY_AFTER)
                        .map(|v| v.to_str().unwrap_or_default().to_owned()),
                )
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in burst {
        statuses.push(task.await.expect("a registration of the burst"));
    }
    let busy = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let created = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::FOUND)
        .count();
    assert!(busy > 0, "{statuses:?}");
    assert_eq!(busy + created, BURST, "{statuses:?}");
    assert!(statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .all(|(_, retry)| retry.as_deref() == Some("1")));
    assert_eq!(
        app.count_users() as usize,
        created,
        "a refused registration creates no account"
    );
}

/// Twenty registrations at once on the default queue (no `SECURITY_HASH_QUEUE`: the wait
/// budget, `SECURITY_HASH_WAIT`), at a bcrypt cost where their hashes overlap: every one is
/// answered, none with a 503. Four waiting hashes per core, the default before the budget,
/// turned ten of twenty away on two cores.
#[actix_web::test]
async fn twenty_simultaneous_registrations_at_the_default_queue_are_all_answered() {
    const TWENTY: usize = 20;
    // Cost 8: about 15 ms a hash (more on a loaded machine), so that the twenty overlap;
    // yet even at ten times that, the last in line expects well under 5 s. An empty
    // SECURITY_HASH_QUEUE is unset (the test default sets it).
    let app = spawn_app_with(&[("SECURITY_BCRYPT_ROUNDS", "8"), ("SECURITY_HASH_QUEUE", "")]).await;
    // Each browser has its form (session and CSRF token) first, so that the twenty posts
    // arrive together.
    let mut ready = Vec::new();
    for i in 0..TWENTY {
        let client = app.client();
        let token = client.csrf_token("/register").await;
        ready.push((client, token, common::new_email(&format!("twenty{i}"))));
    }
    let posts: Vec<_> = ready
        .into_iter()
        .map(|(client, token, email)| {
            actix_web::rt::spawn(async move {
                client
                    .post_form(
                        "/register",
                        &[
                            ("email", &email),
                            ("password", PASSWORD),
                            ("password_confirm", PASSWORD),
                            ("csrf_token", &token),
                        ],
                    )
                    .await
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.expect("a registration of the twenty"));
    }
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!(busy, 0, "none turned away as busy: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == StatusCode::FOUND),
        "every registration went through: {statuses:?}"
    );
    assert_eq!(app.count_users() as usize, TWENTY);
}
