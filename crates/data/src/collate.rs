//! `default_collate`: samples stacked into one contiguous buffer per batch.

use crate::{Error, Input, Result, Target};

/// The targets of a batch on the host: class indices (`[B]`, u32) or float values
/// (`[B, …]`, f32).
#[derive(Debug, Clone, PartialEq)]
pub enum HostTargets {
    /// Class indices.
    Class(Vec<u32>),
    /// Float values, `B × ∏shape` of them.
    Values {
        /// The per-sample shape.
        shape: Vec<usize>,
        /// Row-major values.
        data: Vec<f32>,
    },
}

/// A collated batch still on the host: inputs `[B, …]` in one buffer each, and targets.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// `[B, …]`.
    pub shape: Vec<usize>,
    /// Row-major inputs.
    pub data: Vec<f32>,
    /// The further inputs of a dataset that yields several: `([B, …], values)` each.
    pub extra: Vec<(Vec<usize>, Vec<f32>)>,
    /// The targets.
    pub targets: HostTargets,
}

impl HostBatch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Whether the batch has no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target tensor's shape: `[B]` or `[B, …]`.
    pub fn target_shape(&self) -> Vec<usize> {
        let mut s = vec![self.len()];
        if let HostTargets::Values { shape, .. } = &self.targets {
            s.extend_from_slice(shape);
        }
        s
    }
}

/// Builds a [`HostBatch`] sample by sample, as `torch.utils.data.default_collate`
/// stacks tensors: every input must have the same shape, every target the same kind
/// (class index or float values of one shape). The first sample fixes both; a
/// mismatch is an error naming both samples' dataset indices and shapes.
pub struct Collator {
    capacity: usize,
    first: Option<(usize, Target)>,
    stacks: Vec<Stack>,
    classes: Vec<u32>,
    values: Vec<f32>,
    n: usize,
}

/// One input of every sample of a batch, stacked.
struct Stack {
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn array(index: usize, input: Input) -> Result<crate::Array> {
    match input {
        Input::Array(a) => Ok(a),
        Input::Image(i) => Err(Error::Collate(format!(
            "sample {index} is still a {}x{}x{} image after the transforms; \
             add ToTensor (or PILToTensor) to turn it into a tensor",
            i.height, i.width, i.channels
        ))),
    }
}

impl Collator {
    /// A collator for up to `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            first: None,
            stacks: Vec::new(),
            classes: Vec::new(),
            values: Vec::new(),
            n: 0,
        }
    }

    /// Adds dataset sample `index` (its input already transformed to an array).
    pub fn push(&mut self, index: usize, input: Input, target: Target) -> Result<()> {
        self.push_inputs(index, vec![input], target)
    }

    /// Adds dataset sample `index` of several inputs (each already an array).
    pub fn push_inputs(&mut self, index: usize, inputs: Vec<Input>, target: Target) -> Result<()> {
        let arrays = inputs
            .into_iter()
            .map(|i| array(index, i))
            .collect::<Result<Vec<_>>>()?;
        match &self.first {
            None => self.start(index, &arrays, &target),
            Some((i0, t0)) => self.check(index, *i0, &arrays, t0, &target)?,
        }
        for (stack, a) in self.stacks.iter_mut().zip(arrays) {
            stack.data.extend_from_slice(&a.data);
        }
        match target {
            Target::Class(c) => self.classes.push(c),
            Target::Values(v) => self.values.extend_from_slice(&v.data),
        }
        self.n += 1;
        Ok(())
    }

    fn start(&mut self, index: usize, arrays: &[crate::Array], target: &Target) {
        self.stacks = arrays
            .iter()
            .map(|a| Stack {
                shape: a.shape.clone(),
                data: Vec::with_capacity(a.data.len() * self.capacity),
            })
            .collect();
        if let Target::Values(v) = target {
            self.values.reserve_exact(v.data.len() * self.capacity);
        } else {
            self.classes.reserve_exact(self.capacity);
        }
        self.first = Some((index, target.clone()));
    }

    fn check(
        &self,
        index: usize,
        i0: usize,
        arrays: &[crate::Array],
        t0: &Target,
        target: &Target,
    ) -> Result<()> {
        if arrays.len() != self.stacks.len() {
            return Err(Error::Collate(format!(
                "sample {index} has {} inputs, sample {i0} has {}",
                arrays.len(),
                self.stacks.len()
            )));
        }
        for (a, s0) in arrays.iter().zip(&self.stacks) {
            if s0.shape != a.shape {
                return Err(Error::Collate(format!(
                    "cannot stack samples of different shapes into one batch: sample \
                     {index} is {:?}, sample {i0} is {:?}; make them the same size \
                     with a Resize and a CenterCrop (or RandomCrop) before ToTensor",
                    a.shape, s0.shape
                )));
            }
        }
        let same_kind = match (t0, target) {
            (Target::Class(_), Target::Class(_)) => true,
            (Target::Values(a), Target::Values(b)) => a.shape == b.shape,
            _ => false,
        };
        if !same_kind {
            return Err(Error::Collate(format!(
                "cannot stack the targets of one batch: sample {index} has {}, \
                 sample {i0} has {}",
                target.describe(),
                t0.describe()
            )));
        }
        Ok(())
    }

    /// The batch `[B, …]`.
    pub fn finish(self) -> HostBatch {
        let n = self.n;
        let batched = |s: Stack| {
            let mut shape = vec![n];
            shape.extend_from_slice(&s.shape);
            (shape, s.data)
        };
        let mut stacks = self.stacks.into_iter().map(batched);
        let (shape, data) = stacks.next().unwrap_or((vec![0], Vec::new()));
        let targets = match self.first {
            Some((_, Target::Values(v))) => HostTargets::Values {
                shape: v.shape,
                data: self.values,
            },
            _ => HostTargets::Class(self.classes),
        };
        HostBatch {
            shape,
            data,
            extra: stacks.collect(),
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Array, Image};

    fn arr(shape: Vec<usize>, v: f32) -> Input {
        let n = shape.iter().product();
        Input::Array(Array {
            shape,
            data: vec![v; n],
        })
    }

    #[test]
    fn stacks_inputs_and_targets() {
        let mut c = Collator::new(2);
        c.push(4, arr(vec![1, 2, 2], 1.0), Target::Class(3))
            .unwrap();
        c.push(9, arr(vec![1, 2, 2], 2.0), Target::Class(5))
            .unwrap();
        let b = c.finish();
        assert_eq!(b.shape, vec![2, 1, 2, 2]);
        assert_eq!(b.data, [[1.0; 4], [2.0; 4]].concat());
        assert_eq!(b.targets, HostTargets::Class(vec![3, 5]));
        assert_eq!(b.target_shape(), vec![2]);

        let mut c = Collator::new(2);
        c.push(0, arr(vec![3], 1.0), Target::scalar(0.5)).unwrap();
        c.push(1, arr(vec![3], 1.0), Target::scalar(1.5)).unwrap();
        let b = c.finish();
        assert_eq!(b.target_shape(), vec![2, 1]);
        assert_eq!(
            b.targets,
            HostTargets::Values {
                shape: vec![1],
                data: vec![0.5, 1.5]
            }
        );
    }

    #[test]
    fn mismatches_name_both_samples() {
        let mut c = Collator::new(2);
        c.push(7, arr(vec![3, 4, 4], 0.0), Target::Class(0))
            .unwrap();
        let e = c
            .push(12, arr(vec![3, 4, 5], 0.0), Target::Class(0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sample 12 is [3, 4, 5], sample 7 is [3, 4, 4]") && e.contains("Resize"),
            "{e}"
        );
        let e = c
            .push(13, arr(vec![3, 4, 4], 0.0), Target::scalar(1.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sample 13 has float values of shape [1]"), "{e}");
        let img = Input::Image(Image {
            height: 2,
            width: 2,
            channels: 1,
            data: vec![0; 4],
        });
        let e = c.push(1, img, Target::Class(0)).unwrap_err().to_string();
        assert!(e.contains("add ToTensor"), "{e}");
    }
}
