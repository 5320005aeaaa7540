//! The `wick` command line, over any [`Registry`]: `wick::cli::main_with(registry)` is
//! the whole program (`run`, `check`, `eval`, `predict`, `data`, `landscape`, `sweep`,
//! `compare`, `export`) with the registry's names in force for every file and run
//! directory it reads.
//!
//! The binary owns the process: this module installs the tracing subscriber, the
//! thread and allocator settings and the Ctrl-C handler, none of which a library
//! crate does.

use crate::{logging, Registry};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wick_runner::trainer::Device;
use wick_runner::{load_experiment_with, Override, RunError, RunOptions};

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
        /// The experiment file (not with --resume).
        #[arg(required_unless_present = "resume")]
        experiment: Option<PathBuf>,
        /// Override a key of the file, validated like the file: `--set optimizer.lr=0.1`.
        /// With --resume, only how long to train (`train.epochs`, `train.log_interval`,
        /// `train.early_stopping.*`, `train.checkpoint.*`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Continue the run in this directory from its `last` checkpoint.
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "experiment")]
        resume: Option<PathBuf>,
        /// Where run directories go.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// Never draw progress bars.
        #[arg(long)]
        no_progress: bool,
        /// The run directory itself instead of `RUNS_DIR/<name>/<timestamp>` (it must
        /// not exist yet; `wick sweep` names its trials so).
        #[arg(long, value_name = "DIR", conflicts_with = "resume")]
        run_dir: Option<PathBuf>,
        /// Train data-parallel as N processes on this machine, started over MPI
        /// (`mpirun -n N`); `batch_size` is per process, as in PyTorch DDP.
        #[arg(long, value_name = "N")]
        nproc: Option<usize>,
    },
    /// Validate an experiment and print its model table; trains nothing.
    Check {
        /// The experiment file.
        experiment: PathBuf,
        /// Override a key of the file: `--set optimizer.lr=0.1`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
    },
    /// Evaluate a checkpoint of a run directory on its test split.
    Eval {
        /// The run directory (runs/<name>/<timestamp>).
        run_dir: PathBuf,
        /// Which checkpoint: `last`, `best` or a folder name such as `epoch-0003`.
        #[arg(long, default_value = "best")]
        checkpoint: String,
    },
    /// Run a checkpoint on new inputs (an image, a folder of images, or a CSV of
    /// feature rows) and write the predictions as CSV.
    Predict {
        /// The run directory (runs/<name>/<timestamp>).
        run_dir: PathBuf,
        /// An image file, a folder of images, or a .csv file.
        inputs: PathBuf,
        /// Which checkpoint: `last`, `best` or a folder name such as `epoch-0003`.
        #[arg(long, default_value = "best")]
        checkpoint: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The training loss over a grid of one or two parameters, without training (the
    /// course's loss landscapes): prints the grid, writes landscape.csv and pictures.
    Landscape {
        /// The experiment file.
        experiment: PathBuf,
        /// A swept parameter, once or twice: `--param 0.weight=0:4:0.1` (START:STOP:STEP,
        /// STOP included).
        #[arg(long = "param", value_name = "NAME=START:STOP:STEP", required = true)]
        params: Vec<wick_runner::landscape::Axis>,
        /// Take the other parameters from this run's best (else last) checkpoint
        /// instead of the experiment's initialisation.
        #[arg(long, value_name = "RUN_DIR")]
        from: Option<PathBuf>,
        /// Override a key of the file: `--set loss.reduction="sum"`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Where landscape.csv and the pictures go (default:
        /// runs/<name>/landscape-<date>-<time>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Train one experiment in many configurations (a grid, or a `[sweep]` table of the
    /// file) and rank them: every trial a run directory under
    /// runs/<name>/sweep-<timestamp>/, then sweep.csv, a table and plots.
    Sweep {
        /// The experiment file (not with --resume).
        #[arg(required_unless_present = "resume")]
        experiment: Option<PathBuf>,
        /// A swept key and its values: `--grid optimizer.lr=0.1,0.01` (repeatable; every
        /// combination runs). Replaces the file's [sweep] parameters.
        #[arg(long, value_name = "KEY=V1,V2,...", value_parser = parse_grid)]
        grid: Vec<(String, wick_runner::sweep::Values)>,
        /// Seeds per configuration: the file's seed, seed+1, ...
        #[arg(long)]
        seeds: Option<usize>,
        /// Stop hopeless trials early: `median` (a trial worse than the finished trials'
        /// median at an epoch).
        #[arg(long, value_name = "RULE", value_parser = ["median"], conflicts_with = "resume")]
        prune: Option<String>,
        /// Trials side by side, the cores divided between them.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Override a key of the file in every trial: `--set train.epochs=3`.
        #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
        set: Vec<Override>,
        /// Continue the sweep in this directory: finished trials are kept, a stopped one
        /// resumes from its checkpoint, the rest run.
        #[arg(long, value_name = "SWEEP_DIR", conflicts_with_all = ["experiment", "grid", "seeds"])]
        resume: Option<PathBuf>,
        /// Where sweep directories go.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
    },
    /// Look at an experiment's data: the split's length and classes, one sample, the
    /// first batch's shapes and labels after the transforms, and a PNG grid of it.
    Data {
        /// The experiment file.
        experiment: PathBuf,
        /// `train` or `test`.
        #[arg(long, default_value = "train")]
        split: String,
        /// Override a key of the file: `--set data.train.batch_size=4`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Where the batch grid goes (default runs/<name>/data-<split>.png).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Compare runs: the config keys whose values differ, each run's best and last
    /// metrics, and overlay plots (PNG) of every per-epoch number.
    Compare {
        /// Run directories, or a sweep directory (its trials).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Where the plots go (default: <sweep>/compare for one sweep directory, else
        /// runs/compare-<date>-<time>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the experiment of a run directory as a PyTorch program that loads its
    /// checkpoint.
    Export {
        /// Write Python (the only format so far).
        #[arg(long, required = true)]
        python: bool,
        /// The run directory (runs/<name>/<timestamp>).
        run_dir: PathBuf,
        /// Which checkpoint the script loads by default.
        #[arg(long, default_value = "best")]
        checkpoint: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn parse_grid(arg: &str) -> Result<(String, wick_runner::sweep::Values), String> {
    wick_runner::sweep::parse_grid(arg)
}

const EXIT_FAILED_RUN: u8 = 1;
const EXIT_BAD_EXPERIMENT: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Runs the `wick` command line with the names of `registry`: parses the arguments,
/// sets the process up and dispatches the command. A name registered twice stops it
/// before anything runs (exit code 2).
pub fn main_with(registry: Registry) -> ExitCode {
    crate::process::tune_for_training();
    let cli = Cli::parse();
    if let Err(e) = registry.check() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_EXPERIMENT);
    }
    logging::init();
    crate::process::in_compute_pool(move || registry.enter(|| dispatch(cli.command)))
}

/// `wick check`: the experiment validated, where its weights come from, and the model
/// table.
fn check(experiment: &std::path::Path, set: &[Override]) -> ExitCode {
    let exp = match load(experiment, set) {
        Ok(e) => e,
        Err(code) => return code,
    };
    // under a launcher the job's ranks meet, so that its hosts are known; rank 0 prints
    let job = match crate::distributed::launched_rank() {
        Some(_) => match crate::distributed::join() {
            Ok(g) => Some(g),
            Err(e) => return fail(&e, EXIT_FAILED_RUN),
        },
        None => None,
    };
    if job.as_ref().is_some_and(|g| g.rank() > 0) {
        return ExitCode::SUCCESS;
    }
    match wick_runner::build_model(&exp, &Device::Cpu) {
        Ok(model) => {
            let weights = exp.model.transfer.weights.as_deref();
            let world = job.map(|g| (g.world_size(), g.hosts()));
            let distributed = wick_runner::distributed::describe(&exp, world)
                .map_or_else(String::new, |d| d + "\n");
            out(&format!(
                "{}: OK\n{distributed}{}{}\n",
                experiment.display(),
                weights.map_or_else(String::new, |w| {
                    wick_runner::weights_file::describe(w) + "\n"
                }),
                model.summary()
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// The experiment file, with the `--set` overrides; a bad one is shown and is exit
/// code 2.
fn load(
    experiment: &std::path::Path,
    set: &[Override],
) -> Result<wick_runner::Experiment, ExitCode> {
    load_experiment_with(experiment, set).map_err(|e| {
        eprint!("{}", e.rendered);
        ExitCode::from(EXIT_BAD_EXPERIMENT)
    })
}

/// `wick landscape`: the grid printed, its CSV and pictures written.
fn landscape(
    experiment: &std::path::Path,
    set: &[Override],
    params: Vec<wick_runner::landscape::Axis>,
    from: Option<&std::path::Path>,
    out_dir: Option<PathBuf>,
) -> ExitCode {
    let exp = match load(experiment, set) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let dir = out_dir.unwrap_or_else(|| wick_runner::landscape::default_dir(&exp, "runs".as_ref()));
    let result = wick_runner::landscape::landscape(&exp, params, from)
        .and_then(|l| Ok((wick_runner::landscape_files::write(&l, &dir)?, l.printed())));
    match result {
        Ok((files, grid)) => {
            let written: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            out(&format!(
                "{grid}
wrote {}
",
                written.join(", ")
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// `wick sweep`: the trials run, then the table printed and the files named.
fn sweep(
    experiment: Option<PathBuf>,
    args: wick_runner::sweep::SweepArgs,
    jobs: usize,
    resume: Option<PathBuf>,
) -> ExitCode {
    use wick_runner::sweep::{self, SweepError};
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(
                &anyhow::anyhow!("cannot find the wick executable: {e}"),
                EXIT_FAILED_RUN,
            )
        }
    };
    let opts = sweep::SweepOptions {
        exe,
        jobs: jobs.max(1),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        stop: stop_on_ctrl_c(),
    };
    let result = match (resume, experiment) {
        (Some(dir), _) => sweep::resume(&dir, &opts),
        (None, Some(file)) => sweep::start(&file, &args, &opts),
        (None, None) => unreachable!("clap requires an experiment without --resume"),
    };
    match result {
        Ok(report) => {
            let files: Vec<String> = report
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            out(&format!("{}\nwrote {}\n", report.table, files.join(", ")));
            ExitCode::SUCCESS
        }
        Err(SweepError::Experiment(e)) => {
            eprint!("{}", e.rendered);
            ExitCode::from(EXIT_BAD_EXPERIMENT)
        }
        Err(e @ SweepError::Interrupted(_)) => fail(&e.into(), EXIT_INTERRUPTED),
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// `wick compare`: the table printed, the overlay plots written.
fn compare(runs: &[PathBuf], out_dir: Option<PathBuf>) -> ExitCode {
    use wick_runner::compare;
    let dirs = compare::expand(runs);
    let out_dir = out_dir.unwrap_or_else(|| match runs {
        [one] if one.join(wick_runner::sweep::plan::PLAN_FILE).exists() => one.join("compare"),
        _ => compare::default_dir("runs".as_ref()),
    });
    let result = compare::compare(&dirs).and_then(|c| Ok((c.table(), c.draw(&out_dir)?)));
    match result {
        Ok((table, files)) => {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            out(&format!("{table}\nwrote {}\n", files.join(", ")));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// `wick run`: a new run of the experiment, or a resumed one.
fn run(
    experiment: Option<PathBuf>,
    set: &[Override],
    resume: Option<PathBuf>,
    opts: &RunOptions,
) -> ExitCode {
    let result = match (resume, experiment) {
        (Some(dir), _) => wick_runner::trainer::resume(&dir, opts),
        (None, Some(experiment)) => {
            let exp = match load(&experiment, set) {
                Ok(e) => e,
                Err(code) => return code,
            };
            wick_runner::run(&exp, opts)
        }
        (None, None) => unreachable!("clap requires an experiment without --resume"),
    };
    // every rank stops at the same step for these: rank 0 tells
    let quiet = opts.group.rank() > 0;
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(RunError::Interrupted { .. }) if quiet => ExitCode::from(EXIT_INTERRUPTED),
        Err(RunError::Diverged { .. }) if quiet => ExitCode::from(EXIT_FAILED_RUN),
        Err(e @ RunError::Interrupted { .. }) => fail(&e.into(), EXIT_INTERRUPTED),
        // every rank stops at the same step (the loss is the global batch's)
        Err(e @ RunError::Diverged { .. }) => fail(&e.into(), EXIT_FAILED_RUN),
        Err(e) if opts.group.world_size() > 1 => {
            // the other ranks wait for this one in their next collective: end the job
            let _ = fail(&e.into(), EXIT_FAILED_RUN);
            opts.group.abort(i32::from(EXIT_FAILED_RUN))
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// The backend a `--nproc` launch starts: the experiment's (or the resumed run's)
/// `[distributed] backend`, MPI by default.
fn backend_of(
    experiment: Option<&std::path::Path>,
    resume: Option<&std::path::Path>,
    set: &[Override],
) -> wick_runner::distributed::Backend {
    let exp = match (experiment, resume) {
        (Some(e), _) => load_experiment_with(e, set).ok(),
        (None, Some(dir)) => wick_runner::rundir::load_run_config(dir).ok(),
        (None, None) => None,
    };
    exp.and_then(|e| e.distributed.map(|d| d.backend))
        .unwrap_or_default()
}

/// `wick data`: the report printed, the grid written.
fn data(
    experiment: &std::path::Path,
    set: &[Override],
    split: &str,
    out_file: Option<PathBuf>,
) -> ExitCode {
    let exp = match load(experiment, set) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let file = out_file.unwrap_or_else(|| {
        PathBuf::from("runs")
            .join(&exp.name)
            .join(format!("data-{split}.png"))
    });
    match wick_runner::data_info::inspect(&exp, split, &file, mirrors().as_deref()) {
        Ok(info) => {
            let grid = info
                .grid
                .map_or(String::new(), |g| format!("wrote {}\n", g.display()));
            out(&format!("{}{grid}", info.text));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Data {
            experiment,
            split,
            set,
            out,
        } => data(&experiment, &set, &split, out),
        Command::Compare { runs, out } => compare(&runs, out),
        Command::Sweep {
            experiment,
            grid,
            seeds,
            prune,
            jobs,
            set,
            resume,
            runs_dir,
        } => sweep(
            experiment,
            wick_runner::sweep::SweepArgs {
                set,
                grid,
                seeds,
                prune: prune.is_some(),
                runs_dir,
            },
            jobs,
            resume,
        ),
        Command::Check { experiment, set } => check(&experiment, &set),
        Command::Landscape {
            experiment,
            params,
            from,
            set,
            out,
        } => landscape(&experiment, &set, params, from.as_deref(), out),
        Command::Run {
            experiment,
            set,
            resume,
            runs_dir,
            no_progress,
            run_dir,
            nproc,
        } => {
            if let Some(n) = nproc.filter(|&n| n > 1) {
                if crate::distributed::launched_rank().is_some() {
                    eprintln!("error: --nproc inside a job that a launcher started already");
                    return ExitCode::from(EXIT_FAILED_RUN);
                }
                return crate::distributed::launch(
                    n,
                    backend_of(experiment.as_deref(), resume.as_deref(), &set),
                );
            }
            let group = match crate::distributed::join() {
                Ok(g) => g,
                Err(e) => return fail(&e, EXIT_FAILED_RUN),
            };
            let opts = RunOptions {
                group,
                runs_dir,
                run_dir,
                progress: !no_progress && std::io::stderr().is_terminal(),
                mirrors: mirrors(),
                overrides: set.iter().map(ToString::to_string).collect(),
                stop: stop_on_ctrl_c(),
            };
            run(experiment, &set, resume, &opts)
        }
        Command::Eval {
            run_dir,
            checkpoint,
        } => eval(&run_dir, &checkpoint),
        Command::Predict {
            run_dir,
            inputs,
            checkpoint,
            output,
        } => predict(&run_dir, &inputs, &checkpoint, output),
        Command::Export {
            python: _,
            run_dir,
            checkpoint,
            output,
        } => match export(&run_dir, &checkpoint, output) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e, EXIT_FAILED_RUN),
        },
    }
}

/// `wick eval`: the checkpoint's accuracy and loss (or regression errors) printed.
fn eval(run_dir: &std::path::Path, checkpoint: &str) -> ExitCode {
    let opts = RunOptions {
        mirrors: mirrors(),
        ..Default::default()
    };
    match wick_runner::trainer::eval(run_dir, checkpoint, &opts) {
        Ok(ev) => {
            let line = if ev.has_accuracy {
                format!(
                    "accuracy {:.2} % ({}/{}), loss {:.4}\n",
                    100.0 * ev.accuracy(),
                    ev.hits,
                    ev.counted,
                    ev.loss
                )
            } else {
                let m = |k: &str| ev.extra.get(k).copied().unwrap_or(f64::NAN);
                format!(
                    "loss {:.4}, MAE {:.4}, MSE {:.4}, R² {:.4} ({} samples)\n",
                    ev.loss,
                    m("mae"),
                    m("mse"),
                    m("r2"),
                    ev.total
                )
            };
            out(&line);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

/// `wick predict`: the predictions as CSV, to a file or standard output.
fn predict(
    run_dir: &std::path::Path,
    inputs: &std::path::Path,
    checkpoint: &str,
    output: Option<PathBuf>,
) -> ExitCode {
    match wick_runner::predict::predict(run_dir, inputs, checkpoint) {
        Ok(csv) => match output {
            Some(path) => match std::fs::write(&path, csv) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(
                    &anyhow::anyhow!("cannot write {}: {e}", path.display()),
                    EXIT_FAILED_RUN,
                ),
            },
            None => {
                out(&csv);
                ExitCode::SUCCESS
            }
        },
        Err(e) => fail(&e.into(), EXIT_FAILED_RUN),
    }
}

fn export(
    run_dir: &std::path::Path,
    checkpoint: &str,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let exp = wick_runner::rundir::load_run_config(run_dir)?;
    let ckpt = wick_runner::rundir::find_checkpoint(run_dir, checkpoint)?
        .join(wick_runner::checkpoint::MODEL_FILE);
    let script = wick_runner::export::python_script(&exp, Some(&ckpt.display().to_string()));
    match output {
        Some(path) => std::fs::write(&path, script)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => out(&script),
    }
    Ok(())
}

/// `WICK_MIRRORS`: comma-separated base URLs tried instead of the official mirrors.
fn mirrors() -> Option<Vec<String>> {
    std::env::var("WICK_MIRRORS").ok().and_then(|m| {
        let list: Vec<String> = m
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!list.is_empty()).then_some(list)
    })
}

/// The first Ctrl-C (or SIGTERM) asks the trainer to finish its step, save `last` and
/// exit; a second one exits at once. Signals within half a second of the first count
/// as the same one: a sweep's trial gets the terminal's SIGINT, the sweep's SIGTERM and,
/// when the sweep is killed, a SIGTERM per thread of the sweep as it dies
/// (`PR_SET_PDEATHSIG`), all in a burst, and must still save its checkpoint.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let first = std::sync::Mutex::new(None::<std::time::Instant>);
    let installed = ctrlc::set_handler(move || {
        let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
        let at = *first.get_or_insert_with(std::time::Instant::now);
        if flag.swap(true, Ordering::SeqCst) {
            if at.elapsed() >= std::time::Duration::from_millis(500) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            return;
        }
        if crate::distributed::launched_rank().unwrap_or(0) == 0 {
            eprintln!(
                "\ninterrupted: finishing the step and saving `last` (Ctrl-C again to quit now)"
            );
        }
    });
    if let Err(e) = installed {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
    stop
}

/// Writes to standard output; a closed pipe (`wick check x.toml | head`) ends the
/// program quietly instead of panicking as `println!` does.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(i32::from(EXIT_FAILED_RUN));
    }
}

fn fail(e: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!("error: {e:#}");
    tracing::error!(target: "wick::exit", "{e:#}");
    ExitCode::from(code)
}
