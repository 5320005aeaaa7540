//! `wick`: train neural networks described in TOML experiment files.

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use wick_runner::trainer::Device;
use wick_runner::{load_experiment, logging, RunOptions};

/// Train neural networks described in TOML experiment files, the PyTorch way.
#[derive(Parser)]
#[command(name = "wick", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train and evaluate an experiment; writes runs/<name>/<timestamp>/.
    Run {
        /// The experiment file.
        experiment: PathBuf,
        /// Where run directories go.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// Never draw progress bars.
        #[arg(long)]
        no_progress: bool,
    },
    /// Validate an experiment and print its model table; trains nothing.
    Check {
        /// The experiment file.
        experiment: PathBuf,
    },
}

const EXIT_BAD_EXPERIMENT: u8 = 2;
const EXIT_FAILED_RUN: u8 = 1;

fn main() -> ExitCode {
    // candle asks for the thread count on every parallel op and, without
    // RAYON_NUM_THREADS, counts the CPUs anew each time (reading /proc and cgroups): an
    // eighth of a small model's epoch. Count once, before any thread starts.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let cli = Cli::parse();
    logging::init();
    match cli.command {
        Command::Check { experiment } => match load_experiment(&experiment) {
            Ok(exp) => match wick_runner::build_model(&exp, &Device::Cpu) {
                Ok(model) => {
                    println!("{}: OK", experiment.display());
                    println!("{}", model.summary());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
            },
            Err(e) => {
                eprint!("{}", e.rendered);
                ExitCode::from(EXIT_BAD_EXPERIMENT)
            }
        },
        Command::Run {
            experiment,
            runs_dir,
            no_progress,
        } => {
            let exp = match load_experiment(&experiment) {
                Ok(e) => e,
                Err(e) => {
                    eprint!("{}", e.rendered);
                    return ExitCode::from(EXIT_BAD_EXPERIMENT);
                }
            };
            let opts = RunOptions {
                runs_dir,
                progress: !no_progress && std::io::stderr().is_terminal(),
                mirrors: std::env::var("WICK_MIRRORS").ok().and_then(|m| {
                    let list: Vec<String> = m
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    (!list.is_empty()).then_some(list)
                }),
            };
            match wick_runner::run(&exp, &opts) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
            }
        }
    }
}

fn fail(e: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!("error: {e:#}");
    tracing::error!(target: "wick::exit", "{e:#}");
    ExitCode::from(code)
}
