//! Fuzzes `--set KEY=VALUE` overrides: the first lines of the input are `--set`
//! arguments, the rest an experiment file; parsing the arguments, applying them to the
//! text and validating the result give an experiment or an error; never a panic.
//!
//! cargo +nightly fuzz run overrides fuzz/corpus/overrides -- -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick_runner::{overrides, Experiment, Override};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sets, src) = text.split_once("\n\n").unwrap_or((text, ""));
    let parsed: Result<Vec<Override>, _> = sets.lines().map(str::parse).collect();
    let Ok(ovs) = parsed else {
        return;
    };
    if let Ok(out) = overrides::apply(src, &ovs) {
        let _ = Experiment::from_toml(&out);
    }
});
