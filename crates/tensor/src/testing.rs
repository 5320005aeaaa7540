//! Helpers for tests that compare wick with PyTorch fixtures.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

/// The path of a fixture under the repository's `assets/fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/fixtures")
        .join(name)
}

/// Loads a safetensors fixture onto the CPU.
pub fn load_fixture(name: &str) -> HashMap<String, Tensor> {
    let path = fixture_path(name);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot load fixture {}: {e}", path.display()))
}

/// The largest relative difference between `got` and `want`, relative to the largest
/// magnitude in `want`: `max|got − want| / max|want|`.
pub fn rel_error(got: &Tensor, want: &Tensor) -> f64 {
    let g: Vec<f64> = got
        .to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("got");
    let w: Vec<f64> = want
        .to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("want");
    assert_eq!(
        g.len(),
        w.len(),
        "shapes differ: {:?} vs {:?}",
        got.dims(),
        want.dims()
    );
    let scale = w.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    g.iter()
        .zip(&w)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// Asserts `got` matches `want` in shape and within `tol` relative error
/// ([`rel_error`]).
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let e = rel_error(got, want);
    assert!(e <= tol, "{what}: relative error {e:e} > {tol:e}");
}
