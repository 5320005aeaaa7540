use crate::{
    AdaptivePool2dConfig, AvgPool1dConfig, AvgPool2dConfig, BatchNormConfig, BilinearConfig,
    BuildCtx, CELUConfig, Conv1dConfig, Conv2dConfig, ConvTranspose2dConfig, DropoutConfig,
    ELUConfig, EmbeddingConfig, FlattenConfig, GELUConfig, GroupNormConfig, HardsigmoidConfig,
    HardswishConfig, HardtanhConfig, IdentityConfig, InstanceNorm2dConfig, Layer, LayerNormConfig,
    LeakyReLUConfig, LinearConfig, LogSoftmaxConfig, MaxPool1dConfig, MaxPool2dConfig, MishConfig,
    PReLUConfig, ReLU, ReLU6Config, ReLUConfig, ResidualConfig, Result, SELUConfig,
    SequentialConfig, Shape, SiLUConfig, SigmoidConfig, SoftmaxConfig, SoftplusConfig,
    SoftsignConfig, TanhConfig, ThresholdConfig, UnflattenConfig,
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
        /// `torch.nn.Identity`
        Identity(IdentityConfig),
        /// `torch.nn.Unflatten`
        Unflatten(UnflattenConfig),
        /// `torch.nn.Bilinear` (in a Sequential: `Bilinear(x, x)`)
        Bilinear(BilinearConfig),
        /// `torch.nn.BatchNorm1d`
        BatchNorm1d(BatchNormConfig),
        /// `torch.nn.BatchNorm2d`
        BatchNorm2d(BatchNormConfig),
        /// `torch.nn.LayerNorm`
        LayerNorm(LayerNormConfig),
        /// `torch.nn.GroupNorm`
        GroupNorm(GroupNormConfig),
        /// `torch.nn.InstanceNorm2d`
        InstanceNorm2d(InstanceNorm2dConfig),
        /// `torch.nn.Dropout`
        Dropout(DropoutConfig),
        /// `torch.nn.Dropout2d`
        Dropout2d(DropoutConfig),
        /// `torch.nn.Embedding`
        Embedding(EmbeddingConfig),
        /// `torch.nn.ReLU6`
        ReLU6(ReLU6Config),
        /// `torch.nn.LeakyReLU`
        LeakyReLU(LeakyReLUConfig),
        /// `torch.nn.PReLU`
        PReLU(PReLUConfig),
        /// `torch.nn.ELU`
        ELU(ELUConfig),
        /// `torch.nn.SELU`
        SELU(SELUConfig),
        /// `torch.nn.CELU`
        CELU(CELUConfig),
        /// `torch.nn.GELU`
        GELU(GELUConfig),
        /// `torch.nn.SiLU`
        SiLU(SiLUConfig),
        /// `torch.nn.Mish`
        Mish(MishConfig),
        /// `torch.nn.Sigmoid`
        Sigmoid(SigmoidConfig),
        /// `torch.nn.Tanh`
        Tanh(TanhConfig),
        /// `torch.nn.Hardtanh`
        Hardtanh(HardtanhConfig),
        /// `torch.nn.Hardsigmoid`
        Hardsigmoid(HardsigmoidConfig),
        /// `torch.nn.Hardswish`
        Hardswish(HardswishConfig),
        /// `torch.nn.Softplus`
        Softplus(SoftplusConfig),
        /// `torch.nn.Softsign`
        Softsign(SoftsignConfig),
        /// `torch.nn.Softmax`
        Softmax(SoftmaxConfig),
        /// `torch.nn.LogSoftmax`
        LogSoftmax(LogSoftmaxConfig),
        /// `torch.nn.Threshold`
        Threshold(ThresholdConfig),
        /// `torch.nn.Sequential`, nested: `{ type = "Sequential", layers = [...] }`
        Sequential(SequentialConfig),
        /// A residual block: `layers(x) + (projection(x) or x)` (see [`ResidualConfig`])
        Residual(ResidualConfig),
    }
}

impl LayerConfig {
    /// Checks the arguments against the per-sample input shape, fills inferred arguments
    /// (`in_features`, `in_channels`) and returns the per-sample output shape.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        let same = || Ok(input.to_vec());
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
            Self::Identity(c) => c.infer(input),
            Self::Unflatten(c) => c.infer(input),
            Self::Bilinear(c) => c.infer(input),
            Self::BatchNorm1d(c) => c.infer(1, input),
            Self::BatchNorm2d(c) => c.infer(2, input),
            Self::LayerNorm(c) => c.infer(input),
            Self::GroupNorm(c) => c.infer(input),
            Self::InstanceNorm2d(c) => c.infer(input),
            Self::Dropout(c) => c.infer(false, input),
            Self::Dropout2d(c) => c.infer(true, input),
            Self::Embedding(c) => c.infer(input),
            Self::PReLU(c) => c.infer(input),
            Self::Softmax(c) => c.infer(input),
            Self::LogSoftmax(c) => c.infer(input),
            Self::Sequential(c) => c.infer(input),
            Self::Residual(c) => c.infer(input),
            // elementwise: validate the arguments, keep the shape
            _ => {
                self.build_activation()?;
                same()
            }
        }
    }

    fn build_activation(&self) -> Result<Box<dyn Layer>> {
        Ok(match self {
            Self::ReLU6(c) => Box::new(c.init()?),
            Self::LeakyReLU(c) => Box::new(c.init()?),
            Self::ELU(c) => Box::new(c.init()?),
            Self::SELU(c) => Box::new(c.init()?),
            Self::CELU(c) => Box::new(c.init()?),
            Self::GELU(c) => Box::new(c.init()?),
            Self::SiLU(c) => Box::new(c.init()?),
            Self::Mish(c) => Box::new(c.init()?),
            Self::Sigmoid(c) => Box::new(c.init()?),
            Self::Tanh(c) => Box::new(c.init()?),
            Self::Hardtanh(c) => Box::new(c.init()?),
            Self::Hardsigmoid(c) => Box::new(c.init()?),
            Self::Hardswish(c) => Box::new(c.init()?),
            Self::Softplus(c) => Box::new(c.init()?),
            Self::Softsign(c) => Box::new(c.init()?),
            Self::Threshold(c) => Box::new(c.init()?),
            Self::Softmax(c) => Box::new(c.init()?),
            Self::LogSoftmax(c) => Box::new(c.init()?),
            other => {
                return Err(crate::Error::shape(format!(
                    "{} is not an activation",
                    other.type_name()
                )))
            }
        })
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
            Self::Identity(_) => Box::new(crate::Identity),
            Self::Unflatten(c) => Box::new(c.init()),
            Self::Bilinear(c) => Box::new(c.init(ctx)?),
            Self::BatchNorm1d(c) => Box::new(c.init(1, ctx)?),
            Self::BatchNorm2d(c) => Box::new(c.init(2, ctx)?),
            Self::LayerNorm(c) => Box::new(c.init(ctx)?),
            Self::GroupNorm(c) => Box::new(c.init(ctx)?),
            Self::InstanceNorm2d(c) => Box::new(c.init(ctx)?),
            Self::Dropout(c) => Box::new(c.init(false, ctx)?),
            Self::Dropout2d(c) => Box::new(c.init(true, ctx)?),
            Self::Embedding(c) => Box::new(c.init(ctx)?),
            Self::PReLU(c) => Box::new(c.build(ctx)?),
            Self::Sequential(c) => Box::new(c.init(ctx)?),
            Self::Residual(c) => Box::new(c.init(ctx)?),
            _ => self.build_activation()?,
        })
    }
}
