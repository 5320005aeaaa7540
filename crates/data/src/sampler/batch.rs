use super::Sampler;
use std::ops::Range;

/// `torch.utils.data.BatchSampler(sampler, batch_size, drop_last)`: cuts a sampler's
/// epoch into batches of `batch_size` consecutive indices; the last, shorter one is
/// kept unless `drop_last`.
pub struct BatchSampler {
    sampler: Box<dyn Sampler>,
    batch_size: usize,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` (> 0) over `sampler`.
    pub fn new(sampler: Box<dyn Sampler>, batch_size: usize, drop_last: bool) -> Self {
        Self {
            sampler,
            batch_size: batch_size.max(1),
            drop_last,
        }
    }

    /// The same batches over the sampler that `f` makes of this one's (a
    /// `DistributedSampler` around it).
    pub fn map_sampler<E>(
        self,
        f: impl FnOnce(Box<dyn Sampler>) -> Result<Box<dyn Sampler>, E>,
    ) -> Result<Self, E> {
        Ok(Self {
            sampler: f(self.sampler)?,
            ..self
        })
    }

    /// The underlying sampler.
    pub fn sampler(&self) -> &dyn Sampler {
        self.sampler.as_ref()
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch (`len(batch_sampler)`).
    pub fn len(&self) -> usize {
        let n = self.sampler.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples per epoch once the last incomplete batch is dropped (if it is).
    pub fn num_samples(&self) -> usize {
        (self.sampler.len()).min(self.len() * self.batch_size)
    }

    /// Positions in the epoch's index list of batch `b`.
    pub fn range(&self, b: usize, epoch_len: usize) -> Range<usize> {
        let start = (b * self.batch_size).min(epoch_len);
        start..(start + self.batch_size).min(epoch_len)
    }

    /// Every batch of epoch `epoch`, as lists of dataset indices.
    pub fn batches(&self, epoch: u64, seed: u64) -> Vec<Vec<usize>> {
        let idx = self.sampler.indices(epoch, seed);
        (0..self.len())
            .map(|b| idx[self.range(b, idx.len())].to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::SequentialSampler;
    use super::*;

    #[test]
    fn batches_and_drop_last() {
        let b = BatchSampler::new(Box::new(SequentialSampler(10)), 3, false);
        assert_eq!(b.len(), 4);
        let all = b.batches(0, 0);
        assert_eq!(all[0], vec![0, 1, 2]);
        assert_eq!(all[3], vec![9]);
        let b = BatchSampler::new(Box::new(SequentialSampler(10)), 3, true);
        assert_eq!(b.len(), 3);
        assert_eq!(b.num_samples(), 9);
        assert_eq!(b.batches(0, 0).last().unwrap(), &vec![6, 7, 8]);
    }
}
