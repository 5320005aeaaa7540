use crate::ops::{float_input, float_target, same_shape};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-8,
/// reduction='mean')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonNLLLossConfig {
    /// Whether the input is the log of the rate, `log λ` (default true).
    #[serde(default = "yes")]
    pub log_input: bool,
    /// Whether to add the Stirling approximation of `log(y!)` (default false).
    #[serde(default)]
    pub full: bool,
    /// Added to the rate before its log when `log_input = false` (default 1e-8).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

fn yes() -> bool {
    true
}

fn default_eps() -> f64 {
    1e-8
}

impl Default for PoissonNLLLossConfig {
    fn default() -> Self {
        Self {
            log_input: true,
            full: false,
            eps: 1e-8,
            reduction: Reduction::Mean,
        }
    }
}

/// `torch.nn.PoissonNLLLoss`: the negative log-likelihood of targets `y` under a
/// Poisson distribution of rate `λ`: `ℓᵢ = e^{xᵢ} − yᵢ·xᵢ` with `log_input` (`x = log λ`),
/// else `ℓᵢ = xᵢ − yᵢ·log(xᵢ + eps)`. With `full`, the Stirling term
/// `y·log y − y + ½·log(2πy)` is added where `y > 1`.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// `eps < 0` (at construction); input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct PoissonNLLLoss {
    cfg: PoissonNLLLossConfig,
}

impl PoissonNLLLoss {
    /// Validates the arguments.
    pub fn new(cfg: PoissonNLLLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if !(cfg.eps >= 0.0 && cfg.eps.is_finite()) {
            return Err(Error::Config {
                field: "eps",
                message: format!("Invalid eps: {} (expected eps ≥ 0)", cfg.eps),
            });
        }
        Ok(Self { cfg })
    }
}

impl Loss for PoissonNLLLoss {
    fn type_name(&self) -> &'static str {
        "PoissonNLLLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Float
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        float_input(self.type_name(), "input", input)?;
        same_shape(self.type_name(), "input", input, "target", target)?;
        let y = float_target(target, input)?;
        let mut per = if self.cfg.log_input {
            (input.exp()? - (&y * input)?)?
        } else {
            (input - (&y * (input + self.cfg.eps)?.log()?)?)?
        };
        if self.cfg.full {
            let big = y.detach().gt(1.0)?;
            let safe = big.where_cond(&y, &y.ones_like()?)?;
            let stirling = (((&safe * safe.log()?)? - &safe)?
                + ((&safe * (2.0 * std::f64::consts::PI))?.log()? * 0.5)?)?;
            per = (per + big.where_cond(&stirling, &y.zeros_like()?)?)?;
        }
        self.cfg.reduction.apply(&per)
    }
}
