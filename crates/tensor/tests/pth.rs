//! `.pth` files written by PyTorch (scripts/fixtures_pth.py) read by `load_pth`:
//! every dtype and layout with its values, a checkpoint dict, a pickle asking for code,
//! truncated and corrupt archives.

use candle_core::DType;
use std::path::{Path, PathBuf};
use wick_tensor::pth::load_pth;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/fixtures/pth")
        .join(name)
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("small.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check_small(got: &[(String, candle_core::Tensor)]) {
    let want = expected();
    let order: Vec<&str> = want["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, order, "keys in file order");
    for (name, t) in got {
        let w = &want["tensors"][name];
        let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
        assert_eq!(t.dims(), shape.as_slice(), "{name}");
        let dtype = match w["dtype"].as_str().unwrap() {
            "float32" => DType::F32,
            "float64" => DType::F64,
            "float16" => DType::F16,
            "bfloat16" => DType::BF16,
            "uint8" => DType::U8,
            "int64" => DType::I64,
            d => panic!("{d}"),
        };
        assert_eq!(t.dtype(), dtype, "{name}");
        let values: Vec<f64> = serde_json::from_value(w["values"].clone()).unwrap();
        let got: Vec<f64> = t
            .to_dtype(DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(got, values, "{name}");
    }
}

#[test]
fn reads_every_dtype_and_layout_as_pytorch_saved_it() {
    check_small(&load_pth(fixture("small.pth")).unwrap());
}

#[test]
fn finds_the_state_dict_inside_a_checkpoint_dict() {
    check_small(&load_pth(fixture("checkpoint.pth")).unwrap());
}

#[test]
fn refuses_a_pickle_that_asks_for_code_without_running_it() {
    let marker = Path::new("/tmp/wick-pth-pwned");
    let _ = std::fs::remove_file(marker);
    let e = load_pth(fixture("evil.pth")).unwrap_err().to_string();
    assert!(e.contains("evil.pth"), "{e}");
    assert!(
        e.contains("`posix.system`") || e.contains("`os.system`"),
        "{e}"
    );
    assert!(!marker.exists(), "the pickle's code ran");
}

#[test]
fn a_truncated_file_is_named() {
    let bytes = std::fs::read(fixture("small.pth")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        let f = dir.path().join(format!("cut{cut}.pth"));
        std::fs::write(&f, &bytes[..cut]).unwrap();
        let e = load_pth(&f).unwrap_err().to_string();
        assert!(e.contains(&format!("cut{cut}.pth")), "{e}");
    }
}

#[test]
fn corrupt_bytes_never_panic() {
    let bytes = std::fs::read(fixture("small.pth")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("flip.pth");
    let mut state = 0x9e37_79b9_u32;
    for i in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..(1 + i % 4) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % b.len();
            b[at] ^= (state >> 8) as u8 | 1;
        }
        std::fs::write(&f, &b).unwrap();
        // an error or the tensors, never a panic or an unbounded allocation
        let _ = load_pth(&f);
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = load_pth("/nonexistent/w.pth").unwrap_err().to_string();
    assert!(e.contains("/nonexistent/w.pth"), "{e}");
}
