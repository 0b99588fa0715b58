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
}
