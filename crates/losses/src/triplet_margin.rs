use crate::loss::single_forward_on_multi;
use crate::ops::{abs, clamp_min, float_input, same_shape};
use crate::{Error, Loss, Reduction, Result, TargetKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Arguments of `torch.nn.TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False,
/// reduction='mean')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripletMarginLossConfig {
    /// The margin, `> 0` (default 1.0).
    #[serde(default = "one")]
    pub margin: f64,
    /// The norm degree of the pairwise distance, `> 0` (default 2.0).
    #[serde(default = "two")]
    pub p: f64,
    /// Added to the differences before the norm (default 1e-6).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// The distance swap of Balntas et al.: use `min(d(a, n), d(p, n))` (default false).
    #[serde(default)]
    pub swap: bool,
    /// `none`, `mean` (default) or `sum`.
    #[serde(default)]
    pub reduction: Reduction,
}

fn one() -> f64 {
    1.0
}

fn two() -> f64 {
    2.0
}

fn default_eps() -> f64 {
    1e-6
}

impl Default for TripletMarginLossConfig {
    fn default() -> Self {
        Self {
            margin: 1.0,
            p: 2.0,
            eps: 1e-6,
            swap: false,
            reduction: Reduction::Mean,
        }
    }
}

/// `torch.nn.TripletMarginLoss`: an anchor should be closer to a positive than to a
/// negative by a margin: `ℓₙ = max(d(aₙ, pₙ) − d(aₙ, nₙ) + margin, 0)` with the pairwise
/// distance `d(x, y) = ‖x − y + eps‖_p` over the last dimension. With `swap`,
/// `d(aₙ, nₙ)` becomes `min(d(aₙ, nₙ), d(pₙ, nₙ))` (a tie splits the gradient, as
/// PyTorch's `min`).
///
/// A three-input loss without target: call
/// [`forward_triplet`](Self::forward_triplet)`(anchor, positive, negative)` or
/// `forward_inputs(&[&anchor, &positive, &negative], None)`.
///
/// # Shapes
/// anchor, positive and negative `[N, D]` or `[D]`, all the same; output a scalar, or
/// `[N]` with `reduction = "none"`.
///
/// # Errors
/// `margin ≤ 0` or `p ≤ 0` (at construction), shapes that differ or are not 1-D/2-D.
#[derive(Debug, Clone)]
pub struct TripletMarginLoss {
    cfg: TripletMarginLossConfig,
}

impl TripletMarginLoss {
    /// Validates the arguments as PyTorch does.
    pub fn new(cfg: TripletMarginLossConfig) -> Result<Self> {
        cfg.reduction.check_standard()?;
        if cfg.margin.is_nan() || cfg.margin <= 0.0 {
            return Err(Error::Config {
                field: "margin",
                message: format!(
                    "TripletMarginLoss: expected margin to be greater than 0, got {} instead",
                    cfg.margin
                ),
            });
        }
        if !(cfg.p > 0.0 && cfg.p.is_finite()) {
            return Err(Error::Config {
                field: "p",
                message: format!("Invalid p: {} (expected a finite p > 0)", cfg.p),
            });
        }
        Ok(Self { cfg })
    }

    /// `‖x − y + eps‖_p` over the last dimension.
    fn distance(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let d = x.rank() - 1;
        let v = ((x - y)? + self.cfg.eps)?;
        let p = self.cfg.p;
        Ok(if p == 2.0 {
            v.sqr()?.sum(d)?.sqrt()?
        } else if p == 1.0 {
            abs(&v)?.sum(d)?
        } else {
            abs(&v)?.powf(p)?.sum(d)?.powf(1.0 / p)?
        })
    }

    /// The loss of the triplets `(anchor[n], positive[n], negative[n])`.
    pub fn forward_triplet(
        &self,
        anchor: &Tensor,
        positive: &Tensor,
        negative: &Tensor,
    ) -> Result<Tensor> {
        let name = self.type_name();
        float_input(name, "anchor", anchor)?;
        same_shape(name, "anchor", anchor, "positive", positive)?;
        same_shape(name, "anchor", anchor, "negative", negative)?;
        if anchor.rank() != 1 && anchor.rank() != 2 {
            return Err(Error::Shape(format!(
                "{name}: inputs must be [N, D] or [D], got shape {:?}",
                anchor.dims()
            )));
        }
        let d_pos = self.distance(anchor, positive)?;
        let mut d_neg = self.distance(anchor, negative)?;
        if self.cfg.swap {
            let d_swap = self.distance(positive, negative)?;
            // min(d_neg, d_swap), with PyTorch's gradient: to the smaller, halved on a tie
            let (a, b) = (d_neg.detach(), d_swap.detach());
            let to_swap =
                (b.lt(&a)?.to_dtype(a.dtype())? + (b.eq(&a)?.to_dtype(a.dtype())? * 0.5)?)?;
            d_neg = ((&d_neg * (1.0 - &to_swap)?)? + (d_swap * to_swap)?)?;
        }
        let per = clamp_min(&((d_pos - d_neg)? + self.cfg.margin)?, 0.0)?;
        self.cfg.reduction.apply(&per)
    }
}

impl Loss for TripletMarginLoss {
    fn type_name(&self) -> &'static str {
        "TripletMarginLoss"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::NoTarget
    }
    fn reduction(&self) -> Reduction {
        self.cfg.reduction
    }
    fn input_names(&self) -> &'static [&'static str] {
        &["anchor", "positive", "negative"]
    }
    fn forward(&self, _input: &Tensor, _target: &Tensor) -> Result<Tensor> {
        Err(single_forward_on_multi(self, "forward_triplet"))
    }
    fn forward_inputs(&self, inputs: &[&Tensor], target: Option<&Tensor>) -> Result<Tensor> {
        match (inputs, target) {
            ([a, p, n], None) => self.forward_triplet(a, p, n),
            _ => Err(self.arity_error(inputs.len(), String::new())),
        }
    }
}
