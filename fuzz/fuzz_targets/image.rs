//! Fuzzes image decoding as ImageFolder does it (PNG, JPEG, GIF, BMP, WebP, ... by
//! content): any bytes give an image or an error naming the file; never a panic, an
//! abort or an allocation past the decoder's limit (a header claiming a huge size is
//! refused before pixels are allocated).
//! (`crates/data/tests/reader_props.rs` is its property in the normal suite.)
//!
//! cargo +nightly fuzz run image fuzz/corpus/image -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick_data::datasets::ImageFolder;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("wick-fuzz-image-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("sample.jpg");
    if std::fs::write(&path, data).is_ok() {
        if let Err(e) = ImageFolder::load(&path) {
            assert!(e.to_string().contains("sample.jpg"), "{e}");
        }
    }
});
