use super::{Sampler, MAX_SAMPLES};
use crate::{Dataset, Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use wick_tensor::SeedRng;

/// `weights` of a [`WeightedRandomSamplerConfig`]: one per sample, as PyTorch takes
/// them, or `"balanced"`: each sample weighted by the inverse of its class's frequency,
/// so that every class is drawn equally often (the usual fix for imbalanced data;
/// scikit-learn's `class_weight="balanced"` up to a constant factor).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Weights {
    /// One non-negative weight per index `0..len(weights)` (need not sum to 1).
    PerSample(Vec<f64>),
    /// `"balanced"`.
    Balanced(Balanced),
}

/// The word `"balanced"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename = "balanced")]
pub enum Balanced {
    /// `"balanced"`.
    #[serde(rename = "balanced")]
    Balanced,
}

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Weights;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of per-sample weights or \"balanced\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Weights, E> {
                match v {
                    "balanced" => Ok(Weights::Balanced(Balanced::Balanced)),
                    _ => Err(E::custom(format!(
                        "unknown weights `{v}`: expected a list of per-sample weights or \
                         \"balanced\""
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Weights, A::Error> {
                let mut w = Vec::new();
                while let Some(v) = seq.next_element::<f64>()? {
                    w.push(v);
                }
                Ok(Weights::PerSample(w))
            }
        }
        d.deserialize_any(V)
    }
}

/// Arguments of `torch.utils.data.WeightedRandomSampler(weights, num_samples,
/// replacement=True)`, with the forms people compute by hand in PyTorch: `weights =
/// "balanced"` or per-class `class_weights` (each sample weighted by its class's), and
/// `num_samples` defaulting to the dataset's length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedRandomSamplerConfig {
    /// Per-sample weights, or `"balanced"` (one of `weights`, `class_weights`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// One weight per class index: sample `i` weighs `class_weights[class(i)]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weights: Option<Vec<f64>>,
    /// Draws per epoch (default: the dataset's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples: Option<usize>,
    /// Draw with replacement (default `true`).
    #[serde(default = "yes")]
    pub replacement: bool,
}

fn yes() -> bool {
    true
}

/// Finite and non-negative, with at least one positive: `what` names the list.
fn check_weights(w: &[f64], what: &'static str) -> Result<usize> {
    if let Some((i, v)) = w
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(Error::config(
            what,
            format!("{what}[{i}] = {v}: weights must be finite and >= 0"),
        ));
    }
    let positive = w.iter().filter(|v| **v > 0.0).count();
    if positive == 0 {
        return Err(Error::config(
            what,
            "invalid multinomial distribution (sum of weights <= 0)",
        ));
    }
    Ok(positive)
}

impl WeightedRandomSamplerConfig {
    /// Checks the arguments as PyTorch does, as far as they can be without the dataset.
    pub fn validate(&self) -> Result<()> {
        if let Some(n) = self.num_samples {
            if n == 0 {
                return Err(Error::config(
                    "num_samples",
                    "num_samples should be a positive integer value, but got num_samples=0",
                ));
            }
            if n > MAX_SAMPLES {
                return Err(Error::config(
                    "num_samples",
                    format!("num_samples = {n} is more than {MAX_SAMPLES} samples per epoch"),
                ));
            }
        }
        match (&self.weights, &self.class_weights) {
            (Some(_), Some(_)) => Err(Error::config(
                "class_weights",
                "give `weights` or `class_weights`, not both",
            )),
            (None, None) => Err(Error::config(
                "weights",
                "WeightedRandomSampler needs `weights` (a list, or \"balanced\") or \
                 `class_weights`",
            )),
            (Some(Weights::PerSample(w)), None) => {
                let positive = check_weights(w, "weights")?;
                self.check_without_replacement(positive)
            }
            (None, Some(cw)) => check_weights(cw, "class_weights").map(drop),
            (Some(Weights::Balanced(_)), None) => Ok(()),
        }
    }

    /// Without replacement, no more draws than indices of positive weight.
    fn check_without_replacement(&self, positive: usize) -> Result<()> {
        match self.num_samples {
            Some(n) if !self.replacement && n > positive => Err(Error::config(
                "num_samples",
                format!(
                    "cannot draw num_samples = {n} without replacement from {positive} \
                     indices of positive weight"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The per-sample weights over `data`.
    fn per_sample(&self, data: &dyn Dataset) -> Result<Vec<f64>> {
        let len = data.len();
        if let Some(Weights::PerSample(w)) = &self.weights {
            if w.len() > len {
                return Err(Error::config(
                    "weights",
                    format!(
                        "{} weights for a dataset of {len} samples: index {len} would be out \
                         of range",
                        w.len()
                    ),
                ));
            }
            return Ok(w.clone());
        }
        let key = if self.class_weights.is_some() {
            "class_weights"
        } else {
            "weights"
        };
        let classes = (0..len)
            .map(|i| match data.class_of(i)? {
                Some(c) => Ok(c as usize),
                None => Err(Error::config(
                    key,
                    format!("sample {i} has no class: {key} needs a dataset of class labels"),
                )),
            })
            .collect::<Result<Vec<usize>>>()?;
        match &self.class_weights {
            Some(cw) => classes
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    cw.get(c).copied().ok_or_else(|| {
                        let name = data.classes().get(c).map(|n| format!(" (`{n}`)"));
                        Error::config(
                            "class_weights",
                            format!(
                                "{} class weights, but sample {i} is of class {c}{}",
                                cw.len(),
                                name.unwrap_or_default()
                            ),
                        )
                    })
                })
                .collect(),
            None => {
                let mut count = vec![0usize; classes.iter().max().map_or(0, |m| m + 1)];
                classes.iter().for_each(|&c| count[c] += 1);
                Ok(classes.iter().map(|&c| 1.0 / count[c] as f64).collect())
            }
        }
    }
}

/// `torch.utils.data.WeightedRandomSampler`: draws indices `0..len(weights)` with
/// probability `weights[i] / Σ weights`. With replacement, each draw is independent;
/// without, it is sequential sampling without replacement (as `torch.multinomial`),
/// done with the equivalent exponential-keys method (keys `u^(1/w)`, largest first).
pub struct WeightedRandomSampler {
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    num_samples: usize,
    replacement: bool,
}

impl WeightedRandomSampler {
    /// A sampler over `data`: per-sample `weights` must not outnumber its samples;
    /// `"balanced"` and `class_weights` read each sample's class.
    pub fn new(data: &dyn Dataset, cfg: &WeightedRandomSamplerConfig) -> Result<Self> {
        cfg.validate()?;
        let weights = cfg.per_sample(data)?;
        let positive = check_weights(&weights, "weights")?;
        cfg.check_without_replacement(positive)?;
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(Self {
            cumulative,
            weights,
            num_samples: cfg.num_samples.unwrap_or(data.len()),
            replacement: cfg.replacement,
        })
    }
}

impl Sampler for WeightedRandomSampler {
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize> {
        let mut rng = SeedRng::stream(seed, "sampler", &[epoch]);
        let total = *self.cumulative.last().unwrap_or(&0.0);
        if self.replacement {
            return (0..self.num_samples)
                .map(|_| {
                    let u = rng.uniform(0.0, total);
                    // first index whose cumulative weight exceeds u (zero weights never)
                    let i = self.cumulative.partition_point(|&c| c <= u);
                    i.min(self.cumulative.len() - 1)
                })
                .collect();
        }
        let mut keys: Vec<(f64, usize)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(i, &w)| {
                let u = rng.uniform(f64::MIN_POSITIVE, 1.0);
                (u.ln() / w, i)
            })
            .collect();
        keys.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        keys.truncate(self.num_samples);
        keys.into_iter().map(|(_, i)| i).collect()
    }
    fn len(&self) -> usize {
        self.num_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sampler::Labels;

    fn cfg(weights: Vec<f64>, n: usize, replacement: bool) -> WeightedRandomSamplerConfig {
        WeightedRandomSamplerConfig {
            weights: Some(Weights::PerSample(weights)),
            num_samples: Some(n),
            replacement,
            ..Default::default()
        }
    }

    fn new(len: usize, c: &WeightedRandomSamplerConfig) -> Result<WeightedRandomSampler> {
        WeightedRandomSampler::new(&Labels::unlabeled(len), c)
    }

    #[test]
    fn frequencies_follow_the_weights() {
        let s = new(4, &cfg(vec![1.0, 0.0, 3.0, 6.0], 20000, true)).unwrap();
        let idx = s.indices(0, 9);
        let mut counts = [0f64; 4];
        idx.iter().for_each(|&i| counts[i] += 1.0);
        assert_eq!(counts[1], 0.0);
        for (c, p) in counts.iter().zip([0.1, 0.0, 0.3, 0.6]) {
            assert!((c / 20000.0 - p).abs() < 0.015, "{counts:?}");
        }
        assert_ne!(idx, s.indices(1, 9));
    }

    #[test]
    fn without_replacement_draws_distinct_indices_favoring_heavy_ones() {
        let w = vec![1.0, 1.0, 1.0, 1.0, 20.0, 0.0];
        let s = new(6, &cfg(w, 3, false)).unwrap();
        let mut heavy_first = 0;
        for e in 0..500 {
            let idx = s.indices(e, 1);
            assert_eq!(idx.len(), 3);
            let mut d = idx.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), 3);
            assert!(!idx.contains(&5));
            heavy_first += usize::from(idx[0] == 4);
        }
        // P(first = 4) = 20/24
        assert!((380..460).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn invalid_arguments() {
        let e = |c| new(10, &c).err().unwrap().to_string();
        assert!(e(cfg(vec![1.0, -1.0], 2, true)).contains("weights[1] = -1"));
        assert!(e(cfg(vec![0.0, 0.0], 2, true)).contains("sum of weights"));
        assert!(e(cfg(vec![1.0, 0.0], 2, false)).contains("without replacement"));
        assert!(e(cfg(vec![1.0], 0, true)).contains("num_samples=0"));
        assert!(e(cfg(vec![1.0; 11], 2, true)).contains("11 weights"));
    }

    /// 90 samples of class 0, 9 of class 1, 1 of class 2: the balanced sampler draws
    /// each class a third of the time; class weights give their own proportions.
    #[test]
    fn balanced_and_class_weights_on_an_imbalanced_dataset() {
        let labels: Vec<Option<u32>> = (0..100)
            .map(|i| {
                Some(if i < 90 {
                    0
                } else if i < 99 {
                    1
                } else {
                    2
                })
            })
            .collect();
        let data = Labels(labels);
        let hist = |c: WeightedRandomSamplerConfig| {
            let s = WeightedRandomSampler::new(&data, &c).unwrap();
            assert_eq!(s.len(), c.num_samples.unwrap_or(100));
            let mut h = [0usize; 3];
            for e in 0..300 {
                s.indices(e, 5)
                    .iter()
                    .for_each(|&i| h[data.0[i].unwrap() as usize] += 1);
            }
            h.map(|n| n as f64 / (300 * s.len()) as f64)
        };
        let balanced: WeightedRandomSamplerConfig =
            toml::from_str(r#"weights = "balanced""#).unwrap();
        let h = hist(balanced);
        for p in h {
            assert!((p - 1.0 / 3.0).abs() < 0.02, "{h:?}");
        }
        let cw: WeightedRandomSamplerConfig =
            toml::from_str("class_weights = [0.0, 1.0, 9.0]\nnum_samples = 50").unwrap();
        let h = hist(cw);
        // class 1: 9 samples × 1, class 2: 1 sample × 9 → half each
        assert!(h[0] == 0.0 && (h[1] - 0.5).abs() < 0.02, "{h:?}");
    }

    #[test]
    fn weights_forms_and_their_errors() {
        let parse = |s: &str| toml::from_str::<WeightedRandomSamplerConfig>(s);
        let e = parse(r#"weights = "balansed""#).unwrap_err().to_string();
        assert!(e.contains("unknown weights `balansed`"), "{e}");
        assert_eq!(
            parse("weights = [1.0, 2]").unwrap().weights,
            Some(Weights::PerSample(vec![1.0, 2.0]))
        );
        let err = |s: &str, data: &dyn Dataset| match WeightedRandomSampler::new(
            data,
            &parse(s).unwrap(),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {s}"),
        };
        let two = Labels(vec![Some(0), Some(1)]);
        assert!(err("", &two).contains("needs `weights`"));
        assert!(err("weights = \"balanced\"\nclass_weights = [1.0]", &two).contains("not both"));
        assert!(err("class_weights = [1.0]", &two)
            .contains("1 class weights, but sample 1 is of class 1"));
        assert!(err("class_weights = [1.0, -2.0]", &two).contains("class_weights[1] = -2"));
        assert!(
            err("weights = \"balanced\"", &Labels::unlabeled(3)).contains("sample 0 has no class")
        );
        // num_samples defaults to the dataset's length
        let s = WeightedRandomSampler::new(&two, &parse("weights = [1.0, 1.0]").unwrap()).unwrap();
        assert_eq!(s.len(), 2);
        let s = WeightedRandomSampler::new(
            &two,
            &parse("weights = \"balanced\"\nreplacement = false").unwrap(),
        )
        .unwrap();
        assert_eq!(s.indices(0, 0).len(), 2);
    }
}
