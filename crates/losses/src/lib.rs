//! wick-losses: the `torch.nn` loss functions, with PyTorch's arguments, defaults and
//! reductions, usable from Rust and from experiment files (`[loss] type = "MSELoss"`).
//!
//! # Catalog
//!
//! | class | arguments (defaults) | inputs | target ([`TargetKind`]) |
//! |---|---|---|---|
//! | [`MSELoss`] | `reduction` | input | float, input's shape |
//! | [`L1Loss`] | `reduction` | input | float, input's shape |
//! | [`SmoothL1Loss`] | `beta = 1.0` | input | float, input's shape |
//! | [`HuberLoss`] | `delta = 1.0` | input | float, input's shape |
//! | [`BCELoss`] | `weight = None` | input (probabilities in `[0, 1]`) | float in `[0, 1]`, input's shape |
//! | [`BCEWithLogitsLoss`] | `weight = None, pos_weight = None` | input (logits) | float in `[0, 1]`, input's shape |
//! | [`CrossEntropyLoss`] | `weight = None, ignore_index = -100, label_smoothing = 0.0` | input `[N, C, …]` (logits) | class indices `[N, …]`, or probabilities shaped like the input |
//! | [`NLLLoss`] | `weight = None, ignore_index = -100` | input `[N, C, …]` (log-probabilities) | class indices `[N, …]` |
//! | [`KLDivLoss`] | `log_target = false`, `reduction` also `"batchmean"` | input (log-probabilities) | float, input's shape |
//! | [`CosineEmbeddingLoss`] | `margin = 0.0` | input1, input2 `[N, D]` | ±1, `[N]` |
//! | [`TripletMarginLoss`] | `margin = 1.0, p = 2.0, eps = 1e-6, swap = false` | anchor, positive, negative `[N, D]` | none |
//! | [`MarginRankingLoss`] | `margin = 0.0` | input1, input2 `[N]` | ±1, `[N]` |
//! | [`HingeEmbeddingLoss`] | `margin = 1.0` | input | ±1, input's shape |
//! | [`SoftMarginLoss`] | `reduction` | input | ±1, input's shape |
//! | [`MultiLabelSoftMarginLoss`] | `weight = None` | input `[N, C]` | multi-hot 0/1, `[N, C]` |
//! | [`PoissonNLLLoss`] | `log_input = true, full = false, eps = 1e-8` | input | float (counts), input's shape |
//! | [`GaussianNLLLoss`] | `full = false, eps = 1e-6` | input, var | float, input's shape |
//!
//! Multi-input losses (two or three inputs, or no target) are called through
//! [`Loss::forward_inputs`] or their typed methods (`forward_pair`, `forward_triplet`,
//! `forward_var`); [`Loss::input_arity`] tells a trainer whether a loss takes the single
//! output of a model. See [`Loss`].
//!
//! Every loss takes `reduction = "none" | "mean" | "sum"` (default `"mean"`;
//! KLDivLoss also `"batchmean"`), checks its input and target shapes, and has the input
//! gradient of PyTorch, subgradients included (tested against PyTorch fixtures in
//! `tests/parity_losses.rs`).
//!
//! # Use
//! ```
//! use candle_core::{Device, Tensor};
//! use wick_losses::{Loss, LossConfig, MSELoss, MSELossConfig};
//!
//! let x = Tensor::new(&[1f32, 2., 3.], &Device::Cpu)?;
//! let y = Tensor::new(&[1f32, 2., 5.], &Device::Cpu)?;
//! let mse = MSELoss::new(MSELossConfig::default())?;
//! assert_eq!(mse.forward(&x, &y)?.to_scalar::<f32>()?, 4.0 / 3.0);
//!
//! // from a catalog entry, as an experiment file's `[loss]` table
//! let cfg = LossConfig::from(wick_losses::SmoothL1LossConfig::default());
//! let loss: Box<dyn Loss> = cfg.build()?;
//! assert_eq!(loss.input_arity(), 1);
//! # Ok::<(), wick_losses::Error>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod bce;
mod bce_with_logits;
mod config;
mod cosine_embedding;
mod cross_entropy;
mod error;
mod gaussian_nll;
mod hinge_embedding;
mod huber;
mod kl_div;
mod l1;
mod loss;
mod margin_ranking;
mod mse;
mod multilabel_soft_margin;
mod nll;
mod ops;
mod poisson_nll;
mod reduction;
mod smooth_l1;
mod soft_margin;
mod triplet_margin;

pub use bce::{BCELoss, BCELossConfig};
pub use bce_with_logits::{BCEWithLogitsLoss, BCEWithLogitsLossConfig};
pub use config::{loss, register_builtins, LossCatalog, LossConfig, LossSpec, RegisterLoss};
pub use cosine_embedding::{CosineEmbeddingLoss, CosineEmbeddingLossConfig};
pub use cross_entropy::{log_softmax, CrossEntropyLoss, CrossEntropyLossConfig};
pub use error::{Error, Result};
pub use gaussian_nll::{GaussianNLLLoss, GaussianNLLLossConfig};
pub use hinge_embedding::{HingeEmbeddingLoss, HingeEmbeddingLossConfig};
pub use huber::{HuberLoss, HuberLossConfig};
pub use kl_div::{KLDivLoss, KLDivLossConfig};
pub use l1::{L1Loss, L1LossConfig};
pub use loss::{Loss, TargetKind};
pub use margin_ranking::{MarginRankingLoss, MarginRankingLossConfig};
pub use mse::{MSELoss, MSELossConfig};
pub use multilabel_soft_margin::{MultiLabelSoftMarginLoss, MultiLabelSoftMarginLossConfig};
pub use nll::{NLLLoss, NLLLossConfig};
pub use poisson_nll::{PoissonNLLLoss, PoissonNLLLossConfig};
pub use reduction::Reduction;
pub use smooth_l1::{SmoothL1Loss, SmoothL1LossConfig};
pub use soft_margin::{SoftMarginLoss, SoftMarginLossConfig};
pub use triplet_margin::{TripletMarginLoss, TripletMarginLossConfig};
