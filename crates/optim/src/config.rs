use crate::engine::validate_all;
use crate::{
    AdadeltaConfig, AdagradConfig, AdamConfig, AdamWConfig, AdamaxConfig, NadamConfig, Optimizer,
    RadamConfig, Result, RmspropConfig, SgdConfig,
};
use wick_tensor::Param;

wick_tensor::tagged_config! {
    /// An optimizer by its PyTorch class name: `[optimizer] type = "SGD"`.
    pub enum OptimizerConfig {
        /// `torch.optim.SGD`
        SGD(SgdConfig),
        /// `torch.optim.Adam`
        Adam(AdamConfig),
        /// `torch.optim.AdamW`
        AdamW(AdamWConfig),
        /// `torch.optim.RMSprop`
        RMSprop(RmspropConfig),
        /// `torch.optim.Adagrad`
        Adagrad(AdagradConfig),
        /// `torch.optim.Adadelta`
        Adadelta(AdadeltaConfig),
        /// `torch.optim.Adamax`
        Adamax(AdamaxConfig),
        /// `torch.optim.NAdam`
        NAdam(NadamConfig),
        /// `torch.optim.RAdam`
        RAdam(RadamConfig),
    }
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Self::SGD($c) => $e,
            Self::Adam($c) => $e,
            Self::AdamW($c) => $e,
            Self::RMSprop($c) => $e,
            Self::Adagrad($c) => $e,
            Self::Adadelta($c) => $e,
            Self::Adamax($c) => $e,
            Self::NAdam($c) => $e,
            Self::RAdam($c) => $e,
        }
    };
}

impl OptimizerConfig {
    /// Validates the arguments, splits `params` into the configured groups and creates
    /// the optimizer.
    pub fn build(&self, params: Vec<Param>) -> Result<Box<dyn Optimizer>> {
        Ok(each!(self, c => Box::new(c.build(params)?)))
    }

    /// Validates the arguments (and those of every `param_groups` entry) without
    /// creating anything; patterns are checked against parameter names by
    /// [`build`](Self::build).
    pub fn validate(&self) -> Result<()> {
        each!(self, c => validate_all(c))
    }

    /// The learning rate of the top-level arguments.
    pub fn lr(&self) -> f64 {
        each!(self, c => c.lr)
    }
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

    #[test]
    fn param_groups_override_any_key_and_reject_unknown_ones() {
        let cfg = parse(serde_json::json!({
            "type": "SGD", "lr": 0.1, "weight_decay": 5e-4,
            "param_groups": [{"params": ["*.bias", "3.weight"], "weight_decay": 0.0, "lr": 0.01}]
        }))
        .unwrap();
        let opt = match &cfg {
            OptimizerConfig::SGD(c) => c.build(mlp_params()).unwrap(),
            _ => unreachable!(),
        };
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
        let lrs: Vec<f64> = OptimizerConfig::TYPES.iter().map(|t| get(t).lr()).collect();
        assert_eq!(lrs, [1e-3, 1e-3, 1e-3, 1e-2, 1e-2, 1.0, 2e-3, 2e-3, 1e-3]);
        match get("AdamW") {
            OptimizerConfig::AdamW(c) => {
                assert_eq!((c.weight_decay, c.betas, c.eps), (1e-2, (0.9, 0.999), 1e-8))
            }
            _ => unreachable!(),
        }
        match get("RMSprop") {
            OptimizerConfig::RMSprop(c) => assert_eq!((c.alpha, c.eps), (0.99, 1e-8)),
            _ => unreachable!(),
        }
        match get("Adagrad") {
            OptimizerConfig::Adagrad(c) => assert_eq!(c.eps, 1e-10),
            _ => unreachable!(),
        }
        match get("NAdam") {
            OptimizerConfig::NAdam(c) => assert_eq!(c.momentum_decay, 4e-3),
            _ => unreachable!(),
        }
    }
}
