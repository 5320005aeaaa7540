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
