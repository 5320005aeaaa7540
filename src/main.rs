//! `wick`: train neural networks described in TOML experiment files.

fn main() -> std::process::ExitCode {
    wick::cli::main_with(wick::Registry::with_builtins())
}
