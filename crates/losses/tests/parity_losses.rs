//! Every loss of the catalog against PyTorch (`scripts/fixtures_losses.py` →
//! `assets/fixtures/losses.{safetensors,json}`): the value and the gradient with respect
//! to every input (and the target, where marked) for each reduction and option variant,
//! within 1e-5 relative. Each case's config is decoded through [`LossConfig`], as an
//! experiment file's `[loss]` table is.

use candle_core::{Tensor, Var};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use wick_losses::LossConfig;
use wick_tensor::testing::assert_close;

/// This crate's own path to the fixtures (`wick_tensor::testing::fixture_path` bakes in
/// the directory of whichever checkout last compiled wick-tensor into a shared target
/// directory).
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/fixtures")
        .join(name)
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: serde_json::Value,
    inputs: Vec<String>,
    target: Option<String>,
    upstream: Option<String>,
    target_grad: bool,
}

fn cases() -> Vec<Case> {
    let path = fixture("losses.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("losses.json")
}

fn run(case: &Case, f: &HashMap<String, Tensor>) {
    let name = &case.name;
    let cfg: LossConfig = serde_json::from_value(case.config.clone())
        .unwrap_or_else(|e| panic!("{name}: config {}: {e}", case.config));
    let loss = cfg.build().unwrap_or_else(|e| panic!("{name}: {e}"));
    let vars: Vec<Var> = case
        .inputs
        .iter()
        .map(|k| Var::from_tensor(&f[k]).unwrap())
        .collect();
    let target_var = case
        .target
        .as_ref()
        .map(|k| Var::from_tensor(&f[k]).unwrap());
    let target = match (&case.target, &target_var) {
        (Some(_), Some(v)) if case.target_grad => Some(v.as_tensor().clone()),
        (Some(k), _) => Some(f[k].clone()),
        _ => None,
    };
    let inputs: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
    assert_eq!(loss.input_arity(), inputs.len(), "{name}: arity");
    let value = loss
        .forward_inputs(&inputs, target.as_ref())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_close(
        &format!("{name} loss"),
        &value,
        &f[&format!("{name}.loss")],
        1e-5,
    );
    let objective = match &case.upstream {
        Some(k) => (&value * &f[k]).unwrap().sum_all().unwrap(),
        None => value,
    };
    let grads = objective.backward().unwrap();
    for (i, v) in vars.iter().enumerate() {
        let want = &f[&format!("{name}.grad.{i}")];
        let got = grads
            .get(v.as_tensor())
            .cloned()
            .unwrap_or_else(|| want.zeros_like().unwrap());
        assert_close(&format!("{name} grad {i}"), &got, want, 1e-5);
    }
    if case.target_grad {
        let t = target.as_ref().unwrap();
        let got = grads
            .get(t)
            .unwrap_or_else(|| panic!("{name}: no target gradient"));
        assert_close(
            &format!("{name} target grad"),
            got,
            &f[&format!("{name}.target_grad")],
            1e-5,
        );
    }
}

#[test]
fn every_loss_matches_pytorch() {
    let f =
        candle_core::safetensors::load(fixture("losses.safetensors"), &candle_core::Device::Cpu)
            .expect("losses.safetensors");
    let cases = cases();
    let mut covered: Vec<&str> = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case, &f)));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", case.name));
        }
        covered.push(case.config["type"].as_str().unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for ty in &builtin_types() {
        assert!(covered.contains(ty), "no fixture covers {ty}");
    }
    for r in ["none", "mean", "sum"] {
        for ty in &builtin_types() {
            let has = cases.iter().any(|c| {
                c.config["type"] == *ty
                    && c.config
                        .get("reduction")
                        .and_then(|v| v.as_str())
                        .unwrap_or("mean")
                        == r
            });
            assert!(has, "no fixture covers {ty} with reduction {r}");
        }
    }
}

/// Every built-in loss class name.
fn builtin_types() -> Vec<&'static str> {
    use wick_tensor::catalog::Kind;
    <dyn wick_losses::LossSpec>::builtins().names().collect()
}
