//! The course's two-input layer, `DisMult`, and a dataset of pairs to train it on.
//!
//! ```python
//! class DisMult(nn.Module):
//!     def __init__(self, emb_size):
//!         super().__init__()
//!         self.weights = nn.Parameter(torch.Tensor(emb_size, emb_size))
//!         stdv = 1. / math.sqrt(emb_size)
//!         self.weights.data.uniform_(-stdv, stdv)
//!     def forward(self, input1, input2):
//!         return torch.sigmoid(torch.sum((input1 @ self.weights) * input2, dim=1))
//! ```
//!
//! A layer of several inputs implements [`LayerSpec::infer_inputs`] (the shapes of its
//! `from = [...]`, in order) and [`Layer::forward_inputs`]; in a file it is a graph node
//! `{ type = "DisMult", from = ["input1", "input2"] }`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wick::data::datasets::{DataInfo, DatasetContext, DatasetSpec};
use wick::data::{Array, Dataset, Input, Sample, Split, Target};
use wick::nn::{BuildCtx, Error, Layer, LayerSpec, Result, Shape};
use wick::tensor::candle_core::Tensor;
use wick::tensor::{init, Param, Parameter, SeedRng};

/// The arguments of `DisMult(emb_size)`; `emb_size` is inferred from the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisMultConfig {
    /// The embeddings' size; inferred when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emb_size: Option<usize>,
}

impl LayerSpec for DisMultConfig {
    fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        self.infer_inputs(&[input.to_vec()])
    }

    /// `[emb_size]` and `[emb_size]` → `[]` (one score per pair).
    fn infer_inputs(&mut self, inputs: &[Shape]) -> Result<Shape> {
        let [a, b] = inputs else {
            return Err(Error::field(
                "from",
                format!(
                    "DisMult takes two inputs (input1, input2), {} given",
                    inputs.len()
                ),
            ));
        };
        let (&[n], &[m]) = (a.as_slice(), b.as_slice()) else {
            return Err(Error::shape(format!(
                "DisMult takes two flat embeddings, got {a:?} and {b:?}"
            )));
        };
        if n != m || self.emb_size.is_some_and(|e| e != n) {
            return Err(Error::field(
                "emb_size",
                format!("DisMult's inputs have {n} and {m} features; emb_size must be both"),
            ));
        }
        self.emb_size = Some(n);
        Ok(Vec::new())
    }

    /// `weights ~ U(−1/√emb_size, 1/√emb_size)`, as the course's `reset_parameters`.
    fn build(&self, ctx: &mut BuildCtx) -> Result<Box<dyn Layer>> {
        let e = self
            .emb_size
            .ok_or_else(|| Error::field("emb_size", "emb_size is not known"))?;
        let stdv = 1.0 / (e as f64).sqrt();
        let w = init::uniform((e, e), -stdv, stdv, ctx.dtype, ctx.device, ctx.rng)?;
        Ok(Box::new(DisMult {
            weights: Parameter::new(&w)?,
        }))
    }
}

/// `sigmoid(Σⱼ (input1 · W)ⱼ · input2ⱼ)`, per pair.
pub struct DisMult {
    weights: Parameter,
}

impl DisMult {
    /// The forward formula on plain tensors (what the gradient check differentiates).
    pub fn apply(input1: &Tensor, input2: &Tensor, weights: &Tensor) -> Result<Tensor> {
        let score = (input1.matmul(weights)? * input2)?.sum(1)?;
        Ok(wick::nn::unary::unary(
            &score,
            wick::nn::unary::Unary::Sigmoid,
        )?)
    }
}

impl Layer for DisMult {
    fn type_name(&self) -> &'static str {
        "DisMult"
    }
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_inputs(std::slice::from_ref(x), train)
    }
    fn forward_inputs(&self, xs: &[Tensor], _train: bool) -> Result<Tensor> {
        match xs {
            [a, b] => Self::apply(a, b, &self.weights.tensor()),
            _ => Err(Error::field(
                "from",
                format!("DisMult takes two inputs, {} given", xs.len()),
            )),
        }
    }
    fn parameters(&self) -> Vec<Param> {
        vec![Param::of("weights", &self.weights)]
    }
    fn describe(&self) -> String {
        format!("DisMult(emb_size={})", self.weights.var().dims()[0])
    }
}

/// Pairs of random embeddings `(input1, input2)` labelled `1` when a hidden relation
/// holds (`input1ᵀ R input2 > 0`, `R` drawn from `relation_seed`), else `0`: what a
/// `DisMult` can learn exactly (its `W` ∝ `R`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationPairsConfig {
    /// Pairs per split.
    pub n_samples: usize,
    /// The embeddings' size.
    pub emb_size: usize,
    /// The seed of the hidden relation (the same for both splits; default 0).
    #[serde(default)]
    pub relation_seed: u64,
}

/// The pairs of a [`RelationPairsConfig`].
pub struct RelationPairs {
    pairs: Vec<(Vec<f32>, Vec<f32>, f32)>,
}

impl RelationPairsConfig {
    fn check(&self) -> wick::data::Result<()> {
        let too_many = self.n_samples.saturating_mul(self.emb_size.max(1)) > 50_000_000;
        if self.n_samples == 0 || self.emb_size == 0 || too_many {
            return Err(wick::data::Error::Config {
                field: "n_samples",
                message: "n_samples and emb_size must be positive, n_samples·emb_size ≤ 5e7".into(),
            });
        }
        Ok(())
    }

    fn generate(&self, seed: u64, split: u64) -> wick::data::Result<RelationPairs> {
        self.check()?;
        let e = self.emb_size;
        let mut r = SeedRng::stream(self.relation_seed, "relation", &[]);
        let relation: Vec<f64> = (0..e * e).map(|_| r.normal()).collect();
        let mut rng = SeedRng::stream(seed, "relation-pairs", &[split]);
        let mut vector = || (0..e).map(|_| rng.normal() as f32).collect::<Vec<f32>>();
        let pairs = (0..self.n_samples)
            .map(|_| {
                let (a, b) = (vector(), vector());
                let score: f64 = (0..e)
                    .flat_map(|i| (0..e).map(move |j| (i, j)))
                    .map(|(i, j)| f64::from(a[i]) * relation[i * e + j] * f64::from(b[j]))
                    .sum();
                (a, b, if score > 0.0 { 1.0 } else { 0.0 })
            })
            .collect();
        Ok(RelationPairs { pairs })
    }
}

impl DatasetSpec for RelationPairsConfig {
    fn build(&self, ctx: &DatasetContext<'_>) -> wick::data::Result<Arc<dyn Dataset>> {
        let split = match ctx.split {
            Split::Train => 0,
            Split::Test => 1,
        };
        Ok(Arc::new(self.generate(ctx.seed, split)?))
    }

    fn info(&self, _seed: u64) -> wick::data::Result<DataInfo> {
        self.check()?;
        Ok(DataInfo {
            shape: Some(vec![self.emb_size]),
            classes: None,
            images: false,
            sizes_vary: false,
            class_targets: Some(false),
            inputs: vec!["input1".into(), "input2".into()],
            input_shapes: None,
        })
    }
}

impl Dataset for RelationPairs {
    fn len(&self) -> usize {
        self.pairs.len()
    }
    fn get(&self, index: usize) -> wick::data::Result<Sample> {
        let (a, b, y) = &self.pairs[index];
        let array = |v: &Vec<f32>| {
            Input::Array(Array {
                shape: vec![v.len()],
                data: v.clone(),
            })
        };
        Ok(Sample {
            input: array(a),
            target: Target::Values(Array {
                shape: Vec::new(),
                data: vec![*y],
            }),
            extra: vec![array(b)],
        })
    }
    fn input_names(&self) -> Vec<String> {
        vec!["input1".into(), "input2".into()]
    }
}
