//! `requires_grad_(False)` and frozen BatchNorm statistics: a frozen parameter gets no
//! gradient (none is computed through layers before it when nothing there trains), the
//! summary counts it as non-trainable, and `freeze_batchnorm` keeps running statistics
//! fixed and used in train mode; plus `load_state_dict(strict=False)`'s report.

use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use wick_nn::{BuildCtx, Layer, NodeConfig, Sequential};
use wick_tensor::SeedRng;

fn model() -> Sequential {
    let mut nodes: Vec<NodeConfig> = serde_json::from_value(serde_json::json!([
        { "type": "Linear", "in_features": 4, "out_features": 3 },
        { "type": "BatchNorm1d" },
        { "type": "ReLU" },
        { "type": "Linear", "out_features": 2 },
    ]))
    .unwrap();
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    Sequential::graph(&[("input".into(), vec![4])], &mut nodes, &[], &mut ctx).unwrap()
}

fn input() -> Tensor {
    let v: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
    Tensor::from_vec(v, (6, 4), &Device::Cpu).unwrap()
}

#[test]
fn frozen_parameters_get_no_gradient_and_the_rest_the_same_one() {
    let m = model();
    let x = input();
    let full = m
        .forward(&x, true)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let g_full = full.backward().unwrap();
    let params = m.parameters();
    for p in &params {
        if p.name.starts_with("0.") || p.name.starts_with("1.") {
            p.set_requires_grad(false).unwrap();
        }
    }
    let head = m
        .forward(&x, true)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let g_head = head.backward().unwrap();
    for p in &params {
        let got = g_head.get(p.var.as_tensor());
        if p.requires_grad() {
            let want = g_full.get(p.var.as_tensor()).unwrap();
            let d = (got.unwrap() - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert!(d.to_scalar::<f32>().unwrap() < 1e-6, "{}", p.name);
        } else {
            assert!(got.is_none(), "{} got a gradient", p.name);
        }
    }
    let s = m.summary();
    assert_eq!(s.total_params(), 15 + 6 + 8);
    assert_eq!(s.trainable_params(), 8);
    let table = s.to_string();
    assert!(table.contains("False"), "{table}");
    assert!(table.contains("Non-trainable params: 21"), "{table}");
}

#[test]
fn nothing_before_a_frozen_prefix_is_differentiated() {
    let m = model();
    for p in m.parameters() {
        p.set_requires_grad(false).unwrap();
    }
    let y = m.forward(&input(), true).unwrap();
    // nothing requires a gradient: the output is not part of any autograd graph
    assert!(!y.track_op(), "a graph was recorded through frozen layers");
}

#[test]
fn frozen_batchnorm_uses_and_keeps_its_running_statistics() {
    let m = model();
    let stats = |m: &Sequential| -> Vec<f32> {
        m.buffers()
            .iter()
            .filter(|(n, _)| n == "1.running_mean")
            .flat_map(|(_, t)| t.to_vec1::<f32>().unwrap())
            .collect()
    };
    let x = input();
    let before = stats(&m);
    let (_, bn) = m.children().into_iter().find(|(n, _)| n == "1").unwrap();
    bn.freeze_batchnorm(true);
    let train = m.forward(&x, true).unwrap();
    assert_eq!(stats(&m), before, "running statistics updated");
    let eval = m.forward(&x, false).unwrap();
    let d = (train - eval).unwrap().abs().unwrap().max_all().unwrap();
    assert_eq!(
        d.to_scalar::<f32>().unwrap(),
        0.0,
        "train mode not normalized as eval"
    );
    bn.freeze_batchnorm(false);
    m.forward(&x, true).unwrap();
    assert_ne!(stats(&m), before, "unfrozen, statistics update again");
}

/// The error of loading `state` into `m`.
fn load_err(m: &Sequential, state: &HashMap<String, Tensor>, strict: bool) -> String {
    m.load_state_dict_with(state, strict)
        .unwrap_err()
        .to_string()
}

#[test]
fn non_strict_loading_reports_missing_and_unexpected_keys() {
    let src = model();
    let dst = model();
    let mut state: HashMap<String, Tensor> = src.state_dict().into_iter().collect();
    state.remove("3.weight");
    state.insert(
        "head.weight".into(),
        Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
    );
    let e = load_err(&dst, &state, true);
    assert!(
        e.contains("Missing key(s) in state_dict: \"3.weight\""),
        "{e}"
    );
    assert!(
        e.contains("Unexpected key(s) in state_dict: \"head.weight\""),
        "{e}"
    );
    let report = dst.load_state_dict_with(&state, false).unwrap();
    assert_eq!(report.missing_keys, vec!["3.weight".to_string()]);
    assert_eq!(report.unexpected_keys, vec!["head.weight".to_string()]);
    let w = |m: &Sequential, k: &str| -> Vec<f32> {
        let sd: HashMap<String, Tensor> = m.state_dict().into_iter().collect();
        sd[k].flatten_all().unwrap().to_vec1().unwrap()
    };
    assert_eq!(
        w(&dst, "0.weight"),
        w(&src, "0.weight"),
        "shared keys copied"
    );
    let mut wrong = state.clone();
    wrong.insert(
        "0.bias".into(),
        Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap(),
    );
    let e = load_err(&dst, &wrong, false);
    assert!(e.contains("size mismatch for 0.bias"), "{e}");
}

#[test]
fn a_plain_var_cannot_be_frozen_and_says_why() {
    let p = wick_tensor::Param::new("w", Var::zeros(2, DType::F32, &Device::Cpu).unwrap());
    let e = p.set_requires_grad(false).unwrap_err().to_string();
    assert!(e.contains("`w` cannot be frozen"), "{e}");
    assert!(p.requires_grad());
}
