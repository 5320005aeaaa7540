//! `wick landscape` reproduces the course's first chapter: the MSE of `y = w·x` for each
//! w of `np.arange(0.0, 4.1, 0.1)`, and the homework's printed NumPy grid of the summed
//! loss of `y = w·x + b` (data from `y = 3x + 2`), value for value.

use std::path::Path;
use wick_runner::landscape::{landscape, Axis};
use wick_runner::{load_experiment, Experiment, RunOptions};

fn experiment(name: &str) -> Experiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../experiments")
        .join(name);
    load_experiment(&path).unwrap()
}

fn axis(s: &str) -> Axis {
    s.parse().unwrap()
}

/// The course's `print(loss_sum)`, as its notes show it.
const COURSE_GRID: &str = "\
[[210.   199.34 188.96 ...   1.76   1.74   2.  ]
 [205.23 194.69 184.43 ...   1.55   1.65   2.03]
 [200.52 190.1  179.96 ...   1.4    1.62   2.12]
 ...
 [ 70.92  64.82  59.   ...  35.96  40.5   45.32]
 [ 68.43  62.45  56.75 ...  38.03  42.69  47.63]
 [ 66.    60.14  54.56 ...  40.16  44.94  50.  ]]";

#[test]
fn the_homework_grid_is_the_courses() {
    let exp = experiment("exhaustive_search_wb.toml");
    let l = landscape(
        &exp,
        vec![axis("0.weight=0:4:0.1"), axis("0.bias=0:4:0.1")],
        None,
    )
    .unwrap();
    assert_eq!(l.printed(), COURSE_GRID);
    // every point, against the course's formula in f64
    let (ws, bs) = (&l.axes[0].values, &l.axes[1].values);
    for (j, &b) in bs.iter().enumerate() {
        for (i, &w) in ws.iter().enumerate() {
            let want: f64 = [(1.0, 5.0), (2.0, 8.0), (3.0, 11.0)]
                .iter()
                .map(|&(x, y): &(f64, f64)| (w * x + b - y).powi(2))
                .sum();
            assert!(
                (l.at(i, j) - want).abs() < 1e-9,
                "w={w} b={b}: {} vs {want}",
                l.at(i, j)
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let files = wick_runner::landscape_files::write(&l, dir.path()).unwrap();
    assert_eq!(files.len(), 3);
    let csv = std::fs::read_to_string(dir.path().join("landscape.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("0.weight,0.bias,loss"));
    assert_eq!(csv.lines().count(), 1 + 41 * 41);
    assert_eq!(csv.lines().nth(1), Some("0,0,210"));
    for f in &files[1..] {
        assert!(
            std::fs::metadata(f).unwrap().len() > 1000,
            "{}",
            f.display()
        );
    }
}

#[test]
fn the_exhaustive_search_gives_the_mse_of_each_w() {
    let exp = experiment("exhaustive_search.toml");
    let l = landscape(&exp, vec![axis("0.weight=0:4:0.1")], None).unwrap();
    assert_eq!(l.loss.len(), 41);
    for (w, mse) in l.axes[0].values.iter().zip(&l.loss) {
        // the course: l_sum / 3 over (x, 2x) for x = 1, 2, 3
        let want = (1..=3)
            .map(|x| ((w - 2.0) * f64::from(x)).powi(2))
            .sum::<f64>()
            / 3.0;
        assert!((mse - want).abs() < 1e-12, "w={w}: {mse} vs {want}");
    }
    // the course prints MSE= 18.666666666666668 at w = 0 and 0.0 at w = 2
    assert!((l.loss[0] - 18.666666666666668).abs() < 1e-12);
    assert_eq!(l.loss[20], 0.0);
    assert!(l
        .printed()
        .starts_with("0.weight=0.0000 loss=18.66666666666666"));
}

#[test]
fn bad_parameters_are_named() {
    let exp = experiment("exhaustive_search.toml");
    let err = |axes: Vec<Axis>| landscape(&exp, axes, None).unwrap_err().to_string();
    assert!(err(vec![axis("0.bias=0:1:0.5")]).contains("no parameter `0.bias`; it has 0.weight"));
    let three = vec![axis("0.weight=0:1:1"); 3];
    assert!(err(three).contains("one or two parameters"));
    let mlp = experiment("diabetes.toml");
    let e = landscape(&mlp, vec![axis("0.weight=0:1:1")], None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sweeps parameters of one value"), "{e}");
}

/// `--from RUN`: the parameters not swept are the run's. A trained `y = w·x + b`,
/// swept over b: the loss at each b is the course's formula with the trained w.
#[test]
fn from_a_run_the_other_parameters_are_the_runs() {
    let exp = experiment("exhaustive_search_wb.toml");
    let runs = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        runs_dir: runs.path().to_path_buf(),
        ..Default::default()
    };
    let report = wick_runner::run(&exp, &opts).unwrap();
    // the checkpoint the landscape takes: best, else last
    let ckpt = wick_runner::rundir::find_checkpoint(&report.dir, "best")
        .or_else(|_| wick_runner::rundir::find_checkpoint(&report.dir, "last"))
        .unwrap();
    let model = ckpt.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&model, &candle_core::Device::Cpu).unwrap();
    let w = f64::from(
        tensors["0.weight"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0],
    );
    let l = landscape(&exp, vec![axis("0.bias=0:4:0.5")], Some(&report.dir)).unwrap();
    for (b, loss) in l.axes[0].values.iter().zip(&l.loss) {
        let want: f64 = [(1.0, 5.0), (2.0, 8.0), (3.0, 11.0)]
            .iter()
            .map(|&(x, y): &(f64, f64)| (w * x + b - y).powi(2))
            .sum();
        assert!((loss - want).abs() < 1e-9, "b={b}: {loss} vs {want}");
    }
}
