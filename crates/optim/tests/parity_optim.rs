//! Every optimizer against PyTorch (`scripts/fixtures_optim.py`): the parameter
//! trajectory over 20 steps from fixed parameters and gradients, for the variants in
//! `assets/fixtures/optim.json` (weight decay, momentum, nesterov, amsgrad, centered,
//! maximize, parameter groups); and the state dict round trip (10 steps, save, load
//! into a fresh optimizer, 10 steps = 20 steps).

mod common;

use candle_core::backprop::GradStore;
use candle_core::{DType, IndexOp, Tensor, Var};
use common::{fixture_path, load_fixture};
use std::collections::HashMap;
use wick_optim::{Optimizer, OptimizerConfig};
use wick_tensor::testing::rel_error;
use wick_tensor::Param;

const NAMES: [&str; 3] = ["0.weight", "0.bias", "1.weight"];
const STEPS: usize = 20;

fn cases() -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(fixture_path("optim.json")).expect("optim.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["optimizers"]
        .as_array()
        .expect("optimizers")
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["config"].clone()))
        .collect()
}

fn params(f: &HashMap<String, Tensor>) -> Vec<Param> {
    NAMES
        .iter()
        .map(|n| {
            Param::new(
                *n,
                Var::from_tensor(&f[&format!("init.{n}")].copy().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// A GradStore holding exactly `grads[i]` for `params[i]`.
fn grad_store(params: &[Param], grads: &[Tensor]) -> GradStore {
    let mut total = Tensor::new(0f32, &candle_core::Device::Cpu).unwrap();
    for (p, g) in params.iter().zip(grads) {
        total = (total + (p.tensor() * g).unwrap().sum_all().unwrap()).unwrap();
    }
    let mut store = total.backward().unwrap();
    for (p, g) in params.iter().zip(grads) {
        store.insert(p.tensor(), g.clone());
    }
    store
}

fn step_grads(f: &HashMap<String, Tensor>, s: usize) -> Vec<Tensor> {
    NAMES
        .iter()
        .map(|n| f[&format!("grads.{n}")].i(s).unwrap())
        .collect()
}

fn values(params: &[Param]) -> Vec<Vec<f32>> {
    params
        .iter()
        .map(|p| p.tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect()
}

#[test]
fn optimizers_match_pytorch_trajectories() {
    let f = load_fixture("optim.safetensors");
    let mut worst = Vec::new();
    for (name, cfg) in cases() {
        let cfg: OptimizerConfig =
            serde_json::from_value(cfg).unwrap_or_else(|e| panic!("{name}: config: {e}"));
        let ps = params(&f);
        let mut opt = cfg.build(ps.clone()).unwrap();
        let mut case_worst = 0f64;
        for s in 0..STEPS {
            opt.step(&grad_store(&ps, &step_grads(&f, s))).unwrap();
            for p in &ps {
                let want = f[&format!("opt.{name}.{}", p.name)].i(s).unwrap();
                let e = rel_error(p.tensor(), &want);
                assert!(
                    e <= 1e-5,
                    "{name}: `{}` after step {}: relative error {e:e}",
                    p.name,
                    s + 1
                );
                case_worst = case_worst.max(e);
            }
        }
        worst.push((name, case_worst));
    }
    assert!(worst.len() >= 30, "{} cases", worst.len());
    eprintln!("{worst:?}");
}

#[test]
fn state_dict_round_trip_equals_uninterrupted_run() {
    let f = load_fixture("optim.safetensors");
    for (name, cfg) in cases() {
        let cfg: OptimizerConfig = serde_json::from_value(cfg).unwrap();
        // 20 uninterrupted steps
        let ps = params(&f);
        let mut opt = cfg.build(ps.clone()).unwrap();
        for s in 0..STEPS {
            opt.step(&grad_store(&ps, &step_grads(&f, s))).unwrap();
        }
        let want = values(&ps);
        // 10 steps, save, load into a fresh optimizer over fresh parameters, 10 more
        let ps = params(&f);
        let mut opt = cfg.build(ps.clone()).unwrap();
        for s in 0..10 {
            opt.step(&grad_store(&ps, &step_grads(&f, s))).unwrap();
        }
        let state = opt.state_dict().unwrap();
        let saved: Vec<Tensor> = ps.iter().map(|p| p.tensor().copy().unwrap()).collect();
        drop(opt);
        let fresh: Vec<Param> = NAMES
            .iter()
            .zip(&saved)
            .map(|(n, t)| Param::new(*n, Var::from_tensor(t).unwrap()))
            .collect();
        let mut opt = cfg.build(fresh.clone()).unwrap();
        opt.load_state_dict(&state).unwrap();
        for s in 10..STEPS {
            opt.step(&grad_store(&fresh, &step_grads(&f, s))).unwrap();
        }
        assert_eq!(values(&fresh), want, "{name}: resumed run differs");
    }
}

#[test]
fn load_state_dict_rejects_a_mismatching_state() {
    let f = load_fixture("optim.safetensors");
    let cfg: OptimizerConfig =
        serde_json::from_value(serde_json::json!({"type": "Adam", "lr": 0.01})).unwrap();
    let ps = params(&f);
    let mut opt = cfg.build(ps.clone()).unwrap();
    opt.step(&grad_store(&ps, &step_grads(&f, 0))).unwrap();
    let state = opt.state_dict().unwrap();
    let keys: Vec<&str> = state.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"state.0.weight.exp_avg"), "{keys:?}");
    assert!(keys.contains(&"state.0.weight.step"), "{keys:?}");
    assert!(keys.contains(&"param_groups.0.lr"), "{keys:?}");

    let mut renamed = state.clone();
    renamed[0].0 = renamed[0].0.replace("0.weight", "9.weight");
    let e = opt.load_state_dict(&renamed).unwrap_err().to_string();
    assert!(e.contains("no parameter named `9.weight`"), "{e}");

    let mut reshaped = state.clone();
    let i = keys
        .iter()
        .position(|k| *k == "state.0.bias.exp_avg")
        .unwrap();
    reshaped[i].1 = Tensor::zeros(5, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    let e = opt.load_state_dict(&reshaped).unwrap_err().to_string();
    assert!(e.contains("has shape [5]") && e.contains("[4]"), "{e}");

    let mut unknown = state.clone();
    unknown.push((
        "state.0.bias.momentum_buffer".into(),
        Tensor::zeros(4, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
    ));
    let e = opt.load_state_dict(&unknown).unwrap_err().to_string();
    assert!(e.contains("Adam keeps no state `momentum_buffer`"), "{e}");

    let mut groups = state.clone();
    groups.push((
        "param_groups.1.lr".into(),
        Tensor::new(0.1f64, &candle_core::Device::Cpu).unwrap(),
    ));
    assert!(opt.load_state_dict(&groups).is_err());
    // nothing was changed by the failed loads
    opt.load_state_dict(&state).unwrap();
}

/// Parameters big enough for the step to update them on several threads at once.
fn big_params() -> Vec<Param> {
    let shapes: [&[usize]; 3] = [&[300, 200], &[200], &[100, 100]];
    NAMES
        .iter()
        .zip(shapes)
        .enumerate()
        .map(|(k, (n, shape))| {
            let len: usize = shape.iter().product();
            let v: Vec<f32> = (0..len)
                .map(|i| (((i * 37 + k * 11) % 101) as f32 - 50.0) / 100.0)
                .collect();
            let t = Tensor::from_vec(v, shape, &candle_core::Device::Cpu).unwrap();
            Param::new(*n, Var::from_tensor(&t).unwrap())
        })
        .collect()
}

fn big_grads(params: &[Param], step: usize) -> Vec<Tensor> {
    params
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let v: Vec<f32> = (0..p.numel())
                .map(|i| (((i * 13 + k * 7 + step * 29) % 89) as f32 - 44.0) / 50.0)
                .collect();
            Tensor::from_vec(v, p.tensor().shape(), &candle_core::Device::Cpu).unwrap()
        })
        .collect()
}

/// The state dict's tensors as flat f64 values, by key.
fn state_values(opt: &dyn Optimizer) -> Vec<(String, Vec<f64>)> {
    opt.state_dict()
        .unwrap()
        .into_iter()
        .map(|(k, t)| {
            let v = t.flatten_all().unwrap().to_dtype(DType::F64).unwrap();
            (k, v.to_vec1().unwrap())
        })
        .collect()
}

/// The step on 2 and 3 threads (the parameters binned over the threads) equals the
/// step on one thread: parameters and state, bit for bit, also across a state dict
/// saved and loaded between steps.
#[test]
fn a_step_on_two_threads_equals_one_on_one_thread() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (one, two, three) = (pool(1), pool(2), pool(3));
    for (name, cfg) in cases() {
        let cfg: OptimizerConfig = serde_json::from_value(cfg).unwrap();
        let run = |pool: &rayon::ThreadPool| {
            pool.install(|| {
                let ps = big_params();
                let mut opt = cfg.build(ps.clone()).unwrap();
                for s in 0..2 {
                    opt.step(&grad_store(&ps, &big_grads(&ps, s))).unwrap();
                }
                let saved = opt.state_dict().unwrap();
                opt.load_state_dict(&saved).unwrap();
                opt.step(&grad_store(&ps, &big_grads(&ps, 2))).unwrap();
                (values(&ps), state_values(opt.as_ref()))
            })
        };
        let want = run(&one);
        assert_eq!(run(&two), want, "{name}, 2 threads");
        assert_eq!(run(&three), want, "{name}, 3 threads");
    }
}
