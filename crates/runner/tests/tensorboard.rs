//! The TensorBoard event files of a run, read back by a reader of this test's own
//! (TFRecord framing with both CRCs checked, the protobuf wire format decoded by hand):
//! every scalar is a cell of metrics.csv at its step, the first batch is a PNG grid of
//! make_grid's size, the config and the hparams records are there; a resumed run's
//! file replaces what the interrupted run wrote after its checkpoint, as TensorBoard's
//! loaders read it; `[log] tensorboard = false` writes nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use wick_runner::trainer::{resume, run, RunOptions};
use wick_runner::{load_experiment_with, Override};

// ---- the reader --------------------------------------------------------------------

/// A protobuf field's value.
#[derive(Debug, Clone)]
enum Wire<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

fn varint(b: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[0];
        *b = &b[1..];
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
    }
    v
}

/// The fields of a message, in order.
fn fields(mut b: &[u8]) -> Vec<(u64, Wire<'_>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let wire = match key & 7 {
            0 => Wire::Varint(varint(&mut b)),
            1 => {
                let (v, rest) = b.split_at(8);
                b = rest;
                Wire::Fixed64(v.try_into().unwrap())
            }
            2 => {
                let n = varint(&mut b) as usize;
                let (v, rest) = b.split_at(n);
                b = rest;
                Wire::Bytes(v)
            }
            5 => {
                let (v, rest) = b.split_at(4);
                b = rest;
                Wire::Fixed32(v.try_into().unwrap())
            }
            w => panic!("wire type {w}"),
        };
        out.push((key >> 3, wire));
    }
    out
}

fn bytes_of<'a>(fs: &[(u64, Wire<'a>)], n: u64) -> Option<&'a [u8]> {
    fs.iter().find_map(|(f, w)| match w {
        Wire::Bytes(b) if *f == n => Some(*b),
        _ => None,
    })
}

fn varint_of(fs: &[(u64, Wire<'_>)], n: u64) -> Option<u64> {
    fs.iter().find_map(|(f, w)| match w {
        Wire::Varint(v) if *f == n => Some(*v),
        _ => None,
    })
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The records of a TFRecord file, both CRCs of each checked.
fn records(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = &b[..8];
        assert_eq!(b[8..12], masked_crc(len).to_le_bytes(), "length CRC");
        let n = u64::from_le_bytes(len.try_into().unwrap()) as usize;
        let data = &b[12..12 + n];
        assert_eq!(
            b[12 + n..16 + n],
            masked_crc(data).to_le_bytes(),
            "data CRC"
        );
        out.push(data.to_vec());
        b = &b[16 + n..];
    }
    out
}

/// One value of a summary.
#[derive(Debug, Clone, PartialEq)]
enum Data {
    Scalar(f32),
    /// Width, height, colorspace, the encoded image.
    Image(u64, u64, u64, Vec<u8>),
    /// The plugin, its content, the tensor.
    Tensor(String, Vec<u8>, Vec<u8>),
}

/// An event: its step and what it holds.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    FileVersion(String),
    SessionStart(i64),
    Value(i64, String, Data),
}

fn value(step: i64, v: &[u8]) -> Event {
    let fs = fields(v);
    let tag = String::from_utf8(bytes_of(&fs, 1).unwrap().to_vec()).unwrap();
    let simple = fs.iter().find_map(|(f, w)| match w {
        Wire::Fixed32(x) if *f == 2 => Some(f32::from_le_bytes(*x)),
        _ => None,
    });
    let data = if let Some(x) = simple {
        Data::Scalar(x)
    } else if let Some(img) = bytes_of(&fs, 4) {
        let i = fields(img);
        let png = bytes_of(&i, 4).unwrap().to_vec();
        let (h, w, c) = (varint_of(&i, 1), varint_of(&i, 2), varint_of(&i, 3));
        Data::Image(w.unwrap(), h.unwrap(), c.unwrap(), png)
    } else {
        let md = fields(bytes_of(&fs, 9).expect("a tensor has plugin metadata"));
        let plugin = fields(bytes_of(&md, 1).unwrap());
        let name = String::from_utf8(bytes_of(&plugin, 1).unwrap().to_vec()).unwrap();
        let content = bytes_of(&plugin, 2).unwrap_or_default().to_vec();
        assert_eq!(varint_of(&md, 4), Some(2), "{tag}: DATA_CLASS_TENSOR");
        Data::Tensor(name, content, bytes_of(&fs, 8).unwrap().to_vec())
    };
    Event::Value(step, tag, data)
}

/// The events of one file, in order (a summary's values one by one).
fn events(path: &Path) -> Vec<Event> {
    let mut out = Vec::new();
    for rec in records(&std::fs::read(path).unwrap()) {
        let fs = fields(&rec);
        assert!(matches!(fs[0], (1, Wire::Fixed64(_))), "wall_time first");
        let step = varint_of(&fs, 2).unwrap_or(0) as i64;
        if let Some(v) = bytes_of(&fs, 3) {
            out.push(Event::FileVersion(String::from_utf8(v.to_vec()).unwrap()));
        } else if let Some(log) = bytes_of(&fs, 7) {
            assert_eq!(varint_of(&fields(log), 1), Some(1), "SessionLog.START");
            out.push(Event::SessionStart(step));
        } else {
            let summary = fields(bytes_of(&fs, 5).expect("a summary"));
            for (_, v) in summary {
                let Wire::Bytes(v) = v else { panic!() };
                out.push(value(step, v));
            }
        }
    }
    out
}

/// The event files of `dir`, in the order TensorBoard reads them (by name).
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(wick_runner::tensorboard::FILE_PREFIX)
        })
        .collect();
    files.sort();
    files
}

/// A point of a time series: step, tag, data.
type Point = (i64, String, Data);

/// The points of a run as TensorBoard's Python loader keeps them: its files in name
/// order, every `SessionLog.START` after the first dropping the points at or after its
/// step.
fn python_view(dir: &Path) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    let mut started = false;
    for f in event_files(dir) {
        let evs = events(&f);
        assert_eq!(evs[0], Event::FileVersion("brain.Event:2".into()));
        assert!(matches!(evs[1], Event::SessionStart(_)), "{:?}", evs[1]);
        for e in evs {
            match e {
                Event::SessionStart(s) if started => points.retain(|p| p.0 < s),
                Event::SessionStart(_) => started = true,
                Event::Value(s, t, d) => points.push((s, t, d)),
                Event::FileVersion(_) => {}
            }
        }
    }
    points
}

/// The points as TensorBoard's fast loader (RustBoard) keeps them: per tag, a point
/// drops the points of its tag at or after its step.
fn rust_view(dir: &Path) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    for f in event_files(dir) {
        for e in events(&f) {
            if let Event::Value(s, t, d) = e {
                points.retain(|p| !(p.1 == t && p.0 >= s));
                points.push((s, t, d));
            }
        }
    }
    points
}

/// Every scalar point of `points` by (tag, step); a tag with two points at one step
/// fails.
fn scalars(points: &[Point]) -> BTreeMap<(String, i64), f32> {
    let mut out = BTreeMap::new();
    for (s, t, d) in points {
        if let Data::Scalar(x) = d {
            let old = out.insert((t.clone(), *s), *x);
            assert!(old.is_none(), "two points of {t} at step {s}");
        }
    }
    out
}

/// Every number of metrics.csv as a scalar of TensorBoard: `<kind>/<column>` at the
/// row's step, rounded to f32.
fn csv_scalars(dir: &Path) -> BTreeMap<(String, i64), f32> {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let step: i64 = cells[2].parse().unwrap();
        for (col, cell) in header.iter().zip(&cells).skip(4) {
            if !cell.is_empty() {
                let v: f64 = cell.parse().unwrap();
                out.insert((format!("{}/{col}", cells[0]), step), v as f32);
            }
        }
    }
    out
}

fn assert_same(tb: &BTreeMap<(String, i64), f32>, csv: &BTreeMap<(String, i64), f32>) {
    let keys = |m: &BTreeMap<(String, i64), f32>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(tb), keys(csv));
    for (k, v) in csv {
        let t = tb[k];
        assert!(t == *v || (t.is_nan() && v.is_nan()), "{k:?}: {t} vs {v}");
    }
}

// ---- the runs ----------------------------------------------------------------------

/// A tiny MNIST in torchvision's layout under `dir/MNIST/raw`: a bar whose row is the
/// label.
fn write_tiny_mnist(dir: &Path, n_train: usize, n_test: usize) {
    let raw = dir.join("MNIST/raw");
    std::fs::create_dir_all(&raw).unwrap();
    let images = |n: usize| {
        let mut v = vec![0u8; n * 784];
        for i in 0..n {
            let (row, col) = ((i % 10) * 2 + 3, (i * 7) % 20);
            for r in row..row + 3 {
                v[i * 784 + r * 28 + col..][..6].fill(255);
            }
        }
        v
    };
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let write = |name: &str, dims: &[u32], data: &[u8]| {
        let mut f = std::fs::File::create(raw.join(name)).unwrap();
        f.write_all(&[0, 0, 8, dims.len() as u8]).unwrap();
        for d in dims {
            f.write_all(&d.to_be_bytes()).unwrap();
        }
        f.write_all(data).unwrap();
    };
    write(
        "train-images-idx3-ubyte",
        &[n_train as u32, 28, 28],
        &images(n_train),
    );
    write(
        "train-labels-idx1-ubyte",
        &[n_train as u32],
        &labels(n_train),
    );
    write(
        "t10k-images-idx3-ubyte",
        &[n_test as u32, 28, 28],
        &images(n_test),
    );
    write("t10k-labels-idx1-ubyte", &[n_test as u32], &labels(n_test));
}

/// 96 training images in batches of 16 (6 steps an epoch, a `step` row every 3), 50
/// test images, two epochs, a top-2 accuracy column.
fn experiment_file(root: &Path, extra: &str) -> PathBuf {
    let data = root.join("data");
    write_tiny_mnist(&data, 96, 50);
    let text = format!(
        r#"
name = "tb"
seed = 1
device = "cpu"
[data]
dataset = "MNIST"
root = "{}"
[data.train]
batch_size = 16
shuffle = true
transforms = [{{ type = "ToTensor" }}, {{ type = "Normalize", mean = [0.1307], std = [0.3081] }}]
[data.test]
batch_size = 50
transforms = [{{ type = "ToTensor" }}, {{ type = "Normalize", mean = [0.1307], std = [0.3081] }}]
[model]
input = [1, 28, 28]
layers = [{{ type = "Flatten" }}, {{ type = "Linear", out_features = 10 }}]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.01
[train]
epochs = 2
log_interval = 3
[metrics]
top_k = [2]
{extra}
"#,
        data.display()
    );
    let path = root.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Trains the experiment of `file` with `overrides` (applied and recorded, as `wick
/// run --set` does); returns the run directory.
fn train(root: &Path, file: &Path, overrides: &[&str]) -> PathBuf {
    let parsed: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
    let exp = load_experiment_with(file, &parsed).unwrap();
    let opts = RunOptions {
        runs_dir: root.join("runs"),
        progress: false,
        overrides: overrides.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    };
    run(&exp, &opts).unwrap().dir
}

fn tensors<'a>(points: &'a [Point], tag: &str) -> Vec<(i64, &'a str, &'a [u8], &'a [u8])> {
    points
        .iter()
        .filter(|p| p.1 == tag)
        .map(|(s, _, d)| match d {
            Data::Tensor(plugin, content, tensor) => {
                (*s, plugin.as_str(), &content[..], &tensor[..])
            }
            d => panic!("{tag}: {d:?}"),
        })
        .collect()
}

/// The string of a string tensor (`string_val`, field 8).
fn tensor_string(tensor: &[u8]) -> String {
    let fs = fields(tensor);
    assert_eq!(varint_of(&fs, 1), Some(7), "DT_STRING");
    String::from_utf8(bytes_of(&fs, 8).unwrap().to_vec()).unwrap()
}

/// The hyperparameters of a `session_start_info`: key and the `google.protobuf.Value`
/// field that is set.
fn hparams(content: &[u8]) -> Vec<(String, u64, Vec<u8>)> {
    let info = fields(bytes_of(&fields(content), 3).expect("session_start_info"));
    info.iter()
        .filter(|(f, _)| *f == 1)
        .map(|(_, w)| {
            let Wire::Bytes(entry) = w else { panic!() };
            let e = fields(entry);
            let key = String::from_utf8(bytes_of(&e, 1).unwrap().to_vec()).unwrap();
            let (kind, v) = match &fields(bytes_of(&e, 2).unwrap())[0] {
                (k, Wire::Fixed64(b)) => (*k, b.to_vec()),
                (k, Wire::Bytes(b)) => (*k, b.to_vec()),
                (k, Wire::Varint(b)) => (*k, vec![*b as u8]),
                other => panic!("{other:?}"),
            };
            (key, kind, v)
        })
        .collect()
}

#[test]
fn every_scalar_is_a_cell_of_metrics_csv_and_the_batch_config_and_hparams_are_there() {
    let tmp = tempfile::tempdir().unwrap();
    let file = experiment_file(tmp.path(), "");
    let dir = train(
        tmp.path(),
        &file,
        &["optimizer.lr=0.05", "optimizer.type=SGD"],
    );
    assert_eq!(event_files(&dir).len(), 1);
    let points = python_view(&dir);
    assert_eq!(points, rust_view(&dir));

    let tb = scalars(&points);
    let csv = csv_scalars(&dir);
    assert_same(&tb, &csv);
    // steps 3, 6, 9, 12 and two epochs, with the extra column
    assert!(csv.contains_key(&("step/train_loss".into(), 9)), "{csv:?}");
    assert!(
        csv.contains_key(&("epoch/test_top2_acc".into(), 12)),
        "{csv:?}"
    );
    assert_eq!(tb[&("step/lr".into(), 3)], 0.05);

    // the first batch: 16 images of 28x28 as make_grid lays them out, 8 to a row
    let images: Vec<_> = points.iter().filter(|p| p.1 == "images").collect();
    assert_eq!(images.len(), 1);
    let Data::Image(w, h, colorspace, png) = &images[0].2 else {
        panic!()
    };
    assert_eq!((images[0].0, *w, *h, *colorspace), (0, 242, 62, 3));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((&png[12..16], size(16), size(20)), (&b"IHDR"[..], 242, 62));

    // the resolved config, as a fenced TOML block
    let config = tensors(&points, "config");
    assert_eq!(config.len(), 1);
    assert_eq!((config[0].0, config[0].1), (0, "text"));
    let text = tensor_string(config[0].3);
    let written = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert_eq!(text, format!("```toml\n{}\n```", written.trim_end()));

    // the overrides as hyperparameters, and a successful end
    let start = tensors(&points, "_hparams_/session_start_info");
    assert_eq!(start.len(), 1);
    assert_eq!((start[0].0, start[0].1), (0, "hparams"));
    let h = hparams(start[0].2);
    assert_eq!(
        h[0],
        ("optimizer.lr".into(), 2, 0.05f64.to_le_bytes().to_vec())
    );
    assert_eq!(h[1], ("optimizer.type".into(), 3, b"SGD".to_vec()));
    let end = tensors(&points, "_hparams_/session_end_info");
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].0, 12);
    let info = fields(bytes_of(&fields(end[0].2), 4).expect("session_end_info"));
    assert_eq!(varint_of(&info, 1), Some(1), "STATUS_SUCCESS");
}

/// Points `checkpoints/last` at the checkpoint of `step`, as if the run had been
/// killed after writing it.
#[cfg(unix)]
fn rewind_last(dir: &Path, step: u64) {
    let ckpts = dir.join("checkpoints");
    let name = format!("step-{step:09}");
    assert!(ckpts.join(&name).is_dir(), "no {name}");
    std::fs::remove_file(ckpts.join("last")).unwrap();
    std::os::unix::fs::symlink(&name, ckpts.join("last")).unwrap();
}

#[cfg(unix)]
#[test]
fn a_resumed_run_replaces_what_was_written_after_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[train.checkpoint]\nevery_n_steps = 2\nkeep_last = 20";
    let file = experiment_file(tmp.path(), extra);
    let dir = train(tmp.path(), &file, &[]);
    // killed after step 8 (batch 2 of epoch 2): rows of steps 9 and 12 and epoch 2's
    // were written after the checkpoint
    rewind_last(&dir, 8);
    let opts = RunOptions {
        progress: false,
        ..Default::default()
    };
    resume(&dir, &opts).unwrap();
    let files = event_files(&dir);
    assert_eq!(files.len(), 2);
    let second = events(&files[1]);
    assert_eq!(second[1], Event::SessionStart(9));

    let csv = csv_scalars(&dir);
    for view in [python_view(&dir), rust_view(&dir)] {
        assert_same(&scalars(&view), &csv);
        // the config of each start, the image of the first batch only
        let configs: Vec<i64> = tensors(&view, "config").iter().map(|c| c.0).collect();
        assert_eq!(configs, [0, 9]);
        assert_eq!(view.iter().filter(|p| p.1 == "images").count(), 1);
        // no `--set`: no hparams records
        assert!(!view.iter().any(|p| p.1.starts_with("_hparams_")));
    }
    // without the restart, epoch 2 would be there twice
    let all: usize = files
        .iter()
        .map(|f| {
            events(f)
                .iter()
                .filter(|e| matches!(e, Event::Value(12, t, _) if t == "epoch/seconds"))
                .count()
        })
        .sum();
    assert_eq!(all, 2);
}

#[test]
fn log_tensorboard_false_writes_no_event_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = experiment_file(tmp.path(), "[log]\ntensorboard = false");
    let dir = train(tmp.path(), &file, &["train.epochs=1"]);
    assert!(event_files(&dir).is_empty());
    assert!(dir.join("metrics.csv").is_file());
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("[log]\ntensorboard = false"), "{config}");
}
