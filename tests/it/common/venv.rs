//! The Python virtualenvs the tests run things in (the Flask reference app, the OpenID
//! provider): made or brought up to date once per process, with a stamp beside each.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// What a virtualenv holds.
#[derive(Debug, Clone, Copy)]
pub enum Requirements<'a> {
    /// A requirements file (`pip install -r`).
    File(&'a Path),
    /// One pinned requirement (`pip install oidc-provider-mock==0.3.4`).
    Pinned(&'a str),
}

impl Requirements<'_> {
    /// The SHA-256 of what is asked for: the file's bytes, or the requirement.
    fn digest(&self) -> String {
        let bytes = match self {
            Requirements::File(file) => std::fs::read(file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display())),
            Requirements::Pinned(requirement) => requirement.as_bytes().to_vec(),
        };
        hex::encode(Sha256::digest(bytes))
    }

    fn pip_args(&self) -> Vec<std::ffi::OsString> {
        match self {
            Requirements::File(file) => vec!["-r".into(), file.into()],
            Requirements::Pinned(requirement) => vec![requirement.into()],
        }
    }

    fn shown(&self) -> String {
        match self {
            Requirements::File(file) => format!("-r {}", file.display()),
            Requirements::Pinned(requirement) => (*requirement).to_owned(),
        }
    }
}

/// The Python of the virtualenv at `dir`, made (`python3 -m venv`) or brought up to date
/// (`pip install`) when its stamp, `.requirements.sha256` beside it (the SHA-256 of
/// `requirements`, as the reference's `run.sh` writes it), differs. Once per process and
/// folder, under one mutex: the tests of the binary run at once, and two pip installs into
/// one virtualenv break it. A missing Python fails the test, it never skips it.
pub fn venv(dir: &Path, requirements: Requirements<'_>) -> PathBuf {
    static READY: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let python = dir.join("bin/python");
    if ready.as_ref().is_some_and(|done| done.contains(dir)) {
        return python;
    }
    let want = requirements.digest();
    let stamp = dir.join(".requirements.sha256");
    let have = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !python.is_file() || have.trim() != want {
        let run = |cmd: &mut Command, what: &str| {
            let status = cmd
                .status()
                .unwrap_or_else(|e| panic!("cannot run {what}: {e} (needs python3 on PATH)"));
            assert!(
                status.success(),
                "{what} failed ({status}); make the virtualenv by hand: \
                 python3 -m venv {venv} && {venv}/bin/pip install {req}",
                venv = dir.display(),
                req = requirements.shown()
            );
        };
        if !python.is_file() {
            run(
                Command::new("python3").arg("-m").arg("venv").arg(dir),
                "python3 -m venv",
            );
        }
        run(
            Command::new(dir.join("bin/pip"))
                .args(["install", "-q"])
                .args(requirements.pip_args()),
            &format!("pip install {}", requirements.shown()),
        );
        std::fs::write(&stamp, format!("{want}\n")).expect("write the virtualenv's stamp");
    }
    ready
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_owned());
    python
}

/// `$var` if set, else `~/.cache/<name>`: where a test virtualenv lives.
pub fn venv_dir(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set (the virtualenv is under it)");
        Path::new(&home).join(".cache").join(name)
    })
}
