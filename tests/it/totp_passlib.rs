//! Flask-Security's stored two-factor keys, both ways: records the reference Flask app made
//! (`tests/fixtures/totp_passlib.json`, written by `tests/fixtures/make_totp_fixtures.py`)
//! decrypt in Latchkey to the same keys, codes and otpauth URIs; and what Latchkey writes is
//! read back by Flask-Security (passlib) itself, run from the reference app's virtualenv.
//!
//! The virtualenv is `REF_VENV` or `~/.cache/latchkey-ref-venv`, made from
//! `../shared/ref/requirements.txt` (or `LATCHKEY_REF_DIR`) the way `run.sh` makes it when it
//! is missing or out of date. These tests fail, never skip, when something they need is
//! missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::reference;
use latchkey::auth::totp::{
    code_at, matching_step, matching_step_after, otpauth_uri, TotpKeys, TotpSecret,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    issuer: String,
    key_sets: Vec<KeySet>,
    clear_records: Vec<ClearRecord>,
    window_cases: Vec<WindowCase>,
    uri_record: UriRecord,
    uris: Vec<UriCase>,
    setup_values: SetupValues,
}

#[derive(Deserialize)]
struct KeySet {
    name: String,
    setting: String,
    default_tag: String,
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    stored: String,
    tag: String,
    key_b32: String,
    pretty: String,
    needs_recrypt: bool,
    codes: Vec<(u64, String)>,
}

#[derive(Deserialize)]
struct ClearRecord {
    stored: String,
    key_b32: String,
    codes: Vec<(u64, String)>,
}

#[derive(Deserialize)]
struct WindowCase {
    now: u64,
    window: u64,
    last_counter: Option<u64>,
    code: String,
    code_step: u64,
    matched_step: Option<u64>,
}

#[derive(Deserialize)]
struct UriRecord {
    setting: String,
    stored: String,
}

#[derive(Deserialize)]
struct UriCase {
    account: String,
    uri: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct SetupValues {
    username: String,
    key: String,
    b32key: String,
    issuer: String,
    uri: String,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn parse_fixtures(json: &str) -> Fixtures {
    serde_json::from_str(json)
        .expect("totp_passlib.json has the shape make_totp_fixtures.py writes")
}

fn fixtures() -> Fixtures {
    let path = fixtures_dir().join("totp_passlib.json");
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_fixtures(&json)
}

fn keys(setting: &str) -> TotpKeys {
    TotpKeys::parse(setting).unwrap_or_else(|e| panic!("{setting:?}: {e}"))
}

/// Every record Flask-Security wrote decrypts to its key, with the same pretty form, the same
/// codes, and the same verdict on whether it should be written again.
fn check_key_set(set: &KeySet) {
    let keys = keys(&set.setting);
    assert_eq!(keys.default_tag(), set.default_tag, "{}", set.name);
    assert!(!set.records.is_empty());
    for record in &set.records {
        let secret = keys
            .decrypt(&record.stored)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", set.name, record.stored));
        assert_eq!(
            secret.base32(),
            record.key_b32,
            "{}: {}",
            set.name,
            record.stored
        );
        assert_eq!(secret.pretty(), record.pretty, "{}", set.name);
        assert_eq!(TotpSecret::from_base32(&record.pretty).unwrap(), secret);
        for (at, code) in &record.codes {
            assert_eq!(&code_at(&secret, *at), code, "{}: at {at}", set.name);
        }
        assert_eq!(
            keys.needs_reencrypt(&record.stored),
            record.needs_recrypt,
            "{}: a record under tag {} (default {})",
            set.name,
            record.tag,
            set.default_tag
        );
    }
}

#[test]
fn flask_records_decrypt_to_the_same_keys_and_codes() {
    let fixtures = fixtures();
    assert!(fixtures.key_sets.len() >= 2);
    assert!(
        fixtures.key_sets.iter().any(|s| s.setting.starts_with('{')
            && s.records.iter().any(|r| r.tag != s.default_tag)),
        "the fixtures include a two-tag set with records under the older tag"
    );
    // One thread per set: PBKDF2 at 2^14 rounds is slow in a debug build.
    std::thread::scope(|scope| {
        for set in &fixtures.key_sets {
            scope.spawn(move || check_key_set(set));
        }
    });
}

#[test]
fn passlibs_clear_records_are_read() {
    let fixtures = fixtures();
    let keys = keys("any application secret");
    for record in &fixtures.clear_records {
        let secret = keys.decrypt(&record.stored).unwrap();
        assert_eq!(secret.base32(), record.key_b32);
        for (at, code) in &record.codes {
            assert_eq!(&code_at(&secret, *at), code, "at {at}");
        }
        assert!(keys.needs_reencrypt(&record.stored));
    }
}

/// Latchkey accepts a code exactly when passlib does with the same window of slack, and
/// `matching_step_after` refuses what passlib's `last_counter` refuses.
#[test]
fn codes_are_accepted_within_the_same_window_as_passlib() {
    let fixtures = fixtures();
    let secret = keys(&fixtures.uri_record.setting)
        .decrypt(&fixtures.uri_record.stored)
        .unwrap();
    assert!(fixtures.window_cases.len() > 100);
    let mut accepted = 0;
    for case in &fixtures.window_cases {
        assert_eq!(code_at(&secret, case.code_step * 30), case.code);
        let window = Duration::from_secs(case.window);
        let found = match case.last_counter {
            None => matching_step(&secret, &case.code, case.now, window),
            Some(last) => matching_step_after(&secret, &case.code, case.now, window, Some(last)),
        };
        assert_eq!(
            found, case.matched_step,
            "code of step {} at {} with {} s of slack, last step {:?}",
            case.code_step, case.now, case.window, case.last_counter
        );
        accepted += usize::from(found.is_some());
    }
    assert!(accepted > 20 && accepted < fixtures.window_cases.len() - 20);
}

/// The otpauth URIs are Flask-Security's, character for character. One deliberate
/// difference: passlib refuses an account name with a `:` (Flask-Security would fail the
/// setup page); Latchkey percent-encodes it, as the Key URI format allows.
#[test]
fn otpauth_uris_are_flask_securitys() {
    let fixtures = fixtures();
    let secret = keys(&fixtures.uri_record.setting)
        .decrypt(&fixtures.uri_record.stored)
        .unwrap();
    let mut refused = 0;
    for case in &fixtures.uris {
        let ours = otpauth_uri(&secret, &fixtures.issuer, &case.account);
        match (&case.uri, &case.error) {
            (Some(flask), None) => assert_eq!(&ours, flask, "{:?}", case.account),
            (None, Some(error)) => {
                assert!(error.contains("':'"), "{error}");
                let (name, domain) = case.account.split_once(':').unwrap();
                assert!(
                    ours.starts_with(&format!("otpauth://totp/Latchkey:{name}%3A{domain}?")),
                    "{ours}"
                );
                refused += 1;
            }
            _ => panic!("a case has either a uri or an error"),
        }
    }
    assert_eq!(refused, 1);

    // What /tf-setup answers (tf_authr_key, tf_authr_b32key, tf_authr_uri, tf_authr_issuer).
    let setup = &fixtures.setup_values;
    assert_eq!(secret.pretty(), setup.key);
    assert_eq!(secret.base32(), setup.b32key);
    assert_eq!(fixtures.issuer, setup.issuer);
    assert_eq!(
        otpauth_uri(&secret, &setup.issuer, &setup.username),
        setup.uri
    );
}

// ---------------------------------------------------------------------------------------------
// The reverse: Flask-Security reads what Latchkey writes
// ---------------------------------------------------------------------------------------------

/// Runs `make_totp_fixtures.py` with `args`, `stdin` on its standard input; its output.
fn fixture_script(args: &[&str], stdin: &str) -> String {
    let script = fixtures_dir().join("make_totp_fixtures.py");
    let mut child = Command::new(reference::python())
        .arg(&script)
        .args(args)
        .env("LATCHKEY_REF_DIR", reference::dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[derive(Deserialize)]
struct FlaskReading {
    error: Option<String>,
    key_b32: Option<String>,
    codes: Option<Vec<String>>,
    uri: Option<String>,
    needs_recrypt: Option<bool>,
    same_json: Option<bool>,
}

#[test]
fn flask_security_reads_what_latchkey_writes() {
    let fixtures = fixtures();
    let times: Vec<u64> = fixtures.key_sets[0].records[0]
        .codes
        .iter()
        .map(|(t, _)| *t)
        .collect();
    let account = "alice@example.com";
    // Three keys per key set, encrypted by Latchkey (a thread per set: PBKDF2 is slow in a
    // debug build), then read by Flask-Security in one run of the script.
    let written: Vec<(Vec<TotpSecret>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = fixtures
            .key_sets
            .iter()
            .map(|set| {
                scope.spawn(move || {
                    let keys = keys(&set.setting);
                    let secrets: Vec<TotpSecret> = (0..3).map(|_| TotpSecret::generate()).collect();
                    let records = secrets.iter().map(|s| keys.encrypt(s)).collect();
                    (secrets, records)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let request: Vec<serde_json::Value> = fixtures
        .key_sets
        .iter()
        .zip(&written)
        .map(|(set, (_, records))| {
            serde_json::json!({
                "setting": set.setting,
                "records": records,
                "times": times,
                "account": account,
            })
        })
        .collect();
    let out = fixture_script(&["--decrypt"], &serde_json::to_string(&request).unwrap());
    let readings: Vec<Vec<FlaskReading>> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: the script printed {out}"));
    assert_eq!(readings.len(), fixtures.key_sets.len());
    for ((set, (secrets, records)), readings) in
        fixtures.key_sets.iter().zip(&written).zip(&readings)
    {
        assert_eq!(readings.len(), records.len());
        for ((secret, stored), flask) in secrets.iter().zip(records).zip(readings) {
            if let Some(error) = &flask.error {
                panic!("{}: Flask-Security cannot read {stored}: {error}", set.name);
            }
            assert_eq!(
                flask.key_b32.as_deref(),
                Some(secret.base32().as_str()),
                "{}",
                set.name
            );
            let ours: Vec<String> = times.iter().map(|t| code_at(secret, *t)).collect();
            assert_eq!(flask.codes.as_ref(), Some(&ours), "{}", set.name);
            assert_eq!(
                flask.uri.as_deref(),
                Some(otpauth_uri(secret, &fixtures.issuer, account).as_str())
            );
            assert_eq!(flask.needs_recrypt, Some(false), "{}: {stored}", set.name);
            assert_eq!(
                flask.same_json,
                Some(true),
                "{}: passlib would write {stored} differently",
                set.name
            );
        }
    }
}

/// The script still runs against today's reference app, and what it makes today Latchkey
/// reads too (the committed JSON is one run of it).
#[test]
fn the_fixture_script_still_makes_records_latchkey_reads() {
    let fresh = parse_fixtures(&fixture_script(&[], ""));
    let committed = fixtures();
    assert_eq!(fresh.key_sets.len(), committed.key_sets.len());
    std::thread::scope(|scope| {
        for set in &fresh.key_sets {
            scope.spawn(move || {
                let keys = keys(&set.setting);
                assert_eq!(keys.default_tag(), set.default_tag);
                let record = &set.records[0];
                let secret = keys.decrypt(&record.stored).unwrap();
                assert_eq!(secret.base32(), record.key_b32, "{}", set.name);
            });
        }
    });
}
