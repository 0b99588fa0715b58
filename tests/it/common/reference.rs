//! The Flask-Security-Too reference app (`../shared/ref` next to the crate, or
//! `LATCHKEY_REF_DIR`) and its virtualenv (`REF_VENV`, or `~/.cache/latchkey-ref-venv`), for
//! the tests that run it (tests/it/flask_interop.rs) or its Python (tests/it/totp_passlib.rs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The reference app's folder.
pub fn dir() -> PathBuf {
    let dir = std::env::var_os("LATCHKEY_REF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ref"));
    assert!(
        ["run.sh", "app.py", "requirements.txt"]
            .iter()
            .all(|f| dir.join(f).is_file()),
        "the Flask reference app is not at {} (set LATCHKEY_REF_DIR to the folder holding \
         run.sh, app.py and requirements.txt)",
        dir.display()
    );
    dir
}

/// The reference app's Python, its virtualenv made or brought up to date as `run.sh` does
/// (a stamp of requirements.txt's SHA-256 beside it), once per process. The tests of the
/// binary run at once: `run.sh` finds the virtualenv ready instead of two of them (or one
/// and this) installing into it together, which breaks it.
pub fn python() -> PathBuf {
    static READY: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = ready.as_ref() {
        return python.clone();
    }
    let venv = std::env::var_os("REF_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set (the virtualenv is under it)");
            Path::new(&home).join(".cache/latchkey-ref-venv")
        });
    let requirements = dir().join("requirements.txt");
    let want = hex::encode(Sha256::digest(std::fs::read(&requirements).unwrap()));
    let stamp = venv.join(".requirements.sha256");
    let python = venv.join("bin/python");
    let have = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !python.is_file() || have.trim() != want {
        let run = |cmd: &mut Command, what: &str| {
            let status = cmd
                .status()
                .unwrap_or_else(|e| panic!("cannot run {what}: {e} (needs python3 on PATH)"));
            assert!(
                status.success(),
                "{what} failed ({status}); make the reference virtualenv by hand: \
                 python3 -m venv {venv} && {venv}/bin/pip install -r {req}",
                venv = venv.display(),
                req = requirements.display()
            );
        };
        if !python.is_file() {
            run(
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
                "python3 -m venv",
            );
        }
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(&requirements),
            "pip install -r requirements.txt",
        );
        std::fs::write(&stamp, format!("{want}\n")).unwrap();
    }
    *ready = Some(python.clone());
    python
}
