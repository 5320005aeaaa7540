use crate::{CrossEntropyLoss, CrossEntropyLossConfig, Loss, Result};

wick_tensor::tagged_config! {
    /// A loss by its PyTorch class name: `[loss] type = "CrossEntropyLoss"`.
    pub enum LossConfig {
        /// `torch.nn.CrossEntropyLoss`
        CrossEntropyLoss(CrossEntropyLossConfig),
    }
}

impl LossConfig {
    /// Validates the arguments and builds the loss.
    pub fn build(&self) -> Result<Box<dyn Loss>> {
        Ok(match self {
            Self::CrossEntropyLoss(c) => Box::new(CrossEntropyLoss::new(c.clone())?),
        })
    }
}
