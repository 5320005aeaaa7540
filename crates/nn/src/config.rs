//! The layer catalog: what `{ type = "Linear", out_features = 10 }` names.
//!
//! A layer class is a config type implementing [`LayerSpec`] (infer the output shape,
//! build the [`Layer`]) registered under its PyTorch class name in a
//! [`LayerCatalog`]. wick's own classes are registered by [`register_builtins`] exactly
//! as a user's crate registers its own (`catalog.layer::<MyLayerConfig>("MyLayer")`),
//! so a user's layer gets shape inference, the summary table, diagnostics with
//! suggestions and `state_dict` names the same way a built-in does.

use crate::{
    AdaptiveAvgPool2dConfig, AdaptiveMaxPool2dConfig, AvgPool1dConfig, AvgPool2dConfig,
    BatchNorm1dConfig, BatchNorm2dConfig, BilinearConfig, BuildCtx, CELUConfig, Conv1dConfig,
    Conv2dConfig, ConvTranspose2dConfig, Dropout2dConfig, DropoutConfig, ELUConfig,
    EmbeddingConfig, FlattenConfig, GELUConfig, GroupNormConfig, HardsigmoidConfig,
    HardswishConfig, HardtanhConfig, IdentityConfig, InstanceNorm2dConfig, Layer, LayerNormConfig,
    LeakyReLUConfig, LinearConfig, LogSoftmaxConfig, MaxPool1dConfig, MaxPool2dConfig, MishConfig,
    PReLUConfig, ReLU, ReLU6Config, ReLUConfig, ResidualConfig, Result, SELUConfig,
    SequentialConfig, Shape, SiLUConfig, SigmoidConfig, SoftmaxConfig, SoftplusConfig,
    SoftsignConfig, StochasticDepthConfig, TanhConfig, ThresholdConfig, UnflattenConfig,
};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};

/// The arguments of a layer class (`nn.Linear(in_features, out_features, bias)`):
/// what a config type implements to be named in an experiment file.
///
/// The type is also `serde`'s (`Deserialize` with PyTorch's argument names and
/// defaults, `#[serde(deny_unknown_fields)]`; `Serialize` for the run's
/// `config.toml`), `Clone` and `Debug`.
///
/// ```text
/// impl LayerSpec for MyLayerConfig {
///     fn infer(&mut self, input: &[usize]) -> Result<Shape> { … }     // [in] → [out]
///     fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> { … }
/// }
/// catalog.layer::<MyLayerConfig>("MyLayer")?;
/// ```
pub trait LayerSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Checks the arguments against the per-sample input shape (no batch dimension),
    /// fills inferred arguments (`in_features` from `[784]`) and returns the per-sample
    /// output shape. A bad argument is [`crate::Error::Config`] naming the field.
    fn infer(&mut self, input: &[usize]) -> Result<Shape>;
    /// [`LayerSpec::infer`] for a graph node of several inputs (`from = ["a", "b"]`),
    /// their shapes in `from` order. The default takes exactly one; a layer of two
    /// inputs overrides it (and [`Layer::forward_inputs`]).
    fn infer_inputs(&mut self, inputs: &[Shape]) -> Result<Shape> {
        match inputs {
            [x] => self.infer(x),
            _ => Err(crate::Error::field(
                "from",
                format!("this layer takes one input, {} given", inputs.len()),
            )),
        }
    }
    /// Builds the layer with its initial parameters, drawn from `ctx.rng`;
    /// [`LayerSpec::infer`] has run.
    fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>>;
    /// The argument that sets the size of the output (`"out_features"`), which a
    /// diagnostic about the model's output points at; `None`: the layer's `type`.
    fn output_argument(&self) -> Option<&'static str> {
        None
    }
}

/// One layer of a model, by its PyTorch class name: `{ type = "Linear", out_features = 10 }`.
pub type LayerConfig = Tagged<dyn LayerSpec>;

/// The layer classes an experiment file can name.
pub type LayerCatalog = Catalog<dyn LayerSpec>;

/// Implements [`LayerSpec`] for a built-in config: `infer` and `build` as given.
macro_rules! builtin_layer {
    ($name:ident($cfg:ty) { infer: |$c:ident, $i:ident| $infer:expr, build: |$b:ident, $ctx:ident| $build:expr $(, output: $out:literal)? $(, inputs: |$mc:ident, $mi:ident| $many:expr)? }) => {
        impl LayerSpec for $cfg {
            fn infer(&mut self, $i: &[usize]) -> Result<Shape> {
                let $c = self;
                $infer
            }
            fn build(&self, $ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> {
                let $b = self;
                let _ = (&$b, &$ctx);
                Ok(Box::new($build))
            }
            $( fn output_argument(&self) -> Option<&'static str> { Some($out) } )?
            $( fn infer_inputs(&mut self, $mi: &[Shape]) -> Result<Shape> {
                let $mc = self;
                $many
            } )?
        }
    };
}

/// The built-in classes: layers with their own `infer`/`build`, and activations, whose
/// arguments are checked by building them and which keep the shape; the catalog's
/// plumbing (`wick_tensor::open_catalog!`) with them as its built-ins.
macro_rules! builtin_layers {
    (
        layers { $( $name:ident($cfg:ty) $body:tt )+ }
        activations { $( $act:ident($acfg:ty) )+ }
    ) => {
        $( builtin_layer!($name($cfg) $body); )+
        $( builtin_layer!($act($acfg) {
            infer: |c, i| { c.init()?; Ok(i.to_vec()) },
            build: |c, ctx| c.init()?
        }); )+

        wick_tensor::open_catalog! {
            spec = LayerSpec, what = "layer", register = RegisterLayer::layer,
            constructor = layer,
            builtins = register_builtins { $( $name($cfg), )+ $( $act($acfg), )+ }
        }
    };
}

builtin_layers! {
    layers {
        Linear(LinearConfig) { infer: |c, i| LinearConfig::infer(c, i), build: |c, ctx| c.init(ctx)?, output: "out_features" }
        ReLU(ReLUConfig) { infer: |c, i| ReLUConfig::infer(c, i), build: |c, ctx| ReLU }
        Flatten(FlattenConfig) { infer: |c, i| FlattenConfig::infer(c, i), build: |c, ctx| c.init() }
        Conv2d(Conv2dConfig) { infer: |c, i| Conv2dConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        MaxPool2d(MaxPool2dConfig) { infer: |c, i| MaxPool2dConfig::infer(c, i), build: |c, ctx| c.init()? }
        Conv1d(Conv1dConfig) { infer: |c, i| Conv1dConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        ConvTranspose2d(ConvTranspose2dConfig) { infer: |c, i| ConvTranspose2dConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        MaxPool1d(MaxPool1dConfig) { infer: |c, i| MaxPool1dConfig::infer(c, i), build: |c, ctx| c.init()? }
        AvgPool1d(AvgPool1dConfig) { infer: |c, i| AvgPool1dConfig::infer(c, i), build: |c, ctx| c.init()? }
        AvgPool2d(AvgPool2dConfig) { infer: |c, i| AvgPool2dConfig::infer(c, i), build: |c, ctx| c.init()? }
        AdaptiveAvgPool2d(AdaptiveAvgPool2dConfig) { infer: |c, i| c.0.infer(i), build: |c, ctx| c.0.init_avg() }
        AdaptiveMaxPool2d(AdaptiveMaxPool2dConfig) { infer: |c, i| c.0.infer(i), build: |c, ctx| c.0.init_max() }
        Identity(IdentityConfig) { infer: |c, i| IdentityConfig::infer(c, i), build: |c, ctx| crate::Identity }
        Unflatten(UnflattenConfig) { infer: |c, i| UnflattenConfig::infer(c, i), build: |c, ctx| c.init() }
        Bilinear(BilinearConfig) { infer: |c, i| BilinearConfig::infer(c, i), build: |c, ctx| c.init(ctx)?, output: "out_features", inputs: |c, i| c.infer_inputs(i) }
        BatchNorm1d(BatchNorm1dConfig) { infer: |c, i| c.0.infer(1, i), build: |c, ctx| c.0.init(1, ctx)? }
        BatchNorm2d(BatchNorm2dConfig) { infer: |c, i| c.0.infer(2, i), build: |c, ctx| c.0.init(2, ctx)? }
        LayerNorm(LayerNormConfig) { infer: |c, i| LayerNormConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        GroupNorm(GroupNormConfig) { infer: |c, i| GroupNormConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        InstanceNorm2d(InstanceNorm2dConfig) { infer: |c, i| InstanceNorm2dConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        Dropout(DropoutConfig) { infer: |c, i| DropoutConfig::infer(c, false, i), build: |c, ctx| c.init(false, ctx)? }
        Dropout2d(Dropout2dConfig) { infer: |c, i| c.0.infer(true, i), build: |c, ctx| c.0.init(true, ctx)? }
        StochasticDepth(StochasticDepthConfig) { infer: |c, i| StochasticDepthConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        Embedding(EmbeddingConfig) { infer: |c, i| EmbeddingConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
        PReLU(PReLUConfig) { infer: |c, i| PReLUConfig::infer(c, i), build: |c, ctx| PReLUConfig::build(c, ctx)? }
        Softmax(SoftmaxConfig) { infer: |c, i| SoftmaxConfig::infer(c, i), build: |c, ctx| c.init()? }
        LogSoftmax(LogSoftmaxConfig) { infer: |c, i| LogSoftmaxConfig::infer(c, i), build: |c, ctx| c.init()? }
        Sequential(SequentialConfig) { infer: |c, i| SequentialConfig::infer(c, i), build: |c, ctx| c.init(ctx)?, inputs: |c, i| c.infer_inputs(i) }
        Residual(ResidualConfig) { infer: |c, i| ResidualConfig::infer(c, i), build: |c, ctx| c.init(ctx)? }
    }
    activations {
        ReLU6(ReLU6Config)
        LeakyReLU(LeakyReLUConfig)
        ELU(ELUConfig)
        SELU(SELUConfig)
        CELU(CELUConfig)
        GELU(GELUConfig)
        SiLU(SiLUConfig)
        Mish(MishConfig)
        Sigmoid(SigmoidConfig)
        Tanh(TanhConfig)
        Hardtanh(HardtanhConfig)
        Hardsigmoid(HardsigmoidConfig)
        Hardswish(HardswishConfig)
        Softplus(SoftplusConfig)
        Softsign(SoftsignConfig)
        Threshold(ThresholdConfig)
    }
}
