use crate::epilogue::Epilogue;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::sync::Arc;
use wick_tensor::{Param, SeedRng};

/// What a layer needs to create its parameters: the device, the dtype and the random
/// stream driving PyTorch's default init.
pub struct BuildCtx<'a> {
    /// Where parameters live.
    pub device: &'a Device,
    /// Parameter dtype (`F32` unless told otherwise).
    pub dtype: DType,
    /// The init stream (derived from the experiment seed). Layers with randomness of
    /// their own (Dropout) draw their stream's seed from it, so the run's seed drives
    /// them too.
    pub rng: &'a mut SeedRng,
}

/// A `torch.nn.Module`: forward in train or eval mode, its parameters and buffers by
/// name, and a one-line description as PyTorch prints it.
///
/// Train/eval mode is the `train` argument of [`Layer::forward`] (`module.training`).
/// Every method but `type_name`, `forward` and `describe` has a default for layers
/// without parameters, buffers or children.
pub trait Layer: Send + Sync {
    /// The PyTorch class name (`"Linear"`).
    fn type_name(&self) -> &'static str;
    /// Runs the layer on a batch. `train` is `module.training`.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// Runs the layer on several inputs (a graph node with `from = ["a", "b"]`), in
    /// `from` order. The default takes exactly one and calls [`Layer::forward`]; a
    /// layer of two inputs (`Bilinear`, a user's `DisMult`) overrides it.
    fn forward_inputs(&self, xs: &[Tensor], train: bool) -> Result<Tensor> {
        match xs {
            [x] => self.forward(x, train),
            _ => Err(Error::field(
                "from",
                format!("{} takes one input, {} given", self.type_name(), xs.len()),
            )),
        }
    }
    /// Runs the layer on its inputs and returns every output: a model of several
    /// outputs (a siamese network's two embeddings) overrides it; the default is the
    /// one output of [`Layer::forward_inputs`].
    fn forward_outputs(&self, xs: &[Tensor], train: bool) -> Result<Vec<Tensor>> {
        Ok(vec![self.forward_inputs(xs, train)?])
    }
    /// What this layer is as the epilogue of the layer before it, which may then run it
    /// in its own op (the model's fusion pass): `Some` for `ReLU` and `MaxPool2d`; `None`
    /// (the default) for every other layer.
    fn epilogue(&self) -> Option<Epilogue> {
        None
    }
    /// How many of `next` (the epilogues of the layers right after this one, in order)
    /// this layer runs in its own op through [`Layer::forward_fused`]; 0 (the default):
    /// none. Asked once, when the container is built.
    fn fuses(&self, next: &[Epilogue]) -> usize {
        let _ = next;
        0
    }
    /// This layer followed by `epilogue` (a prefix of what [`Layer::fuses`] accepted),
    /// with the values and gradients of `epilogue` applied to `self.forward(x)`, which
    /// is what the default computes; a layer with a fused kernel overrides it.
    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        Epilogue::apply_all(self.forward(x, train)?, epilogue, train)
    }
    /// [`Layer::forward_fused`] for a node of several inputs (`from = ["a", "b"]`): the
    /// default runs one input through `forward_fused`, several through
    /// [`Layer::forward_inputs`] and then the epilogue unfused.
    fn forward_fused_inputs(
        &self,
        xs: &[Tensor],
        train: bool,
        epilogue: &[Epilogue],
    ) -> Result<Tensor> {
        match xs {
            [x] => self.forward_fused(x, train, epilogue),
            _ => Epilogue::apply_all(self.forward_inputs(xs, train)?, epilogue, train),
        }
    }
    /// Parameters, named relative to the layer (`"weight"`, `"bias"`), in PyTorch order
    /// (`named_parameters()`).
    fn parameters(&self) -> Vec<Param> {
        Vec::new()
    }
    /// Buffers (state that is saved but not trained: `running_mean`, `running_var`,
    /// `num_batches_tracked`), named relative to the layer, in PyTorch order
    /// (`named_buffers()`); the tensors are detached copies of the current values.
    fn buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    /// Replaces the buffer `name` (as named by [`Layer::buffers`]) with `value`, which
    /// must have the buffer's shape; it is converted to the buffer's dtype and device.
    fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
        let _ = value;
        Err(Error::shape(format!(
            "unexpected key in state_dict: {name:?}"
        )))
    }
    /// `state_dict()`: parameters then buffers, as PyTorch orders a module's own
    /// entries; containers override it to list their children's in module order.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .parameters()
            .into_iter()
            .map(|p| (p.name, p.var.as_tensor().detach()))
            .collect();
        out.extend(self.buffers());
        out
    }
    /// Counters of the layer's random streams (Dropout's number of masks drawn), named
    /// like buffers. They are not part of PyTorch's `state_dict`; a checkpoint saves
    /// them beside it so that a resumed run draws the same masks.
    fn rng_counters(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// Restores a counter listed by [`Layer::rng_counters`].
    fn set_rng_counter(&self, name: &str, value: u64) -> Result<()> {
        let _ = value;
        Err(Error::shape(format!("no random stream named {name:?}")))
    }
    /// Freezes a BatchNorm's statistics (`frozen_batchnorm`): in train mode too it
    /// normalizes with its running statistics and leaves them unchanged, as
    /// torchvision's `FrozenBatchNorm2d` does. Other layers ignore it.
    fn freeze_batchnorm(&self, on: bool) {
        let _ = on;
    }
    /// Makes a BatchNorm synchronized (`torch.nn.SyncBatchNorm.convert_sync_batchnorm`):
    /// in train mode its batch statistics are those of every process's batch together,
    /// summed by `sum` (`None`: its own batch again). Other layers ignore it.
    fn sync_batchnorm(&self, sum: Option<std::sync::Arc<dyn crate::ProcessSum>>) {
        let _ = sum;
    }
    /// Child modules with their names (`"0"`, `"layers"`), for containers; used by the
    /// summary table.
    fn children(&self) -> Vec<(String, &dyn Layer)> {
        Vec::new()
    }
    /// Rows of the summary table for the children of a container at `path` (the
    /// container's own row is written by its parent); empty for a plain layer.
    fn summary_rows(&self, path: &str, depth: usize) -> Vec<crate::LayerSummary> {
        let _ = (path, depth);
        Vec::new()
    }
    /// `repr(module)`, e.g. `Linear(in_features=784, out_features=512, bias=True)`.
    fn describe(&self) -> String;
}

/// A boxed layer is a layer (a model built from configs, `Box<dyn Layer>`), and so is
/// a shared one (a module called by several nodes of a graph, `Arc<dyn Layer>`).
macro_rules! pointer_layer {
    ($ptr:ident) => {
        impl<L: Layer + ?Sized> Layer for $ptr<L> {
            fn type_name(&self) -> &'static str {
                (**self).type_name()
            }
            fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
                (**self).forward(x, train)
            }
            fn forward_inputs(&self, xs: &[Tensor], train: bool) -> Result<Tensor> {
                (**self).forward_inputs(xs, train)
            }
            fn forward_outputs(&self, xs: &[Tensor], train: bool) -> Result<Vec<Tensor>> {
                (**self).forward_outputs(xs, train)
            }
            fn epilogue(&self) -> Option<Epilogue> {
                (**self).epilogue()
            }
            fn fuses(&self, next: &[Epilogue]) -> usize {
                (**self).fuses(next)
            }
            fn forward_fused(
                &self,
                x: &Tensor,
                train: bool,
                epilogue: &[Epilogue],
            ) -> Result<Tensor> {
                (**self).forward_fused(x, train, epilogue)
            }
            fn parameters(&self) -> Vec<Param> {
                (**self).parameters()
            }
            fn buffers(&self) -> Vec<(String, Tensor)> {
                (**self).buffers()
            }
            fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
                (**self).load_buffer(name, value)
            }
            fn state_dict(&self) -> Vec<(String, Tensor)> {
                (**self).state_dict()
            }
            fn rng_counters(&self) -> Vec<(String, u64)> {
                (**self).rng_counters()
            }
            fn set_rng_counter(&self, name: &str, value: u64) -> Result<()> {
                (**self).set_rng_counter(name, value)
            }
            fn freeze_batchnorm(&self, on: bool) {
                (**self).freeze_batchnorm(on)
            }
            fn sync_batchnorm(&self, sum: Option<std::sync::Arc<dyn crate::ProcessSum>>) {
                (**self).sync_batchnorm(sum)
            }
            fn children(&self) -> Vec<(String, &dyn Layer)> {
                (**self).children()
            }
            fn summary_rows(&self, path: &str, depth: usize) -> Vec<crate::LayerSummary> {
                (**self).summary_rows(path, depth)
            }
            fn describe(&self) -> String {
                (**self).describe()
            }
        }
    };
}

pointer_layer!(Box);
pointer_layer!(Arc);

pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A float as Python's `repr` writes it: `0.1`, `1.0`, `1e-05`, `inf`.
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust: "1e-5" / "1.5e20"; Python: "1e-05" / "1.5e+20"
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        s + ".0"
    }
}

/// Splits `"3.running_mean"` into `("3", "running_mean")`.
pub(crate) fn split_name(name: &str) -> Option<(&str, &str)> {
    name.split_once('.')
}

/// A buffer behind a lock: layers update their running statistics in `forward(&self)`.
#[derive(Debug)]
pub(crate) struct Buffer(std::sync::Mutex<Tensor>);

impl Buffer {
    pub(crate) fn new(t: Tensor) -> Self {
        Self(std::sync::Mutex::new(t))
    }
    pub(crate) fn get(&self) -> Tensor {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub(crate) fn set(&self, t: Tensor) {
        match self.0.lock() {
            Ok(mut g) => *g = t,
            Err(p) => *p.into_inner() = t,
        }
    }
    /// Loads `value` (same shape; converted to this buffer's dtype and device).
    pub(crate) fn load(&self, name: &str, value: &Tensor) -> Result<()> {
        let cur = self.get();
        if value.dims() != cur.dims() {
            return Err(Error::shape(format!(
                "size mismatch for {name}: copying a buffer with shape {:?}, the shape in the \
                 current model is {:?}",
                value.dims(),
                cur.dims()
            )));
        }
        self.set(
            value
                .to_dtype(cur.dtype())?
                .to_device(cur.device())?
                .detach(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(20.0), "20.0");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(-1.5e20), "-1.5e+20");
        assert_eq!(py_float(0.01), "0.01");
    }
}
