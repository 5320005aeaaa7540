//! Checkpoint folders with damaged files: loading gives an error naming the file, never
//! a panic, whatever the bytes (a header that claims a huge size included).

use candle_core::{DType, Device, Tensor};
use proptest::prelude::*;
use wick_runner::checkpoint::{self, Checkpoint, MODEL_FILE, STATE_FILE};

fn saved(dir: &std::path::Path) -> std::path::PathBuf {
    let d = Device::Cpu;
    let c = Checkpoint {
        model: vec![
            (
                "0.weight".to_string(),
                Tensor::ones((3, 4), DType::F32, &d).unwrap(),
            ),
            (
                "0.bias".to_string(),
                Tensor::zeros(3, DType::F32, &d).unwrap(),
            ),
        ],
        optimizer: vec![(
            "state.0.weight.exp_avg".to_string(),
            Tensor::zeros((3, 4), DType::F32, &d).unwrap(),
        )],
        state: serde_json::json!({ "step": 3 }),
    };
    checkpoint::save(dir, "step-000000003", &c, &["last"], 2).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn damaged_checkpoint_files_are_named(
        which in prop_oneof![Just(MODEL_FILE), Just(STATE_FILE)],
        edit in prop_oneof![
            // cut short
            (0usize..400).prop_map(|n| (n, None)),
            // one byte changed (the header's length included)
            (0usize..400, any::<u8>()).prop_map(|(i, b)| (i, Some(b))),
        ],
        huge_header in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let folder = saved(tmp.path());
        let file = folder.join(which);
        let mut bytes = std::fs::read(&file).unwrap();
        match edit {
            (n, None) => bytes.truncate(n.min(bytes.len())),
            (i, Some(b)) => {
                let i = i % bytes.len();
                bytes[i] = b;
            }
        }
        if huge_header && bytes.len() >= 8 {
            // the first 8 bytes are the header's length: claim far more than the file
            bytes[..8].copy_from_slice(&(u64::MAX / 3).to_le_bytes());
        }
        std::fs::write(&file, &bytes).unwrap();
        match checkpoint::load::<serde_json::Value>(&folder, &Device::Cpu) {
            Ok(_) => {} // a byte of a tensor's data, or of JSON whitespace: still whole
            Err(e) => prop_assert!(e.to_string().contains(&file.display().to_string()), "{}", e),
        }
    }
}
