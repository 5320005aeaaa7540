//! `my-lab`: the whole `wick` command line, with this crate's `MyLayer` added.
//!
//! ```sh
//! cargo run -p my-lab --release -- run examples/custom-layer/points.toml
//! ```

fn main() -> std::process::ExitCode {
    let mut registry = wick::Registry::with_builtins();
    my_lab::register(&mut registry);
    wick::cli::main_with(registry)
}
