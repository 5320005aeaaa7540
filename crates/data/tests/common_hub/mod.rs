//! What the hub tests share: a hub cache written in a temporary folder, holding
//! parquet files written here.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use wick_data::datasets::{DatasetConfig, DatasetContext};
use wick_data::{Input, Split};

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

pub const REPO: &str = "wick-test/digits";
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
pub const NAMES: [&str; 3] = ["zero", "one", "two"];

/// Pixel `(y, x)` of image `i`: 4 wide, 3 high, gray.
pub fn pixel(i: usize, y: usize, x: usize) -> u8 {
    (i * 20 + y * 4 + x) as u8
}

pub fn png(i: usize) -> Vec<u8> {
    let img =
        image::GrayImage::from_fn(4, 3, |x, y| image::Luma([pixel(i, y as usize, x as usize)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn label(i: usize) -> i64 {
    (i % 3) as i64
}

/// A parquet file of images `ids` as `datasets` writes MNIST: a struct column
/// `image {bytes, path}` (path null), an int64 `label`, and the features in the
/// `huggingface` metadata.
pub fn write_images(path: &Path, ids: &[usize]) {
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
        .write_batch(&bytes, Some(&vec![2i16; n][..]), None)
        .unwrap();
    c.close().unwrap();
    // image.path: null (level 1: the struct is there, the path is not)
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>()
        .write_batch(&[], Some(&vec![1i16; n][..]), None)
        .unwrap();
    c.close().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    let labels: Vec<i64> = ids.iter().map(|&i| label(i)).collect();
    c.typed::<Int64Type>()
        .write_batch(&labels, Some(&vec![1i16; n][..]), None)
        .unwrap();
    c.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

pub fn serde_json_names() -> String {
    format!(
        r#"{{"info": {{"features": {{"image": {{"_type": "Image"}}, "label": {{"names": [{}], "_type": "ClassLabel"}}}}}}}}"#,
        NAMES
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Writes a file of the repository at the path given.
pub type Writer<'a> = &'a dyn Fn(&Path);

/// A hub cache holding `files` (name in the repository → writer) of `REPO` on the
/// parquet branch. The files are blobs linked from the snapshot, as the hub
/// libraries store them (copies where links are not available).
pub fn cache_with(files: &[(&str, Writer)]) -> tempfile::TempDir {
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
pub fn digits_cache() -> tempfile::TempDir {
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

pub fn ctx(split: Split) -> DatasetContext<'static> {
    DatasetContext {
        split,
        root: PathBuf::from("."),
        download: false,
        mirrors: None,
        seed: 3,
    }
}

pub fn config(cache: &Path, extra: &str) -> DatasetConfig {
    toml::from_str(&format!(
        "type = \"HuggingFace\"\npath = \"{REPO}\"\ncache_dir = {:?}\n{extra}",
        cache.display().to_string()
    ))
    .unwrap()
}

pub fn gray(s: &wick_data::Sample) -> (Vec<u8>, usize, usize, usize) {
    let Input::Image(img) = &s.input else {
        panic!("not an image: {:?}", s.input)
    };
    (img.data.clone(), img.channels, img.height, img.width)
}

pub fn want(i: usize) -> Vec<u8> {
    (0..3)
        .flat_map(|y| (0..4).map(move |x| pixel(i, y, x)))
        .collect()
}

/// A table of two numeric columns and a string label, as a tabular dataset on the
/// hub (iris-like).
pub fn write_table(path: &Path) {
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
