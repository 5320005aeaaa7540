//! `[distributed]` and what `wick run` does differently as one rank of a data-parallel
//! job: which rank writes, how the ranks learn the run directory, what `meta.json` and
//! `wick check` say about the job.
//!
//! ```toml
//! [distributed]
//! backend = "mpi"        # the engine: "mpi" (CPUs: mpirun, srun) or "nccl" (GPUs)
//! bucket_cap_mb = 25     # DDP's gradient buckets
//! timeout = 300          # seconds the ranks wait for each other at start-up
//! sync_batchnorm = false # true: torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
//! ```
//!
//! The table may be left out: a process started by `mpirun` or `srun` joins its job
//! over MPI all the same, and `batch_size` is per rank, as in PyTorch.

use crate::error::RunError;
use crate::fit::DataParallel;
use crate::schema::Experiment;
use candle_core::DType;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use wick_dist::ProcessGroup;
use wick_nn::Layer;

/// The engine the ranks talk over (`torch.distributed.init_process_group(backend)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// MPI (`mpirun`, `srun`): CPU clusters.
    #[default]
    Mpi,
    /// NCCL: one process per GPU, started by torchrun's variables or `--nproc`.
    Nccl,
}

impl Backend {
    /// The name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mpi => "mpi",
            Self::Nccl => "nccl",
        }
    }
}

/// `[distributed]`: how the ranks of a data-parallel run work together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// `mpi` (default) or `nccl`.
    #[serde(default)]
    pub backend: Backend,
    /// The gradient buckets' size in MB (DDP's `bucket_cap_mb`, default 25).
    #[serde(default = "bucket_cap_mb")]
    pub bucket_cap_mb: f64,
    /// Seconds the ranks wait for each other at start-up (default 300).
    #[serde(default = "timeout")]
    pub timeout: u64,
    /// Every BatchNorm synchronized: batch statistics over all ranks' batches together
    /// (`torch.nn.SyncBatchNorm.convert_sync_batchnorm`; default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_batchnorm: bool,
}

fn bucket_cap_mb() -> f64 {
    wick_dist::bucket::DEFAULT_BUCKET_CAP_MB
}
fn timeout() -> u64 {
    300
}

impl Default for DistributedConfig {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            bucket_cap_mb: bucket_cap_mb(),
            timeout: timeout(),
            sync_batchnorm: false,
        }
    }
}

/// Whether this process writes the run directory (rank 0, or the only process).
pub(crate) fn writes(group: &dyn ProcessGroup) -> bool {
    group.rank() == 0
}

/// The run directory rank 0 made (`mine` on rank 0), on every rank.
pub(crate) fn share_path(
    group: &dyn ProcessGroup,
    mine: Option<PathBuf>,
) -> Result<PathBuf, RunError> {
    let bytes = mine
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned().into_bytes())
        .unwrap_or_default();
    let got = group.broadcast_bytes(&bytes, 0)?;
    Ok(PathBuf::from(String::from_utf8_lossy(&got).into_owned()))
}

/// The data-parallel side of the experiment's trainer in `group`, and the stop flag its
/// callbacks read (set on every rank after the step at which any rank's `stop` was).
pub(crate) fn data_parallel(
    exp: &Experiment,
    group: &Arc<dyn ProcessGroup>,
    stop: Arc<AtomicBool>,
) -> (DataParallel, Arc<AtomicBool>) {
    let agreed = Arc::new(AtomicBool::new(false));
    let cap = exp
        .distributed
        .as_ref()
        .map_or_else(bucket_cap_mb, |d| d.bucket_cap_mb);
    let dp = DataParallel::new(Arc::clone(group))
        .bucket_cap_mb(cap)
        .interrupt(stop, Arc::clone(&agreed));
    (dp, agreed)
}

/// The experiment's device, opened, with `group` bound to it (after checking that the
/// job's engine is the one the file asks for).
pub(crate) fn open_device(
    exp: &Experiment,
    group: &dyn ProcessGroup,
) -> Result<candle_core::Device, RunError> {
    check_backend(exp, group)?;
    let device = exp.device.open()?;
    let timeout = exp.distributed.as_ref().map_or_else(timeout, |d| d.timeout);
    group.bind(&device, std::time::Duration::from_secs(timeout))?;
    Ok(device)
}

/// Refuses a job whose engine is not the one the file asks for.
pub fn check_backend(exp: &Experiment, group: &dyn ProcessGroup) -> Result<(), RunError> {
    let Some(d) = &exp.distributed else {
        return Ok(());
    };
    if group.world_size() > 1 && group.backend() != d.backend.name() {
        return Err(RunError::Mismatch(format!(
            "[distributed] backend = \"{}\", but this job's {} processes talk over {}: start it with {}",
            d.backend.name(),
            group.world_size(),
            group.backend(),
            match d.backend {
                Backend::Mpi => "mpirun -n N, srun, or wick run --nproc N",
                Backend::Nccl => "torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, ...) or wick run --nproc N",
            }
        )));
    }
    Ok(())
}

/// `meta.json`'s `distributed`: the engine, the world, the hosts, the batch per rank
/// and the global batch.
pub(crate) fn meta(exp: &Experiment, group: &dyn ProcessGroup) -> serde_json::Value {
    let per_rank = exp.data.train.loader.batch_size;
    serde_json::json!({
        "backend": group.backend(),
        "world_size": group.world_size(),
        "hosts": group.hosts(),
        "batch_size_per_rank": per_rank,
        "global_batch_size": per_rank * group.world_size(),
    })
}

/// Every rank's MD5 of its parameters (names, shapes and values), by rank: equal
/// when the ranks trained in step, as they must; a warning names the ranks that differ.
pub(crate) fn parameter_checksums(
    group: &dyn ProcessGroup,
    model: &dyn Layer,
) -> Result<Vec<String>, RunError> {
    let mut hash = Md5::new();
    for p in model.parameters() {
        let t = p.tensor().to_dtype(DType::F32)?.flatten_all()?;
        hash.update(p.name.as_bytes());
        hash.update(format!("{:?}", p.tensor().dims()).as_bytes());
        for v in t.to_vec1::<f32>()? {
            hash.update(v.to_le_bytes());
        }
    }
    let mine: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let all = (0..group.world_size())
        .map(|r| {
            let got = group.broadcast_bytes(mine.as_bytes(), r)?;
            Ok(String::from_utf8_lossy(&got).into_owned())
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    let differ: Vec<String> = (0..all.len())
        .filter(|&r| all[r] != all[0])
        .map(|r| r.to_string())
        .collect();
    if !differ.is_empty() && group.rank() == 0 {
        tracing::warn!(
            "the parameters of ranks {} differ from rank 0's: the ranks did not train in step",
            differ.join(", ")
        );
    }
    Ok(all)
}

/// What `wick check` says about a distributed experiment (`None` without
/// `[distributed]` and outside a launcher): the engine, the batch per rank and the
/// global batch for the job's ranks and their hosts (when a launcher started it).
pub fn describe(exp: &Experiment, world: Option<(usize, Vec<String>)>) -> Option<String> {
    if exp.distributed.is_none() && world.is_none() {
        return None;
    }
    let backend = exp.distributed.as_ref().map_or(Backend::Mpi, |d| d.backend);
    let b = exp.data.train.loader.batch_size;
    let global = match world {
        Some((w, hosts)) if hosts.is_empty() => format!("global batch {} ({w} ranks)", b * w),
        Some((w, hosts)) => {
            format!("global batch {} ({w} ranks on {})", b * w, hosts.join(", "))
        }
        None => format!("global batch {b} × the number of ranks"),
    };
    Some(format!(
        "distributed: {} backend; batch_size {b} per rank, {global}",
        backend.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mnist(extra: &str) -> Experiment {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/mnist.toml");
        let src = std::fs::read_to_string(path).unwrap() + extra;
        Experiment::from_toml(&src).unwrap()
    }

    #[test]
    fn check_tells_the_batch_per_rank_and_the_global_batch() {
        assert_eq!(describe(&mnist(""), None), None);
        let exp = mnist("\n[distributed]\nsync_batchnorm = true\n");
        let d = exp.distributed.clone().unwrap();
        assert_eq!(
            (d.backend, d.bucket_cap_mb, d.timeout),
            (Backend::Mpi, 25.0, 300)
        );
        assert_eq!(
            describe(&exp, None).unwrap(),
            "distributed: mpi backend; batch_size 64 per rank, global batch 64 × the number of ranks"
        );
        let hosts = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            describe(&mnist(""), Some((2, hosts))).unwrap(),
            "distributed: mpi backend; batch_size 64 per rank, global batch 128 (2 ranks on a, b)"
        );
        // the resolved config keeps the table (config.toml of the run)
        assert!(
            exp.to_toml().contains("sync_batchnorm = true"),
            "{}",
            exp.to_toml()
        );
    }
}
