//! Every reader of data files, fed arbitrary bytes: an error naming the file or a
//! dataset, never a panic, and no allocation larger than the file justifies (a header
//! that claims a huge size is refused before anything is allocated). The fuzz targets'
//! properties, in the normal suite.

use proptest::prelude::*;
use std::io::Write;
use std::path::Path;
use wick_data::datasets::{CsvConfig, ImageFolder};
use wick_data::idx::{parse_u8, read_u8};
use wick_data::{Cifar, CifarKind, Error, Split};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An error of a reader names the file it read.
fn names(e: &Error, path: &Path) -> bool {
    e.to_string().contains(&path.display().to_string())
}

/// IDX bytes: a valid header for `dims`, then `body` (of any length).
fn idx(ndim: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, ndim];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// A baseline JPEG header (SOI, SOF0) announcing `w × h` pixels in 3 components, and
/// nothing after it.
fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v
}

/// A PNG signature and header chunk announcing `w × h` RGB pixels, then the start of
/// a data chunk.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&w.to_be_bytes());
    chunk.extend_from_slice(&h.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&chunk);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&chunk);
    v.extend_from_slice(&crc.sum().to_be_bytes());
    // the start of the pixel data, where a decoder knows the size and allocates
    v.extend_from_slice(&16u32.to_be_bytes());
    v.extend_from_slice(b"IDAT");
    v.extend_from_slice(&[0; 20]);
    v
}

#[test]
fn an_image_claiming_a_huge_size_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge.png");
    std::fs::write(&path, png_header(60_000, 60_000)).unwrap();
    let e = ImageFolder::load(&path).unwrap_err();
    assert!(names(&e, &path), "{e}");
    // refused by the decoder's allocation limit, before reading any pixel
    assert!(e.to_string().contains("limit"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn image_bytes_never_panic(
        magic in prop_oneof![
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(vec![0xFF, 0xD8, 0xFF]),
            Just(b"GIF89a".to_vec()),
            Just(b"BM".to_vec()),
            (1u16..3000, 1u16..3000).prop_map(|(w, h)| jpeg_header(w, h)),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.png");
        std::fs::write(&path, [magic, tail].concat()).unwrap();
        if let Err(e) = ImageFolder::load(&path) {
            prop_assert!(names(&e, &path), "{}", e);
        }
    }

    #[test]
    fn idx_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), ndim in 1usize..4) {
        let _ = parse_u8(&bytes, ndim);
    }

    #[test]
    fn idx_headers_claiming_anything_are_checked_against_the_data(
        dims in proptest::collection::vec(any::<u32>(), 3),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = idx(3, &dims, &body);
        match parse_u8(&bytes, 3) {
            // accepted only when the header describes exactly the bytes that follow
            Ok(a) => {
                prop_assert_eq!(a.data.len(), body.len());
                prop_assert_eq!(a.dims.iter().product::<usize>(), body.len());
            }
            Err(m) => prop_assert!(!m.is_empty()),
        }
    }

    #[test]
    fn idx_files_gzipped_or_not_give_errors_naming_them(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        zip in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t10k-labels-idx1-ubyte");
        std::fs::write(&path, if zip { gzip(&bytes) } else { bytes.clone() }).unwrap();
        if let Err(e) = read_u8(&path, 1) {
            prop_assert!(names(&e, &path), "{}", e);
        }
    }

    #[test]
    fn csv_text_never_panics(
        rows in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    any::<f32>().prop_map(|v| v.to_string()),
                    "[ a-z0-9.eE+-]{0,6}",
                    Just(String::new()),
                    Just("\"1\"".to_string()),
                ],
                0..5,
            ),
            0..6,
        ),
        delimiter in prop_oneof![Just(","), Just(";"), Just("\t")],
        header in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("table.csv");
        let text: Vec<String> = rows.iter().map(|r| r.join(delimiter)).collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        let mut cfg = CsvConfig::new(&path);
        cfg.delimiter = delimiter.to_string();
        cfg.header = header;
        match cfg.build() {
            Ok(ds) => prop_assert!(rows.len() >= usize::from(header) + wick_data::Dataset::len(&ds)),
            Err(e) => prop_assert!(names(&e, &path), "{}", e),
        }
    }

    #[test]
    fn cifar_records_never_panic(
        records in 0usize..3,
        label in any::<u8>(),
        extra in 0usize..3,
        names_given in 0usize..12,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for _ in 0..records {
            bytes.push(label);
            bytes.extend(std::iter::repeat_n(7u8, 3072));
        }
        bytes.extend(std::iter::repeat_n(1u8, extra));
        std::fs::write(tmp.path().join("test_batch.bin"), &bytes).unwrap();
        let meta: Vec<String> = (0..names_given).map(|i| format!("class{i}")).collect();
        std::fs::write(tmp.path().join("batches.meta.txt"), meta.join("\n")).unwrap();
        let r = Cifar::from_dir(CifarKind::Cifar10, tmp.path(), Split::Test);
        let whole = records > 0 && extra == 0 && label < 10 && names_given == 10;
        prop_assert_eq!(r.is_ok(), whole, "{:?}", r.err().map(|e| e.to_string()));
    }
}
