use candle_core::{Tensor, Var};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A layer's trainable tensor: candle's [`Var`] with PyTorch's `requires_grad`.
///
/// Frozen (`set_requires_grad(false)`, as `p.requires_grad_(False)`), the layer's
/// forward gets a tensor detached from autograd from [`Parameter::tensor`]: no gradient
/// is computed for it, nor through the layers before it when none of them trains.
/// Clones share the flag, so the [`Param`]s a layer hands out freeze the layer itself.
#[derive(Debug, Clone)]
pub struct Parameter {
    var: Var,
    requires_grad: Arc<AtomicBool>,
}

impl Parameter {
    /// A trainable parameter holding a copy of `t`.
    pub fn new(t: &Tensor) -> candle_core::Result<Self> {
        Ok(Self::from_var(Var::from_tensor(t)?))
    }

    /// A trainable parameter around `var`.
    pub fn from_var(var: Var) -> Self {
        Self {
            var,
            requires_grad: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The value for forward: tracked by autograd while it requires a gradient,
    /// detached (no gradient computed) while frozen.
    pub fn tensor(&self) -> Tensor {
        if self.requires_grad() {
            self.var.as_tensor().clone()
        } else {
            self.var.as_tensor().detach()
        }
    }

    /// The variable (what optimizers update and checkpoints save).
    pub fn var(&self) -> &Var {
        &self.var
    }

    /// `p.requires_grad`.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad.load(Ordering::Relaxed)
    }

    /// `p.requires_grad_(on)`.
    pub fn set_requires_grad(&self, on: bool) {
        self.requires_grad.store(on, Ordering::Relaxed)
    }
}

/// A trainable tensor and its PyTorch `state_dict` name (`"1.weight"`, `"3.bias"`).
///
/// Models hand out their parameters as a `Vec<Param>` in module order, which is the
/// order of `model.named_parameters()` in PyTorch.
#[derive(Debug, Clone)]
pub struct Param {
    /// The `state_dict` key.
    pub name: String,
    /// The variable autograd tracks.
    pub var: Var,
    /// The layer's `requires_grad` flag, when the layer holds a [`Parameter`].
    requires_grad: Option<Arc<AtomicBool>>,
}

impl Param {
    /// A parameter called `name` holding a plain `var`: always trainable (a layer
    /// that holds [`Parameter`]s hands them out with [`Param::of`] instead, so that
    /// they can be frozen).
    pub fn new(name: impl Into<String>, var: Var) -> Self {
        Self {
            name: name.into(),
            var,
            requires_grad: None,
        }
    }

    /// The parameter `p` of a layer, called `name`, sharing its `requires_grad`.
    pub fn of(name: impl Into<String>, p: &Parameter) -> Self {
        Self {
            name: name.into(),
            var: p.var.clone(),
            requires_grad: Some(p.requires_grad.clone()),
        }
    }

    /// `p.requires_grad`: whether the optimizer gets this parameter.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
            .as_ref()
            .is_none_or(|f| f.load(Ordering::Relaxed))
    }

    /// `p.requires_grad_(on)`, seen by the layer holding the parameter.
    ///
    /// # Errors
    /// When the layer holds a plain candle `Var` (made with [`Param::new`]): it cannot
    /// leave its gradient out; hold a [`Parameter`] to make it freezable.
    pub fn set_requires_grad(&self, on: bool) -> crate::Result<()> {
        match &self.requires_grad {
            Some(f) => {
                f.store(on, Ordering::Relaxed);
                Ok(())
            }
            None if on => Ok(()),
            None => Err(crate::Error::NotFreezable(self.name.clone())),
        }
    }

    /// The parameter as a tensor (tracked by autograd).
    pub fn tensor(&self) -> &Tensor {
        self.var.as_tensor()
    }

    /// Number of scalar elements.
    pub fn numel(&self) -> usize {
        self.var.elem_count()
    }

    /// The same parameter under `prefix.name`, as a parent module names its children.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.name = format!("{prefix}.{}", self.name);
        }
        self
    }
}
