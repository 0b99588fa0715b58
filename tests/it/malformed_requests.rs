//! A generated corpus of malformed requests (ASVS V5 input handling, V7.4 errors), sent as
//! raw bytes over TCP to every route with every feature on: bad methods, bad and missing
//! content types, huge and invalid bodies, bad percent-encoding, invalid UTF-8 in the path,
//! query, headers and body, odd and oversized headers, bad cookies, overlong URLs, broken
//! chunked encoding. No answer may be a 5xx, and the server must keep answering. Half of
//! the requests carry a live session cookie and its CSRF token, so they get past the CSRF
//! check into the form and JSON decoding and the auth rules.
//!
//! The corpus is seeded (same requests every run); `LATCHKEY_MALFORMED_SEED` picks another.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{new_email, spawn_app_with, TestApp, PASSWORD};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests in the random part of the corpus (the systematic part comes on top).
const RANDOM_REQUESTS: usize = 4000;
const CONCURRENCY: usize = 16;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

const ROUTES: &[&str] = &[
    "/",
    "/profile",
    "/premium",
    "/admin",
    "/healthz",
    "/login",
    "/logout",
    "/register",
    "/confirm",
    "/confirm/{token}",
    "/reset",
    "/reset/{token}",
    "/change",
    "/static/latchkey.css",
    "/no-such-page",
];

const METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    "get", "post", "FOO", "G\u{0}T", "POST\t", "", "M-SEARCH", "BREW",
];

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/json",
    "application/json; charset=utf-16",
    "application/vnd.api+json",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "text/html",
    "application/xml",
    "*/*",
    "application/",
    "",
    ";;;",
    "application/json\u{0}",
    "application/x-www-form-urlencoded, application/json",
];

const FIELDS: &[&str] = &[
    "email",
    "password",
    "password_confirm",
    "new_password",
    "new_password_confirm",
    "username",
    "remember",
    "next",
    "csrf_token",
    "submit",
    "",
];

/// A live anonymous session: its cookie header and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn session(app: &TestApp, login_as: Option<&str>) -> Session {
    let browser = app.client();
    if let Some(email) = login_as {
        browser.login(email, PASSWORD, true).await;
        assert!(browser.is_authenticated().await);
    }
    // The login form redirects a logged-in user; the change form does not.
    let form = if login_as.is_some() {
        "/change"
    } else {
        "/login"
    };
    let csrf = browser.csrf_token(form).await;
    let mut cookie = String::new();
    for name in ["session", "remember_token"] {
        if let Some(v) = browser.cookie(name) {
            cookie.push_str(&format!("{name}={v}; "));
        }
    }
    Session { cookie, csrf }
}

/// Random printable and not-so-printable bytes.
fn junk(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.gen_range(0..=max);
    (0..n)
        .map(|_| match rng.gen_range(0..10) {
            0 => rng.gen::<u8>(),
            1 => b'%',
            2 => b'&',
            3 => b'=',
            4 => 0,
            _ => rng.gen_range(b' '..=b'~'),
        })
        .collect()
}

fn pick<'a, T: ?Sized>(rng: &mut StdRng, items: &'a [&'a T]) -> &'a T {
    items.choose(rng).copied().unwrap_or(items[0])
}

fn path_for(rng: &mut StdRng, route: &str) -> Vec<u8> {
    let token: Vec<u8> = match rng.gen_range(0..8) {
        0 => b"".to_vec(),
        1 => "A".repeat(43).into_bytes(),
        2 => "x".repeat(rng.gen_range(100..5000)).into_bytes(),
        3 => b"%ff%fe%00".to_vec(),
        4 => b"..%2f..%2fetc%2fpasswd".to_vec(),
        5 => vec![0xff, 0xfe, b'a', 0xc3],
        6 => b"%".to_vec(),
        _ => junk(rng, 60)
            .into_iter()
            .filter(|b| !b" ?#\r\n".contains(b))
            .collect(),
    };
    let mut path = route
        .replace("{token}", "\u{1}")
        .into_bytes()
        .split(|b| *b == 1)
        .collect::<Vec<_>>()
        .join(&token[..]);
    match rng.gen_range(0..12) {
        0 => path.extend_from_slice(b"?next=//evil.com"),
        1 => path.extend_from_slice(b"?next=%zz%"),
        2 => path.extend_from_slice(b"?next=%ff%fe&next=javascript:alert(1)"),
        3 => {
            path.push(b'?');
            path.extend(junk(rng, 200).into_iter().filter(|b| !b" \r\n".contains(b)));
        }
        4 => path = [b"//".as_slice(), &path].concat(),
        5 => path.extend_from_slice(b"/../../.."),
        6 => path.extend_from_slice(&[0xc0, 0xaf, 0xed, 0xa0, 0x80]),
        7 => path.extend_from_slice(
            format!("?q={}", "a".repeat(rng.gen_range(2_000..40_000))).as_bytes(),
        ),
        8 => path = format!("http://127.0.0.1{}", String::from_utf8_lossy(&path)).into_bytes(),
        9 => path = b"*".to_vec(),
        _ => {}
    }
    path
}

fn body_for(rng: &mut StdRng, csrf: Option<&str>) -> Vec<u8> {
    let field = |rng: &mut StdRng| pick(rng, FIELDS).to_owned();
    match rng.gen_range(0..16) {
        0 => Vec::new(),
        1 => junk(rng, 500),
        2 => vec![b'a'; rng.gen_range(60_000..200_000)],
        3 => {
            let mut b = b"email=".to_vec();
            b.extend(vec![b'%'; rng.gen_range(1..3000)]);
            b
        }
        4 => b"email=%ff%fe&password=%c3%28&csrf_token=%".to_vec(),
        5 => b"[1,2,3]".to_vec(),
        6 => "[".repeat(rng.gen_range(100..20_000)).into_bytes(),
        7 => {
            br#"{"email": {"nested": [1, {"x": null}]}, "password": 12345678901234567890123456789}"#
                .to_vec()
        }
        8 => br#"{"email": "a\u0000b@example.com", "password": "\ud800"}"#.to_vec(),
        9 => format!(
            r#"{{"email": "{}", "password": "{}"}}"#,
            "a".repeat(rng.gen_range(0..70_000)),
            "p"
        )
        .into_bytes(),
        10 => vec![0xef, 0xbb, 0xbf, b'{', b'}'],
        11 => b"\xff\xfe{\x00\"\x00}\x00".to_vec(),
        _ => {
            // A form or JSON body of known fields with odd values, with the CSRF token
            // when we have one, so the request reaches the handler.
            let mut pairs: Vec<(String, String)> = (0..rng.gen_range(0..6))
                .map(|_| {
                    let value = match rng.gen_range(0..6) {
                        0 => "x".repeat(rng.gen_range(0..300)),
                        1 => "\u{0}".to_owned(),
                        2 => "🔑é\u{fb01}\u{202e}".to_owned(),
                        3 => new_email("m"),
                        4 => PASSWORD.to_owned(),
                        _ => String::from_utf8_lossy(&junk(rng, 40)).into_owned(),
                    };
                    (field(rng), value)
                })
                .collect();
            if let Some(token) = csrf {
                pairs.push(("csrf_token".into(), token.into()));
            }
            if rng.gen_bool(0.5) {
                let map: serde_json::Map<String, serde_json::Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                serde_json::Value::Object(map).to_string().into_bytes()
            } else {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
                    .into_bytes()
            }
        }
    }
}

/// One random request, as bytes on the wire.
fn random_request(rng: &mut StdRng, sessions: &[Session]) -> Vec<u8> {
    let route = pick(rng, ROUTES);
    let method = if rng.gen_bool(0.6) {
        if rng.gen_bool(0.7) {
            "POST"
        } else {
            "GET"
        }
    } else {
        pick(rng, METHODS)
    };
    let session = if rng.gen_bool(0.5) {
        sessions.choose(rng)
    } else {
        None
    };
    let body = body_for(rng, session.map(|s| s.csrf.as_str()));
    let mut headers: Vec<Vec<u8>> =
        vec![b"Host: 127.0.0.1".to_vec(), b"Connection: close".to_vec()];
    if rng.gen_bool(0.8) {
        headers.push(format!("Content-Type: {}", pick(rng, CONTENT_TYPES)).into_bytes());
    }
    if rng.gen_bool(0.4) {
        headers.push(b"Accept: application/json".to_vec());
    }
    match rng.gen_range(0..12) {
        // A length that lies, a non-number, or two of them.
        0 => headers
            .push(format!("Content-Length: {}", body.len() + rng.gen_range(1..100)).into_bytes()),
        1 => headers.push(b"Content-Length: -5".to_vec()),
        2 => headers
            .push(format!("Content-Length: {0}\r\nContent-Length: {0}1", body.len()).into_bytes()),
        3 => headers.push(b"Content-Length: 99999999999999999999999".to_vec()),
        4 => headers.push(b"Transfer-Encoding: chunked".to_vec()),
        _ => headers.push(format!("Content-Length: {}", body.len()).into_bytes()),
    }
    match (session, rng.gen_range(0..10)) {
        (Some(s), 0..=6) => headers.push(format!("Cookie: {}", s.cookie).into_bytes()),
        (_, 7) => headers
            .push(format!("Cookie: session={}", "A".repeat(rng.gen_range(10..6000))).into_bytes()),
        (_, 8) => {
            let mut c = b"Cookie: session=".to_vec();
            c.extend(junk(rng, 80).into_iter().filter(|b| !b"\r\n".contains(b)));
            c.extend_from_slice(b"; remember_token=%%%; =; ;;");
            headers.push(c);
        }
        _ => {}
    }
    if let Some(s) = session.filter(|_| rng.gen_bool(0.3)) {
        headers.push(format!("X-CSRF-Token: {}", s.csrf).into_bytes());
    }
    match rng.gen_range(0..14) {
        0 => headers
            .push(format!("X-Big: {}", "b".repeat(rng.gen_range(5_000..40_000))).into_bytes()),
        1 => headers.push(vec![b'X', b'-', b'U', b':', b' ', 0xff, 0xfe, 0x80]),
        2 => headers.push(b"X-Forwarded-For: ::::, 999.1.1.1, ,,, garbage".to_vec()),
        3 => headers.push(b"X-CSRF-Token: \x01\x02".to_vec()),
        4 => headers.push(b"Accept: */*;q=abc, application/json;q=2".to_vec()),
        5 => headers.push(b"Bad Header Name: x".to_vec()),
        6 => headers.push(b"X-Folded: a\r\n continued".to_vec()),
        7 => headers.push(b"Expect: 100-continue".to_vec()),
        8 => headers.push(b"Accept-Encoding: gzip;q=nan, br, zstd, *;q=-1".to_vec()),
        9 => headers.push(b"Range: bytes=9999999999-1".to_vec()),
        10 => headers.push(b"User-Agent: \x7f\x00".to_vec()),
        _ => {}
    }
    headers.shuffle(rng);
    let version = match rng.gen_range(0..20) {
        0 => "HTTP/1.0",
        1 => "HTTP/2.0",
        2 => "HTTP/9.9",
        3 => "HTTX/1.1",
        _ => "HTTP/1.1",
    };
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend(path_for(rng, route));
    req.push(b' ');
    req.extend_from_slice(version.as_bytes());
    req.extend_from_slice(b"\r\n");
    for h in headers {
        req.extend(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    if rng.gen_bool(0.05) {
        req.extend_from_slice(b"zzz\r\nnot-a-chunk\r\n0\r\n");
    }
    req.extend(body);
    req
}

/// Each route with each method, and each content type on each route: the part of the
/// corpus that does not depend on chance.
fn systematic(sessions: &[Session]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let s = &sessions[0];
    for route in ROUTES {
        let path = route.replace("{token}", "abc");
        for method in METHODS {
            out.push(format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nContent-Length: 0\r\n\r\n", s.cookie).into_bytes());
        }
        for ct in CONTENT_TYPES {
            for body in [
                &b""[..],
                b"{}",
                b"email=a&password=b",
                b"\xff\xfe",
                b"%",
                b"null",
            ] {
                let mut r = format!(
                    "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nX-CSRF-Token: {}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    s.cookie, s.csrf, body.len()
                )
                .into_bytes();
                r.extend_from_slice(body);
                out.push(r);
            }
        }
        // An overlong URL on every route.
        out.push(
            format!(
                "GET {path}?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                "n".repeat(100_000)
            )
            .into_bytes(),
        );
    }
    out
}

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, usize>,
    /// Closed without a status line (what actix does with some unparseable requests).
    closed: usize,
    timeouts: usize,
    server_errors: Vec<String>,
}

/// The final (non-1xx) status code in `answer`, once its head is complete.
fn final_status(answer: &[u8]) -> Option<Option<u16>> {
    let mut rest = answer;
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        let code: Option<u16> = String::from_utf8_lossy(line)
            .strip_prefix("HTTP/1.")
            .and_then(|r| r.get(2..5))
            .and_then(|c| c.parse().ok());
        match code {
            // "100 Continue" (we sent Expect): the real answer follows.
            Some(c) if c < 200 => rest = &rest[end + 4..],
            other => return Some(other),
        }
    }
}

/// Sends one request and reads the status code of the answer, if any.
async fn send(address: &str, request: Vec<u8>) -> Result<Option<u16>, &'static str> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|_| "cannot connect")?;
    let exchange = async {
        // The server may answer (e.g. 413) and close before reading everything.
        let _ = stream.write_all(&request).await;
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if let Some(code) = final_status(&answer) {
                        return code;
                    }
                }
            }
        }
        final_status(&answer).flatten()
    };
    tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| "timeout")
}

#[actix_web::test]
async fn thousands_of_malformed_requests_get_no_5xx_and_the_server_keeps_answering() {
    let app = spawn_app_with(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_TRACKABLE", "true"),
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
        ("SECURITY_PASSWORD_CHECK_BREACHED", "offline"),
    ])
    .await;
    let email = new_email("target");
    app.create_user(&email, PASSWORD).await;
    let sessions = vec![
        session(&app, None).await,
        session(&app, Some(&email)).await,
        session(&app, Some(&email)).await,
    ];

    let seed = std::env::var("LATCHKEY_MALFORMED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1a7c_4e3d_u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut corpus = systematic(&sessions);
    corpus.extend((0..RANDOM_REQUESTS).map(|_| random_request(&mut rng, &sessions)));
    let total = corpus.len();

    let address = app.address.trim_start_matches("http://").to_owned();
    let mut tally = Tally::default();
    for (batch_no, batch) in corpus.chunks(CONCURRENCY * 8).enumerate() {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, chunk) in batch.chunks(batch.len().div_ceil(CONCURRENCY)).enumerate() {
            let chunk: Vec<Vec<u8>> = chunk.to_vec();
            let address = address.clone();
            tasks.spawn(async move {
                let mut results = Vec::new();
                for (j, request) in chunk.into_iter().enumerate() {
                    let head =
                        String::from_utf8_lossy(&request[..request.len().min(160)]).into_owned();
                    results.push((i * 1000 + j, head, send(&address, request).await));
                }
                results
            });
        }
        while let Some(done) = tasks.join_next().await {
            for (_, head, result) in done.expect("sender task") {
                match result {
                    Ok(Some(code)) => {
                        *tally.by_status.entry(code).or_default() += 1;
                        if code >= 500 {
                            tally.server_errors.push(format!("{code} for {head:?}"));
                        }
                    }
                    Ok(None) => tally.closed += 1,
                    Err("timeout") => tally.timeouts += 1,
                    Err(e) => panic!("batch {batch_no}: {e} (the server stopped answering?)"),
                }
            }
        }
        // Still serving real users between batches.
        let r = app.client().get("/").await;
        assert_eq!(r.status(), StatusCode::OK, "after batch {batch_no}");
    }

    println!(
        "malformed requests sent: {total} (seed {seed:#x}); answers by status: {:?}; \
         closed without an answer: {}; timed out: {}; 5xx: {}",
        tally.by_status,
        tally.closed,
        tally.timeouts,
        tally.server_errors.len()
    );
    assert!(
        total >= 4000,
        "the corpus should have thousands of requests"
    );
    assert!(
        tally.server_errors.is_empty(),
        "{} answers were 5xx, e.g. {:#?}",
        tally.server_errors.len(),
        &tally.server_errors[..tally.server_errors.len().min(10)]
    );
    assert_eq!(
        tally.timeouts, 0,
        "every request must be answered or closed"
    );
    // And the real user can still log in.
    app.logged_in_client(&email, PASSWORD, false).await;
}
