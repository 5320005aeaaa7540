//! Fuzzes PyTorch `.pth` reading: any bytes give tensors or an error naming the file,
//! never a panic, an abort, a hang or an allocation the file does not justify.
//! (`crates/tensor/tests/pth_props.rs` is its property in the normal suite.)
//!
//! cargo +nightly fuzz run pth fuzz/corpus/pth -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("wick-fuzz-pth-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.pth");
    if std::fs::write(&path, data).is_ok() {
        if let Err(e) = wick_tensor::pth::load_pth(&path) {
            assert!(e.to_string().contains("input.pth"), "{e}");
        }
    }
});
