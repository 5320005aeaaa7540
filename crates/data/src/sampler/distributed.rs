use super::Sampler;
use crate::{Error, Result};

/// `torch.utils.data.distributed.DistributedSampler`, over any sampler: each of
/// `num_replicas` processes takes every `num_replicas`-th index of the wrapped
/// sampler's epoch order, starting at its `rank`, so the ranks see disjoint shards of
/// one order (every rank draws the same order: the same seed and epoch).
///
/// As PyTorch does, with `n` indices per epoch:
/// - without `drop_last`, each rank gets `ceil(n / num_replicas)` indices and the order
///   is padded to `num_replicas` times that by repeating its start (so a few samples
///   are seen twice per epoch);
/// - with `drop_last`, each rank gets `ceil((n - num_replicas) / num_replicas)` when
///   `n` does not divide evenly (`n / num_replicas` when it does), and the tail of the
///   order is left out.
///
/// PyTorch's sampler draws its own permutation (`shuffle`, `seed`); here the order is
/// the wrapped sampler's (`RandomSampler`, `WeightedRandomSampler`, ... or
/// `SequentialSampler` for `shuffle=False`), sharded.
pub struct DistributedSampler {
    inner: Box<dyn Sampler>,
    replicas: usize,
    rank: usize,
    drop_last: bool,
}

impl DistributedSampler {
    /// Rank `rank`'s shard of `inner`'s order among `num_replicas` processes.
    ///
    /// # Errors
    /// [`Error::Config`] when `num_replicas` is 0 or `rank` is not below it.
    pub fn new(
        inner: Box<dyn Sampler>,
        num_replicas: usize,
        rank: usize,
        drop_last: bool,
    ) -> Result<Self> {
        if num_replicas == 0 || rank >= num_replicas {
            return Err(Error::config(
                "rank",
                format!("rank {rank} of {num_replicas} processes: it must be in 0..num_replicas"),
            ));
        }
        Ok(Self {
            inner,
            replicas: num_replicas,
            rank,
            drop_last,
        })
    }

    /// The indices per rank and per epoch (PyTorch's `num_samples`).
    fn per_rank(&self) -> usize {
        let n = self.inner.len();
        if self.drop_last && !n.is_multiple_of(self.replicas) {
            n.saturating_sub(self.replicas).div_ceil(self.replicas)
        } else {
            n.div_ceil(self.replicas)
        }
    }
}

impl Sampler for DistributedSampler {
    fn indices(&self, epoch: u64, seed: u64) -> Vec<usize> {
        let mut order = self.inner.indices(epoch, seed);
        let total = self.per_rank() * self.replicas;
        if order.is_empty() {
            return Vec::new();
        }
        if order.len() < total {
            // pad by repeating the order's start, as often as it takes
            let pad: Vec<usize> = order
                .iter()
                .copied()
                .cycle()
                .take(total - order.len())
                .collect();
            order.extend(pad);
        }
        order.truncate(total);
        order
            .into_iter()
            .skip(self.rank)
            .step_by(self.replicas)
            .collect()
    }

    fn len(&self) -> usize {
        self.per_rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::{RandomSampler, SequentialSampler};

    fn shards(n: usize, replicas: usize, drop_last: bool) -> Vec<Vec<usize>> {
        (0..replicas)
            .map(|r| {
                let s = DistributedSampler::new(
                    Box::new(SequentialSampler::new(n)),
                    replicas,
                    r,
                    drop_last,
                )
                .unwrap();
                let idx = s.indices(0, 0);
                assert_eq!(idx.len(), s.len());
                idx
            })
            .collect()
    }

    /// What `list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False,
    /// drop_last=...))` gives in PyTorch.
    #[test]
    fn shards_pad_or_drop_as_pytorch() {
        assert_eq!(
            shards(10, 3, false),
            [vec![0, 3, 6, 9], vec![1, 4, 7, 0], vec![2, 5, 8, 1]]
        );
        assert_eq!(
            shards(10, 3, true),
            [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5, 8]]
        );
        assert_eq!(shards(4, 2, true), [vec![0, 2], vec![1, 3]]);
        // fewer samples than ranks: padded by repeating, more than once
        assert_eq!(shards(2, 5, false), [[0], [1], [0], [1], [0]]);
        assert_eq!(shards(2, 5, true), vec![Vec::<usize>::new(); 5]);
    }

    #[test]
    fn ranks_split_one_shuffled_order() {
        let ranks: Vec<Vec<usize>> = (0..2)
            .map(|r| {
                let inner = Box::new(RandomSampler::new(9, &Default::default()).unwrap());
                DistributedSampler::new(inner, 2, r, false)
                    .unwrap()
                    .indices(3, 42)
            })
            .collect();
        let order = RandomSampler::new(9, &Default::default())
            .unwrap()
            .indices(3, 42);
        assert_eq!(ranks[0], [order[0], order[2], order[4], order[6], order[8]]);
        assert_eq!(ranks[1], [order[1], order[3], order[5], order[7], order[0]]);
        assert!(DistributedSampler::new(Box::new(SequentialSampler::new(3)), 2, 2, false).is_err());
    }
}
