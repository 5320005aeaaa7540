//! Hugging Face hub datasets without the network: each test writes a hub cache
//! (`refs/` + `snapshots/` + `blobs/`, the layout `huggingface_hub` and `hf-hub`
//! share) holding parquet files it writes itself, in the schema `datasets` gives
//! MNIST (`image {bytes, path}`, `label` int64 with `ClassLabel` names), and reads
//! them with `HF_HUB_OFFLINE=1`.
//!
//! Run with `just test-hub` (`cargo test -p wick-data --features hub --test hub`).
#![cfg(feature = "hub")]

mod common_hub;

use candle_core::{DType, Device};
use common_hub::*;
use wick_data::datasets::HuggingFace;
use wick_data::transforms::{Compose, TransformConfig};
use wick_data::{DataLoader, DataLoaderConfig, Dataset, Input, Split, Target};

/// Every test reads the cache only (all set the same value).
fn offline() {
    std::env::set_var("HF_HUB_OFFLINE", "1");
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
    let hc = cfg
        .downcast_ref::<wick_data::datasets::HuggingFaceConfig>()
        .unwrap();
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
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
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
