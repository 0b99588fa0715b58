// Embedded migrations are read at compile time: rebuild when one is added or edited.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // The executables' relative relocations packed (RELR, glibc 2.36+, GNU ld 2.38+): the
    // loader reads about 30 KB of them at start instead of 1.6 MB of `.rela.dyn`, which
    // stayed resident (bench/README.md, "Memory"). The binary stays position-independent.
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    symbol_order(linux_gnu);
}

/// The functions start-up and the benchmark's requests run, laid out side by side in release
/// builds (`bench/symbol-order.txt`, written by `bench/symbol_order.py`): the kernel reads a
/// binary's code in 64 KB runs around each page it needs, so code run once in a while among
/// code never run kept most of the 18 MB of code resident (bench/README.md, "Fifth round").
/// Only with the linker that understands the list: rust-lld, the default on
/// x86_64-unknown-linux-gnu since Rust 1.90, when no other linker is configured.
/// `LATCHKEY_SYMBOL_ORDER=0` leaves it out.
fn symbol_order(linux_gnu: bool) {
    const LIST: &str = "bench/symbol-order.txt";
    println!("cargo:rerun-if-changed={LIST}");
    println!("cargo:rerun-if-env-changed=LATCHKEY_SYMBOL_ORDER");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let rustflags = env("CARGO_ENCODED_RUSTFLAGS");
    let default_lld = linux_gnu
        && env("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !rustflags.contains("linker")
        && !rustflags.contains("fuse-ld")
        && rustc_minor().is_some_and(|minor| minor >= 90);
    if env("PROFILE") != "release" || env("LATCHKEY_SYMBOL_ORDER") == "0" || !default_lld {
        return;
    }
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let path = std::path::Path::new(&dir).join(LIST);
    if path.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            path.display()
        );
        // Names a new compiler or crate version no longer has are skipped, quietly.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the compiler building this crate (`rustc 1.95.0 ...` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC")?;
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    version.split('.').nth(1)?.parse().ok()
}
