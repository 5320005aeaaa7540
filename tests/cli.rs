//! End-to-end tests of the `wick` binary: what a user sees.

mod common;

use common::{repo, wick, wick_with, write_tiny_mnist};

/// Each file of tests/bad: (file, line:column, key path, help).
const BAD_FILES: &[(&str, &str, &str, Option<&str>)] = &[
    ("syntax_error", "56:10", "optimizer.lr", None),
    (
        "unknown_section",
        "54:2",
        "optimzer",
        Some("did you mean `optimizer`?"),
    ),
    (
        "unknown_layer_type",
        "40:12",
        "model.layers[1].type",
        Some("did you mean `Linear`?"),
    ),
    (
        "unknown_layer_argument",
        "40:41",
        "model.layers[1].out_feature",
        Some("did you mean `out_features`?"),
    ),
    (
        "wrong_value_type",
        "42:56",
        "model.layers[3].out_features",
        None,
    ),
    (
        "shape_mismatch",
        "42:36",
        "model.layers[3].in_features",
        None,
    ),
    (
        "unknown_optimizer",
        "55:8",
        "optimizer.type",
        Some("did you mean `SGD`?"),
    ),
    ("negative_lr", "56:6", "optimizer.lr", None),
    (
        "infinite_lr",
        "56:6",
        "optimizer.lr",
        Some("inf is not a finite number"),
    ),
    (
        "nesterov_without_momentum",
        "57:12",
        "optimizer.nesterov",
        None,
    ),
    (
        "unknown_transform",
        "23:12",
        "data.train.transforms[0].type",
        Some("did you mean `ToTensor`?"),
    ),
    (
        "normalize_channels",
        "24:3",
        "data.train.transforms[1]",
        None,
    ),
    ("missing_argument", "48:3", "model.layers[9]", None),
    (
        "wrong_class_count",
        "48:55",
        "model.layers[9].out_features",
        None,
    ),
    (
        "unknown_dataset",
        "14:11",
        "data.dataset",
        Some("did you mean `MNIST`?"),
    ),
    ("shuffle_and_sampler", "21:11", "data.train.shuffle", None),
    (
        "unknown_loss_argument",
        "53:1",
        "loss.label_smothing",
        Some("did you mean `label_smoothing`?"),
    ),
    ("wrong_top_level_type", "10:8", "seed", None),
    (
        "input_shape_mismatch",
        "37:9",
        "model.input",
        Some("set input = [1, 28, 28]"),
    ),
    ("bad_device", "11:10", "device", None),
    (
        "distributed_backend",
        "63:11",
        "distributed.backend",
        Some("expected one of `mpi`, `nccl`"),
    ),
    (
        "distributed_bucket_cap",
        "63:17",
        "distributed.bucket_cap_mb",
        Some("bucket_cap_mb = 25"),
    ),
    (
        "distributed_unknown_key",
        "63:1",
        "distributed.bucket_cap",
        Some("did you mean `bucket_cap_mb`?"),
    ),
    ("zero_batch_size", "20:14", "data.train.batch_size", None),
    (
        "normalize_before_to_tensor",
        "24:12",
        "data.train.transforms[0].type",
        Some("before Normalize"),
    ),
    (
        "reduction_none",
        "53:13",
        "loss.reduction",
        Some("use \"mean\""),
    ),
    (
        "unknown_reduction",
        "53:13",
        "loss.reduction",
        Some("expected one of `none`, `mean`, `sum`, `batchmean`\n"),
    ),
    ("too_many_workers", "22:15", "data.train.num_workers", None),
    (
        "graph_add_shape_clash",
        "17:24",
        "model.layers[3].op",
        Some("cannot broadcast"),
    ),
    (
        "graph_block_expression",
        "15:51",
        "blocks.Unit.layers[0].out_features",
        Some("in the use of Unit at model.layers[1]"),
    ),
    (
        "graph_block_missing_argument",
        "27:12",
        "model.layers[2].type",
        Some("Unit(width, project=false)"),
    ),
    (
        "graph_block_shape",
        "19:10",
        "blocks.Unit.layers[4].op",
        Some("in the use of Unit at model.layers[2]"),
    ),
    (
        "graph_block_unknown_argument",
        "26:20",
        "model.layers[1].widht",
        Some("did you mean `width`?"),
    ),
    (
        "graph_cycle",
        "15:60",
        "model.layers[1].from",
        Some("b → a → b"),
    ),
    (
        "graph_duplicate_name",
        "17:12",
        "model.layers[3].name",
        None,
    ),
    ("graph_op_and_type", "15:35", "model.layers[1].op", None),
    (
        "graph_unknown_from",
        "16:61",
        "model.layers[2].from",
        Some("did you mean `hidden`?"),
    ),
    (
        "graph_unknown_op",
        "16:22",
        "model.layers[2].op",
        Some("known ops"),
    ),
    (
        "graph_unused_input",
        "12:10",
        "model.inputs",
        Some("`x2` is not used"),
    ),
    (
        "graph_unused_node",
        "15:12",
        "model.layers[1].name",
        Some("`side` is not used"),
    ),
];

/// Every broken experiment under tests/bad: exit code 2, and the message names the
/// file, line and column, the key path, and a suggestion where one fits.
#[test]
fn broken_experiments_exit_2_with_file_line_column_and_key() {
    let cases = BAD_FILES;
    let root = repo();
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("tests/bad")).unwrap() {
        let name = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            cases.iter().any(|c| c.0 == name),
            "tests/bad/{name}.toml has no expectation"
        );
    }
    for (file, pos, key, help) in cases {
        let rel = format!("tests/bad/{file}.toml");
        for cmd in ["check", "run"] {
            let out = wick(&[cmd, &rel], None, &root);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {rel}: exit code\n{err}");
            assert!(
                err.contains(&format!("{rel}:{pos}")),
                "{rel}: no {rel}:{pos} in\n{err}"
            );
            assert!(
                err.contains(&format!("key: {key}\n")),
                "{rel}: no key path {key} in\n{err}"
            );
            if let Some(h) = help {
                assert!(err.contains(h), "{rel}: no help {h:?} in\n{err}");
            }
            assert!(!err.contains("panicked"), "{rel}: panic\n{err}");
        }
        seen += 1;
    }
    assert!(seen >= 10);
}

/// `wick landscape` prints the course's grid and writes its CSV and pictures under
/// `runs/<name>/landscape-*`; a bad `--param` is refused by the argument parser.
#[test]
fn landscape_prints_the_grid_and_writes_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/exhaustive_search_wb.toml");
    let args = [
        "landscape",
        exp.to_str().unwrap(),
        "--param",
        "0.weight=0:4:0.1",
        "--param",
        "0.bias=0:4:0.1",
    ];
    let out = wick(&args, None, tmp.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("\n[[210.   199.34 188.96 ...   1.76   1.74   2.  ]\n"),
        "{text}"
    );
    assert!(
        text.contains(" [ 66.    60.14  54.56 ...  40.16  44.94  50.  ]]"),
        "{text}"
    );
    let dirs: Vec<_> = std::fs::read_dir(tmp.path().join("runs/exhaustive-search-wb"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1);
    for f in [
        "landscape.csv",
        "landscape_contour.png",
        "landscape_surface.png",
    ] {
        assert!(dirs[0].join(f).is_file(), "{f}");
    }
    let bad = wick(
        &["landscape", exp.to_str().unwrap(), "--param", "w=0:4"],
        None,
        tmp.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected NAME=START:STOP:STEP"));
}

#[test]
fn check_prints_the_model_table_and_trains_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/mnist.toml");
    let out = wick(&["check", exp.to_str().unwrap()], None, tmp.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Linear(in_features=784, out_features=512, bias=True)"),
        "{text}"
    );
    assert!(text.contains("[-1, 10]"), "{text}");
    assert!(text.contains("Total params: 575,050"), "{text}");
    assert!(
        !tmp.path().join("runs").exists(),
        "check must not create a run"
    );
    let fashion = repo().join("experiments/fashion_mnist.toml");
    assert_eq!(
        wick(&["check", fashion.to_str().unwrap()], None, tmp.path())
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn missing_file_and_missing_data_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = wick(&["check", "nope.toml"], None, tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nope.toml"));

    // without download (the shipped file says `download = true`, as the course does)
    let exp = repo().join("experiments/mnist.toml");
    let out = wick(
        &["run", exp.to_str().unwrap(), "--set", "data.download=false"],
        None,
        tmp.path(),
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("MNIST training files not found"), "{all}");
    assert!(
        all.contains("MNIST/raw"),
        "{all}: should say where the files go"
    );
    assert!(all.contains("download = true"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
}

/// A small learnable MNIST-format set: the label is the row band the bright square
/// lies in, so a few epochs of the MLP learn it.
#[test]
fn run_trains_and_writes_the_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_mnist(&tmp.path().join("data"), 1280, 200);
    let src = std::fs::read_to_string(repo().join("experiments/mnist.toml")).unwrap();
    let src = src
        .replace("epochs = 10", "epochs = 6")
        .replace("log_interval = 300", "log_interval = 4")
        .replace("lr = 0.01", "lr = 0.05")
        .replace("momentum = 0.5", "momentum = 0.8");
    std::fs::write(tmp.path().join("exp.toml"), src).unwrap();
    let out = wick(
        &["run", "exp.toml"],
        Some(&tmp.path().join("data")),
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the course's log lines
    assert!(stdout.contains("[1,     4] loss: "), "{stdout}");
    assert!(stdout.contains("[6,     8] loss: "), "{stdout}");
    assert!(stdout.contains("Accuracy on test set: "), "{stdout}");
    let last_acc: f64 = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Accuracy on test set: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(last_acc > 80.0, "the tiny task should be learned: {stdout}");

    let runs: Vec<_> = std::fs::read_dir(tmp.path().join("runs/mnist-mlp"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    let dir = runs[0].as_ref().unwrap().path();
    for f in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "log.jsonl",
        "meta.json",
        "summary.txt",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("in_features = 784"), "{config}");
    assert!(
        config.contains("dampening = 0.0"),
        "resolved defaults: {config}"
    );
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("epoch,")).count(),
        6,
        "{csv}"
    );
    let jsonl = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["epoch"].is_number());
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["device"], "cpu");
    assert_eq!(meta["seed"], 0);
    assert_eq!(meta["config_md5"].as_str().map(str::len), Some(32));
    assert!(meta["ended"].is_string(), "{meta}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("Accuracy on test set")),
        "{log}"
    );

    // the resolved config is itself a valid experiment that checks
    let out = wick(
        &["check", dir.join("config.toml").to_str().unwrap()],
        None,
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a second run never reuses the directory
    let out = wick(
        &["run", "exp.toml"],
        Some(&tmp.path().join("data")),
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(tmp.path().join("runs/mnist-mlp"))
            .unwrap()
            .count(),
        2
    );
}

/// `download = true` through the binary: the test split comes from a local mirror
/// (the shared official t10k files, checked against torchvision's MD5s) into
/// `<root>/MNIST/raw`; with every mirror down, the error names each one and where
/// the file goes.
#[test]
fn run_downloads_missing_files_from_the_mirrors() {
    let shared = repo().join("../shared/datasets/mnist");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 640, 10);
    for f in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::remove_file(data.join("MNIST/raw").join(f)).unwrap();
    }
    let src = std::fs::read_to_string(repo().join("experiments/mnist.toml")).unwrap();
    assert!(
        src.contains("download = true"),
        "the course's download=True"
    );
    let src = src.replace("epochs = 10", "epochs = 1");
    std::fs::write(tmp.path().join("exp.toml"), src).unwrap();

    // every mirror down: exit 1, each failure named, and where the file goes
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mirror = format!("http://{dead}/");
    let out = wick_with(
        &["run", "exp.toml"],
        Some(&data),
        tmp.path(),
        &[("WICK_MIRRORS", &mirror)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("could not download t10k-images-idx3-ubyte.gz"),
        "{err}"
    );
    assert!(err.contains(&dead.to_string()), "{err}");
    assert!(
        err.contains("MNIST/raw/t10k-images-idx3-ubyte.gz yourself"),
        "{err}"
    );

    if !shared.is_dir() {
        eprintln!(
            "skipping the download itself: {} not present",
            shared.display()
        );
        return;
    }
    let (base, _) = wick_data::testing::serve(shared, 8).unwrap();
    let mirror = format!("{base}/");
    let out = wick_with(
        &["run", "exp.toml"],
        Some(&data),
        tmp.path(),
        &[("WICK_MIRRORS", &mirror)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/10000), test loss"),
        "evaluated on the 10,000 downloaded digits: {stdout}"
    );
    assert!(data.join("MNIST/raw/t10k-images-idx3-ubyte.gz").is_file());
    assert!(data.join("MNIST/raw/t10k-labels-idx1-ubyte.gz").is_file());
}

#[test]
fn data_prints_the_split_and_draws_its_first_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 64, 16);
    let exp = repo().join("experiments/mnist.toml");
    let out = wick(
        &[
            "data",
            exp.to_str().unwrap(),
            "--set",
            "data.train.batch_size=4",
        ],
        Some(&data),
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("MNIST (train split): 64 samples"), "{text}");
    assert!(text.contains("classes (10): 0 - zero, 1 - one"), "{text}");
    assert!(
        text.contains("sample 0: input [1, 28, 28], target class"),
        "{text}"
    );
    assert!(
        text.contains("first batch: input [4, 1, 28, 28], target [4]"),
        "{text}"
    );
    assert!(text.contains("targets: tensor(["), "{text}");
    // make_grid of 4 images of 28x28: one row, padding 2
    let png = std::fs::read(tmp.path().join("runs/mnist-mlp/data-train.png")).unwrap();
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (4 * 30 + 2, 32));

    let out = wick(
        &["data", exp.to_str().unwrap(), "--split", "valid"],
        Some(&data),
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no split `valid`"));
}

/// A process that an MPI launcher started, in a wick built without the `mpi` feature,
/// stops with what to build instead of training alone (and writing a run directory of
/// its own beside its ranks'); torchrun's variables ask for NCCL, which is not there.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_launched_rank_without_its_engine_says_what_to_build() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/mnist.toml");
    let exp = exp.to_str().unwrap();
    let mpi = [("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "1")];
    let out = wick_with(&["run", exp], None, tmp.path(), &mpi);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("rank 1 of 2") && err.contains("--features mpi"),
        "{err}"
    );
    let torchrun = [("WORLD_SIZE", "2"), ("RANK", "0")];
    let out = wick_with(&["run", exp], None, tmp.path(), &torchrun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("NCCL") && err.contains("mpirun -n 2"), "{err}");
    let out = wick(&["run", exp, "--nproc", "2"], None, tmp.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("built without MPI"), "{err}");
    assert!(!tmp.path().join("runs").exists(), "no run directory");
}

/// A run directory that cannot be made is named, and the cause said once.
#[test]
fn a_run_directory_that_cannot_be_made_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("blocker"), "a file, not a folder").unwrap();
    let exp = repo().join("experiments/mnist.toml");
    let args = ["run", exp.to_str().unwrap(), "--runs-dir", "blocker/runs"];
    let out = wick(&args, None, tmp.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("blocker/runs/mnist-mlp: "), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}
