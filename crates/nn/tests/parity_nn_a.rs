//! Layers against PyTorch (`scripts/fixtures_nn_a.py` → `assets/fixtures/nn_a.*`):
//! for every case, the layer is built from the same config a TOML file would hold,
//! PyTorch's parameters and buffers are loaded by their `state_dict` names, and the
//! output, the input gradient, every parameter gradient and the buffers after each step
//! (train or eval mode) must match within 1e-5 relative. `repr()` and the `state_dict`
//! key order must match exactly.

use candle_core::{DType, Device, Tensor, Var};
use serde::Deserialize;
use std::collections::HashMap;
use wick_nn::{BuildCtx, LayerConfig};
use wick_tensor::testing::{assert_close, fixture_path, load_fixture};
use wick_tensor::SeedRng;

#[derive(Deserialize)]
struct Case {
    name: String,
    config: serde_json::Value,
    repr: String,
    modes: Vec<String>,
    state_dict: Vec<String>,
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

const TOL: f64 = 1e-5;

fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .and_then(|t| t.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>())
        .unwrap_or(0.0)
}

/// Gradient comparison: within `TOL` relative to the tensor's largest value — except for
/// a gradient that is zero in exact arithmetic (a bias followed by a train-mode
/// BatchNorm), which both frameworks return as rounding noise: when PyTorch's is below
/// `TOL` times the step's largest gradient `scale`, wick's must be too.
fn assert_grad(what: &str, got: &Tensor, want: &Tensor, scale: f64) {
    if max_abs(want) < TOL * scale {
        assert_eq!(got.dims(), want.dims(), "{what}: shape");
        let m = max_abs(got);
        assert!(
            m < TOL * scale,
            "{what}: should be ~0 (PyTorch's is), got max |g| = {m:e}"
        );
    } else {
        assert_close(what, got, want, TOL);
    }
}

fn run_case(case: &Case, f: &HashMap<String, Tensor>) {
    let name = &case.name;
    let get = |k: String| -> &Tensor {
        f.get(&k)
            .unwrap_or_else(|| panic!("{name}: fixture has no {k}"))
    };
    let mut cfg: LayerConfig = serde_json::from_value(case.config.clone())
        .unwrap_or_else(|e| panic!("{name}: config: {e}"));
    let x0 = get(format!("{name}.0.x"));
    cfg.infer(&x0.dims()[1..])
        .unwrap_or_else(|e| panic!("{name}: infer: {e}"));
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let layer = cfg.build(&mut ctx).unwrap();
    assert_eq!(layer.describe(), case.repr, "{name}: repr");
    let keys: Vec<String> = layer.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, case.state_dict, "{name}: state_dict keys");

    let params = layer.parameters();
    for p in &params {
        p.var.set(get(format!("{name}.param.{}", p.name))).unwrap();
    }
    for (b, _) in layer.buffers() {
        layer
            .load_buffer(&b, get(format!("{name}.buffer.{b}")))
            .unwrap();
    }
    for (k, mode) in case.modes.iter().enumerate() {
        let train = mode == "train";
        let what = |s: &str| format!("{name} step {k} ({mode}) {s}");
        let x = get(format!("{name}.{k}.x"));
        let xv = x.dtype().is_float().then(|| Var::from_tensor(x).unwrap());
        let input = xv.as_ref().map_or(x.clone(), |v| v.as_tensor().clone());
        let out = layer.forward(&input, train).unwrap();
        assert_close(&what("out"), &out, get(format!("{name}.{k}.out")), TOL);
        let g = get(format!("{name}.{k}.g"));
        let grads = (out * g).unwrap().sum_all().unwrap().backward().unwrap();
        let scale = f
            .iter()
            .filter(|(key, _)| {
                key.starts_with(&format!("{name}.{k}.grad.")) || *key == &format!("{name}.{k}.dx")
            })
            .map(|(_, t)| max_abs(t))
            .fold(0.0, f64::max);
        if let Some(v) = &xv {
            let dx = grads
                .get(v.as_tensor())
                .cloned()
                .unwrap_or_else(|| v.as_tensor().zeros_like().unwrap());
            assert_grad(&what("dx"), &dx, get(format!("{name}.{k}.dx")), scale);
        }
        for p in &params {
            let got = grads
                .get(p.var.as_tensor())
                .cloned()
                .unwrap_or_else(|| p.var.as_tensor().zeros_like().unwrap());
            assert_grad(
                &what(&format!("grad {}", p.name)),
                &got,
                get(format!("{name}.{k}.grad.{}", p.name)),
                scale,
            );
        }
        for (b, t) in layer.buffers() {
            assert_close(
                &what(&format!("buffer {b}")),
                &t,
                get(format!("{name}.{k}.buffer.{b}")),
                TOL,
            );
        }
    }
}

#[test]
fn every_layer_matches_pytorch() {
    let f = load_fixture("nn_a.safetensors");
    let json = std::fs::read_to_string(fixture_path("nn_a.json")).unwrap();
    let fixture: Fixture = serde_json::from_str(&json).unwrap();
    assert!(fixture.cases.len() >= 50);
    let mut failures = Vec::new();
    for case in &fixture.cases {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(case, &f)));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
