//! Fuzzes checkpoint loading: the input is split into a `model.safetensors` and a
//! `state.safetensors` (its first two bytes give the first file's length), loaded as
//! `--resume` does and applied to a small model; any bytes give a loaded model or an
//! error naming the bad file; never a panic or an allocation the file does not justify.
//!
//! cargo +nightly fuzz run checkpoint fuzz/corpus/checkpoint -- -max_total_time=600
#![no_main]

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;
use wick_runner::{build_model, checkpoint, Experiment};

const MODEL: &str = r#"
name = "fuzz"
[data.dataset]
type = "Tensors"
x = [[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]]
y = [0, 1]
[data.train]
batch_size = 1
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "Adam"
[model]
input = [4]
layers = [
  { type = "Linear", out_features = 3 },
  { type = "BatchNorm1d" },
  { type = "ReLU" },
  { type = "Linear", out_features = 2 },
]
"#;

fuzz_target!(|data: &[u8]| {
    static MODEL_DEF: OnceLock<Experiment> = OnceLock::new();
    let exp = MODEL_DEF.get_or_init(|| Experiment::from_toml(MODEL).expect("the fuzz model"));
    if data.len() < 2 {
        return;
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (model_bytes, state_bytes) = data[2..].split_at(n);
    let dir = std::env::temp_dir().join(format!("wick-fuzz-ckpt-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    if std::fs::write(dir.join(checkpoint::MODEL_FILE), model_bytes).is_err()
        || std::fs::write(dir.join(checkpoint::STATE_FILE), state_bytes).is_err()
    {
        return;
    }
    match checkpoint::load::<serde_json::Value>(&dir, &Device::Cpu) {
        Ok(ck) => {
            let model = build_model(exp, &Device::Cpu).expect("the fuzz model builds");
            let state: HashMap<_, _> = ck.model.into_iter().collect();
            let _ = model.load_state_dict(&state);
        }
        Err(e) => {
            let s = e.to_string();
            assert!(s.contains("safetensors"), "{s}");
        }
    }
});
