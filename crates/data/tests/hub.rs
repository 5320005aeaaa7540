//! Hugging Face hub datasets without the network: each test writes a hub cache
//! (`refs/` + `snapshots/` + `blobs/`, the layout `huggingface_hub` and `hf-hub`
//! share) holding parquet files it writes itself, in the schema `datasets` gives
//! MNIST (`image {bytes, path}`, `label` int64 with `ClassLabel` names), and reads
//! them with `HF_HUB_OFFLINE=1`.
//!
//! Run with `cargo test -p wick-data --features hub --test hub` (`just test-hub`).
#![cfg(feature = "hub")]

use candle_core::{DType, Device};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wick_data::datasets::{DatasetConfig, DatasetContext, HuggingFace, HuggingFaceConfig};
use wick_data::transforms::{Compose, TransformConfig};
use wick_data::{DataLoader, DataLoaderConfig, Dataset, Input, Split, Target};

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

const REPO: &str = "wick-test/digits";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const NAMES: [&str; 3] = ["zero", "one", "two"];

/// Every test reads the cache only (all set the same value).
fn offline() {
    std::env::set_var("HF_HUB_OFFLINE", "1");
}

/// Pixel `(y, x)` of image `i`: 4 wide, 3 high, gray.
fn pixel(i: usize, y: usize, x: usize) -> u8 {
    (i * 20 + y * 4 + x) as u8
}

fn png(i: usize) -> Vec<u8> {
    let img =
        image::GrayImage::from_fn(4, 3, |x, y| image::Luma([pixel(i, y as usize, x as usize)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn label(i: usize) -> i64 {
    (i % 3) as i64
}

/// A parquet file of images `ids` as `datasets` writes MNIST: a struct column
/// `image {bytes, path}` (path null), an int64 `label`, and the features in the
/// `huggingface` metadata.
fn write_images(path: &Path, ids: &[usize]) {
    let schema = parse_message_type(
        "message schema {
            optional group image { optional binary bytes; optional binary path (STRING); }
            optional int64 label;
        }",
    )
    .unwrap();
    let features = serde_json_names();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![KeyValue::new("huggingface".into(), features)]))
        .build();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let n = ids.len();
    // image.bytes: defined at level 2 (struct and bytes present)
    let mut c = rg.next_column().unwrap().unwrap();
    let bytes: Vec<ByteArray> = ids.iter().map(|&i| ByteArray::from(png(i))).collect();
    c.typed::<ByteArrayType>()
        .write_batch(&bytes, Some(&vec![2; n]), None)
        .unwrap();
    c.close().unwrap();
    // image.path: null (level 1: the struct is there, the path is not)
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>()
        .write_batch(&[], Some(&vec![1; n]), None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    let labels: Vec<i64> = ids.iter().map(|&i| label(i)).collect();
    c.typed::<Int64Type>()
        .write_batch(&labels, Some(&vec![1; n]), None)
        .unwrap();
    c.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

fn serde_json_names() -> String {
    format!(
        r#"{{"info": {{"features": {{"image": {{"_type": "Image"}}, "label": {{"names": [{}], "_type": "ClassLabel"}}}}}}}}"#,
        NAMES
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A hub cache holding `files` (name in the repository → writer) of `REPO` on the
/// parquet branch. The files are blobs linked from the snapshot, as the hub
/// libraries store them (copies where links are not available).
fn cache_with(files: &[(&str, &dyn Fn(&Path))]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("datasets--wick-test--digits");
    std::fs::create_dir_all(repo.join("refs/refs/convert")).unwrap();
    std::fs::write(repo.join("refs/refs/convert/parquet"), COMMIT).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    for (k, (name, write)) in files.iter().enumerate() {
        let blob = repo.join("blobs").join(format!("etag{k}"));
        write(&blob);
        let snap = repo.join("snapshots").join(COMMIT).join(name);
        std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&blob, &snap).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&blob, &snap).unwrap();
    }
    d
}

/// 8 training images in two shards, 4 test images.
fn digits_cache() -> tempfile::TempDir {
    cache_with(&[
        ("digits/train/0000.parquet", &|p| {
            write_images(p, &[0, 1, 2, 3, 4])
        }),
        ("digits/train/0001.parquet", &|p| {
            write_images(p, &[5, 6, 7])
        }),
        ("digits/test/0000.parquet", &|p| {
            write_images(p, &[8, 9, 10, 11])
        }),
        ("README.md", &|p| std::fs::write(p, "# digits").unwrap()),
    ])
}

fn ctx(split: Split) -> DatasetContext<'static> {
    DatasetContext {
        split,
        root: PathBuf::from("."),
        download: false,
        mirrors: None,
        seed: 3,
    }
}

fn config(cache: &Path, extra: &str) -> DatasetConfig {
    toml::from_str(&format!(
        "type = \"HuggingFace\"\npath = \"{REPO}\"\ncache_dir = {:?}\n{extra}",
        cache.display().to_string()
    ))
    .unwrap()
}

fn gray(s: &wick_data::Sample) -> (Vec<u8>, usize, usize, usize) {
    let Input::Image(img) = &s.input else {
        panic!("not an image: {:?}", s.input)
    };
    (img.data.clone(), img.channels, img.height, img.width)
}

fn want(i: usize) -> Vec<u8> {
    (0..3)
        .flat_map(|y| (0..4).map(move |x| pixel(i, y, x)))
        .collect()
}

#[test]
fn mnist_style_splits_from_a_prepared_cache_offline() {
    offline();
    let cache = digits_cache();
    let cfg = config(cache.path(), "");
    let train = cfg.build(&ctx(Split::Train)).unwrap();
    let test = cfg.build(&ctx(Split::Test)).unwrap();
    assert_eq!((train.len(), test.len()), (8, 4));
    assert_eq!(train.classes(), NAMES);
    assert_eq!(train.class_to_idx()["two"], 2);
    // shard order, then row order; gray stays one channel
    for (ds, first) in [(&train, 0), (&test, 8)] {
        for k in 0..ds.len() {
            let s = ds.get(k).unwrap();
            let i = first + k;
            assert_eq!(gray(&s), (want(i), 1, 3, 4), "sample {k}");
            assert_eq!(s.target, Target::Class(label(i) as u32));
        }
    }
    assert!(train.get(8).is_err());
    // the dataset knows its files
    let DatasetConfig::HuggingFace(hc) = &cfg else {
        panic!()
    };
    let ds = HuggingFace::load(hc, Split::Train).unwrap();
    assert_eq!(
        ds.files(),
        ["digits/train/0000.parquet", "digits/train/0001.parquet"]
    );
    assert_eq!((ds.repo(), ds.hub_split()), (REPO, "train"));
}

#[test]
fn through_the_transforms_and_the_loader() {
    offline();
    let cache = digits_cache();
    let ds = config(cache.path(), "").build(&ctx(Split::Test)).unwrap();
    #[derive(serde::Deserialize)]
    struct T {
        t: Vec<TransformConfig>,
    }
    let t: T = toml::from_str(
        "t = [{ type = \"ToTensor\" }, { type = \"Normalize\", mean = [0.5], std = [0.5] }]",
    )
    .unwrap();
    let lc = DataLoaderConfig {
        batch_size: 3,
        ..Default::default()
    };
    let tf = Compose::from_configs(&t.t).unwrap();
    let l = DataLoader::new(ds, tf, &lc, 0, Device::Cpu).unwrap();
    let batches: Vec<_> = l.epoch(0).map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].input.dims(), &[3, 1, 3, 4]);
    assert_eq!(batches[1].input.dims(), &[1, 1, 3, 4]);
    let x: Vec<f32> = batches[0].input.flatten_all().unwrap().to_vec1().unwrap();
    let expect: Vec<f32> = (8..11)
        .flat_map(want)
        .map(|p| (f32::from(p) / 255.0 - 0.5) / 0.5)
        .collect();
    assert_eq!(x.len(), expect.len());
    for (a, b) in x.iter().zip(&expect) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert_eq!(batches[0].target.dtype(), DType::U32);
    assert_eq!(batches[0].target.to_vec1::<u32>().unwrap(), vec![2, 0, 1]);
}

#[test]
fn split_mapping_and_data_files() {
    offline();
    let cache = cache_with(&[
        ("digits/train/0000.parquet", &|p| write_images(p, &[0, 1])),
        ("digits/validation/0000.parquet", &|p| {
            write_images(p, &[2, 3, 4])
        }),
        ("other/train/0000.parquet", &|p| write_images(p, &[5])),
    ]);
    // two configurations: `name` picks one
    let e = config(cache.path(), "")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("several configurations; pick one with `name`: \"digits\", \"other\""),
        "{e}"
    );
    let cfg = config(
        cache.path(),
        "name = \"digits\"\nsplit = { test = \"validation\" }",
    );
    assert_eq!(cfg.build(&ctx(Split::Test)).unwrap().len(), 3);
    assert_eq!(cfg.build(&ctx(Split::Train)).unwrap().len(), 2);
    let cfg = config(cache.path(), "name = \"other\"");
    assert_eq!(
        gray(&cfg.build(&ctx(Split::Train)).unwrap().get(0).unwrap()).0,
        want(5)
    );
    // data_files: names (no listing needed) and patterns
    let cfg = config(
        cache.path(),
        "data_files = { train = [\"other/train/0000.parquet\", \"digits/train/0000.parquet\"], test = \"*/validation/*.parquet\" }",
    );
    let train = cfg.build(&ctx(Split::Train)).unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(gray(&train.get(0).unwrap()).0, want(5));
    assert_eq!(cfg.build(&ctx(Split::Test)).unwrap().len(), 3);
    let e = config(cache.path(), "name = \"digits\"")
        .build(&ctx(Split::Test))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no parquet file of split \"test\" in configuration \"digits\""),
        "{e}"
    );
    assert!(e.contains("digits/validation/0000.parquet"), "{e}");
}

#[test]
fn a_missing_cache_gives_a_clear_error() {
    offline();
    let empty = tempfile::tempdir().unwrap();
    let e = config(empty.path(), "")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    for part in [
        "wick-test/digits at revision refs/convert/parquet",
        &empty.path().display().to_string(),
        "datasets--wick-test--digits",
        "HF_HUB_OFFLINE is set",
        "huggingface-cli download wick-test/digits --repo-type dataset",
    ] {
        assert!(e.contains(part), "{part:?} not in: {e}");
    }
    // a named file that is not cached
    let cache = digits_cache();
    let e = config(cache.path(), "data_files = \"digits/train/0009.parquet\"")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("digits/train/0009.parquet of the Hugging Face dataset wick-test/digits"),
        "{e}"
    );
    // another revision is another snapshot
    let e = config(cache.path(), "revision = \"main\"")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("wick-test/digits at revision main is not in the hub cache"),
        "{e}"
    );
}

#[test]
fn bad_columns_and_bad_files() {
    offline();
    let cache = digits_cache();
    let e = config(cache.path(), "image_column = \"img\"")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no column \"img\" (image_column); its columns: image, label"),
        "{e}"
    );
    assert!(e.contains("0000.parquet"), "{e}");
    // a file that is not parquet
    let cache = cache_with(&[("digits/train/0000.parquet", &|p| {
        std::fs::write(p, "nope").unwrap()
    })]);
    let e = config(cache.path(), "")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a readable parquet file"), "{e}");
}

/// A table of two numeric columns and a string label, as a tabular dataset on the
/// hub (iris-like).
fn write_table(path: &Path) {
    let schema = parse_message_type(
        "message schema {
            required double sepal;
            required int32 petal;
            required binary species (STRING);
        }",
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(Default::default()))
        .build();
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<DoubleType>()
        .write_batch(&[5.1, 4.9, 6.3], None, None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<Int32Type>()
        .write_batch(&[1, 2, 3], None, None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    let s: Vec<ByteArray> = ["virginica", "setosa", "virginica"]
        .iter()
        .map(|s| ByteArray::from(*s))
        .collect();
    c.typed::<ByteArrayType>()
        .write_batch(&s, None, None)
        .unwrap();
    c.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

#[test]
fn tabular_columns() {
    offline();
    let cache = cache_with(&[("default/train/0000.parquet", &write_table)]);
    let cfg = config(
        cache.path(),
        "feature_columns = [\"sepal\", \"petal\"]\nlabel_column = \"species\"",
    );
    let ds = cfg.build(&ctx(Split::Train)).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.classes(), ["setosa", "virginica"]);
    let s = ds.get(1).unwrap();
    let Input::Array(a) = &s.input else { panic!() };
    assert_eq!((a.shape.clone(), a.data.clone()), (vec![2], vec![4.9, 2.0]));
    assert_eq!(s.target, Target::Class(0));
    assert_eq!(ds.get(2).unwrap().target, Target::Class(1));
    // a float column as the label: values
    let cfg = config(
        cache.path(),
        "feature_columns = [\"petal\"]\nlabel_column = \"sepal\"",
    );
    let s = cfg.build(&ctx(Split::Train)).unwrap().get(2).unwrap();
    assert_eq!(s.target, Target::scalar(6.3));
    // a string column is no feature
    let cfg = config(
        cache.path(),
        "feature_columns = [\"species\"]\nlabel_column = \"petal\"",
    );
    let e = cfg.build(&ctx(Split::Train)).err().unwrap().to_string();
    assert!(
        e.contains("row 0: \"species\" is not a number but a string"),
        "{e}"
    );
}
