//! Fuzzes the IDX reader (MNIST's files), gzipped or not: any bytes give an array whose
//! header describes exactly the bytes that follow, or an error naming the file; never a
//! panic, an abort or an allocation the file does not justify.
//! (`crates/data/tests/reader_props.rs` is its property in the normal suite.)
//!
//! cargo +nightly fuzz run idx fuzz/corpus/idx -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let ndim = usize::from(first % 4) + 1;
    if let Ok(a) = wick_data::idx::parse_u8(bytes, ndim) {
        assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
    }
    let dir = std::env::temp_dir().join(format!("wick-fuzz-idx-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("t10k-images-idx3-ubyte");
    if std::fs::write(&path, bytes).is_ok() {
        if let Err(e) = wick_data::idx::read_u8(&path, ndim) {
            assert!(e.to_string().contains("t10k-images-idx3-ubyte"), "{e}");
        }
    }
});
