use crate::{
    AdaptivePool2dConfig, AvgPool1dConfig, AvgPool2dConfig, BuildCtx, Conv1dConfig, Conv2dConfig,
    ConvTranspose2dConfig, FlattenConfig, Layer, LinearConfig, MaxPool1dConfig, MaxPool2dConfig,
    ReLU, ReLUConfig, Result, Shape,
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
        /// `torch.nn.Conv1d`
        Conv1d(Conv1dConfig),
        /// `torch.nn.ConvTranspose2d`
        ConvTranspose2d(ConvTranspose2dConfig),
        /// `torch.nn.MaxPool1d`
        MaxPool1d(MaxPool1dConfig),
        /// `torch.nn.AvgPool1d`
        AvgPool1d(AvgPool1dConfig),
        /// `torch.nn.AvgPool2d`
        AvgPool2d(AvgPool2dConfig),
        /// `torch.nn.AdaptiveAvgPool2d`
        AdaptiveAvgPool2d(AdaptivePool2dConfig),
        /// `torch.nn.AdaptiveMaxPool2d`
        AdaptiveMaxPool2d(AdaptivePool2dConfig),
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
            Self::Conv1d(c) => c.infer(input),
            Self::ConvTranspose2d(c) => c.infer(input),
            Self::MaxPool1d(c) => c.infer(input),
            Self::AvgPool1d(c) => c.infer(input),
            Self::AvgPool2d(c) => c.infer(input),
            Self::AdaptiveAvgPool2d(c) | Self::AdaptiveMaxPool2d(c) => c.infer(input),
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
            Self::Conv1d(c) => Box::new(c.init(ctx)?),
            Self::ConvTranspose2d(c) => Box::new(c.init(ctx)?),
            Self::MaxPool1d(c) => Box::new(c.init()?),
            Self::AvgPool1d(c) => Box::new(c.init()?),
            Self::AvgPool2d(c) => Box::new(c.init()?),
            Self::AdaptiveAvgPool2d(c) => Box::new(c.init_avg()),
            Self::AdaptiveMaxPool2d(c) => Box::new(c.init_max()),
        })
    }
}
