use crate::sampler::{RandomSamplerConfig, Sampler, SamplerConfig, SequentialSamplerConfig};
use crate::transforms::{Compose, Transform};
use crate::{Dataset, Error, Input, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use wick_tensor::SeedRng;

/// Arguments of `torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False,
/// sampler=None, num_workers=0, drop_last=False, prefetch_factor=2)`.
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
    /// Worker threads decoding and transforming batches (default 0: the main thread).
    #[serde(default)]
    pub num_workers: usize,
    /// Batches loaded in advance by each worker (default 2 with workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_factor: Option<usize>,
}

fn one() -> usize {
    1
}

/// Upper bounds that keep a typo from exhausting memory or threads.
const MAX_PREFETCH: usize = 1024;
const MAX_WORKERS: usize = 256;
const MAX_SAMPLES: usize = 1 << 32;

impl Default for DataLoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 1,
            shuffle: false,
            sampler: None,
            drop_last: false,
            num_workers: 0,
            prefetch_factor: None,
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
        if let Some(SamplerConfig::RandomSampler(r)) = &self.sampler {
            match r.num_samples {
                Some(0) => {
                    return Err(Error::config(
                        "sampler",
                        "num_samples should be a positive integer value, but got num_samples=0",
                    ))
                }
                Some(n) if n > MAX_SAMPLES => {
                    return Err(Error::config(
                        "sampler",
                        format!("num_samples = {n} is more than {MAX_SAMPLES} samples per epoch"),
                    ))
                }
                _ => {}
            }
        }
        match (&self.sampler, self.shuffle) {
            (Some(_), true) => Err(Error::config(
                "shuffle",
                "sampler option is mutually exclusive with shuffle",
            )),
            (Some(s), false) => Ok(s.clone()),
            (None, true) => Ok(SamplerConfig::RandomSampler(RandomSamplerConfig::default())),
            (None, false) => Ok(SamplerConfig::SequentialSampler(
                SequentialSamplerConfig::default(),
            )),
        }
    }
}

/// A collated batch: inputs `[B, …]` (f32) and class indices `[B]` (u32), on the
/// loader's device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs.
    pub input: Tensor,
    /// Class indices.
    pub target: Tensor,
    /// Number of samples.
    pub len: usize,
}

/// A batch still on the host, as workers build it.
struct HostBatch {
    shape: Vec<usize>,
    data: Vec<f32>,
    targets: Vec<u32>,
}

/// `torch.utils.data.DataLoader`: samples from a [`Dataset`], transformed and collated
/// into batches.
///
/// Sample `i` of epoch `e` is transformed with the random stream
/// `("transform", [e, i])` of the loader's seed, so the batches are the same whatever
/// `num_workers` is. With workers, batch `b` is built by worker `b mod num_workers`
/// and each worker keeps up to `prefetch_factor` batches ready, as PyTorch does.
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Compose>,
    sampler: Box<dyn Sampler>,
    batch_size: usize,
    drop_last: bool,
    num_workers: usize,
    prefetch: usize,
    seed: u64,
    device: Device,
}

impl DataLoader {
    /// A loader over `dataset` with per-sample `transform`.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        transform: Compose,
        cfg: &DataLoaderConfig,
        seed: u64,
        device: Device,
    ) -> Result<Self> {
        let sampler = cfg.sampler_config()?.build(dataset.len())?;
        Ok(Self {
            dataset,
            transform: Arc::new(transform),
            sampler,
            batch_size: cfg.batch_size,
            drop_last: cfg.drop_last,
            num_workers: cfg.num_workers,
            prefetch: cfg.prefetch_factor.unwrap_or(2),
            seed,
            device,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// Samples per epoch.
    pub fn num_samples(&self) -> usize {
        let n = self.sampler.len();
        if self.drop_last {
            n / self.batch_size * self.batch_size
        } else {
            n
        }
    }

    /// Batches per epoch (`len(loader)`).
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

    /// The per-sample input shape after the transforms (from the first sample).
    pub fn sample_shape(&self) -> Result<Vec<usize>> {
        if self.dataset.is_empty() {
            return Err(Error::Transform("the dataset is empty".into()));
        }
        let s = self.dataset.get(0)?;
        let mut rng = SeedRng::stream(self.seed, "transform", &[0, 0]);
        Ok(self.transform.apply(s.input, &mut rng)?.shape())
    }

    /// The batches of epoch `epoch` (0-based), in order.
    pub fn epoch(&self, epoch: u64) -> BatchIter<'_> {
        let indices = Arc::new(self.sampler.indices(epoch, self.seed));
        let n_batches = self.len();
        let source = if self.num_workers == 0 {
            Source::Inline
        } else {
            let rxs = (0..self.num_workers)
                .map(|w| {
                    let (tx, rx) = sync_channel(self.prefetch);
                    let job = Job {
                        dataset: self.dataset.clone(),
                        transform: self.transform.clone(),
                        indices: indices.clone(),
                        batch_size: self.batch_size,
                        seed: self.seed,
                        epoch,
                    };
                    let workers = self.num_workers;
                    std::thread::Builder::new()
                        .name(format!("wick-loader-{w}"))
                        .spawn(move || {
                            for b in (w..n_batches).step_by(workers) {
                                if tx.send(job.build(b)).is_err() {
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
            job: Job {
                dataset: self.dataset.clone(),
                transform: self.transform.clone(),
                indices,
                batch_size: self.batch_size,
                seed: self.seed,
                epoch,
            },
            next: 0,
            n_batches,
            source,
        }
    }

    fn to_device(&self, hb: HostBatch) -> Result<Batch> {
        let len = hb.targets.len();
        Ok(Batch {
            input: Tensor::from_vec(hb.data, hb.shape, &self.device)?,
            target: Tensor::from_vec(hb.targets, len, &self.device)?,
            len,
        })
    }
}

struct Job {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Compose>,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    seed: u64,
    epoch: u64,
}

impl Job {
    fn build(&self, b: usize) -> Result<HostBatch> {
        let start = b * self.batch_size;
        let end = (start + self.batch_size).min(self.indices.len());
        let mut data = Vec::new();
        let mut targets = Vec::with_capacity(end - start);
        let mut sample_shape: Option<Vec<usize>> = None;
        for pos in start..end {
            let idx = self.indices[pos];
            let s = self.dataset.get(idx)?;
            let mut rng = SeedRng::stream(self.seed, "transform", &[self.epoch, pos as u64]);
            let arr = match self.transform.apply(s.input, &mut rng)? {
                Input::Array(a) => a,
                Input::Image(_) => {
                    return Err(Error::Transform(
                        "samples are still images after the transforms; add ToTensor".into(),
                    ))
                }
            };
            match &sample_shape {
                None => {
                    data.reserve(arr.data.len() * (end - start));
                    sample_shape = Some(arr.shape.clone());
                }
                Some(s) if *s != arr.shape => {
                    return Err(Error::Transform(format!(
                        "cannot batch samples of different shapes: sample {idx} is {:?}, \
                         an earlier one in its batch is {s:?} (add a Resize or a crop)",
                        arr.shape
                    )))
                }
                Some(_) => {}
            }
            data.extend_from_slice(&arr.data);
            targets.push(s.target);
        }
        let mut shape = vec![end - start];
        shape.extend(sample_shape.unwrap_or_default());
        Ok(HostBatch {
            shape,
            data,
            targets,
        })
    }
}

enum Source {
    Inline,
    Workers(Vec<Receiver<Result<HostBatch>>>),
    Failed(Option<Error>),
}

/// The batches of one epoch.
pub struct BatchIter<'a> {
    loader: &'a DataLoader,
    job: Job,
    next: usize,
    n_batches: usize,
    source: Source,
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
            Source::Inline => self.job.build(b),
            Source::Workers(rxs) => rxs[b % rxs.len()].recv().unwrap_or_else(|_| {
                Err(Error::Transform(
                    "a loader worker stopped unexpectedly".into(),
                ))
            }),
            Source::Failed(e) => {
                self.next = self.n_batches;
                return e.take().map(Err);
            }
        };
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
    use crate::{Image, Sample};

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
                target: (i % 10) as u32,
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
        for w in [1, 2, 3] {
            let l = loader(DataLoaderConfig {
                num_workers: w,
                prefetch_factor: Some(1),
                ..base.clone()
            });
            assert_eq!(all(&l, 3), want, "num_workers = {w}");
        }
        assert_ne!(all(&l0, 4).1, want.1, "a new epoch reshuffles");
    }

    #[test]
    fn invalid_combinations() {
        let cfg = DataLoaderConfig {
            shuffle: true,
            sampler: Some(SamplerConfig::SequentialSampler(Default::default())),
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
