//! The tutorial crate, end to end: `MyLayer`'s gradient, and `my-lab` (wick's command
//! line with `MyLayer` registered) training, checking and evaluating a file that names it.

use my_lab::MyLayer;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wick::tensor::candle_core::{DType, Device, Tensor};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn my_lab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_my-lab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run my-lab")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `my-lab run EXP` for three epochs under `cwd/runs`: the run directory of `name`.
fn run_three_epochs(exp: &str, name: &str, cwd: &Path) -> PathBuf {
    let args = [
        "run",
        exp,
        "--runs-dir",
        "runs",
        "--no-progress",
        "--set",
        "train.epochs=3",
    ];
    let run = my_lab(&args, cwd);
    assert!(run.status.success(), "{}", text(&run));
    let runs = cwd.join("runs").join(name);
    std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

/// `my-lab eval RUN_DIR`: the accuracy it prints, and its output.
fn eval_accuracy(run_dir: &Path, cwd: &Path) -> (f64, String) {
    let eval = my_lab(&["eval", run_dir.to_str().unwrap()], cwd);
    assert!(eval.status.success(), "{}", text(&eval));
    let line = text(&eval);
    let acc = line
        .split("accuracy ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {line}"));
    (acc, line)
}

#[test]
fn my_layer_gradient_is_right() {
    let dev = Device::Cpu;
    let x = Tensor::randn(0f64, 1.0, (4, 3), &dev).unwrap();
    let w = Tensor::randn(0f64, 1.0, (5, 3), &dev).unwrap();
    let b = Tensor::randn(0f64, 1.0, 5, &dev).unwrap();
    wick::tensor::gradcheck::gradcheck(
        |t| {
            MyLayer::apply(&t[0], &t[1], &t[2])
                .map_err(|e| wick::tensor::candle_core::Error::Msg(e.to_string()))
        },
        &[x, w, b],
    )
    .unwrap();
    let layer = MyLayer::from_tensors(
        &Tensor::new(&[[1f32, 2.0], [0.0, -1.0]], &dev).unwrap(),
        &Tensor::new(&[0.5f32, 0.0], &dev).unwrap(),
    )
    .unwrap();
    use wick::nn::Layer;
    let y = layer
        .forward(&Tensor::new(&[[1f32, 1.0]], &dev).unwrap(), true)
        .unwrap();
    assert_eq!(
        y.to_dtype(DType::F32).unwrap().to_vec2::<f32>().unwrap(),
        [[3.5, -1.0]]
    );
}

#[test]
fn an_experiment_naming_my_layer_checks_trains_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate_dir().join("points.toml");
    let exp = exp.to_str().unwrap();

    let check = my_lab(&["check", exp], tmp.path());
    assert!(check.status.success(), "{}", text(&check));
    let table = text(&check);
    assert!(
        table.contains("MyLayer(in_features=2, out_features=16)"),
        "{table}"
    );
    assert!(
        table.contains("MyLayer(in_features=16, out_features=16)"),
        "{table}"
    );

    let run_dir = run_three_epochs(exp, "points-mylayer", tmp.path());
    // the resolved config names the user's class, with its inferred argument
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(config.contains("type = \"MyLayer\""), "{config}");
    assert!(config.contains("in_features = 16"), "{config}");
    // parameters under PyTorch's state_dict names
    let model = std::fs::read(run_dir.join("checkpoints/last/model.safetensors")).unwrap();
    let st = wick::tensor::candle_core::safetensors::load_buffer(&model, &Device::Cpu).unwrap();
    assert_eq!(st["0.weight"].dims(), &[16, 2]);
    assert_eq!(st["2.bias"].dims(), &[16]);
    assert_eq!(st["4.weight"].dims(), &[1, 16]);
    // the half-moons are separable: the user's layers learned
    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap();
    assert!(!last.is_empty(), "{metrics}");

    // eval re-reads config.toml, MyLayer included
    let (acc, line) = eval_accuracy(&run_dir, tmp.path());
    assert!(acc > 80.0, "{line}");
}

#[test]
fn a_misspelt_argument_of_my_layer_is_reported_as_a_builtins_is() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(crate_dir().join("points.toml")).unwrap();
    for (from, to, key, help) in [
        (
            "{ type = \"MyLayer\", out_features = 16 },\n  { type = \"Tanh\" },\n  { type = \"MyLayer\"",
            "{ type = \"MyLayer\", out_feature = 16 },\n  { type = \"Tanh\" },\n  { type = \"MyLayer\"",
            "model.layers[0].out_feature",
            "did you mean `out_features`?",
        ),
        (
            "{ type = \"Linear\", out_features = 1 }",
            "{ type = \"Linear\", out_feature = 1 }",
            "model.layers[4].out_feature",
            "did you mean `out_features`?",
        ),
        (
            "{ type = \"MyLayer\", out_features = 16 },\n  { type = \"Tanh\" },\n  { type = \"MyLayer\"",
            "{ type = \"MyLayr\", out_features = 16 },\n  { type = \"Tanh\" },\n  { type = \"MyLayer\"",
            "model.layers[0].type",
            "did you mean `MyLayer`?",
        ),
    ] {
        assert!(src.contains(from));
        let bad = tmp.path().join("bad.toml");
        let text = src.replacen(from, to, 1);
        let line = 1 + text[..text.find(to).unwrap()].matches('\n').count();
        std::fs::write(&bad, text).unwrap();
        let out = my_lab(&["check", "bad.toml"], tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("bad.toml:{line}:")), "{line}: {err}");
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(help), "{help}: {err}");
    }
}

#[test]
fn a_users_dataset_and_metric_train_and_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate_dir().join("xor.toml");
    let exp = exp.to_str().unwrap();
    let run = my_lab(
        &["run", exp, "--runs-dir", "runs", "--no-progress"],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", text(&run));
    let log = text(&run);
    assert!(log.contains("test_f1"), "{log}");
    let runs = tmp.path().join("runs/xor-mylayer");
    let run_dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "test_f1")
        .expect("a test_f1 column");
    let last = csv
        .lines()
        .rfind(|l| l.starts_with("epoch,"))
        .unwrap_or_else(|| panic!("{csv}"));
    let f1: f64 = last.split(',').nth(col).unwrap().parse().unwrap();
    assert!(
        f1 > 0.9,
        "XOR is separable by a hidden layer: F1 {f1}\n{csv}"
    );

    // a misspelt argument of the user's dataset and metric, with suggestions
    let src = std::fs::read_to_string(crate_dir().join("xor.toml")).unwrap();
    for (from, to, key, help) in [
        (
            "noise = 0.15",
            "nois = 0.15",
            "data.dataset.nois",
            "did you mean `noise`?",
        ),
        (
            "positive = 1 }",
            "postive = 1 }",
            "postive",
            "did you mean `positive`?",
        ),
        (
            "type = \"F1\"",
            "type = \"F2\"",
            "metrics.collection[0]",
            "did you mean `F1`?",
        ),
    ] {
        let bad = tmp.path().join("bad.toml");
        std::fs::write(&bad, src.replacen(from, to, 1)).unwrap();
        let out = my_lab(&["check", "bad.toml"], tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(help), "{help}: {err}");
    }
}

#[test]
fn dismult_gradient_is_right() {
    let dev = Device::Cpu;
    let a = Tensor::randn(0f64, 1.0, (4, 3), &dev).unwrap();
    let b = Tensor::randn(0f64, 1.0, (4, 3), &dev).unwrap();
    let w = Tensor::randn(0f64, 1.0, (3, 3), &dev).unwrap();
    wick::tensor::gradcheck::gradcheck(
        |t| {
            my_lab::DisMult::apply(&t[0], &t[1], &t[2])
                .map_err(|e| wick::tensor::candle_core::Error::Msg(e.to_string()))
        },
        &[a, b, w],
    )
    .unwrap();
}

/// The course's two-input `DisMult`, a layer of this crate, trains from a file on
/// pairs of this crate's dataset; its checkpoint holds `dismult.weights`, and `eval`
/// routes the dataset's two inputs to the model again.
#[test]
fn a_two_input_layer_trains_from_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate_dir().join("dismult.toml");
    let exp = exp.to_str().unwrap();
    let run_dir = run_three_epochs(exp, "dismult", tmp.path());
    let model = std::fs::read(run_dir.join("checkpoints/last/model.safetensors")).unwrap();
    let st = wick::tensor::candle_core::safetensors::load_buffer(&model, &Device::Cpu).unwrap();
    assert_eq!(st["dismult.weights"].dims(), &[16, 16]);
    let (acc, line) = eval_accuracy(&run_dir, tmp.path());
    assert!(acc > 85.0, "{line}");
}
