//! The optimizer catalog: what `[optimizer] type = "SGD"` names.
//!
//! An optimizer class is a config type implementing [`OptimizerSpec`] registered under
//! its `torch.optim` class name in an [`OptimizerCatalog`]; wick's own are registered
//! by [`register_builtins`] as a user's crate registers its own.

use crate::{
    AdadeltaConfig, AdagradConfig, AdamConfig, AdamWConfig, AdamaxConfig, NadamConfig, Optimizer,
    RadamConfig, Result, RmspropConfig, SgdConfig,
};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};
use wick_tensor::Param;

/// The arguments of an optimizer class (`optim.SGD(params, lr, momentum, …)` without
/// `params`): what a config type implements to be named in an experiment file. It is
/// also `serde`'s (PyTorch's argument names and defaults), `Clone` and `Debug`.
pub trait OptimizerSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Builds the optimizer over `params` (named as in `named_parameters()`).
    ///
    /// # Errors
    /// Invalid arguments, with torch.optim's messages.
    fn build(&self, params: Vec<Param>) -> Result<Box<dyn Optimizer>>;
    /// Checks the arguments without parameters ("Invalid learning rate: -1"); nothing
    /// by default.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the argument.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// The initial learning rate `lr`.
    fn lr(&self) -> f64;
}

/// An optimizer by its PyTorch class name: `[optimizer] type = "SGD"`.
pub type OptimizerConfig = Tagged<dyn OptimizerSpec>;

/// The optimizer classes an experiment file can name.
pub type OptimizerCatalog = Catalog<dyn OptimizerSpec>;

/// Implements [`OptimizerSpec`] for the built-in configs, and the catalog's plumbing
/// (`wick_tensor::open_catalog!`) with them as its built-ins.
macro_rules! builtin_optimizers {
    ($( $name:ident($cfg:ident) ),+ $(,)?) => {
        $(
            impl OptimizerSpec for $cfg {
                fn build(&self, params: Vec<Param>) -> Result<Box<dyn Optimizer>> {
                    Ok(Box::new($cfg::build(self, params)?))
                }
                fn validate(&self) -> Result<()> {
                    $cfg::validate_all(self)
                }
                fn lr(&self) -> f64 {
                    self.lr
                }
            }
        )+

        wick_tensor::open_catalog! {
            spec = OptimizerSpec, what = "optimizer", register = RegisterOptimizer::optimizer,
            constructor = optimizer, builtins = register_builtins { $( $name($cfg), )+ }
        }
    };
}

builtin_optimizers! {
    SGD(SgdConfig),
    Adam(AdamConfig),
    AdamW(AdamWConfig),
    RMSprop(RmspropConfig),
    Adagrad(AdagradConfig),
    Adadelta(AdadeltaConfig),
    Adamax(AdamaxConfig),
    NAdam(NadamConfig),
    RAdam(RadamConfig),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use candle_core::{DType, Device, Var};

    fn parse(v: serde_json::Value) -> std::result::Result<OptimizerConfig, serde_json::Error> {
        serde_json::from_value(v)
    }

    fn mlp_params() -> Vec<Param> {
        [
            "0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias",
        ]
        .iter()
        .map(|n| Param::new(*n, Var::zeros(3, DType::F32, &Device::Cpu).unwrap()))
        .collect()
    }

    /// State dict entries as `(key, values)`.
    type NamedValues = Vec<(String, Vec<f64>)>;

    /// Runs `steps` steps of `cfg` on two parameters of a fixed non-quadratic loss, on
    /// the CPU kernel or the device path; returns the parameters and the state dict.
    fn run(
        cfg: &OptimizerConfig,
        dtype: DType,
        steps: usize,
        device_path: bool,
        resume_at: Option<usize>,
    ) -> (Vec<Vec<f64>>, NamedValues) {
        let w0: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 / 4.0 - 0.4).collect();
        let a = Var::from_tensor(
            &candle_core::Tensor::from_vec(w0, (3, 4), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(
            &candle_core::Tensor::new(&[0.3f64, -1.2, 0.0], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let params = || vec![Param::new("a", a.clone()), Param::new("b", b.clone())];
        let mut opt = cfg.build(params()).unwrap();
        for i in 0..steps {
            if resume_at == Some(i) {
                // a checkpoint round trip: host state dict, fresh optimizer
                let st = opt.state_dict().unwrap();
                opt = cfg.build(params()).unwrap();
                opt.load_state_dict(&st).unwrap();
            }
            let (at, bt) = (a.as_tensor(), b.as_tensor());
            // Σ a³/3 + Σ sin(a)·b-ish terms, so that gradients change every step
            let loss = (at.powf(3.0).unwrap().sum_all().unwrap() / 3.0).unwrap();
            let loss = (loss
                + at.sin()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .mul(&bt.sqr().unwrap().sum_all().unwrap()))
            .unwrap();
            let loss = (loss + bt.exp().unwrap().sum_all().unwrap()).unwrap();
            let grads = loss.backward().unwrap();
            if device_path {
                wick_tensor::device_path::force_generic(|| opt.step(&grads)).unwrap();
            } else {
                opt.step(&grads).unwrap();
            }
        }
        let flat = |t: &candle_core::Tensor| -> Vec<f64> {
            t.flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let st = opt
            .state_dict()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.clone(), flat(t)))
            .collect();
        (vec![flat(a.as_tensor()), flat(b.as_tensor())], st)
    }

    #[test]
    fn device_path_equals_the_fused_cpu_update_for_every_optimizer() {
        let cases = serde_json::json!([
            {"type": "SGD", "lr": 0.05},
            {"type": "SGD", "lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
            {"type": "SGD", "lr": 0.002, "momentum": 0.9, "nesterov": true, "maximize": true},
            {"type": "Adam", "lr": 0.01},
            {"type": "Adam", "lr": 0.01, "amsgrad": true, "weight_decay": 0.1, "betas": [0.6, 0.9]},
            {"type": "Adam", "lr": 0.002, "decoupled_weight_decay": true, "weight_decay": 0.1, "maximize": true},
            {"type": "AdamW", "lr": 0.01},
            {"type": "AdamW", "lr": 0.01, "amsgrad": true},
            {"type": "RMSprop", "lr": 0.01},
            {"type": "RMSprop", "lr": 0.01, "centered": true, "momentum": 0.5, "weight_decay": 0.1},
            {"type": "RMSprop", "lr": 0.01, "alpha": 0.3, "centered": true},
            {"type": "Adagrad", "lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.2, "weight_decay": 0.1},
            {"type": "Adadelta", "lr": 0.1, "rho": 0.8, "weight_decay": 0.1, "maximize": true},
            {"type": "Adamax", "lr": 0.02, "weight_decay": 0.1},
            {"type": "NAdam", "lr": 0.02},
            {"type": "NAdam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": true},
            {"type": "NAdam", "lr": 0.02, "weight_decay": 0.1},
            {"type": "RAdam", "lr": 0.02},
            {"type": "RAdam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": true},
        ]);
        for case in cases.as_array().unwrap() {
            let cfg = parse(case.clone()).unwrap();
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
                // 8 steps: RAdam's rectification starts at step 6
                let (pk, sk) = run(&cfg, dtype, 8, false, None);
                for resume in [None, Some(3)] {
                    let (pd, sd) = run(&cfg, dtype, 8, true, resume);
                    let close = |x: &[f64], y: &[f64], what: &str| {
                        assert_eq!(x.len(), y.len(), "{case} {what}");
                        for (u, v) in x.iter().zip(y) {
                            assert!(
                                u.is_finite() && (u - v).abs() <= tol * (1.0 + v.abs()),
                                "{case} {dtype:?} {resume:?} {what}: {u} vs {v}"
                            );
                        }
                    };
                    for (x, y) in pd.iter().zip(&pk) {
                        close(x, y, "parameter");
                    }
                    let names = |s: &[(String, Vec<f64>)]| {
                        s.iter().map(|e| e.0.clone()).collect::<Vec<_>>()
                    };
                    assert_eq!(names(&sd), names(&sk), "{case}");
                    for ((k, x), (_, y)) in sd.iter().zip(&sk) {
                        close(x, y, k);
                    }
                }
            }
        }
    }

    #[test]
    fn param_groups_override_any_key_and_reject_unknown_ones() {
        let cfg = parse(serde_json::json!({
            "type": "SGD", "lr": 0.1, "weight_decay": 5e-4,
            "param_groups": [{"params": ["*.bias", "3.weight"], "weight_decay": 0.0, "lr": 0.01}]
        }))
        .unwrap();
        let opt = cfg
            .downcast_ref::<SgdConfig>()
            .unwrap()
            .build(mlp_params())
            .unwrap();
        assert_eq!(opt.num_groups(), 2);
        assert_eq!(opt.group_params(0), ["0.weight", "2.weight"]);
        assert_eq!(
            opt.group_params(1),
            ["0.bias", "2.bias", "3.weight", "3.bias"]
        );
        assert_eq!(opt.lrs(), [0.1, 0.01]);
        assert_eq!(opt.group_config(0).weight_decay, 5e-4);
        assert_eq!(opt.group_config(1).weight_decay, 0.0);
        assert!(opt.group_config(1).param_groups.is_empty());
        // a key SGD does not have
        let e = parse(serde_json::json!({
            "type": "SGD", "param_groups": [{"params": ["*"], "betas": [0.9, 0.99]}]
        }))
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `betas`"), "{e}");
        // a group value checked like the top-level one
        let cfg = parse(serde_json::json!({
            "type": "Adam", "param_groups": [{"params": ["*.bias"], "betas": [1.5, 0.99]}]
        }))
        .unwrap();
        let e = cfg.validate().unwrap_err();
        assert!(
            matches!(&e, Error::Config { field: "param_groups", message }
                if message.starts_with("param_groups[0]: Invalid beta parameter at index 0: 1.5")),
            "{e}"
        );
    }

    #[test]
    fn pattern_errors_name_the_pattern() {
        let cfg = parse(serde_json::json!({
            "type": "AdamW", "param_groups": [{"params": ["*.gamma"], "weight_decay": 0.0}]
        }))
        .unwrap();
        let e = cfg.build(mlp_params()).err().unwrap().to_string();
        assert!(
            e.contains("pattern \"*.gamma\" matches no parameter"),
            "{e}"
        );
        let cfg = parse(serde_json::json!({
            "type": "AdamW", "param_groups": [{"params": ["*.bias"]}, {"params": ["0.*"]}]
        }))
        .unwrap();
        let e = cfg.build(mlp_params()).err().unwrap().to_string();
        assert!(
            e.contains("`0.bias` is in param_groups[0] and param_groups[1]"),
            "{e}"
        );
    }

    #[test]
    fn defaults_are_pytorchs() {
        let get = |t: &str| parse(serde_json::json!({ "type": t })).unwrap();
        let types = [
            "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
        ];
        let lrs: Vec<f64> = types.iter().map(|t| get(t).lr()).collect();
        assert_eq!(lrs, [1e-3, 1e-3, 1e-3, 1e-2, 1e-2, 1.0, 2e-3, 2e-3, 1e-3]);
        let c = get("AdamW");
        let c = c.downcast_ref::<AdamWConfig>().unwrap();
        assert_eq!((c.weight_decay, c.betas, c.eps), (1e-2, (0.9, 0.999), 1e-8));
        let c = get("RMSprop");
        let c = c.downcast_ref::<RmspropConfig>().unwrap();
        assert_eq!((c.alpha, c.eps), (0.99, 1e-8));
        assert_eq!(
            get("Adagrad").downcast_ref::<AdagradConfig>().unwrap().eps,
            1e-10
        );
        let c = get("NAdam");
        assert_eq!(
            c.downcast_ref::<NadamConfig>().unwrap().momentum_decay,
            4e-3
        );
    }
}
