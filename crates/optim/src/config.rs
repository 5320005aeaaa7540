use crate::{Optimizer, Result, SgdConfig};
use wick_tensor::Param;

wick_tensor::tagged_config! {
    /// An optimizer by its PyTorch class name: `[optimizer] type = "SGD"`.
    pub enum OptimizerConfig {
        /// `torch.optim.SGD`
        SGD(SgdConfig),
    }
}

impl OptimizerConfig {
    /// Validates the arguments and creates the optimizer over `params`.
    pub fn build(&self, params: Vec<Param>) -> Result<Box<dyn Optimizer>> {
        Ok(match self {
            Self::SGD(c) => Box::new(c.build(params)?),
        })
    }

    /// Validates the arguments without creating anything.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::SGD(c) => c.validate(),
        }
    }
}
