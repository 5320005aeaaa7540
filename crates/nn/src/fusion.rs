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
/// layers after it, skipped by the plan), the last of which is layer `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub layer: usize,
    pub epilogue: Vec<Epilogue>,
    pub last: usize,
}

/// The order in which a container's layers run, fusions decided: built once with the
/// container, run on every forward pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FusionPlan {
    steps: Vec<Step>,
}

impl FusionPlan {
    /// Plans a chain of `layers`: each layer takes as many of the epilogue layers right
    /// after it as it [fuses](Layer::fuses).
    pub fn new<L: Layer>(layers: &[L]) -> Self {
        let order: Vec<usize> = (0..layers.len()).collect();
        Self::ordered(layers, &order, |_, _| true)
    }

    /// Plans `layers` run in `order`, where layer `order[p + 1]` may be fused into the
    /// step of `order[p]` only when `private(order[p], order[p + 1])`: the second takes
    /// the first's output alone, and nothing else does (in a graph).
    pub(crate) fn ordered<L: Layer>(
        layers: &[L],
        order: &[usize],
        private: impl Fn(usize, usize) -> bool,
    ) -> Self {
        let mut steps = Vec::with_capacity(order.len());
        let mut p = 0;
        while let Some(&i) = order.get(p) {
            let next: Vec<Epilogue> = order[p + 1..]
                .iter()
                .zip(&order[p..])
                .map_while(|(&n, &prev)| private(prev, n).then(|| layers[n].epilogue()).flatten())
                .collect();
            let k = layers[i].fuses(&next).min(next.len());
            steps.push(Step {
                layer: i,
                epilogue: next[..k].to_vec(),
                last: order[p + k],
            });
            p += 1 + k;
        }
        Self { steps }
    }

    /// The steps, in order.
    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Runs `layers` (a chain, as planned by [`FusionPlan::new`]) on `x`.
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
            .map(|s| s.layer..s.last + 1)
            .collect()
    }
}
