//! Fuzzes the experiment parser and validator: any text gives an experiment or a
//! diagnostic that renders, never a panic, an abort or a runaway allocation.
//!
//! cargo +nightly fuzz run experiment fuzz/corpus/experiment -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick_runner::{diagnostic, Experiment};

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        if let Err(d) = Experiment::from_toml(src) {
            let _ = diagnostic::render("fuzz.toml", src, &[d], false);
        }
    }
});
