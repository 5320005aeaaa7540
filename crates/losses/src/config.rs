//! The loss catalog: what `[loss] type = "CrossEntropyLoss"` names.
//!
//! A loss class is a config type implementing [`LossSpec`] (build the [`Loss`])
//! registered under its PyTorch class name in a [`LossCatalog`]; wick's own are
//! registered by [`register_builtins`] as a user's crate registers its own
//! (`catalog.loss::<MyLossConfig>("MyLoss")`).

use crate::{
    BCELoss, BCELossConfig, BCEWithLogitsLoss, BCEWithLogitsLossConfig, CosineEmbeddingLoss,
    CosineEmbeddingLossConfig, CrossEntropyLoss, CrossEntropyLossConfig, GaussianNLLLoss,
    GaussianNLLLossConfig, HingeEmbeddingLoss, HingeEmbeddingLossConfig, HuberLoss,
    HuberLossConfig, KLDivLoss, KLDivLossConfig, L1Loss, L1LossConfig, MSELoss, MSELossConfig,
    MarginRankingLoss, MarginRankingLossConfig, MultiLabelSoftMarginLoss,
    MultiLabelSoftMarginLossConfig, NLLLoss, NLLLossConfig, PoissonNLLLoss, PoissonNLLLossConfig,
    SmoothL1Loss, SmoothL1LossConfig, SoftMarginLoss, SoftMarginLossConfig, TripletMarginLoss,
    TripletMarginLossConfig,
};
use crate::{Loss, Reduction, Result};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};

/// The arguments of a loss class (`nn.CrossEntropyLoss(weight, ignore_index, …)`):
/// what a config type implements to be named in an experiment file. It is also
/// `serde`'s (PyTorch's argument names and defaults, `deny_unknown_fields`), `Clone`
/// and `Debug`.
pub trait LossSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Validates the arguments and builds the loss.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the invalid argument.
    fn build(&self) -> Result<Box<dyn Loss>>;
    /// The configured `reduction` (default: the built loss's, `mean` if it cannot be
    /// built).
    fn reduction(&self) -> Reduction {
        self.build().map_or(Reduction::Mean, |l| l.reduction())
    }
    /// Checks the arguments against the number of classes of the data (a class
    /// `weight` with one entry per class); nothing to check by default.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the argument that does not fit.
    fn check_classes(&self, classes: usize) -> Result<()> {
        let _ = classes;
        Ok(())
    }
}

/// A loss by its PyTorch class name: `[loss] type = "CrossEntropyLoss"`, with that
/// class's arguments and defaults.
pub type LossConfig = Tagged<dyn LossSpec>;

/// The loss classes an experiment file can name.
pub type LossCatalog = Catalog<dyn LossSpec>;

/// Implements [`LossSpec`] for a built-in config (`$loss::new(config)`, its
/// `reduction` field, and for those with class weights, `check_classes`).
macro_rules! builtin_loss {
    ($name:ident($cfg:ident) $($check:item)?) => {
        impl LossSpec for $cfg {
            fn build(&self) -> Result<Box<dyn Loss>> {
                Ok(Box::new($name::new(self.clone())?))
            }
            fn reduction(&self) -> Reduction {
                self.reduction
            }
            $($check)?
        }
    };
}

/// The built-in classes, plain and with a class `weight`, and the catalog's plumbing
/// (`wick_tensor::open_catalog!`) with them as its built-ins.
macro_rules! builtin_losses {
    (plain { $( $name:ident($cfg:ident) ),+ $(,)? } weighted { $( $wname:ident($wcfg:ident) ),+ $(,)? }) => {
        $( builtin_loss!($name($cfg)); )+
        $( builtin_loss!($wname($wcfg)
            fn check_classes(&self, classes: usize) -> Result<()> {
                check_weight(self.weight.as_deref(), classes)
            }
        ); )+

        wick_tensor::open_catalog! {
            spec = LossSpec, what = "loss", register = RegisterLoss::loss, constructor = loss,
            builtins = register_builtins { $( $name($cfg), )+ $( $wname($wcfg), )+ }
        }
    };
}

/// A class `weight` needs one entry per class.
fn check_weight(weight: Option<&[f64]>, classes: usize) -> Result<()> {
    match weight {
        Some(w) if w.len() != classes => Err(crate::Error::Config {
            field: "weight",
            message: format!(
                "weight has {} entries, but there are {classes} classes",
                w.len()
            ),
        }),
        _ => Ok(()),
    }
}

builtin_losses! {
    plain {
        MSELoss(MSELossConfig),
        L1Loss(L1LossConfig),
        SmoothL1Loss(SmoothL1LossConfig),
        HuberLoss(HuberLossConfig),
        BCELoss(BCELossConfig),
        BCEWithLogitsLoss(BCEWithLogitsLossConfig),
        KLDivLoss(KLDivLossConfig),
        CosineEmbeddingLoss(CosineEmbeddingLossConfig),
        TripletMarginLoss(TripletMarginLossConfig),
        MarginRankingLoss(MarginRankingLossConfig),
        HingeEmbeddingLoss(HingeEmbeddingLossConfig),
        SoftMarginLoss(SoftMarginLossConfig),
        MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossConfig),
        PoissonNLLLoss(PoissonNLLLossConfig),
        GaussianNLLLoss(GaussianNLLLossConfig),
    }
    weighted {
        CrossEntropyLoss(CrossEntropyLossConfig),
        NLLLoss(NLLLossConfig),
    }
}
