use crate::{
    BuildCtx, Conv2dConfig, FlattenConfig, Layer, LinearConfig, MaxPool2dConfig, ReLU, ReLUConfig,
    Result, Shape,
};

wick_tensor::tagged_config! {
    /// One layer of a model, by its PyTorch class name: `{ type = "Linear", out_features = 10 }`.
    pub enum LayerConfig {
        /// `torch.nn.Linear`
        Linear(LinearConfig),
        /// `torch.nn.ReLU`
        ReLU(ReLUConfig),
        /// `torch.nn.Flatten`
        Flatten(FlattenConfig),
        /// `torch.nn.Conv2d`
        Conv2d(Conv2dConfig),
        /// `torch.nn.MaxPool2d`
        MaxPool2d(MaxPool2dConfig),
    }
}

impl LayerConfig {
    /// Checks the arguments against the per-sample input shape, fills inferred arguments
    /// (`in_features`, `in_channels`) and returns the per-sample output shape.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        match self {
            Self::Linear(c) => c.infer(input),
            Self::ReLU(c) => c.infer(input),
            Self::Flatten(c) => c.infer(input),
            Self::Conv2d(c) => c.infer(input),
            Self::MaxPool2d(c) => c.infer(input),
        }
    }

    /// Builds the layer; [`LayerConfig::infer`] must have run.
    pub fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> {
        Ok(match self {
            Self::Linear(c) => Box::new(c.init(ctx)?),
            Self::ReLU(_) => Box::new(ReLU),
            Self::Flatten(c) => Box::new(c.init()),
            Self::Conv2d(c) => Box::new(c.init(ctx)?),
            Self::MaxPool2d(c) => Box::new(c.init()?),
        })
    }
}
