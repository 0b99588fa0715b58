//! The ready-to-run Latchkey server and its admin commands (see `latchkey --help`).

/// mimalloc rather than glibc's malloc: a request allocates and frees many small strings and
/// maps, and glibc's allocator took about a sixth of the server's CPU on GET /profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    latchkey::cli::main()
}
