use crate::{Dataset, Error, RegionPicker, Result, Sample};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use wick_tensor::SeedRng;

/// `torch.utils.data.Subset(dataset, indices)`: the samples of `dataset` at `indices`,
/// in that order.
#[derive(Clone)]
pub struct Subset {
    dataset: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// A view of `dataset` at `indices` (each below its length).
    pub fn new(dataset: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        let len = dataset.len();
        if let Some((pos, &i)) = indices.iter().enumerate().find(|(_, &i)| i >= len) {
            return Err(Error::config(
                "indices",
                format!("indices[{pos}] = {i} is out of range for a dataset of {len} samples"),
            ));
        }
        Ok(Self { dataset, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.indices.len())?;
        self.dataset.get(self.indices[index])
    }
    fn get_region(&self, index: usize, crop: &mut RegionPicker<'_>) -> Result<Option<Sample>> {
        Error::check_index(index, self.indices.len())?;
        self.dataset.get_region(self.indices[index], crop)
    }
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Error::check_index(index, self.indices.len())?;
        self.dataset.class_of(self.indices[index])
    }
    fn classes(&self) -> Vec<String> {
        self.dataset.classes()
    }
    fn class_to_idx(&self) -> BTreeMap<String, u32> {
        self.dataset.class_to_idx()
    }
}

/// `torch.utils.data.ConcatDataset(datasets)`: the datasets one after the other.
/// The class names are the first dataset's.
#[derive(Clone)]
pub struct ConcatDataset {
    datasets: Vec<Arc<dyn Dataset>>,
    /// Cumulative sizes: `ends[i]` is one past the last index of dataset `i`.
    ends: Vec<usize>,
}

impl ConcatDataset {
    /// Concatenates `datasets` (at least one).
    pub fn new(datasets: Vec<Arc<dyn Dataset>>) -> Result<Self> {
        if datasets.is_empty() {
            return Err(Error::config(
                "datasets",
                "datasets should not be an empty iterable",
            ));
        }
        let mut acc = 0;
        let ends = datasets
            .iter()
            .map(|d| {
                acc += d.len();
                acc
            })
            .collect();
        Ok(Self { datasets, ends })
    }

    /// Which dataset holds sample `index`, and its index there.
    fn locate(&self, index: usize) -> Result<(usize, usize)> {
        Error::check_index(index, self.len())?;
        let d = self.ends.partition_point(|&e| e <= index);
        let start = if d == 0 { 0 } else { self.ends[d - 1] };
        Ok((d, index - start))
    }
}

impl Dataset for ConcatDataset {
    fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }
    fn get(&self, index: usize) -> Result<Sample> {
        let (d, i) = self.locate(index)?;
        self.datasets[d].get(i)
    }
    fn get_region(&self, index: usize, crop: &mut RegionPicker<'_>) -> Result<Option<Sample>> {
        let (d, i) = self.locate(index)?;
        self.datasets[d].get_region(i, crop)
    }
    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        let (d, i) = self.locate(index)?;
        self.datasets[d].class_of(i)
    }
    fn classes(&self) -> Vec<String> {
        self.datasets[0].classes()
    }
    fn class_to_idx(&self) -> BTreeMap<String, u32> {
        self.datasets[0].class_to_idx()
    }
}

/// The `lengths` argument of `random_split`: sample counts, or fractions summing to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SplitLengths {
    /// Counts summing to the dataset's length.
    Counts(Vec<usize>),
    /// Fractions summing to 1.
    Fractions(Vec<f64>),
}

impl SplitLengths {
    /// The counts for a dataset of `n` samples, as PyTorch computes them: fractions
    /// become `floor(n·f)` each, and the remainder is handed out one by one to the
    /// splits in order (round-robin).
    pub fn counts(&self, n: usize) -> Result<Vec<usize>> {
        let counts = match self {
            Self::Counts(c) => c.clone(),
            Self::Fractions(f) => {
                let sum: f64 = f.iter().sum();
                if f.iter().any(|x| !(0.0..=1.0).contains(x)) || (sum - 1.0).abs() > 1e-6 {
                    return Err(Error::config(
                        "lengths",
                        format!(
                            "fractions {f:?} must each be between 0 and 1 and sum up to 1 \
                             (sum = {sum})"
                        ),
                    ));
                }
                let mut c: Vec<usize> = f.iter().map(|x| (n as f64 * x).floor() as usize).collect();
                let rem = n - c.iter().sum::<usize>().min(n);
                let k = c.len();
                for i in 0..rem {
                    c[i % k] += 1;
                }
                for (i, (x, n)) in f.iter().zip(&c).enumerate() {
                    if *n == 0 && *x > 0.0 {
                        tracing::warn!("split {i} of fraction {x} has no sample");
                    }
                }
                c
            }
        };
        let total: usize = counts.iter().sum();
        if total != n {
            return Err(Error::config(
                "lengths",
                format!(
                    "Sum of input lengths ({total}) does not equal the length of the input \
                     dataset ({n})"
                ),
            ));
        }
        Ok(counts)
    }
}

/// `torch.utils.data.random_split(dataset, lengths, generator)`: a random permutation
/// of the dataset (from `seed`'s `("random_split", [])` stream) cut into consecutive
/// [`Subset`]s of the given sizes. The same seed gives the same split.
pub fn random_split(
    dataset: Arc<dyn Dataset>,
    lengths: &SplitLengths,
    seed: u64,
) -> Result<Vec<Subset>> {
    Ok(split_indices(dataset.len(), lengths, seed)?
        .into_iter()
        .map(|indices| Subset {
            dataset: dataset.clone(),
            indices,
        })
        .collect())
}

/// The indices of each part [`random_split`] cuts a dataset of `len` samples into:
/// what a run records, so that another program can take the same samples.
pub fn split_indices(len: usize, lengths: &SplitLengths, seed: u64) -> Result<Vec<Vec<usize>>> {
    let counts = lengths.counts(len)?;
    let mut perm: Vec<usize> = (0..len).collect();
    perm.shuffle(SeedRng::stream(seed, "random_split", &[]).inner());
    let mut start = 0;
    Ok(counts
        .into_iter()
        .map(|c| {
            let part = perm[start..start + c].to_vec();
            start += c;
            part
        })
        .collect())
}

/// A validation set carved from a training set: `random_split(dataset, [1 − f, f])`,
/// returning `(train, val)`. `fraction` must be in `(0, 1)`.
pub fn train_val_split(
    dataset: Arc<dyn Dataset>,
    fraction: f64,
    seed: u64,
) -> Result<(Subset, Subset)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::config(
            "val_fraction",
            format!("val_fraction = {fraction}: expected 0 < val_fraction < 1"),
        ));
    }
    let n = dataset.len();
    let val = ((n as f64) * fraction).round() as usize;
    let mut parts = random_split(dataset, &SplitLengths::Counts(vec![n - val, val]), seed)?;
    let v = parts
        .pop()
        .ok_or_else(|| Error::config("val_fraction", "no split"))?;
    let t = parts
        .pop()
        .ok_or_else(|| Error::config("val_fraction", "no split"))?;
    Ok((t, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{Labels, TensorDataset};
    use crate::Target;

    fn ds(n: usize) -> Arc<dyn Dataset> {
        Arc::new(
            TensorDataset::new(
                (0..n).map(|i| i as f32).collect(),
                vec![1],
                Labels::Class((0..n as u32).collect()),
            )
            .unwrap(),
        )
    }

    fn ids(d: &dyn Dataset) -> Vec<u32> {
        (0..d.len())
            .map(|i| d.get(i).unwrap().target.class().unwrap())
            .collect()
    }

    #[test]
    fn fractions_like_pytorch() {
        let c = SplitLengths::Fractions(vec![0.3, 0.3, 0.4])
            .counts(11)
            .unwrap();
        // floor: 3, 3, 4 = 10; the remaining one goes to the first split
        assert_eq!(c, vec![4, 3, 4]);
        assert!(SplitLengths::Fractions(vec![0.5, 0.6]).counts(10).is_err());
        let e = SplitLengths::Counts(vec![3, 3])
            .counts(7)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("(6) does not equal the length of the input dataset (7)"),
            "{e}"
        );
    }

    #[test]
    fn random_split_is_a_seeded_partition() {
        let parts = random_split(ds(20), &SplitLengths::Counts(vec![15, 5]), 3).unwrap();
        let mut all: Vec<u32> = parts.iter().flat_map(|p| ids(p)).collect();
        assert_ne!(all, (0..20).collect::<Vec<_>>());
        all.sort();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        let again = random_split(ds(20), &SplitLengths::Counts(vec![15, 5]), 3).unwrap();
        assert_eq!(ids(&again[1]), ids(&parts[1]));
        let other = random_split(ds(20), &SplitLengths::Counts(vec![15, 5]), 4).unwrap();
        assert_ne!(ids(&other[1]), ids(&parts[1]));
        let (t, v) = train_val_split(ds(20), 0.2, 3).unwrap();
        assert_eq!((t.len(), v.len()), (16, 4));
        assert!(train_val_split(ds(20), 1.0, 3).is_err());
    }

    #[test]
    fn subset_and_concat() {
        let s = Subset::new(ds(10), vec![7, 2]).unwrap();
        assert_eq!(ids(&s), vec![7, 2]);
        assert!(Subset::new(ds(10), vec![10]).is_err());
        assert!(matches!(s.get(2), Err(Error::Index { .. })));
        let c = ConcatDataset::new(vec![ds(3), Arc::new(s), ds(2)]).unwrap();
        assert_eq!(c.len(), 7);
        assert_eq!(ids(&c), vec![0, 1, 2, 7, 2, 0, 1]);
        assert_eq!(c.get(3).unwrap().target, Target::Class(7));
        assert!(c.get(7).is_err());
        assert!(ConcatDataset::new(vec![]).is_err());
    }
}
