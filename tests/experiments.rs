//! The shipped experiment files, as a user runs them: each one checks; the course's
//! regressions print what the course prints; any optimizer line of fashion_mnist.toml
//! trains; loss curves do not depend on num_workers; early stopping stops.

mod common;

use common::{repo, wick, write_tiny_idx, write_tiny_mnist};
use std::path::Path;

fn epoch_rows(runs: &Path) -> Vec<String> {
    let dir = std::fs::read_dir(runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(9).collect::<Vec<_>>().join(","))
        .collect()
}

/// The number printed after `prefix` on the last line that starts with it (up to `]`,
/// `,`, a space or ` %`).
fn last_number(stdout: &str, prefix: &str) -> f64 {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.split([']', ',', ' ']).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?} in {stdout}"))
}

#[test]
fn every_experiment_file_checks() {
    let mut n = 0;
    for e in std::fs::read_dir(repo().join("experiments")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let out = wick(&["check", path.to_str().unwrap()], None, &repo());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 9, "only {n} experiment files");
}

#[test]
fn the_course_regressions_print_their_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/linear_regression.toml");
    let out = wick(&["run", exp.to_str().unwrap()], None, tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // the last prediction, after training (the first is before)
    let pred = last_number(&stdout, "predict [4]: [");
    // PyTorch's spread over 200 seeds (scripts/course_twins.py): y_pred 7.74 ± 0.19,
    // w 1.85 ± 0.11; within three standard deviations
    assert!((pred - 7.74).abs() < 0.6, "model(4) = {pred}");
    // `before = true` and `parameters`: w and b before the first epoch and after the last
    let at = |s: &str| {
        stdout
            .find(s)
            .unwrap_or_else(|| panic!("no `{s}` in {stdout}"))
    };
    assert!(
        at("before training: 0.weight = [") < at("epoch 1:"),
        "{stdout}"
    );
    assert!(
        at("before training: 0.bias = [") < at("epoch 1:"),
        "{stdout}"
    );
    let w = last_number(&stdout, "after training: 0.weight = [");
    assert!((w - 1.85).abs() < 0.34, "w = {w}");
    // a misspelt parameter stops the run before it trains, naming the model's keys
    let set = r#"predict.parameters=["0.wieght"]"#;
    let bad = wick(
        &["run", exp.to_str().unwrap(), "--set", set],
        None,
        tmp.path(),
    );
    let all =
        String::from_utf8_lossy(&bad.stdout).to_string() + &String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{all}");
    assert!(
        all.contains("no `0.wieght`; its state_dict has 0.weight, 0.bias"),
        "{all}"
    );
    assert!(!all.contains("epoch 1:"), "{all}");

    // the course's logistic regression: y_pred(4) after 100 and 1000 epochs, within
    // three standard deviations of PyTorch's over 200 seeds (0.53 ± 0.09, 0.87 ± 0.02)
    let exp = repo().join("experiments/logistic_regression.toml");
    for (epochs, mean, std) in [("100", 0.53, 0.09), ("1000", 0.87, 0.02)] {
        let set = format!("train.epochs={epochs}");
        let out = wick(
            &["run", exp.to_str().unwrap(), "--set", &set],
            None,
            tmp.path(),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        let p = last_number(&stdout, "predict [4]: [");
        assert!(
            (p - mean).abs() < 3.0 * std,
            "{epochs} epochs: y_pred(4) = {p}"
        );
    }
}

#[test]
fn any_optimizer_line_of_fashion_mnist_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_idx(&data, "FashionMNIST", 640, 200);
    let src = std::fs::read_to_string(repo().join("experiments/fashion_mnist.toml")).unwrap();
    let active = src
        .lines()
        .find(|l| l.starts_with("optimizer = "))
        .unwrap()
        .to_string();
    let others: Vec<String> = src
        .lines()
        .filter_map(|l| l.strip_prefix("# optimizer = "))
        .map(|l| format!("optimizer = {l}"))
        .collect();
    assert!(others.len() >= 9, "{others:?}");
    for line in &others {
        // the one-line edit: the chosen line replaces the active one
        let edited = src.replace(&active, line);
        std::fs::write(tmp.path().join("exp.toml"), edited).unwrap();
        let out = wick(
            &[
                "run",
                "exp.toml",
                "--set",
                "train.epochs=3",
                "--set",
                "train.log_interval=5",
            ],
            Some(&data),
            tmp.path(),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // the epoch means of the training loss go down
        let runs = tmp.path().join("runs/fashion-mnist-mlp");
        let losses: Vec<f64> = epoch_rows(&runs)
            .iter()
            .filter(|r| r.starts_with("epoch,"))
            .map(|r| r.split(',').nth(4).unwrap().parse().unwrap())
            .collect();
        std::fs::remove_dir_all(&runs).unwrap();
        eprintln!("{line}: epoch train losses {losses:?}");
        assert_eq!(losses.len(), 3, "{stdout}");
        assert!(losses[2] < losses[0], "{line} does not learn: {losses:?}");
    }
}

#[test]
fn same_loss_curves_whatever_num_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 384, 100);
    let src = std::fs::read_to_string(repo().join("experiments/mnist_cnn.toml")).unwrap();
    // random augmentation and dropout, so every random stream is exercised
    let src = src.replace(
        "transforms = [\n  { type = \"ToTensor\" },",
        "transforms = [\n  { type = \"RandomCrop\", size = 28, padding = 2 },\n  { type = \"ToTensor\" },",
    );
    let src = src.replace(
        "  { type = \"Flatten\" },",
        "  { type = \"Flatten\" },\n  { type = \"Dropout\", p = 0.3 },",
    );
    assert!(src.contains("RandomCrop") && src.contains("Dropout"));
    std::fs::write(tmp.path().join("exp.toml"), src).unwrap();
    let mut curves = Vec::new();
    for workers in [0, 1, 4] {
        let runs = format!("runs-{workers}");
        let out = wick(
            &[
                "run",
                "exp.toml",
                "--runs-dir",
                &runs,
                "--set",
                &format!("data.train.num_workers={workers}"),
                "--set",
                "train.epochs=2",
                "--set",
                "train.log_interval=2",
            ],
            Some(&data),
            tmp.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        curves.push(epoch_rows(&tmp.path().join(runs).join("mnist-cnn")));
    }
    assert!(curves[0].len() >= 8, "{:?}", curves[0]);
    assert_eq!(curves[0], curves[1], "num_workers 0 vs 1");
    assert_eq!(curves[0], curves[2], "num_workers 0 vs 4");
}

#[test]
fn early_stopping_stops_when_the_metric_stalls() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/points.toml");
    let out = wick(
        &[
            "run",
            exp.to_str().unwrap(),
            "--set",
            "optimizer.lr=0.0",
            "--set",
            "train.early_stopping.patience=2",
            "--set",
            "train.epochs=10",
        ],
        None,
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("early stopping after epoch 3"), "{stdout}");
    let rows = epoch_rows(&tmp.path().join("runs/points"));
    assert_eq!(rows.iter().filter(|r| r.starts_with("epoch,")).count(), 3);
}

/// The course's CIFAR-10 program on the pickled fixture batches (10 training images, 3
/// test images): the course's `print(img.shape)` and batch, then MyNet trains.
#[test]
fn cifar10_reads_torchvisions_python_batches_and_trains_mynet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("assets/fixtures/cifar-pickle");
    let exp = repo().join("experiments/cifar10.toml");
    let out = wick(
        &["data", exp.to_str().unwrap(), "--split", "test"],
        Some(&data),
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("CIFAR10 (test split): 3 samples"), "{text}");
    assert!(
        text.contains("classes (10): airplane, automobile, bird"),
        "{text}"
    );
    assert!(
        text.contains("sample 0: input [3, 32, 32], target class 0"),
        "{text}"
    );
    assert!(
        text.contains("first batch: input [3, 3, 32, 32], target [3]"),
        "{text}"
    );

    let out = wick(
        &["run", exp.to_str().unwrap(), "--set", "train.epochs=1"],
        Some(&data),
        tmp.path(),
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("epoch 1: train loss"), "{all}");
}

/// The course's gradient descent by hand, batch and per sample: deterministic (w starts
/// at 1.0), so wick prints the course's numbers (scripts/course_twins.py: w = 1.999944
/// and 4 -> 7.999778 for the batch; 2.000000 and 8.000000 per sample).
#[test]
fn gradient_descent_by_hand_gives_the_courses_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, w_want) in [
        ("gradient_descent.toml", 1.999944),
        ("gradient_descent_sgd.toml", 2.0),
    ] {
        let exp = repo().join("experiments").join(file);
        let out = wick(&["run", exp.to_str().unwrap()], None, tmp.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("before training: 0.weight = [1]"),
            "{stdout}"
        );
        assert!(stdout.contains("predict [4]: [4.0000]"), "{stdout}");
        let w = last_number(&stdout, "after training: 0.weight = [");
        assert!((w - w_want).abs() < 1e-5, "{file}: w = {w}");
        assert!(stdout.contains("epoch 100: train loss"), "{stdout}");
    }
}

/// `[train.converged]`, the course's `if abs(loss_lst[-1] - loss_lst[-2]) < eps: break`:
/// PyTorch's loop with that rule stops the batch gradient descent after epoch 72 with
/// w = 1.9991364 at eps = 1e-6 (torch 2.x, the same f32 arithmetic), and so does wick.
#[test]
fn converged_stops_where_the_courses_loop_breaks() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/gradient_descent.toml");
    let args = [
        "run",
        exp.to_str().unwrap(),
        "--set",
        "train.converged.eps=1e-6",
    ];
    let out = wick(&args, None, tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("converged after epoch 72:"), "{all}");
    assert!(!stdout.contains("epoch 73:"), "{stdout}");
    let w = last_number(&stdout, "after training: 0.weight = [");
    assert!((w - 1.9991364).abs() < 1e-6, "w = {w}");
}

/// The course's first diabetes program, the whole file as one batch: the loss of the
/// 100th epoch within PyTorch's range over 200 seeds (0.6452 ± 0.0004, 0.6440 to 0.6466;
/// scripts/course_twins.py).
#[test]
fn diabetes_full_batch_ends_where_pytorch_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("../shared/datasets");
    let exp = repo().join("experiments/diabetes_full_batch.toml");
    let out = wick(&["run", exp.to_str().unwrap()], Some(&data), tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loss = last_number(&stdout, "epoch 100: train loss ");
    assert!((0.6435..=0.6471).contains(&loss), "loss {loss}");
    assert!(
        stdout.contains("epoch 1: train loss"),
        "one line per epoch: {stdout}"
    );
}

/// The hand-built-network chapter's 2-5-3-1 classifier (torch version) on two half-moons:
/// it prints precision, recall and accuracy on its test points and draws its boundary.
#[test]
fn the_2531_point_classifier_prints_precision_recall_and_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/points_2531.toml");
    let out = wick(&["run", exp.to_str().unwrap()], None, tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let value = |prefix: &str| last_number(&stdout, prefix);
    assert!(value("test_precision: ") > 0.8, "{stdout}");
    assert!(value("test_recall: ") > 0.8, "{stdout}");
    assert!(value("Accuracy on test set: ") > 80.0, "{stdout}");
    let runs = tmp.path().join("runs/points-2531");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(run.join("plots/decision_boundary.png").exists());
}

/// The course's diabetes program with mini-batches of 32 (and 20 % held out): the loss
/// of the 100th epoch and the held-out accuracy within PyTorch's over 100 seeds
/// (scripts/course_twins.py: loss 0.641 ± 0.008, 0.607 to 0.652; accuracy 65.6 ± 2.8 %,
/// 59.6 to 72.2 %).
#[test]
fn diabetes_mini_batches_end_where_pytorch_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("../shared/datasets");
    let exp = repo().join("experiments/diabetes.toml");
    let out = wick(&["run", exp.to_str().unwrap()], Some(&data), tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let loss = last_number(&stdout, "epoch 100: train loss ");
    assert!((0.607..=0.652).contains(&loss), "loss {loss}");
    let acc = last_number(&stdout, "Accuracy on test set: ");
    assert!((59.6..=72.2).contains(&acc), "accuracy {acc}");
}

/// A `holdout` test split is recorded in the run directory (`holdout.json`), so that the
/// exported PyTorch program tests on the same samples: the two parts are disjoint and
/// cover the file.
#[test]
fn a_holdout_split_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("../shared/datasets");
    let exp = repo().join("experiments/diabetes.toml");
    let out = wick(
        &["run", exp.to_str().unwrap(), "--set", "train.epochs=1"],
        Some(&data),
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = tmp.path().join("runs/diabetes");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(run.join("holdout.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let part = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    let (train, test) = (part("train"), part("test"));
    assert_eq!((train.len(), test.len()), (608, 151));
    let mut all: Vec<u64> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..759).collect::<Vec<u64>>());
}
