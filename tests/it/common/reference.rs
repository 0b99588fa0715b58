//! The Flask-Security-Too reference app (`../shared/ref` next to the crate, or
//! `LATCHKEY_REF_DIR`) and its virtualenv (`REF_VENV`, or `~/.cache/latchkey-ref-venv`), for
//! the tests that run it (tests/it/flask_interop.rs) or its Python (tests/it/totp_passlib.rs).

use std::path::{Path, PathBuf};

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
/// (a stamp of requirements.txt's SHA-256 beside it), once per process ([`super::venv`]).
/// The tests of the binary run at once: `run.sh` finds the virtualenv ready instead of two of
/// them (or one and this) installing into it together, which breaks it.
pub fn python() -> PathBuf {
    let requirements = dir().join("requirements.txt");
    super::venv(
        &super::venv_dir("REF_VENV", "latchkey-ref-venv"),
        super::Requirements::File(&requirements),
    )
}
