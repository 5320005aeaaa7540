//! Checkpoints and resume through the binary: a run killed at any moment (SIGKILL)
//! leaves a `last` checkpoint that loads, and resuming it ends with exactly the weights
//! of an uninterrupted run; Ctrl-C (SIGINT) finishes the step, saves `last` and exits
//! with 130.

mod common;

use common::{wick, write_tiny_mnist};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wick_runner::checkpoint;
use wick_runner::trainer::Device;

const EXPERIMENT: &str = r#"
name = "resume"
seed = 3
device = "cpu"
[data]
dataset = "MNIST"
[data.train]
batch_size = 16
shuffle = true
transforms = [{ type = "ToTensor" }, { type = "Normalize", mean = [0.1307], std = [0.3081] }]
[data.test]
batch_size = 100
transforms = [{ type = "ToTensor" }, { type = "Normalize", mean = [0.1307], std = [0.3081] }]
[model]
input = [1, 28, 28]
layers = [
  { type = "Flatten" },
  { type = "Linear", out_features = 32 },
  { type = "BatchNorm1d" },
  { type = "ReLU" },
  { type = "Dropout", p = 0.2 },
  { type = "Linear", out_features = 10 },
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.05
momentum = 0.9
[scheduler]
type = "OneCycleLR"
max_lr = 0.1
total_steps = 96
[train]
epochs = 3
log_interval = 5
checkpoint = { every_n_steps = 3 }
clip_grad_norm = { max_norm = 1.0 }
"#;

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_mnist(&tmp.path().join("data"), 512, 100);
    std::fs::write(tmp.path().join("exp.toml"), EXPERIMENT).unwrap();
    tmp
}

fn spawn(cwd: &Path, runs_dir: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["run", "exp.toml", "--runs-dir", runs_dir])
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("WICK_DATA", cwd.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wick")
}

/// The single run directory under `runs_dir/resume`.
fn run_dir(cwd: &Path, runs_dir: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cwd.join(runs_dir).join("resume"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(dirs.len() <= 1, "{dirs:?}");
    dirs.pop()
}

fn final_weights(dir: &Path) -> Vec<(String, Vec<f64>)> {
    let last = checkpoint::resolve(&dir.join("checkpoints"), "last").expect("a last checkpoint");
    checkpoint::load_model(&last.join(checkpoint::MODEL_FILE), &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, t)| {
            let v = t.to_dtype(candle_core::DType::F64).unwrap();
            (k, v.flatten_all().unwrap().to_vec1::<f64>().unwrap())
        })
        .collect()
}

fn resume(cwd: &Path, dir: &Path) {
    let out = wick(
        &["run", "--resume", dir.to_str().unwrap()],
        Some(&cwd.join("data")),
        cwd,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn epoch_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("epoch,"))
        // drop the timing columns, which differ between runs
        .map(|l| l.split(',').take(9).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run() {
    let tmp = setup();
    let cwd = tmp.path();
    let t0 = Instant::now();
    let out = spawn(cwd, "ref").wait_with_output().unwrap();
    let full = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference_dir = run_dir(cwd, "ref").unwrap();
    let reference = final_weights(&reference_dir);
    let reference_rows = epoch_rows(&reference_dir);
    assert_eq!(reference_rows.len(), 3);

    let mut seed = 0x9e3779b97f4a7c15u64 ^ u64::from(std::process::id());
    let (mut resumed, mut trials) = (0, 0);
    while resumed < 5 && trials < 12 {
        trials += 1;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let frac = 0.15 + 0.8 * ((seed >> 11) as f64 / (1u64 << 53) as f64);
        let delay = full.mul_f64(frac);
        let runs = format!("kill-{trials}");
        let mut child = spawn(cwd, &runs);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let Some(dir) = run_dir(cwd, &runs) else {
            continue;
        };
        let ckpts = dir.join("checkpoints");
        let Some(last) = checkpoint::resolve(&ckpts, "last") else {
            continue; // killed before the first checkpoint
        };
        // the last checkpoint is whole
        checkpoint::load_model(&last.join(checkpoint::MODEL_FILE), &Device::Cpu)
            .unwrap_or_else(|e| panic!("trial {trials} after {delay:?}: {e}"));
        resume(cwd, &dir);
        assert_eq!(
            final_weights(&dir),
            reference,
            "trial {trials}: killed after {delay:?} (of {full:?}) and resumed, the weights differ"
        );
        assert_eq!(
            epoch_rows(&dir),
            reference_rows,
            "trial {trials}: metrics differ"
        );
        resumed += 1;
    }
    assert!(
        resumed >= 3,
        "only {resumed} of {trials} kills left a checkpoint"
    );
}

#[test]
fn ctrl_c_saves_last_and_exits_130_then_resume_finishes_the_same() {
    let tmp = setup();
    let cwd = tmp.path();
    let out = spawn(cwd, "ref").wait_with_output().unwrap();
    assert!(out.status.success());
    let reference = final_weights(&run_dir(cwd, "ref").unwrap());

    let child = spawn(cwd, "int");
    // wait for the run to get going (its first checkpoint), then interrupt
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = run_dir(cwd, "int")
            .and_then(|d| checkpoint::resolve(&d.join("checkpoints"), "last"))
            .is_some();
        if started || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        // finished before the signal arrived: nothing to check
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("wick run --resume"), "{stderr}");
    let dir = run_dir(cwd, "int").unwrap();
    resume(cwd, &dir);
    assert_eq!(final_weights(&dir), reference);
}

#[test]
fn a_damaged_last_resumes_from_the_checkpoint_before_it() {
    let tmp = setup();
    let cwd = tmp.path();
    let out = spawn(cwd, "ref").wait_with_output().unwrap();
    assert!(out.status.success());
    let dir = run_dir(cwd, "ref").unwrap();
    let reference = final_weights(&dir);
    let reference_rows = epoch_rows(&dir);
    // `keep_last = 2`: the final checkpoint and the one three steps before it, and
    // `best` (the first epoch's)
    let ckpts = dir.join("checkpoints");
    let mut kept: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    kept.sort();
    assert_eq!(kept, ["step-000000032", "step-000000093", "step-000000096"]);
    assert!(checkpoint::resolve(&ckpts, "best")
        .unwrap()
        .ends_with("step-000000032"));
    // as a full disk leaves it: the final weights file cut short
    let last = checkpoint::resolve(&ckpts, "last").unwrap();
    assert!(last.ends_with("step-000000096"));
    let model = last.join(checkpoint::MODEL_FILE);
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();

    let out = wick(
        &["run", "--resume", dir.to_str().unwrap()],
        Some(&cwd.join("data")),
        cwd,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&model.display().to_string()) && stderr.contains("resuming from"),
        "the damaged file is not named: {stderr}"
    );
    // the last three steps again, from step 93: the same weights and epochs
    assert_eq!(final_weights(&dir), reference);
    assert_eq!(epoch_rows(&dir), reference_rows);
}

/// A finished run of [`EXPERIMENT`] with StepLR (OneCycleLR's `total_steps` ends it).
fn finished_step_lr_run(cwd: &Path) -> PathBuf {
    let exp = EXPERIMENT.replace(
        "type = \"OneCycleLR\"\nmax_lr = 0.1\ntotal_steps = 96",
        "type = \"StepLR\"\nstep_size = 1\ngamma = 0.5",
    );
    assert!(exp.contains("StepLR"));
    std::fs::write(cwd.join("exp.toml"), exp).unwrap();
    let out = spawn(cwd, "more").wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_dir(cwd, "more").unwrap()
}

#[test]
fn resume_with_more_epochs_continues_a_finished_run() {
    let tmp = setup();
    let cwd = tmp.path();
    let dir = finished_step_lr_run(cwd);
    assert_eq!(epoch_rows(&dir).len(), 3);
    let out = wick(
        &[
            "run",
            "--resume",
            dir.to_str().unwrap(),
            "--set",
            "train.epochs=5",
        ],
        Some(&cwd.join("data")),
        cwd,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("train.epochs: 3 in the checkpoint, 5 now"),
        "{stdout}"
    );
    let rows = epoch_rows(&dir);
    assert_eq!(rows.len(), 5, "{rows:?}");
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 5"), "{config}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["resumed_with"], serde_json::json!(["train.epochs=5"]));
    // the weights moved on from the 3-epoch run's
    let last = checkpoint::resolve(&dir.join("checkpoints"), "last").unwrap();
    assert!(last.ends_with("step-000000160"), "{}", last.display());
}

#[test]
fn resume_refuses_a_changed_optimizer_naming_the_key() {
    let tmp = setup();
    let cwd = tmp.path();
    let dir = finished_step_lr_run(cwd);
    let before = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let out = wick(
        &[
            "run",
            "--resume",
            dir.to_str().unwrap(),
            "--set",
            "optimizer.momentum=0.5",
            "--set",
            "train.epochs=4",
        ],
        Some(&cwd.join("data")),
        cwd,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("optimizer.momentum: 0.9 in the checkpoint, 0.5 now"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("train.epochs:"),
        "an allowed change listed as refused: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("config.toml")).unwrap(),
        before
    );
    // an edit of config.toml itself is checked the same way
    std::fs::write(
        dir.join("config.toml"),
        before.replace("lr = 0.05", "lr = 0.5"),
    )
    .unwrap();
    let out = wick(
        &["run", "--resume", dir.to_str().unwrap()],
        Some(&cwd.join("data")),
        cwd,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("optimizer.lr: 0.05 in the checkpoint, 0.5 now"),
        "{stderr}"
    );
}

/// Starts `wick run` on `exp.toml` with `SIGXFSZ` ignored, so that a write past the
/// file-size limit set later fails with EFBIG, as a full disk fails a write.
fn spawn_with_writable_limit(cwd: &Path, runs_dir: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wick"));
    cmd.args(["run", "exp.toml", "--runs-dir", runs_dir])
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("WICK_DATA", cwd.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls `signal`, which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd.spawn().expect("start wick")
}

/// From now on, no file of the running `child` may grow past `bytes` (its writes past
/// that fail as on a full disk).
fn limit_file_size(child: &std::process::Child, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `limit` and writes nothing (null old-limit pointer).
    let rc = unsafe {
        libc::prlimit(
            child.id() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_failed_checkpoint_write_stops_the_run_and_keeps_the_last_one_whole() {
    let tmp = setup();
    let cwd = tmp.path();
    // long enough to be caught after its first checkpoint
    let exp = EXPERIMENT
        .replace("epochs = 3", "epochs = 40")
        .replace("total_steps = 96", "total_steps = 1280");
    std::fs::write(cwd.join("exp.toml"), exp).unwrap();
    let child = spawn_with_writable_limit(cwd, "full");
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Some(l) =
            run_dir(cwd, "full").and_then(|d| checkpoint::resolve(&d.join("checkpoints"), "last"))
        {
            break l;
        }
        assert!(Instant::now() < deadline, "no checkpoint in time");
        std::thread::sleep(Duration::from_millis(1));
    };
    // from now on no file may grow past 20 kB: the model file (~100 kB) and the state file
    // cannot be written, the metrics rows and the log can
    limit_file_size(&child, 20_000);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (1280 steps: the limit comes long before the end)
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // the limit can come between the checkpoint's two files: either is named
    assert!(
        stderr.contains(checkpoint::MODEL_FILE) || stderr.contains(checkpoint::STATE_FILE),
        "the failed file is not named: {stderr}"
    );
    assert!(stderr.contains("File too large"), "{stderr}");
    // `last` is a whole checkpoint, written before the limit or after it
    let dir = run_dir(cwd, "full").unwrap();
    let last = checkpoint::resolve(&dir.join("checkpoints"), "last").unwrap();
    checkpoint::load_model(&last.join(checkpoint::MODEL_FILE), &Device::Cpu)
        .unwrap_or_else(|e| panic!("{} (first was {}): {e}", last.display(), first.display()));
    // and the run resumes from it once the disk has room again
    resume(cwd, &dir);
    assert!(epoch_rows(&dir).len() == 40);
}

#[test]
fn failed_metrics_and_plot_writes_are_warnings_and_training_goes_on() {
    let tmp = setup();
    let cwd = tmp.path();
    // a model of ~700 parameters (checkpoints of a few kB) and a metrics row every step
    let exp = EXPERIMENT
        .replace(
            r#"  { type = "Flatten" },
  { type = "Linear", out_features = 32 },
  { type = "BatchNorm1d" },
  { type = "ReLU" },
  { type = "Dropout", p = 0.2 },
  { type = "Linear", out_features = 10 },"#,
            r#"  { type = "AvgPool2d", kernel_size = 7 },
  { type = "Flatten" },
  { type = "Linear", out_features = 10 },"#,
        )
        .replace("log_interval = 5", "log_interval = 1")
        .replace("epochs = 3", "epochs = 6")
        .replace("total_steps = 96", "total_steps = 192");
    assert!(exp.contains("AvgPool2d"));
    std::fs::write(cwd.join("exp.toml"), exp).unwrap();
    let child = spawn_with_writable_limit(cwd, "full");
    let deadline = Instant::now() + Duration::from_secs(60);
    while run_dir(cwd, "full").is_none() {
        assert!(Instant::now() < deadline, "no run directory in time");
        std::thread::sleep(Duration::from_millis(1));
    }
    // 20 kB: `metrics.jsonl` (a row a step) and the plots outgrow it, the checkpoints
    // do not
    limit_file_size(&child, 20_000);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("training goes on without its rows").count(),
        1,
        "one warning for the metrics: {stderr}"
    );
    assert!(stderr.contains("metrics.jsonl: File too large"), "{stderr}");
    let dir = run_dir(cwd, "full").unwrap();
    assert!(std::fs::metadata(dir.join("metrics.jsonl")).unwrap().len() <= 20_000);
    // every epoch trained, and the final checkpoint holds them all
    let last = checkpoint::resolve(&dir.join("checkpoints"), "last").unwrap();
    let c: checkpoint::Checkpoint<serde_json::Value> =
        checkpoint::load(&last, &Device::Cpu).unwrap();
    assert_eq!(c.state["history"].as_array().map(Vec::len), Some(6));
}

#[test]
fn resume_without_a_run_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = wick(&["run", "--resume", "runs/nothing/here"], None, tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs/nothing/here"), "{err}");
    assert!(err.contains("config.toml"), "{err}");
}
