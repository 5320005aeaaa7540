//! Convolutions and poolings against PyTorch (`scripts/fixtures_nn_b.py`): for every
//! case of `assets/fixtures/nn_b.json`, the layer is built from the same config through
//! the catalog, its parameters are set to PyTorch's, and the output shape (inferred and
//! actual), output, input gradient and parameter gradients of `(out * g).sum()` are
//! compared, as well as `repr(module)` and the bound of PyTorch's default init.

use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use wick_nn::{BuildCtx, LayerConfig};
use wick_tensor::testing::assert_close;
use wick_tensor::SeedRng;

/// f32 tolerance, relative to the largest magnitude of the expected tensor. The
/// convolutions sum up to a few hundred products in a different order than PyTorch's
/// (GEMM blocking), which stays well inside it.
const TOL: f64 = 1e-5;

/// The fixture directory, from this crate's manifest (so that a target directory shared
/// between checkouts cannot point the test at another checkout's files).
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/fixtures")
        .join(name)
}

fn cases() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixture("nn_b.json")).expect("nn_b.json");
    serde_json::from_str(&text).expect("nn_b.json is JSON")
}

fn run_case(case: &serde_json::Value, f: &HashMap<String, Tensor>) {
    let name = case["name"].as_str().unwrap();
    let mut cfg: LayerConfig = serde_json::from_value(case["config"].clone())
        .unwrap_or_else(|e| panic!("{name}: config: {e}"));
    let input: Vec<usize> = serde_json::from_value(case["input"].clone()).unwrap();
    let inferred = cfg
        .infer(&input[1..])
        .unwrap_or_else(|e| panic!("{name}: infer: {e}"));
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let layer = cfg.build(&mut ctx).unwrap();
    assert_eq!(
        layer.describe(),
        case["repr"].as_str().unwrap(),
        "{name}: repr"
    );
    let params = layer.parameters();
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let want: Vec<&str> = case["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, want, "{name}: parameter names");
    // default init: U(±1/√fan_in), fan_in as torch computes it from the weight's shape
    if let Some(bound) = case["init_bound"].as_f64() {
        for p in &params {
            let m = p
                .var
                .as_tensor()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap() as f64;
            // a few dozen draws come close to the bound
            let enough = p.var.elem_count() < 20 || m > 0.5 * bound;
            assert!(
                m <= bound * (1.0 + 1e-6) && enough,
                "{name}: {} init max {m} vs bound {bound}",
                p.name
            );
        }
    }
    for p in &params {
        p.var.set(&f[&format!("{name}.param.{}", p.name)]).unwrap();
    }
    let x = Var::from_tensor(&f[&format!("{name}.x")]).unwrap();
    let out = layer.forward(x.as_tensor(), true).unwrap();
    assert_eq!(
        &out.dims()[1..],
        inferred.as_slice(),
        "{name}: inferred shape"
    );
    assert_close(
        &format!("{name} out"),
        &out,
        &f[&format!("{name}.out")],
        TOL,
    );
    let loss = (&out * &f[&format!("{name}.g")])
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    assert_close(
        &format!("{name} grad input"),
        grads.get(x.as_tensor()).expect("input gradient"),
        &f[&format!("{name}.gx")],
        TOL,
    );
    for p in &params {
        assert_close(
            &format!("{name} grad {}", p.name),
            grads.get(p.var.as_tensor()).expect("parameter gradient"),
            &f[&format!("{name}.grad.{}", p.name)],
            TOL,
        );
    }
    // eval mode gives the same output (none of these layers depends on the mode)
    let eval = layer.forward(x.as_tensor(), false).unwrap();
    assert_close(&format!("{name} eval out"), &eval, &out, 0.0);
}

fn run_prefix(prefix: &str) {
    let f = candle_core::safetensors::load(fixture("nn_b.safetensors"), &Device::Cpu)
        .expect("nn_b.safetensors");
    let mut n = 0;
    for case in cases() {
        if case["name"].as_str().unwrap().starts_with(prefix) {
            run_case(&case, &f);
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} cases with prefix {prefix}");
}

#[test]
fn conv2d_matches_pytorch() {
    run_prefix("c2d_");
}

#[test]
fn conv1d_matches_pytorch() {
    run_prefix("c1d_");
}

#[test]
fn conv_transpose2d_matches_pytorch() {
    run_prefix("ct2d_");
}

#[test]
fn max_pools_match_pytorch_with_ties() {
    run_prefix("mp");
}

#[test]
fn avg_pools_match_pytorch() {
    run_prefix("ap");
}

#[test]
fn adaptive_pools_match_pytorch() {
    run_prefix("aap2d_");
    run_prefix("amp2d_");
}
