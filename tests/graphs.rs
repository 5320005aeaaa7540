//! Models past a chain, as a user runs them: a ranking model on a CSV's column groups
//! (two inputs, one shared scorer, MarginRankingLoss), a siamese network on pairs and an
//! embedding on triplets of a class dataset — trained, evaluated and exported from files.

mod common;

use common::{only_run_dir, wick, write_tiny_mnist};
use std::path::{Path, PathBuf};

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn last_test_acc(dir: &Path) -> f64 {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    last.split(',')
        .nth(7)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{csv}"))
}

const RANKING: &str = r#"
name = "ranking"
[data]
dataset = { type = "CSV", path = "pairs.csv", header = true, inputs = { a = ["a1", "a2"], b = ["b1", "b2"] } }
[data.train]
batch_size = 16
shuffle = true
[data.test]
batch_size = 100
[model]
inputs = { a = [2], b = [2] }
outputs = ["sa", "sb"]
layers = [
  { name = "score", type = "Linear", out_features = 1, from = "a" },
  { name = "score_b", share = "score", from = "b" },
  { name = "sa", op = "select", dim = 1, index = 0, from = "score" },
  { name = "sb", op = "select", dim = 1, index = 0, from = "score_b" },
]
[loss]
type = "MarginRankingLoss"
margin = 0.1
[optimizer]
type = "Adam"
lr = 0.05
[train]
epochs = 8
"#;

#[test]
fn a_ranking_model_trains_on_column_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("a1,a2,b1,b2,y\n");
    let mut s = 7u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    };
    for _ in 0..400 {
        let (a1, a2, b1, b2) = (next(), next(), next(), next());
        let y = if 2.0 * a1 - a2 > 2.0 * b1 - b2 { 1 } else { -1 };
        csv += &format!("{a1},{a2},{b1},{b2},{y}\n");
    }
    std::fs::write(tmp.path().join("pairs.csv"), csv).unwrap();
    std::fs::write(tmp.path().join("ranking.toml"), RANKING).unwrap();
    let out = wick(
        &["run", "ranking.toml", "--runs-dir", "runs", "--no-progress"],
        None,
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let dir = only_run_dir(&tmp.path().join("runs"));
    let acc = last_test_acc(&dir);
    assert!(acc > 0.9, "ranking accuracy {acc}\n{}", text(&out));
    let model = std::fs::read(dir.join("checkpoints/last/model.safetensors")).unwrap();
    let st = candle_core::safetensors::load_buffer(&model, &candle_core::Device::Cpu).unwrap();
    let mut keys: Vec<&String> = st.keys().collect();
    keys.sort();
    assert_eq!(keys, ["score.bias", "score.weight"]);
}

fn siamese(mnist: &Path, file: &str, extra: &[&str]) -> (PathBuf, String) {
    let exp = common::repo().join("experiments").join(file);
    let mut args = vec![
        "run",
        exp.to_str().unwrap(),
        "--runs-dir",
        "runs",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let out = wick(&args, Some(mnist), mnist);
    assert!(out.status.success(), "{}", text(&out));
    (only_run_dir(&mnist.join("runs")), text(&out))
}

#[test]
fn a_siamese_network_trains_evaluates_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_mnist(tmp.path(), 200, 100);
    let (dir, log) = siamese(
        tmp.path(),
        "mnist_siamese.toml",
        &["--set", "train.epochs=2"],
    );
    assert!(log.contains("Accuracy on test set"), "{log}");
    let model = std::fs::read(dir.join("checkpoints/last/model.safetensors")).unwrap();
    let st = candle_core::safetensors::load_buffer(&model, &candle_core::Device::Cpu).unwrap();
    assert!(
        st.contains_key("embed.0.weight") && st.len() == 6,
        "{:?}",
        st.keys()
    );
    let eval = wick(
        &["eval", dir.to_str().unwrap()],
        Some(tmp.path()),
        tmp.path(),
    );
    assert!(eval.status.success(), "{}", text(&eval));
    let py = wick(
        &["export", "--python", dir.to_str().unwrap()],
        Some(tmp.path()),
        tmp.path(),
    );
    let py = String::from_utf8_lossy(&py.stdout);
    assert!(py.contains("        embed2 = self.embed(x2)\n"), "{py}");
    assert!(py.contains("    def forward(self, x1, x2):"), "{py}");
}

#[test]
fn triplets_train_an_embedding_scored_by_nearest_neighbours() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_tiny_idx(tmp.path(), "FashionMNIST", 200, 100);
    let (dir, log) = siamese(
        tmp.path(),
        "fashion_triplet.toml",
        &[
            "--set",
            "train.epochs=2",
            "--set",
            "data.train.num_workers=0",
        ],
    );
    // the tiny set's classes are bars at ten heights: an embedding separates them
    let acc = last_test_acc(&dir);
    assert!(acc > 0.8, "1-NN accuracy {acc}\n{log}");
}

/// `Residual` and the same block written as a graph (`add` of the branch and the
/// projection, a node left out where there is none) have the same `state_dict`, the
/// same init and train to the same numbers.
#[test]
fn a_residual_written_as_a_graph_trains_the_same_bits() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_tiny_idx(tmp.path(), "FashionMNIST", 128, 64);
    let rows = |file: PathBuf, runs: &str| {
        let args = [
            "run",
            file.to_str().unwrap(),
            "--runs-dir",
            runs,
            "--no-progress",
            "--set",
            "train.epochs=1",
            "--set",
            "data.train.num_workers=0",
        ];
        let out = wick(&args, Some(tmp.path()), tmp.path());
        assert!(out.status.success(), "{}", text(&out));
        let dir = only_run_dir(&tmp.path().join(runs));
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        // loss, accuracy and lr columns (not the timings)
        csv.lines()
            .map(|l| l.split(',').take(9).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
    };
    let chain = rows(common::repo().join("experiments/fashion_resnet.toml"), "a");
    let graph = rows(
        common::repo().join("tests/models/resnet_as_graph.toml"),
        "b",
    );
    assert_eq!(chain, graph);
}
