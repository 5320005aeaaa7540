//! Fusions: a layer that runs the parameter-free layers after it (a `ReLU`, then a
//! `MaxPool2d`) as the epilogue of its own op, so that their outputs are never written
//! out and read back.
//!
//! Which layers fuse is decided once, when a container is built ([`FusionPlan::new`]),
//! from two questions every [`Layer`] answers: what it is as an epilogue
//! ([`Layer::epilogue`]: `ReLU` → [`Epilogue::Relu`], `MaxPool2d` →
//! [`Epilogue::MaxPool`]) and how many of the epilogues that follow it it can run itself
//! ([`Layer::fuses`]). The container's forward pass then walks the plan: no type names
//! compared per step, and a user's layer fuses exactly as a built-in one does (PyTorch
//! leaves this to `torch.compile`; oneDNN calls these post-ops).
//!
//! A fused op computes the same values and gradients as the layers run one by one:
//! `max_pool2d(relu(conv2d(x)))`, with the ReLU's gradient 0 at 0 and the pooling's
//! gradient to the first maximum, as PyTorch's.

use crate::epilogue::Epilogue;
use crate::{Layer, Result};
use candle_core::Tensor;

/// One step of a [`FusionPlan`]: layer `layer` and the epilogues it runs in its op (the
/// layers right after it, skipped by the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    layer: usize,
    epilogue: Vec<Epilogue>,
}

/// The order in which a chain of layers runs, fusions decided: built once with the
/// container, run on every forward pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FusionPlan {
    steps: Vec<Step>,
}

impl FusionPlan {
    /// Plans `layers`: each layer takes as many of the epilogue layers right after it as
    /// it [fuses](Layer::fuses).
    pub fn new<L: Layer>(layers: &[L]) -> Self {
        let mut steps = Vec::with_capacity(layers.len());
        let mut i = 0;
        while let Some(layer) = layers.get(i) {
            let next: Vec<Epilogue> = layers[i + 1..].iter().map_while(|l| l.epilogue()).collect();
            let k = layer.fuses(&next).min(next.len());
            steps.push(Step {
                layer: i,
                epilogue: next[..k].to_vec(),
            });
            i += 1 + k;
        }
        Self { steps }
    }

    /// Runs `layers` (those the plan was made for) on `x`.
    pub fn forward<L: Layer>(&self, layers: &[L], x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.clone();
        for s in &self.steps {
            let layer = &layers[s.layer];
            x = if s.epilogue.is_empty() {
                layer.forward(&x, train)?
            } else {
                layer.forward_fused(&x, train, &s.epilogue)?
            };
        }
        Ok(x)
    }

    /// The fused groups, as index ranges of the layers (`[0..2, 3..6]`); layers run
    /// alone are not listed.
    pub fn fused(&self) -> Vec<std::ops::Range<usize>> {
        self.steps
            .iter()
            .filter(|s| !s.epilogue.is_empty())
            .map(|s| s.layer..s.layer + 1 + s.epilogue.len())
            .collect()
    }
}
