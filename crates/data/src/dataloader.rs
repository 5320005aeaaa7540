//! `torch.utils.data.DataLoader`: a sampler, worker threads and collation.

use crate::collate::{Collator, HostBatch, HostTargets};
use crate::sampler::{BatchSampler, RandomSamplerConfig, SamplerConfig, SequentialSamplerConfig};
use crate::transforms::{Compose, Transform};
use crate::{CropBox, Dataset, Error, Input, Result, Sample, Target};
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use wick_tensor::SeedRng;

/// Arguments of `torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False,
/// sampler=None, num_workers=0, pin_memory=False, drop_last=False, prefetch_factor=2)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataLoaderConfig {
    /// Samples per batch (default 1).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Reshuffle every epoch (default `false`); the same as `RandomSampler`.
    #[serde(default)]
    pub shuffle: bool,
    /// The sampler (mutually exclusive with `shuffle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<SamplerConfig>,
    /// Drop the last incomplete batch (default `false`).
    #[serde(default)]
    pub drop_last: bool,
    /// Worker threads decoding and transforming batches (default 0: the training
    /// thread loads each batch when it needs it, its samples spread over the compute
    /// threads).
    #[serde(default)]
    pub num_workers: usize,
    /// Batches loaded in advance by each worker (default 2 with workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_factor: Option<usize>,
    /// Accepted for PyTorch compatibility (default `false`). wick already builds each
    /// batch in one contiguous host buffer and copies it to the device once, as one
    /// transfer per input and target. candle 0.11 has no page-locked allocator of its
    /// own (one is reachable through its cudarc: `alloc_pinned`, `clone_htod`,
    /// `CudaStorage::wrap_cuda_slice`, not used yet, untestable without a GPU), so on
    /// the CPU and on CUDA this flag changes nothing.
    #[serde(default)]
    pub pin_memory: bool,
}

fn one() -> usize {
    1
}

/// Upper bounds that keep a typo from exhausting memory or threads.
const MAX_PREFETCH: usize = 1024;
const MAX_WORKERS: usize = 256;

impl Default for DataLoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 1,
            shuffle: false,
            sampler: None,
            drop_last: false,
            num_workers: 0,
            prefetch_factor: None,
            pin_memory: false,
        }
    }
}

impl DataLoaderConfig {
    /// Checks the arguments as `DataLoader.__init__` does and picks the sampler.
    pub fn sampler_config(&self) -> Result<SamplerConfig> {
        if self.batch_size == 0 {
            return Err(Error::config(
                "batch_size",
                "batch_size should be a positive integer value, but got batch_size=0",
            ));
        }
        if self.prefetch_factor.is_some() && self.num_workers == 0 {
            return Err(Error::config(
                "prefetch_factor",
                "prefetch_factor option could only be specified in multiprocessing; \
                 let num_workers > 0 to enable it",
            ));
        }
        if let Some(p) = self.prefetch_factor {
            if p == 0 || p > MAX_PREFETCH {
                return Err(Error::config(
                    "prefetch_factor",
                    format!(
                        "prefetch_factor = {p}: expected 1 to {MAX_PREFETCH} batches per worker"
                    ),
                ));
            }
        }
        if self.num_workers > MAX_WORKERS {
            return Err(Error::config(
                "num_workers",
                format!(
                    "num_workers = {}: expected at most {MAX_WORKERS} worker threads",
                    self.num_workers
                ),
            ));
        }
        if let Some(s) = &self.sampler {
            s.validate().map_err(|e| match e {
                Error::Config { message, .. } => Error::config("sampler", message),
                other => other,
            })?;
        }
        match (&self.sampler, self.shuffle) {
            (Some(_), true) => Err(Error::config(
                "shuffle",
                "sampler option is mutually exclusive with shuffle",
            )),
            (Some(s), false) => Ok(s.clone()),
            (None, true) => Ok(RandomSamplerConfig::default().into()),
            (None, false) => Ok(SequentialSamplerConfig::default().into()),
        }
    }
}

impl Batch {
    /// Every input, in [`Dataset::input_names`] order.
    pub fn inputs(&self) -> Vec<Tensor> {
        std::iter::once(self.input.clone())
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

/// A collated batch on the loader's device: inputs `[B, …]` f32 (images
/// `[B, C, H, W]`) and targets, u32 `[B]` for class indices or f32 `[B, …]` for float
/// targets ([`crate::Target`]).
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs (the first, where the dataset yields several).
    pub input: Tensor,
    /// The further inputs of a dataset that yields several (pairs, triplets), in
    /// [`Dataset::input_names`] order.
    pub extra: Vec<Tensor>,
    /// Class indices (u32 `[B]`) or float targets (f32 `[B, …]`).
    pub target: Tensor,
    /// Number of samples.
    pub len: usize,
}

/// `torch.utils.data.DataLoader`: samples from a [`Dataset`], transformed and collated
/// into batches.
///
/// Sample `i` of epoch `e` (its position in the epoch's index list) is transformed with
/// the random stream `("transform", [e, i])` of the loader's seed, so the batches are
/// the same whatever `num_workers` is. With workers, batch `b` is read, decoded,
/// transformed and collated (into one contiguous buffer) by worker `b mod num_workers`
/// and each worker keeps up to `prefetch_factor` batches ready, as PyTorch does; the
/// main thread only copies each batch to the device, once. Without workers, the
/// training thread loads each batch when it needs it, as PyTorch's `num_workers=0`,
/// but the batch's samples are read and transformed in parallel on the compute
/// threads, which would otherwise wait. A failing sample (an
/// unreadable file, a shape mismatch) ends the epoch with its error.
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Compose>,
    batches: BatchSampler,
    num_workers: usize,
    prefetch: usize,
    seed: u64,
    device: Device,
    /// `(replicas, rank)` of a sharded loader ([`DataLoader::shard`]), `(1, 0)` else.
    shard: (usize, usize),
}

impl DataLoader {
    /// A loader over `dataset` with per-sample `transform`; `seed` drives the sampler
    /// and every random transform.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        transform: Compose,
        cfg: &DataLoaderConfig,
        seed: u64,
        device: Device,
    ) -> Result<Self> {
        let sampler = cfg.sampler_config()?.build(dataset.as_ref())?;
        Ok(Self {
            dataset,
            transform: Arc::new(transform),
            batches: BatchSampler::new(sampler, cfg.batch_size, cfg.drop_last),
            num_workers: cfg.num_workers,
            prefetch: cfg.prefetch_factor.unwrap_or(2),
            seed,
            device,
            shard: (1, 0),
        })
    }

    /// This loader's share of each epoch as rank `rank` of `replicas` processes
    /// (`DataLoader(ds, sampler=DistributedSampler(ds, num_replicas, rank))` in
    /// PyTorch): its sampler wrapped in a [`DistributedSampler`] (the order padded to a
    /// multiple of `replicas`, every `replicas`-th index from `rank` on), the batch size
    /// per process. The sample at position `p` of the shard is at `p · replicas + rank`
    /// of the whole epoch's order and its random transforms are that position's: a
    /// sample is augmented the same whatever the number of processes.
    ///
    /// # Errors
    /// A `rank` not below `replicas`.
    ///
    /// [`DistributedSampler`]: crate::sampler::DistributedSampler
    pub fn shard(self, replicas: usize, rank: usize) -> Result<Self> {
        let batches = self.batches.map_sampler(|inner| {
            crate::sampler::DistributedSampler::new(inner, replicas, rank, false)
                .map(|s| Box::new(s) as Box<dyn crate::sampler::Sampler>)
        })?;
        Ok(Self {
            batches,
            shard: (replicas, rank),
            ..self
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// The batch sampler (sampler, `batch_size`, `drop_last`).
    pub fn batch_sampler(&self) -> &BatchSampler {
        &self.batches
    }

    /// Samples per epoch.
    pub fn num_samples(&self) -> usize {
        self.batches.num_samples()
    }

    /// Batches per epoch (`len(loader)`).
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset indices of epoch `epoch`, in the order the batches take them (the
    /// sampler's list; what a mid-epoch checkpoint needs to know is only the epoch and
    /// the number of batches done).
    pub fn epoch_indices(&self, epoch: u64) -> Vec<usize> {
        self.batches.sampler().indices(epoch, self.seed)
    }

    /// The per-sample input shape after the transforms (from the first sample).
    pub fn sample_shape(&self) -> Result<Vec<usize>> {
        Ok(self.sample_shapes()?.swap_remove(0))
    }

    /// The per-sample shape of every input after the transforms (from the first
    /// sample), in [`Dataset::input_names`] order.
    pub fn sample_shapes(&self) -> Result<Vec<Vec<usize>>> {
        if self.dataset.is_empty() {
            return Err(Error::Transform("the dataset is empty".into()));
        }
        let s = self.dataset.get(0)?;
        let mut rng = SeedRng::stream(self.seed, "transform", &[0, 0]);
        std::iter::once(s.input)
            .chain(s.extra)
            .map(|x| Ok(self.transform.apply(x, &mut rng)?.shape()))
            .collect()
    }

    /// The batches of epoch `epoch` (0-based), in order.
    pub fn epoch(&self, epoch: u64) -> BatchIter<'_> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from batch `start` on: a run resumed after `start`
    /// batches of the epoch gets exactly the batches it would have had (same samples,
    /// same augmentations), without loading the skipped ones.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> BatchIter<'_> {
        let indices = Arc::new(self.epoch_indices(epoch));
        let n_batches = self.len();
        let start = start.min(n_batches);
        let job = Job {
            dataset: self.dataset.clone(),
            transform: self.transform.clone(),
            indices,
            batch_size: self.batches.batch_size(),
            seed: self.seed,
            epoch,
            shard: self.shard,
        };
        let source = if self.num_workers == 0 || start == n_batches {
            Source::Inline(InlineCost::default())
        } else {
            let workers = self.num_workers.min(n_batches - start);
            let rxs = (0..workers)
                .map(|w| {
                    let (tx, rx) = sync_channel(self.prefetch);
                    let job = job.clone();
                    std::thread::Builder::new()
                        .name(format!("wick-loader-{w}"))
                        .spawn(move || {
                            for b in (start + w..n_batches).step_by(workers) {
                                let batch = job.build(b, false);
                                let failed = batch.is_err();
                                if tx.send(batch).is_err() || failed {
                                    break;
                                }
                            }
                        })
                        .map(|_| rx)
                        .map_err(|e| Error::Transform(format!("cannot start loader worker: {e}")))
                })
                .collect::<Result<Vec<_>>>();
            match rxs {
                Ok(rxs) => Source::Workers(rxs),
                Err(e) => Source::Failed(Some(e)),
            }
        };
        BatchIter {
            loader: self,
            job,
            start,
            next: start,
            n_batches,
            source,
        }
    }

    fn to_device(&self, hb: HostBatch) -> Result<Batch> {
        let len = hb.len();
        let target_shape = hb.target_shape();
        let target = match hb.targets {
            HostTargets::Class(c) => Tensor::from_vec(c, target_shape, &self.device)?,
            HostTargets::Values { data, .. } => Tensor::from_vec(data, target_shape, &self.device)?,
        };
        let extra = hb
            .extra
            .into_iter()
            .map(|(shape, data)| Tensor::from_vec(data, shape, &self.device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Batch {
            input: Tensor::from_vec(hb.data, hb.shape, &self.device)?,
            extra,
            target,
            len,
        })
    }
}

#[derive(Clone)]
struct Job {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Compose>,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    seed: u64,
    epoch: u64,
    shard: (usize, usize),
}

impl Job {
    /// Batch `b`, its samples read and transformed one after the other (on a worker
    /// thread), or all at once on the compute threads where `parallel` (loading in the
    /// training thread, `num_workers = 0`, while those threads wait for the batch).
    /// Each sample's transforms draw from its own stream, so the batch is the same.
    fn build(&self, b: usize, parallel: bool) -> Result<HostBatch> {
        let start = (b * self.batch_size).min(self.indices.len());
        let end = (start + self.batch_size).min(self.indices.len());
        let mut collator = Collator::new(end - start);
        if parallel {
            // one contiguous run of samples per thread: a cheap sample (an MNIST digit)
            // costs less than a task of its own
            let per_thread = (end - start).div_ceil(rayon::current_num_threads());
            let samples: Vec<_> = (start..end)
                .into_par_iter()
                .with_min_len(per_thread.max(1))
                .map(|pos| self.sample(pos))
                .collect();
            for (pos, s) in (start..end).zip(samples) {
                let (inputs, target) = s?;
                collator.push_inputs(self.indices[pos], inputs, target)?;
            }
        } else {
            for pos in start..end {
                let (inputs, target) = self.sample(pos)?;
                collator.push_inputs(self.indices[pos], inputs, target)?;
            }
        }
        Ok(collator.finish())
    }

    /// The sample at position `pos` of the epoch, transformed with its own stream.
    fn sample(&self, pos: usize) -> Result<(Vec<Input>, Target)> {
        let (replicas, rank) = self.shard;
        let global = (pos * replicas + rank) as u64;
        let mut rng = SeedRng::stream(self.seed, "transform", &[self.epoch, global]);
        self.transformed(self.indices[pos], &mut rng)
    }

    /// Sample `idx`, transformed. Where the transforms begin with a crop, the dataset
    /// is asked for the cropped box only ([`Dataset::get_region`]: the crop's
    /// parameters drawn from the image's size, the rest of the transforms applied to
    /// the box); otherwise, or where the dataset cannot, the whole sample is read and
    /// transformed. Both give the same values.
    fn transformed(&self, idx: usize, rng: &mut SeedRng) -> Result<(Vec<Input>, Target)> {
        let mut rest = None;
        let got = self.dataset.get_region(idx, &mut |h, w| {
            Ok(match self.transform.split_crop(h, w, rng)? {
                Some((b, after)) => {
                    rest = Some(after);
                    b
                }
                None => CropBox::whole(h, w),
            })
        })?;
        let (s, rest) = match got {
            Some(s) => (s, rest),
            None => (self.dataset.get(idx)?, None),
        };
        let Sample {
            input,
            target,
            extra,
        } = s;
        let first = match rest {
            Some(after) => after(input, rng)?,
            None => self.transform.apply(input, rng)?,
        };
        let mut inputs = Vec::with_capacity(1 + extra.len());
        inputs.push(first);
        for x in extra {
            inputs.push(self.transform.apply(x, rng)?);
        }
        Ok((inputs, target))
    }
}

/// How long the last batch loaded on the training thread took, and whether its
/// samples were spread over the compute threads: the next one is spread when the last
/// one's samples cost at least [`PAR_BATCH_MIN`] in all (a batch of JPEGs, random
/// affine warps), and built in order on the training thread when they are cheap (an
/// MNIST batch's 64 digits take less than waking the other threads would).
#[derive(Default)]
struct InlineCost {
    last: std::time::Duration,
    parallel: bool,
}

/// The work a batch's samples must take, one after the other, for the loader to spread
/// them over the compute threads.
const PAR_BATCH_MIN: std::time::Duration = std::time::Duration::from_micros(500);

impl InlineCost {
    /// Builds batch `b` of `job`, spread or not as the last batch's cost says.
    fn build(&mut self, job: &Job, b: usize) -> Result<HostBatch> {
        let threads = if self.parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        let parallel = self.last * threads as u32 >= PAR_BATCH_MIN;
        let t = std::time::Instant::now();
        let batch = job.build(b, parallel);
        (self.last, self.parallel) = (t.elapsed(), parallel);
        batch
    }
}

enum Source {
    Inline(InlineCost),
    Workers(Vec<Receiver<Result<HostBatch>>>),
    Failed(Option<Error>),
}

/// The batches of one epoch.
pub struct BatchIter<'a> {
    loader: &'a DataLoader,
    job: Job,
    start: usize,
    next: usize,
    n_batches: usize,
    source: Source,
}

impl BatchIter<'_> {
    /// The index of the next batch in the epoch (batches done so far, counting skipped
    /// ones): what a mid-epoch checkpoint records.
    pub fn position(&self) -> usize {
        self.next
    }
}

impl Iterator for BatchIter<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.n_batches {
            return None;
        }
        let b = self.next;
        self.next += 1;
        let host = match &mut self.source {
            Source::Inline(cost) => cost.build(&self.job, b),
            Source::Workers(rxs) => {
                let w = (b - self.start) % rxs.len();
                rxs[w].recv().unwrap_or_else(|_| {
                    Err(Error::Transform(
                        "a loader worker stopped unexpectedly".into(),
                    ))
                })
            }
            Source::Failed(e) => {
                self.next = self.n_batches;
                return e.take().map(Err);
            }
        };
        if host.is_err() {
            // a failed batch ends the epoch, as an exception in a PyTorch loop would
            self.next = self.n_batches;
        }
        Some(host.and_then(|h| self.loader.to_device(h)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.n_batches - self.next;
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::{ToTensor, Transform};
    use crate::{Image, Input, Sample, Target};

    struct Ramp(usize);
    impl Dataset for Ramp {
        fn len(&self) -> usize {
            self.0
        }
        fn get(&self, i: usize) -> Result<Sample> {
            Ok(Sample {
                input: Input::Image(Image {
                    height: 2,
                    width: 2,
                    channels: 1,
                    data: vec![i as u8; 4],
                }),
                target: Target::Class((i % 10) as u32),
                extra: Vec::new(),
            })
        }
    }

    /// Adds noise drawn from the per-sample stream, to test determinism across workers.
    struct Noise;
    impl Transform for Noise {
        fn apply(&self, input: Input, rng: &mut SeedRng) -> Result<Input> {
            let Input::Array(mut a) = input else {
                unreachable!()
            };
            for v in &mut a.data {
                *v += rng.uniform(0.0, 1.0) as f32;
            }
            Ok(Input::Array(a))
        }
    }

    fn loader(cfg: DataLoaderConfig) -> DataLoader {
        let t = Compose(vec![Box::new(ToTensor), Box::new(Noise)]);
        DataLoader::new(Arc::new(Ramp(23)), t, &cfg, 5, Device::Cpu).unwrap()
    }

    fn all(l: &DataLoader, epoch: u64) -> (Vec<Vec<f32>>, Vec<Vec<u32>>) {
        l.epoch(epoch)
            .map(|b| {
                let b = b.unwrap();
                (
                    b.input.flatten_all().unwrap().to_vec1().unwrap(),
                    b.target.to_vec1().unwrap(),
                )
            })
            .unzip()
    }

    #[test]
    fn batches_and_drop_last() {
        let l = loader(DataLoaderConfig {
            batch_size: 5,
            ..Default::default()
        });
        assert_eq!(l.len(), 5);
        let (x, y) = all(&l, 0);
        assert_eq!(y[0], vec![0, 1, 2, 3, 4]);
        assert_eq!(y[4], vec![0, 1, 2]);
        assert_eq!(x[0].len(), 5 * 4);
        let l = loader(DataLoaderConfig {
            batch_size: 5,
            drop_last: true,
            ..Default::default()
        });
        assert_eq!(l.len(), 4);
        assert_eq!(all(&l, 0).1.len(), 4);
    }

    #[test]
    fn same_batches_whatever_num_workers() {
        let base = DataLoaderConfig {
            batch_size: 4,
            shuffle: true,
            ..Default::default()
        };
        let l0 = loader(base.clone());
        let want = all(&l0, 3);
        for w in [1, 2, 4] {
            let l = loader(DataLoaderConfig {
                num_workers: w,
                prefetch_factor: Some(1),
                ..base.clone()
            });
            assert_eq!(all(&l, 3), want, "num_workers = {w}");
        }
        assert_ne!(all(&l0, 4).1, want.1, "a new epoch reshuffles");
    }

    /// `Ramp`, each sample taking `0.2 ms` (a JPEG's decode).
    struct Slow;
    impl Dataset for Slow {
        fn len(&self) -> usize {
            23
        }
        fn get(&self, i: usize) -> Result<Sample> {
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_micros(200) {
                std::hint::spin_loop();
            }
            Ramp(23).get(i)
        }
    }

    /// Without workers, expensive samples are spread over the compute threads (from the
    /// second batch on), cheap ones are not; the batches are the same either way.
    #[test]
    fn spreading_a_batch_over_threads_gives_the_same_batches() {
        let cfg = DataLoaderConfig {
            batch_size: 6,
            shuffle: true,
            ..Default::default()
        };
        let t = || Compose(vec![Box::new(ToTensor), Box::new(Noise)]);
        let slow = DataLoader::new(Arc::new(Slow), t(), &cfg, 5, Device::Cpu).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| all(&slow, 3)), all(&loader(cfg.clone()), 3));
        let job = slow.epoch(0).job;
        let mut cost = InlineCost::default();
        for (b, spread) in [(0, false), (1, true), (2, true)] {
            pool.install(|| cost.build(&job, b)).unwrap();
            assert_eq!(cost.parallel, spread, "batch {b}");
        }
        let cheap = loader(cfg).epoch(0).job;
        let mut cost = InlineCost::default();
        for b in 0..3 {
            pool.install(|| cost.build(&cheap, b)).unwrap();
            assert!(!cost.parallel, "batch {b} of cheap samples spread");
        }
    }

    /// Two ranks with batch 4 see, batch by batch, the samples of one process with batch
    /// 8 over the same order (24 samples: 23 padded by the first), each augmented as
    /// there: sample `p` of rank `r`'s shard is sample `2p + r` of the whole epoch.
    #[test]
    fn shards_make_up_the_global_batches_with_the_same_augmentation() {
        let cfg = |batch_size| DataLoaderConfig {
            batch_size,
            shuffle: true,
            ..Default::default()
        };
        let whole = all(&loader(cfg(8)), 1);
        let ranks: Vec<_> = (0..2)
            .map(|r| all(&loader(cfg(4)).shard(2, r).unwrap(), 1))
            .collect();
        assert_eq!(ranks[0].1.len(), 3);
        let order = loader(cfg(8)).epoch_indices(1);
        for b in 0..3 {
            for p in 0..4 {
                for (r, (x, y)) in ranks.iter().enumerate() {
                    let g = 8 * b + 2 * p + r;
                    let want = if g < 23 {
                        (
                            whole.0[b][4 * (g - 8 * b)..][..4].to_vec(),
                            whole.1[b][g - 8 * b],
                        )
                    } else {
                        // the padding repeats the order's first sample, as torch does
                        let first = order[0];
                        (x[b][4 * p..][..4].to_vec(), (first % 10) as u32)
                    };
                    assert_eq!(y[b][p], want.1, "batch {b} sample {p} rank {r}");
                    assert_eq!(
                        x[b][4 * p..][..4],
                        want.0[..],
                        "batch {b} sample {p} rank {r}"
                    );
                }
            }
        }
        assert!(loader(cfg(4)).shard(2, 2).is_err());
    }

    #[test]
    fn resuming_mid_epoch_gives_the_remaining_batches() {
        for w in [0, 2] {
            let l = loader(DataLoaderConfig {
                batch_size: 3,
                shuffle: true,
                num_workers: w,
                ..Default::default()
            });
            let (x, y) = all(&l, 2);
            let mut it = l.epoch_from(2, 5);
            assert_eq!(it.position(), 5);
            let rest: Vec<_> = it.by_ref().map(|b| b.unwrap()).collect();
            assert_eq!(it.position(), l.len());
            assert_eq!(rest.len(), l.len() - 5);
            for (k, b) in rest.iter().enumerate() {
                assert_eq!(b.target.to_vec1::<u32>().unwrap(), y[5 + k]);
                assert_eq!(
                    b.input.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                    x[5 + k]
                );
            }
            let flat: Vec<u32> = l
                .epoch_indices(2)
                .iter()
                .map(|&i| (i % 10) as u32)
                .collect();
            assert_eq!(flat, y.concat());
            assert_eq!(l.epoch_from(2, 100).count(), 0);
        }
    }

    /// Samples whose size depends on the index, and float targets.
    struct Ragged;
    impl Dataset for Ragged {
        fn len(&self) -> usize {
            8
        }
        fn get(&self, i: usize) -> Result<Sample> {
            let w = if i == 6 { 3 } else { 2 };
            Ok(Sample {
                input: Input::Image(Image {
                    height: 2,
                    width: w,
                    channels: 3,
                    data: vec![0; 2 * w * 3],
                }),
                target: Target::Values(crate::Array {
                    shape: vec![2],
                    data: vec![i as f32, -(i as f32)],
                }),
                extra: Vec::new(),
            })
        }
    }

    #[test]
    fn float_targets_and_shape_errors_with_workers() {
        for w in [0, 3] {
            let cfg = DataLoaderConfig {
                batch_size: 4,
                num_workers: w,
                ..Default::default()
            };
            let t = Compose(vec![Box::new(ToTensor)]);
            let l = DataLoader::new(Arc::new(Ragged), t, &cfg, 0, Device::Cpu).unwrap();
            let mut it = l.epoch(0);
            let b = it.next().unwrap().unwrap();
            assert_eq!(b.input.dims(), &[4, 3, 2, 2]);
            assert_eq!(b.target.dims(), &[4, 2]);
            assert_eq!(b.target.dtype(), candle_core::DType::F32);
            assert_eq!(b.target.to_vec2::<f32>().unwrap()[3], vec![3.0, -3.0]);
            let e = it.next().unwrap().unwrap_err().to_string();
            assert!(
                e.contains("sample 6 is [3, 2, 3], sample 4 is [3, 2, 2]"),
                "{e}"
            );
            assert!(it.next().is_none());
        }
    }

    #[test]
    fn invalid_combinations() {
        let cfg = DataLoaderConfig {
            shuffle: true,
            sampler: Some(SequentialSamplerConfig::default().into()),
            ..Default::default()
        };
        assert!(matches!(
            cfg.sampler_config(),
            Err(Error::Config {
                field: "shuffle",
                ..
            })
        ));
        let cfg = DataLoaderConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(cfg.sampler_config().is_err());
    }
}
