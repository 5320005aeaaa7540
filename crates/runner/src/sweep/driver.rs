//! Running a sweep's trials: each one a `wick run` process with its overrides and a run
//! directory of its own, `jobs` of them side by side with the cores divided between
//! them (`RAYON_NUM_THREADS`), so a trial that crashes or diverges cannot take the
//! sweep down, and a killed sweep leaves every trial's checkpoints as a killed run does.
//!
//! Where a trial stands is read from its directory, so an interrupted sweep resumes:
//! finished trials (`meta.json` has `ended`) are kept, one with a `last` checkpoint
//! continues with `wick run --resume`, a directory without one starts over. A trial
//! that fails writes `failed.txt` with the reason; training that diverges (a NaN
//! loss) is such a failure, recorded as `diverged`, not fatal to the sweep.

use super::plan::{Plan, Trial, EXPERIMENT_FILE};
use super::prune::Pruner;
use super::SweepError;
use crate::rundir;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The file a failed trial leaves in its directory.
pub const FAILED_FILE: &str = "failed.txt";

/// How to run a sweep's trials.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The `wick` executable the trials run with.
    pub exe: PathBuf,
    /// Trials side by side (default 1).
    pub jobs: usize,
    /// Cores to divide between the jobs (default: all).
    pub cores: usize,
    /// Set (by a Ctrl-C handler) to start no more trials and stop the running ones.
    pub stop: Arc<AtomicBool>,
}

/// Where a trial stands, as its directory says.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    /// Not started, or started without a checkpoint yet (it starts over).
    Pending,
    /// Stopped with a `last` checkpoint: it resumes.
    Resumable,
    /// Ran to its end.
    Finished,
    /// Failed: the reason (`failed.txt`).
    Failed(String),
    /// Stopped by the median rule at this epoch (`pruned.txt`): done.
    Pruned(usize),
}

impl TrialState {
    /// The state of the trial whose run directory is `dir`.
    pub fn of(dir: &Path) -> Self {
        if !dir.exists() {
            return Self::Pending;
        }
        if let Some(epoch) = super::prune::pruned_at(dir) {
            return Self::Pruned(epoch);
        }
        if rundir::meta_field::<String>(dir, "ended").is_some() {
            return Self::Finished;
        }
        if let Ok(reason) = std::fs::read_to_string(dir.join(FAILED_FILE)) {
            return Self::Failed(reason.trim().to_string());
        }
        if dir.join("checkpoints").join("last").exists() {
            return Self::Resumable;
        }
        Self::Pending
    }
}

/// A trial process and where its output goes.
struct Running {
    index: usize,
    child: Child,
    log: PathBuf,
    started: Instant,
    /// Epochs already judged by the median rule.
    checked: usize,
    /// Stopped by the median rule.
    pruned: bool,
}

/// Runs every trial of `plan` in the sweep directory `dir` that has not finished.
pub fn run_trials(dir: &Path, plan: &Plan, opts: &SweepOptions) -> Result<(), SweepError> {
    let jobs = opts.jobs.max(1);
    let threads = (opts.cores / jobs).max(1);
    let mut todo: VecDeque<usize> = VecDeque::new();
    let mut pruner = Pruner::new(plan.mode);
    for (i, t) in plan.trials.iter().enumerate() {
        match TrialState::of(&dir.join(&t.name)) {
            TrialState::Finished => {
                tracing::info!("trial {}: finished before, kept", t.name);
                pruner.add_finished(curve(&dir.join(&t.name), &plan.monitor));
            }
            TrialState::Pruned(e) => tracing::info!("trial {}: pruned at epoch {e}, kept", t.name),
            _ => todo.push_back(i),
        }
    }
    let total = plan.trials.len();
    let mut running: Vec<Running> = Vec::new();
    let mut forwarded = false;
    loop {
        while running.len() < jobs && !opts.stop.load(Ordering::SeqCst) {
            let Some(i) = todo.pop_front() else { break };
            running.push(start(dir, &plan.trials[i], i, threads, &opts.exe)?);
            tracing::info!("trial {}/{total} started: {}", i + 1, plan.trials[i].name);
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if opts.stop.load(Ordering::SeqCst) && !forwarded {
            forwarded = true;
            running.iter().for_each(|r| terminate(&r.child));
        }
        let mut still = Vec::new();
        for mut r in running {
            if plan.prune && !r.pruned {
                judge(dir, plan, &pruner, &mut r);
            }
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let t = &plan.trials[r.index];
                    ended(dir, t, &r, status.code());
                    if status.code() == Some(0) && !r.pruned {
                        pruner.add_finished(curve(&dir.join(&t.name), &plan.monitor));
                    }
                }
                Ok(None) => still.push(r),
                Err(e) => tracing::warn!("trial {}: {e}", plan.trials[r.index].name),
            }
        }
        running = still;
    }
    if opts.stop.load(Ordering::SeqCst) {
        return Err(SweepError::Interrupted(dir.display().to_string()));
    }
    Ok(())
}

/// Starts the trial: `wick run experiment.toml --set ... --run-dir DIR`, or `wick run
/// --resume DIR` where it has a checkpoint; its output goes to `logs/<trial>.log`.
fn start(
    dir: &Path,
    trial: &Trial,
    index: usize,
    threads: usize,
    exe: &Path,
) -> Result<Running, SweepError> {
    let tdir = dir.join(&trial.name);
    let mut cmd = Command::new(exe);
    cmd.arg("run");
    match TrialState::of(&tdir) {
        TrialState::Resumable => {
            cmd.arg("--resume").arg(&tdir);
        }
        _ => {
            if tdir.exists() {
                std::fs::remove_dir_all(&tdir).map_err(|e| SweepError::io(&tdir, e))?;
            }
            cmd.arg(dir.join(EXPERIMENT_FILE));
            for o in trial.run_overrides() {
                cmd.arg("--set").arg(o);
            }
            cmd.arg("--run-dir").arg(&tdir);
        }
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| SweepError::io(&logs, e))?;
    let log = logs.join(format!("{}.log", trial.name));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| SweepError::io(&log, e))?;
    let err = out.try_clone().map_err(|e| SweepError::io(&log, e))?;
    cmd.arg("--no-progress")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    stop_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|e| SweepError::io(exe, e))?;
    Ok(Running {
        index,
        child,
        log,
        started: Instant::now(),
        checked: 0,
        pruned: false,
    })
}

/// The monitored metric per finished epoch of the trial in `tdir`.
fn curve(tdir: &Path, monitor: &str) -> Vec<f64> {
    rundir::epoch_rows(tdir)
        .unwrap_or_default()
        .iter()
        .map(|r| r.get(monitor).copied().unwrap_or(f64::NAN))
        .collect()
}

/// Judges the running trial's new epochs by the median rule; a hopeless one is
/// recorded as pruned and asked to stop.
fn judge(dir: &Path, plan: &Plan, pruner: &Pruner, r: &mut Running) {
    let t = &plan.trials[r.index];
    let tdir = dir.join(&t.name);
    let c = curve(&tdir, &plan.monitor);
    if c.len() <= r.checked {
        return;
    }
    if let Some(v) = pruner.verdict(&c, r.checked) {
        tracing::info!(
            "trial {} pruned at epoch {}: {} {:.4}, the median of {} finished trials {:.4}",
            t.name,
            v.epoch,
            plan.monitor,
            v.value,
            v.of,
            v.median
        );
        if let Err(e) = super::prune::record(&tdir, &plan.monitor, &v) {
            tracing::warn!("{}: {e}", tdir.display());
        }
        r.pruned = true;
        terminate(&r.child);
    }
    r.checked = c.len();
}

/// Records how a trial process ended: exit 0 finished; 130 interrupted (it resumes);
/// anything else failed, `failed.txt` saying why (the run's last error line).
fn ended(dir: &Path, trial: &Trial, r: &Running, code: Option<i32>) {
    let secs = r.started.elapsed().as_secs_f64();
    if r.pruned {
        return;
    }
    match code {
        Some(0) => tracing::info!("trial {} finished ({secs:.1} s)", trial.name),
        Some(130) | None => tracing::info!("trial {} interrupted; it resumes", trial.name),
        Some(c) => {
            let text = std::fs::read_to_string(&r.log).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("no error line")
                .trim_start_matches("error: ")
                .to_string();
            let why = if last.contains("training diverged") {
                format!("diverged: {last}")
            } else {
                format!("failed (exit {c}): {last}")
            };
            tracing::warn!("trial {} {why} (see {})", trial.name, r.log.display());
            let tdir = dir.join(&trial.name);
            let _ = std::fs::create_dir_all(&tdir);
            if let Err(e) = rundir::write_atomic(&tdir, FAILED_FILE, format!("{why}\n").as_bytes())
            {
                tracing::warn!("{}: {e}", tdir.display());
            }
        }
    }
}

/// Asks a trial to stop as Ctrl-C would: finish the step, save `last`, exit.
fn terminate(child: &Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a child's pid and a valid signal number has no memory
        // effects in this process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// On Linux, a trial gets SIGTERM when the sweep process dies (killed, say), so it
/// checkpoints and stops instead of running on unwatched.
fn stop_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the forked child before exec and only calls
        // prctl(2), which is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}
