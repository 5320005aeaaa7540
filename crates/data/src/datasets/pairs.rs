//! Datasets of several inputs drawn from a class dataset, for the losses that compare
//! samples: pairs (`CosineEmbeddingLoss`, `MarginRankingLoss`, a contrastive loss) and
//! triplets (`TripletMarginLoss`).
//!
//! Sample `i` of a `Pairs` is sample `i` of the wrapped dataset and a second sample,
//! of the same class with probability `positive_fraction` (target `1`) or of another
//! class (target `-1`); sample `i` of a `Triplets` is sample `i` (the anchor), a
//! sample of its class (positive) and one of another class (negative), its target the
//! anchor's class. The partners are drawn from the run's seed and the split, once per
//! index: the same pairs every epoch and on every resume, whatever `num_workers` is
//! (torchvision has no such dataset; a siamese tutorial draws them in `__getitem__`).

use super::catalog::{DatasetConfig, DatasetContext};
use super::info::DataInfo;
use crate::{Dataset, Error, Result, Sample, Split, Target};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wick_tensor::SeedRng;

fn half() -> f64 {
    0.5
}

/// `{ type = "Pairs", dataset = { type = "MNIST" }, positive_fraction = 0.5 }`: inputs
/// `x1`, `x2`; target `1` (same class) or `-1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsConfig {
    /// The class dataset the pairs are drawn from.
    pub dataset: DatasetConfig,
    /// The share of pairs of one class (default 0.5).
    #[serde(default = "half")]
    pub positive_fraction: f64,
}

/// `{ type = "Triplets", dataset = { type = "FashionMNIST" } }`: inputs `anchor`,
/// `positive`, `negative`; target the anchor's class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripletsConfig {
    /// The class dataset the triplets are drawn from.
    pub dataset: DatasetConfig,
}

/// The class of every sample of a dataset, and the samples of each class.
struct Classes {
    labels: Vec<u32>,
    members: Vec<Vec<usize>>,
}

impl Classes {
    fn of(ds: &dyn Dataset, what: &str) -> Result<Self> {
        let mut labels = Vec::with_capacity(ds.len());
        for i in 0..ds.len() {
            labels.push(ds.class_of(i)?.ok_or_else(|| Error::Config {
                field: "dataset",
                message: format!(
                    "{what} are drawn from a dataset of class labels; sample {i} has none"
                ),
            })?);
        }
        let n = labels.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
        let mut members = vec![Vec::new(); n];
        for (i, &c) in labels.iter().enumerate() {
            members[c as usize].push(i);
        }
        if members.iter().filter(|m| !m.is_empty()).count() < 2 {
            return Err(Error::Config {
                field: "dataset",
                message: format!("{what} need samples of at least two classes"),
            });
        }
        Ok(Self { labels, members })
    }

    /// A sample of class `c`, other than `not` where there is another.
    fn same(&self, c: u32, not: usize, rng: &mut SeedRng) -> usize {
        let m = &self.members[c as usize];
        if m.len() == 1 {
            return m[0];
        }
        loop {
            let j = m[rng.below(m.len())];
            if j != not {
                return j;
            }
        }
    }

    /// A sample of a class other than `c`.
    fn other(&self, c: u32, rng: &mut SeedRng) -> usize {
        let outside = self.labels.len() - self.members[c as usize].len();
        // the k-th sample outside class c, in index order of the classes' lists
        let mut k = rng.below(outside);
        for (class, m) in self.members.iter().enumerate() {
            if class == c as usize {
                continue;
            }
            if k < m.len() {
                return m[k];
            }
            k -= m.len();
        }
        unreachable!("outside counts the samples of the other classes")
    }
}

/// The class dataset partners are drawn from, its labels, and the run's seed and split.
struct Source {
    base: Arc<dyn Dataset>,
    classes: Classes,
    seed: u64,
    split: u64,
}

impl Source {
    /// Builds `dataset` for the split and reads its labels (`what`: "pairs", for
    /// messages and the random stream's name).
    fn build(dataset: &DatasetConfig, ctx: &DatasetContext<'_>, what: &str) -> Result<Self> {
        let base = dataset.build(ctx)?;
        Ok(Self {
            classes: Classes::of(base.as_ref(), what)?,
            base,
            seed: ctx.seed,
            split: match ctx.split {
                Split::Train => 0,
                Split::Test => 1,
            },
        })
    }

    /// The random stream of sample `index`.
    fn rng(&self, what: &str, index: usize) -> SeedRng {
        SeedRng::stream(self.seed, what, &[self.split, index as u64])
    }
}

/// Pairs of a class dataset (see the module doc).
pub struct Pairs {
    src: Source,
    fraction: f64,
}

impl PairsConfig {
    /// Builds the wrapped dataset and reads its labels.
    pub fn build(&self, ctx: &DatasetContext<'_>) -> Result<Pairs> {
        if !(0.0..=1.0).contains(&self.positive_fraction) {
            return Err(Error::Config {
                field: "positive_fraction",
                message: format!(
                    "positive_fraction must be between 0 and 1, got {}",
                    self.positive_fraction
                ),
            });
        }
        Ok(Pairs {
            src: Source::build(&self.dataset, ctx, "pairs")?,
            fraction: self.positive_fraction,
        })
    }

    /// The wrapped dataset's facts, with two inputs and ±1 targets.
    pub fn info(&self, seed: u64) -> Result<DataInfo> {
        let base = self.dataset.info(seed)?;
        Ok(DataInfo {
            classes: None,
            class_targets: Some(false),
            inputs: vec!["x1".into(), "x2".into()],
            input_shapes: None,
            ..base
        })
    }
}

impl Dataset for Pairs {
    fn len(&self) -> usize {
        self.src.base.len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        let src = &self.src;
        let mut rng = src.rng("pairs", index);
        let c = src.classes.labels[index];
        let same = rng.uniform(0.0, 1.0) < self.fraction;
        let j = if same {
            src.classes.same(c, index, &mut rng)
        } else {
            src.classes.other(c, &mut rng)
        };
        let first = src.base.get(index)?;
        let second = src.base.get(j)?;
        Ok(Sample {
            input: first.input,
            target: Target::Values(crate::Array {
                shape: Vec::new(),
                data: vec![if same { 1.0 } else { -1.0 }],
            }),
            extra: vec![second.input],
        })
    }
    fn input_names(&self) -> Vec<String> {
        vec!["x1".into(), "x2".into()]
    }
}

/// Triplets of a class dataset (see the module doc).
pub struct Triplets {
    src: Source,
}

impl TripletsConfig {
    /// Builds the wrapped dataset and reads its labels.
    pub fn build(&self, ctx: &DatasetContext<'_>) -> Result<Triplets> {
        Ok(Triplets {
            src: Source::build(&self.dataset, ctx, "triplets")?,
        })
    }

    /// The wrapped dataset's facts, with three inputs.
    pub fn info(&self, seed: u64) -> Result<DataInfo> {
        let base = self.dataset.info(seed)?;
        Ok(DataInfo {
            inputs: vec!["anchor".into(), "positive".into(), "negative".into()],
            input_shapes: None,
            ..base
        })
    }
}

impl Dataset for Triplets {
    fn len(&self) -> usize {
        self.src.base.len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        let src = &self.src;
        let mut rng = src.rng("triplets", index);
        let c = src.classes.labels[index];
        let p = src.classes.same(c, index, &mut rng);
        let n = src.classes.other(c, &mut rng);
        let anchor = src.base.get(index)?;
        Ok(Sample {
            input: anchor.input,
            target: anchor.target,
            extra: vec![src.base.get(p)?.input, src.base.get(n)?.input],
        })
    }
    fn classes(&self) -> Vec<String> {
        self.src.base.classes()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["anchor".into(), "positive".into(), "negative".into()]
    }
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Ok(Some(self.src.classes.labels[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Array, Input};

    /// Ten samples of three classes, the input the index.
    struct Toy;
    impl Dataset for Toy {
        fn len(&self) -> usize {
            10
        }
        fn get(&self, i: usize) -> Result<Sample> {
            let input = Input::Array(Array {
                shape: vec![1],
                data: vec![i as f32],
            });
            Ok(Sample::new(input, Target::Class((i % 3) as u32)))
        }
    }

    fn index(x: &crate::Input) -> usize {
        match x {
            Input::Array(a) => a.data[0] as usize,
            Input::Image(_) => unreachable!(),
        }
    }

    #[test]
    fn pairs_and_triplets_keep_their_classes_and_seed() {
        let base: Arc<dyn Dataset> = Arc::new(Toy);
        let src = |what| Source {
            classes: Classes::of(base.as_ref(), what).unwrap(),
            base: base.clone(),
            seed: 3,
            split: 0,
        };
        let pairs = Pairs {
            src: src("pairs"),
            fraction: 0.5,
        };
        let mut positives = 0;
        for i in 0..10 {
            let s = pairs.get(i).unwrap();
            let (a, b) = (index(&s.input), index(&s.extra[0]));
            let Target::Values(t) = &s.target else {
                panic!()
            };
            assert_eq!(t.data[0] == 1.0, a % 3 == b % 3, "pair {a}, {b}");
            assert_eq!(a, i);
            positives += usize::from(t.data[0] == 1.0);
            assert_eq!(s, pairs.get(i).unwrap(), "drawn once per index");
        }
        assert!((1..10).contains(&positives));
        let triplets = Triplets {
            src: src("triplets"),
        };
        for i in 0..10 {
            let s = triplets.get(i).unwrap();
            let (p, n) = (index(&s.extra[0]), index(&s.extra[1]));
            assert_eq!(p % 3, i % 3);
            assert_ne!(p, i);
            assert_ne!(n % 3, i % 3);
        }
    }
}
