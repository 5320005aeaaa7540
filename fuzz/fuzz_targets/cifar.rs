//! Fuzzes the CIFAR readers: the binary records (`test_batch.bin` with its
//! `batches.meta.txt`) and the pickled batches of the Python version (wick's pickle
//! reader, which runs nothing, and its NumPy arrays). Any bytes give a dataset or an
//! error naming the file; never a panic, an abort or an allocation the file does not
//! justify. (`crates/data/tests/{reader_props,cifar_pickle}.rs` in the normal suite.)
//!
//! cargo +nightly fuzz run cifar fuzz/corpus/cifar -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick_data::{pickle, Cifar, CifarKind, Split};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = pickle::load(data) {
        for key in ["data", "labels", "label_names"] {
            if let Some(a) = v.get(key) {
                let _ = pickle::ndarray_u8(a);
                let _ = a.items();
            }
        }
        let _ = v.text();
        let _ = pickle::ndarray_u8(&v);
    }
    let dir = std::env::temp_dir().join(format!("wick-fuzz-cifar-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let names: Vec<String> = (0..10).map(|i| format!("class{i}")).collect();
    if std::fs::write(dir.join("test_batch.bin"), data).is_err()
        || std::fs::write(dir.join("batches.meta.txt"), names.join("\n")).is_err()
    {
        return;
    }
    if let Err(e) = Cifar::from_dir(CifarKind::Cifar10, &dir, Split::Test) {
        assert!(e.to_string().contains("test_batch.bin"), "{e}");
    }
});
