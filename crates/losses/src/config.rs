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

wick_tensor::tagged_config! {
    /// A loss by its PyTorch class name: `[loss] type = "CrossEntropyLoss"`, with that
    /// class's arguments and defaults.
    pub enum LossConfig {
        /// `torch.nn.MSELoss`
        MSELoss(MSELossConfig),
        /// `torch.nn.L1Loss`
        L1Loss(L1LossConfig),
        /// `torch.nn.SmoothL1Loss`
        SmoothL1Loss(SmoothL1LossConfig),
        /// `torch.nn.HuberLoss`
        HuberLoss(HuberLossConfig),
        /// `torch.nn.BCELoss`
        BCELoss(BCELossConfig),
        /// `torch.nn.BCEWithLogitsLoss`
        BCEWithLogitsLoss(BCEWithLogitsLossConfig),
        /// `torch.nn.CrossEntropyLoss`
        CrossEntropyLoss(CrossEntropyLossConfig),
        /// `torch.nn.NLLLoss`
        NLLLoss(NLLLossConfig),
        /// `torch.nn.KLDivLoss`
        KLDivLoss(KLDivLossConfig),
        /// `torch.nn.CosineEmbeddingLoss`
        CosineEmbeddingLoss(CosineEmbeddingLossConfig),
        /// `torch.nn.TripletMarginLoss`
        TripletMarginLoss(TripletMarginLossConfig),
        /// `torch.nn.MarginRankingLoss`
        MarginRankingLoss(MarginRankingLossConfig),
        /// `torch.nn.HingeEmbeddingLoss`
        HingeEmbeddingLoss(HingeEmbeddingLossConfig),
        /// `torch.nn.SoftMarginLoss`
        SoftMarginLoss(SoftMarginLossConfig),
        /// `torch.nn.MultiLabelSoftMarginLoss`
        MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossConfig),
        /// `torch.nn.PoissonNLLLoss`
        PoissonNLLLoss(PoissonNLLLossConfig),
        /// `torch.nn.GaussianNLLLoss`
        GaussianNLLLoss(GaussianNLLLossConfig),
    }
}

impl LossConfig {
    /// Validates the arguments and builds the loss.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the invalid argument.
    pub fn build(&self) -> Result<Box<dyn Loss>> {
        Ok(match self {
            Self::MSELoss(c) => Box::new(MSELoss::new(c.clone())?),
            Self::L1Loss(c) => Box::new(L1Loss::new(c.clone())?),
            Self::SmoothL1Loss(c) => Box::new(SmoothL1Loss::new(c.clone())?),
            Self::HuberLoss(c) => Box::new(HuberLoss::new(c.clone())?),
            Self::BCELoss(c) => Box::new(BCELoss::new(c.clone())?),
            Self::BCEWithLogitsLoss(c) => Box::new(BCEWithLogitsLoss::new(c.clone())?),
            Self::CrossEntropyLoss(c) => Box::new(CrossEntropyLoss::new(c.clone())?),
            Self::NLLLoss(c) => Box::new(NLLLoss::new(c.clone())?),
            Self::KLDivLoss(c) => Box::new(KLDivLoss::new(c.clone())?),
            Self::CosineEmbeddingLoss(c) => Box::new(CosineEmbeddingLoss::new(c.clone())?),
            Self::TripletMarginLoss(c) => Box::new(TripletMarginLoss::new(c.clone())?),
            Self::MarginRankingLoss(c) => Box::new(MarginRankingLoss::new(c.clone())?),
            Self::HingeEmbeddingLoss(c) => Box::new(HingeEmbeddingLoss::new(c.clone())?),
            Self::SoftMarginLoss(c) => Box::new(SoftMarginLoss::new(c.clone())?),
            Self::MultiLabelSoftMarginLoss(c) => {
                Box::new(MultiLabelSoftMarginLoss::new(c.clone())?)
            }
            Self::PoissonNLLLoss(c) => Box::new(PoissonNLLLoss::new(c.clone())?),
            Self::GaussianNLLLoss(c) => Box::new(GaussianNLLLoss::new(c.clone())?),
        })
    }

    /// The configured `reduction`.
    pub fn reduction(&self) -> Reduction {
        match self {
            Self::MSELoss(c) => c.reduction,
            Self::L1Loss(c) => c.reduction,
            Self::SmoothL1Loss(c) => c.reduction,
            Self::HuberLoss(c) => c.reduction,
            Self::BCELoss(c) => c.reduction,
            Self::BCEWithLogitsLoss(c) => c.reduction,
            Self::CrossEntropyLoss(c) => c.reduction,
            Self::NLLLoss(c) => c.reduction,
            Self::KLDivLoss(c) => c.reduction,
            Self::CosineEmbeddingLoss(c) => c.reduction,
            Self::TripletMarginLoss(c) => c.reduction,
            Self::MarginRankingLoss(c) => c.reduction,
            Self::HingeEmbeddingLoss(c) => c.reduction,
            Self::SoftMarginLoss(c) => c.reduction,
            Self::MultiLabelSoftMarginLoss(c) => c.reduction,
            Self::PoissonNLLLoss(c) => c.reduction,
            Self::GaussianNLLLoss(c) => c.reduction,
        }
    }
}
