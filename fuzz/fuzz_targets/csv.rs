//! Fuzzes the CSV dataset: any text (the first byte picks the delimiter, whether there
//! is a header and the label column) gives a dataset whose every sample reads, or an
//! error naming the file; never a panic.
//! (`crates/data/tests/reader_props.rs` is its property in the normal suite.)
//!
//! cargo +nightly fuzz run csv fuzz/corpus/csv -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick_data::datasets::CsvConfig;
use wick_data::Dataset;

fuzz_target!(|data: &[u8]| {
    let Some((&first, text)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("wick-fuzz-csv-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("table.csv");
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let mut cfg = CsvConfig::new(&path);
    cfg.delimiter = [",", ";", "\t", " "][usize::from(first & 3)].to_string();
    cfg.header = first & 4 != 0;
    match cfg.build() {
        Ok(ds) => {
            for i in 0..ds.len() {
                ds.get(i).expect("a built CSV dataset reads every row");
            }
        }
        Err(e) => assert!(e.to_string().contains("table.csv"), "{e}"),
    }
});
