//! The OpenID Connect provider's foundation (issue 27): clients and signing keys, made with
//! the `latchkey clients …` / `latchkey keys …` commands (the built binary, on a fresh
//! database of the suite's backend) and read back through the rules. No endpoint yet.

use crate::common;

use std::process::{Command, Stdio};

use common::{random_hex, FreshDatabase};
use diesel::prelude::*;
use latchkey::auth::oidc::clients;
use latchkey::auth::oidc::keys::{self, Alg};
use latchkey::auth::oidc::OidcError;
use latchkey::auth::Services;
use latchkey::config::{Settings, Source};
use latchkey::db::schema::{oidc_client, oidc_signing_key, security_event};
use latchkey::db::PoolOptions;
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, ClientId, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, StandardClaims,
    SubjectIdentifier,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Provider {
    db: FreshDatabase,
    salt: String,
    secret_key: String,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Refused with `code`, a message and no panic.
    fn refused(self, code: i32) -> Self {
        assert_eq!(
            code, self.code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.stderr.trim().is_empty(), "no message");
        self
    }
}

impl Provider {
    fn new() -> Self {
        Self {
            db: FreshDatabase::new(),
            salt: random_hex(16),
            secret_key: random_hex(32),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .current_dir(self.db.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SECRET_KEY", &self.secret_key)
            .env("SECURITY_PASSWORD_SALT", &self.salt)
            .env("DATABASE_URL", &self.db.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run latchkey");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The rules on the same database, under `secret_key`.
    fn services_with(&self, secret_key: &str) -> Services {
        let settings = Settings::from_source(&Source::from_pairs([
            ("SECRET_KEY", secret_key),
            ("SECURITY_PASSWORD_SALT", self.salt.as_str()),
            ("DATABASE_URL", self.db.url.as_str()),
        ]))
        .expect("settings");
        let pool = PoolOptions::server(&settings.database_url);
        Services::start(settings, pool).expect("services")
    }

    fn services(&self) -> Services {
        self.services_with(&self.secret_key)
    }

    /// The stored security events' `kind:detail`, oldest first (none concerns a user).
    fn events(&self) -> Vec<String> {
        let rows: Vec<(Option<i32>, String, Option<String>)> = security_event::table
            .order(security_event::id.asc())
            .select((
                security_event::user_id,
                security_event::kind,
                security_event::detail,
            ))
            .load(&mut self.db.db())
            .unwrap();
        rows.into_iter()
            .map(|(user, kind, detail)| {
                assert_eq!(user, None, "{kind}");
                format!("{kind}:{}", detail.unwrap_or_default())
            })
            .collect()
    }

    fn client_count(&self) -> i64 {
        oidc_client::table
            .count()
            .get_result(&mut self.db.db())
            .unwrap()
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[test]
fn clients_are_created_listed_rotated_and_deleted_from_the_command_line() {
    let p = Provider::new();
    let made = p
        .run(&[
            "clients",
            "create",
            "Grafana",
            "--redirect-uri",
            "https://grafana.example.com/login/generic_oauth",
            "--redirect-uri",
            "http://localhost:3000/login/generic_oauth?x=1",
            "--post-logout-redirect-uri",
            "https://grafana.example.com/",
            "--scope",
            "openid email",
            "--scope",
            "roles",
            "--json",
        ])
        .ok()
        .json();
    let client_id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(made.as_object().unwrap().len(), 2, "{made}");
    assert_eq!(secret.len(), 43, "32 bytes, URL-safe base64");
    assert!(client_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // Stored: the digest only, the URIs exactly as given.
    let (digest, redirects, post_logout, scopes, public): (
        Option<String>,
        String,
        String,
        String,
        bool,
    ) = oidc_client::table
        .filter(oidc_client::client_id.eq(&client_id))
        .select((
            oidc_client::secret_digest,
            oidc_client::redirect_uris,
            oidc_client::post_logout_redirect_uris,
            oidc_client::scopes,
            oidc_client::is_public,
        ))
        .get_result(&mut p.db.db())
        .unwrap();
    assert_eq!(digest.as_deref(), Some(sha256_hex(&secret).as_str()));
    let redirects: Vec<String> = serde_json::from_str(&redirects).unwrap();
    assert_eq!(
        redirects,
        [
            "https://grafana.example.com/login/generic_oauth",
            "http://localhost:3000/login/generic_oauth?x=1"
        ]
    );
    assert_eq!(post_logout, r#"["https://grafana.example.com/"]"#);
    assert_eq!(scopes, "openid email roles");
    assert!(!public);

    // Listed without any secret.
    let listed = p.run(&["clients", "list", "--json"]).ok();
    assert!(!listed.stdout.contains(&secret));
    assert!(!listed.stdout.contains(&sha256_hex(&secret)));
    let listed = listed.json();
    assert_eq!(listed[0]["client_id"], client_id.as_str());
    assert_eq!(listed[0]["name"], "Grafana");
    assert_eq!(listed[0]["is_public"], false);
    let table = p.run(&["clients", "list"]).ok();
    assert!(table.stdout.contains(&client_id) && table.stdout.contains("confidential"));

    // The rules verify the secret; a rotation replaces it.
    let services = p.services();
    let client = block_on(clients::find(&services, &client_id))
        .unwrap()
        .unwrap();
    assert!(client.verify_secret(&secret));
    assert!(!client.verify_secret("not-the-secret"));
    let rotated = p
        .run(&["clients", "rotate-secret", &client_id, "--json"])
        .ok()
        .json();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let client = block_on(clients::find(&services, &client_id))
        .unwrap()
        .unwrap();
    assert!(client.verify_secret(new_secret));
    assert!(
        !client.verify_secret(&secret),
        "the old secret no longer works"
    );
    assert!(client.secret_rotated_at.is_some());

    p.run(&["clients", "delete", &client_id]).ok();
    assert_eq!(p.client_count(), 0);
    p.run(&["clients", "delete", &client_id]).refused(4);
    p.run(&["clients", "rotate-secret", &client_id]).refused(4);

    assert_eq!(
        p.events(),
        [
            format!("oidc_client_created:{client_id}"),
            format!("oidc_client_secret_rotated:{client_id}"),
            format!("oidc_client_deleted:{client_id}"),
        ]
    );
}

#[test]
fn a_public_client_has_no_secret_to_show_or_rotate() {
    let p = Provider::new();
    let made = p
        .run(&[
            "clients",
            "create",
            "SPA",
            "--public",
            "--redirect-uri",
            "https://spa.example.com/cb",
            "--json",
        ])
        .ok()
        .json();
    assert!(made.get("client_secret").is_none(), "{made}");
    let client_id = made["client_id"].as_str().unwrap();
    let (digest, scopes): (Option<String>, String) = oidc_client::table
        .filter(oidc_client::client_id.eq(client_id))
        .select((oidc_client::secret_digest, oidc_client::scopes))
        .get_result(&mut p.db.db())
        .unwrap();
    assert_eq!(digest, None);
    assert_eq!(scopes, "openid email profile");
    let run = p.run(&["clients", "rotate-secret", client_id]).refused(3);
    assert!(run.stderr.contains("public"), "{}", run.stderr);
    let client = block_on(clients::find(&p.services(), client_id))
        .unwrap()
        .unwrap();
    assert!(client.is_public && !client.verify_secret(""));
}

#[test]
fn bad_client_input_is_refused_with_a_message_and_nothing_stored() {
    let p = Provider::new();
    for (uri, why) in [
        ("http://app.example.com/cb", "https"),
        ("https://app.example.com/cb#x", "fragment"),
        ("/cb", "absolute"),
        ("javascript:alert(1)", "https"),
    ] {
        let run = p
            .run(&["clients", "create", "App", "--redirect-uri", uri])
            .refused(3);
        assert!(run.stderr.contains(why), "{uri}: {}", run.stderr);
    }
    p.run(&[
        "clients",
        "create",
        "App",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--post-logout-redirect-uri",
        "http://app.example.com/",
    ])
    .refused(3);
    p.run(&[
        "clients",
        "create",
        "App",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--scope",
        "email",
    ])
    .refused(3);
    p.run(&[
        "clients",
        "create",
        " ",
        "--redirect-uri",
        "https://a.example/cb",
    ])
    .refused(3);
    // No redirect URI at all: a usage error.
    p.run(&["clients", "create", "App"]).refused(2);
    assert_eq!(p.client_count(), 0);
    assert!(p.events().is_empty());
}

/// Signs an ID token with `openidconnect`'s own signing key read from `key`'s PEM, and
/// checks it with `openidconnect`'s verifier against the published `jwks`.
fn sign_and_verify(key: &keys::SigningKey, jwks: &Value) -> Result<(), String> {
    let issuer = IssuerUrl::new("https://id.example.com".into()).unwrap();
    let now = chrono::Utc::now();
    let claims = CoreIdTokenClaims::new(
        issuer.clone(),
        vec![Audience::new("app".into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new("subject-1".into())),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new("nonce".into())));
    let kid = Some(JsonWebKeyId::new(key.kid.clone()));
    let token = match key.alg {
        Alg::Rs256 => CoreIdToken::new(
            claims,
            &CoreRsaPrivateSigningKey::from_pem(&key.private_pem, kid).unwrap(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        ),
        Alg::EdDsa => CoreIdToken::new(
            claims,
            &CoreEdDsaPrivateSigningKey::from_ed25519_pem(&key.private_pem, kid).unwrap(),
            CoreJwsSigningAlgorithm::EdDsa,
            None,
            None,
        ),
    }
    .unwrap();
    let text = serde_json::to_string(&token).unwrap();
    let received: CoreIdToken = serde_json::from_str(&text).unwrap();
    let set: CoreJsonWebKeySet = serde_json::from_value(jwks.clone()).unwrap();
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new("app".into()), issuer, set)
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EdDsa,
        ]);
    received
        .claims(&verifier, &Nonce::new("nonce".into()))
        .map(|c| assert_eq!(c.subject().as_str(), "subject-1"))
        .map_err(|e| e.to_string())
}

#[test]
fn signing_keys_rotate_stay_published_when_retired_and_sign_verifiable_tokens() {
    let p = Provider::new();
    let services = p.services();
    assert!(block_on(keys::current(&services, Alg::Rs256))
        .unwrap()
        .is_none());
    assert_eq!(
        block_on(keys::jwks(&services)).unwrap()["keys"],
        serde_json::json!([])
    );

    let first = p.run(&["keys", "rotate"]).ok();
    assert!(first.stdout.contains("RS256"), "{}", first.stdout);
    let old = block_on(keys::current(&services, Alg::Rs256))
        .unwrap()
        .unwrap();
    p.run(&["keys", "rotate", "--alg", "RS256"]).ok();
    p.run(&["keys", "rotate", "--alg", "EdDSA"]).ok();

    let listed = p.run(&["keys", "list", "--json"]).ok().json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let states: Vec<(String, bool)> = listed
        .iter()
        .map(|k| (k["alg"].as_str().unwrap().to_owned(), k["current"] == true))
        .collect();
    assert_eq!(
        states,
        [
            ("EdDSA".to_owned(), true),
            ("RS256".to_owned(), true),
            ("RS256".to_owned(), false)
        ]
    );
    assert_eq!(listed[2]["kid"], old.kid.as_str());
    assert!(listed[2]["retired_at"].is_string());
    assert!(p.run(&["keys", "list"]).ok().stdout.contains("retired"));

    // Sealed at rest: no PEM in the table.
    let stored: Vec<String> = oidc_signing_key::table
        .select(oidc_signing_key::private_key_sealed)
        .load(&mut p.db.db())
        .unwrap();
    assert!(stored
        .iter()
        .all(|s| !s.contains("PRIVATE KEY") && !s.contains(&old.private_pem)));

    // The JWKS publishes the retired key too, never a private member.
    let jwks = block_on(keys::jwks(&services)).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 3);
    assert!(kids.contains(&old.kid.as_str()));
    assert!(!jwks.to_string().contains("\"d\""));

    // Tokens signed by the current keys, and by the retired one, verify against it.
    for alg in [Alg::Rs256, Alg::EdDsa] {
        let current = block_on(keys::current(&services, alg)).unwrap().unwrap();
        assert_ne!(current.kid, old.kid);
        sign_and_verify(&current, &jwks).unwrap();
    }
    sign_and_verify(&old, &jwks).unwrap();
    // Once its key is gone from the set, a token is refused.
    let without_old = serde_json::json!({
        "keys": jwks["keys"].as_array().unwrap().iter()
            .filter(|k| k["kid"] != old.kid.as_str()).collect::<Vec<_>>()
    });
    assert!(sign_and_verify(&old, &without_old).is_err());

    let events = p.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.starts_with("signing_key_rotated:")));
    assert_eq!(events[0], format!("signing_key_rotated:RS256:{}", old.kid));
}

#[test]
fn keys_refuse_an_unknown_algorithm_and_another_secret_key() {
    let p = Provider::new();
    for alg in ["HS256", "none", ""] {
        let run = p.run(&["keys", "rotate", "--alg", alg]).refused(3);
        assert!(run.stderr.contains("RS256 or EdDSA"), "{}", run.stderr);
    }
    p.run(&["keys", "rotate", "--alg", "EdDSA"]).ok();
    let other = p.services_with(&random_hex(32));
    assert!(matches!(
        block_on(keys::current(&other, Alg::EdDsa)),
        Err(OidcError::Key(_))
    ));
    // The public half needs no secret.
    assert_eq!(
        block_on(keys::jwks(&other)).unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_client_is_registered_for_eddsa_id_tokens_or_refused_an_unknown_algorithm() {
    let p = Provider::new();
    let uri = "https://app.example.com/cb";
    let created = p
        .run(&[
            "clients",
            "create",
            "App",
            "--redirect-uri",
            uri,
            "--id-token-alg",
            "EdDSA",
            "--json",
        ])
        .ok()
        .json();
    let listed = p.run(&["clients", "list", "--json"]).ok().json();
    assert_eq!(listed[0]["client_id"], created["client_id"]);
    assert_eq!(listed[0]["id_token_alg"], "EdDSA");
    let run = p
        .run(&[
            "clients",
            "create",
            "Other",
            "--redirect-uri",
            uri,
            "--id-token-alg",
            "HS256",
        ])
        .refused(3);
    assert!(run.stderr.contains("RS256 or EdDSA"), "{}", run.stderr);
    assert_eq!(p.client_count(), 1);
}
