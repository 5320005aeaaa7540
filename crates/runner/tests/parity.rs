//! The course's MLP and a Conv2d + MaxPool2d model against real PyTorch
//! (`scripts/make_fixtures.py` → `assets/fixtures/parity.safetensors`): initial
//! parameters loaded by `state_dict` name, then logits, loss, every gradient, and the
//! parameters after three SGD steps, all within 1e-5 relative.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use wick_losses::{CrossEntropyLoss, Loss};
use wick_nn::{
    BuildCtx, Conv2dConfig, FlattenConfig, IntOrPair, LayerConfig, LinearConfig, MaxPool2dConfig,
    ReLUConfig, Sequential,
};
use wick_optim::{Optimizer, SgdConfig};
use wick_tensor::testing::{assert_close, load_fixture};
use wick_tensor::SeedRng;

const TOL: f64 = 1e-5;

fn linear(out: usize) -> LayerConfig {
    LayerConfig::from(LinearConfig {
        in_features: None,
        out_features: out,
        bias: true,
        init: None,
    })
}
fn relu() -> LayerConfig {
    LayerConfig::from(ReLUConfig::default())
}

fn build(
    input: &[usize],
    mut layers: Vec<LayerConfig>,
    f: &HashMap<String, Tensor>,
    prefix: &str,
) -> Sequential {
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let model = Sequential::new(input, &mut layers, &mut ctx).unwrap();
    let p = format!("{prefix}.param.");
    let state: HashMap<String, Tensor> = f
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&p).map(|n| (n.to_string(), v.clone())))
        .collect();
    model.load_state_dict(&state).unwrap();
    model
}

fn check(
    prefix: &str,
    model: &Sequential,
    sgd: SgdConfig,
    step3: &str,
    f: &HashMap<String, Tensor>,
) {
    let ce = CrossEntropyLoss::new(Default::default()).unwrap();
    // forward, loss and every gradient on batch 0
    let x = &f[&format!("{prefix}.input.0")];
    let y = &f[&format!("{prefix}.target.0")];
    let logits = model.forward(x, true).unwrap();
    assert_close(
        &format!("{prefix} logits"),
        &logits,
        &f[&format!("{prefix}.logits")],
        TOL,
    );
    let loss = ce.forward(&logits, y).unwrap();
    assert_close(
        &format!("{prefix} loss"),
        &loss,
        &f[&format!("{prefix}.loss")],
        TOL,
    );
    let grads = loss.backward().unwrap();
    for p in model.parameters() {
        let g = grads
            .get(p.tensor())
            .unwrap_or_else(|| panic!("no gradient for {}", p.name));
        assert_close(
            &format!("{prefix} grad {}", p.name),
            g,
            &f[&format!("{prefix}.grad.{}", p.name)],
            TOL,
        );
    }
    // three optimizer steps on batches 0, 1, 2
    let mut opt = sgd.build(model.parameters()).unwrap();
    let mut losses = Vec::new();
    for k in 0..3 {
        let x = &f[&format!("{prefix}.input.{k}")];
        let y = &f[&format!("{prefix}.target.{k}")];
        let loss = ce.forward(&model.forward(x, true).unwrap(), y).unwrap();
        losses.push(loss.to_scalar::<f32>().unwrap());
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    if step3 == "step3" {
        let want = &f[&format!("{prefix}.losses")];
        assert_close(
            &format!("{prefix} losses"),
            &Tensor::new(losses, &Device::Cpu).unwrap(),
            want,
            TOL,
        );
    }
    for p in model.parameters() {
        assert_close(
            &format!("{prefix} {step3} {}", p.name),
            p.tensor(),
            &f[&format!("{prefix}.{step3}.{}", p.name)],
            TOL,
        );
    }
}

fn mlp_layers() -> Vec<LayerConfig> {
    vec![
        LayerConfig::from(FlattenConfig::default()),
        linear(512),
        relu(),
        linear(256),
        relu(),
        linear(128),
        relu(),
        linear(64),
        relu(),
        linear(10),
    ]
}

#[test]
fn mlp_sgd_momentum_matches_pytorch() {
    let f = load_fixture("parity.safetensors");
    let model = build(&[1, 28, 28], mlp_layers(), &f, "mlp");
    check(
        "mlp",
        &model,
        SgdConfig {
            lr: 0.01,
            momentum: 0.5,
            ..Default::default()
        },
        "step3",
        &f,
    );
}

#[test]
fn mlp_sgd_dampening_weight_decay_matches_pytorch() {
    let f = load_fixture("parity.safetensors");
    let model = build(&[1, 28, 28], mlp_layers(), &f, "mlp");
    let sgd = SgdConfig {
        lr: 0.02,
        momentum: 0.8,
        dampening: 0.3,
        weight_decay: 5e-4,
        ..Default::default()
    };
    check("mlp", &model, sgd, "damp.step3", &f);
}

#[test]
fn cnn_sgd_nesterov_matches_pytorch() {
    let f = load_fixture("parity.safetensors");
    let layers = vec![
        LayerConfig::from(Conv2dConfig {
            in_channels: None,
            padding: IntOrPair::Int(1).into(),
            ..Conv2dConfig::new(1, 4, 3)
        }),
        relu(),
        LayerConfig::from(MaxPool2dConfig::new(2)),
        LayerConfig::from(Conv2dConfig {
            in_channels: None,
            ..Conv2dConfig::new(4, 6, 3)
        }),
        relu(),
        LayerConfig::from(MaxPool2dConfig {
            stride: Some(IntOrPair::Int(2)),
            padding: IntOrPair::Int(1),
            ..MaxPool2dConfig::new(3)
        }),
        LayerConfig::from(FlattenConfig::default()),
        linear(10),
    ];
    let model = build(&[1, 12, 12], layers, &f, "cnn");
    let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"]
    );
    let sgd = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 1e-3,
        nesterov: true,
        ..Default::default()
    };
    check("cnn", &model, sgd, "step3", &f);
}
