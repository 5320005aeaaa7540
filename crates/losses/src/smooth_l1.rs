use crate::ops::{abs, float_input, float_target, same_shape};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.SmoothL1Loss(reduction='mean', beta=1.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothL1LossConfig {
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
    /// Where the loss changes from quadratic to linear, `β ≥ 0` (default 1.0);
    /// `β = 0` is the L1 loss.
    #[serde(default = "one")]
    pub beta: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for SmoothL1LossConfig {
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

/// `torch.nn.SmoothL1Loss`: with `z = |xᵢ − yᵢ|`,
/// `ℓᵢ = 0.5·z²/β` if `z < β`, else `z − 0.5·β`; then reduced. Gradient `d/β` inside,
/// `sign(d)` outside (0 at `d = 0`), as PyTorch's.
///
/// # Shapes
/// input any shape, target the same shape; output a scalar, or the input's shape with
/// `reduction = "none"`.
///
/// # Errors
/// `beta < 0` (at construction); input and target shapes that differ.
#[derive(Debug, Clone)]
pub struct SmoothL1Loss {
    cfg: SmoothL1LossConfig,
}

impl SmoothL1Loss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: SmoothL1LossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if !(cfg.beta >= 0.0 && cfg.beta.is_finite()) {
            return Err(Error::Config {
                field: "beta",
                message: format!(
                    "smooth_l1_loss does not support negative values for beta, got {}",
                    cfg.beta
                ),
            });
        }
        Ok(Self { cfg })
    }
}

/// `where(|d| < t, quad(d), lin(d))` with a detached mask, so each branch's gradient is
/// used exactly where PyTorch uses it.
pub(crate) fn piecewise(
    d: &Tensor,
    threshold: f64,
    quad: impl Fn(&Tensor) -> Result<Tensor>,
    lin: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let z = abs(d)?;
    let inside = z.detach().lt(threshold)?;
    Ok(inside.where_cond(&quad(d)?, &lin(&z)?)?)
}

impl Loss for SmoothL1Loss {
    fn type_name(&self) -> &'static str {
        "SmoothL1Loss"
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
        let d = (input - float_target(target, input)?)?;
        let beta = self.cfg.beta;
        let per = if beta == 0.0 {
            abs(&d)?
        } else {
            piecewise(
                &d,
                beta,
                |d| Ok((d.sqr()? * (0.5 / beta))?),
                |z| Ok((z - 0.5 * beta)?),
            )?
        };
        self.cfg.reduction.apply(&per)
    }
}
