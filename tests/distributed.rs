//! Data-parallel training over MPI, end to end: `wick run --nproc N` (mpirun) on the
//! course's MNIST MLP against one process over the same global batches, a rank killed
//! mid-epoch, and the resume of that job. Needs the `mpi` feature and Open MPI's
//! `mpirun` (`just test-mpi`; CI installs both).
#![cfg(feature = "mpi")]

mod common;

use common::{only_run_dir, repo, wick_with};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wick_runner::trainer::Device;

/// The real MNIST of the shared data sets (10,000 training digits), linked into
/// torchvision's layout under `cwd` (the shared folder itself is never written to).
fn data(cwd: &Path) -> PathBuf {
    let raw = cwd.join("data/MNIST/raw");
    if !raw.is_dir() {
        std::fs::create_dir_all(&raw).unwrap();
        let shared = repo().join("../shared/datasets/mnist");
        for f in std::fs::read_dir(&shared).expect("../shared/datasets/mnist (the team's data)") {
            let f = f.unwrap().path();
            std::os::unix::fs::symlink(&f, raw.join(f.file_name().unwrap())).unwrap();
        }
    }
    cwd.join("data")
}

/// `wick ARGS` on the shared MNIST, which must succeed; the run directory under `runs`.
fn run_ok(cwd: &Path, runs: &str, args: &[&str]) -> PathBuf {
    let out = wick_with(args, Some(&data(cwd)), cwd, &[]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    only_run_dir(&cwd.join(runs))
}

/// Runs the MNIST MLP for one epoch with `args` added; the run directory.
fn mnist(cwd: &Path, runs: &str, args: &[&str]) -> PathBuf {
    let exp = repo().join("experiments/mnist.toml");
    let mut all = vec![
        "run",
        exp.to_str().unwrap(),
        "--runs-dir",
        runs,
        "--set",
        "train.epochs=1",
        "--set",
        "log.tensorboard=false",
    ];
    all.extend_from_slice(args);
    run_ok(cwd, runs, &all)
}

/// The largest difference between two run directories' `last` weights.
fn max_weight_diff(a: &Path, b: &Path) -> f32 {
    let load = |d: &Path| {
        let file = d
            .join("checkpoints/last")
            .join(wick_runner::checkpoint::MODEL_FILE);
        wick_runner::checkpoint::load_model(&file, &Device::Cpu).unwrap()
    };
    let (wa, wb) = (load(a), load(b));
    assert_eq!(wa.len(), wb.len());
    wa.iter()
        .zip(&wb)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta - tb)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_dtype(candle_core::DType::F32)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .fold(0.0, f32::max)
}

/// `meta.json`'s `distributed` object.
fn distributed_meta(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    meta["distributed"].clone()
}

fn assert_ranks_agree(dir: &Path, world: usize) {
    let d = distributed_meta(dir);
    assert_eq!(d["world_size"], world, "{d}");
    let sums = d["parameter_md5"].as_array().unwrap();
    assert_eq!(sums.len(), world);
    assert!(sums.iter().all(|s| s == &sums[0]), "ranks differ: {d}");
}

/// 2 ranks × 64 train as 1 process × 128 over the same global batches: the same
/// weights within float reduction order, every rank's identical; the epoch's loss and
/// accuracy are the whole dataset's.
#[test]
fn two_ranks_train_as_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let one = mnist(tmp.path(), "one", &["--set", "data.train.batch_size=128"]);
    let two = mnist(tmp.path(), "two", &["--nproc", "2"]);
    let diff = max_weight_diff(&one, &two);
    assert!(diff < 1e-5, "max weight difference {diff}");
    assert_ranks_agree(&two, 2);
    let d = distributed_meta(&two);
    assert_eq!(
        (
            d["batch_size_per_rank"].clone(),
            d["global_batch_size"].clone()
        ),
        (64.into(), 128.into())
    );
    // the epoch row (kind,epoch,step,batch,train_loss,train_acc,test_loss,test_acc,...)
    let row = |d: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(d.join("metrics.csv")).unwrap();
        let header: Vec<String> = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        let values: Vec<String> = text
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        header
            .into_iter()
            .zip(values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    for (a, b) in row(&one).iter().zip(row(&two)) {
        let (name, va) = a.split_once('=').unwrap();
        let vb = b.split_once('=').unwrap().1;
        if name.contains("loss") || name.contains("acc") || name == "step" {
            let (x, y): (f64, f64) = (va.parse().unwrap(), vb.parse().unwrap());
            assert!(
                (x - y).abs() < 1e-4,
                "{name}: one process {x}, two ranks {y}"
            );
        }
    }
}

/// 3 ranks over 10,000 samples (not a multiple of 3): 52 batches of 3 × 64 are the
/// first 52 batches of 192 of one process; over the whole epoch, padded as
/// `DistributedSampler` pads, the ranks stay identical.
#[test]
fn three_ranks_over_a_dataset_that_does_not_divide_evenly() {
    let tmp = tempfile::tempdir().unwrap();
    let limit = ["--set", "train.limit_train_batches=52"];
    let one = mnist(
        tmp.path(),
        "one",
        &[&limit[..], &["--set", "data.train.batch_size=192"]].concat(),
    );
    let three = mnist(
        tmp.path(),
        "three",
        &[&limit[..], &["--nproc", "3"]].concat(),
    );
    let diff = max_weight_diff(&one, &three);
    assert!(diff < 1e-5, "max weight difference {diff}");
    let whole = mnist(tmp.path(), "whole", &["--nproc", "3"]);
    assert_ranks_agree(&whole, 3);
}

const KILL_MARK: &str = "WICK_TEST_DISTRIBUTED_JOB";

/// Starts the 3-epoch 2-rank job (a checkpoint every 10 steps) in the background.
fn start_job(cwd: &Path, runs: &str, mark: &str) -> std::process::Child {
    let exp = repo().join("experiments/mnist.toml");
    Command::new(env!("CARGO_BIN_EXE_wick"))
        .args([
            "run",
            exp.to_str().unwrap(),
            "--runs-dir",
            runs,
            "--nproc",
            "2",
        ])
        .args([
            "--set",
            "train.epochs=3",
            "--set",
            "train.checkpoint.every_n_steps=10",
        ])
        .args(["--set", "log.tensorboard=false"])
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("WICK_DATA", data(cwd))
        .env(KILL_MARK, mark)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wick")
}

/// The process whose environment has `KILL_MARK=mark` and is MPI rank `rank`.
fn rank_pid(mark: &str, rank: usize) -> Option<u32> {
    let want_mark = format!("{KILL_MARK}={mark}");
    let want_rank = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let env = std::fs::read(e.path().join("environ")).ok()?;
        let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
        let has = |s: &str| vars.contains(&s.as_bytes());
        (has(&want_mark) && has(&want_rank)).then_some(pid)
    })
}

/// Rank 1 killed (SIGKILL) mid-epoch ends the job with a message naming it; the last
/// checkpoint stays whole, and `--resume --nproc 2` continues to the weights of a job
/// that was never interrupted.
#[test]
fn a_killed_rank_ends_the_job_and_the_resume_matches_an_uninterrupted_job() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let reference = start_job(cwd, "ref", "ref").wait_with_output().unwrap();
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let mark = format!("kill-{}", std::process::id());
    let job = start_job(cwd, "int", &mark);
    // wait for the first mid-epoch checkpoints, then kill rank 1
    let t0 = Instant::now();
    let killed = loop {
        let dir = cwd.join("int/mnist-mlp");
        let steps = std::fs::read_dir(&dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_dir(e.ok()?.path().join("checkpoints")).ok())
            .map_or(0, |d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("step-"))
                    .count()
            });
        if steps >= 2 {
            if let Some(pid) = rank_pid(&mark, 1) {
                break Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status()
                    .unwrap()
                    .success();
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(killed);
    let out = job.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the job went on without rank 1: {stderr}"
    );
    assert!(
        stderr.contains("rank 1"),
        "the message names the rank: {stderr}"
    );
    let int = only_run_dir(&cwd.join("int"));
    let resumed = wick_with(
        &["run", "--resume", int.to_str().unwrap(), "--nproc", "2"],
        Some(&data(cwd)),
        cwd,
        &[],
    );
    let text = String::from_utf8_lossy(&resumed.stdout).to_string()
        + &String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{text}");
    assert!(text.contains("resuming"), "{text}");
    let diff = max_weight_diff(&only_run_dir(&cwd.join("ref")), &int);
    assert!(
        diff <= 1e-6,
        "the resumed job ends {diff} away from the uninterrupted one"
    );
    assert_ranks_agree(&int, 2);
}

/// A small CNN with BatchNorm: Conv2d → BatchNorm2d → ReLU → MaxPool2d → Linear.
const BN_CNN: &str = r#"
name = "mnist-bn"
seed = 0

[data]
dataset = "MNIST"

[data.train]
split = "train"
batch_size = 64
shuffle = true
transforms = [{ type = "ToTensor" }, { type = "Normalize", mean = [0.1307], std = [0.3081] }]

[model]
input = [1, 28, 28]
layers = [
  { type = "Conv2d", out_channels = 8, kernel_size = 3 },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Flatten" },
  { type = "Linear", out_features = 10 },
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "SGD"
lr = 0.05
momentum = 0.9

[train]
epochs = 1
limit_train_batches = 5
"#;

fn bn_run(cwd: &Path, runs: &str, args: &[&str]) -> PathBuf {
    let file = cwd.join("bn.toml");
    std::fs::write(&file, BN_CNN).unwrap();
    let mut all = vec!["run", file.to_str().unwrap(), "--runs-dir", runs];
    all.extend_from_slice(args);
    run_ok(cwd, runs, &all)
}

/// `sync_batchnorm = true` (torch's `convert_sync_batchnorm`): 2 ranks × 64 normalize
/// with the statistics of the global batch, so they train as 1 process × 128 (weights
/// and running statistics to float rounding after 5 steps: 1.2e-7 measured); plain DDP
/// BatchNorm (each rank its own batch's statistics) ends 2.6e-3 away.
#[test]
fn sync_batchnorm_trains_as_one_process_with_the_global_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let one = bn_run(cwd, "one", &["--set", "data.train.batch_size=128"]);
    let sync = bn_run(
        cwd,
        "sync",
        &["--nproc", "2", "--set", "distributed.sync_batchnorm=true"],
    );
    let local = bn_run(cwd, "local", &["--nproc", "2"]);
    let d_sync = max_weight_diff(&one, &sync);
    let d_local = max_weight_diff(&one, &local);
    assert!(d_sync < 1e-5, "SyncBatchNorm: {d_sync}");
    assert!(d_local > 1e-4, "local BatchNorm should differ: {d_local}");
    assert_ranks_agree(&sync, 2);
}
