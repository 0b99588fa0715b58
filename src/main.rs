//! The ready-to-run Latchkey server and its admin commands (see `latchkey --help`).

fn main() -> std::process::ExitCode {
    latchkey::cli::main()
}
