//! clip_grad_norm / clip_grad_value against PyTorch's `torch.nn.utils.clip_grad_norm_`
//! and `clip_grad_value_` (`scripts/fixtures_optim.py`).

mod common;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use common::{fixture_path, load_fixture};
use std::collections::HashMap;
use wick_optim::{ClipGradNormConfig, ClipGradValueConfig};
use wick_tensor::testing::assert_close;
use wick_tensor::Param;

const NAMES: [&str; 3] = ["0.weight", "0.bias", "1.weight"];

fn setup(f: &HashMap<String, Tensor>) -> (Vec<Param>, GradStore) {
    let params: Vec<Param> = NAMES
        .iter()
        .map(|n| Param::new(*n, Var::from_tensor(&f[&format!("init.{n}")]).unwrap()))
        .collect();
    let mut total = Tensor::new(0f32, &candle_core::Device::Cpu).unwrap();
    for p in &params {
        total = (total + p.tensor().sum_all().unwrap()).unwrap();
    }
    let mut grads = total.backward().unwrap();
    for p in &params {
        grads.insert(p.tensor(), f[&format!("clip.grad.{}", p.name)].clone());
    }
    (params, grads)
}

#[test]
fn clip_grad_norm_matches_pytorch() {
    let f = load_fixture("optim.safetensors");
    let text = std::fs::read_to_string(fixture_path("optim.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = v["clip_norm"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let mut cfg = c["config"].clone();
        if cfg["norm_type"] == "inf" {
            cfg["norm_type"] = serde_json::json!(f64::MAX);
        }
        let mut cfg: ClipGradNormConfig = serde_json::from_value(cfg).unwrap();
        if cfg.norm_type == f64::MAX {
            cfg.norm_type = f64::INFINITY;
        }
        let (params, mut grads) = setup(&f);
        let total = cfg.apply(&mut grads, &params).unwrap();
        let want = f[&format!("clip.{name}.total_norm")]
            .to_vec1::<f32>()
            .unwrap()[0] as f64;
        assert!(
            (total - want).abs() <= 1e-5 * want,
            "{name}: total norm {total} vs {want}"
        );
        for p in &params {
            assert_close(
                &format!("{name}: {}", p.name),
                grads.get(p.tensor()).unwrap(),
                &f[&format!("clip.{name}.{}", p.name)],
                1e-5,
            );
        }
    }
}

#[test]
fn clip_grad_value_matches_pytorch() {
    let f = load_fixture("optim.safetensors");
    let (params, mut grads) = setup(&f);
    ClipGradValueConfig { clip_value: 0.3 }
        .apply(&mut grads, &params)
        .unwrap();
    for p in &params {
        assert_close(
            &p.name,
            grads.get(p.tensor()).unwrap(),
            &f[&format!("clip.value.{}", p.name)],
            1e-6,
        );
    }
}

#[test]
fn nonfinite_norm_is_an_error_when_asked() {
    let f = load_fixture("optim.safetensors");
    let (params, mut grads) = setup(&f);
    let g = grads.get(params[1].tensor()).unwrap().clone();
    let bad = Tensor::full(f32::NAN, g.shape(), g.device()).unwrap();
    grads.insert(params[1].tensor(), bad);
    let cfg = ClipGradNormConfig {
        max_norm: 1.0,
        norm_type: 2.0,
        error_if_nonfinite: true,
    };
    let e = cfg.apply(&mut grads, &params).unwrap_err().to_string();
    assert!(e.contains("is non-finite, so it cannot be clipped"), "{e}");
    let cfg = ClipGradNormConfig {
        error_if_nonfinite: false,
        ..cfg
    };
    assert!(cfg.apply(&mut grads, &params).unwrap().is_nan());
}
