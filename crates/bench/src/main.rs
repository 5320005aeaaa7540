//! `wick-bench`: the benchmark suite behind `just bench` (W1–W6 of issues 8, 19 and 21), and
//! the hand-written loops it compares the runner with.
//!
//! ```text
//! wick-bench suite [--rounds 2] [--workloads w1,w2,w3,w4,w5,w6]   # everything, interleaved
//! wick-bench candle-loop w1 [--steps N]                  # candle ops by hand
//! wick-bench wick-crates-loop w1 --experiment bench/w1_mlp.toml
//! wick-bench gemm-peak [--size 1536]                     # the machine's GEMM rate
//! wick-bench time-layers '[{ type = "ReLU" }]' 16,64,56,56  # one stack of layers
//! wick-bench decode ../shared/datasets/hymenoptera/train   # JPEG decoders, whole and a crop
//! ```

#![deny(clippy::undocumented_unsafe_blocks)]

mod candle_loop;
mod crates_loop;
mod decode;
mod explicit_loop;
mod fashion;
mod gemm_peak;
mod report;
mod suite;
mod time_layers;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "wick against PyTorch and a hand-written candle loop, side by side")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every implementation of every workload, interleaved; prints a table and writes
    /// bench/results.json.
    Suite {
        /// Rounds of everything (medians are reported).
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Comma-separated workloads.
        #[arg(long, default_value = "w1,w2,w3,w4,w5,w6", value_delimiter = ',')]
        workloads: Vec<String>,
        /// The wick binary (default: beside this one).
        #[arg(long)]
        wick: Option<PathBuf>,
        /// A Python with torch and torchvision (default: $PYTHON, else /tmp/venv/bin/python).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Batches of the W2 hand-written candle loop (scaled to an epoch).
        #[arg(long, default_value_t = 60)]
        w2_candle_steps: usize,
        /// The hymenoptera folder.
        #[arg(long, default_value = "../shared/datasets/hymenoptera")]
        hymenoptera: PathBuf,
        /// Threads for every implementation.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Batches W4, W5 and W6 train (their samples/s is measured on these).
        #[arg(long, default_value_t = 100)]
        limit_batches: usize,
        /// Where to write the results.
        #[arg(long, default_value = "bench/results.json")]
        out: PathBuf,
    },
    /// The hand-written candle loop on pre-built tensors (one JSON line).
    CandleLoop {
        /// `w1` or `w2`.
        workload: String,
        /// Only the first N batches (scaled to an epoch).
        #[arg(long)]
        steps: Option<usize>,
    },
    /// wick's model, loss and optimizer in a plain loop on pre-built tensors.
    WickCratesLoop {
        /// `w1` or `w2`.
        workload: String,
        /// The experiment file that gives the model, loss and optimizer.
        #[arg(long)]
        experiment: PathBuf,
        /// Only the first N batches (scaled to an epoch).
        #[arg(long)]
        steps: Option<usize>,
    },
    /// The machine's attainable FMA rate: the best of several square f32 GEMMs on all
    /// threads (one JSON line).
    GemmPeak {
        /// Rows = columns = inner size.
        #[arg(long, default_value_t = 1536)]
        size: usize,
        /// Timed repetitions (after one warm-up).
        #[arg(long, default_value_t = 6)]
        reps: usize,
    },
    /// A stack of layers' forward and backward pass timed on random inputs (medians).
    TimeLayers {
        /// The layers, a TOML array: '[{ type = "MaxPool2d", kernel_size = 3 }]'.
        layers: String,
        /// The input shape, batch first: 16,64,112,112.
        #[arg(value_delimiter = ',')]
        shape: Vec<usize>,
        /// Timed runs.
        #[arg(long, default_value_t = 20)]
        reps: usize,
    },
    /// JPEG decoding per image: the `image` crate's, libjpeg-turbo's whole, and
    /// libjpeg-turbo's of a RandomResizedCrop(224) box (medians of interleaved rounds).
    Decode {
        /// A folder of JPEGs (searched recursively).
        dir: PathBuf,
        /// Interleaved rounds.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// W1's MLP with an explicit backward into preallocated buffers, without candle's
    /// autograd (the design issue 8 weighs against wick's), on pre-built tensors.
    ExplicitLoop {
        /// `w1` (the only workload it has).
        workload: String,
        /// Only the first N batches (scaled to an epoch).
        #[arg(long)]
        steps: Option<usize>,
    },
}

fn python(explicit: Option<PathBuf>) -> Option<PathBuf> {
    let p = explicit
        .or_else(|| std::env::var_os("PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp/venv/bin/python"));
    let ok = std::process::Command::new(&p)
        .args(["-c", "import torch, torchvision"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "no torch + torchvision for {}: the PyTorch side is skipped (make a venv: \
             python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch torchvision)",
            p.display()
        );
    }
    ok.then_some(p)
}

fn main() -> Result<()> {
    wick::process::tune_for_training();
    match Cli::parse().cmd {
        Cmd::Suite {
            rounds,
            workloads,
            wick,
            python: py,
            w2_candle_steps,
            hymenoptera,
            threads,
            out,
            limit_batches,
        } => {
            let wick = match wick {
                Some(w) => w,
                None => std::env::current_exe()?.with_file_name("wick"),
            };
            anyhow::ensure!(
                wick.exists(),
                "no wick binary at {} (cargo build --release)",
                wick.display()
            );
            suite::Suite {
                wick,
                python: python(py),
                rounds,
                workloads,
                w2_candle_steps,
                hymenoptera,
                out,
                threads,
                limit_batches,
            }
            .run()
        }
        Cmd::ExplicitLoop { workload, steps } => {
            anyhow::ensure!(workload == "w1", "explicit-loop: only w1, not {workload}");
            println!("{}", explicit_loop::run(steps)?.to_json());
            Ok(())
        }
        Cmd::TimeLayers {
            layers,
            shape,
            reps,
        } => {
            let t = time_layers::run(&layers, &shape, reps)?;
            let (f, b) = (t.forward, t.backward);
            println!("forward {f:.3} ms, backward {b:.3} ms (median of {reps})");
            for k in &t.kernels {
                let ms = k.seconds * 1e3 / reps as f64;
                let name = k.kernel.name();
                println!("  {name}: {ms:.3} ms per run, {:.0} GFLOP/s", k.gflops());
            }
            Ok(())
        }
        Cmd::Decode { dir, rounds } => {
            println!("{}", decode::run(&dir, rounds)?);
            Ok(())
        }
        Cmd::GemmPeak { size, reps } => {
            println!("{}", gemm_peak::run(size, reps)?);
            Ok(())
        }
        Cmd::CandleLoop { workload, steps } => {
            println!("{}", candle_loop::run(&workload, steps)?.to_json());
            Ok(())
        }
        Cmd::WickCratesLoop {
            workload,
            experiment,
            steps,
        } => {
            println!(
                "{}",
                crates_loop::run(&workload, &experiment, steps)?.to_json()
            );
            Ok(())
        }
    }
}
