//! A dataset of the user's own: noisy points of the XOR problem.
//!
//! ```python
//! class Xor(torch.utils.data.Dataset):
//!     def __init__(self, n_samples=1000, noise=0.1, seed=0):
//!         g = torch.Generator().manual_seed(seed)
//!         corners = torch.randint(0, 2, (n_samples, 2), generator=g).float()
//!         self.x = corners + noise * torch.randn(n_samples, 2, generator=g)
//!         self.y = (corners[:, 0] != corners[:, 1]).long()
//!     def __len__(self): return len(self.x)
//!     def __getitem__(self, i): return self.x[i], self.y[i]
//! ```
//!
//! The config says how to build it for a split ([`DatasetSpec::build`]) and, so that
//! `wick check` can check a file without building anything, what its samples are
//! ([`DatasetSpec::info`]).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wick::data::datasets::{DataInfo, DatasetContext, DatasetSpec};
use wick::data::{Array, Dataset, Error, Input, Result, Sample, Split, Target};
use wick::tensor::SeedRng;

/// The arguments of `Xor(n_samples=1000, noise=0.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XorConfig {
    /// Points per split (default 1000).
    #[serde(default = "thousand")]
    pub n_samples: usize,
    /// Standard deviation of the Gaussian noise around each corner (default 0.1).
    #[serde(default = "tenth")]
    pub noise: f64,
}

fn thousand() -> usize {
    1000
}
fn tenth() -> f64 {
    0.1
}

impl DatasetSpec for XorConfig {
    /// The split's points, drawn from the run's seed (the test split from a stream of
    /// its own).
    fn build(&self, ctx: &DatasetContext<'_>) -> Result<Arc<dyn Dataset>> {
        let split = match ctx.split {
            Split::Train => 0,
            Split::Test => 1,
        };
        Ok(Arc::new(Xor::generate(self, ctx.seed, split)?))
    }

    /// Two features, two classes, class-index targets: known from the arguments.
    fn info(&self, _seed: u64) -> Result<DataInfo> {
        self.check()?;
        Ok(DataInfo {
            shape: Some(vec![2]),
            classes: Some(2),
            images: false,
            sizes_vary: false,
            class_targets: Some(true),
            inputs: vec!["input".into()],
            input_shapes: None,
        })
    }
}

impl XorConfig {
    fn check(&self) -> Result<()> {
        if self.n_samples == 0 || self.n_samples > 10_000_000 {
            return Err(Error::Config {
                field: "n_samples",
                message: format!("n_samples must be 1 to 10000000, got {}", self.n_samples),
            });
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(Error::Config {
                field: "noise",
                message: format!(
                    "noise must be a finite standard deviation ≥ 0, got {}",
                    self.noise
                ),
            });
        }
        Ok(())
    }
}

/// The points and their labels (1 where the corner's coordinates differ).
pub struct Xor {
    points: Vec<[f32; 2]>,
    labels: Vec<u32>,
}

impl Xor {
    /// `n_samples` points of split `split` from `seed`.
    pub fn generate(cfg: &XorConfig, seed: u64, split: u64) -> Result<Self> {
        cfg.check()?;
        let mut rng = SeedRng::stream(seed, "xor", &[split]);
        let (mut points, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..cfg.n_samples {
            let (a, b) = (rng.below(2), rng.below(2));
            let x = a as f64 + cfg.noise * rng.normal();
            let y = b as f64 + cfg.noise * rng.normal();
            points.push([x as f32, y as f32]);
            labels.push(u32::from(a != b));
        }
        Ok(Self { points, labels })
    }
}

impl Dataset for Xor {
    fn len(&self) -> usize {
        self.points.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let p = self.points.get(index).ok_or_else(|| Error::Config {
            field: "index",
            message: format!(
                "index {index} is out of range for {} points",
                self.points.len()
            ),
        })?;
        Ok(Sample {
            input: Input::Array(Array {
                shape: vec![2],
                data: p.to_vec(),
            }),
            target: Target::Class(self.labels[index]),
            extra: Vec::new(),
        })
    }

    fn classes(&self) -> Vec<String> {
        vec!["same".into(), "different".into()]
    }
}
