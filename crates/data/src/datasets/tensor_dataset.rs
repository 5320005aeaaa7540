use crate::{Array, Dataset, Error, Input, Result, Sample, Target};

/// The labels of a [`TensorDataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// One class index per sample.
    Class(Vec<u32>),
    /// Float values, `shape` per sample.
    Values {
        /// Per-sample shape (`[1]` for one output).
        shape: Vec<usize>,
        /// `N × ∏shape` values, row-major.
        data: Vec<f32>,
    },
}

impl Labels {
    fn per_sample(&self) -> usize {
        match self {
            Self::Class(_) => 1,
            Self::Values { shape, .. } => shape.iter().product(),
        }
    }

    fn count(&self) -> Option<usize> {
        match self {
            Self::Class(c) => Some(c.len()),
            Self::Values { data, .. } => {
                let k = self.per_sample();
                (k > 0).then(|| data.len() / k)
            }
        }
    }
}

/// `torch.utils.data.TensorDataset(x, y)`: samples held in memory, features as float
/// arrays of one shape and labels as class indices or float values. The CSV,
/// `Tensors` and synthetic datasets are built on it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDataset {
    shape: Vec<usize>,
    x: Vec<f32>,
    labels: Labels,
    classes: Vec<String>,
    len: usize,
    /// Named inputs cut from each flat sample, `(name, width)` in order (empty: one).
    groups: Vec<(String, usize)>,
}

impl TensorDataset {
    /// `x` holds `N × ∏shape` features (row-major, `shape` per sample) and `labels` one
    /// label per sample; the counts must agree.
    pub fn new(x: Vec<f32>, shape: Vec<usize>, labels: Labels) -> Result<Self> {
        let per: usize = shape.iter().product();
        if per == 0 {
            return Err(Error::config(
                "x",
                format!("samples of shape {shape:?} have no features"),
            ));
        }
        if !x.len().is_multiple_of(per) {
            return Err(Error::config(
                "x",
                format!(
                    "{} values do not make whole samples of shape {shape:?}",
                    x.len()
                ),
            ));
        }
        let n = x.len() / per;
        if let Labels::Values { data, shape: ys } = &labels {
            let k = labels.per_sample();
            if k == 0 || !data.len().is_multiple_of(k) {
                return Err(Error::config(
                    "y",
                    format!(
                        "{} values do not make whole targets of shape {ys:?}",
                        data.len()
                    ),
                ));
            }
        }
        let m = labels.count().unwrap_or(0);
        if m != n {
            return Err(Error::config(
                "y",
                format!(
                    "Size mismatch between tensors: x has {n} samples but y has {m} (the first \
                     dimensions must agree)"
                ),
            ));
        }
        Ok(Self {
            shape,
            x,
            labels,
            classes: Vec::new(),
            len: n,
            groups: Vec::new(),
        })
    }

    /// Cuts each flat sample `[Σ widths]` into named inputs of `widths` values each
    /// (a CSV's column groups): sample inputs `[w₀]`, `[w₁]`, … named in order.
    pub fn with_inputs(mut self, groups: Vec<(String, usize)>) -> Result<Self> {
        let total: usize = groups.iter().map(|(_, w)| w).sum();
        if self.shape != [total] || groups.iter().any(|(_, w)| *w == 0) {
            return Err(Error::config(
                "inputs",
                format!(
                    "input groups of {total} values in all do not cut samples of shape {:?}",
                    self.shape
                ),
            ));
        }
        self.groups = groups;
        Ok(self)
    }

    /// Names the classes (for `classes` / `class_to_idx`).
    pub fn with_classes(mut self, classes: Vec<String>) -> Self {
        self.classes = classes;
        self
    }

    /// The per-sample feature shape.
    pub fn feature_shape(&self) -> &[usize] {
        &self.shape
    }

    /// All features, row-major `[N, …]`.
    pub fn features(&self) -> &[f32] {
        &self.x
    }

    /// The labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.len)?;
        let per: usize = self.shape.iter().product();
        let row = &self.x[index * per..(index + 1) * per];
        let mut inputs = self.cut(row).into_iter();
        let input = inputs.next().unwrap_or_else(|| {
            Input::Array(Array {
                shape: self.shape.clone(),
                data: row.to_vec(),
            })
        });
        let target = match &self.labels {
            Labels::Class(c) => Target::Class(c[index]),
            Labels::Values { shape, data } => {
                let k = self.labels.per_sample();
                Target::Values(Array {
                    shape: shape.clone(),
                    data: data[index * k..(index + 1) * k].to_vec(),
                })
            }
        };
        Ok(Sample {
            input,
            target,
            extra: inputs.collect(),
        })
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    fn input_names(&self) -> Vec<String> {
        match self.groups.as_slice() {
            [] => vec!["input".into()],
            g => g.iter().map(|(n, _)| n.clone()).collect(),
        }
    }

    fn class_of(&self, index: usize) -> Result<Option<u32>> {
        Error::check_index(index, self.len)?;
        Ok(match &self.labels {
            Labels::Class(c) => Some(c[index]),
            Labels::Values { .. } => None,
        })
    }
}

impl TensorDataset {
    /// A flat sample cut into its named inputs (none without groups).
    fn cut(&self, row: &[f32]) -> Vec<Input> {
        let mut at = 0;
        self.groups
            .iter()
            .map(|(_, w)| {
                let part = &row[at..at + w];
                at += w;
                Input::Array(Array {
                    shape: vec![*w],
                    data: part.to_vec(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_checks() {
        let ds = TensorDataset::new(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![2],
            Labels::Values {
                shape: vec![1],
                data: vec![7.0, 8.0, 9.0],
            },
        )
        .unwrap();
        assert_eq!(ds.len(), 3);
        let s = ds.get(1).unwrap();
        assert_eq!(s.input.shape(), vec![2]);
        assert_eq!(s.target, Target::scalar(8.0));
        assert!(matches!(ds.get(3), Err(Error::Index { index: 3, len: 3 })));
        let e = TensorDataset::new(vec![1.0; 6], vec![2], Labels::Class(vec![0, 1]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x has 3 samples but y has 2"), "{e}");
        assert!(TensorDataset::new(vec![1.0; 5], vec![2], Labels::Class(vec![0, 1])).is_err());
    }
}
