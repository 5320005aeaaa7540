//! `wick sweep` and `wick compare` end to end: a 2×2 grid × 2 seeds sweep killed in its
//! third trial resumes to the same `sweep.csv` as an uninterrupted sweep; `--jobs 2`
//! gives the same file; a bad swept value is refused before any trial runs; compare
//! names the keys that differ.

mod common;

use common::wick;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 2-D point classifier on 64 points of its own (no data files), long enough (200
/// epochs of 16 steps) that a trial can be caught mid-run.
fn experiment() -> String {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..64 {
        let (a, b) = ((i % 8) as f64 / 4.0 - 1.0, (i / 8) as f64 / 4.0 - 1.0);
        x.push(format!("[{a}, {b}]"));
        y.push(format!("[{}]", if a * b > 0.0 { 1.0 } else { 0.0 }));
    }
    format!(
        r#"name = "points"
seed = 5
device = "cpu"

[data.dataset]
type = "Tensors"
x = [{}]
y = [{}]

[data.train]
batch_size = 4
shuffle = true

[model]
input = [2]
layers = [
  {{ type = "Linear", out_features = 8 }},
  {{ type = "Tanh" }},
  {{ type = "Linear", out_features = 1 }},
]

[loss]
type = "BCEWithLogitsLoss"

[optimizer]
type = "SGD"
lr = 0.1
momentum = 0.9          # dropped in the Adam trials: Adam takes no momentum

[train]
epochs = 200
log_interval = 8
"#,
        x.join(", "),
        y.join(", ")
    )
}

const GRID: [&str; 6] = [
    "--grid",
    "optimizer.lr=0.1,0.01",
    "--grid",
    "optimizer.type=SGD,Adam",
    "--seeds",
    "2",
];

/// Runs `wick args` in `cwd`, which must succeed; its standard output.
fn succeeds(args: &[&str], cwd: &Path) -> String {
    let o = wick(args, None, cwd);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "wick {args:?}: {stdout}{stderr}");
    stdout
}

/// The one sweep directory under `runs/points`.
fn sweep_dir(runs: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs.join("points"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sweep-")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

fn sweep(cwd: &Path, extra: &[&str]) -> (PathBuf, String) {
    let mut args = vec!["sweep", "exp.toml"];
    args.extend(GRID);
    args.extend(extra);
    succeeds(&args, cwd);
    let dir = sweep_dir(&cwd.join("runs"));
    (
        dir.clone(),
        std::fs::read_to_string(dir.join("sweep.csv")).unwrap(),
    )
}

/// The sweeps of these tests run one at a time: a sweep caught mid-trial must not
/// wait for the cores behind another one.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("exp.toml"), experiment()).unwrap();
    tmp
}

/// Waits until `ok()` or panics after 60 s.
fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn a_killed_sweep_resumes_to_the_same_results() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let whole = setup();
    let (dir, csv) = sweep(whole.path(), &[]);
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(csv.starts_with(
        "trial,optimizer.lr,optimizer.type,seed,status,epochs,best_epoch,best_train_loss,\
         last_train_loss,last_test_loss\n"
    ));
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",finished,200,")),
        "{csv}"
    );
    assert!(dir.join("plots/train_loss.png").exists());
    assert!(
        !dir.join("plots/train_loss_vs_lr.png").exists(),
        "two keys swept"
    );

    let killed = setup();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["sweep", "exp.toml"])
        .args(GRID)
        .current_dir(killed.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runs = killed.path().join("runs");
    wait_for("the sweep directory", || {
        std::fs::read_dir(runs.join("points")).is_ok_and(|mut d| d.next().is_some())
    });
    let dir = sweep_dir(&runs);
    let third = dir.join("003-lr=0.1,type=Adam,seed=5");
    wait_for("the third trial's second epoch", || {
        std::fs::read_to_string(third.join("metrics.csv")).is_ok_and(|m| m.contains("\nepoch,2,"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // the trial got SIGTERM as its parent died: it saves `last` and stops
    let log = dir.join("logs/003-lr=0.1,type=Adam,seed=5.log");
    wait_for("the third trial to stop", || {
        // the handler's "interrupted: ..." at once, then "error: ..." as it exits
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("\nerror:"))
    });
    let meta = std::fs::read_to_string(third.join("meta.json")).unwrap();
    assert!(meta.contains("\"ended\": null"), "{meta}");
    assert!(third.join("checkpoints/last").exists());
    assert!(!dir.join("004-lr=0.1,type=Adam,seed=6").exists());
    assert!(!dir.join("sweep.csv").exists());

    let dir_arg = dir.display().to_string();
    let stdout = succeeds(&["sweep", "--resume", &dir_arg], killed.path());
    let resumed = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert_eq!(resumed, csv);
    let log = std::fs::read_to_string(dir.join("logs/003-lr=0.1,type=Adam,seed=5.log")).unwrap();
    assert!(log.contains("resuming"), "{log}");
    // the table: a row per configuration, best first
    let table = &stdout[stdout
        .find("optimizer.lr  optimizer.type  trials")
        .expect("the table")..];
    assert_eq!(
        table.lines().filter(|l| l.contains("2/2")).count(),
        4,
        "{table}"
    );
}

#[test]
fn two_jobs_give_the_same_results_and_compare_names_the_differences() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let one = setup();
    let (_, csv) = sweep(one.path(), &[]);
    let two = setup();
    let (dir, csv2) = sweep(two.path(), &["--jobs", "2"]);
    assert_eq!(csv, csv2);

    let dir_arg = dir.display().to_string();
    let stdout = succeeds(&["compare", &dir_arg], two.path());
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("run") && header.contains("optimizer.lr") && header.contains("seed"),
        "{stdout}"
    );
    // the Adam trials have no momentum (the SGD's was dropped with the type): implied
    // by optimizer.type, it is named under the table rather than a column
    assert!(header.contains("optimizer.type") && !header.contains("optimizer.momentum"));
    assert!(
        stdout.contains("also differ with the classes swapped: "),
        "{stdout}"
    );
    assert!(stdout.contains("optimizer.momentum"), "{stdout}");
    assert!(!header.contains("batch_size"), "{header}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("sweep-")).count(),
        8,
        "{stdout}"
    );
    assert!(dir.join("compare/train_loss.png").exists(), "{stdout}");
}

#[test]
fn a_bad_swept_value_is_refused_before_any_trial() {
    let tmp = setup();
    let o = wick(
        &["sweep", "exp.toml", "--grid", "optimizer.lr=0.1,-1"],
        None,
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("optimizer.lr") && stderr.contains("--set optimizer.lr=-1"),
        "{stderr}"
    );
    assert!(!tmp.path().join("runs").exists());
    let o = wick(&["sweep", "exp.toml"], None, tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to sweep"));
}

#[test]
fn a_random_search_from_the_file_inheriting_its_base() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = setup();
    std::fs::write(
        tmp.path().join("search.toml"),
        r#"base = "exp.toml"
[train]
epochs = 2
[sweep]
method = "random"
n_trials = 3
[sweep.parameters]
"optimizer.lr" = { distribution = "loguniform", low = 1e-3, high = 1e-1 }
"#,
    )
    .unwrap();
    succeeds(&["sweep", "search.toml"], tmp.path());
    let dir = sweep_dir(&tmp.path().join("runs"));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let lrs: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lrs.len(), 3, "{csv}");
    assert!(lrs.iter().all(|lr| (1e-3..1e-1).contains(lr)), "{csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",finished,2,")),
        "{csv}"
    );
    // one number swept: the metric against it
    assert!(dir.join("plots/train_loss_vs_lr.png").exists());
    // the trials' config is the merged one, without [sweep]
    let trial = dir.join(csv.lines().nth(1).unwrap().split(',').next().unwrap());
    let config = std::fs::read_to_string(trial.join("config.toml")).unwrap();
    assert!(
        config.contains("epochs = 2") && !config.contains("sweep"),
        "{config}"
    );
}

#[test]
fn the_median_rule_stops_a_hopeless_trial_early() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = setup();
    // three good learning rates finish first; the last is hopeless
    let args = [
        "sweep",
        "exp.toml",
        "--grid",
        "optimizer.lr=0.1,0.2,0.3,0.0000001",
        "--prune",
        "median",
        "--set",
        "train.epochs=20",
    ];
    let out = succeeds(&args, tmp.path());
    let dir = sweep_dir(&tmp.path().join("runs"));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    // judged from the second epoch on, against the median of the three finished
    assert!(last.contains(",pruned,2,"), "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .take(3)
            .all(|l| l.contains(",finished,20,")),
        "{csv}"
    );
    assert!(out.contains("pruned at epoch 2"), "{out}");
    assert!(
        out.contains("3/4 (1 pruned)") || out.contains("0/1 (1 pruned)"),
        "{out}"
    );
    // a resumed sweep keeps the verdict
    let dir_arg = dir.display().to_string();
    succeeds(&["sweep", "--resume", &dir_arg], tmp.path());
    assert_eq!(std::fs::read_to_string(dir.join("sweep.csv")).unwrap(), csv);
}

#[test]
fn a_diverging_trial_is_recorded_and_the_sweep_goes_on() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    // the course's gradient descent by hand: lr 10 multiplies w - 2 by -92 a step
    let exp = common::repo().join("experiments/gradient_descent.toml");
    let args = [
        "sweep",
        exp.to_str().unwrap(),
        "--grid",
        "optimizer.lr=10,0.01",
    ];
    let out = succeeds(&args, tmp.path());
    let runs = tmp.path().join("runs/gradient-descent");
    let dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows[0].starts_with("001-lr=10,10,0,diverged,"), "{csv}");
    assert!(rows[1].contains(",finished,100,"), "{csv}");
    let failed = std::fs::read_to_string(dir.join("001-lr=10/failed.txt")).unwrap();
    assert!(failed.starts_with("diverged: the loss is inf"), "{failed}");
    assert!(out.contains("(1 diverged)"), "{out}");
}
