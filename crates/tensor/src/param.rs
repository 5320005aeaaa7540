use candle_core::{Tensor, Var};

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
}

impl Param {
    /// A parameter called `name` holding `var`.
    pub fn new(name: impl Into<String>, var: Var) -> Self {
        Self {
            name: name.into(),
            var,
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
