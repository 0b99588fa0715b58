//! The ready-to-run Latchkey server and its admin commands (see `latchkey --help`).

/// mimalloc rather than glibc's malloc: a request allocates and frees many small strings and
/// maps, and glibc's allocator took about a sixth of the server's CPU on GET /profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc v3 as
/// libmimalloc-sys 0.1.49 bundles it; the crate's own constants stop before it).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn main() -> std::process::ExitCode {
    // Memory freed by a thread goes back to the system at once instead of 10 ms (100 ms for
    // whole arenas) later: under steady load the delayed purges never caught up, and the
    // server kept about 5 MB more resident after the benchmark for no measurable speed.
    // SAFETY: mi_option_set only stores the value; any value is valid for this option.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // What still goes through glibc's malloc (SQLite's page caches, libpq, OpenSSL) shares
    // two arenas instead of one per thread that touched it (up to eight per core): about
    // 1 MB less resident after the benchmark, with the database threads seldom contending.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; called before any
    // other thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    latchkey::cli::main()
}
