//! The op catalog: what `{ op = "cat", dim = 1, from = ["a", "b"] }` names in a graph.
//!
//! An op is a parameter-free function of one or more tensors (`torch.cat`, `x + y`,
//! `x.mean(dim)`), written in an experiment where a PyTorch `forward()` would call it.
//! Like layers, op classes are config types implementing [`OpSpec`], registered by name
//! in an [`OpCatalog`]; wick's own ([`register_ops`]) the same way a user's crate
//! registers its own (`catalog.op::<MyOpConfig>("my_op")`). In a built model an op is a
//! [`Layer`] without parameters ([`OpLayer`]), so containers treat both alike.

use crate::graph_ops::{
    AddConfig, CatConfig, DivConfig, FlattenOpConfig, MatmulConfig, MeanConfig, MulConfig,
    NarrowConfig, SelectConfig, StackConfig, SubConfig, SumConfig, TransposeConfig,
};
use crate::{Epilogue, Error, Layer, Result, Shape};
use candle_core::Tensor;
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::Tagged;

/// The arguments of a graph op (`torch.cat(..., dim=1)` → `CatConfig { dim: 1 }`): what
/// a config type implements to be named by `op = "..."` in an experiment file.
///
/// Dimensions are PyTorch's on the batched tensor; shapes are per sample.
pub trait OpSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Checks the arguments against the per-sample shapes of the inputs (in `from`
    /// order) and returns the output's. A bad argument is [`Error::Config`] naming it
    /// (`field = "from"` for the wrong number of inputs).
    fn infer(&mut self, inputs: &[Shape]) -> Result<Shape>;
    /// Computes the op on batched tensors (autograd through candle's ops).
    fn apply(&self, inputs: &[Tensor]) -> Result<Tensor>;
    /// The PyTorch expression for `wick export --python`, given the inputs' names.
    fn python(&self, inputs: &[String]) -> String;
    /// How many of the epilogues after the op it runs in its own kernel
    /// (the model's fusion pass); 0 by default.
    fn fuses(&self, next: &[Epilogue]) -> usize {
        let _ = next;
        0
    }
    /// The op followed by `epilogue` (a prefix of what [`OpSpec::fuses`] accepted): by
    /// default the op, then the epilogue unfused (`train`: the model's mode, for an
    /// epilogue that has one, as `BatchNorm2d`).
    fn apply_fused(&self, inputs: &[Tensor], epilogue: &[Epilogue], train: bool) -> Result<Tensor> {
        Epilogue::apply_all(self.apply(inputs)?, epilogue, train)
    }
}

/// One op of a graph, by name: `{ op = "add" }`.
pub type OpConfig = Tagged<dyn OpSpec>;

/// The op classes an experiment file can name.
pub type OpCatalog = wick_tensor::catalog::Catalog<dyn OpSpec>;

/// Implements [`OpSpec`] for the built-in configs (their inherent `infer`, `apply`,
/// `python`) and the catalog's plumbing with them as its built-ins.
macro_rules! builtin_ops {
    ($( $name:ident($cfg:ty) $([$fused:ident])? ),+ $(,)?) => {
        $(
            impl OpSpec for $cfg {
                $(
                    fn fuses(&self, next: &[Epilogue]) -> usize {
                        <$cfg>::$fused(self, next)
                    }
                    fn apply_fused(
                        &self,
                        inputs: &[Tensor],
                        epilogue: &[Epilogue],
                        train: bool,
                    ) -> Result<Tensor> {
                        <$cfg>::apply_fused(self, inputs, epilogue, train)
                    }
                )?
                fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
                    <$cfg>::infer(self, inputs)
                }
                fn apply(&self, inputs: &[Tensor]) -> Result<Tensor> {
                    <$cfg>::apply(self, inputs)
                }
                fn python(&self, inputs: &[String]) -> String {
                    <$cfg>::python(self, inputs)
                }
            }
        )+
        wick_tensor::open_catalog! {
            spec = OpSpec, what = "op", register = RegisterOp::op, constructor = op,
            builtins = register_ops { $( $name($cfg), )+ }
        }
    };
}

builtin_ops! {
    add(AddConfig)[fuses],
    sub(SubConfig),
    mul(MulConfig),
    div(DivConfig),
    cat(CatConfig),
    stack(StackConfig),
    mean(MeanConfig),
    sum(SumConfig),
    flatten(FlattenOpConfig),
    matmul(MatmulConfig),
    select(SelectConfig),
    narrow(NarrowConfig),
    transpose(TransposeConfig),
}

/// An op in a built model: a [`Layer`] without parameters whose
/// [`forward_inputs`](Layer::forward_inputs) applies the op.
pub struct OpLayer {
    config: OpConfig,
}

impl OpLayer {
    /// The layer of an op whose [`OpSpec::infer`] has run.
    pub fn new(config: OpConfig) -> Self {
        Self { config }
    }

    /// The PyTorch expression of the op on `inputs`.
    pub fn python(&self, inputs: &[String]) -> String {
        self.config.python(inputs)
    }
}

impl Layer for OpLayer {
    fn type_name(&self) -> &'static str {
        self.config.type_name()
    }
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_inputs(std::slice::from_ref(x), train)
    }
    fn fuses(&self, next: &[Epilogue]) -> usize {
        self.config.fuses(next)
    }
    fn forward_fused_inputs(
        &self,
        xs: &[Tensor],
        train: bool,
        epilogue: &[Epilogue],
    ) -> Result<Tensor> {
        self.config.apply_fused(xs, epilogue, train)
    }
    fn forward_inputs(&self, xs: &[Tensor], _train: bool) -> Result<Tensor> {
        if xs.is_empty() {
            return Err(Error::shape(format!(
                "`{}` called without inputs",
                self.type_name()
            )));
        }
        self.config.apply(xs)
    }
    fn describe(&self) -> String {
        let args: Vec<String> = self
            .config
            .args_table()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}({})", self.type_name(), args.join(", "))
    }
}
