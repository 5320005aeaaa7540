//! What a run leaves behind and the commands that read it: `--set`, metrics, plots,
//! checkpoints, `wick eval`, `wick export --python` (and, when PyTorch is installed,
//! the exported script evaluating the checkpoint to the same accuracy).

mod common;

use common::{repo, wick, write_tiny_mnist};
use std::path::Path;
use std::process::Command;

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_mnist(&tmp.path().join("data"), 640, 200);
    let src = std::fs::read_to_string(repo().join("experiments/mnist.toml")).unwrap();
    std::fs::write(tmp.path().join("exp.toml"), src).unwrap();
    tmp
}

fn only_run(cwd: &Path) -> std::path::PathBuf {
    let mut runs: Vec<_> = std::fs::read_dir(cwd.join("runs/mnist-mlp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    runs.pop().unwrap()
}

#[test]
fn set_overrides_metrics_plots_checkpoints_eval_and_export() {
    let tmp = setup();
    let cwd = tmp.path();
    let data = cwd.join("data");
    let out = wick(
        &[
            "run",
            "exp.toml",
            "--set",
            "train.epochs=3",
            "--set",
            "train.log_interval=5",
            "--set",
            "optimizer.lr=0.05",
            "--set",
            "metrics.top_k=[2]",
            "--set",
            "metrics.confusion_matrix=true",
            "--set",
            "metrics.per_class=true",
            "--set",
            "scheduler.type=StepLR",
            "--set",
            "scheduler.step_size=1",
            "--set",
            "scheduler.gamma=0.5",
        ],
        Some(&data),
        cwd,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("summary: best test_acc"), "{stdout}");
    let dir = only_run(cwd);

    // the overrides are in the resolved config and in meta.json
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 3"), "{config}");
    assert!(config.contains("lr = 0.05"), "{config}");
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    assert!(meta.contains("optimizer.lr=0.05"), "{meta}");

    let epochs = check_metrics(&dir);

    // plots
    for p in [
        "loss",
        "accuracy",
        "lr",
        "train_loss_steps",
        "confusion_matrix",
    ] {
        let f = dir.join("plots").join(format!("{p}.png"));
        let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(&bytes[1..4], b"PNG", "{p}");
    }

    let acc = check_checkpoints_and_eval(&dir, &epochs, cwd);

    check_export(&dir, acc, cwd);
}

/// metrics.csv (the extra column, StepLR's lr per epoch), the per-class values in the
/// jsonl, the confusion matrix; returns the epoch rows.
fn check_metrics(dir: &Path) -> Vec<String> {
    // metrics: the extra column, per-class values in the jsonl, the confusion matrix
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",test_top2_acc"),
        "{csv}"
    );
    let epochs: Vec<String> = csv
        .lines()
        .filter(|l| l.starts_with("epoch,"))
        .map(String::from)
        .collect();
    assert_eq!(epochs.len(), 3, "{csv}");
    // StepLR(step_size=1, gamma=0.5): the lr of each epoch, as PyTorch's get_last_lr()
    let lrs: Vec<f64> = epochs
        .iter()
        .map(|l| l.split(',').nth(8).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lrs, vec![0.05, 0.025, 0.0125], "{csv}");
    let top2: f64 = epochs[2].rsplit(',').next().unwrap().parse().unwrap();
    let top1: f64 = epochs[2].split(',').nth(7).unwrap().parse().unwrap();
    assert!(top2 >= top1, "{csv}");
    let jsonl = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(jsonl.contains("\"test_acc_0 - zero\""), "{jsonl}");
    let cm = std::fs::read_to_string(dir.join("confusion_matrix.csv")).unwrap();
    assert_eq!(cm.lines().count(), 11, "{cm}");
    let total: u64 = cm
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<u64>().unwrap()))
        .sum();
    assert_eq!(total, 200);

    epochs
}

/// Checkpoints `last` and `best`, loadable by `wick eval`, which reproduces the best
/// epoch's test accuracy; returns that accuracy (%).
fn check_checkpoints_and_eval(dir: &Path, epochs: &[String], cwd: &Path) -> f64 {
    let data = cwd.join("data");
    // checkpoints: last and best, loadable by `wick eval`, which reproduces the
    // best epoch's test accuracy
    let ckpts = dir.join("checkpoints");
    assert!(ckpts.join("last/model.safetensors").is_file());
    assert!(ckpts.join("best/state.safetensors").is_file());
    let best_acc = epochs
        .iter()
        .map(|l| l.split(',').nth(7).unwrap().parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    let out = wick(&["eval", dir.to_str().unwrap()], Some(&data), cwd);
    let ev = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{ev}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acc: f64 = ev
        .lines()
        .find_map(|l| l.strip_prefix("accuracy "))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{ev}"));
    assert!(
        (acc / 100.0 - best_acc).abs() < 1e-9,
        "eval {acc} vs best {best_acc}"
    );

    acc
}

/// `wick export --python`; with PyTorch installed, the exported program loads the
/// checkpoint and gets the same test accuracy `acc` (%).
fn check_export(dir: &Path, acc: f64, cwd: &Path) {
    let data = cwd.join("data");
    // export --python
    let script = cwd.join("exported.py");
    let out = wick(
        &[
            "export",
            "--python",
            dir.to_str().unwrap(),
            "-o",
            script.to_str().unwrap(),
        ],
        None,
        cwd,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py = std::fs::read_to_string(&script).unwrap();
    assert!(
        py.contains("nn.Linear(in_features=784, out_features=512, bias=True)"),
        "{py}"
    );
    assert!(py.contains("optim.SGD(model.parameters(), lr=0.05"), "{py}");

    // With PyTorch installed, the exported program loads the checkpoint into the
    // nn.Sequential and gets the same test accuracy (torchvision reads the same IDX).
    let python = std::env::var("WICK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python)
        .args(["-c", "import torch, torchvision, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("skipping the PyTorch half: {python} has no torch/torchvision/safetensors");
        return;
    }
    let py = py.replace(
        "ROOT = \"data\"",
        &format!("ROOT = {:?}", data.display().to_string()),
    );
    std::fs::write(&script, py).unwrap();
    let out = Command::new(&python)
        .arg(&script)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let torch_acc: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Accuracy: "))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        (torch_acc - acc).abs() < 1e-9,
        "PyTorch {torch_acc} % vs wick {acc} %"
    );
}

#[test]
fn a_bad_override_is_shown_on_the_overridden_text() {
    let tmp = setup();
    let out = wick(
        &["check", "exp.toml", "--set", "optimizer.lr=-1"],
        None,
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exp.toml (with --set)"), "{err}");
    assert!(err.contains("key: optimizer.lr"), "{err}");
    assert!(err.contains("set by `--set optimizer.lr=-1`"), "{err}");
    let out = wick(
        &["check", "exp.toml", "--set", "model.layers[99].p=1"],
        None,
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--set model.layers[99].p=1"), "{err}");
    assert!(err.contains("has 10 entries"), "{err}");
    let out = wick(&["check", "exp.toml", "--set", "lr"], None, tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn eval_of_a_checkpoint_of_another_model_names_the_file() {
    let tmp = setup();
    let cwd = tmp.path();
    let data = cwd.join("data");
    let out = wick(
        &["run", "exp.toml", "--set", "train.epochs=1"],
        Some(&data),
        cwd,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = only_run(cwd);
    // make the run's config describe another model
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        config
            .replace("out_features = 512", "out_features = 500")
            .replace("in_features = 512", "in_features = 500"),
    )
    .unwrap();
    let out = wick(&["eval", dir.to_str().unwrap()], Some(&data), cwd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn predict_writes_a_csv_of_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let src = std::fs::read_to_string(repo().join("experiments/points.toml")).unwrap();
    std::fs::write(cwd.join("exp.toml"), src).unwrap();
    let out = wick(&["run", "exp.toml", "--set", "train.epochs=5"], None, cwd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("predict [0, 1]: ["), "{stdout}");
    let runs: Vec<_> = std::fs::read_dir(cwd.join("runs/points"))
        .unwrap()
        .collect();
    let dir = runs[0].as_ref().unwrap().path();
    std::fs::write(cwd.join("points.csv"), "x,y\n0.0,1.0\n1.0,-0.5\n2.0,0.5\n").unwrap();
    let out = wick(
        &[
            "predict",
            dir.to_str().unwrap(),
            "points.csv",
            "-o",
            "pred.csv",
        ],
        None,
        cwd,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(cwd.join("pred.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "input,prediction,p_0", "{csv}");
    assert_eq!(lines.len(), 4, "{csv}");
    // the moons: (0, 1) is class 0, (2, 0.5) is class 1
    assert!(lines[1].contains(",0,"), "{csv}");
    assert!(lines[3].contains(",1,"), "{csv}");
    // a file that is not there, a row of the wrong width: errors that name the file
    let out = wick(
        &["predict", dir.to_str().unwrap(), "nothing.csv"],
        None,
        cwd,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing.csv"));
    std::fs::write(cwd.join("bad.csv"), "1,2,3,4\n").unwrap();
    let out = wick(&["predict", dir.to_str().unwrap(), "bad.csv"], None, cwd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.csv:1: 4 columns"), "{err}");
    // read as a dataset's CSV is: quoted fields, a header of quoted names
    std::fs::write(
        cwd.join("quoted.csv"),
        "\"x\",\"y\"\n\"0.0\",\"1.0\"\n\"2.0\",\"0.5\"\n",
    )
    .unwrap();
    let out = wick(&["predict", dir.to_str().unwrap(), "quoted.csv"], None, cwd);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].contains(",0,") && lines[2].contains(",1,"),
        "{text}"
    );
}

/// Broken data files: each run fails with exit 1 and a message naming the file.
#[test]
fn broken_data_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let run = |exp: &str| {
        std::fs::write(cwd.join("exp.toml"), exp).unwrap();
        let out = wick(&["run", "exp.toml"], Some(&cwd.join("data")), cwd);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let csv_exp = |file: &str| {
        format!(
            "name = \"csv\"\n[data]\ndataset = {{ type = \"CSV\", path = \"{file}\" }}\n[data.train]\nbatch_size = 2\n\
             [model]\ninput = [2]\nlayers = [{{ type = \"Linear\", out_features = 1 }}]\n\
             [loss]\ntype = \"MSELoss\"\n[optimizer]\ntype = \"SGD\"\nlr = 0.1\n"
        )
    };
    std::fs::create_dir_all(cwd.join("data")).unwrap();
    // an empty CSV
    std::fs::write(cwd.join("data/empty.csv"), "").unwrap();
    let (code, err) = run(&csv_exp("empty.csv"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("empty.csv"), "{err}");
    // a row with a missing column
    std::fs::write(cwd.join("data/short.csv"), "1,2,3\n4,5\n").unwrap();
    let (code, err) = run(&csv_exp("short.csv"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("short.csv") && err.contains('2'), "{err}");
    // a truncated IDX file
    write_tiny_mnist(&cwd.join("data"), 64, 16);
    let images = cwd.join("data/MNIST/raw/train-images-idx3-ubyte");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() / 2]).unwrap();
    let src = std::fs::read_to_string(repo().join("experiments/mnist.toml")).unwrap();
    let (code, err) = run(&src);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    // a corrupt JPEG in an image folder
    for class in ["ants", "bees"] {
        let dir = cwd.join("data/folder").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        // a valid 1x1 grey PNG
        let png: &[u8] = &[
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
            0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0x3a, 0x7e, 0x9b, 0x55, 0, 0, 0, 0x0a, 0x49,
            0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x68, 0, 0, 0, 0x82, 0, 0x81, 0x77, 0xcd, 0x72,
            0xb6, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
        ];
        std::fs::write(dir.join("ok.png"), png).unwrap();
    }
    std::fs::write(
        cwd.join("data/folder/bees/broken.jpg"),
        b"\xff\xd8\xff\xe0 not a jpeg",
    )
    .unwrap();
    let folder_exp = "name = \"folder\"\n[data]\ndataset = { type = \"ImageFolder\", root = \"folder\" }\n\
        [data.train]\nbatch_size = 1\ntransforms = [{ type = \"Resize\", size = [4, 4] }, { type = \"ToTensor\" }]\n\
        [model]\ninput = [3, 4, 4]\nlayers = [{ type = \"Flatten\" }, { type = \"Linear\", out_features = 2 }]\n\
        [loss]\ntype = \"CrossEntropyLoss\"\n[optimizer]\ntype = \"SGD\"\nlr = 0.1\n";
    let (code, err) = run(folder_exp);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("broken.jpg"), "{err}");
    // with skip_bad = true the file is skipped (and counted), and the run trains
    let skipping = folder_exp.replace("root = \"folder\"", "root = \"folder\", skip_bad = true");
    let (code, err) = run(&skipping);
    assert_eq!(code, Some(0), "{err}");
}
